//! Single-part and multi-part operations with device keys through libkeyward.so: Keyward
//! collects a multi-part operation's input and hands the device the whole of it, and passes a
//! single-part call's input straight through. Both must give the same results. Its own test
//! binary: the module is loaded with a configuration whose only slot delegates (SoftHSMv2).

use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::Session;

mod common;

fn secret_key(s: &Session, mechanism: &Mechanism, usage: [Attribute; 2]) -> ObjectHandle {
    let [a, b] = usage;
    s.generate_key(
        mechanism,
        &[Attribute::ValueLen(32.into()), Attribute::Token(true), a, b],
    )
    .unwrap()
}

fn signature_invalid(r: cryptoki::error::Result<()>) -> bool {
    matches!(r, Err(P11Error::Pkcs11(RvError::SignatureInvalid, _)))
}

/// HMAC: C_Sign and C_SignUpdate/C_SignFinal give the same MAC; C_Verify and
/// C_VerifyUpdate/C_VerifyFinal accept it and refuse it for other data.
fn hmac_single_and_multi_part_agree(s: &Session) {
    let key = secret_key(
        s,
        &Mechanism::GenericSecretKeyGen,
        [Attribute::Sign(true), Attribute::Verify(true)],
    );
    let mech = Mechanism::Sha256Hmac;
    let data = b"one message, in three parts";
    let single = s.sign(&mech, key, data).unwrap();
    assert_eq!(single.len(), 32);
    s.sign_init(&mech, key).unwrap();
    for part in data.chunks(10) {
        s.sign_update(part).unwrap();
    }
    assert_eq!(s.sign_final().unwrap(), single, "multi-part MAC differs");
    assert_ne!(s.sign(&mech, key, b"other data").unwrap(), single);

    s.verify(&mech, key, data, &single).unwrap();
    s.verify_init(&mech, key).unwrap();
    for part in data.chunks(7) {
        s.verify_update(part).unwrap();
    }
    s.verify_final(&single).unwrap();
    assert!(signature_invalid(s.verify(
        &mech,
        key,
        b"other data",
        &single
    )));
    s.verify_init(&mech, key).unwrap();
    s.verify_update(b"other ").unwrap();
    assert!(signature_invalid(s.verify_final(&single)));
}

/// AES-CBC-PAD: C_Encrypt and C_EncryptUpdate/C_EncryptFinal give the same ciphertext, and
/// both ways of decrypting give the plaintext back.
fn aes_single_and_multi_part_agree(s: &Session) {
    let key = secret_key(
        s,
        &Mechanism::AesKeyGen,
        [Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    let mech = Mechanism::AesCbcPad([7u8; 16]);
    let plain = b"forty-one bytes of plaintext, not aligned".to_vec();
    let single = s.encrypt(&mech, key, &plain).unwrap();
    assert_eq!(single.len(), 48);
    s.encrypt_init(&mech, key).unwrap();
    let mut multi = Vec::new();
    for part in plain.chunks(9) {
        multi.extend(s.encrypt_update(part).unwrap());
    }
    multi.extend(s.encrypt_final().unwrap());
    assert_eq!(multi, single, "multi-part ciphertext differs");

    assert_eq!(s.decrypt(&mech, key, &single).unwrap(), plain);
    s.decrypt_init(&mech, key).unwrap();
    let mut back = Vec::new();
    for part in single.chunks(5) {
        back.extend(s.decrypt_update(part).unwrap());
    }
    back.extend(s.decrypt_final().unwrap());
    assert_eq!(back, plain);
}

#[test]
fn single_and_multi_part_operations_with_device_keys_agree() {
    let dir = tempfile::tempdir().unwrap();
    let Some((_p11, _, s)) = common::delegate::delegated(dir.path()) else {
        return;
    };
    hmac_single_and_multi_part_agree(&s);
    aes_single_and_multi_part_agree(&s);
}
