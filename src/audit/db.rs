//! The audit database: schema, opening for writing or reading, and the one append transaction.

use std::path::Path;
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};

use super::anchor::{key_id, Anchor};
use super::chain::{checkpoint_mac, link, CheckpointRow, RecordRow, GENESIS, HASH_LEN};
use super::record::{encode, Event, Origin};
use crate::error::{Error, Result};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS records (
    seq INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    body BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS checkpoints (
    seq INTEGER PRIMARY KEY,
    hash BLOB NOT NULL,
    mac BLOB NOT NULL,
    key_id BLOB
);
";

/// Add the key identifier column to a trail made before it existed (its checkpoints keep
/// NULL there and are checked as v1 checkpoints under the current key).
fn migrate(conn: &Connection) -> rusqlite::Result<()> {
    let has_key_id = conn
        .prepare("SELECT 1 FROM pragma_table_info('checkpoints') WHERE name = 'key_id'")?
        .exists([])?;
    if !has_key_id {
        conn.execute_batch("ALTER TABLE checkpoints ADD COLUMN key_id BLOB")?;
    }
    Ok(())
}

/// How long a writer waits for another process's transaction before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Open (creating, owner-only) the database for appending: WAL, synchronous=FULL.
pub(super) fn open_writer(path: &Path) -> Result<Connection> {
    create_private(path)?;
    let conn = Connection::open(path).map_err(|e| storage_error(path, &e))?;
    let setup = || -> rusqlite::Result<()> {
        conn.busy_timeout(BUSY_TIMEOUT)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // Appends touch the table's right edge only; a larger cache keeps it and the WAL
        // index in memory (16 MiB), and fewer checkpoints copy more pages at once.
        conn.pragma_update(None, "cache_size", -16384)?;
        conn.pragma_update(None, "wal_autocheckpoint", 4000)?;
        conn.execute_batch(SCHEMA)?;
        migrate(&conn)
    };
    // Switching a new file to WAL can fail at once with SQLITE_BUSY, without the busy
    // handler, while another connection (another process opening it) is doing the same.
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        match setup() {
            Ok(()) => return Ok(conn),
            Err(e) if is_busy(&e) && std::time::Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => return Err(storage_error(path, &e)),
        }
    }
}

/// SQLITE_BUSY or SQLITE_LOCKED: another connection holds a lock that will be released.
fn is_busy(e: &rusqlite::Error) -> bool {
    matches!(
        e.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
    )
}

/// Open an existing database read-only (never creates it).
pub(super) fn open_reader(path: &Path) -> Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| storage_error(path, &e))?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| storage_error(path, &e))?;
    Ok(conn)
}

/// Log a storage failure once on stderr (no secrets in SQLite errors) and map it.
pub(super) fn storage_error(path: &Path, e: &dyn std::fmt::Display) -> Error {
    eprintln!("keyward: audit trail {}: {e}", path.display());
    Error::DeviceError
}

/// Create the file 0600 (and its directory 0700) before SQLite does, so there is no moment at
/// which it is readable by others; tighten an existing file's mode on a best-effort basis.
fn create_private(path: &Path) -> Result<()> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.is_dir() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(|e| storage_error(dir, &e))?;
        }
    }
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| storage_error(path, &e))?;
    // Best effort: the file may belong to another user who shares the trail.
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    Ok(())
}

/// An event waiting to be appended, with the instant it was reported.
#[derive(Debug)]
pub(super) struct Pending {
    pub(super) at: std::time::SystemTime,
    pub(super) event: Event,
    /// Identical events coalesced into this one (1: just this one), and when the last was
    /// reported (see `AuditLog::coalescing`).
    pub(super) count: u64,
    pub(super) last_at: std::time::SystemTime,
}

impl Pending {
    pub(super) fn new(at: std::time::SystemTime, event: Event) -> Self {
        Self {
            at,
            event,
            count: 1,
            last_at: at,
        }
    }

    /// The event as recorded: a coalesced one says how many it stands for and until when.
    fn into_event(self) -> Event {
        let mut event = self.event;
        if self.count > 1 {
            let note = format!(
                "count={} last={}",
                self.count,
                super::clock::format(self.last_at)
            );
            if !event.detail.is_empty() {
                event.detail.push(' ');
            }
            event.detail.push_str(&note);
        }
        event
    }
}

/// A record as committed by this process: what the syslog forwarder sends.
#[derive(Debug)]
pub(super) struct Committed {
    pub(super) seq: u64,
    pub(super) time: String,
    pub(super) ok: bool,
    pub(super) body: Vec<u8>,
    pub(super) hash: [u8; HASH_LEN],
}

/// What one append committed.
#[derive(Debug, Default)]
pub(super) struct Appended {
    pub(super) records: Vec<Committed>,
    /// The checkpoint written (or already there) at the new last record: its anchor, when
    /// the trail still extends the `anchor` given to [`append`] (so it may be advanced).
    pub(super) next_anchor: Option<Anchor>,
    /// The trail no longer has the anchored hash at the anchor's seq.
    pub(super) diverged: bool,
}

/// Append `batch` in ONE `BEGIN IMMEDIATE` transaction, chained onto whatever record is last
/// in the file at that moment (another process may have appended since our last batch); with
/// `key`, also checkpoint the new last record (or the existing last record for an empty batch,
/// unless it already has one) and, given the current `anchor`, check that the trail still
/// has its hash at its seq. Drains `batch` (keeping its capacity).
pub(super) fn append(
    conn: &mut Connection,
    origin: &Origin,
    batch: &mut Vec<Pending>,
    key: Option<&[u8; HASH_LEN]>,
    anchor: Option<&Anchor>,
) -> rusqlite::Result<Appended> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let (mut seq, mut prev) = last_record(&tx)?;
    let mut done = Vec::with_capacity(batch.len());
    {
        let mut insert = tx.prepare_cached(
            "INSERT INTO records (seq, time, body, hash) VALUES (?1, ?2, ?3, ?4)",
        )?;
        for p in batch.drain(..) {
            seq += 1;
            let ok = p.event.result == "CKR_OK";
            let at = super::clock::format(p.at);
            let record = origin.stamp(seq, at, p.into_event());
            let body =
                encode(&record).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))?;
            let hash = link(&prev, &body);
            insert.execute(params![sql_int(seq)?, record.time, body, hash])?;
            prev = hash.to_vec();
            done.push(Committed {
                seq,
                time: record.time,
                ok,
                body,
                hash,
            });
        }
    }
    let mut out = Appended::default();
    if let (Some(key), true) = (key, seq > 0) {
        tx.execute(
            "INSERT OR IGNORE INTO checkpoints (seq, hash, mac, key_id) VALUES (?1, ?2, ?3, ?4)",
            params![
                sql_int(seq)?,
                prev,
                checkpoint_mac(key, seq, &prev),
                key_id(key).to_vec()
            ],
        )?;
        if let Some(a) = anchor.filter(|a| a.key_id[..] == key_id(key)[..] && a.seq < seq) {
            if stored_hash(&tx, a.seq)?.as_deref() == Some(&a.hash[..]) {
                out.next_anchor = Some(Anchor::new(key, seq, &prev));
            } else {
                out.diverged = true;
            }
        }
    }
    tx.commit()?;
    out.records = done;
    Ok(out)
}

/// The stored hash of record `seq` (the genesis hash for seq 0), None if there is none.
fn stored_hash(conn: &Connection, seq: u64) -> rusqlite::Result<Option<Vec<u8>>> {
    if seq == 0 {
        return Ok(Some(GENESIS.to_vec()));
    }
    conn.query_row(
        "SELECT hash FROM records WHERE seq = ?1",
        [sql_int(seq)?],
        |r| Ok(bytes(r.get_ref(0)?)),
    )
    .optional()
    .map(Option::flatten)
}

/// The last record's (seq, stored hash), or (0, genesis) for an empty trail. The stored hash
/// is chained onto as it is, even if tampered with: verification reports that record.
fn last_record(conn: &Connection) -> rusqlite::Result<(u64, Vec<u8>)> {
    let last = conn
        .query_row(
            "SELECT seq, hash FROM records ORDER BY seq DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, i64>(0)?, bytes(r.get_ref(1)?))),
        )
        .optional()?;
    Ok(match last {
        Some((seq, hash)) => (
            u64::try_from(seq).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(0, seq))?,
            hash.unwrap_or_default(),
        ),
        None => (0, GENESIS.to_vec()),
    })
}

/// A seq as SQLite's signed 64-bit integer.
fn sql_int(seq: u64) -> rusqlite::Result<i64> {
    i64::try_from(seq).map_err(|e| rusqlite::Error::ToSqlConversionFailure(e.into()))
}

/// Read a record row for verification or export.
pub(super) fn record_row(r: &Row<'_>) -> rusqlite::Result<RecordRow> {
    Ok(RecordRow {
        seq: r.get(0)?,
        time: bytes(r.get_ref(1)?).and_then(|t| String::from_utf8(t).ok()),
        body: bytes(r.get_ref(2)?),
        hash: bytes(r.get_ref(3)?),
    })
}

/// Read a checkpoint row for verification.
pub(super) fn checkpoint_row(r: &Row<'_>) -> rusqlite::Result<CheckpointRow> {
    Ok(CheckpointRow {
        seq: r.get(0)?,
        hash: bytes(r.get_ref(1)?),
        mac: bytes(r.get_ref(2)?),
        key_id: bytes(r.get_ref(3)?),
    })
}

/// The bytes of a TEXT or BLOB value; None for NULL and numbers.
fn bytes(v: ValueRef<'_>) -> Option<Vec<u8>> {
    match v {
        ValueRef::Blob(b) | ValueRef::Text(b) => Some(b.to_vec()),
        _ => None,
    }
}
