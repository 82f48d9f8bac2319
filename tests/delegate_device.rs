//! Black-box tests of the delegate backend's device layer against SoftHSMv2.
//!
//! SoftHSM reads SOFTHSM2_CONF and lists its tokens at C_Initialize only, and every `Device`
//! of a process shares one initialised SoftHSM. So this process sets SOFTHSM2_CONF once (a
//! temporary token directory) and creates every test's token before anything loads SoftHSM;
//! each test then works on its own token and can run in parallel with the others. The
//! token-directory test, whose recovery finalizes and re-initialises SoftHSM, runs in a child
//! process of its own (this binary re-run on that one test).
//!
//! Skipped, with a message, when /usr/lib/softhsm/libsofthsm2.so is missing.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass};
use cryptoki::session::Session;
use keyward::backend::delegate::{Device, DeviceConfig, PinSource, RETRY_AFTER};
use keyward::mechanism::param::{MechanismRequest, Param};
use keyward::object::Attributes;
use keyward::sys::*;
use keyward::Error;

mod common;

const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
const SO_PIN: &str = "so-87654321";
const PIN: &str = "user-1234";
/// The environment variable the fixture puts the PIN in (for [`PinSource::Env`]).
const PIN_VAR: &str = "KEYWARD_DELEGATE_TEST_PIN";
/// Every token this process uses; created before SoftHSM is first loaded.
const TOKENS: &[&str] = &[
    "dd-rsa",
    "dd-ec",
    "dd-ed",
    "dd-aes",
    "dd-find",
    "dd-threads",
    "dd-pin",
];
/// P-256 as CKA_EC_PARAMS (the curve's OID).
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// Ed25519 as CKA_EC_PARAMS (the curve's OID).
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// Set in the child process of [`token_directory_moved_away_and_back`].
const CHILD: &str = "KEYWARD_DELEGATE_TEST_CHILD";

struct Fixture {
    dir: PathBuf,
}

/// The process-wide SoftHSM setup, or None (and a message) when SoftHSM is not installed.
fn fixture() -> Option<&'static Fixture> {
    static FIXTURE: OnceLock<Option<Fixture>> = OnceLock::new();
    FIXTURE
        .get_or_init(|| {
            if !Path::new(SOFTHSM).exists() {
                eprintln!("SKIPPED: {SOFTHSM} is missing (CI installs softhsm2)");
                return None;
            }
            let dir = tempfile::tempdir().unwrap().keep();
            let conf = common::softhsm_conf(&dir);
            for label in TOKENS {
                init_token(&conf, label);
            }
            // Before any test loads SoftHSM (they all come through here first).
            std::env::set_var("SOFTHSM2_CONF", &conf);
            std::env::set_var(PIN_VAR, PIN);
            Some(Fixture { dir })
        })
        .as_ref()
}

fn init_token(conf: &Path, label: &str) {
    let out = Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", label])
        .args(["--so-pin", SO_PIN, "--pin", PIN])
        .env("SOFTHSM2_CONF", conf)
        .output()
        .expect("softhsm2-util");
    assert!(out.status.success(), "softhsm2-util: {out:?}");
}

fn pin_file(dir: &Path, name: &str, pin: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, format!("{pin}\n")).unwrap();
    path
}

fn device(f: &Fixture, token: &str) -> Device {
    Device::new(DeviceConfig {
        module: SOFTHSM.into(),
        token: token.into(),
        pin: PinSource::File(pin_file(&f.dir, &format!("{token}.pin"), PIN)),
    })
}

fn mech(ty: CK_MECHANISM_TYPE) -> MechanismRequest {
    MechanismRequest::new(ty, Param::None)
}

/// Keyward-style templates (with attributes the device must not get) for a key pair.
fn pair_templates(
    key_type: CK_KEY_TYPE,
    public_extra: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)],
) -> (Attributes, Attributes) {
    let mut public = Attributes::new();
    public.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
    public.set_ulong(CKA_KEY_TYPE, key_type);
    public.set_bool(CKA_VERIFY, true);
    public.set_bool(CKA_TOKEN, false);
    public.set(CKA_LABEL, b"caller label".to_vec());
    for (t, v) in public_extra {
        public.set(*t, v.clone());
    }
    let mut private = Attributes::new();
    private.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
    private.set_ulong(CKA_KEY_TYPE, key_type);
    private.set_bool(CKA_SIGN, true);
    private.set_bool(CKA_TOKEN, false);
    private.set(CKA_LABEL, b"caller label".to_vec());
    private.set(CKA_START_DATE, b"20250101".to_vec());
    (public, private)
}

fn rsa_templates() -> (Attributes, Attributes) {
    let bits = 2048 as CK_ULONG;
    let (mut public, mut private) = pair_templates(
        CKK_RSA,
        &[
            (CKA_MODULUS_BITS, bits.to_ne_bytes().to_vec()),
            (CKA_PUBLIC_EXPONENT, vec![1, 0, 1]),
        ],
    );
    public.set_bool(CKA_ENCRYPT, true);
    private.set_bool(CKA_DECRYPT, true);
    (public, private)
}

/// The raw point inside CKA_EC_POINT (a DER OCTET STRING, as SoftHSM returns it).
fn raw_point(ec_point: &[u8]) -> &[u8] {
    assert_eq!(ec_point[0], 0x04, "DER OCTET STRING");
    assert_eq!(
        ec_point[1] as usize,
        ec_point.len() - 2,
        "short-form length"
    );
    &ec_point[2..]
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

fn p256_verify(ec_point: &[u8], msg: &[u8], sig: &[u8]) {
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, raw_point(ec_point))
        .verify(msg, sig)
        .expect("the device's ECDSA signature verifies with the returned point");
}

/// A session of our own on `token`, through `cryptoki` directly (the device layer's login
/// is the application's, so private objects are visible).
fn direct_session(token: &str) -> Session {
    let p11 = Pkcs11::new(SOFTHSM).unwrap();
    match p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)) {
        Ok(())
        | Err(cryptoki::error::Error::Pkcs11(
            cryptoki::error::RvError::CryptokiAlreadyInitialized,
            _,
        )) => {}
        Err(e) => panic!("C_Initialize: {e}"),
    }
    let slot = p11
        .get_slots_with_token()
        .unwrap()
        .into_iter()
        .find(|s| p11.get_token_info(*s).unwrap().label() == token)
        .expect("token");
    p11.open_rw_session(slot).unwrap()
}

fn objects_with_id(s: &Session, id: &[u8]) -> usize {
    s.find_objects(&[Attribute::Id(id.to_vec())]).unwrap().len()
}

#[test]
fn rsa_pair_signs_pkcs1_and_pss_and_does_oaep_and_is_sensitive_on_the_device() {
    let Some(f) = fixture() else { return };
    let dev = device(f, "dd-rsa");
    dev.check().unwrap();
    let id = [0x52, 0x01];
    let (public, private) = rsa_templates();
    let (pub_vals, priv_vals) = dev
        .generate_key_pair(&mech(CKM_RSA_PKCS_KEY_PAIR_GEN), &public, &private, &id)
        .unwrap();
    let n = pub_vals.get(CKA_MODULUS).unwrap().to_vec();
    let e = pub_vals.get(CKA_PUBLIC_EXPONENT).unwrap().to_vec();
    assert_eq!(n.len(), 256);
    assert_eq!(pub_vals.len(), 2);
    assert_eq!(
        priv_vals, pub_vals,
        "RSA: modulus and exponent on both objects"
    );
    let key = RsaPublicKeyComponents { n: &n, e: &e };

    let msg = b"delegate me";
    let sig = dev
        .sign(&id, CKO_PRIVATE_KEY, &mech(CKM_SHA256_RSA_PKCS), msg)
        .unwrap();
    key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &sig)
        .expect("PKCS#1 v1.5 signature verifies");
    dev.verify(&id, CKO_PUBLIC_KEY, &mech(CKM_SHA256_RSA_PKCS), msg, &sig)
        .unwrap();
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert_eq!(
        dev.verify(&id, CKO_PUBLIC_KEY, &mech(CKM_SHA256_RSA_PKCS), msg, &bad),
        Err(Error::SignatureInvalid)
    );

    let pss = MechanismRequest::new(
        CKM_SHA256_RSA_PKCS_PSS,
        Param::Pss {
            hash: CKM_SHA256,
            mgf: CKG_MGF1_SHA256,
            salt_len: 32,
        },
    );
    let sig = dev.sign(&id, CKO_PRIVATE_KEY, &pss, msg).unwrap();
    key.verify(&signature::RSA_PSS_2048_8192_SHA256, msg, &sig)
        .expect("PSS signature verifies");

    // SoftHSM 2.6 does OAEP with SHA-1 only (CKR_ARGUMENTS_BAD otherwise).
    let oaep = MechanismRequest::new(
        CKM_RSA_PKCS_OAEP,
        Param::Oaep {
            hash: CKM_SHA_1,
            mgf: CKG_MGF1_SHA1,
            source: CKZ_DATA_SPECIFIED,
            label: Vec::new(),
        },
    );
    let ct = dev.encrypt(&id, CKO_PUBLIC_KEY, &oaep, b"secret").unwrap();
    assert_eq!(ct.len(), 256);
    let pt = dev.decrypt(&id, CKO_PRIVATE_KEY, &oaep, &ct).unwrap();
    assert_eq!(&pt[..], b"secret");

    // On the device: a token object with Keyward's id and label, sensitive, not extractable,
    // and nothing of the caller's label or dates.
    let s = direct_session("dd-rsa");
    let found = s
        .find_objects(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .unwrap();
    assert_eq!(found.len(), 1);
    let got = s
        .get_attributes(
            found[0],
            &[
                AttributeType::Token,
                AttributeType::Private,
                AttributeType::Sensitive,
                AttributeType::Extractable,
                AttributeType::Label,
                AttributeType::PrivateExponent,
            ],
        )
        .unwrap();
    for want in [
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Label(b"keyward:5201".to_vec()),
    ] {
        assert!(got.contains(&want), "{want:?} in {got:?}");
    }
    assert!(
        !got.iter()
            .any(|a| matches!(a, Attribute::PrivateExponent(_))),
        "the private exponent cannot be read: {got:?}"
    );

    dev.destroy(&id).unwrap();
    assert_eq!(objects_with_id(&s, &id), 0, "both halves destroyed");
    assert_eq!(
        dev.sign(&id, CKO_PRIVATE_KEY, &mech(CKM_SHA256_RSA_PKCS), msg),
        Err(Error::KeyHandleInvalid)
    );
    dev.destroy(&id).unwrap();
}

#[test]
fn p256_pair_signs_ecdsa_verified_by_aws_lc() {
    let Some(f) = fixture() else { return };
    let dev = device(f, "dd-ec");
    let id = [0xec, 0x01];
    let (public, private) = pair_templates(CKK_EC, &[(CKA_EC_PARAMS, P256.to_vec())]);
    let (pub_vals, priv_vals) = dev
        .generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN), &public, &private, &id)
        .unwrap();
    assert_eq!(pub_vals.get(CKA_EC_PARAMS), Some(P256));
    let point = pub_vals.get(CKA_EC_POINT).unwrap().to_vec();
    assert_eq!(raw_point(&point).len(), 65);
    assert_eq!(priv_vals.get(CKA_EC_PARAMS), Some(P256));
    assert!(!priv_vals.contains(CKA_EC_POINT));
    assert_eq!(priv_vals.len(), 1);

    let msg = b"sign the hash";
    let sig = dev
        .sign(&id, CKO_PRIVATE_KEY, &mech(CKM_ECDSA), &sha256(msg))
        .unwrap();
    assert_eq!(sig.len(), 64);
    p256_verify(&point, msg, &sig);
    dev.verify(&id, CKO_PUBLIC_KEY, &mech(CKM_ECDSA), &sha256(msg), &sig)
        .unwrap();
    // Not translatable: refused before the device is asked.
    assert_eq!(
        dev.sign(&id, CKO_PRIVATE_KEY, &mech(CKM_ECDH1_DERIVE), msg),
        Err(Error::MechanismInvalid)
    );
    // A mechanism the key cannot do: the device's own code passes through (SoftHSM 2.6 says
    // CKR_GENERAL_ERROR here), and the connection stays.
    let wrong = dev.sign(&id, CKO_PRIVATE_KEY, &mech(CKM_SHA256_RSA_PKCS), msg);
    assert!(
        matches!(wrong, Err(Error::GeneralError | Error::KeyTypeInconsistent)),
        "{wrong:?}"
    );
    let sig = dev
        .sign(&id, CKO_PRIVATE_KEY, &mech(CKM_ECDSA), &sha256(msg))
        .unwrap();
    p256_verify(&point, msg, &sig);

    let mechs = dev.mechanisms().unwrap();
    let find = |t| mechs.iter().find(|m| m.0 == t).copied();
    let (_, _, _, flags) = find(CKM_ECDSA).expect("CKM_ECDSA listed");
    assert_ne!(flags & CKF_SIGN, 0);
    let (_, min, max, flags) = find(CKM_RSA_PKCS_KEY_PAIR_GEN).expect("RSA key gen listed");
    assert!(min <= 2048 && 2048 <= max);
    assert_ne!(flags & CKF_GENERATE_KEY_PAIR, 0);
    assert!(find(CKM_AES_GCM).is_some());
    assert!(find(CKM_SHA224_RSA_PKCS).is_some(), "asked for separately");
}

#[test]
fn ed25519_pair_signs_eddsa_verified_by_aws_lc() {
    let Some(f) = fixture() else { return };
    let dev = device(f, "dd-ed");
    let id = [0xed, 0x01];
    let (public, private) = pair_templates(CKK_EC_EDWARDS, &[(CKA_EC_PARAMS, ED25519.to_vec())]);
    let (pub_vals, _) = dev
        .generate_key_pair(&mech(CKM_EC_EDWARDS_KEY_PAIR_GEN), &public, &private, &id)
        .unwrap();
    let point = pub_vals.get(CKA_EC_POINT).unwrap();
    let msg = b"edwards";
    let sig = dev
        .sign(&id, CKO_PRIVATE_KEY, &mech(CKM_EDDSA), msg)
        .unwrap();
    UnparsedPublicKey::new(&signature::ED25519, raw_point(point))
        .verify(msg, &sig)
        .expect("Ed25519 signature verifies");
}

fn secret_template(key_type: CK_KEY_TYPE, len: CK_ULONG) -> Attributes {
    let mut t = Attributes::new();
    t.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
    t.set_ulong(CKA_KEY_TYPE, key_type);
    t.set_ulong(CKA_VALUE_LEN, len);
    t.set_bool(CKA_ENCRYPT, true);
    t.set_bool(CKA_DECRYPT, true);
    t.set_bool(CKA_SIGN, true);
    t.set_bool(CKA_VERIFY, true);
    t
}

#[test]
fn aes_gcm_round_trip_and_hmac_with_device_keys() {
    let Some(f) = fixture() else { return };
    let dev = device(f, "dd-aes");
    let id = [0xae, 0x01];
    let mut template = secret_template(CKK_AES, 32);
    template.remove(CKA_SIGN);
    template.remove(CKA_VERIFY);
    let got = dev
        .generate_key(&mech(CKM_AES_KEY_GEN), &template, &id)
        .unwrap();
    assert_eq!(got.ulong(CKA_VALUE_LEN), Some(32));
    assert_eq!(got.len(), 1);

    let gcm = |aad: &[u8]| {
        MechanismRequest::new(
            CKM_AES_GCM,
            Param::Gcm {
                iv: vec![7; 12],
                iv_bits: 96,
                aad: aad.to_vec(),
                tag_bits: 128,
            },
        )
    };
    let pt = b"sixteen byte msg and more";
    let ct = dev.encrypt(&id, CKO_SECRET_KEY, &gcm(b"hdr"), pt).unwrap();
    assert_eq!(ct.len(), pt.len() + 16);
    let back = dev.decrypt(&id, CKO_SECRET_KEY, &gcm(b"hdr"), &ct).unwrap();
    assert_eq!(&back[..], pt);
    // SoftHSM 2.6 reports a bad tag as CKR_GENERAL_ERROR; it passes through as such.
    let wrong_aad = dev.decrypt(&id, CKO_SECRET_KEY, &gcm(b"HDR"), &ct);
    assert!(
        matches!(
            wrong_aad,
            Err(Error::EncryptedDataInvalid | Error::GeneralError)
        ),
        "{wrong_aad:?}"
    );
    // The failure passed through without dropping the connection.
    dev.decrypt(&id, CKO_SECRET_KEY, &gcm(b"hdr"), &ct).unwrap();

    let cbc = MechanismRequest::new(CKM_AES_CBC_PAD, Param::Bytes(vec![1; 16]));
    let ct = dev.encrypt(&id, CKO_SECRET_KEY, &cbc, pt).unwrap();
    assert_eq!(ct.len(), 32);
    assert_eq!(
        &dev.decrypt(&id, CKO_SECRET_KEY, &cbc, &ct).unwrap()[..],
        pt
    );

    // The key's value cannot be read from the device.
    let s = direct_session("dd-aes");
    let key = s
        .find_objects(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::Id(id.to_vec()),
        ])
        .unwrap()[0];
    let attrs = s
        .get_attributes(
            key,
            &[
                AttributeType::Value,
                AttributeType::Sensitive,
                AttributeType::Extractable,
            ],
        )
        .unwrap();
    assert_eq!(
        attrs,
        vec![Attribute::Sensitive(true), Attribute::Extractable(false)]
    );

    let hmac_id = [0xae, 0x02];
    let t = secret_template(CKK_GENERIC_SECRET, 32);
    dev.generate_key(&mech(CKM_GENERIC_SECRET_KEY_GEN), &t, &hmac_id)
        .unwrap();
    let tag = dev
        .sign(&hmac_id, CKO_SECRET_KEY, &mech(CKM_SHA256_HMAC), b"mac me")
        .unwrap();
    assert_eq!(tag.len(), 32);
    dev.verify(
        &hmac_id,
        CKO_SECRET_KEY,
        &mech(CKM_SHA256_HMAC),
        b"mac me",
        &tag,
    )
    .unwrap();
    assert_eq!(
        dev.verify(
            &hmac_id,
            CKO_SECRET_KEY,
            &mech(CKM_SHA256_HMAC),
            b"mac me!",
            &tag
        ),
        Err(Error::SignatureInvalid)
    );
}

#[test]
fn find_keys_by_uri_returns_public_values_only() {
    let Some(f) = fixture() else { return };
    let dev = device(f, "dd-find");
    let id = [0xf1, 0x02];
    let (public, private) = pair_templates(CKK_EC, &[(CKA_EC_PARAMS, P256.to_vec())]);
    let (pub_vals, _) = dev
        .generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN), &public, &private, &id)
        .unwrap();
    let aes_id = [0xf1, 0x03];
    dev.generate_key(
        &mech(CKM_AES_KEY_GEN),
        &secret_template(CKK_AES, 16),
        &aes_id,
    )
    .unwrap();

    let keys = dev
        .find_keys("pkcs11:token=dd-find;id=%F1%02;type=private")
        .unwrap();
    assert_eq!(keys.len(), 1);
    let k = &keys[0];
    assert_eq!(k.ulong(CKA_CLASS), Some(CKO_PRIVATE_KEY));
    assert_eq!(k.ulong(CKA_KEY_TYPE), Some(CKK_EC));
    assert_eq!(k.get(CKA_ID), Some(&id[..]));
    assert_eq!(k.get(CKA_LABEL), Some(&b"keyward:f102"[..]));
    assert!(k.flag(CKA_SIGN));
    assert_eq!(k.get(CKA_EC_PARAMS), Some(P256));
    assert_eq!(
        k.get(CKA_EC_POINT),
        pub_vals.get(CKA_EC_POINT),
        "the point from the public key object"
    );
    assert!(!k.contains(CKA_VALUE));

    // By label, no type: private and secret keys only (the public half is not a match).
    let by_label = dev.find_keys("pkcs11:object=keyward:f102").unwrap();
    assert_eq!(by_label.len(), 1);
    assert_eq!(by_label[0].ulong(CKA_CLASS), Some(CKO_PRIVATE_KEY));

    let secret = dev.find_keys("pkcs11:id=%f1%03;type=secret-key").unwrap();
    assert_eq!(secret.len(), 1);
    assert_eq!(secret[0].ulong(CKA_VALUE_LEN), Some(16));
    assert_eq!(secret[0].ulong(CKA_KEY_TYPE), Some(CKK_AES));
    assert!(!secret[0].contains(CKA_VALUE));
    assert!(dev
        .find_keys("pkcs11:object=nothing-here")
        .unwrap()
        .is_empty());
    assert_eq!(dev.find_keys("object=x"), Err(Error::ArgumentsBad));

    // A key without CKA_ID cannot be adopted.
    let s = direct_session("dd-find");
    s.generate_key(
        &Mechanism::AesKeyGen,
        &[
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Label(b"no-id".to_vec()),
            Attribute::ValueLen(16.into()),
        ],
    )
    .unwrap();
    assert_eq!(
        dev.find_keys("pkcs11:object=no-id"),
        Err(Error::KeyHandleInvalid)
    );
}

#[test]
fn eight_threads_sign_concurrently_through_the_pool() {
    let Some(_) = fixture() else { return };
    let dev = Device::new(DeviceConfig {
        module: SOFTHSM.into(),
        token: "pkcs11:token=dd-threads;manufacturer=SoftHSM%20project".into(),
        pin: PinSource::Env(PIN_VAR.into()),
    });
    let id = [0x08];
    let (public, private) = pair_templates(CKK_EC, &[(CKA_EC_PARAMS, P256.to_vec())]);
    let (pub_vals, _) = dev
        .generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN), &public, &private, &id)
        .unwrap();
    let point = pub_vals.get(CKA_EC_POINT).unwrap().to_vec();
    let barrier = std::sync::Barrier::new(8);
    std::thread::scope(|scope| {
        for t in 0..8u8 {
            let (dev, point, barrier) = (&dev, &point, &barrier);
            scope.spawn(move || {
                barrier.wait();
                for i in 0..25u8 {
                    let msg = [t, i, 0x5a];
                    let sig = dev
                        .sign(&id, CKO_PRIVATE_KEY, &mech(CKM_ECDSA), &sha256(&msg))
                        .unwrap();
                    p256_verify(point, &msg, &sig);
                }
            });
        }
    });
    let stats = dev.pool_stats();
    assert!(
        stats.opened >= 2,
        "concurrent callers got their own sessions: {stats:?}"
    );
    assert!(stats.open <= 8 && stats.idle == stats.open, "{stats:?}");
}

#[test]
fn wrong_pin_is_pin_incorrect_until_the_pin_file_is_fixed() {
    let Some(f) = fixture() else { return };
    let file = pin_file(&f.dir, "dd-pin.pin", "not-the-pin");
    let dev = Device::new(DeviceConfig {
        module: SOFTHSM.into(),
        token: "dd-pin".into(),
        pin: PinSource::File(file.clone()),
    });
    assert_eq!(dev.check(), Err(Error::PinIncorrect));
    std::thread::sleep(RETRY_AFTER + Duration::from_millis(50));
    assert_eq!(
        dev.check(),
        Err(Error::PinIncorrect),
        "the same wrong PIN again"
    );
    assert!(!format!("{dev:?}").contains("not-the-pin"));
    pin_file(&f.dir, "dd-pin.pin", PIN);
    std::thread::sleep(RETRY_AFTER + Duration::from_millis(50));
    dev.check().unwrap();

    let unknown = Device::new(DeviceConfig {
        module: SOFTHSM.into(),
        token: "no-such-token".into(),
        pin: PinSource::File(file),
    });
    assert_eq!(unknown.check(), Err(Error::DeviceRemoved));
}

/// Run the test `child` of this binary in a child process of its own (a no-op inside a child):
/// its SoftHSM recovery (finalize, initialise again) must not disturb the other tests'
/// sessions.
fn in_child_process(child: &str) {
    if std::env::var_os(CHILD).is_some() || fixture().is_none() {
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .env(CHILD, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    println!("{stdout}");
}

/// What a child test of [`in_child_process`] works on: a token of its own in a fresh
/// SoftHSM directory, a device on it and a P-256 pair made there.
struct Gone {
    _dir: tempfile::TempDir,
    dev: Device,
    id: Vec<u8>,
    point: Vec<u8>,
    /// The token directory, and where it goes while "away".
    tokens: PathBuf,
    away: PathBuf,
}

impl Gone {
    /// Move the token directory away: the device is gone.
    fn leave(&self) {
        std::fs::rename(&self.tokens, &self.away).unwrap();
    }

    /// Move it back.
    fn come_back(&self) {
        std::fs::rename(&self.away, &self.tokens).unwrap();
    }
}

/// [`Gone`] on a token labelled `label`; None (the test is a no-op) outside a child process.
fn gone_fixture(label: &str) -> Option<Gone> {
    if std::env::var_os(CHILD).is_none() || !Path::new(SOFTHSM).exists() {
        return None;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = common::softhsm_conf(dir.path());
    init_token(&conf, label);
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let dev = Device::new(DeviceConfig {
        module: SOFTHSM.into(),
        token: label.into(),
        pin: PinSource::File(pin_file(dir.path(), "pin", PIN)),
    });
    let id = vec![0x60, 0x0e];
    let (public, private) = pair_templates(CKK_EC, &[(CKA_EC_PARAMS, P256.to_vec())]);
    let (pub_vals, _) = dev
        .generate_key_pair(&mech(CKM_EC_KEY_PAIR_GEN), &public, &private, &id)
        .unwrap();
    let point = pub_vals.get(CKA_EC_POINT).unwrap().to_vec();
    Some(Gone {
        tokens: dir.path().join("tokens"),
        away: dir.path().join("tokens.away"),
        _dir: dir,
        dev,
        id,
        point,
    })
}

#[test]
fn token_directory_moved_away_and_back() {
    in_child_process("token_directory_child");
}

#[test]
fn threads_signing_while_the_token_directory_goes_and_comes_back() {
    in_child_process("token_directory_threads_child");
}

/// The child of [`token_directory_moved_away_and_back`]; a no-op in any other run.
#[test]
fn token_directory_child() {
    let Some(g) = gone_fixture("dd-gone") else {
        return;
    };
    let (dev, id, point) = (&g.dev, &g.id, &g.point);
    let msg = b"still there?";
    let sign = || dev.sign(id, CKO_PRIVATE_KEY, &mech(CKM_ECDSA), &sha256(msg));
    p256_verify(point, msg, &sign().unwrap());

    g.leave();
    // Every call fails cleanly and at once, whether it finds the loss, tries to reconnect,
    // or is turned away by the reconnect throttle.
    for round in 0..4 {
        let started = Instant::now();
        let r = sign();
        println!(
            "token directory away, call {round}: {r:?} in {:?}",
            started.elapsed()
        );
        assert!(
            matches!(r, Err(Error::DeviceError | Error::DeviceRemoved)),
            "call {round}: {r:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
        assert!(dev.check().is_err());
        std::thread::sleep(Duration::from_millis(120));
    }

    g.come_back();
    std::thread::sleep(RETRY_AFTER + Duration::from_millis(50));
    let sig = sign().expect("the next call after the directory is back succeeds");
    p256_verify(point, msg, &sig);
    dev.check().unwrap();
}

/// One thread of [`token_directory_threads_child`]: sign until three signatures have come
/// after `back` was set, each verified; count the calls that failed because the device was
/// away, and fail on any other error.
fn sign_through_the_outage(g: &Gone, t: u8, back: &AtomicBool, failed: &AtomicUsize) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut signed_after_back, mut call) = (0, 0u32);
    while signed_after_back < 3 {
        assert!(Instant::now() < deadline, "thread {t} never signed again");
        let returned = back.load(Ordering::Acquire);
        let msg = [&[t][..], &call.to_be_bytes()].concat();
        match g
            .dev
            .sign(&g.id, CKO_PRIVATE_KEY, &mech(CKM_ECDSA), &sha256(&msg))
        {
            Ok(sig) => {
                p256_verify(&g.point, &msg, &sig);
                signed_after_back += usize::from(returned);
            }
            Err(Error::DeviceError | Error::DeviceRemoved) => {
                failed.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => panic!("thread {t}, call {call}: {e:?}"),
        }
        call += 1;
    }
}

/// The child of [`threads_signing_while_the_token_directory_goes_and_comes_back`]: four
/// threads sign without pause while the token directory is moved away and back. Every call
/// either signs (verified) or fails with CKR_DEVICE_ERROR / CKR_DEVICE_REMOVED; some fail
/// while it is away; every thread signs again once it is back; the pool is consistent after.
#[test]
fn token_directory_threads_child() {
    let Some(g) = gone_fixture("dd-gone-threads") else {
        return;
    };
    let (back, failed) = (AtomicBool::new(false), AtomicUsize::new(0));
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4u8)
            .map(|t| {
                let (g, back, failed) = (&g, &back, &failed);
                scope.spawn(move || sign_through_the_outage(g, t, back, failed))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        g.leave();
        std::thread::sleep(RETRY_AFTER * 2 + Duration::from_millis(100));
        g.come_back();
        back.store(true, Ordering::Release);
        for w in workers {
            w.join().unwrap();
        }
    });
    let failed = failed.into_inner();
    println!("calls that failed while the directory was away: {failed}");
    assert!(failed > 0, "no call noticed the token was away");
    let stats = g.dev.pool_stats();
    assert!(stats.idle == stats.open && stats.open <= 8, "{stats:?}");
}
