//! The lifecycle commands of the `keyward` CLI (a separate process) against tokens this
//! process uses through the module: state changes on a rotated key (each version that can take
//! the change takes it, the others are left alone, nothing changes if none can), every
//! revocation reason, activation and deactivation, `key list --json`, `key rotate` of a secret
//! key, `rotate --due` on a key pair with `--public-key-dir`, and what rotation keeps.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::types::Date;
use cryptoki_sys::CK_ULONG;

use common::lifecycle::*;
use common::{assert_rv, rotate_mechanism};

const MSG: &[u8] = b"cli lifecycle";

/// A token HMAC key labelled `label` (sign = protect, verify = process), with `extra`.
fn token_mac(s: &Session, label: &str, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(vec![3; 32]),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Token(true),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    t.extend_from_slice(extra);
    s.create_object(&t).expect("create HMAC key")
}

/// (version, state, reason) of every version in `key show --json`, oldest first.
fn versions(index: usize, uri: &str) -> Vec<(u64, String, u64)> {
    let report = cli_json(index, &["key", "show", uri]);
    let mut v: Vec<(u64, String, u64)> = report["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["version"].as_u64().unwrap(),
                r["state"].as_str().unwrap().to_owned(),
                r["revocation_reason"].as_u64().unwrap(),
            )
        })
        .collect();
    v.sort();
    v
}

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// After a rotation (by the CLI) the URI names two versions: suspend, resume, deactivate and
/// revoke change the versions they apply to and leave the deactivated old one; a change that
/// applies to no version fails, names the states, and changes nothing.
#[test]
fn state_changes_after_a_rotation_apply_to_the_versions_that_can_take_them() {
    let (s, index) = token_session("cli after rotation");
    let uri = "pkcs11:object=rotated";
    let v1 = token_mac(&s, "rotated", &[]);
    let tag1 = s.sign(&Mechanism::Sha256Hmac, v1, MSG).unwrap();
    let out = cli(index, &["key", "rotate", uri]);
    assert!(
        out.contains("rotated secret key") && out.contains("version 2"),
        "{out}"
    );
    let v2 = s
        .find_objects(&[Attribute::Label(b"rotated".to_vec())])
        .unwrap()[0];
    assert_eq!(read(&s, v2, CKA_KW_VERSION), 2);
    s.sign(&Mechanism::Sha256Hmac, v2, MSG).unwrap();
    let d = |v: u64, st: &str, r: u64| (v, st.to_owned(), r);

    let out = cli(index, &["key", "suspend", uri]);
    assert!(
        out.contains("suspended version 2 secret: active -> suspended"),
        "{out}"
    );
    assert!(
        out.contains("unchanged version 1 secret (deactivated)"),
        "{out}"
    );
    assert_eq!(
        versions(index, uri),
        [d(1, "deactivated", 5), d(2, "suspended", 0)]
    );
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, v2, MSG),
        RvError::KeyFunctionNotPermitted,
    );

    for (command, states) in [
        ("suspend", "version 2 secret (suspended)"),
        ("activate", "version 1 secret (deactivated)"),
    ] {
        let out = cli_output(index, &["key", command, uri]);
        assert!(
            !out.status.success(),
            "{command} applied to nothing, yet succeeded"
        );
        let err = stderr(&out);
        assert!(
            err.contains("no version can be") && err.contains(states),
            "{err}"
        );
        assert!(err.contains("nothing changed"), "{err}");
        assert_eq!(
            versions(index, uri),
            [d(1, "deactivated", 5), d(2, "suspended", 0)]
        );
    }

    cli(index, &["key", "resume", uri]);
    assert_eq!(
        versions(index, uri),
        [d(1, "deactivated", 5), d(2, "active", 0)]
    );
    let tag2 = s.sign(&Mechanism::Sha256Hmac, v2, MSG).unwrap();

    let out = cli(index, &["key", "deactivate", uri]);
    assert!(
        out.contains("deactivated version 2 secret: active -> deactivated"),
        "{out}"
    );
    assert_eq!(
        versions(index, uri),
        [d(1, "deactivated", 5), d(2, "deactivated", 0)]
    );
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, v2, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    s.verify(&Mechanism::Sha256Hmac, v2, MSG, &tag2).unwrap();
    s.verify(&Mechanism::Sha256Hmac, v1, MSG, &tag1).unwrap();

    // Non-compromise revocation of deactivated versions records the reason on both.
    cli(
        index,
        &["key", "revoke", uri, "--reason", "privilege-withdrawn"],
    );
    assert_eq!(
        versions(index, uri),
        [d(1, "deactivated", 7), d(2, "deactivated", 7)]
    );
    cli(index, &["key", "revoke", uri, "--reason", "ca-compromise"]);
    assert_eq!(
        versions(index, uri),
        [d(1, "compromised", 3), d(2, "compromised", 3)]
    );
    let out = cli_output(index, &["key", "revoke", uri, "--reason", "superseded"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("version 1 secret (compromised)"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        versions(index, uri),
        [d(1, "compromised", 3), d(2, "compromised", 3)]
    );
}

/// Every revocation reason from the CLI: the two compromise reasons make a key compromised,
/// the five others deactivated; `key show --json` reports the reason and when it was set, and
/// a later revocation with another reason is recorded and dated although the state stays.
#[test]
fn every_revocation_reason_from_the_cli() {
    let (s, index) = token_session("cli reasons");
    let reasons = [
        ("unspecified", 1, "deactivated"),
        ("key-compromise", 2, "compromised"),
        ("ca-compromise", 3, "compromised"),
        ("affiliation-changed", 4, "deactivated"),
        ("superseded", 5, "deactivated"),
        ("cessation-of-operation", 6, "deactivated"),
        ("privilege-withdrawn", 7, "deactivated"),
    ];
    let before = now();
    for (name, code, state) in reasons {
        let key = token_mac(&s, name, &[]);
        let uri = format!("pkcs11:object={name}");
        cli(index, &["key", "revoke", &uri, "--reason", name]);
        let report = cli_json(index, &["key", "show", &uri]);
        let v = &report["versions"][0];
        assert_eq!(v["state"], state, "{name}: {report}");
        assert_eq!(v["revocation_reason"], code, "{name}: {report}");
        let at = v["state_changed"].as_u64().unwrap();
        assert!(at >= before && at <= now(), "{name}: revoked at {at}");
        assert_eq!(read(&s, key, CKA_KW_REVOCATION_REASON), code as CK_ULONG);
        assert_rv(
            s.sign(&Mechanism::Sha256Hmac, key, MSG),
            RvError::KeyFunctionNotPermitted,
        );
    }
    let uri = "pkcs11:object=unspecified";
    let first = cli_json(index, &["key", "show", uri])["versions"][0]["state_changed"]
        .as_u64()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    cli(
        index,
        &["key", "revoke", uri, "--reason", "affiliation-changed"],
    );
    let v = &cli_json(index, &["key", "show", uri])["versions"][0];
    assert_eq!(
        (v["state"].as_str(), v["revocation_reason"].as_u64()),
        (Some("deactivated"), Some(4))
    );
    assert!(
        v["state_changed"].as_u64().unwrap() > first,
        "the new reason is dated: {v}"
    );
    let out = cli_output(index, &["key", "revoke", uri, "--reason", "no-such-reason"]);
    assert!(!out.status.success() && stderr(&out).contains("unknown revocation reason"));
}

/// `key activate` of a pre-active key, and the lifecycle fields of `key list --json`.
#[test]
fn activate_a_pre_active_key_and_list_lifecycle_fields() {
    let (s, index) = token_session("cli activate");
    let key = token_mac(
        &s,
        "waiting",
        &[
            vendor(CKA_KW_STATE, PRE_ACTIVE),
            vendor(CKA_KW_USAGE_LIMIT, 5),
            vendor(CKA_KW_ROTATION_PERIOD, 86_400),
            Attribute::Id(vec![0xab]),
            Attribute::EndDate(Date::new_from_str_slice("2099", "12", "31").unwrap()),
        ],
    );
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, key, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    let row = |list: &serde_json::Value| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["label"] == "waiting")
            .cloned()
            .expect("the key is listed")
    };
    let r = row(&cli_json(index, &["key", "list"]));
    assert_eq!(
        (r["state"].as_str(), r["version"].as_u64()),
        (Some("pre-active"), Some(1))
    );
    let out = cli(index, &["key", "activate", "pkcs11:object=waiting"]);
    assert!(
        out.contains("activated version 1 secret: pre-active -> active"),
        "{out}"
    );
    s.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();
    s.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();

    let r = row(&cli_json(index, &["key", "list"]));
    let created = read(&s, key, CKA_KW_CREATED) as u64;
    let key_id: String = read_bytes(&s, key, CKA_KW_KEY_ID)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(r["state"], "active", "{r}");
    assert_eq!(r["version"], 1, "{r}");
    assert_eq!(r["id"], "ab", "{r}");
    assert_eq!(r["key_id"], key_id, "{r}");
    assert_eq!(r["created"], created, "{r}");
    assert!(r["state_changed"].as_u64().unwrap() >= created, "{r}");
    assert_eq!(
        (r["uses"].as_u64(), r["usage_limit"].as_u64()),
        (Some(2), Some(5)),
        "{r}"
    );
    assert_eq!(r["rotation_period"], 86_400, "{r}");
    assert_eq!(
        (r["start_date"].as_str(), r["end_date"].as_str()),
        (Some(""), Some("20991231"))
    );
    assert!(r["revocation_reason"].is_null(), "{r}");
    let text = cli(index, &["key", "list"]);
    assert!(
        text.lines()
            .any(|l| l.starts_with("waiting") && l.contains("active") && l.contains("2/5")),
        "{text}"
    );
}

/// The token's CKA_EC_POINT of `key`, without its DER OCTET STRING header.
fn raw_point(s: &Session, key: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(key, &[AttributeType::EcPoint])
        .unwrap()
        .as_slice()
    {
        [Attribute::EcPoint(p)] => p[2..].to_vec(),
        other => panic!("CKA_EC_POINT: {other:?}"),
    }
}

/// Decode the base64 body of a PEM file.
fn pem_der(text: &str) -> Vec<u8> {
    let b64: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import base64,sys; sys.stdout.buffer.write(base64.b64decode(sys.argv[1]))",
        ])
        .arg(b64)
        .output()
        .expect("python3");
    out.stdout
}

/// `keyward rotate --due --public-key-dir DIR` rotates a due key pair, says so in its text
/// output, and writes the new version's public key, the one the token now has.
#[test]
fn rotate_due_rotates_a_key_pair_and_writes_its_public_key() {
    let (s, index) = token_session("cli rotate due pair");
    let label = Attribute::Label(b"tls/edge 1".to_vec());
    let period = vendor(CKA_KW_ROTATION_PERIOD, 2);
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::EcParams(common::hex("06082a8648ce3d030107")),
            Attribute::Token(true),
            label.clone(),
            period.clone(),
        ],
        &[
            Attribute::Token(true),
            Attribute::Sign(true),
            label.clone(),
            period,
        ],
    )
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let dir_arg = dir.path().to_str().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = cli(index, &["rotate", "--due", "--public-key-dir", dir_arg]);
    let file = dir.path().join("tls_edge_1.v2.pub.pem");
    assert!(
        out.contains("rotated key pair \"tls/edge 1\": version 2 is now current"),
        "{out}"
    );
    assert!(
        out.contains(&format!("new public key: {}", file.display())),
        "{out}"
    );
    let public = s
        .find_objects(&[label, Attribute::Class(ObjectClass::PUBLIC_KEY)])
        .unwrap();
    assert_eq!(read(&s, public[0], CKA_KW_VERSION), 2);
    let der = pem_der(&std::fs::read_to_string(&file).expect("the public key file"));
    let point = raw_point(&s, public[0]);
    assert!(der.ends_with(&point), "the file holds the new public key");
    assert_ne!(raw_point(&s, public[1]), point, "not the old one");
    // Version 2 keeps the 2-second period: give it a long one so that the next run, however
    // slow, finds nothing due.
    let private = s
        .find_objects(&[
            Attribute::Label(b"tls/edge 1".to_vec()),
            Attribute::Class(ObjectClass::PRIVATE_KEY),
        ])
        .unwrap()[0];
    assert_eq!(read(&s, private, CKA_KW_ROTATION_PERIOD), 2);
    s.update_attributes(private, &[vendor(CKA_KW_ROTATION_PERIOD, 3600)])
        .unwrap();
    let none = cli(index, &["rotate", "--due"]);
    assert!(none.contains("no key is due"), "{none}");
}

/// What a rotation keeps: label, CKA_ID, usage flags, validity dates, sensitivity, ACL,
/// usage limit and rotation period — for a secret key and both halves of a key pair.
#[test]
fn rotation_keeps_attributes_and_policy() {
    let (s, _) = token_session("rotation keeps");
    let start = Date::new_from_str_slice("2020", "01", "01").unwrap();
    let end = Date::new_from_str_slice("2099", "12", "31").unwrap();
    let policy = [
        Attribute::Token(true),
        Attribute::Label(b"kept".to_vec()),
        Attribute::Id(vec![7, 7]),
        Attribute::StartDate(start),
        Attribute::EndDate(end),
        vendor_bytes(CKA_KW_ACL, b"role:operator=encrypt,sign"),
        vendor(CKA_KW_USAGE_LIMIT, 1000),
        vendor(CKA_KW_ROTATION_PERIOD, 7200),
    ];
    let mut secret_t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![1; 32]),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(false),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
    ];
    secret_t.extend_from_slice(&policy);
    let v1 = s.create_object(&secret_t).unwrap();
    let v2 = s
        .generate_key(&rotate_mechanism(&v1.handle()), &[])
        .unwrap();
    assert_kept(&s, v1, v2);

    let (pub1, priv1) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                &[
                    Attribute::EcParams(common::hex("06082a8648ce3d030107")),
                    Attribute::Verify(true),
                ],
                &policy[..],
            ]
            .concat(),
            &[
                &[Attribute::Sign(true), Attribute::Derive(false)],
                &policy[..],
            ]
            .concat(),
        )
        .unwrap();
    let (pub2, priv2) = s
        .generate_key_pair(&rotate_mechanism(&priv1.handle()), &[], &[])
        .unwrap();
    assert_kept(&s, pub1, pub2);
    assert_kept(&s, priv1, priv2);
}

fn assert_kept(s: &Session, old: ObjectHandle, new: ObjectHandle) {
    let mut types = vec![
        AttributeType::Label,
        AttributeType::Id,
        AttributeType::StartDate,
        AttributeType::EndDate,
        AttributeType::KeyType,
    ];
    let class = s.get_attributes(old, &[AttributeType::Class]).unwrap();
    let usage: &[AttributeType] = match class.as_slice() {
        [Attribute::Class(ObjectClass::PUBLIC_KEY)] => {
            &[AttributeType::Verify, AttributeType::Encrypt]
        }
        [Attribute::Class(ObjectClass::PRIVATE_KEY)] => &[
            AttributeType::Sign,
            AttributeType::Derive,
            AttributeType::Sensitive,
        ],
        _ => &[
            AttributeType::Encrypt,
            AttributeType::Decrypt,
            AttributeType::Wrap,
            AttributeType::Sensitive,
            AttributeType::Extractable,
        ],
    };
    types.extend_from_slice(usage);
    for ty in [CKA_KW_ACL, CKA_KW_USAGE_LIMIT, CKA_KW_ROTATION_PERIOD] {
        types.push(AttributeType::VendorDefined(ty));
    }
    let (a, b) = (
        s.get_attributes(old, &types).unwrap(),
        s.get_attributes(new, &types).unwrap(),
    );
    assert_eq!(a.len(), types.len(), "{a:?}");
    assert_eq!(
        format!("{a:?}"),
        format!("{b:?}"),
        "the new version keeps them"
    );
    assert_eq!(read(s, new, CKA_KW_VERSION), 2);
    assert_eq!(read(s, new, CKA_KW_STATE), ACTIVE);
    assert_eq!(read(s, old, CKA_KW_STATE), DEACTIVATED);
    assert_eq!(
        read_bytes(s, old, CKA_KW_ACL),
        b"role:operator=encrypt,sign"
    );
}
