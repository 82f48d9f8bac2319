//! One connection to the device: the module loaded (shared, see [`super::module`]), the token
//! found, a login session open and logged in as CKU_USER (login is per application, so once
//! per connection; the login session stays open so the login lasts), a session pool and the
//! object-handle cache. A connection is dropped whole when the device is lost.

use std::collections::HashMap;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::sync::{Arc, Mutex, RwLock};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::object::ObjectHandle;
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::RawAuthPin;
use cryptoki_sys::CK_OBJECT_CLASS;
use zeroize::Zeroizing;

use super::errors::{DeviceResult, Failure};
use super::module::Module;
use super::pool::{Pool, PoolStats, PooledSession};
use super::uri::TokenSelector;
use super::{DeviceConfig, PinSource};
use crate::crypto::digest::DigestAlg;
use crate::crypto::hmac::Hmac;
use crate::error::Error;
use crate::session::HandleHashing;

/// A live connection (see the module doc).
pub(super) struct Connection {
    module: Arc<Module>,
    epoch: u64,
    slot: Slot,
    pool: Pool,
    /// Holds the login: never checked out, closed when the connection is dropped.
    login: Mutex<Option<Session>>,
    /// CKA_ID → (CKA_CLASS, device object) pairs, for this connection only. Read on every
    /// operation (shared, without copying the id), written when a key is first found.
    handles: RwLock<Handles>,
}

type Handles = HashMap<Box<[u8]>, Vec<(CK_OBJECT_CLASS, ObjectHandle)>, HandleHashing>;

impl Connection {
    /// The load this connection belongs to.
    pub(super) fn epoch(&self) -> u64 {
        self.epoch
    }

    /// A pooled session for one operation.
    pub(super) fn checkout(&self) -> DeviceResult<PooledSession<'_>> {
        self.pool.checkout(&self.module, self.epoch, self.slot)
    }

    pub(super) fn slot(&self) -> Slot {
        self.slot
    }

    pub(super) fn stats(&self) -> PoolStats {
        self.pool.stats()
    }

    fn handles_mut(&self) -> std::sync::RwLockWriteGuard<'_, Handles> {
        self.handles.write().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn cached(&self, id: &[u8], class: CK_OBJECT_CLASS) -> Option<ObjectHandle> {
        let handles = self.handles.read().unwrap_or_else(|p| p.into_inner());
        let pairs = handles.get(id)?;
        pairs.iter().find(|(c, _)| *c == class).map(|(_, h)| *h)
    }

    pub(super) fn remember(&self, id: &[u8], class: CK_OBJECT_CLASS, handle: ObjectHandle) {
        let mut handles = self.handles_mut();
        let pairs = handles.entry(id.into()).or_default();
        pairs.retain(|(c, _)| *c != class);
        pairs.push((class, handle));
    }

    /// Forget the cached handles of `id` (every class, or just `class`).
    pub(super) fn forget(&self, id: &[u8], class: Option<CK_OBJECT_CLASS>) {
        let mut handles = self.handles_mut();
        let Some(pairs) = handles.get_mut(id) else {
            return;
        };
        pairs.retain(|(c, _)| class.is_some_and(|k| k != *c));
        if pairs.is_empty() {
            handles.remove(id);
        }
    }
}

impl Drop for Connection {
    /// Close our sessions if their load is still current; after a reload they are gone
    /// already, and closing them by number could close someone else's.
    fn drop(&mut self) {
        let Some(loaded) = self.module.try_read() else {
            return;
        };
        if loaded.context(self.epoch).is_none() {
            return;
        }
        self.pool.close_idle();
        let login = self.login.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(s) = login {
            let _ = s.close();
        }
    }
}

/// What a device remembers between connection attempts.
pub(super) struct ConnectState {
    /// The load a lost connection (or a vanished token) was on: reload it at the next attempt.
    pub(super) stale: Option<u64>,
    /// The token was found once: not finding it later means it was removed.
    pub(super) seen_token: bool,
    pub(super) pins: PinMemory,
}

impl ConnectState {
    pub(super) fn new() -> Self {
        ConnectState {
            stale: None,
            seen_token: false,
            pins: PinMemory::new(),
        }
    }
}

/// Connect: load (or reload) the module, find the token, open the login session and log in.
/// Errors: CKR_DEVICE_ERROR (module cannot load or initialise, bad configuration, PIN source
/// unreadable), CKR_DEVICE_REMOVED (token not found), the device's login error (e.g.
/// CKR_PIN_INCORRECT), or any other device error.
pub(super) fn connect(
    config: &DeviceConfig,
    module: &Arc<Module>,
    st: &mut ConnectState,
    max_idle: usize,
) -> DeviceResult<Connection> {
    let selector = TokenSelector::parse(&config.token).map_err(|_| Error::DeviceError)?;
    let epoch = module.ensure(st.stale).map_err(|f| {
        st.stale = None; // the reload was done (or the module is not loaded at all)
        unavailable(f)
    })?;
    st.stale = None;
    let loaded = module.read();
    let p11 = loaded
        .context(epoch)
        .ok_or(Failure::lost(Error::DeviceError))?;
    let slot = match find_token(p11, &selector) {
        Ok(Some(slot)) => slot,
        Ok(None) => {
            // A token that was there and is gone: the module may need a fresh start to see
            // it again (SoftHSM lists tokens at C_Initialize only). One never seen is a
            // configuration error; do not disturb other users of the module for it.
            if st.seen_token {
                st.stale = Some(epoch);
            }
            return Err(Failure::lost(Error::DeviceRemoved));
        }
        Err(f) => {
            if f.lost {
                st.stale = Some(epoch);
            }
            return Err(unavailable(f));
        }
    };
    st.seen_token = true;
    let session = p11.open_rw_session_no_drop(slot).inspect_err(|e| {
        if super::errors::classify(e).lost {
            st.stale = Some(epoch);
        }
    })?;
    if let Err(f) = log_in(&session, &config.pin, &mut st.pins) {
        let _ = session.close();
        if f.lost {
            st.stale = Some(epoch);
        }
        return Err(f);
    }
    drop(loaded);
    Ok(Connection {
        module: module.clone(),
        epoch,
        slot,
        pool: Pool::new(max_idle),
        login: Mutex::new(Some(session)),
        handles: RwLock::new(HashMap::default()),
    })
}

/// An unavailable device is CKR_DEVICE_REMOVED or CKR_DEVICE_ERROR, whatever the module said.
fn unavailable(f: Failure) -> Failure {
    Failure::lost(if f.error == Error::DeviceRemoved {
        Error::DeviceRemoved
    } else {
        Error::DeviceError
    })
}

/// The first slot whose token `selector` matches.
fn find_token(p11: &Pkcs11, selector: &TokenSelector) -> DeviceResult<Option<Slot>> {
    for slot in p11.get_slots_with_token()? {
        match p11.get_token_info(slot) {
            Ok(info) if selector.matches(&info) => return Ok(Some(slot)),
            Ok(_) => {}
            // A slot emptied since the listing: not ours.
            Err(P11Error::Pkcs11(RvError::TokenNotPresent | RvError::SlotIdInvalid, _)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// C_Login as CKU_USER with the PIN read now. A PIN the device rejected is not offered again
/// until it changes, so a wrong PIN in the configuration cannot lock the device's user.
fn log_in(session: &Session, source: &PinSource, pins: &mut PinMemory) -> DeviceResult<()> {
    let pin = read_pin(source)?;
    if pins.was_rejected(&pin) {
        return Err(Error::PinIncorrect.into());
    }
    let secret = RawAuthPin::new(Box::new(pin.to_vec()));
    match session.login_with_raw(UserType::User, &secret) {
        Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {
            pins.rejected = None;
            Ok(())
        }
        Err(e) => {
            let f = Failure::from(e);
            if matches!(
                f.error,
                Error::PinIncorrect
                    | Error::PinInvalid
                    | Error::PinLenRange
                    | Error::PinLocked
                    | Error::PinExpired
            ) {
                pins.reject(&pin);
            }
            Err(f)
        }
    }
}

/// The device PIN from its source, trailing CR/LF removed. CKR_DEVICE_ERROR if the file or
/// variable cannot be read (the path or name is not put in the error, the PIN never is).
pub(super) fn read_pin(source: &PinSource) -> Result<Zeroizing<Vec<u8>>, Error> {
    let mut pin = match source {
        PinSource::File(path) => {
            let mut file = std::fs::File::open(path).map_err(|_| Error::DeviceError)?;
            let len = file.metadata().map(|m| m.len()).unwrap_or(0);
            // Sized up front so the buffer is not reallocated (leaving copies) while reading.
            let cap = usize::try_from(len).unwrap_or(0).saturating_add(1);
            let mut buf = Zeroizing::new(Vec::with_capacity(cap));
            file.read_to_end(&mut buf).map_err(|_| Error::DeviceError)?;
            buf
        }
        PinSource::Env(name) => {
            Zeroizing::new(std::env::var_os(name).ok_or(Error::DeviceError)?.into_vec())
        }
    };
    while matches!(pin.last(), Some(b'\n' | b'\r')) {
        pin.pop();
    }
    Ok(pin)
}

/// The last PIN the device rejected, as a keyed hash (key random per device, never stored).
pub(super) struct PinMemory {
    key: Zeroizing<[u8; 32]>,
    rejected: Option<Zeroizing<Vec<u8>>>,
}

impl PinMemory {
    fn new() -> Self {
        let mut key = Zeroizing::new([0u8; 32]);
        // Without randomness the key stays zero: the hash is then unkeyed, still one-way.
        let _ = crate::crypto::rng::fill(&mut key[..]);
        PinMemory {
            key,
            rejected: None,
        }
    }

    fn tag(&self, pin: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        let mut mac = Hmac::new(DigestAlg::Sha256, &self.key[..]).ok()?;
        mac.update(pin);
        Some(mac.finish())
    }

    fn reject(&mut self, pin: &[u8]) {
        self.rejected = self.tag(pin);
    }

    fn was_rejected(&self, pin: &[u8]) -> bool {
        let Some(rejected) = &self.rejected else {
            return false;
        };
        let Ok(mut mac) = Hmac::new(DigestAlg::Sha256, &self.key[..]) else {
            return false;
        };
        mac.update(pin);
        mac.verify(rejected).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pin_file_loses_trailing_newlines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pin");
        std::fs::write(&path, b" 12 34\r\n\n").unwrap();
        let pin = read_pin(&PinSource::File(path)).unwrap();
        assert_eq!(&pin[..], b" 12 34");
        assert_eq!(
            read_pin(&PinSource::File(dir.path().join("none"))).unwrap_err(),
            Error::DeviceError
        );
        assert_eq!(
            read_pin(&PinSource::Env("KEYWARD_TEST_NO_SUCH_PIN_VAR".into())).unwrap_err(),
            Error::DeviceError
        );
    }

    #[test]
    fn a_rejected_pin_is_remembered_until_it_changes() {
        let mut pins = PinMemory::new();
        assert!(!pins.was_rejected(b"1234"));
        pins.reject(b"1234");
        assert!(pins.was_rejected(b"1234"));
        assert!(!pins.was_rejected(b"12345"));
        assert!(!PinMemory::new().was_rejected(b"1234"));
    }
}
