//! A token: its persistent store, its login state (shared by every session of this process)
//! and its objects.

mod audit;
mod device;
mod login;
mod objects;
mod users;
mod watch;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cryptoki_sys::*;

use crate::config::SlotConfig;
use crate::error::{Error, Result};
use crate::store::seal::{Sealer, Tmk};
use crate::store::{sqlite::SqliteStore, Store, Who};

pub use audit::{recording, Subject};
pub use objects::{ObjectHandle, StoreReport, Visibility};
pub use users::UserInfo;

/// Who is logged in to the token, for this process.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Login {
    Public,
    User,
    So,
}

/// What C_GetTokenInfo reports, in Rust terms.
#[derive(Clone, Debug)]
pub struct TokenInfo {
    pub label: String,
    pub serial: String,
    pub flags: CK_FLAGS,
    pub min_pin: usize,
    pub max_pin: usize,
}

pub(crate) struct State {
    pub(crate) login: Login,
    /// Who logged in (None while public).
    pub(crate) principal: Option<crate::policy::roles::Principal>,
    /// Present while the SO or the user is logged in.
    pub(crate) tmk: Option<Tmk>,
    pub(crate) sealer: Option<Arc<Sealer>>,
    pub(crate) objects: objects::Table,
}

/// One token behind one slot.
pub struct Token {
    config: SlotConfig,
    store: Arc<dyn Store>,
    state: RwLock<State>,
    /// Advanced each time the state's write lock is taken: a session's last grant of a key
    /// use is reused only while it has not moved (`session/grant.rs`).
    generation: AtomicU64,
    watch: watch::WalWatch,
    audit: Option<crate::audit::AuditLog>,
    /// The token label (audit records carry it); set at open and by C_InitToken.
    label: RwLock<std::sync::Arc<str>>,
    /// The device of a delegate slot.
    delegate: Option<device::Delegate>,
    /// Stored objects (uid, generation) whose failed integrity check is already recorded.
    refused: std::sync::Mutex<std::collections::HashSet<(String, i64)>>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("path", &self.config.path)
            .finish_non_exhaustive()
    }
}

impl Token {
    /// Count one protect operation of object `uid` against its usage `limit` (exact across
    /// processes); false once the limit is reached.
    pub fn consume_use(&self, uid: &str, limit: u64) -> Result<bool> {
        self.store.consume_use(uid, limit)
    }

    /// Keep what remains of a destroyed key.
    pub fn put_tombstone(&self, t: &crate::store::Tombstone) -> Result<()> {
        self.store.put_tombstone(t)
    }

    /// The tombstones of destroyed keys.
    pub fn tombstones(&self) -> Result<Vec<crate::store::Tombstone>> {
        self.store.tombstones()
    }

    /// Protect operations counted for object `uid`.
    pub fn uses(&self, uid: &str) -> Result<u64> {
        self.store.uses(uid)
    }

    /// Open the token store named by `config`; object handles come from `handles`, shared
    /// by every token of the provider so that no handle is ever reused.
    pub fn open(config: SlotConfig, handles: Arc<AtomicU64>) -> Result<Self> {
        let store = Arc::new(SqliteStore::open(&config.db_path())?);
        let label = store.token()?.map(|t| t.label).unwrap_or_default();
        Ok(Self {
            audit: audit::open(&config, &store)?,
            label: RwLock::new(label.into()),
            delegate: config.delegate.as_ref().map(device::Delegate::open),
            generation: AtomicU64::new(0),
            watch: watch::WalWatch::new(config.db_path()),
            refused: Default::default(),
            config,
            store,
            state: RwLock::new(State {
                login: Login::Public,
                principal: None,
                tmk: None,
                sealer: None,
                objects: objects::Table::new(handles),
            }),
        })
    }

    pub fn config(&self) -> &SlotConfig {
        &self.config
    }

    pub(crate) fn read(&self) -> Result<RwLockReadGuard<'_, State>> {
        self.state.read().map_err(|_| Error::GeneralError)
    }

    /// The state for writing. Every change to it passes here, so the generation moves
    /// before any change is made (and before any reader can see one).
    pub(crate) fn write(&self) -> Result<RwLockWriteGuard<'_, State>> {
        let st = self.state.write().map_err(|_| Error::GeneralError)?;
        self.generation.fetch_add(1, Ordering::SeqCst);
        Ok(st)
    }

    /// How many times the state has been opened for writing (see [`Token::write`]). Read it
    /// before reading the state the answer depends on.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    pub fn login_state(&self) -> Result<Login> {
        Ok(self.read()?.login)
    }

    /// Who is logged in to this token in this process (None: nobody).
    pub fn principal(&self) -> Result<Option<crate::policy::roles::Principal>> {
        Ok(self.read()?.principal.clone())
    }

    pub fn is_initialized(&self) -> Result<bool> {
        Ok(self.store.token()?.is_some())
    }

    /// C_GetTokenInfo (§5.5). Reads the store, so flags reflect other processes too.
    pub fn info(&self) -> Result<TokenInfo> {
        let record = self.store.token()?;
        let mut flags = CKF_RNG | CKF_LOGIN_REQUIRED;
        if record.is_some() {
            flags |= CKF_TOKEN_INITIALIZED;
        }
        if let Some(user) = self.store.pin(Who::User)? {
            flags |= CKF_USER_PIN_INITIALIZED
                | self.pin_flags(
                    user.failures,
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                );
        }
        if let Some(so) = self.store.pin(Who::So)? {
            flags |= self.pin_flags(
                so.failures,
                CKF_SO_PIN_COUNT_LOW,
                CKF_SO_PIN_FINAL_TRY,
                CKF_SO_PIN_LOCKED,
            );
        }
        let (label, serial) = record.map(|r| (r.label, r.serial)).unwrap_or_default();
        Ok(TokenInfo {
            label,
            serial,
            flags,
            min_pin: self.config.pin_min_len,
            max_pin: self.config.pin_max_len,
        })
    }

    fn pin_flags(
        &self,
        failures: u32,
        low: CK_FLAGS,
        last: CK_FLAGS,
        locked: CK_FLAGS,
    ) -> CK_FLAGS {
        let max = self.config.pin_max_retries;
        match failures {
            0 => 0,
            f if f >= max => locked,
            f if f + 1 == max => low | last,
            _ => low,
        }
    }

    fn check_pin_len(&self, pin: &[u8]) -> Result<()> {
        let ok = (self.config.pin_min_len..=self.config.pin_max_len).contains(&pin.len());
        ok.then_some(()).ok_or(Error::PinLenRange)
    }
}
