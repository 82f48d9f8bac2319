//! Persistent token state. [`Store`] is the interface; [`sqlite::SqliteStore`] the embedded
//! default; [`seal`] the key hierarchy that keeps key material encrypted at rest.

pub mod anchor;
pub mod seal;
pub mod sqlite;
pub mod users;

pub use users::{UserRecord, UserStore};

use crate::error::Result;

/// Which login identity a PIN belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Who {
    So,
    User,
}

impl Who {
    pub fn as_str(self) -> &'static str {
        match self {
            Who::So => "so",
            Who::User => "user",
        }
    }
}

/// A PIN's KDF parameters and the token master key wrapped under the key it derives.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PinRecord {
    pub salt: Vec<u8>,
    pub memory_kib: u32,
    pub iterations: u32,
    /// nonce || AES-256-GCM(KEK, TMK) || tag.
    pub wrapped_tmk: Vec<u8>,
    /// Consecutive failed logins.
    pub failures: u32,
}

/// The token's own record (absent until C_InitToken).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    pub label: String,
    pub serial: String,
}

/// One object as stored: clear attributes (CBOR) and the sealed remainder.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredObject {
    pub uid: String,
    /// Bumped on every write; lets other processes notice a change.
    pub generation: i64,
    pub private: bool,
    pub clear: Vec<u8>,
    pub sealed: Option<Vec<u8>>,
}

/// What remains of a destroyed logical key: its names and history, never its material.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Tombstone {
    /// CKA_KW_KEY_ID, hex.
    pub key_id: String,
    pub label: String,
    /// CKA_ID, hex.
    pub id: String,
    /// The highest version the key reached.
    pub versions: u64,
    /// When its oldest destroyed version was made (Unix seconds; 0: unknown).
    #[serde(default)]
    pub created: u64,
    /// When it was destroyed (Unix seconds).
    pub destroyed_at: u64,
    /// The state its newest version was in when destroyed ("active", "compromised" …).
    #[serde(default)]
    pub state: String,
    /// When that state (or revocation reason) was last set (Unix seconds).
    #[serde(default)]
    pub state_changed: u64,
    /// The revocation reason its newest version carried (0: none).
    pub reason: u64,
    /// Every destroyed key object, newest version first.
    #[serde(default)]
    pub history: Vec<DestroyedVersion>,
}

/// One destroyed key object of a logical key (one version, one half of a pair).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DestroyedVersion {
    pub version: u64,
    /// "secret", "private" or "public".
    pub class: String,
    /// When the version was made (Unix seconds).
    pub created: u64,
    /// Its last state, when that was set, and its revocation reason (0: none).
    pub state: String,
    pub state_changed: u64,
    pub reason: u64,
}

/// Everything the token persists. Every method is one transaction; all are safe to call
/// from several threads and processes at once. Errors are CKR_DEVICE_ERROR.
pub trait Store: UserStore + Send + Sync {
    fn token(&self) -> Result<Option<TokenRecord>>;
    /// Initialise (or re-initialise) the token: wipes every object, the user PIN and the named
    /// users, sets the label, the SO PIN record and the audit trail's anchor, all in one
    /// transaction.
    fn initialize(
        &self,
        token: &TokenRecord,
        so: &PinRecord,
        anchor: &crate::audit::Anchor,
    ) -> Result<()>;
    /// The audit trail's anchor (docs/audit.md), if the token has one.
    fn audit_anchor(&self) -> Result<Option<crate::audit::Anchor>>;
    fn pin(&self, who: Who) -> Result<Option<PinRecord>>;
    /// Replace (or set) a PIN record, resetting its failure count.
    fn set_pin(&self, who: Who, pin: &PinRecord) -> Result<()>;
    /// Count one failed login; returns the new count.
    fn record_failure(&self, who: Who) -> Result<u32>;
    fn reset_failures(&self, who: Who) -> Result<()>;
    /// (uid, generation) of every object, oldest first.
    fn object_versions(&self) -> Result<Vec<(String, i64)>>;
    fn object(&self, uid: &str) -> Result<Option<StoredObject>>;
    /// Insert or replace; returns the new generation.
    fn put_object(&self, obj: &StoredObject) -> Result<i64>;
    fn delete_object(&self, uid: &str) -> Result<()>;
    /// Count one use of object `uid` if fewer than `limit` were counted; false at the limit.
    /// Atomic across processes (one immediate transaction).
    fn consume_use(&self, uid: &str, limit: u64) -> Result<bool>;
    /// How many uses of object `uid` were counted.
    fn uses(&self, uid: &str) -> Result<u64>;
    /// Record a destroyed key's tombstone (replacing an earlier one for the same key id).
    fn put_tombstone(&self, t: &Tombstone) -> Result<()>;
    /// Every tombstone, oldest first.
    fn tombstones(&self) -> Result<Vec<Tombstone>>;
    /// Changes whenever another connection commits (a cross-process change counter).
    fn change_counter(&self) -> Result<u64>;
    /// The database engine's own consistency check: the problems it reports (empty: none).
    fn integrity_check(&self) -> Result<Vec<String>>;
}
