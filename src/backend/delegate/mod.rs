//! The device layer of the delegate backend: Keyward's keys generated on, and used through,
//! another PKCS#11 module (a hardware HSM; SoftHSMv2 in tests), via `cryptoki`.
//!
//! A [`Device`] connects lazily: the first call loads the module (shared by every `Device` of
//! the process that names the same file, see `module.rs`), finds the token, opens a session and
//! logs in once. Operations check a session out of a pool (`pool.rs`), so concurrent callers
//! run in parallel on the device. No lock is held across an operation's device call except the
//! shared read side of the module's reload lock; while connecting, the device's own connect
//! lock is held, so concurrent callers wait for one attempt instead of each making one.
//!
//! Device return codes pass through as the matching [`Error`] (`errors.rs`). When the device
//! is unavailable — the module cannot load, the token is not there, or a pooled session reports
//! CKR_DEVICE_REMOVED, CKR_TOKEN_NOT_PRESENT, CKR_DEVICE_ERROR, CKR_SESSION_HANDLE_INVALID,
//! CKR_SESSION_CLOSED, CKR_USER_NOT_LOGGED_IN or CKR_CRYPTOKI_NOT_INITIALIZED — the call fails
//! with CKR_DEVICE_REMOVED (token gone) or CKR_DEVICE_ERROR, the connection (pool, login,
//! handle cache) is dropped, and the next call reconnects: it finalizes the module, loads it
//! again and initialises it, so a device that comes back is used again without a restart.
//! There is at most one connection attempt per call, and at most one per
//! [`RETRY_AFTER`] per device across threads (calls in between fail at once with the last
//! error). A PIN the device rejected is not offered again until the PIN source changes, so a
//! wrong PIN in the configuration cannot lock the device's user out.
//!
//! # SoftHSMv2 2.6 when its token directory goes away in a live process
//!
//! Measured with SoftHSM 2.6.1 (`directories.tokendir = DIR`, the directory renamed away while a
//! process has the token open and logged in, then renamed back):
//!
//! - SoftHSM marks the token invalid at its next look at the directory, for good: key handles
//!   the process holds give CKR_OBJECT_HANDLE_INVALID, C_FindObjects finds nothing (and
//!   succeeds), C_GetTokenInfo and C_GenerateKey(Pair) give CKR_GENERAL_ERROR, while
//!   C_GetSessionInfo still says "R/W user" and C_OpenSession still succeeds. The slot list
//!   does not change. Nothing says CKR_DEVICE_REMOVED or CKR_TOKEN_NOT_PRESENT.
//! - Moving the directory back changes nothing in that process: the token stays invalid until
//!   C_Finalize and C_Initialize. C_Initialize while the directory is away fails with
//!   CKR_GENERAL_ERROR (then everything is CKR_CRYPTOKI_NOT_INITIALIZED); once it is back,
//!   C_Initialize, C_Login and the old keys (found again by CKA_ID) work.
//!
//! So a failure that may mean "the token is gone" — CKR_KEY_HANDLE_INVALID or
//! CKR_OBJECT_HANDLE_INVALID (a key not found), CKR_GENERAL_ERROR, and an empty search in
//! [`Device::find_keys`] or [`Device::destroy`] — is followed by C_GetTokenInfo on the slot;
//! if that fails too the call fails with CKR_DEVICE_REMOVED and the connection is dropped.
//! [`Device::check`] asks C_GetTokenInfo as well. The next calls reload the module (failing
//! with CKR_DEVICE_ERROR while the directory is away, at most one attempt per
//! [`RETRY_AFTER`]) and the first one after the directory is back succeeds.

mod attrs;
mod connect;
mod errors;
mod keys;
mod mech;
mod module;
mod pool;
mod uri;

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use cryptoki::mechanism::{MechanismInfo, MechanismType};
use cryptoki::object::{Attribute, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;
use zeroize::Zeroizing;

pub use pool::PoolStats;

use connect::{ConnectState, Connection};
use errors::{DeviceResult, Failure};
use mech::Scratch;
use module::Module;
use pool::PooledSession;

use crate::error::{Error, Result};
use crate::mechanism::param::MechanismRequest;

/// The shortest time between two connection attempts of one device.
pub const RETRY_AFTER: Duration = Duration::from_millis(200);

/// Where the device's user PIN is read from, each time the device layer connects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PinSource {
    /// A file holding the PIN (a trailing newline is removed).
    File(PathBuf),
    /// The name of an environment variable holding the PIN.
    Env(String),
}

/// How to reach the device. Holds no secret: the PIN is read from its source when connecting.
#[derive(Clone, Debug)]
pub struct DeviceConfig {
    /// The device's PKCS#11 module.
    pub module: PathBuf,
    /// The device token's label, or an RFC 7512 URI (`pkcs11:token=…;serial=…`; `token`,
    /// `serial`, `manufacturer` and `model` are compared, the rest ignored).
    pub token: String,
    /// The user PIN's source; read when connecting, never logged, zeroized after use.
    pub pin: PinSource,
}

/// One device token, shared by all threads of the process (`Send + Sync`).
pub struct Device {
    config: DeviceConfig,
    module: Arc<Module>,
    max_idle: usize,
    current: RwLock<Option<Arc<Connection>>>,
    /// Held while connecting (and briefly when a connection is lost); never during operations.
    state: Mutex<DeviceState>,
}

struct DeviceState {
    connect: ConnectState,
    last_attempt: Option<Instant>,
    /// What a call gets while connection attempts are throttled.
    last_error: Error,
}

impl std::fmt::Debug for Device {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Device")
            .field("module", &self.config.module)
            .field("token", &self.config.token)
            .field("connected", &self.current().is_some())
            .finish()
    }
}

impl Device {
    /// Never fails: connects lazily on first use and again after the device was lost.
    pub fn new(config: DeviceConfig) -> Device {
        Device::with_pool_limit(config, pool::DEFAULT_MAX_IDLE)
    }

    /// [`Device::new`] keeping at most `max_idle` idle sessions (at least one).
    pub fn with_pool_limit(config: DeviceConfig, max_idle: usize) -> Device {
        Device {
            module: module::module(&config.module),
            config,
            max_idle: max_idle.max(1),
            current: RwLock::new(None),
            state: Mutex::new(DeviceState {
                connect: ConnectState::new(),
                last_attempt: None,
                last_error: Error::DeviceError,
            }),
        }
    }

    /// Connect now if not connected (load the module, C_Initialize with OS locking, find the
    /// token, open a session, C_Login CKU_USER), then ask the token for its info so a lost
    /// device shows. Ok if connected. Errors: CKR_DEVICE_ERROR / CKR_DEVICE_REMOVED when the
    /// device is unavailable, the login's error (CKR_PIN_INCORRECT, CKR_PIN_LOCKED …).
    pub fn check(&self) -> Result<()> {
        self.run(probe)
    }

    /// Sessions of the current connection (all zero when not connected).
    pub fn pool_stats(&self) -> PoolStats {
        self.current().map(|c| c.stats()).unwrap_or_default()
    }

    /// One-shot C_Sign with the device object of class `class` whose CKA_ID is `id`.
    /// Errors: CKR_KEY_HANDLE_INVALID (no such object), CKR_MECHANISM_INVALID /
    /// CKR_MECHANISM_PARAM_INVALID (not translatable), the device's own codes, and
    /// CKR_DEVICE_ERROR / CKR_DEVICE_REMOVED when it is unavailable.
    pub fn sign(
        &self,
        id: &[u8],
        class: CK_OBJECT_CLASS,
        m: &MechanismRequest,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        self.with_mechanism(id, class, m, |s, mech, key| s.sign(mech, key, data))
    }

    /// One-shot C_Verify; as [`Device::sign`], and CKR_SIGNATURE_INVALID /
    /// CKR_SIGNATURE_LEN_RANGE for a signature that does not verify.
    pub fn verify(
        &self,
        id: &[u8],
        class: CK_OBJECT_CLASS,
        m: &MechanismRequest,
        data: &[u8],
        signature: &[u8],
    ) -> Result<()> {
        self.with_mechanism(id, class, m, |s, mech, key| {
            s.verify(mech, key, data, signature)
        })
    }

    /// One-shot C_Encrypt; errors as [`Device::sign`].
    pub fn encrypt(
        &self,
        id: &[u8],
        class: CK_OBJECT_CLASS,
        m: &MechanismRequest,
        data: &[u8],
    ) -> Result<Vec<u8>> {
        self.with_mechanism(id, class, m, |s, mech, key| s.encrypt(mech, key, data))
    }

    /// One-shot C_Decrypt; errors as [`Device::sign`], and the device's
    /// CKR_ENCRYPTED_DATA_INVALID / CKR_ENCRYPTED_DATA_LEN_RANGE.
    pub fn decrypt(
        &self,
        id: &[u8],
        class: CK_OBJECT_CLASS,
        m: &MechanismRequest,
        data: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.with_mechanism(id, class, m, |s, mech, key| s.decrypt(mech, key, data))
            .map(Zeroizing::new)
    }

    /// Destroy every device object whose CKA_ID is `id` (both halves of a pair). Ok if none.
    /// CKR_ARGUMENTS_BAD for an empty `id` (it would match every object without an id).
    pub fn destroy(&self, id: &[u8]) -> Result<()> {
        check_id(id)?;
        self.run(|s, conn| {
            conn.forget(id, None);
            let found = s.find_objects(&[Attribute::Id(id.to_vec())])?;
            if found.is_empty() {
                probe(s, conn)?;
            }
            for object in found {
                match s.destroy_object(object) {
                    Ok(()) => {}
                    // Destroyed meanwhile by someone else: what we wanted.
                    Err(e) if errors::classify(&e).error == Error::ObjectHandleInvalid => {}
                    Err(e) => return Err(e.into()),
                }
            }
            Ok(())
        })
    }

    /// The device's mechanisms with their info (C_GetMechanismList + C_GetMechanismInfo):
    /// (type, ulMinKeySize, ulMaxKeySize, flags). Mechanisms `cryptoki` 0.12 cannot name are
    /// missing from its list; of those, CKM_SHA224, CKM_SHA224_RSA_PKCS and CKM_ECDSA_SHA224
    /// are asked for one by one.
    pub fn mechanisms(&self) -> Result<Vec<(CK_MECHANISM_TYPE, CK_ULONG, CK_ULONG, CK_FLAGS)>> {
        self.run(|s, conn| {
            let (p11, slot) = (s.context()?, conn.slot());
            let mut types = p11.get_mechanism_list(slot)?;
            for extra in [
                MechanismType::SHA224,
                MechanismType::SHA224_RSA_PKCS,
                MechanismType::ECDSA_SHA224,
            ] {
                if !types.contains(&extra) && p11.get_mechanism_info(slot, extra).is_ok() {
                    types.push(extra);
                }
            }
            types
                .into_iter()
                .map(|t| -> DeviceResult<_> {
                    let info = p11.get_mechanism_info(slot, t)?;
                    let size = |n: usize| CK_ULONG::try_from(n).unwrap_or(CK_ULONG::MAX);
                    Ok((
                        CK_MECHANISM_TYPE::from(t),
                        size(info.min_key_size()),
                        size(info.max_key_size()),
                        info_flags(&info),
                    ))
                })
                .collect()
        })
    }

    fn current(&self) -> Option<Arc<Connection>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn state(&self) -> MutexGuard<'_, DeviceState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The live connection, or a new one (at most one attempt per [`RETRY_AFTER`]).
    fn connection(&self) -> Result<Arc<Connection>> {
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let mut st = self.state();
        if let Some(c) = self.current() {
            return Ok(c);
        }
        let now = Instant::now();
        if st
            .last_attempt
            .is_some_and(|t| now.duration_since(t) < RETRY_AFTER)
        {
            return Err(st.last_error);
        }
        st.last_attempt = Some(now);
        let st = &mut *st;
        match connect::connect(&self.config, &self.module, &mut st.connect, self.max_idle) {
            Ok(conn) => {
                let conn = Arc::new(conn);
                *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(conn.clone());
                st.last_error = Error::DeviceError;
                Ok(conn)
            }
            Err(f) => {
                st.last_error = f.error;
                Err(f.error)
            }
        }
    }

    /// `conn` is lost: drop it (if still current) and reload its load at the next attempt.
    fn lose(&self, conn: &Arc<Connection>, error: Error) {
        let mut st = self.state();
        let mut current = self.current.write().unwrap_or_else(|p| p.into_inner());
        if current.as_ref().is_some_and(|c| Arc::ptr_eq(c, conn)) {
            *current = None;
            st.connect.stale = Some(conn.epoch());
            st.last_error = error;
        }
    }

    /// Run `op` on a pooled session of the live connection; a lost device drops the
    /// connection (see the module doc).
    fn run<T>(&self, op: impl Fn(&PooledSession<'_>, &Connection) -> DeviceResult<T>) -> Result<T> {
        let conn = self.connection()?;
        let outcome = conn.checkout().and_then(|session| {
            let r = match op(&session, &conn) {
                // Maybe the token is gone (see the module doc): ask it.
                Err(f) if !f.lost && may_be_gone(f.error) => {
                    Err(probe(&session, &conn).err().unwrap_or(f))
                }
                r => r,
            };
            if let Err(f) = &r {
                if f.lost || spoils_session(f.error) {
                    session.discard();
                }
            }
            r
        });
        outcome.map_err(|f| {
            if f.lost {
                self.lose(&conn, f.error);
            }
            f.error
        })
    }

    /// Run the one-shot call `op` with the device object (`id`, `class`) and `m` translated.
    fn with_mechanism<T>(
        &self,
        id: &[u8],
        class: CK_OBJECT_CLASS,
        m: &MechanismRequest,
        op: impl Fn(
            &Session,
            &cryptoki::mechanism::Mechanism,
            ObjectHandle,
        ) -> cryptoki::error::Result<T>,
    ) -> Result<T> {
        self.with_key(id, class, |s, key| {
            let mut scratch = Scratch::default();
            let mech = mech::translate(m, &mut scratch)?;
            Ok(op(s, &mech, key)?)
        })
    }

    /// Run `op` with the device object (`id`, `class`): the cached handle, or found now. A
    /// cached handle the device no longer knows is looked up again once.
    fn with_key<T>(
        &self,
        id: &[u8],
        class: CK_OBJECT_CLASS,
        op: impl Fn(&Session, ObjectHandle) -> DeviceResult<T>,
    ) -> Result<T> {
        check_id(id)?;
        let object_class = ObjectClass::try_from(class).map_err(|_| Error::ArgumentsBad)?;
        self.run(|s, conn| {
            let cached = conn.cached(id, class);
            let key = match cached {
                Some(h) => h,
                None => find_key(s, conn, id, object_class)?,
            };
            match op(s, key) {
                Err(f)
                    if cached.is_some()
                        && matches!(
                            f.error,
                            Error::KeyHandleInvalid | Error::ObjectHandleInvalid
                        ) =>
                {
                    conn.forget(id, Some(class));
                    op(s, find_key(s, conn, id, object_class)?)
                }
                other => other,
            }
        })
    }
}

/// The device object of `class` with CKA_ID `id` (the first, if several), cached.
/// CKR_KEY_HANDLE_INVALID if there is none.
fn find_key(
    s: &Session,
    conn: &Connection,
    id: &[u8],
    class: ObjectClass,
) -> DeviceResult<ObjectHandle> {
    let found = s.find_objects(&[Attribute::Class(class), Attribute::Id(id.to_vec())])?;
    let key = *found.first().ok_or(Error::KeyHandleInvalid)?;
    conn.remember(id, CK_OBJECT_CLASS::from(class), key);
    Ok(key)
}

/// Whether the token is still there: C_GetTokenInfo. A token whose info cannot be read is
/// gone (lost: CKR_DEVICE_REMOVED, or CKR_DEVICE_ERROR for a lost connection's own codes).
fn probe(s: &PooledSession<'_>, conn: &Connection) -> DeviceResult<()> {
    match s.context()?.get_token_info(conn.slot()) {
        Ok(_) => Ok(()),
        Err(e) => {
            let f = Failure::from(e);
            Err(if f.lost {
                f
            } else {
                Failure::lost(Error::DeviceRemoved)
            })
        }
    }
}

/// Failures that may mean the token is gone rather than what they say (see the module doc).
fn may_be_gone(e: Error) -> bool {
    matches!(
        e,
        Error::KeyHandleInvalid | Error::ObjectHandleInvalid | Error::GeneralError
    )
}

/// CKR_ARGUMENTS_BAD for an empty CKA_ID: it would name every object that has none.
fn check_id(id: &[u8]) -> Result<()> {
    if id.is_empty() {
        return Err(Error::ArgumentsBad);
    }
    Ok(())
}

/// Failures after which a session is closed rather than pooled: it may still hold an
/// operation or other state.
fn spoils_session(e: Error) -> bool {
    matches!(
        e,
        Error::OperationActive
            | Error::OperationNotInitialized
            | Error::GeneralError
            | Error::FunctionFailed
            | Error::DeviceMemory
            | Error::HostMemory
    )
}

/// CK_MECHANISM_INFO.flags rebuilt from `cryptoki`'s accessors (it keeps the raw value private).
fn info_flags(i: &MechanismInfo) -> CK_FLAGS {
    [
        (i.hardware(), CKF_HW),
        (i.encrypt(), CKF_ENCRYPT),
        (i.decrypt(), CKF_DECRYPT),
        (i.digest(), CKF_DIGEST),
        (i.sign(), CKF_SIGN),
        (i.sign_recover(), CKF_SIGN_RECOVER),
        (i.verify(), CKF_VERIFY),
        (i.verify_recover(), CKF_VERIFY_RECOVER),
        (i.generate(), CKF_GENERATE),
        (i.generate_key_pair(), CKF_GENERATE_KEY_PAIR),
        (i.wrap(), CKF_WRAP),
        (i.unwrap(), CKF_UNWRAP),
        (i.derive(), CKF_DERIVE),
        (i.extension(), CKF_EXTENSION),
        (i.ec_f_p(), CKF_EC_F_P),
        (i.ec_f_2m(), CKF_EC_F_2M),
        (i.ec_from_parameters(), CKF_EC_ECPARAMETERS),
        (i.ec_from_oid(), CKF_EC_OID),
        (i.ec_uncompressed(), CKF_EC_UNCOMPRESS),
        (i.ec_compressed(), CKF_EC_COMPRESS),
        (i.message_encrypt(), CKF_MESSAGE_ENCRYPT),
        (i.message_decrypt(), CKF_MESSAGE_DECRYPT),
        (i.multi_message(), CKF_MULTI_MESSAGE),
        (i.encapsulate(), CKF_ENCAPSULATE),
        (i.decapsulate(), CKF_DECAPSULATE),
    ]
    .into_iter()
    .filter(|(set, _)| *set)
    .fold(0, |acc, (_, flag)| acc | flag)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_is_send_and_sync_and_never_prints_the_pin_source_contents() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<Device>();
        let d = Device::new(DeviceConfig {
            module: "/nonexistent/libnothing.so".into(),
            token: "t".into(),
            pin: PinSource::Env("KEYWARD_TEST_UNSET_PIN".into()),
        });
        assert!(format!("{d:?}").contains("connected: false"));
    }

    #[test]
    fn a_missing_module_is_a_device_error_and_retries_are_throttled() {
        let d = Device::new(DeviceConfig {
            module: "/nonexistent/libnothing.so".into(),
            token: "t".into(),
            pin: PinSource::Env("KEYWARD_TEST_UNSET_PIN".into()),
        });
        assert_eq!(d.check(), Err(Error::DeviceError));
        let before = Instant::now();
        assert_eq!(d.check(), Err(Error::DeviceError));
        assert!(before.elapsed() < RETRY_AFTER);
        assert_eq!(d.pool_stats(), PoolStats::default());
        assert_eq!(d.destroy(&[]), Err(Error::ArgumentsBad));
    }
}
