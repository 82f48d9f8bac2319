//! Tampering with a trail through SQLite directly, and what `verify` reports for each kind.
//!
//! Every trail here has ten records with checkpoints exactly at seq 5 and seq 10.

use std::path::{Path, PathBuf};

use rusqlite::{params, Connection};

use super::chain::{link, GENESIS};
use super::tests::{ev, key, temp_db, KEY};
use super::*;

/// Ten records, checkpointed at 5 and 10 only (the key is set just for the flushes).
fn trail() -> (tempfile::TempDir, PathBuf) {
    let (dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, Writer::Thread).unwrap();
    for i in 1..=10 {
        log.record(ev("sign", i)).unwrap();
        if i % 5 == 0 {
            log.set_key(key());
            log.flush().unwrap();
            log.set_key(None);
            // The logout checkpoint lands now, at i, not after later records.
            log.flush().unwrap();
        }
    }
    drop(log);
    let report = verify(&path, &KEY, Anchored::NotKept).unwrap();
    assert_eq!(
        report,
        VerifyReport {
            records: 10,
            checkpoints: 2,
            last_checkpoint_seq: 10,
            earlier_key_checkpoints: 0,
            anchor_seq: 0,
            first_bad: None,
            unauthenticated_tail: 0,
            notes: Vec::new(),
        }
    );
    (dir, path)
}

pub(super) fn db(path: &Path) -> Connection {
    Connection::open(path).unwrap()
}

pub(super) fn body(conn: &Connection, seq: i64) -> Vec<u8> {
    conn.query_row("SELECT body FROM records WHERE seq = ?1", [seq], |r| {
        r.get(0)
    })
    .unwrap()
}

pub(super) fn hash(conn: &Connection, seq: i64) -> Vec<u8> {
    conn.query_row("SELECT hash FROM records WHERE seq = ?1", [seq], |r| {
        r.get(0)
    })
    .unwrap()
}

/// Change the user "alice" to "alicf" in one record's body.
pub(super) fn edit_user(conn: &Connection, seq: i64) {
    let edited = String::from_utf8(body(conn, seq))
        .unwrap()
        .replace("\"alice\"", "\"alicf\"");
    conn.execute(
        "UPDATE records SET body = ?1 WHERE seq = ?2",
        params![edited.into_bytes(), seq],
    )
    .unwrap();
}

/// What an attacker without the key can do after an edit: recompute every hash.
fn rehash_all(conn: &Connection) {
    let mut prev = GENESIS.to_vec();
    for seq in 1..=10i64 {
        let h = link(&prev, &body(conn, seq));
        conn.execute(
            "UPDATE records SET hash = ?1 WHERE seq = ?2",
            params![h, seq],
        )
        .unwrap();
        prev = h.to_vec();
    }
}

fn first_bad(path: &Path) -> (u64, String) {
    let report = verify(path, &KEY, Anchored::NotKept).unwrap();
    let Some(bad) = report.first_bad else {
        panic!("not detected: {report:?}");
    };
    bad
}

#[test]
fn edited_body_is_caught_at_its_seq() {
    let (_dir, path) = trail();
    edit_user(&db(&path), 7);
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 7, "{why}");
    assert!(why.contains("hash"), "{why}");
}

#[test]
fn edited_time_column_is_caught() {
    let (_dir, path) = trail();
    db(&path)
        .execute(
            "UPDATE records SET time = '2000-01-01T00:00:00.000000Z' WHERE seq = 2",
            [],
        )
        .unwrap();
    assert_eq!(first_bad(&path).0, 2);
}

#[test]
fn deleted_record_is_a_gap() {
    let (_dir, path) = trail();
    db(&path)
        .execute("DELETE FROM records WHERE seq = 4", [])
        .unwrap();
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 4, "{why}");
    assert!(why.contains("missing"), "{why}");
}

/// Move records 6..=10 up by one to make room at seq 6.
fn make_room_at_6(conn: &Connection) {
    conn.execute_batch(
        "UPDATE records SET seq = -seq WHERE seq >= 6;
         UPDATE records SET seq = 1 - seq WHERE seq < 0;",
    )
    .unwrap();
}

pub(super) fn forged_body(seq: u64) -> Vec<u8> {
    let origin = record::Origin::current();
    let r = origin.stamp(seq, "2026-01-01T00:00:00.000000Z".into(), ev("forged", 0));
    record::encode(&r).unwrap()
}

#[test]
fn inserted_record_is_caught() {
    // A forged record with a made-up hash fails at its own seq.
    let (_dir, path) = trail();
    let conn = db(&path);
    make_room_at_6(&conn);
    conn.execute(
        "INSERT INTO records (seq, time, body, hash) VALUES (6, ?1, ?2, ?3)",
        params!["2026-01-01T00:00:00.000000Z", forged_body(6), vec![7u8; 32]],
    )
    .unwrap();
    assert_eq!(first_bad(&path).0, 6);

    // Correctly chained, it passes, but the renumbered record after it does not.
    let (_dir, path) = trail();
    let conn = db(&path);
    make_room_at_6(&conn);
    let forged = forged_body(6);
    let h = link(&hash(&conn, 5), &forged);
    conn.execute(
        "INSERT INTO records (seq, time, body, hash) VALUES (6, ?1, ?2, ?3)",
        params!["2026-01-01T00:00:00.000000Z", forged, h],
    )
    .unwrap();
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 7, "{why}");
    assert!(why.contains("says seq 6"), "{why}");
}

#[test]
fn swapped_records_are_caught() {
    let (_dir, path) = trail();
    let conn = db(&path);
    let (b3, b4) = (body(&conn, 3), body(&conn, 4));
    conn.execute("UPDATE records SET body = ?1 WHERE seq = 3", [b4])
        .unwrap();
    conn.execute("UPDATE records SET body = ?1 WHERE seq = 4", [b3])
        .unwrap();
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 3, "{why}");
}

#[test]
fn truncation_under_a_checkpoint_is_caught() {
    let (_dir, path) = trail();
    db(&path)
        .execute("DELETE FROM records WHERE seq >= 9", [])
        .unwrap();
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 9, "{why}");
    assert!(why.contains("ends at seq 8"), "{why}");
}

#[test]
fn rehashed_chain_is_caught_by_the_checkpoint() {
    // Edit record 3 and recompute every hash: only the checkpoint at 5 can tell.
    let (_dir, path) = trail();
    let conn = db(&path);
    edit_user(&conn, 3);
    rehash_all(&conn);
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 5, "{why}");
    assert!(why.contains("recomputed chain"), "{why}");

    // Rewriting the checkpoint's hash too leaves its MAC wrong.
    let new5 = hash(&conn, 5);
    conn.execute("UPDATE checkpoints SET hash = ?1 WHERE seq = 5", [new5])
        .unwrap();
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 5, "{why}");
    assert!(why.contains("MAC"), "{why}");
}

#[test]
fn wrong_key_authenticates_nothing() {
    // Checkpoints name their key: under another key they are an earlier initialisation's,
    // which authenticate nothing by themselves...
    let (_dir, path) = trail();
    let report = verify(&path, &[0x43; 32], Anchored::NotKept).unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(report.last_checkpoint_seq, 0);
    assert_eq!(report.earlier_key_checkpoints, 2);
    assert_eq!(report.unauthenticated_tail, 10);
    // ...and the anchor the token keeps does not verify under it.
    let anchor = Anchor::new(&KEY, 10, &hash(&db(&path), 10));
    let report = verify(&path, &[0x43; 32], Anchored::Kept(Some(&anchor))).unwrap();
    assert!(report.first_bad.unwrap().1.contains("anchor"));
}

#[test]
fn a_checkpoint_stripped_of_its_key_id_fails_as_v1() {
    let (_dir, path) = trail();
    db(&path)
        .execute("UPDATE checkpoints SET key_id = NULL WHERE seq = 10", [])
        .unwrap();
    let (seq, why) = first_bad(&path);
    assert_eq!(seq, 10, "{why}");
    assert!(why.contains("MAC"), "{why}");
}

#[test]
fn stated_limits_hold() {
    // Dropping records together with the checkpoint that covered them is caught by the
    // anchor kept outside the trail (tests_anchor.rs); rolled back together with the
    // anchor (here: an anchor of seq 5, as it stood then), it is not detectable...
    let (_dir, path) = trail();
    let conn = db(&path);
    let old_anchor = Anchor::new(&KEY, 5, &hash(&conn, 5));
    conn.execute_batch(
        "DELETE FROM records WHERE seq > 5; DELETE FROM checkpoints WHERE seq = 10;",
    )
    .unwrap();
    let report = verify(&path, &KEY, Anchored::Kept(Some(&old_anchor))).unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!((report.records, report.last_checkpoint_seq), (5, 5));

    // ...nor is a forged record appended after the last checkpoint with a correct hash; it
    // shows up only as an unauthenticated tail.
    let forged = forged_body(6);
    let h = link(&hash(&conn, 5), &forged);
    conn.execute(
        "INSERT INTO records (seq, time, body, hash) VALUES (6, ?1, ?2, ?3)",
        params!["2026-01-01T00:00:00.000000Z", forged, h],
    )
    .unwrap();
    let report = verify(&path, &KEY, Anchored::NotKept).unwrap();
    assert_eq!(report.first_bad, None);
    assert_eq!(report.unauthenticated_tail, 1);
}
