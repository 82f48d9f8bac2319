//! The audit trail's anchor (docs/audit.md): one row in the token database, outside the
//! trail it anchors. Written in the same transaction as C_InitToken's new master key, then
//! only advanced, by the audit trail's writer through the store ([`AnchorDb`]).

use std::sync::Arc;

use rusqlite::{params, Connection, OptionalExtension};

use super::sqlite::SqliteStore;
use crate::audit::{Anchor, AnchorStore};
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS audit_anchor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key_id BLOB NOT NULL,
    seq INTEGER NOT NULL,
    hash BLOB NOT NULL,
    mac BLOB NOT NULL
);
";

fn read(conn: &Connection) -> rusqlite::Result<Option<Anchor>> {
    conn.query_row(
        "SELECT key_id, seq, hash, mac FROM audit_anchor WHERE id = 1",
        [],
        |r| {
            Ok(Anchor {
                key_id: r.get(0)?,
                seq: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(u64::MAX),
                hash: r.get(2)?,
                mac: r.get(3)?,
            })
        },
    )
    .optional()
}

/// Replace the anchor (C_InitToken, inside its transaction).
pub(super) fn put(conn: &Connection, a: &Anchor) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO audit_anchor (id, key_id, seq, hash, mac) VALUES (1, ?1, ?2, ?3, ?4)",
        params![a.key_id, seq_int(a.seq)?, a.hash, a.mac],
    )
    .map(drop)
}

fn seq_int(seq: u64) -> rusqlite::Result<i64> {
    i64::try_from(seq).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

/// The audit anchor, if the token has one.
pub(super) fn load(store: &SqliteStore) -> Result<Option<Anchor>> {
    store.with(|c| read(c))
}

/// The anchor as the audit trail's writer reaches it: through the token store's own
/// connection, so that advancing it does not look, to this process's token, like a change
/// made by another process (SQLite's `data_version` ignores a connection's own commits; a
/// second connection's write made the token re-read its objects after every checkpoint).
pub struct AnchorDb {
    store: Arc<SqliteStore>,
}

impl AnchorDb {
    /// The anchor in `store` (the token's `token.db`).
    pub fn new(store: Arc<SqliteStore>) -> Self {
        Self { store }
    }
}

impl AnchorStore for AnchorDb {
    fn load(&mut self) -> Result<Option<Anchor>> {
        load(&self.store)
    }

    fn advance(&mut self, new: &Anchor) -> Result<bool> {
        let seq = seq_int(new.seq).unwrap_or(i64::MAX);
        self.store.with(|c| {
            // An advance lost to a power failure leaves the anchor behind the trail, which
            // verification tolerates (and the next checkpoint moves it on), so it is not
            // worth an fsync of its own: in WAL mode, NORMAL commits without one and stays
            // safe from corruption. Every other write to token.db stays FULL.
            c.pragma_update(None, "synchronous", "NORMAL")?;
            let updated = c.execute(
                "UPDATE audit_anchor SET seq = ?2, hash = ?3, mac = ?4
                 WHERE id = 1 AND key_id = ?1 AND seq < ?2",
                params![new.key_id, seq, new.hash, new.mac],
            );
            let restored = c.pragma_update(None, "synchronous", "FULL");
            let n = updated?;
            restored?;
            Ok(n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_anchor_only_advances_under_its_own_key() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        use crate::store::Store;
        let store = Arc::new(SqliteStore::open(&path).unwrap());
        assert_eq!(store.audit_anchor().unwrap(), None);
        let key = [5u8; 32];
        store.with(|c| put(c, &Anchor::genesis(&key))).unwrap();
        let mut db = AnchorDb::new(Arc::clone(&store));
        assert!(db.advance(&Anchor::new(&key, 4, &[1; 32])).unwrap());
        assert!(
            !db.advance(&Anchor::new(&key, 3, &[1; 32])).unwrap(),
            "never back"
        );
        assert!(
            !db.advance(&Anchor::new(&[6; 32], 9, &[1; 32])).unwrap(),
            "other key"
        );
        let a = db.load().unwrap().unwrap();
        assert_eq!((a.seq, a.made_with(&key)), (4, true));
        assert_eq!(store.audit_anchor().unwrap(), Some(a));
        let sync: i64 = store
            .with(|c| c.pragma_query_value(None, "synchronous", |r| r.get(0)))
            .unwrap();
        assert_eq!(sync, 2, "the store's own writes stay synchronous=FULL");
    }
}
