//! One PKCS#11 module under test: loaded with `cryptoki`, its token chosen by label and logged
//! into, with the keys and object population the operations need, set up lazily and removed
//! at the end.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::MechanismType;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;
use zeroize::Zeroizing;

use super::keys::{self, Key, LABEL_PREFIX};
use super::ops::{KeyKind, OpSpec, Store};
use super::population::Population;
use super::progress::Progress;
use super::report::{ModuleInfo, Outcome};
use super::runner::{self, Timing};
use super::work::{self, Ctx};
use super::{BenchError, Result};

/// The user PIN: from `file` (trailing newline removed), else `KEYWARD_BENCH_PIN`, else
/// `KEYWARD_PIN`.
pub(crate) fn read_pin(file: Option<&Path>) -> Result<AuthPin> {
    let text = match file {
        Some(f) => Zeroizing::new(
            std::fs::read_to_string(f).map_err(|e| BenchError(format!("{}: {e}", f.display())))?,
        ),
        None => Zeroizing::new(
            std::env::var("KEYWARD_BENCH_PIN")
                .or_else(|_| std::env::var("KEYWARD_PIN"))
                .map_err(|_| {
                    BenchError("no PIN: use --pin-file or set KEYWARD_BENCH_PIN".into())
                })?,
        ),
    };
    Ok(AuthPin::new(text.trim_end_matches(['\r', '\n']).into()))
}

/// A loaded, initialised module with a logged-in session on the chosen token.
pub(crate) struct Module {
    path: PathBuf,
    p11: Pkcs11,
    slot: Slot,
    label: String,
    pin: AuthPin,
    mechanisms: Vec<MechanismType>,
    /// Keeps the user logged in; closed only while the login operation runs.
    main: Option<Session>,
    keys: HashMap<(KeyKind, Store), Key>,
    population: Population,
    /// `bench-*` objects from an earlier, interrupted run, removed at start.
    swept: usize,
}

impl Module {
    /// Load `path`, pick the token labelled `label` (else the first initialised one), log in
    /// and remove leftover `bench-*` objects.
    pub(crate) fn open(
        path: &Path,
        label: Option<&str>,
        pin: &AuthPin,
        progress: &Progress,
    ) -> Result<Module> {
        let at = |e: P11Error| BenchError(format!("{}: {}", path.display(), short(&e)));
        progress.line(&format!("loading {}", path.display()));
        let p11 = Pkcs11::new(path).map_err(at)?;
        p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .map_err(at)?;
        let (slot, label) =
            pick_slot(&p11, label).map_err(|e| BenchError(format!("{}: {e}", path.display())))?;
        let mechanisms = p11.get_mechanism_list(slot).map_err(at)?;
        let mut module = Module {
            path: path.to_path_buf(),
            p11,
            slot,
            label,
            pin: pin.clone(),
            mechanisms,
            main: None,
            keys: HashMap::new(),
            population: Population::default(),
            swept: 0,
        };
        module.log_in().map_err(at)?;
        module.swept = module.sweep().map_err(at)?;
        Ok(module)
    }

    /// What the report says about this module.
    pub(crate) fn describe(&self) -> ModuleInfo {
        let info = self.p11.get_library_info().ok();
        ModuleInfo {
            path: self.path.display().to_string(),
            token: self.label.clone(),
            slot: self.slot.id(),
            library: info
                .as_ref()
                .map(|i| format!("{} {}", i.library_description(), i.library_version())),
            manufacturer: info.as_ref().map(|i| i.manufacturer_id().to_string()),
            leftovers_removed: self.swept,
        }
    }

    /// Measure one operation on this module. Never fails: a module that cannot do it yields
    /// [`Outcome::Unsupported`] or [`Outcome::Failed`].
    pub(crate) fn measure(
        &mut self,
        spec: &OpSpec,
        timing: Timing,
        progress: &Progress,
    ) -> Outcome {
        let action = spec.action;
        if let Some(m) = action
            .mechanisms()
            .into_iter()
            .find(|m| !self.mechanisms.contains(m))
        {
            return Outcome::unsupported(format!("{m} is not in the mechanism list"));
        }
        let store = spec.store.unwrap_or(Store::Session);
        let key = match action.key().map(|k| self.key(k, store)).transpose() {
            Ok(key) => key,
            Err(e) if is_unsupported(&e) => return Outcome::unsupported(short(&e)),
            Err(e) => return Outcome::failed(format!("key generation: {}", short(&e))),
        };
        if let Some(n) = action.population() {
            if let Err(e) = self.grow_population(n, progress) {
                return Outcome::failed(format!("creating {n} objects: {e}"));
            }
        }
        let ctx = Ctx {
            p11: self.p11.clone(),
            slot: self.slot,
            pin: self.pin.clone(),
            action,
            store: spec.store,
            key,
        };
        let single = action.single_threaded();
        if single {
            // C_Login needs every session closed: session keys go with them, and a module
            // may forget private object handles at logout (SoftHSM does), so the keys are
            // generated again if needed; `close` sweeps them all by label.
            self.main = None;
            self.keys.clear();
        }
        let timing = if single { timing.single() } else { timing };
        let result = runner::measure(timing, &|i| work::worker(&ctx, i));
        if single {
            if let Err(e) = self.log_in() {
                return Outcome::failed(format!("logging in again: {}", short(&e)));
            }
        }
        match result {
            Ok(m) => Outcome::Measured(m),
            Err(e) => Outcome::failed(e.0),
        }
    }

    /// Remove the object population.
    fn drop_population(&mut self, progress: &Progress) {
        if self.population.len() == 0 {
            return;
        }
        if let Some(main) = &self.main {
            if let Err(e) = self.population.destroy(main, progress) {
                warn(&self.path, &format!("removing the find objects: {e}"));
            }
        }
    }

    /// Destroy the bench's objects (every `bench-*` object: handles cached before the login
    /// operation may be stale, as SoftHSM forgets private handles at logout), log out and
    /// finalize the module.
    pub(crate) fn close(mut self, progress: &Progress) {
        self.drop_population(progress);
        progress.line(&format!("removing bench keys from {}", self.path.display()));
        if let Err(e) = self.sweep() {
            warn(&self.path, &format!("removing bench keys: {}", short(&e)));
        }
        if let Some(main) = self.main.take() {
            // Closing the last session logs out.
            if let Err(e) = main.close() {
                warn(&self.path, &format!("closing the session: {}", short(&e)));
            }
        }
        if let Err(e) = self.p11.finalize() {
            warn(&self.path, &format!("C_Finalize: {}", short(&e)));
        }
    }

    /// Open the main session and log the user in.
    fn log_in(&mut self) -> std::result::Result<(), P11Error> {
        let session = self.p11.open_rw_session(self.slot)?;
        match session.login(UserType::User, Some(&self.pin)) {
            Ok(()) | Err(P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _)) => {}
            Err(e) => return Err(e),
        }
        self.main = Some(session);
        Ok(())
    }

    /// The bench key of `kind` in `store`, generated on first use.
    fn key(&mut self, kind: KeyKind, store: Store) -> std::result::Result<Key, P11Error> {
        if let Some(key) = self.keys.get(&(kind, store)) {
            return Ok(*key);
        }
        let main = self.main.as_ref().ok_or(P11Error::Pkcs11(
            RvError::SessionHandleInvalid,
            cryptoki::context::Function::GenerateKeyPair,
        ))?;
        let key = keys::generate(main, kind, store, &keys::label(kind, store))?;
        self.keys.insert((kind, store), key);
        Ok(key)
    }

    fn grow_population(&mut self, n: usize, progress: &Progress) -> Result<()> {
        let main = self
            .main
            .as_ref()
            .ok_or_else(|| BenchError("no session".into()))?;
        self.population.grow_to(main, n, progress)
    }

    /// Destroy every object whose label starts with `bench-`; how many there were.
    fn sweep(&self) -> std::result::Result<usize, P11Error> {
        let Some(main) = &self.main else {
            return Ok(0);
        };
        let leftovers: Vec<ObjectHandle> = main
            .find_objects(&[])?
            .into_iter()
            .filter(|h| {
                matches!(main.get_attributes(*h, &[AttributeType::Label]).as_deref(),
                    Ok([Attribute::Label(l)]) if l.starts_with(LABEL_PREFIX.as_bytes()))
            })
            .collect();
        for handle in &leftovers {
            main.destroy_object(*handle)?;
        }
        Ok(leftovers.len())
    }
}

/// The slot whose token is labelled `label`, else the first with an initialised token; and
/// that token's label.
fn pick_slot(p11: &Pkcs11, label: Option<&str>) -> Result<(Slot, String)> {
    let mut seen = Vec::new();
    for slot in p11.get_slots_with_initialized_token()? {
        let info = p11.get_token_info(slot)?;
        let found = info.label().trim_end().to_string();
        if label.is_none_or(|l| l == found) {
            return Ok((slot, found));
        }
        seen.push(found);
    }
    Err(BenchError(match label {
        Some(l) => format!("no token labelled {l:?} (tokens: {seen:?})"),
        None => "no slot has an initialised token".into(),
    }))
}

/// Errors that mean "this module cannot do that", not "it broke".
fn is_unsupported(e: &P11Error) -> bool {
    matches!(
        e,
        P11Error::Pkcs11(
            RvError::MechanismInvalid
                | RvError::MechanismParamInvalid
                | RvError::CurveNotSupported
                | RvError::FunctionNotSupported
                | RvError::DomainParamsInvalid,
            _
        )
    )
}

/// `C_Sign: CKR_KEY_HANDLE_INVALID`-style text (cryptoki's own messages run to paragraphs).
pub(crate) fn short(e: &P11Error) -> String {
    match e {
        P11Error::Pkcs11(rv, function) => format!("{function:?}: {}", rv_name(*rv)),
        other => other.to_string(),
    }
}

/// `CKR_MECHANISM_INVALID` from `MechanismInvalid`.
fn rv_name(rv: RvError) -> String {
    let camel = format!("{rv:?}");
    let mut out = String::from("CKR");
    for ch in camel.chars() {
        if ch.is_ascii_uppercase() {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

fn warn(path: &Path, msg: &str) {
    eprintln!("keyward bench: warning: {}: {msg}", path.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_the_spec() {
        assert_eq!(rv_name(RvError::MechanismInvalid), "CKR_MECHANISM_INVALID");
        let e = P11Error::Pkcs11(RvError::KeyHandleInvalid, cryptoki::context::Function::Sign);
        assert_eq!(short(&e), "Sign: CKR_KEY_HANDLE_INVALID");
        assert!(is_unsupported(&P11Error::Pkcs11(
            RvError::MechanismInvalid,
            cryptoki::context::Function::GenerateKeyPair
        )));
        assert!(!is_unsupported(&e));
    }
}
