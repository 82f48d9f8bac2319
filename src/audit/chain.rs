//! The hash chain, the checkpoint MAC, and the walk that verifies a whole trail.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::digest;
use serde::Serialize;

use super::anchor::{key_id, mac, Anchor, Anchored, KEY_ID_LEN};
use super::record::parse_record;

/// Length of a chain hash and of a checkpoint MAC.
pub(super) const HASH_LEN: usize = 32;

/// The `prev_hash` of seq 1.
pub(super) const GENESIS: [u8; HASH_LEN] = [0; HASH_LEN];

/// Domain separation for checkpoint MACs. v1 (no key identifier) is what checkpoints written
/// before key identifiers existed carry; they are still checked, under the current key.
const CHECKPOINT_DOMAIN_V1: &[u8] = b"keyward/v1/audit-checkpoint";
const CHECKPOINT_DOMAIN: &[u8] = b"keyward/v2/audit-checkpoint";

/// `SHA-256(prev || body)`: the hash stored with a record.
pub(super) fn link(prev: &[u8], body: &[u8]) -> [u8; HASH_LEN] {
    let mut ctx = digest::Context::new(&digest::SHA256);
    ctx.update(prev);
    ctx.update(body);
    let mut out = [0; HASH_LEN];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// `HMAC-SHA256(key, "keyward/v2/audit-checkpoint" || key_id || seq as 8 bytes BE || hash)`,
/// with `key_id` = [`key_id`]`(key)`.
pub(super) fn checkpoint_mac(key: &[u8; HASH_LEN], seq: u64, hash: &[u8]) -> [u8; HASH_LEN] {
    let id = key_id(key);
    mac(key, &[CHECKPOINT_DOMAIN, &id, &seq.to_be_bytes(), hash])
}

/// The MAC of a checkpoint written without a key identifier.
fn checkpoint_mac_v1(key: &[u8; HASH_LEN], seq: u64, hash: &[u8]) -> [u8; HASH_LEN] {
    mac(key, &[CHECKPOINT_DOMAIN_V1, &seq.to_be_bytes(), hash])
}

/// Verification of a whole trail with the checkpoint key.
#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct VerifyReport {
    /// Record rows in the trail.
    pub records: u64,
    /// Checkpoint rows in the trail.
    pub checkpoints: u64,
    /// Seq of the last checkpoint that verified under the current key (0 when none did).
    pub last_checkpoint_seq: u64,
    /// Checkpoints made with the key of an earlier initialisation of the token: they cannot
    /// be checked, and count only when a later current-key checkpoint or the anchor covers
    /// them (see `notes`).
    pub earlier_key_checkpoints: u64,
    /// Seq of the anchor kept in the token database (0: none, or it anchors nothing yet).
    pub anchor_seq: u64,
    /// First problem found: (seq of the first bad record or checkpoint, what is wrong).
    /// None = intact.
    pub first_bad: Option<(u64, String)>,
    /// Records after the last authenticated seq (the last current-key checkpoint or the
    /// anchor): chained, but not yet authenticated.
    pub unauthenticated_tail: u64,
    /// What a reader should know that is not a failure (earlier-key checkpoints and what
    /// covers them).
    pub notes: Vec<String>,
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
    /// None for a checkpoint written before key identifiers existed.
    pub(super) key_id: Option<Vec<u8>>,
}

/// A problem: the seq it is reported at and a human reason.
type Problem = (u64, String);

/// Walks records in seq order, and checkpoints merged in by seq; stops at the first problem.
pub(super) struct Walker<'k> {
    key: &'k [u8; HASH_LEN],
    key_id: [u8; KEY_ID_LEN],
    anchor: Anchored<'k>,
    /// The seq the next record row must have.
    next: u64,
    /// The recomputed chain hash of record `next - 1`.
    prev: [u8; HASH_LEN],
    /// The recomputed chain hash at the anchor's seq, once walked.
    at_anchor: Option<[u8; HASH_LEN]>,
    last_checkpoint: u64,
    /// Earlier-key checkpoints not yet covered by a current-key one (first, last, count).
    uncovered: Option<(u64, u64, u64)>,
    earlier: u64,
    notes: Vec<String>,
    problem: Option<Problem>,
}

impl<'k> Walker<'k> {
    /// A walk from the start of the trail.
    pub(super) fn new(key: &'k [u8; HASH_LEN], anchor: Anchored<'k>) -> Self {
        let at_anchor = match anchor {
            Anchored::Kept(Some(a)) if a.seq == 0 => Some(GENESIS),
            _ => None,
        };
        Walker {
            key,
            key_id: key_id(key),
            anchor,
            next: 1,
            prev: GENESIS,
            at_anchor,
            last_checkpoint: 0,
            uncovered: None,
            earlier: 0,
            notes: Vec::new(),
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

    /// The report, given the row counts and the last record seq of the trail. The anchor is
    /// checked here, after every record was walked.
    pub(super) fn finish(mut self, records: u64, checkpoints: u64, last_seq: u64) -> VerifyReport {
        if self.problem.is_none() {
            self.problem = self.check_anchor().err();
        }
        let anchor_seq = match self.anchor {
            Anchored::Kept(Some(a)) => a.seq,
            _ => 0,
        };
        let authenticated = if self.problem.is_none() {
            self.last_checkpoint.max(anchor_seq)
        } else {
            self.last_checkpoint
        };
        if let Some((first, last, n)) = self.uncovered {
            let covered = anchor_seq >= last && self.problem.is_none();
            self.notes.push(match covered {
                true => earlier_note(first, last, n, &format!("the anchor (seq {anchor_seq})")),
                false => format!(
                    "{n} checkpoint(s) #{first}..#{last} from an earlier initialisation are \
                     not covered by a current-key checkpoint yet: counted as unauthenticated"
                ),
            });
        }
        VerifyReport {
            records,
            checkpoints,
            last_checkpoint_seq: self.last_checkpoint,
            earlier_key_checkpoints: self.earlier,
            anchor_seq,
            first_bad: self.problem,
            unauthenticated_tail: last_seq.saturating_sub(authenticated),
            notes: self.notes,
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
        if matches!(self.anchor, Anchored::Kept(Some(a)) if a.seq == seq) {
            self.at_anchor = Some(hash);
        }
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
        let want = match row.key_id.as_deref() {
            None => checkpoint_mac_v1(self.key, seq, hash),
            Some(id) if id == self.key_id => checkpoint_mac(self.key, seq, hash),
            Some(_) => return self.earlier_key(seq, hash),
        };
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
        if let Some((first, last, n)) = self.uncovered.take() {
            let by = format!("checkpoint #{seq}");
            self.notes.push(earlier_note(first, last, n, &by));
        }
        Ok(())
    }

    /// A checkpoint made with another key (an earlier initialisation of the token): its MAC
    /// cannot be checked, so it authenticates nothing by itself. Its hash must still agree
    /// with the chain; a later current-key checkpoint (or the anchor) covers it.
    fn earlier_key(&mut self, seq: u64, hash: &[u8]) -> Result<(), Problem> {
        if hash != self.prev {
            return Err((
                seq,
                "checkpoint from an earlier initialisation differs from the recomputed chain \
                 (records rewritten)"
                    .to_owned(),
            ));
        }
        self.earlier += 1;
        self.uncovered = Some(match self.uncovered {
            Some((first, _, n)) => (first, seq, n + 1),
            None => (seq, seq, 1),
        });
        Ok(())
    }

    /// The anchor kept outside the trail must be made with the current key, and the trail
    /// must reach its seq with its hash.
    fn check_anchor(&self) -> Result<(), Problem> {
        let walked = self.next - 1;
        let anchor: &Anchor = match self.anchor {
            Anchored::NotKept => return Ok(()),
            Anchored::Kept(None) => {
                return Err((
                    0,
                    "no audit anchor in the token database: the end of the trail cannot be \
                     checked (the anchor was deleted, or the token was initialised before \
                     anchors existed)"
                        .to_owned(),
                ))
            }
            Anchored::Kept(Some(a)) => a,
        };
        if !anchor.made_with(self.key) {
            return Err((
                anchor.seq,
                "the anchor in the token database does not verify under the current key \
                 (forged or replaced)"
                    .to_owned(),
            ));
        }
        if anchor.seq > walked {
            return Err((
                walked + 1,
                format!(
                    "trail ends at seq {walked} but the anchor in the token database says seq \
                     {} was checkpointed (records were removed)",
                    anchor.seq
                ),
            ));
        }
        match self.at_anchor {
            Some(h) if h[..] == anchor.hash[..] => Ok(()),
            _ => Err((
                anchor.seq,
                "differs from the chain anchored in the token database (records rewritten)"
                    .to_owned(),
            )),
        }
    }
}

fn earlier_note(first: u64, last: u64, n: u64, by: &str) -> String {
    let which = if first == last {
        format!("checkpoint #{first} is")
    } else {
        format!("{n} checkpoints #{first}..#{last} are")
    };
    format!("{which} from an earlier initialisation, covered by {by}")
}
