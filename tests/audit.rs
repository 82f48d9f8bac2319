//! The audit trail seen from outside: what a named operator and a refused key manager leave
//! in it, that no PIN reaches it, that the auditor's `keyward audit verify` catches tampering,
//! that several processes appending at once keep one chain, and that a strict slot refuses
//! an operation it cannot record.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::Attribute;
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;

use common::child::{child_context, run_child};
use common::trail::{add_user, export, sql, verify};
use common::{assert_rv, pin, SO_PIN, USER_PIN};

/// C_LoginUser as a named CKU_USER.
fn login_user(s: &Session, name: &str, pin: &str) -> CK_RV {
    common::login_user(s, CKU_USER, name, pin.as_bytes())
}

/// A named operator signs; a key manager's attempt is refused; both are in the trail with
/// user, role, object, mechanism and result, and no PIN is anywhere in the file.
#[test]
fn operations_and_denials_are_recorded_without_secrets() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "audited");
    for (n, r) in [
        ("km", "key-manager"),
        ("op", "operator"),
        ("aud", "auditor"),
    ] {
        add_user(index, n, r);
    }
    let s = common::p11().open_rw_session(slot).unwrap();
    assert_eq!(login_user(&s, "km", "km-pin-1"), CKR_OK);
    let key = common::token_hmac_key(&s, "audited-key");
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, key, b"data"),
        RvError::KeyFunctionNotPermitted,
    );
    s.logout().unwrap();
    assert_eq!(login_user(&s, "op", "op-pin-1"), CKR_OK);
    s.sign(&Mechanism::Sha256Hmac, key, b"data").unwrap();
    s.logout().unwrap();
    assert_eq!(login_user(&s, "op", "not-the-pin"), CKR_PIN_INCORRECT);

    let records = export(index);
    let find = |user: &str, op: &str, result: &str| {
        records
            .iter()
            .find(|r| r["user"] == user && r["operation"] == op && r["result"] == result)
    };
    let created = find("km", "create-object", "CKR_OK").expect("creation recorded");
    assert_eq!(created["object_label"], "audited-key");
    assert_eq!(created["role"], "key-manager");
    let denied = find("km", "sign", "CKR_KEY_FUNCTION_NOT_PERMITTED").expect("denial recorded");
    assert_eq!(denied["mechanism"], "CKM_SHA256_HMAC");
    let signed = find("op", "sign", "CKR_OK").expect("signature recorded");
    assert_eq!(signed["object_label"], "audited-key");
    assert_eq!(signed["role"], "operator");
    assert!(signed["pid"].as_u64().unwrap() > 0 && signed["seq"].as_u64().unwrap() > 1);
    let failed = records
        .iter()
        .find(|r| r["operation"] == "login" && r["result"] == "CKR_PIN_INCORRECT")
        .expect("failed login recorded");
    assert_eq!(failed["detail"], "as=op");
    assert_eq!(failed["user"], "op", "the name tried");
    assert_eq!(failed["role"], "");
    assert!(
        find("so", "user-add", "CKR_OK").is_some(),
        "the admin adding users"
    );

    let raw = std::fs::read(common::slot_dir(index).join("audit.db")).unwrap();
    let wal = std::fs::read(common::slot_dir(index).join("audit.db-wal")).unwrap_or_default();
    for secret in ["km-pin-1", "op-pin-1", "not-the-pin", USER_PIN, SO_PIN] {
        for bytes in [&raw, &wal] {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{secret} in the trail"
            );
        }
    }
    assert!(verify(index).status.success());
}

/// Editing, deleting or re-ordering a record is caught by `keyward audit verify`, which then
/// exits non-zero and names the first bad record; undone, the trail verifies again.
#[test]
fn verify_names_the_first_tampered_record() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "tampered");
    add_user(index, "aud", "auditor");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = common::token_hmac_key(&s, "k");
    for _ in 0..20 {
        s.sign(&Mechanism::Sha256Hmac, key, b"x").unwrap();
    }
    s.logout().unwrap();
    let ok = verify(index);
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let db = common::slot_dir(index).join("audit.db");
    let fails_at = |seq: u64, what: &str| {
        let bad = verify(index);
        let msg = String::from_utf8_lossy(&bad.stderr);
        assert!(!bad.status.success(), "{what}: must not verify");
        assert!(msg.contains(&format!("record {seq}:")), "{what}: {msg}");
    };
    let intact = |what: &str| {
        let out = verify(index);
        let msg = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{what} undone: {msg}");
    };
    // Edit: record 5 now names another token.
    sql(
        &db,
        "CREATE TABLE saved AS SELECT * FROM records WHERE seq IN (3, 4, 5, 7);",
    );
    sql(
        &db,
        "UPDATE records SET body = CAST(replace(CAST(body AS TEXT), '\"token\":\"tampered\"', \
         '\"token\":\"mallory\"') AS BLOB) WHERE seq = 5;",
    );
    fails_at(5, "edit");
    sql(
        &db,
        "UPDATE records SET body = (SELECT body FROM saved WHERE seq = 5) WHERE seq = 5;",
    );
    intact("edit");
    // Delete: record 7 is gone.
    sql(&db, "DELETE FROM records WHERE seq = 7;");
    fails_at(7, "delete");
    sql(
        &db,
        "INSERT INTO records SELECT * FROM saved WHERE seq = 7;",
    );
    intact("delete");
    // Reorder: records 3 and 4 swap places (each keeps its own hash and time).
    sql(
        &db,
        "UPDATE records SET body = (SELECT body FROM saved WHERE seq = 4), \
         time = (SELECT time FROM saved WHERE seq = 4), hash = (SELECT hash FROM saved WHERE seq = 4) \
         WHERE seq = 3; \
         UPDATE records SET body = (SELECT body FROM saved WHERE seq = 3), \
         time = (SELECT time FROM saved WHERE seq = 3), hash = (SELECT hash FROM saved WHERE seq = 3) \
         WHERE seq = 4;",
    );
    fails_at(3, "reorder");
    sql(
        &db,
        "DELETE FROM records WHERE seq IN (3, 4); \
         INSERT INTO records SELECT * FROM saved WHERE seq IN (3, 4); DROP TABLE saved;",
    );
    intact("reorder");
}

/// Several processes signing at once append to one gapless chain that verifies, and every
/// signature of each is in it.
#[test]
fn concurrent_processes_keep_one_chain() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "many writers");
    add_user(index, "aud", "auditor");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    common::token_hmac_key(&s, "shared");
    let children: Vec<_> = (0..3)
        .map(|_| std::thread::spawn(move || run_child("child_signs_50", "signer", index, "")))
        .collect();
    for c in children {
        c.join().expect("child");
    }
    let records = export(index);
    let seqs: Vec<u64> = records.iter().map(|r| r["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gapless");
    // Identical events waiting together are coalesced into one record with `count=N`
    // (docs/audit.md): the counts must add up to every signature.
    let signs: Vec<&serde_json::Value> = records
        .iter()
        .filter(|r| r["operation"] == "sign" && r["process"] != "keyward")
        .collect();
    let count = |r: &serde_json::Value| {
        r["detail"]
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .find_map(|w| w.strip_prefix("count="))
            .map_or(1, |n| n.parse::<u64>().unwrap())
    };
    assert_eq!(
        signs.iter().map(|r| count(r)).sum::<u64>(),
        150,
        "every signature of the three children"
    );
    let mut signers: Vec<u64> = signs.iter().map(|r| r["pid"].as_u64().unwrap()).collect();
    signers.sort_unstable();
    signers.dedup();
    assert_eq!(signers.len(), 3);
    assert!(verify(index).status.success());
}

/// Child: sign 50 times with the "shared" key, then exit without C_Finalize (the module
/// commits its queued records at exit).
#[test]
fn child_signs_50() {
    let Some((p11, slot, _)) = child_context("signer") else {
        return;
    };
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = s
        .find_objects(&[Attribute::Label(b"shared".to_vec())])
        .unwrap()[0];
    for _ in 0..50 {
        s.sign(&Mechanism::Sha256Hmac, key, b"m").unwrap();
    }
}

/// In a strict slot, an operation whose record cannot be written is refused; it works again
/// once the trail can be written.
#[test]
fn strict_slot_refuses_what_it_cannot_record() {
    let slot = common::p11().get_all_slots().unwrap()[common::STRICT_SLOT];
    common::init_token(slot, "strict");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = common::token_hmac_key(&s, "k");
    s.sign(&Mechanism::Sha256Hmac, key, b"x").unwrap();
    let db = common::slot_dir(common::STRICT_SLOT).join("audit.db");
    sql(
        &db,
        "CREATE TRIGGER refuse BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    );
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, key, b"x"),
        RvError::DeviceError,
    );
    sql(&db, "DROP TRIGGER refuse;");
    s.sign(&Mechanism::Sha256Hmac, key, b"x").unwrap();
}
