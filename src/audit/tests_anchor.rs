//! The anchor outside the trail (truncation) and checkpoints of an earlier initialisation
//! (a re-initialised token's new key).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::params;
use zeroize::Zeroizing;

use super::chain::link;
use super::tests::{ev, temp_db, KEY};
use super::tests_tamper::{body, db, edit_user, forged_body, hash};
use super::*;
use crate::error::Result;

/// The key of the token after its re-initialisation.
const NEW_KEY: [u8; 32] = [0x77; 32];

/// An anchor kept in memory, shared with the test.
#[derive(Clone, Default)]
struct MemAnchor(Arc<Mutex<Option<Anchor>>>);

impl MemAnchor {
    fn get(&self) -> Option<Anchor> {
        self.0.lock().unwrap().clone()
    }
}

impl AnchorStore for MemAnchor {
    fn load(&mut self) -> Result<Option<Anchor>> {
        Ok(self.get())
    }

    fn advance(&mut self, new: &Anchor) -> Result<bool> {
        let mut a = self.0.lock().unwrap();
        match a.as_ref() {
            Some(old) if old.key_id == new.key_id && old.seq < new.seq => {
                *a = Some(new.clone());
                Ok(true)
            }
            _ => Ok(false),
        }
    }
}

/// Append `n` records with `key` set, then flush (a checkpoint at the end).
fn append(path: &Path, anchor: &MemAnchor, key: [u8; 32], n: u64) {
    let log = AuditLog::open_anchored(
        path,
        false,
        None,
        Some(Box::new(anchor.clone())),
        Writer::Thread,
    )
    .unwrap();
    log.set_key(Some(Zeroizing::new(key)));
    for i in 0..n {
        log.record(ev("sign", i)).unwrap();
    }
    log.flush().unwrap();
}

/// Ten records checkpointed and anchored at 10.
fn anchored_trail() -> (tempfile::TempDir, PathBuf, MemAnchor) {
    let (dir, path) = temp_db();
    let anchor = MemAnchor(Arc::new(Mutex::new(Some(Anchor::genesis(&KEY)))));
    append(&path, &anchor, KEY, 10);
    assert_eq!(
        anchor.get().unwrap().seq,
        10,
        "the flusher advanced the anchor"
    );
    (dir, path, anchor)
}

fn check(path: &Path, key: &[u8; 32], anchor: &MemAnchor) -> VerifyReport {
    verify(path, key, Anchored::Kept(anchor.get().as_ref())).unwrap()
}

#[test]
fn an_anchored_trail_verifies_and_a_missing_anchor_fails() {
    let (_dir, path, anchor) = anchored_trail();
    let report = check(&path, &KEY, &anchor);
    assert_eq!(report.first_bad, None, "{report:?}");
    assert_eq!((report.anchor_seq, report.unauthenticated_tail), (10, 0));
    let report = verify(&path, &KEY, Anchored::Kept(None)).unwrap();
    assert!(report.first_bad.unwrap().1.contains("no audit anchor"));
}

#[test]
fn truncation_with_its_checkpoint_is_caught_by_the_anchor() {
    let (_dir, path, anchor) = anchored_trail();
    db(&path)
        .execute_batch("DELETE FROM records WHERE seq > 6; DELETE FROM checkpoints;")
        .unwrap();
    let (seq, why) = check(&path, &KEY, &anchor).first_bad.unwrap();
    assert_eq!(seq, 7, "{why}");
    assert!(
        why.contains("ends at seq 6") && why.contains("anchor"),
        "{why}"
    );
    // The file alone cannot tell (the limit the anchor lifts).
    let alone = verify(&path, &KEY, Anchored::NotKept).unwrap();
    assert_eq!(alone.first_bad, None);
}

#[test]
fn a_rewritten_anchored_chain_is_caught_and_the_writer_keeps_the_anchor() {
    let (_dir, path, anchor) = anchored_trail();
    let conn = db(&path);
    // Truncate to 5 and write five forged records in their place, correctly chained.
    conn.execute_batch("DELETE FROM records WHERE seq > 5; DELETE FROM checkpoints;")
        .unwrap();
    let mut prev = hash(&conn, 5);
    for seq in 6..=10u64 {
        let b = forged_body(seq);
        let h = link(&prev, &b);
        conn.execute(
            "INSERT INTO records (seq, time, body, hash) VALUES (?1, ?2, ?3, ?4)",
            params![seq as i64, "2026-01-01T00:00:00.000000Z", b, h],
        )
        .unwrap();
        prev = h.to_vec();
    }
    let (seq, why) = check(&path, &KEY, &anchor).first_bad.unwrap();
    assert_eq!(seq, 10, "{why}");
    assert!(why.contains("anchored"), "{why}");
    // A process that logs in later checkpoints the forged chain, but does not move the
    // anchor onto it: the evidence stays.
    append(&path, &anchor, KEY, 3);
    assert_eq!(anchor.get().unwrap().seq, 10);
    assert_eq!(check(&path, &KEY, &anchor).first_bad.unwrap().0, 10);
}

/// A re-initialised token: checkpoints #5..#10 under the old key, then the new key's.
fn reinitialised() -> (tempfile::TempDir, PathBuf, MemAnchor) {
    let (dir, path) = temp_db();
    let anchor = MemAnchor(Arc::new(Mutex::new(Some(Anchor::genesis(&KEY)))));
    append(&path, &anchor, KEY, 5);
    append(&path, &anchor, KEY, 5);
    // C_InitToken carries the anchor over to the new key (token/login.rs).
    let old = anchor.get().unwrap();
    *anchor.0.lock().unwrap() = Some(Anchor::new(&NEW_KEY, old.seq, &old.hash));
    append(&path, &anchor, NEW_KEY, 3);
    (dir, path, anchor)
}

#[test]
fn earlier_key_checkpoints_are_covered_by_the_new_keys() {
    let (_dir, path, anchor) = reinitialised();
    let report = check(&path, &NEW_KEY, &anchor);
    assert_eq!(report.first_bad, None, "{report:?}");
    assert_eq!(report.earlier_key_checkpoints, 2);
    assert_eq!((report.last_checkpoint_seq, report.anchor_seq), (13, 13));
    assert_eq!(
        report.notes,
        ["2 checkpoints #5..#10 are from an earlier initialisation, covered by checkpoint #13"]
    );
    // Tampering before the re-initialisation is still caught, at its record.
    edit_user(&db(&path), 3);
    assert_eq!(check(&path, &NEW_KEY, &anchor).first_bad.unwrap().0, 3);
}

#[test]
fn a_forged_earlier_key_marker_skips_nothing() {
    // Relabel the current-key checkpoint as an earlier key's and rewrite the records it
    // covered, re-hashing the chain and the checkpoints: the anchor still tells.
    let (_dir, path, anchor) = reinitialised();
    let conn = db(&path);
    conn.execute("UPDATE checkpoints SET key_id = x'0102030405060708'", [])
        .unwrap();
    edit_user(&conn, 12);
    let prev = hash(&conn, 11);
    let h12 = link(&prev, &body(&conn, 12));
    let h13 = link(&h12, &body(&conn, 13));
    conn.execute_batch("DELETE FROM checkpoints WHERE seq = 13")
        .unwrap();
    for (seq, h) in [(12i64, h12), (13, h13)] {
        conn.execute(
            "UPDATE records SET hash = ?1 WHERE seq = ?2",
            params![h.to_vec(), seq],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO checkpoints (seq, hash, mac, key_id) VALUES (13, ?1, ?2, x'0102030405060708')",
        params![h13.to_vec(), vec![0u8; 32]],
    )
    .unwrap();
    let (seq, why) = check(&path, &NEW_KEY, &anchor).first_bad.unwrap();
    assert_eq!(seq, 13, "{why}");
    assert!(why.contains("anchored"), "{why}");
}

#[test]
fn uncovered_earlier_key_checkpoints_count_as_unauthenticated() {
    // A process still holding the old key appends after the re-initialisation.
    let (_dir, path, anchor) = reinitialised();
    append(&path, &anchor, KEY, 2);
    let report = check(&path, &NEW_KEY, &anchor);
    assert_eq!(report.first_bad, None, "{report:?}");
    assert_eq!(
        anchor.get().unwrap().seq,
        13,
        "the old key cannot move the anchor"
    );
    assert_eq!(report.unauthenticated_tail, 2);
    assert!(
        report.notes.iter().any(|n| n.contains("not covered")),
        "{report:?}"
    );
}
