//! A delegate slot seen through libkeyward.so (docs/delegation.md): keys generated through
//! Keyward are made on the device (SoftHSMv2 here), Keyward signs with them there, and a
//! device that goes away mid-run gives clean errors until it comes back, in the same process.
//! Its own test binary: the module is loaded with a configuration whose only slot delegates.

use std::time::{Duration, Instant};

use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::Session;

mod common;

use common::delegate::{DEVICE_PIN, SOFTHSM};

const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn rv(e: &P11Error) -> Option<RvError> {
    match e {
        P11Error::Pkcs11(rv, _) => Some(*rv),
        _ => None,
    }
}

/// The uncompressed point inside CKA_EC_POINT (a DER OCTET STRING, or raw).
fn ec_point(s: &Session, public: ObjectHandle) -> Vec<u8> {
    let attrs = s.get_attributes(public, &[AttributeType::EcPoint]).unwrap();
    let Some(Attribute::EcPoint(p)) = attrs.first() else {
        panic!("no CKA_EC_POINT");
    };
    if p.first() == Some(&0x04) && p.len() == 65 {
        p.clone()
    } else {
        p[2..].to_vec()
    }
}

/// CKM_ECDSA over SHA-256 of `data` (SoftHSM 2.6 offers no CKM_ECDSA_SHA256, so neither
/// does a slot delegating to it).
fn sign(s: &Session, key: ObjectHandle, data: &[u8]) -> cryptoki::error::Result<Vec<u8>> {
    s.sign(&Mechanism::Ecdsa, key, &sha256(data))
}

fn sha256(data: &[u8]) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .to_vec()
}

#[test]
fn keys_live_on_the_device_and_the_slot_survives_its_absence() {
    let dir = tempfile::tempdir().unwrap();
    let Some((p11, slot, s)) = common::delegate::delegated(dir.path()) else {
        return;
    };

    // The mechanism list is the device's: SoftHSM 2.6 has CKM_ECDSA but no CKM_ECDSA_SHA256,
    // which a soft Keyward slot has.
    let mechs = p11.get_mechanism_list(slot).unwrap();
    use cryptoki::mechanism::MechanismType;
    assert!(mechs.contains(&MechanismType::ECDSA), "{mechs:?}");
    assert!(!mechs.contains(&MechanismType::ECDSA_SHA256), "{mechs:?}");

    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(P256.to_vec()), Attribute::Token(true)],
            &[
                Attribute::Sign(true),
                Attribute::Token(true),
                Attribute::Label(b"ec".to_vec()),
            ],
        )
        .unwrap();
    // Keyward holds no private value: CKA_VALUE of its private key object does not exist.
    let value = s.get_attributes(private, &[AttributeType::Value]).unwrap();
    assert!(value.is_empty(), "a private value in Keyward: {value:?}");

    let data = b"delegated signature";
    let point = ec_point(&s, public);
    let verify = |sig: &[u8]| {
        aws_lc_rs::signature::UnparsedPublicKey::new(
            &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED,
            &point,
        )
        .verify(data, sig)
    };
    let sig = sign(&s, private, data).unwrap();
    verify(&sig).expect("the device's signature verifies with the stored public key");
    s.verify(&Mechanism::Ecdsa, public, &sha256(data), &sig)
        .unwrap();

    // Four threads, each with its own session, share the device key.
    std::thread::scope(|scope| {
        for _ in 0..4 {
            scope.spawn(|| {
                let t = p11.open_ro_session(slot).unwrap();
                for _ in 0..25 {
                    let sig = sign(&t, private, data).unwrap();
                    verify(&sig).unwrap();
                }
            });
        }
    });

    // The device goes away: a clean device error, no panic, no hang.
    let tokens = dir.path().join("tokens");
    let away = dir.path().join("tokens.away");
    std::fs::rename(&tokens, &away).unwrap();
    let started = Instant::now();
    let err = sign(&s, private, data).expect_err("signed without the device");
    assert!(
        matches!(
            rv(&err),
            Some(RvError::DeviceError | RvError::DeviceRemoved | RvError::TokenNotPresent)
        ),
        "{err}"
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    // … and comes back: the slot recovers by itself within a few attempts.
    std::fs::rename(&away, &tokens).unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    let sig = loop {
        match sign(&s, private, data) {
            Ok(sig) => break sig,
            Err(e) if Instant::now() < deadline => {
                eprintln!("not yet: {e}");
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => panic!("the slot did not recover: {e}"),
        }
    };
    verify(&sig).unwrap();

    // Destroying the key pair destroys it on the device.
    s.destroy_object(public).unwrap();
    s.destroy_object(private).unwrap();
    // (pkcs11-tool in its own process: a second C_Initialize of SoftHSM here would clash.)
    let out = std::process::Command::new("pkcs11-tool")
        .args([
            "--module",
            SOFTHSM,
            "--token-label",
            "hsm",
            "--login",
            "--pin",
            DEVICE_PIN,
        ])
        .args(["--list-objects", "--type", "privkey"])
        .output()
        .expect("pkcs11-tool");
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        !listing.contains("Private Key Object"),
        "private keys left on the device: {listing}"
    );
}
