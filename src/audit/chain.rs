//! The hash chain, the checkpoint MAC, and the walk that verifies a whole trail.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::{digest, hmac};
use serde::Serialize;

use super::record::parse_record;

/// Length of a chain hash and of a checkpoint MAC.
pub(super) const HASH_LEN: usize = 32;

/// The `prev_hash` of seq 1.
pub(super) const GENESIS: [u8; HASH_LEN] = [0; HASH_LEN];

/// Domain separation for checkpoint MACs; a new record format gets a new version.
const CHECKPOINT_DOMAIN: &[u8] = b"keyward/v1/audit-checkpoint";

/// `SHA-256(prev || body)`: the hash stored with a record.
pub(super) fn link(prev: &[u8], body: &[u8]) -> [u8; HASH_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(body);
    let mut out = [0; HASH_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `HMAC-SHA256(key, "keyward/v1/audit-checkpoint" || seq as 8 bytes BE || hash)`.
pub(super) fn checkpoint_mac(key: &[u8; HASH_LEN], seq: u64, hash: &[u8]) -> [u8; HASH_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    ctx.update(CHECKPOINT_DOMAIN);
    ctx.update(&seq.to_be_bytes());
    ctx.update(hash);
    let mut out = [0; HASH_LEN];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// Verification of a whole trail with the checkpoint key.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Record rows in the trail.
    pub records: u64,
    /// Checkpoint rows in the trail.
    pub checkpoints: u64,
    /// Seq of the last checkpoint that verified (0 when none did).
    pub last_checkpoint_seq: u64,
    /// First problem found: (seq of the first bad record or checkpoint, what is wrong).
    /// None = intact.
    pub first_bad: Option<(u64, String)>,
    /// Records after the last checkpoint (chained but not yet authenticated).
    pub unauthenticated_tail: u64,
}

/// One stored record row as read back, typed loosely so that tampering is reported rather
/// than failing the read.
#[derive(Debug)]
pub(super) struct RecordRow {
    pub(super) seq: i64,
    pub(super) time: Option<String>,
    pub(super) body: Option<Vec<u8>>,
    pub(super) hash: Option<Vec<u8>>,
}

/// One stored checkpoint row as read back.
#[derive(Debug)]
pub(super) struct CheckpointRow {
    pub(super) seq: i64,
    pub(super) hash: Option<Vec<u8>>,
    pub(super) mac: Option<Vec<u8>>,
}

/// A problem: the seq it is reported at and a human reason.
type Problem = (u64, String);

/// Walks records in seq order, and checkpoints merged in by seq; stops at the first problem.
pub(super) struct Walker<'k> {
    key: &'k [u8; HASH_LEN],
    /// The seq the next record row must have.
    next: u64,
    /// The recomputed chain hash of record `next - 1`.
    prev: [u8; HASH_LEN],
    last_checkpoint: u64,
    problem: Option<Problem>,
}

impl<'k> Walker<'k> {
    /// A walk from the start of the trail.
    pub(super) fn new(key: &'k [u8; HASH_LEN]) -> Self {
        Walker {
            key,
            next: 1,
            prev: GENESIS,
            last_checkpoint: 0,
            problem: None,
        }
    }

    /// True once a problem was found: later rows are not looked at.
    pub(super) fn failed(&self) -> bool {
        self.problem.is_some()
    }

    /// Check the next record row (rows must come in ascending seq).
    pub(super) fn record(&mut self, row: &RecordRow) {
        if self.problem.is_none() {
            self.problem = self.check_record(row).err();
        }
    }

    /// Check a checkpoint row against the records walked so far; call it once every record
    /// with seq <= the checkpoint's seq has been walked (checkpoints in ascending seq).
    pub(super) fn checkpoint(&mut self, row: &CheckpointRow) {
        if self.problem.is_none() {
            self.problem = self.check_checkpoint(row).err();
        }
    }

    /// The report, given the row counts and the last record seq of the trail.
    pub(super) fn finish(self, records: u64, checkpoints: u64, last_seq: u64) -> VerifyReport {
        VerifyReport {
            records,
            checkpoints,
            last_checkpoint_seq: self.last_checkpoint,
            first_bad: self.problem,
            unauthenticated_tail: last_seq.saturating_sub(self.last_checkpoint),
        }
    }

    fn check_record(&mut self, row: &RecordRow) -> Result<(), Problem> {
        let seq = self.expect_seq(row.seq)?;
        let body = row
            .body
            .as_deref()
            .ok_or_else(|| (seq, "body is missing or not a blob".to_owned()))?;
        let record =
            parse_record(body).map_err(|_| (seq, "body is not a canonical record".to_owned()))?;
        if record.seq != seq {
            return Err((seq, format!("body says seq {} in row {seq}", record.seq)));
        }
        if row.time.as_deref() != Some(record.time.as_str()) {
            return Err((seq, "time column disagrees with the body".to_owned()));
        }
        let hash = link(&self.prev, body);
        if row.hash.as_deref() != Some(&hash[..]) {
            return Err((
                seq,
                "hash does not match SHA-256(previous hash || body)".to_owned(),
            ));
        }
        self.prev = hash;
        self.next = seq + 1;
        Ok(())
    }

    fn expect_seq(&self, seq: i64) -> Result<u64, Problem> {
        let want = self.next;
        match u64::try_from(seq) {
            Ok(got) if got == want => Ok(got),
            Ok(got) if got > want => Err((
                want,
                format!("record {want} is missing (next row is seq {got})"),
            )),
            _ => Err((
                want,
                format!("unexpected row seq {seq} where {want} was due"),
            )),
        }
    }

    fn check_checkpoint(&mut self, row: &CheckpointRow) -> Result<(), Problem> {
        let walked = self.next - 1;
        let seq = match u64::try_from(row.seq) {
            Ok(s) if s >= 1 && s <= walked => s,
            Ok(s) if s > walked => {
                return Err((
                    walked + 1,
                    format!("trail ends at seq {walked} but a checkpoint covers seq {s}"),
                ))
            }
            _ => return Err((0, format!("checkpoint at impossible seq {}", row.seq))),
        };
        if seq != walked {
            return Err((seq, "checkpoint was not checked at its record".to_owned()));
        }
        let (hash, mac) = match (row.hash.as_deref(), row.mac.as_deref()) {
            (Some(h), Some(m)) => (h, m),
            _ => return Err((seq, "checkpoint hash or MAC is missing".to_owned())),
        };
        let want = checkpoint_mac(self.key, seq, hash);
        if verify_slices_are_equal(&want, mac).is_err() {
            return Err((
                seq,
                "checkpoint MAC does not verify (wrong key, or the checkpoint was forged)"
                    .to_owned(),
            ));
        }
        if hash != self.prev {
            return Err((
                seq,
                "checkpointed hash differs from the recomputed chain (records rewritten)"
                    .to_owned(),
            ));
        }
        self.last_checkpoint = seq;
        Ok(())
    }
}
