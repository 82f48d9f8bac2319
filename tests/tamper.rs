//! Tamper evidence of the token store, from outside: an object whose sealed part (which holds
//! CKA_EXTRACTABLE, CKA_SENSITIVE, usage flags, state …) or whose clear CKA_PRIVATE was edited
//! in the file is left out of the token by a fresh process
//! (never usable or readable), recorded in the audit trail (`integrity-failure`, once per
//! object) and named by `keyward store verify`, which exits non-zero; bytes
//! flipped in the middle of the database file are reported, never a crash.
mod common;

use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;

use common::{pin, USER_PIN};

/// `keyward --slot INDEX store verify --json` with the user PIN.
fn verify(index: usize) -> (bool, serde_json::Value, String) {
    let slot = index.to_string();
    let out = common::keyward_cli_output(
        &["--slot", slot.as_str(), "store", "verify", "--json"],
        &[("KEYWARD_PIN", USER_PIN)],
    );
    assert!(
        out.status.code().is_some(),
        "keyward was killed by a signal: {out:?}"
    );
    let report = serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
    (
        out.status.success(),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Run SQL on the token database from another process (python3's sqlite3): a second copy of
/// SQLite in this process would break the module's WAL locking.
fn python(db: &std::path::Path, script: &str) {
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .arg(db)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn secret_key(s: &cryptoki::session::Session, label: &str) -> String {
    let h = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![9; 32]),
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Label(label.as_bytes().to_vec()),
        ])
        .unwrap();
    let attrs = s
        .get_attributes(h, &[cryptoki::object::AttributeType::UniqueId])
        .unwrap();
    match attrs.first() {
        Some(Attribute::UniqueId(uid)) => String::from_utf8(uid.clone()).unwrap(),
        other => panic!("no CKA_UNIQUE_ID: {other:?}"),
    }
}

#[test]
fn edited_objects_are_refused_and_reported() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "tamper");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let sealed = secret_key(&s, "sealed-edited");
    let clear = secret_key(&s, "clear-edited");
    let _untouched = secret_key(&s, "untouched");
    s.logout().unwrap();
    common::trail::add_user(index, "aud", "auditor");

    let (ok, report, err) = verify(index);
    assert!(ok, "{err}");
    assert_eq!(report["intact"], 3, "{report}");

    let db = common::slot_dir(index).join("token.db");
    // A byte of the sealed part flipped; in the other object's clear attributes (a CBOR map
    // of CKA_CLASS, CKA_TOKEN, CKA_PRIVATE), CKA_PRIVATE (key 2, a one-byte string) turned off
    // to make a private key public.
    python(
        &db,
        &format!(
            "import sqlite3,sys\n\
             c=sqlite3.connect(sys.argv[1])\n\
             b=bytearray(c.execute('select sealed from objects where uid=?',('{sealed}',)).fetchone()[0])\n\
             b[len(b)//2]^=1\n\
             c.execute('update objects set sealed=? where uid=?',(bytes(b),'{sealed}'))\n\
             b=bytearray(c.execute('select clear from objects where uid=?',('{clear}',)).fetchone()[0])\n\
             i=bytes(b).rindex(b'\\x02\\x41\\x01')+2\n\
             b[i]=0\n\
             c.execute('update objects set clear=? where uid=?',(bytes(b),'{clear}'))\n\
             c.commit()\n"
        ),
    );

    let (ok, report, _) = verify(index);
    assert!(!ok, "a tampered store verified: {report}");
    assert_eq!(report["intact"], 1, "{report}");
    let failed: Vec<&str> = report["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(
        failed.contains(&sealed.as_str()) && failed.contains(&clear.as_str()),
        "{report}"
    );

    // A fresh process (the CLI) lists the untouched key only: the edited ones are unusable.
    let slot_arg = index.to_string();
    let keys = common::keyward_cli(
        &["--slot", slot_arg.as_str(), "keys", "--json"],
        &[("KEYWARD_PIN", USER_PIN)],
    );
    assert!(keys.contains("untouched"), "{keys}");
    assert!(
        !keys.contains("sealed-edited") && !keys.contains("clear-edited"),
        "an edited key is still listed: {keys}"
    );
    // Each process recorded each edited object, by uid, as CKR_DEVICE_ERROR, once.
    common::keyward_cli(
        &["--slot", slot_arg.as_str(), "keys", "--json"],
        &[("KEYWARD_PIN", USER_PIN)],
    );
    let records = common::trail::export(index);
    let refused: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["operation"] == "integrity-failure")
        .collect();
    for uid in [&sealed, &clear] {
        let mine: Vec<_> = refused
            .iter()
            .filter(|r| r["object_uid"] == **uid)
            .collect();
        assert!(
            !mine.is_empty(),
            "no integrity-failure record for {uid}: {refused:?}"
        );
        assert_eq!(mine[0]["result"], "CKR_DEVICE_ERROR", "{:?}", mine[0]);
        // Every process that loaded the token (store verify, the two listings, the export)
        // recorded it once: as many records as distinct processes, at least three.
        let mut pids: Vec<u64> = mine.iter().map(|r| r["pid"].as_u64().unwrap()).collect();
        pids.sort_unstable();
        pids.dedup();
        assert!(
            mine.len() >= 3 && pids.len() == mine.len(),
            "{uid} not recorded once per process: {mine:?}"
        );
    }
    assert!(
        refused
            .iter()
            .all(|r| r["object_uid"] == *sealed || r["object_uid"] == *clear),
        "an untouched object was reported: {refused:?}"
    );
}

#[test]
fn a_damaged_database_file_is_reported_not_fatal() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "damaged");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    for i in 0..40 {
        secret_key(&s, &format!("key-{i}"));
    }
    s.logout().unwrap();
    drop(s);
    let db = common::slot_dir(index).join("token.db");
    // Fold the WAL into the file first (until no writer holds it back: the module's audit
    // flusher may still be moving the trail's anchor in token.db after the logout), then flip
    // bytes across the last two thirds of the pages: the objects' pages come after the root
    // pages of every table, so flips limited to the middle third can land only in the unused
    // space of empty tables' root pages, which no check can see.
    python(
        &db,
        "import sqlite3,sys,time\n\
         c=sqlite3.connect(sys.argv[1], timeout=10)\n\
         while c.execute('pragma wal_checkpoint(TRUNCATE)').fetchone()[0]: time.sleep(0.05)\n\
         c.close()\n\
         f=open(sys.argv[1],'r+b'); d=bytearray(f.read())\n\
         for i in range(len(d)//3, len(d), 97): d[i]^=0x5a\n\
         f.seek(0); f.write(d); f.close()\n",
    );
    let (ok, report, err) = verify(index);
    assert!(!ok, "a damaged store verified: {report} {err}");
}
