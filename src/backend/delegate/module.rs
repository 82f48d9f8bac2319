//! The device modules loaded in this process, one entry per module file.
//!
//! A PKCS#11 module is initialised once per process: `C_Initialize` twice gives
//! CKR_CRYPTOKI_ALREADY_INITIALIZED, and `C_Finalize` ends every session of every user. So all
//! [`Device`](super::Device)s naming the same module file share one loaded context here, and a
//! reload (finalize, load again, initialise) happens once for all of them.
//!
//! Each load has an epoch. Sessions and object handles belong to an epoch: an operation holds
//! the read side of the module's lock for its whole device call (many at once), and a reload
//! takes the write side, so a module is never finalised under a running call and a handle of
//! an old epoch is never used after a reload (SoftHSM numbers sessions and objects from 1
//! again after `C_Initialize`). The price: a reload waits for the calls running on the old
//! load to return, so a call hanging inside the device holds the reload up.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error as P11Error, RvError};

use super::errors::DeviceResult;

/// One module file, loaded or not.
pub(super) struct Module {
    path: PathBuf,
    state: RwLock<Loaded>,
}

/// The module's current load.
#[derive(Default)]
pub(super) struct Loaded {
    /// The initialised context, None before the first successful load and after a failed one.
    p11: Option<Pkcs11>,
    /// Bumped at every (re)load attempt; 0 means never loaded.
    epoch: u64,
    /// The previous context, kept so the library stays mapped between a finalize and the next
    /// successful load (unloading and reloading a C++ library such as SoftHSM is not safe).
    retired: Option<Pkcs11>,
}

impl Loaded {
    /// The context, if it is still the one of `epoch`.
    pub(super) fn context(&self, epoch: u64) -> Option<&Pkcs11> {
        self.p11.as_ref().filter(|_| self.epoch == epoch)
    }
}

/// The shared entry for `path` (created, not loaded, on first use).
pub(super) fn module(path: &Path) -> Arc<Module> {
    static TABLE: OnceLock<Mutex<HashMap<PathBuf, Arc<Module>>>> = OnceLock::new();
    let key = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut table = TABLE
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    table
        .entry(key)
        .or_insert_with(|| {
            Arc::new(Module {
                path: path.to_path_buf(),
                state: RwLock::default(),
            })
        })
        .clone()
}

impl Module {
    /// The current load, for one device call (see the module doc).
    pub(super) fn read(&self) -> RwLockReadGuard<'_, Loaded> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The current load if no reload holds the module (for cleanup that must not block).
    pub(super) fn try_read(&self) -> Option<RwLockReadGuard<'_, Loaded>> {
        self.state.try_read().ok()
    }

    /// The epoch of a usable load: the current one, unless there is none or `stale` names it,
    /// in which case the module is finalised, loaded again and initialised (with OS locking).
    /// Errors: the module cannot be loaded or initialised (lost: CKR_DEVICE_ERROR, or the
    /// code its C_Initialize returned).
    pub(super) fn ensure(&self, stale: Option<u64>) -> DeviceResult<u64> {
        let mut st = self.state.write().unwrap_or_else(|p| p.into_inner());
        if st.p11.is_some() && stale != Some(st.epoch) {
            return Ok(st.epoch);
        }
        if let Some(old) = st.p11.take() {
            // Every session of the old load dies here; errors change nothing.
            let _ = old.clone().finalize();
            st.retired = Some(old);
        }
        st.epoch += 1;
        let p11 = Pkcs11::new(&self.path)?;
        match p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
            // Another part of this process initialised it: share that.
            Ok(()) | Err(P11Error::Pkcs11(RvError::CryptokiAlreadyInitialized, _)) => {
                st.p11 = Some(p11);
                Ok(st.epoch)
            }
            Err(e) => {
                st.retired = Some(p11);
                Err(e.into())
            }
        }
    }
}
