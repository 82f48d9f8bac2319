//! Key lifecycle through plain PKCS#11: the vendor state attribute, its transitions, what each
//! state allows, validity dates, usage limits, and a change made by another process taking
//! effect at this process's next operation.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::Date;
use cryptoki_sys::CK_ULONG;

use common::child::{child_context, run_child, run_child_output};
use common::{assert_rv, pin, user_session, USER_PIN};

/// Mirrors of include/keyward.h.
const CKA_KW_STATE: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x01;
const CKA_KW_STATE_CHANGED: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x02;
const CKA_KW_USAGE_LIMIT: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x04;
const PRE_ACTIVE: CK_ULONG = 1;
const ACTIVE: CK_ULONG = 2;
const SUSPENDED: CK_ULONG = 3;
const DEACTIVATED: CK_ULONG = 4;
const COMPROMISED: CK_ULONG = 5;
const DESTROYED: CK_ULONG = 6;

fn vendor(ty: CK_ULONG, v: CK_ULONG) -> Attribute {
    let ty = AttributeType::VendorDefined(ty);
    Attribute::VendorDefined((ty, v.to_ne_bytes().to_vec()))
}

fn read(s: &Session, key: ObjectHandle, ty: CK_ULONG) -> CK_ULONG {
    match s
        .get_attributes(key, &[AttributeType::VendorDefined(ty)])
        .unwrap()
        .as_slice()
    {
        [Attribute::VendorDefined((_, v))] => CK_ULONG::from_ne_bytes(v[..8].try_into().unwrap()),
        other => panic!("vendor attribute 0x{ty:x}: {other:?}"),
    }
}

fn set_state(s: &Session, key: ObjectHandle, state: CK_ULONG) -> cryptoki::error::Result<()> {
    s.update_attributes(key, &[vendor(CKA_KW_STATE, state)])
}

/// An HMAC key (sign = protect, verify = process), with `extra` attributes.
fn mac_key(s: &Session, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(vec![3; 32]),
        Attribute::Sign(true),
        Attribute::Verify(true),
    ];
    t.extend_from_slice(extra);
    s.create_object(&t).expect("create HMAC key")
}

const MSG: &[u8] = b"lifecycle";

/// (may sign, may verify) with `key` right now.
fn uses(s: &Session, key: ObjectHandle, tag: &[u8]) -> (bool, bool) {
    let signs = s.sign(&Mechanism::Sha256Hmac, key, MSG).is_ok();
    let verifies = match s.verify(&Mechanism::Sha256Hmac, key, MSG, tag) {
        Ok(()) => true,
        Err(e) => {
            assert_eq!(common::rv_of(&e), RvError::KeyFunctionNotPermitted);
            false
        }
    };
    (signs, verifies)
}

#[test]
fn each_state_allows_what_the_lifecycle_says() {
    let s = user_session();
    let key = mac_key(&s, &[]);
    assert_eq!(read(&s, key, CKA_KW_STATE), ACTIVE, "keys start active");
    assert!(read(&s, key, CKA_KW_STATE_CHANGED) > 1_700_000_000);
    let tag = s.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();
    assert_eq!(uses(&s, key, &tag), (true, true));
    set_state(&s, key, SUSPENDED).unwrap();
    assert_eq!(uses(&s, key, &tag), (false, true), "suspended");
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, key, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    set_state(&s, key, ACTIVE).unwrap();
    assert_eq!(uses(&s, key, &tag), (true, true), "resumed");
    set_state(&s, key, DEACTIVATED).unwrap();
    assert_eq!(uses(&s, key, &tag), (false, true), "deactivated");
    assert_rv(set_state(&s, key, ACTIVE), RvError::AttributeValueInvalid);
    set_state(&s, key, COMPROMISED).unwrap();
    assert_eq!(uses(&s, key, &tag), (false, false), "compromised");
    assert_rv(
        set_state(&s, key, DEACTIVATED),
        RvError::AttributeValueInvalid,
    );
    assert_rv(
        set_state(&s, key, DESTROYED),
        RvError::AttributeValueInvalid,
    );
    assert_eq!(read(&s, key, CKA_KW_STATE), COMPROMISED);
}

#[test]
fn pre_active_keys_wait_for_activation_and_creation_states_are_limited() {
    let s = user_session();
    let key = mac_key(&s, &[vendor(CKA_KW_STATE, PRE_ACTIVE)]);
    assert_eq!(uses(&s, key, &[0; 32]), (false, false));
    set_state(&s, key, ACTIVE).unwrap();
    assert!(s.sign(&Mechanism::Sha256Hmac, key, MSG).is_ok());
    for bad in [SUSPENDED, DEACTIVATED, COMPROMISED, DESTROYED, 0, 99] {
        let t = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(vec![3; 32]),
            vendor(CKA_KW_STATE, bad),
        ];
        assert_rv(s.create_object(&t), RvError::AttributeValueInvalid);
    }
}

#[test]
fn validity_dates_bound_protection_not_processing() {
    let s = user_session();
    let today = time::OffsetDateTime::now_utc().date();
    let date = |d: time::Date| {
        let (y, m, dd) = (
            format!("{:04}", d.year()),
            format!("{:02}", u8::from(d.month())),
            format!("{:02}", d.day()),
        );
        Date::new_from_str_slice(&y, &m, &dd).unwrap()
    };
    let tomorrow = date(today.next_day().unwrap());
    let yesterday = date(today.previous_day().unwrap());
    let tag = s
        .sign(&Mechanism::Sha256Hmac, mac_key(&s, &[]), MSG)
        .unwrap();
    let future = mac_key(&s, &[Attribute::StartDate(tomorrow)]);
    assert_eq!(uses(&s, future, &tag), (false, true), "not yet valid");
    let expired = mac_key(&s, &[Attribute::EndDate(yesterday)]);
    assert_eq!(uses(&s, expired, &tag), (false, true), "expired");
    let current = mac_key(
        &s,
        &[
            Attribute::StartDate(yesterday),
            Attribute::EndDate(tomorrow),
        ],
    );
    assert_eq!(uses(&s, current, &tag), (true, true), "in its window");
}

#[test]
fn an_unmodifiable_key_can_still_be_revoked() {
    let s = user_session();
    let key = mac_key(&s, &[Attribute::Modifiable(false)]);
    assert_rv(
        s.update_attributes(key, &[Attribute::Label(b"x".to_vec())]),
        RvError::ActionProhibited,
    );
    set_state(&s, key, DEACTIVATED).unwrap();
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, key, MSG),
        RvError::KeyFunctionNotPermitted,
    );
}

#[test]
fn usage_limits_count_protect_operations_only() {
    let s = user_session();
    let key = mac_key(&s, &[vendor(CKA_KW_USAGE_LIMIT, 3)]);
    let tag = s.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();
    for _ in 0..2 {
        s.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();
    }
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, key, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    for _ in 0..5 {
        s.verify(&Mechanism::Sha256Hmac, key, MSG, &tag).unwrap();
    }
}

/// A session that uses one key again and again (Keyward then reuses its last grant of that
/// use) sees a change made from another session of this process at its very next operation:
/// a suspension, a resumption, a destruction.
#[test]
fn another_sessions_change_applies_at_the_next_operation() {
    let (slot, _) = common::fresh_token();
    let a = common::p11().open_rw_session(slot).unwrap();
    a.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let b = common::p11().open_rw_session(slot).unwrap();
    let key = mac_key(&a, &[Attribute::Token(true)]);
    for _ in 0..3 {
        a.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();
    }
    set_state(&b, key, SUSPENDED).unwrap();
    assert_rv(
        a.sign(&Mechanism::Sha256Hmac, key, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    set_state(&b, key, ACTIVE).unwrap();
    a.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();
    a.sign(&Mechanism::Sha256Hmac, key, MSG).unwrap();
    b.destroy_object(key).unwrap();
    assert_rv(
        a.sign(&Mechanism::Sha256Hmac, key, MSG),
        RvError::KeyHandleInvalid,
    );
}

/// Two other processes sign concurrently with a token key limited to 25 uses; between them
/// they get exactly 25, and then this process's next sign is refused. One of them then
/// suspends another key, and this process sees it at its next operation without reopening.
#[test]
fn other_processes_share_counters_and_state_changes() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "lifecycle processes");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let token = |id: &[u8], extra: &[Attribute]| {
        let mut t = vec![Attribute::Token(true), Attribute::Id(id.to_vec())];
        t.extend_from_slice(extra);
        mac_key(&s, &t)
    };
    let limited = token(b"limited", &[vendor(CKA_KW_USAGE_LIMIT, 25)]);
    let shared = token(b"shared", &[]);
    s.sign(&Mechanism::Sha256Hmac, shared, MSG).unwrap();
    let children: Vec<_> = (0..2)
        .map(|_| {
            std::thread::spawn(move || {
                run_child_output("child_signs_until_refused", "signer", index, "")
            })
        })
        .collect();
    let made: usize = children
        .into_iter()
        .map(|c| {
            let out = c.join().expect("child thread");
            let line = out
                .lines()
                .find_map(|l| l.split("signatures made: ").nth(1));
            line.expect("the child reports its count")
                .trim()
                .parse::<usize>()
                .unwrap()
        })
        .sum();
    assert_eq!(made, 25, "two processes together get exactly the limit");
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, limited, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    let report = cli_show(index, "pkcs11:id=limited");
    assert_eq!(report["versions"][0]["uses"], 25, "{report}");
    assert_eq!(report["versions"][0]["usage_limit"], 25, "{report}");
    run_child("child_suspends", "suspender", index, "");
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, shared, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    assert_eq!(read(&s, shared, CKA_KW_STATE), SUSPENDED);
}

/// `keyward key show URI --json` on slot `index` of this binary's configuration.
fn cli_show(index: usize, uri: &str) -> serde_json::Value {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["key", "show", uri, "--json", "--slot", &index.to_string()])
        .env("KEYWARD_CONF", common::root_dir().join("keyward.toml"))
        .env("KEYWARD_PIN", USER_PIN)
        .output()
        .expect("run keyward");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("JSON report")
}

/// Child: sign with the "limited" key until refused; print how many signatures it made.
#[test]
fn child_signs_until_refused() {
    let Some((p11, slot, _)) = child_context("signer") else {
        return;
    };
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = s
        .find_objects(&[Attribute::Id(b"limited".to_vec())])
        .unwrap()[0];
    let mut made = 0;
    while s.sign(&Mechanism::Sha256Hmac, key, MSG).is_ok() {
        made += 1;
    }
    assert!(made <= 25);
    println!("signatures made: {made}");
}

/// Child: suspend the "shared" key.
#[test]
fn child_suspends() {
    let Some((p11, slot, _)) = child_context("suspender") else {
        return;
    };
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = s
        .find_objects(&[Attribute::Id(b"shared".to_vec())])
        .unwrap()[0];
    set_state(&s, key, SUSPENDED).unwrap();
}

const CKM_KW_ROTATE: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x01;
const CKA_KW_KEY_ID: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x05;
const CKA_KW_VERSION: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x06;
const CKA_KW_REVOCATION_REASON: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x03;
const SUPERSEDED: CK_ULONG = 5;

/// The vendor rotation mechanism with the current version's handle as parameter.
fn rotate_mechanism(handle: &CK_ULONG) -> Mechanism<'_> {
    use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
    use cryptoki::mechanism::MechanismType;
    let ty = MechanismType::new_vendor_defined(CKM_KW_ROTATE).unwrap();
    Mechanism::VendorDefined(VendorDefinedMechanism::new(ty, Some(handle)))
}

fn key_id(s: &Session, key: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(key, &[AttributeType::VendorDefined(CKA_KW_KEY_ID)])
        .unwrap()
        .as_slice()
    {
        [Attribute::VendorDefined((_, v))] => v.clone(),
        other => panic!("CKA_KW_KEY_ID: {other:?}"),
    }
}

/// Rotating a secret key makes version 2 of the same logical key, found first by label;
/// version 1 is deactivated (superseded): it still decrypts what it encrypted, no more.
#[test]
fn rotating_a_secret_key_keeps_old_data_readable() {
    let s = user_session();
    let label = Attribute::Label(b"data-key".to_vec());
    let v1 = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![1; 32]),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            label.clone(),
        ])
        .unwrap();
    let cbc = Mechanism::AesCbcPad([7; 16]);
    let old_ct = s.encrypt(&cbc, v1, b"before rotation").unwrap();
    let v2 = s
        .generate_key(&rotate_mechanism(&v1.handle()), &[])
        .unwrap();
    assert_eq!(
        s.find_objects(&[label]).unwrap(),
        vec![v2, v1],
        "newest version first"
    );
    assert_eq!(read(&s, v2, CKA_KW_VERSION), 2);
    assert_eq!(read(&s, v1, CKA_KW_VERSION), 1);
    assert_eq!(key_id(&s, v1), key_id(&s, v2));
    assert_eq!(read(&s, v1, CKA_KW_STATE), DEACTIVATED);
    assert_eq!(read(&s, v1, CKA_KW_REVOCATION_REASON), SUPERSEDED);
    assert_eq!(s.decrypt(&cbc, v1, &old_ct).unwrap(), b"before rotation");
    assert_rv(s.encrypt(&cbc, v1, b"x"), RvError::KeyFunctionNotPermitted);
    let new_ct = s.encrypt(&cbc, v2, b"after rotation").unwrap();
    assert_ne!(new_ct, s.encrypt(&cbc, v1, b"after").unwrap_or_default());
    assert_eq!(s.decrypt(&cbc, v2, &new_ct).unwrap(), b"after rotation");
    // Only the current (active) version rotates.
    assert_rv(
        s.generate_key(&rotate_mechanism(&v1.handle()), &[]),
        RvError::KeyFunctionNotPermitted,
    );
}

/// Rotating a key pair: the new private key is found first and signs; what the old private
/// key signed still verifies, through the old public key and through the current one; the
/// old private key signs no more.
#[test]
fn rotating_a_key_pair_keeps_old_signatures_verifiable() {
    let s = user_session();
    let label = Attribute::Label(b"signing".to_vec());
    let (pub1, priv1) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::EcParams(common::hex("06082a8648ce3d030107")),
                label.clone(),
            ],
            &[label.clone(), Attribute::Sign(true)],
        )
        .unwrap();
    let old_sig = s.sign(&Mechanism::EcdsaSha256, priv1, MSG).unwrap();
    let (pub2, priv2) = s
        .generate_key_pair(&rotate_mechanism(&priv1.handle()), &[], &[])
        .unwrap();
    let private = [label.clone(), Attribute::Class(ObjectClass::PRIVATE_KEY)];
    assert_eq!(s.find_objects(&private).unwrap()[0], priv2);
    assert_eq!(read(&s, pub2, CKA_KW_VERSION), 2);
    assert_eq!(key_id(&s, pub2), key_id(&s, priv1));
    let new_sig = s.sign(&Mechanism::EcdsaSha256, priv2, MSG).unwrap();
    s.verify(&Mechanism::EcdsaSha256, pub2, MSG, &new_sig)
        .unwrap();
    s.verify(&Mechanism::EcdsaSha256, pub1, MSG, &old_sig)
        .unwrap();
    assert_rv(
        s.sign(&Mechanism::EcdsaSha256, priv1, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    // Verification through the current public key accepts what earlier versions signed …
    s.verify(&Mechanism::EcdsaSha256, pub2, MSG, &old_sig)
        .unwrap();
    // … and nothing else.
    let mut forged = old_sig.clone();
    forged[5] ^= 1;
    assert_rv(
        s.verify(&Mechanism::EcdsaSha256, pub2, MSG, &forged),
        RvError::SignatureInvalid,
    );
    // A compromised earlier version no longer vouches for its signatures.
    set_state(&s, pub1, COMPROMISED).unwrap();
    assert_rv(
        s.verify(&Mechanism::EcdsaSha256, pub2, MSG, &old_sig),
        RvError::SignatureInvalid,
    );
}

const CKM_KW_VERSIONED_AES_GCM: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x02;

fn versioned<const N: usize>(aad: &[u8; N]) -> Mechanism<'_> {
    use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
    use cryptoki::mechanism::MechanismType;
    let ty = MechanismType::new_vendor_defined(CKM_KW_VERSIONED_AES_GCM).unwrap();
    Mechanism::VendorDefined(VendorDefinedMechanism::new(ty, Some(aad)))
}

/// Versioned AES-GCM: data encrypted under versions 1 and 2 decrypts through version 3 after
/// two rotations; the header's version is authenticated; old versions encrypt no more.
#[test]
fn versioned_gcm_decrypts_across_rotations() {
    let s = user_session();
    let v1 = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![9; 32]),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ])
        .unwrap();
    let aad = b"record 42";
    let ct1 = s.encrypt(&versioned(aad), v1, b"one").unwrap();
    let v2 = s
        .generate_key(&rotate_mechanism(&v1.handle()), &[])
        .unwrap();
    let ct2 = s.encrypt(&versioned(aad), v2, b"two").unwrap();
    let v3 = s
        .generate_key(&rotate_mechanism(&v2.handle()), &[])
        .unwrap();
    assert_eq!(&ct1[..8], b"KWG1\0\0\0\x01");
    assert_eq!(&ct2[..8], b"KWG1\0\0\0\x02");
    assert_eq!(s.decrypt(&versioned(aad), v3, &ct1).unwrap(), b"one");
    assert_eq!(s.decrypt(&versioned(aad), v3, &ct2).unwrap(), b"two");
    assert_eq!(
        s.decrypt(&versioned(aad), v1, &ct2).unwrap(),
        b"two",
        "any version finds it"
    );
    assert_rv(
        s.encrypt(&versioned(aad), v1, b"x"),
        RvError::KeyFunctionNotPermitted,
    );
    let mut relabelled = ct1.clone();
    relabelled[7] = 2; // claim version 2: the tag no longer matches
    assert_rv(
        s.decrypt(&versioned(aad), v3, &relabelled),
        RvError::EncryptedDataInvalid,
    );
    assert_rv(
        s.decrypt(&versioned(b"other"), v3, &ct1),
        RvError::EncryptedDataInvalid,
    );
    let mut unknown = ct1.clone();
    unknown[7] = 9;
    assert_rv(
        s.decrypt(&versioned(aad), v3, &unknown),
        RvError::EncryptedDataInvalid,
    );
}

const CKA_KW_ROTATION_PERIOD: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x07;

/// A secret key past its rotation period rotates at its next protect operation: the data
/// comes out under version 2, which any version decrypts (versioned AES-GCM).
#[test]
fn a_due_secret_key_rotates_at_its_next_protect_operation() {
    let s = user_session();
    let label = Attribute::Label(b"auto-rotating".to_vec());
    let v1 = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![4; 16]),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            label.clone(),
            vendor(CKA_KW_ROTATION_PERIOD, 1),
        ])
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let ct = s.encrypt(&versioned(b""), v1, b"rotated on use").unwrap();
    assert_eq!(&ct[..8], b"KWG1\0\0\0\x02", "made by version 2");
    let versions = s.find_objects(&[label]).unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(read(&s, versions[0], CKA_KW_VERSION), 2);
    assert_eq!(read(&s, v1, CKA_KW_STATE), DEACTIVATED);
    assert_eq!(
        s.decrypt(&versioned(b""), v1, &ct).unwrap(),
        b"rotated on use"
    );
}

/// `keyward rotate --due` (the admin API the CLI calls, here a second instance of the code
/// in this process, like another process) rotates token keys whose period has passed.
#[test]
fn rotate_due_rotates_what_is_due_and_nothing_else() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "rotate due");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = |label: &[u8], period: CK_ULONG| {
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(vec![5; 32]),
            Attribute::Sign(true),
            Attribute::Token(true),
            Attribute::Label(label.to_vec()),
            vendor(CKA_KW_ROTATION_PERIOD, period),
        ])
        .unwrap()
    };
    // The new version is due again 3 s after it is made: the second run below must come
    // sooner than that, even on a loaded CI machine.
    key(b"due", 3);
    key(b"not-due", 3600);
    std::thread::sleep(std::time::Duration::from_millis(3100));
    let slot_arg = index.to_string();
    let rotate_due = || {
        let out = common::keyward_cli(
            &["--slot", &slot_arg, "rotate", "--due", "--json"],
            &[("KEYWARD_PIN", USER_PIN)],
        );
        serde_json::from_str::<serde_json::Value>(&out).expect("JSON")
    };
    let done = rotate_due();
    let done = done.as_array().expect("a list of rotations");
    assert_eq!(done.len(), 1, "{done:?}");
    assert_eq!(
        (done[0]["label"].as_str(), done[0]["version"].as_u64()),
        (Some("due"), Some(2))
    );
    let current = s
        .find_objects(&[Attribute::Label(b"due".to_vec())])
        .unwrap()[0];
    assert_eq!(read(&s, current, CKA_KW_VERSION), 2);
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"not-due".to_vec())])
            .unwrap()
            .len(),
        1
    );
    assert_eq!(rotate_due().as_array().map(Vec::len), Some(0));
}

/// A session copy of a token key (what OpenSSL's pkcs11-provider makes to cache keys) follows
/// the original's lifecycle: suspending the original suspends the copy, and destroying it
/// leaves the copy unusable.
#[test]
fn copies_follow_the_original_lifecycle() {
    let s = user_session();
    let original = mac_key(&s, &[Attribute::Token(true)]);
    let copy = s.copy_object(original, &[Attribute::Token(false)]).unwrap();
    s.sign(&Mechanism::Sha256Hmac, copy, MSG).unwrap();
    set_state(&s, original, SUSPENDED).unwrap();
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, copy, MSG),
        RvError::KeyFunctionNotPermitted,
    );
    set_state(&s, original, ACTIVE).unwrap();
    s.sign(&Mechanism::Sha256Hmac, copy, MSG).unwrap();
    s.destroy_object(original).unwrap();
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, copy, MSG),
        RvError::KeyFunctionNotPermitted,
    );
}
