//! Reading a trail: whole-trail verification, export by time, and tailing by seq. Each reads
//! one consistent snapshot through a read-only connection.

use std::path::Path;

use rusqlite::{params, Connection, Transaction};

use super::anchor::Anchored;
use super::chain::{VerifyReport, Walker};
use super::clock::normalize_bound;
use super::db::{checkpoint_row, open_reader, record_row, storage_error};
use super::record::{parse_record, Record};
use crate::error::{Error, Result};

/// Verify a whole trail with the checkpoint key and the anchor kept outside it (read BEFORE
/// this call: the anchor never runs ahead of the file); see the module documentation for
/// what is and is not detected. A damaged trail is a report, not an error:
/// `CKR_DEVICE_ERROR` only when the file cannot be opened or read.
pub fn verify(path: &Path, key: &[u8; 32], anchor: Anchored<'_>) -> Result<VerifyReport> {
    verify_with_progress(path, key, anchor, &mut |_, _| {})
}

/// [`verify`], calling `progress(done, total)` after each record walked.
pub fn verify_with_progress(
    path: &Path,
    key: &[u8; 32],
    anchor: Anchored<'_>,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<VerifyReport> {
    let mut conn = open_reader(path)?;
    let tx = snapshot(path, &mut conn)?;
    let read = |e: rusqlite::Error| storage_error(path, &e);
    let count = |sql: &str| -> Result<u64> {
        tx.query_row(sql, [], |r| r.get::<_, i64>(0))
            .map(|n| u64::try_from(n).unwrap_or(0))
            .map_err(read)
    };
    let records = count("SELECT COUNT(*) FROM records")?;
    let checkpoints = count("SELECT COUNT(*) FROM checkpoints")?;
    let last_seq = count("SELECT COALESCE(MAX(seq), 0) FROM records")?;

    let mut walker = Walker::new(key, anchor);
    let mut cp_stmt = tx
        .prepare("SELECT seq, hash, mac, key_id FROM checkpoints ORDER BY seq")
        .map_err(read)?;
    let mut cps = cp_stmt
        .query_map([], checkpoint_row)
        .map_err(read)?
        .peekable();
    let mut rec_stmt = tx
        .prepare("SELECT seq, time, body, hash FROM records ORDER BY seq")
        .map_err(read)?;
    for (done, row) in (1..).zip(rec_stmt.query_map([], record_row).map_err(read)?) {
        let row = row.map_err(read)?;
        walker.record(&row);
        progress(done, records);
        while let Some(cp) = cps.next_if(|c| c.as_ref().is_ok_and(|c| c.seq <= row.seq)) {
            if walker.failed() {
                break;
            }
            walker.checkpoint(&cp.map_err(read)?);
        }
        if walker.failed() {
            break;
        }
    }
    for cp in cps {
        if walker.failed() {
            break;
        }
        walker.checkpoint(&cp.map_err(read)?);
    }
    Ok(walker.finish(records, checkpoints, last_seq))
}

/// Records with `since <= time < until` (RFC 3339 strings compared as instants; None = open),
/// in seq order. `CKR_ARGUMENTS_BAD` for a bound that is not RFC 3339; `CKR_DEVICE_ERROR` if
/// the file cannot be read or a stored body is not a record.
pub fn export(path: &Path, since: Option<&str>, until: Option<&str>) -> Result<Vec<Record>> {
    let since = since.map(normalize_bound).transpose()?;
    let until = until.map(normalize_bound).transpose()?;
    let mut conn = open_reader(path)?;
    let tx = snapshot(path, &mut conn)?;
    collect(
        path,
        &tx,
        "SELECT body FROM records
         WHERE (?1 IS NULL OR time >= ?1) AND (?2 IS NULL OR time < ?2)
         ORDER BY seq",
        params![since, until],
        usize::MAX,
    )
}

/// Up to `limit` records with seq > `after`, in order (for `audit tail -f` polling).
/// `CKR_DEVICE_ERROR` if the file cannot be read or a stored body is not a record.
pub fn read_after(path: &Path, after: u64, limit: usize) -> Result<Vec<Record>> {
    let mut conn = open_reader(path)?;
    let tx = snapshot(path, &mut conn)?;
    let after = i64::try_from(after).unwrap_or(i64::MAX);
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    collect(
        path,
        &tx,
        "SELECT body FROM records WHERE seq > ?1 ORDER BY seq LIMIT ?2",
        params![after, limit_sql],
        limit,
    )
}

/// A read transaction: every query in it sees the same state of the file.
fn snapshot<'c>(path: &Path, conn: &'c mut Connection) -> Result<Transaction<'c>> {
    conn.transaction().map_err(|e| storage_error(path, &e))
}

/// Parse every body the query returns, up to `limit`.
fn collect(
    path: &Path,
    tx: &Transaction<'_>,
    sql: &str,
    args: &[&dyn rusqlite::ToSql],
    limit: usize,
) -> Result<Vec<Record>> {
    let read = |e: rusqlite::Error| storage_error(path, &e);
    let mut stmt = tx.prepare(sql).map_err(read)?;
    let mut rows = stmt.query(args).map_err(read)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(read)? {
        if out.len() >= limit {
            break;
        }
        let body = row.get_ref(0).map_err(read)?;
        let bytes = body
            .as_blob()
            .or_else(|_| body.as_bytes())
            .map_err(|_| Error::DeviceError)?;
        out.push(parse_record(bytes)?);
    }
    Ok(out)
}
