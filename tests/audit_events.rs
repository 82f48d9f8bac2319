//! Every kind of event, exported by the auditor as JSON lines through the CLI: operation,
//! user, role, object label, mechanism and result of each, with session, token, host, pid,
//! process and time filled. Also C_DigestKey (a key use of its own) and the records of
//! final calls that fail.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;
use serde_json::Value;

use common::trail::{add_user, assert_stamped, cli, export, ok};
use common::{assert_rv, pin, SO_PIN, USER_PIN};

const CKA_KW_STATE: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x01;
const KW_STATE_SUSPENDED: u64 = 3;

/// An AES token key for every use, non-sensitive and extractable (so it can be wrapped and
/// digested), with `label`.
fn aes_key(s: &Session, label: &str, value: u8) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![value; 16]),
        Attribute::Token(true),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Derive(true),
    ])
    .unwrap()
}

/// C_DigestInit(SHA-256), C_DigestKey(key), C_DigestFinal through the function list: the
/// C_DigestKey return value and, when it succeeded, the digest.
fn digest_key(s: &Session, key: CK_OBJECT_HANDLE, init: bool) -> (CK_RV, Option<Vec<u8>>) {
    let f = common::raw();
    let h = s.handle();
    let mut mech = CK_MECHANISM {
        mechanism: CKM_SHA256,
        pParameter: std::ptr::null_mut(),
        ulParameterLen: 0,
    };
    if init {
        // SAFETY: a session of the loaded module and a valid mechanism.
        let rv = unsafe { (f.C_DigestInit.unwrap())(h, &mut mech) };
        assert_eq!(rv, CKR_OK, "C_DigestInit");
    }
    // SAFETY: plain handles.
    let rv = unsafe { (f.C_DigestKey.unwrap())(h, key) };
    let mut out = [0u8; 32];
    let mut len = out.len() as CK_ULONG;
    // SAFETY: `out` has `len` bytes.
    let fin = unsafe { (f.C_DigestFinal.unwrap())(h, out.as_mut_ptr(), &mut len) };
    match rv {
        CKR_OK => {
            assert_eq!(fin, CKR_OK, "C_DigestFinal after C_DigestKey");
            (rv, Some(out[..len as usize].to_vec()))
        }
        _ => {
            assert_eq!(
                fin, CKR_OPERATION_NOT_INITIALIZED,
                "an error ends the digest"
            );
            (rv, None)
        }
    }
}

/// The one record of `op` about `label` with `result`; asserts it is stamped and by `who`.
#[track_caller]
fn record<'a>(
    records: &'a [Value],
    op: &str,
    label: &str,
    result: &str,
    (user, role): (&str, &str),
) -> &'a Value {
    let r = records
        .iter()
        .find(|r| {
            r["operation"] == op
                && r["object_label"] == label
                && r["result"] == result
                && r["user"] == user
                && r["role"] == role
        })
        .unwrap_or_else(|| panic!("no {op} {label} {result} by {user}/{role} in the trail"));
    assert_stamped(r);
    r
}

const USER: (&str, &str) = ("user", "user");
const SO: (&str, &str) = ("so", "admin");

/// Every object write, key use and login kind, done through the C ABI and the CLI, is in
/// the exported trail with the right fields.
#[test]
fn every_event_kind_is_in_the_export() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "events");
    for (n, r) in [
        ("aud", "auditor"),
        ("km", "key-manager"),
        ("tmp", "operator"),
    ] {
        add_user(index, n, r);
    }
    let so = [("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", "tmp-pin-2")];
    for args in [
        &["user", "passwd", "tmp"][..],
        &["user", "unlock", "tmp"],
        &["user", "mfa", "enable", "tmp"],
        &["user", "role", "tmp", "key-manager"],
        &["user", "remove", "tmp"],
    ] {
        ok(cli(index, args, &so));
    }

    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = aes_key(&s, "ev-aes", 7);
    let target = aes_key(&s, "ev-target", 9);
    let copy = s
        .copy_object(
            key,
            &[
                Attribute::Token(false),
                Attribute::Label(b"ev-copy".to_vec()),
            ],
        )
        .unwrap();
    s.update_attributes(copy, &[Attribute::Label(b"ev-copy2".to_vec())])
        .unwrap();
    let gen = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Token(true),
                Attribute::Label(b"ev-gen".to_vec()),
            ],
        )
        .unwrap();
    let mac = s.sign(&Mechanism::AesCMac, key, b"m").unwrap();
    s.verify(&Mechanism::AesCMac, key, b"m", &mac).unwrap();
    assert_rv(
        s.verify(&Mechanism::AesCMac, key, b"n", &mac),
        RvError::SignatureInvalid,
    );
    let mut iv = [3u8; 12];
    let ct = s
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
            key,
            b"plain",
        )
        .unwrap();
    let mut bad = ct.clone();
    bad[0] ^= 1;
    let tag_failure = s
        .decrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, &[], 128.into()).unwrap()),
            key,
            &bad,
        )
        .unwrap_err();
    let tag_failure = format!(
        "CKR_{}",
        snake(&format!("{:?}", common::rv_of(&tag_failure)))
    );
    let blob = s.wrap_key(&Mechanism::AesKeyWrap, key, target).unwrap();
    s.unwrap_key(
        &Mechanism::AesKeyWrap,
        key,
        &blob,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Label(b"ev-unwrapped".to_vec()),
        ],
    )
    .unwrap();
    let data = [1u8; 16];
    s.derive_key(
        &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &data)),
        key,
        &[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(16.into()),
            Attribute::Token(false),
            Attribute::Label(b"ev-derived".to_vec()),
        ],
    )
    .unwrap();
    assert_eq!(digest_key(&s, target.handle(), true).0, CKR_OK);
    s.update_attributes(
        gen,
        &[Attribute::VendorDefined((
            AttributeType::VendorDefined(CKA_KW_STATE),
            KW_STATE_SUSPENDED.to_ne_bytes().to_vec(),
        ))],
    )
    .unwrap();
    s.destroy_object(copy).unwrap();
    s.logout().unwrap();
    assert_eq!(common::login_user(&s, CKU_USER, "km", b"km-pin-1"), CKR_OK);
    assert_rv(
        s.sign(&Mechanism::AesCMac, key, b"m"),
        RvError::KeyFunctionNotPermitted,
    );
    s.logout().unwrap();
    assert_eq!(
        common::login_user(&s, CKU_USER, "km", b"wrong-pin"),
        CKR_PIN_INCORRECT
    );
    drop(s);

    let all = export(index);
    let by = |op: &str| all.iter().filter(|r| r["operation"] == op).count();
    let init = record(&all, "init-token", "", "CKR_OK", ("", ""));
    assert_eq!(init["detail"], "label=events");
    for (op, detail) in [
        ("user-add", "name=aud role=auditor"),
        ("user-passwd", "name=tmp"),
        ("user-unlock", "name=tmp"),
        ("user-mfa", "name=tmp"),
        ("user-role", "name=tmp role=key-manager"),
        ("user-remove", "name=tmp"),
    ] {
        let r = record(&all, op, "", "CKR_OK", SO);
        assert!(
            all.iter()
                .any(|r| r["operation"] == op && r["detail"] == detail),
            "{op}"
        );
        assert_eq!(r["process"], "keyward", "the CLI's own process");
    }
    let so_login = record(&all, "login", "", "CKR_OK", SO);
    assert_eq!(so_login["detail"], "as=so");
    record(&all, "login", "", "CKR_OK", USER);
    record(&all, "logout", "", "CKR_OK", USER);
    let failed = record(&all, "login", "", "CKR_PIN_INCORRECT", ("km", ""));
    assert_eq!(failed["detail"], "as=km");

    for (op, label) in [
        ("create-object", "ev-aes"),
        ("copy-object", "ev-copy"),
        ("set-attributes", "ev-copy2"),
        ("destroy-object", "ev-copy2"),
        ("unwrap-key", "ev-unwrapped"),
        ("derive-key", "ev-derived"),
        ("wrap-key", "ev-target"),
    ] {
        record(&all, op, label, "CKR_OK", USER);
    }
    assert_eq!(by("create-object"), 2, "one record per object made");
    let checks = [
        ("generate-key", "ev-gen", "CKM_AES_KEY_GEN", "CKR_OK"),
        ("sign", "ev-aes", "CKM_AES_CMAC", "CKR_OK"),
        ("verify", "ev-aes", "CKM_AES_CMAC", "CKR_OK"),
        ("verify", "ev-aes", "CKM_AES_CMAC", "CKR_SIGNATURE_INVALID"),
        ("encrypt", "ev-aes", "CKM_AES_GCM", "CKR_OK"),
        ("decrypt", "ev-aes", "CKM_AES_GCM", "CKR_OK"),
        ("decrypt", "ev-aes", "CKM_AES_GCM", tag_failure.as_str()),
        ("wrap", "ev-aes", "CKM_AES_KEY_WRAP", "CKR_OK"),
        ("unwrap", "ev-aes", "CKM_AES_KEY_WRAP", "CKR_OK"),
        ("derive", "ev-aes", "CKM_AES_CBC_ENCRYPT_DATA", "CKR_OK"),
        ("digest-key", "ev-target", "CKM_SHA256", "CKR_OK"),
    ];
    for (op, label, mech, result) in checks {
        let r = record(&all, op, label, result, USER);
        assert_eq!(r["mechanism"], mech, "{r}");
    }
    let failed_verify = record(&all, "verify", "ev-aes", "CKR_SIGNATURE_INVALID", USER);
    assert_eq!(failed_verify["detail"], "in=C_Verify");
    let state = record(&all, "state-change", "ev-gen", "CKR_OK", USER);
    assert!(
        state["detail"]
            .as_str()
            .unwrap()
            .starts_with("state=suspended"),
        "{state}"
    );
    let denied = record(
        &all,
        "sign",
        "ev-aes",
        "CKR_KEY_FUNCTION_NOT_PERMITTED",
        ("km", "key-manager"),
    );
    assert_eq!(denied["mechanism"], "CKM_AES_CMAC");
}

/// "EncryptedDataInvalid" → "ENCRYPTED_DATA_INVALID".
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// C_DigestKey continues a digest with a secret key's value (the digest equals SHA-256 of
/// the value), and refuses what it cannot or may not digest with the spec's codes.
#[test]
fn digest_key_digests_secret_keys_only() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "digest key");
    add_user(index, "km", "key-manager");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = aes_key(&s, "dk", 9);
    let (rv, digest) = digest_key(&s, key.handle(), true);
    assert_eq!(rv, CKR_OK);
    let want = s.digest(&Mechanism::Sha256, &[9u8; 16]).unwrap();
    assert_eq!(digest.unwrap(), want, "SHA-256 of the key value");

    assert_eq!(
        digest_key(&s, key.handle(), false).0,
        CKR_OPERATION_NOT_INITIALIZED
    );
    assert_eq!(digest_key(&s, 0xdead_beef, true).0, CKR_KEY_HANDLE_INVALID);
    let (public, _) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(common::hex("06082a8648ce3d030107"))],
            &[Attribute::Sign(true)],
        )
        .unwrap();
    assert_eq!(
        digest_key(&s, public.handle(), true).0,
        CKR_KEY_INDIGESTIBLE
    );
    let data = s
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Value(b"not a key".to_vec()),
        ])
        .unwrap();
    assert_eq!(
        digest_key(&s, data.handle(), true).0,
        CKR_KEY_HANDLE_INVALID
    );
    s.logout().unwrap();
    // A key use: a key manager may not.
    assert_eq!(common::login_user(&s, CKU_USER, "km", b"km-pin-1"), CKR_OK);
    assert_eq!(
        digest_key(&s, key.handle(), true).0,
        CKR_KEY_FUNCTION_NOT_PERMITTED
    );
}
