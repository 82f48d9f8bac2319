//! The tamper-evident audit trail.
//!
//! Every security-relevant operation is reported as an [`Event`] to an [`AuditLog`], which
//! stamps it into a [`Record`] and appends it to a hash chain in its own SQLite file
//! (separate from the token database, WAL mode, `synchronous=FULL`, mode 0600).
//!
//! # Writing
//!
//! [`AuditLog::record`] is on the hot path of every `C_Sign`, so on the caller's thread it
//! usually only takes the time and pushes the event onto an in-memory queue. The queue is
//! written by its [`Writer`]:
//!
//! - a background thread: for a second after its last work it polls the queue every 100 ms,
//!   so a busy caller never pays for a wake-up system call; after that it sleeps until the
//!   next `record` wakes it (strict callers, `flush` and logout always wake it at once);
//! - or the recording threads themselves (the default in a single-threaded process, where a
//!   thread would make glibc lock in every `malloc` of the application): the `record` that
//!   finds the last write 100 ms old, or the queue 8,192 events long, writes the queue on its
//!   own thread; strict records, `flush`, logout and drop write at once. One thread writes at
//!   a time; a plain event that finds another writing leaves the queue to it. By default
//!   the callers hand the trail to a thread once they turn out to call rarely ([`Writer`]).
//!
//! Either way the writer takes the whole queue at once and appends it in ONE
//! `BEGIN IMMEDIATE` transaction (group commit): inside the transaction it reads the last
//! `(seq, hash)` in the file, numbers the batch after it and chains it on. Any number of
//! processes, each with its own `AuditLog` and connection on the same file, therefore keep one
//! gapless chain (`busy_timeout` is 10 s). `seq` is assigned at commit; `time` is when the
//! event was reported, so across processes times are not strictly ordered by seq.
//!
//! In strict mode `record` waits until its record is committed and returns
//! `CKR_DEVICE_ERROR` if the write failed; otherwise a write failure is reported on stderr.
//! Either way, the events of a failed batch are dropped, and the next successful write
//! starts with a record `operation="audit-lost", result="CKR_DEVICE_ERROR",
//! detail="records=N"`, so the trail itself shows that events are missing. At most
//! 65,536 events wait in memory; beyond that `record` blocks until the flusher catches up.
//! Events still queued when the process exits without dropping the log (or calling
//! [`AuditLog::flush`]) are lost: the integrator flushes at `C_Finalize`.
//!
//! # Format
//!
//! ```text
//! records(seq INTEGER PRIMARY KEY, time TEXT, body BLOB, hash BLOB)
//! checkpoints(seq INTEGER PRIMARY KEY, hash BLOB, mac BLOB, key_id BLOB)
//! ```
//!
//! - `body` is the canonical encoding of the [`Record`]: compact `serde_json` with the fields
//!   in declaration order (`seq, time, host, pid, process, user, role, token, session,
//!   operation, object_uid, object_label, object_version, mechanism, result, detail`).
//!   [`parse_record`] accepts only that exact encoding. `time` is RFC 3339 UTC with exactly
//!   six fraction digits (`2026-11-23T12:00:00.123456Z`), so it sorts as text; the `time`
//!   column is a copy of the body's, kept for [`export`].
//! - `hash = SHA-256(prev_hash || body)`, where `prev_hash` is the previous record's hash and
//!   32 zero bytes for seq 1.
//! - While a checkpoint key is set (32 bytes the caller derives from the token master key,
//!   so only someone who can log in can make or check one), a batch ends with a checkpoint
//!   of its last record: `mac = HMAC-SHA256(key, "keyward/v2/audit-checkpoint" || key_id ||
//!   seq as 8 bytes big-endian || hash)`, `key_id` = [`key_id`]`(key)` (8 bytes, not
//!   secret). At most one per 100 ms per process; one skipped by that limit is written
//!   100 ms later, and one is always written on [`AuditLog::flush`], on logout
//!   (`set_key(None)`, with the departing key), when the log is dropped, and on
//!   [`AuditLog::checkpoint_with`] (C_InitToken's new key). Rows with a NULL `key_id` were
//!   written before key identifiers (`"keyward/v1/audit-checkpoint" || seq || hash`).
//! - The anchor ([`Anchor`]): the last checkpointed `(seq, hash)` with its MAC, kept OUTSIDE
//!   this file by an [`AnchorStore`] (the token database). The flusher advances it after
//!   each checkpoint it commits, but only while the record at the anchor's seq still has the
//!   anchored hash: a trail that was cut or rewritten under the anchor never gets it moved.
//!
//! # Verifying
//!
//! [`verify`] walks the records in seq order and reports the FIRST problem by seq:
//! a gap in seq (a deleted record, or one inserted by renumbering); a body that is not a
//! canonical record or whose seq or time disagrees with its row; a hash that is not
//! `SHA-256(prev || body)` (an edited, reordered or forged record); a checkpoint of the
//! current key whose MAC is wrong (forged), whose hash differs from the recomputed chain at
//! its seq (records edited and the whole chain re-hashed), or whose seq is past the last
//! record (the trail was truncated); then the anchor: missing, not made with the current key,
//! past the end of the trail (a tail dropped with its checkpoints), or disagreeing with the
//! chain at its seq. A checkpoint of another key (an earlier initialisation of the token)
//! cannot be checked: it must agree with the chain, and is reported as covered by the next
//! current-key checkpoint or the anchor, whose chain hash authenticates everything before
//! it. It also reports how many records follow the last authenticated seq
//! (`unauthenticated_tail`). An empty trail is intact.
//!
//! # Limits
//!
//! - The chain is a keyless hash: anyone who can write the file can rewrite or drop records
//!   AFTER the last checkpoint and anchor and re-hash them, undetected. Checkpoints and the
//!   anchor make everything up to them authentic, and only while no one is logged in does
//!   the tail grow unauthenticated.
//! - A new batch chains onto the last record in the file as it is, so a tail rewritten
//!   before the next append is then checkpointed as if genuine (the same limit, seen from
//!   the writer); the anchor is not moved onto such a tail if it cut under the anchor.
//! - Rolling the trail back together with the anchor (an older copy of both, or just an
//!   anchor row copied earlier) is not detectable locally: an older trail with its own
//!   anchor is a valid trail. That is what the syslog forwarder is for: each committed
//!   record leaves the machine as an RFC 5424 line carrying its seq and chain hash, so a
//!   remote collector can see a seq go backwards or a hash change. The forwarder sends
//!   without blocking and drops (and reports on stderr) lines the daemon does not accept.
//! - A process that forks keeps a copy of the log in the child; the copy never writes (only
//!   the opening pid flushes on drop) and a strict `record` or a `flush` in the child fails.
//!   The child must open its own log.

mod anchor;
mod chain;
mod clock;
mod db;
mod flusher;
pub mod fork_gate;
mod query;
mod record;
mod sink;
mod syslog;
mod text;
mod writer;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_anchor;
#[cfg(test)]
mod tests_tamper;

pub use anchor::{key_id, Anchor, AnchorStore, Anchored};
pub use chain::VerifyReport;
pub use query::{export, read_after, verify, verify_with_progress};
pub use record::{parse_record, Event, Record};
pub use sink::AuditLog;
pub use syslog::SyslogTarget;
pub use text::Text;
pub use writer::Writer;
