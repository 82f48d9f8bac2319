//! The embedded store: one SQLite file per token, WAL mode, every write a transaction.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{PinRecord, Store, StoredObject, TokenRecord, Tombstone, Who};
use crate::error::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS token (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    label TEXT NOT NULL,
    serial TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pins (
    who TEXT PRIMARY KEY,
    salt BLOB NOT NULL,
    memory_kib INTEGER NOT NULL,
    iterations INTEGER NOT NULL,
    wrapped_tmk BLOB NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS objects (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    uid TEXT NOT NULL UNIQUE,
    generation INTEGER NOT NULL,
    private INTEGER NOT NULL,
    clear BLOB NOT NULL,
    sealed BLOB
);
CREATE TABLE IF NOT EXISTS tombstones (
    key_id TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    id TEXT NOT NULL,
    versions INTEGER NOT NULL,
    destroyed_at INTEGER NOT NULL,
    reason INTEGER NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS usage (
    uid TEXT PRIMARY KEY,
    used INTEGER NOT NULL
);
PRAGMA user_version = 1;
";

/// A token database shared by every process that opens the same file.
pub struct SqliteStore {
    conn: Mutex<Connection>,
}

impl SqliteStore {
    /// Open (creating if needed) `dir/token.db`. The directory is created owner-only.
    pub fn open(db: &Path) -> Result<Self> {
        if let Some(dir) = db.parent() {
            create_private_dir(dir)?;
        }
        let conn = Connection::open(db).map_err(|e| {
            eprintln!("keyward: cannot open token store {}: {e}", db.display());
            Error::DeviceError
        })?;
        conn.busy_timeout(Duration::from_secs(10))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.pragma_update(None, "secure_delete", "ON")?;
        conn.execute_batch(SCHEMA)?;
        conn.execute_batch(super::users::SCHEMA)?;
        add_tombstone_detail(&conn)?;
        super::users::migrate(&conn)?;
        conn.execute_batch(super::anchor::SCHEMA)?;
        restrict_file(db);
        Ok(Self {
            conn: Mutex::new(conn),
        })
    }

    pub(super) fn with<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>,
    ) -> Result<T> {
        let mut conn = self.conn.lock().map_err(|_| Error::GeneralError)?;
        f(&mut conn).map_err(|e| {
            eprintln!("keyward: token store error: {e}");
            Error::DeviceError
        })
    }
}

/// Stores made before tombstones kept their history lack the `detail` column: add it. Two
/// processes may race to do so; the loser finds it there.
fn add_tombstone_detail(conn: &Connection) -> rusqlite::Result<()> {
    let has = |c: &Connection| -> rusqlite::Result<bool> {
        c.prepare("SELECT 1 FROM pragma_table_info('tombstones') WHERE name = 'detail'")?
            .exists([])
    };
    if has(conn)? {
        return Ok(());
    }
    match conn.execute_batch("ALTER TABLE tombstones ADD COLUMN detail TEXT NOT NULL DEFAULT ''") {
        Err(_) if has(conn)? => Ok(()),
        other => other,
    }
}

fn create_private_dir(dir: &Path) -> Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| {
            eprintln!("keyward: cannot create {}: {e}", dir.display());
            Error::DeviceError
        })
}

fn restrict_file(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    // Best effort: the file may belong to another user sharing the token read-only.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
}

fn read_pin(row: &rusqlite::Row<'_>) -> rusqlite::Result<PinRecord> {
    Ok(PinRecord {
        salt: row.get(0)?,
        memory_kib: row.get(1)?,
        iterations: row.get(2)?,
        wrapped_tmk: row.get(3)?,
        failures: row.get(4)?,
    })
}

fn write_pin(conn: &Connection, who: Who, pin: &PinRecord) -> rusqlite::Result<()> {
    conn.execute(
        "INSERT OR REPLACE INTO pins (who, salt, memory_kib, iterations, wrapped_tmk, failures)
         VALUES (?1, ?2, ?3, ?4, ?5, 0)",
        params![
            who.as_str(),
            pin.salt,
            pin.memory_kib,
            pin.iterations,
            pin.wrapped_tmk
        ],
    )?;
    Ok(())
}

impl Store for SqliteStore {
    fn token(&self) -> Result<Option<TokenRecord>> {
        self.with(|c| {
            c.query_row("SELECT label, serial FROM token WHERE id = 1", [], |r| {
                Ok(TokenRecord {
                    label: r.get(0)?,
                    serial: r.get(1)?,
                })
            })
            .optional()
        })
    }

    fn initialize(
        &self,
        token: &TokenRecord,
        so: &PinRecord,
        anchor: &crate::audit::Anchor,
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM objects", [])?;
            tx.execute("DELETE FROM pins", [])?;
            tx.execute("DELETE FROM users", [])?;
            tx.execute("DELETE FROM usage", [])?;
            tx.execute(
                "INSERT OR REPLACE INTO token (id, label, serial) VALUES (1, ?1, ?2)",
                params![token.label, token.serial],
            )?;
            write_pin(&tx, Who::So, so)?;
            super::anchor::put(&tx, anchor)?;
            tx.commit()
        })
    }

    fn audit_anchor(&self) -> Result<Option<crate::audit::Anchor>> {
        super::anchor::load(self)
    }

    fn pin(&self, who: Who) -> Result<Option<PinRecord>> {
        self.with(|c| {
            c.query_row(
                "SELECT salt, memory_kib, iterations, wrapped_tmk, failures FROM pins WHERE who = ?1",
                [who.as_str()],
                read_pin,
            )
            .optional()
        })
    }

    fn set_pin(&self, who: Who, pin: &PinRecord) -> Result<()> {
        self.with(|c| write_pin(c, who, pin))
    }

    fn record_failure(&self, who: Who) -> Result<u32> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE pins SET failures = failures + 1 WHERE who = ?1",
                [who.as_str()],
            )?;
            let n = tx
                .query_row(
                    "SELECT failures FROM pins WHERE who = ?1",
                    [who.as_str()],
                    |r| r.get(0),
                )
                .optional()?
                .unwrap_or(0);
            tx.commit()?;
            Ok(n)
        })
    }

    fn reset_failures(&self, who: Who) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE pins SET failures = 0 WHERE who = ?1 AND failures != 0",
                [who.as_str()],
            )
            .map(drop)
        })
    }

    fn object_versions(&self) -> Result<Vec<(String, i64)>> {
        self.with(|c| {
            let mut st = c.prepare_cached("SELECT uid, generation FROM objects ORDER BY id")?;
            let rows = st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
    }

    fn object(&self, uid: &str) -> Result<Option<StoredObject>> {
        self.with(|c| {
            c.query_row(
                "SELECT uid, generation, private, clear, sealed FROM objects WHERE uid = ?1",
                [uid],
                |r| {
                    Ok(StoredObject {
                        uid: r.get(0)?,
                        generation: r.get(1)?,
                        private: r.get(2)?,
                        clear: r.get(3)?,
                        sealed: r.get(4)?,
                    })
                },
            )
            .optional()
        })
    }

    fn put_object(&self, obj: &StoredObject) -> Result<i64> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let old: Option<i64> = tx
                .query_row("SELECT generation FROM objects WHERE uid = ?1", [&obj.uid], |r| r.get(0))
                .optional()?;
            let generation = old.map_or(1, |g| g + 1);
            if old.is_some() {
                tx.execute(
                    "UPDATE objects SET generation = ?2, private = ?3, clear = ?4, sealed = ?5 WHERE uid = ?1",
                    params![obj.uid, generation, obj.private, obj.clear, obj.sealed],
                )?;
            } else {
                tx.execute(
                    "INSERT INTO objects (uid, generation, private, clear, sealed) VALUES (?1, ?2, ?3, ?4, ?5)",
                    params![obj.uid, generation, obj.private, obj.clear, obj.sealed],
                )?;
            }
            tx.commit()?;
            Ok(generation)
        })
    }

    fn delete_object(&self, uid: &str) -> Result<()> {
        self.with(|c| {
            c.execute("DELETE FROM objects WHERE uid = ?1", [uid])?;
            // secure_delete overwrote the record in the pages the delete wrote to the log;
            // copy them over the database file and empty the log, so no earlier copy of the
            // sealed record stays in either. It waits (busy timeout) for other processes'
            // readers; if one still holds the log, the next checkpoint finishes the job.
            let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy != 0 {
                eprintln!("keyward: the log still holds a destroyed object's pages (busy reader)");
            }
            Ok(())
        })
    }

    fn consume_use(&self, uid: &str, limit: u64) -> Result<bool> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO usage (uid, used) VALUES (?1, 0)",
                [uid],
            )?;
            let limit = i64::try_from(limit).unwrap_or(i64::MAX);
            let counted = tx.execute(
                "UPDATE usage SET used = used + 1 WHERE uid = ?1 AND used < ?2",
                params![uid, limit],
            )?;
            tx.commit()?;
            Ok(counted == 1)
        })
    }

    fn uses(&self, uid: &str) -> Result<u64> {
        self.with(|c| {
            c.query_row("SELECT used FROM usage WHERE uid = ?1", [uid], |r| {
                r.get::<_, i64>(0)
            })
            .optional()
            .map(|n| n.unwrap_or(0) as u64)
        })
    }

    fn put_tombstone(&self, t: &Tombstone) -> Result<()> {
        let detail = serde_json::to_string(t).map_err(|_| Error::GeneralError)?;
        self.with(|c| {
            c.execute(
                "INSERT OR REPLACE INTO tombstones (key_id, label, id, versions, destroyed_at, reason, detail) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![t.key_id, t.label, t.id, t.versions as i64, t.destroyed_at as i64, t.reason as i64, detail],
            )
            .map(drop)
        })
    }

    fn tombstones(&self) -> Result<Vec<Tombstone>> {
        self.with(|c| {
            let mut stmt = c.prepare(
                "SELECT key_id, label, id, versions, destroyed_at, reason, detail FROM tombstones ORDER BY rowid",
            )?;
            let rows = stmt.query_map([], |r| {
                let detail: String = r.get(6)?;
                // The full record (JSON); a store from before it was kept has the columns only.
                Ok(serde_json::from_str(&detail).unwrap_or(Tombstone {
                    key_id: r.get(0)?,
                    label: r.get(1)?,
                    id: r.get(2)?,
                    versions: r.get::<_, i64>(3)? as u64,
                    destroyed_at: r.get::<_, i64>(4)? as u64,
                    reason: r.get::<_, i64>(5)? as u64,
                    ..Tombstone::default()
                }))
            })?;
            rows.collect()
        })
    }

    fn change_counter(&self) -> Result<u64> {
        self.with(|c| {
            c.pragma_query_value(None, "data_version", |r| r.get::<_, i64>(0))
                .map(|v| v as u64)
        })
    }

    fn integrity_check(&self) -> Result<Vec<String>> {
        self.with(|c| {
            let mut problems = Vec::new();
            c.pragma_query(None, "integrity_check", |r| {
                problems.push(r.get::<_, String>(0)?);
                Ok(())
            })?;
            problems.retain(|p| p != "ok");
            Ok(problems)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pin() -> PinRecord {
        PinRecord {
            salt: vec![1; 16],
            memory_kib: 8,
            iterations: 1,
            wrapped_tmk: vec![2; 60],
            failures: 0,
        }
    }

    #[test]
    fn initialize_wipes_objects_and_counts_failures() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("t/token.db")).unwrap();
        assert!(s.token().unwrap().is_none());
        let obj = StoredObject {
            uid: "u1".into(),
            generation: 0,
            private: false,
            clear: vec![1],
            sealed: None,
        };
        assert_eq!(s.put_object(&obj).unwrap(), 1);
        assert_eq!(s.put_object(&obj).unwrap(), 2);
        s.initialize(
            &TokenRecord {
                label: "L".into(),
                serial: "S".into(),
            },
            &pin(),
            &crate::audit::Anchor::genesis(&[1; 32]),
        )
        .unwrap();
        assert!(s.object_versions().unwrap().is_empty());
        assert_eq!(s.record_failure(Who::So).unwrap(), 1);
        assert_eq!(s.record_failure(Who::So).unwrap(), 2);
        s.reset_failures(Who::So).unwrap();
        assert_eq!(s.pin(Who::So).unwrap().unwrap().failures, 0);
        assert!(s.pin(Who::User).unwrap().is_none());
    }

    #[test]
    fn another_connection_sees_commits_and_the_counter_moves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        let a = SqliteStore::open(&path).unwrap();
        let b = SqliteStore::open(&path).unwrap();
        let before = b.change_counter().unwrap();
        let obj = StoredObject {
            uid: "u".into(),
            generation: 0,
            private: true,
            clear: vec![],
            sealed: Some(vec![3]),
        };
        a.put_object(&obj).unwrap();
        assert_ne!(b.change_counter().unwrap(), before);
        assert_eq!(b.object("u").unwrap().unwrap().sealed, Some(vec![3]));
    }

    #[test]
    fn a_deleted_record_leaves_no_copy_in_the_file_or_its_log() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        let s = SqliteStore::open(&path).unwrap();
        let marker: Vec<u8> = (0..200u32).map(|i| (i * 7 + 13) as u8).collect();
        let mut obj = StoredObject {
            uid: "doomed".into(),
            generation: 0,
            private: true,
            clear: vec![1],
            sealed: Some(marker.clone()),
        };
        s.put_object(&obj).unwrap();
        obj.clear = vec![2]; // a second write leaves an older copy in the log
        s.put_object(&obj).unwrap();
        let holds = |p: &Path| {
            std::fs::read(p)
                .unwrap_or_default()
                .windows(marker.len())
                .any(|w| w == marker.as_slice())
        };
        let wal = dir.path().join("token.db-wal");
        assert!(holds(&path) || holds(&wal), "the record was written");
        s.delete_object("doomed").unwrap();
        assert!(!holds(&path), "token.db still holds the deleted record");
        assert!(!holds(&wal), "token.db-wal still holds the deleted record");
    }

    #[test]
    fn tombstones_keep_their_history_and_old_stores_gain_the_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.db");
        {
            let c = Connection::open(&path).unwrap();
            c.execute_batch(
                "CREATE TABLE tombstones (key_id TEXT PRIMARY KEY, label TEXT NOT NULL, \
                 id TEXT NOT NULL, versions INTEGER NOT NULL, destroyed_at INTEGER NOT NULL, \
                 reason INTEGER NOT NULL); \
                 INSERT INTO tombstones VALUES ('k0', 'old', '01', 3, 1000, 5);",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        let old = s.tombstones().unwrap();
        assert_eq!(
            (old[0].label.as_str(), old[0].versions, old[0].reason),
            ("old", 3, 5)
        );
        let t = Tombstone {
            key_id: "k1".into(),
            label: "new".into(),
            id: "02".into(),
            versions: 2,
            created: 10,
            destroyed_at: 30,
            state: "compromised".into(),
            state_changed: 20,
            reason: 2,
            history: vec![super::super::DestroyedVersion {
                version: 2,
                class: "secret".into(),
                created: 15,
                state: "compromised".into(),
                state_changed: 20,
                reason: 2,
            }],
        };
        s.put_tombstone(&t).unwrap();
        assert_eq!(s.tombstones().unwrap()[1], t);
    }
}
