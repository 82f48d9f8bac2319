//! The trail across the token's life, through the C ABI and the CLI: re-initialising a
//! token keeps `keyward audit verify` working (and still catching tampering from before),
//! the anchor in the token database catches a tail dropped with its checkpoints, and a
//! strict slot refuses object writes it cannot record.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};

use common::trail::{add_user, audit_db, cli, ok, sql, verify};
use common::{assert_rv, pin, SO_PIN, USER_PIN};

/// Log the default user in, make a key and sign with it a few times, log out.
fn some_work(slot: cryptoki::slot::Slot, label: &str) {
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = common::token_hmac_key(&s, label);
    for _ in 0..3 {
        s.sign(&Mechanism::Sha256Hmac, key, b"x").unwrap();
    }
    s.logout().unwrap();
}

#[track_caller]
fn assert_intact(index: usize) -> String {
    let out = verify(index);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Init, work, re-init (C_InitToken), work, re-init (`keyward init`), work: the trail
/// verifies, saying the older checkpoints are covered; a record from before the first
/// re-initialisation, edited, is named.
#[test]
fn verify_survives_reinitialisation_and_still_names_tampering() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "first");
    add_user(index, "aud", "auditor");
    some_work(slot, "k1");
    assert_intact(index);

    common::init_token(slot, "second"); // C_InitToken: a new master key, users gone
    add_user(index, "aud", "auditor");
    some_work(slot, "k2");
    ok(cli(
        index,
        &["init", "--label", "third"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_PIN", USER_PIN)],
    ));
    add_user(index, "aud", "auditor");
    some_work(slot, "k3");
    let report = assert_intact(index);
    assert!(
        report.contains("from an earlier initialisation, covered by checkpoint #"),
        "{report}"
    );
    assert!(report.contains("\nintact"), "{report}");

    // Record 3 was written under the first master key.
    let seq3 = sql(
        &audit_db(index),
        "SELECT CAST(body AS TEXT) FROM records WHERE seq = 3",
    );
    assert!(seq3.contains("\"token\":\"first\""), "{seq3}");
    sql(
        &audit_db(index),
        "UPDATE records SET body = CAST(replace(CAST(body AS TEXT), '\"token\":\"first\"', \
         '\"token\":\"forged\"') AS BLOB) WHERE seq = 3;",
    );
    let bad = verify(index);
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "an edited trail must not verify");
    assert!(msg.contains("record 3:"), "{msg}");
}

/// Dropping the newest records together with the checkpoints that covered them leaves a
/// trail that is valid on its own; the anchor kept in token.db catches it.
#[test]
fn a_tail_dropped_with_its_checkpoints_fails_verify() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "truncated");
    add_user(index, "aud", "auditor");
    some_work(slot, "k");
    assert_intact(index);
    let last: u64 = sql(&audit_db(index), "SELECT MAX(seq) FROM records")
        .trim()
        .parse()
        .unwrap();
    let cut = last - 4;
    sql(
        &audit_db(index),
        &format!(
            "DELETE FROM records WHERE seq > {cut}; DELETE FROM checkpoints WHERE seq > {cut};"
        ),
    );
    let bad = verify(index);
    let msg = String::from_utf8_lossy(&bad.stderr);
    assert!(!bad.status.success(), "a truncated trail must not verify");
    assert!(
        msg.contains("anchor in the token database") && msg.contains("NOT intact"),
        "{msg}"
    );
    // The auditor's own records chained onto the cut did not move the anchor: still failing.
    assert!(!verify(index).status.success());
}

fn label_of(s: &Session, o: ObjectHandle) -> Vec<u8> {
    match &s.get_attributes(o, &[AttributeType::Label]).unwrap()[..] {
        [Attribute::Label(l)] => l.clone(),
        other => panic!("{other:?}"),
    }
}

fn count(s: &Session) -> usize {
    s.find_objects(&[]).unwrap().len()
}

/// In a strict slot, create, copy, modify, generate and destroy are refused with
/// CKR_DEVICE_ERROR while the trail cannot be written, and none of them is kept.
#[test]
fn strict_slot_refuses_object_writes_it_cannot_record() {
    let slot = common::p11().get_all_slots().unwrap()[common::STRICT_SLOT];
    common::init_token(slot, "strict writes");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = common::token_hmac_key(&s, "kept");
    let before = count(&s);
    let db = common::slot_dir(common::STRICT_SLOT).join("audit.db");
    sql(
        &db,
        "CREATE TRIGGER refuse BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    );
    assert_rv(
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(vec![5; 32]),
            Attribute::Token(true),
            Attribute::Label(b"refused".to_vec()),
        ]),
        RvError::DeviceError,
    );
    assert_rv(
        s.generate_key(
            &Mechanism::AesKeyGen,
            &[Attribute::ValueLen(16.into()), Attribute::Token(true)],
        ),
        RvError::DeviceError,
    );
    assert_rv(
        s.copy_object(key, &[Attribute::Token(false)]),
        RvError::DeviceError,
    );
    assert_rv(
        s.update_attributes(key, &[Attribute::Label(b"renamed".to_vec())]),
        RvError::DeviceError,
    );
    assert_rv(s.destroy_object(key), RvError::DeviceError);
    assert_eq!(count(&s), before, "nothing made or destroyed");
    assert_eq!(label_of(&s, key), b"kept", "nothing changed");
    // Another process sees the same: nothing reached the store.
    sql(&db, "DROP TRIGGER refuse;");
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(count(&s), before);
    let refused = sql(
        &common::slot_dir(common::STRICT_SLOT).join("token.db"),
        "SELECT COUNT(*) FROM objects",
    );
    assert_eq!(
        refused.trim(),
        before.to_string(),
        "the store holds only the kept key"
    );
    s.destroy_object(key).expect("writable again");
}
