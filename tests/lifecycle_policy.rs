//! The token's own lifecycle policy: a due secret key rotates at its next protect operation
//! in a read-only session too (and for an operator, who may not create keys), recorded in the
//! audit trail as `rotate` plus the old version's `state-change`; usage counts are per version;
//! raising a usage limit is key management.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::{CKR_OK, CKU_USER};

use common::lifecycle::*;
use common::{assert_rv, pin, rotate_mechanism, SO_PIN, USER_PIN};

/// A token AES key that rotates every second.
fn rotating_key(s: &Session, label: &str) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![4; 32]),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
        vendor(CKA_KW_ROTATION_PERIOD, 1),
    ])
    .unwrap()
}

/// Add named user `name` with `role` (PIN "<name>-pin-1") as the SO, through the CLI.
fn add_user(index: usize, name: &str, role: &str) {
    let slot = index.to_string();
    let new_pin = format!("{name}-pin-1");
    let out = common::keyward_cli_output(
        &["--slot", &slot, "user", "add", name, "--role", role],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", &new_pin)],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// With no read/write session open at all, a due key rotates at its next protect operation
/// in a read-only session; the operation uses version 2; another process sees both versions.
/// A caller's own CKM_KW_ROTATE still needs a read/write session.
#[test]
fn a_due_key_rotates_in_a_read_only_session() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "read-only rotation");
    {
        let rw = common::p11().open_rw_session(slot).unwrap();
        rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        rotating_key(&rw, "ro-auto");
    } // closing the last session logs out
    let ro = common::p11().open_ro_session(slot).unwrap();
    ro.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let v1 = ro
        .find_objects(&[Attribute::Label(b"ro-auto".to_vec())])
        .unwrap()[0];
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let ct = ro.encrypt(&versioned_gcm(), v1, b"read-only").unwrap();
    assert_eq!(&ct[..8], b"KWG1\0\0\0\x02", "made by version 2");
    let versions = ro
        .find_objects(&[Attribute::Label(b"ro-auto".to_vec())])
        .unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(read(&ro, versions[0], CKA_KW_VERSION), 2);
    assert_eq!(read(&ro, v1, CKA_KW_STATE), DEACTIVATED);
    assert_eq!(ro.decrypt(&versioned_gcm(), v1, &ct).unwrap(), b"read-only");
    let report = cli_json(index, &["key", "show", "pkcs11:object=ro-auto"]);
    let states: Vec<&str> = report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["active", "deactivated"], "{report}");
    assert_rv(
        ro.generate_key(&rotate_mechanism(&versions[0].handle()), &[]),
        RvError::SessionReadOnly,
    );
}

/// Usage limits count per version: a rotation starts a new count. Raising a limit is key
/// management: the default user may, an operator (on its own session key) and a public session
/// (on a public token key) may not; anyone who may modify the key may lower it.
#[test]
fn usage_counts_per_version_and_raising_a_limit_needs_a_key_manager() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "usage limits");
    add_user(index, "op", "operator");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let hmac = |s: &Session, limit| {
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(vec![8; 32]),
            Attribute::Sign(true),
            vendor(CKA_KW_USAGE_LIMIT, limit),
        ])
        .unwrap()
    };
    let sign = |s: &Session, k| s.sign(&Mechanism::Sha256Hmac, k, b"count");
    let v1 = hmac(&s, 2);
    sign(&s, v1).unwrap();
    sign(&s, v1).unwrap();
    assert_rv(sign(&s, v1), RvError::KeyFunctionNotPermitted);
    let v2 = s
        .generate_key(&rotate_mechanism(&v1.handle()), &[])
        .unwrap();
    assert_eq!(read(&s, v2, CKA_KW_USAGE_LIMIT), 2, "the limit is kept");
    sign(&s, v2).unwrap();
    sign(&s, v2).unwrap();
    assert_rv(sign(&s, v2), RvError::KeyFunctionNotPermitted);
    let limit = |n| [vendor(CKA_KW_USAGE_LIMIT, n)];
    s.update_attributes(v2, &limit(3))
        .expect("the default user raises a limit");
    sign(&s, v2).unwrap();

    let (public, _) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::EcParams(common::hex("06082a8648ce3d030107")),
                Attribute::Token(true),
                Attribute::Encrypt(false),
                vendor(CKA_KW_USAGE_LIMIT, 5),
            ],
            &[Attribute::Sign(true)],
        )
        .unwrap();
    s.logout().unwrap();
    assert_rv(
        s.update_attributes(public, &limit(9)),
        RvError::UserNotLoggedIn,
    );
    assert_rv(
        s.update_attributes(public, &limit(0)),
        RvError::UserNotLoggedIn,
    );
    s.update_attributes(public, &limit(4))
        .expect("lowering is a modification");

    assert_eq!(common::login_user(&s, CKU_USER, "op", b"op-pin-1"), CKR_OK);
    let own = hmac(&s, 3);
    assert_rv(
        s.update_attributes(own, &limit(10)),
        RvError::ActionProhibited,
    );
    assert_rv(
        s.update_attributes(own, &limit(0)),
        RvError::ActionProhibited,
    );
    s.update_attributes(own, &limit(1))
        .expect("an operator may lower its own key's limit");
    assert_eq!(read(&s, own, CKA_KW_USAGE_LIMIT), 1);
}

/// The auditor's export of the trail, one JSON value per record.
fn export(index: usize) -> Vec<serde_json::Value> {
    let slot = index.to_string();
    let out = common::keyward_cli_output(
        &[
            "--slot", &slot, "--user", "aud", "audit", "export", "--format", "jsonl",
        ],
        &[("KEYWARD_PIN", "aud-pin-1")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

/// An automatic rotation (here at an operator's encryption in a read-only session) and an
/// explicit one are both recorded as one `rotate` of the new version plus a `state-change` of
/// the previous version to deactivated — no separate `generate-key`.
#[test]
fn rotations_are_audited_as_rotate_and_state_change() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "audited rotation");
    add_user(index, "op", "operator");
    add_user(index, "aud", "auditor");
    {
        let rw = common::p11().open_rw_session(slot).unwrap();
        rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        rotating_key(&rw, "audited-rot");
    }
    {
        let ro = common::p11().open_ro_session(slot).unwrap();
        assert_eq!(common::login_user(&ro, CKU_USER, "op", b"op-pin-1"), CKR_OK);
        let v1 = ro
            .find_objects(&[Attribute::Label(b"audited-rot".to_vec())])
            .unwrap()[0];
        std::thread::sleep(std::time::Duration::from_millis(1100));
        let ct = ro.encrypt(&versioned_gcm(), v1, b"op data").unwrap();
        assert_eq!(&ct[..8], b"KWG1\0\0\0\x02");
        ro.logout().unwrap();
    }
    {
        let rw = common::p11().open_rw_session(slot).unwrap();
        rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        let v2 = rw
            .find_objects(&[Attribute::Label(b"audited-rot".to_vec())])
            .unwrap()[0];
        rw.generate_key(&rotate_mechanism(&v2.handle()), &[])
            .unwrap();
        rw.logout().unwrap();
    }
    let records: Vec<serde_json::Value> = export(index)
        .into_iter()
        .filter(|r| r["object_label"] == "audited-rot")
        .collect();
    let find = |op: &str, version: u64| {
        records
            .iter()
            .find(|r| r["operation"] == op && r["object_version"] == version)
            .unwrap_or_else(|| panic!("no {op} of version {version}: {records:#?}"))
    };
    let auto = find("rotate", 2);
    assert_eq!(
        (auto["user"].as_str(), auto["role"].as_str()),
        (Some("op"), Some("operator"))
    );
    assert_eq!(
        (auto["result"].as_str(), auto["mechanism"].as_str()),
        (Some("CKR_OK"), Some("CKM_KW_ROTATE"))
    );
    let old = find("state-change", 1);
    let detail = old["detail"].as_str().unwrap();
    assert!(
        detail.contains("state=deactivated") && detail.contains("rotated-to=2"),
        "{old}"
    );
    assert_eq!(old["result"], "CKR_OK");
    assert_eq!(find("encrypt", 2)["result"], "CKR_OK");
    let explicit = find("rotate", 3);
    assert_eq!(explicit["user"], "user");
    assert!(find("state-change", 2)["detail"]
        .as_str()
        .unwrap()
        .contains("rotated-to=3"));
    assert!(
        !records.iter().any(|r| r["operation"] == "generate-key"),
        "a rotation is one rotate record: {records:#?}"
    );
}
