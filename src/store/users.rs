//! Named users: each with a role, its own PIN record wrapping the token master key, a failure
//! counter, and an optional TOTP secret sealed under the master key.

use rusqlite::{params, OptionalExtension, TransactionBehavior};

use super::sqlite::SqliteStore;
use super::PinRecord;
use crate::error::Result;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    salt BLOB NOT NULL,
    memory_kib INTEGER NOT NULL,
    iterations INTEGER NOT NULL,
    wrapped_tmk BLOB NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0,
    totp BLOB,
    totp_step INTEGER NOT NULL DEFAULT 0,
    role_mac BLOB
);
";

/// Add the role MAC column to a database made before it existed (its users keep NULL there:
/// their role is bound into their PIN wrap).
pub(super) fn migrate(conn: &rusqlite::Connection) -> rusqlite::Result<()> {
    let has = conn
        .prepare("SELECT 1 FROM pragma_table_info('users') WHERE name = 'role_mac'")?
        .exists([])?;
    if !has {
        conn.execute_batch("ALTER TABLE users ADD COLUMN role_mac BLOB")?;
    }
    Ok(())
}

/// One named user as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserRecord {
    pub name: String,
    /// The role's name (`policy::roles::Role::name`).
    pub role: String,
    pub pin: PinRecord,
    /// The TOTP secret, sealed under the token master key (None: no second factor).
    pub totp: Option<Vec<u8>>,
    /// The last TOTP time step accepted (a code is good once).
    pub totp_step: u64,
    /// The MAC binding the name to the role under the master key (`Tmk::role_mac`). None
    /// for a user made before roles were MAC'd, whose PIN wrap binds its role instead.
    pub role_mac: Option<Vec<u8>>,
}

/// Storage of named users. Every method is one transaction.
pub trait UserStore {
    fn user(&self, name: &str) -> Result<Option<UserRecord>>;
    /// Every user, by name.
    fn users(&self) -> Result<Vec<UserRecord>>;
    /// Insert or replace a user (its failure count becomes `u.pin.failures`).
    fn put_user(&self, u: &UserRecord) -> Result<()>;
    /// Remove a user and its wrap of the master key; false if there was none.
    fn delete_user(&self, name: &str) -> Result<bool>;
    /// Count one failed login; the new count.
    fn record_user_failure(&self, name: &str) -> Result<u32>;
    fn reset_user_failures(&self, name: &str) -> Result<()>;
    /// Accept TOTP time step `step` for `name` if it is newer than the last accepted one.
    fn use_totp_step(&self, name: &str, step: u64) -> Result<bool>;
}

fn read_user(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRecord> {
    Ok(UserRecord {
        name: r.get(0)?,
        role: r.get(1)?,
        pin: PinRecord {
            salt: r.get(2)?,
            memory_kib: r.get(3)?,
            iterations: r.get(4)?,
            wrapped_tmk: r.get(5)?,
            failures: r.get(6)?,
        },
        totp: r.get(7)?,
        totp_step: r.get::<_, i64>(8)? as u64,
        role_mac: r.get(9)?,
    })
}

const COLUMNS: &str =
    "name, role, salt, memory_kib, iterations, wrapped_tmk, failures, totp, totp_step, role_mac";

impl UserStore for SqliteStore {
    fn user(&self, name: &str) -> Result<Option<UserRecord>> {
        self.with(|c| {
            c.query_row(
                &format!("SELECT {COLUMNS} FROM users WHERE name = ?1"),
                [name],
                read_user,
            )
            .optional()
        })
    }

    fn users(&self) -> Result<Vec<UserRecord>> {
        self.with(|c| {
            let mut st = c.prepare(&format!("SELECT {COLUMNS} FROM users ORDER BY name"))?;
            let rows = st.query_map([], read_user)?;
            rows.collect()
        })
    }

    fn put_user(&self, u: &UserRecord) -> Result<()> {
        self.with(|c| {
            c.execute(
                &format!("INSERT OR REPLACE INTO users ({COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    u.name,
                    u.role,
                    u.pin.salt,
                    u.pin.memory_kib,
                    u.pin.iterations,
                    u.pin.wrapped_tmk,
                    u.pin.failures,
                    u.totp,
                    u.totp_step as i64,
                    u.role_mac
                ],
            )
            .map(drop)
        })
    }

    fn delete_user(&self, name: &str) -> Result<bool> {
        self.with(|c| {
            c.execute("DELETE FROM users WHERE name = ?1", [name])
                .map(|n| n == 1)
        })
    }

    fn record_user_failure(&self, name: &str) -> Result<u32> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE users SET failures = failures + 1 WHERE name = ?1",
                [name],
            )?;
            let n = tx
                .query_row("SELECT failures FROM users WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()?
                .unwrap_or(0);
            tx.commit()?;
            Ok(n)
        })
    }

    fn reset_user_failures(&self, name: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET failures = 0 WHERE name = ?1 AND failures != 0",
                [name],
            )
            .map(drop)
        })
    }

    fn use_totp_step(&self, name: &str, step: u64) -> Result<bool> {
        self.with(|c| {
            c.execute(
                "UPDATE users SET totp_step = ?2 WHERE name = ?1 AND totp_step < ?2",
                params![name, step as i64],
            )
            .map(|n| n == 1)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserRecord {
        UserRecord {
            name: name.into(),
            role: "operator".into(),
            pin: PinRecord {
                salt: vec![1; 16],
                memory_kib: 8,
                iterations: 1,
                wrapped_tmk: vec![2; 60],
                failures: 0,
            },
            totp: None,
            totp_step: 0,
            role_mac: Some(vec![3; 32]),
        }
    }

    #[test]
    fn users_are_stored_counted_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let s = SqliteStore::open(&dir.path().join("token.db")).unwrap();
        s.put_user(&user("bob")).unwrap();
        s.put_user(&user("alice")).unwrap();
        let names: Vec<_> = s.users().unwrap().into_iter().map(|u| u.name).collect();
        assert_eq!(names, ["alice", "bob"]);
        assert_eq!(s.record_user_failure("bob").unwrap(), 1);
        assert_eq!(s.record_user_failure("bob").unwrap(), 2);
        s.reset_user_failures("bob").unwrap();
        assert_eq!(s.user("bob").unwrap().unwrap().pin.failures, 0);
        assert!(s.use_totp_step("bob", 10).unwrap());
        assert!(!s.use_totp_step("bob", 10).unwrap(), "a step is good once");
        assert!(s.delete_user("bob").unwrap());
        assert!(!s.delete_user("bob").unwrap());
        assert!(s.user("bob").unwrap().is_none());
    }
}
