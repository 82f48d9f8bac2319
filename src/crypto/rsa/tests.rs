//! RSA operations checked against aws-lc-rs, RFC test vectors and each other.

use super::*;
use crate::crypto::digest::digest;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
use std::sync::OnceLock;

fn comps() -> &'static RsaComponents {
    static C: OnceLock<RsaComponents> = OnceLock::new();
    C.get_or_init(|| generate(2048, &[1, 0, 1]).unwrap())
}

fn key() -> &'static RsaPrivateKey {
    static K: OnceLock<RsaPrivateKey> = OnceLock::new();
    K.get_or_init(|| RsaPrivateKey::from_components(comps()).unwrap())
}

fn lc_pub() -> RsaPublicKeyComponents<Vec<u8>> {
    RsaPublicKeyComponents {
        n: comps().n.clone(),
        e: comps().e.clone(),
    }
}

fn clone_comps(c: &RsaComponents) -> RsaComponents {
    RsaComponents {
        n: c.n.clone(),
        e: c.e.clone(),
        d: c.d.clone(),
        p: c.p.clone(),
        q: c.q.clone(),
        dp: c.dp.clone(),
        dq: c.dq.clone(),
        qinv: c.qinv.clone(),
    }
}

const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

#[test]
fn generated_shape_and_traits() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<RsaPrivateKey>();
    send_sync::<RsaPublicKey>();
    let c = comps();
    assert_eq!(c.n.len(), 256);
    assert_eq!(c.e, vec![1, 0, 1]);
    assert_eq!(key().modulus_len(), 256);
    assert_eq!(key().public_key().modulus_bits(), 2048);
    assert_eq!(format!("{:?}", key()), "RsaPrivateKey([redacted])");
    assert!(format!("{c:?}").contains("[redacted]"));
}

#[test]
fn generate_rejects_bad_params() {
    assert_eq!(generate(1000, &[1, 0, 1]).err(), Some(CryptoError::BadKey));
    assert_eq!(generate(512, &[1, 0, 1]).err(), Some(CryptoError::BadKey));
    assert_eq!(generate(2048, &[1, 0, 0]).err(), Some(CryptoError::BadKey));
    assert_eq!(generate(2048, &[1]).err(), Some(CryptoError::BadKey));
}

#[test]
fn pkcs1_sha256_verified_by_aws_lc_rs() {
    let msg = b"keyward pkcs1";
    let h = digest(DigestAlg::Sha256, msg);
    let pad = SignPadding::Pkcs1 {
        digest: Some(DigestAlg::Sha256),
    };
    let sig = key().sign(&pad, &h).unwrap();
    assert_eq!(sig.len(), 256);
    lc_pub()
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &sig)
        .unwrap();
    key().public_key().verify(&pad, &h, &sig).unwrap();
    // Raw DigestInfo input gives the identical (deterministic) signature.
    let mut di = SHA256_DIGEST_INFO.to_vec();
    di.extend_from_slice(&h);
    let raw_pad = SignPadding::Pkcs1 { digest: None };
    assert_eq!(key().sign(&raw_pad, &di).unwrap(), sig);
    key().public_key().verify(&raw_pad, &di, &sig).unwrap();
}

#[test]
fn raw_x509_matches_pkcs1() {
    let h = digest(DigestAlg::Sha256, b"raw");
    let sig = key()
        .sign(
            &SignPadding::Pkcs1 {
                digest: Some(DigestAlg::Sha256),
            },
            &h,
        )
        .unwrap();
    // EMSA-PKCS1-v1_5 encoding: 00 01 FF.. 00 DigestInfo hash
    let mut em = vec![0x00, 0x01];
    em.resize(256 - 19 - 32 - 1, 0xff);
    em.push(0);
    em.extend_from_slice(&SHA256_DIGEST_INFO);
    em.extend_from_slice(&h);
    assert_eq!(key().sign(&SignPadding::Raw, &em).unwrap(), sig);
    key()
        .public_key()
        .verify(&SignPadding::Raw, &em, &sig)
        .unwrap();
    // Raw encrypt/decrypt round trip, with a short (left-padded) input.
    let ct = key()
        .public_key()
        .encrypt(&EncPadding::Raw, b"short")
        .unwrap();
    let pt = key().decrypt(&EncPadding::Raw, &ct).unwrap();
    assert_eq!(&pt[..251], &[0u8; 251][..]);
    assert_eq!(&pt[251..], b"short");
    assert_eq!(
        key().sign(&SignPadding::Raw, &em[1..]).err(),
        Some(CryptoError::InvalidLength)
    );
    assert_eq!(
        key().sign(&SignPadding::Raw, &[0xff; 256]).err(),
        Some(CryptoError::InvalidData)
    );
    assert_eq!(
        key()
            .public_key()
            .encrypt(&EncPadding::Raw, &[0xff; 256])
            .err(),
        Some(CryptoError::InvalidData)
    );
}

#[test]
fn pss_verified_by_aws_lc_rs() {
    let msg = b"keyward pss";
    let h = digest(DigestAlg::Sha256, msg);
    let pad = SignPadding::Pss {
        digest: DigestAlg::Sha256,
        mgf1: DigestAlg::Sha256,
        salt_len: 32,
    };
    let sig = key().sign(&pad, &h).unwrap();
    lc_pub()
        .verify(&signature::RSA_PSS_2048_8192_SHA256, msg, &sig)
        .unwrap();
    key().public_key().verify(&pad, &h, &sig).unwrap();
    // Different hash/MGF1/salt combination round trips too.
    let h1 = digest(DigestAlg::Sha384, msg);
    let pad2 = SignPadding::Pss {
        digest: DigestAlg::Sha384,
        mgf1: DigestAlg::Sha1,
        salt_len: 0,
    };
    let sig2 = key().sign(&pad2, &h1).unwrap();
    key().public_key().verify(&pad2, &h1, &sig2).unwrap();
    assert_eq!(
        key().public_key().verify(&pad, &h, &sig2).err(),
        Some(CryptoError::BadSignature)
    );
    let too_much_salt = SignPadding::Pss {
        digest: DigestAlg::Sha256,
        mgf1: DigestAlg::Sha256,
        salt_len: 223,
    };
    assert_eq!(
        key().sign(&too_much_salt, &h).err(),
        Some(CryptoError::BadParameter)
    );
}

#[test]
fn verify_negatives() {
    let pub_key = key().public_key();
    let h = digest(DigestAlg::Sha256, b"neg");
    let pad = SignPadding::Pkcs1 {
        digest: Some(DigestAlg::Sha256),
    };
    let mut sig = key().sign(&pad, &h).unwrap();
    assert_eq!(
        pub_key.verify(&pad, &h, &sig[1..]),
        Err(CryptoError::BadSignatureLength)
    );
    assert_eq!(
        pub_key.verify(&pad, &h[1..], &sig),
        Err(CryptoError::InvalidLength)
    );
    assert_eq!(
        key().sign(&pad, &h[1..]).err(),
        Some(CryptoError::InvalidLength)
    );
    let other = digest(DigestAlg::Sha256, b"other");
    assert_eq!(
        pub_key.verify(&pad, &other, &sig),
        Err(CryptoError::BadSignature)
    );
    sig[10] ^= 0x40;
    assert_eq!(
        pub_key.verify(&pad, &h, &sig),
        Err(CryptoError::BadSignature)
    );
    assert_eq!(
        pub_key.verify(&SignPadding::Raw, &h, &sig),
        Err(CryptoError::BadSignature)
    );
    let too_long = vec![0u8; 246];
    let raw = SignPadding::Pkcs1 { digest: None };
    assert_eq!(
        key().sign(&raw, &too_long).err(),
        Some(CryptoError::InvalidLength)
    );
}

fn oaep(digest: DigestAlg, label: &[u8]) -> EncPadding {
    EncPadding::Oaep {
        digest,
        mgf1: digest,
        label: label.to_vec(),
    }
}

#[test]
fn oaep_round_trips() {
    let pub_key = key().public_key();
    for alg in [DigestAlg::Sha1, DigestAlg::Sha256] {
        for label in [&b""[..], b"label"] {
            let pad = oaep(alg, label);
            let max = 256 - 2 * alg.output_len() - 2;
            let msg = vec![0x5a; max];
            let ct = pub_key.encrypt(&pad, &msg).unwrap();
            assert_eq!(ct.len(), 256);
            assert_eq!(&key().decrypt(&pad, &ct).unwrap()[..], &msg[..]);
            let empty_ct = pub_key.encrypt(&pad, b"").unwrap();
            assert!(key().decrypt(&pad, &empty_ct).unwrap().is_empty());
            assert_eq!(
                pub_key.encrypt(&pad, &vec![0; max + 1]).err(),
                Some(CryptoError::InvalidLength)
            );
        }
    }
}

#[test]
fn oaep_negatives() {
    let pub_key = key().public_key();
    let pad = oaep(DigestAlg::Sha256, b"L");
    let mut ct = pub_key.encrypt(&pad, b"secret").unwrap();
    assert_eq!(
        key().decrypt(&oaep(DigestAlg::Sha256, b"M"), &ct).err(),
        Some(CryptoError::InvalidData)
    );
    assert_eq!(
        key().decrypt(&oaep(DigestAlg::Sha1, b"L"), &ct).err(),
        Some(CryptoError::InvalidData)
    );
    assert_eq!(
        key().decrypt(&pad, &ct[1..]).err(),
        Some(CryptoError::InvalidLength)
    );
    ct[100] ^= 1;
    assert_eq!(
        key().decrypt(&pad, &ct).err(),
        Some(CryptoError::InvalidData)
    );
    assert_eq!(
        key().decrypt(&pad, &[0xff; 256]).err(),
        Some(CryptoError::InvalidData)
    );
}

#[test]
fn pkcs1_encryption_round_trip() {
    let pub_key = key().public_key();
    let msg = vec![7u8; 245];
    let ct = pub_key.encrypt(&EncPadding::Pkcs1, &msg).unwrap();
    assert_eq!(
        &key().decrypt(&EncPadding::Pkcs1, &ct).unwrap()[..],
        &msg[..]
    );
    assert_eq!(
        pub_key.encrypt(&EncPadding::Pkcs1, &[0; 246]).err(),
        Some(CryptoError::InvalidLength)
    );
    // c = 0 is below n: a synthetic message, not an error; c >= n is refused.
    assert!(key().decrypt(&EncPadding::Pkcs1, &[0; 256]).is_ok());
    assert_eq!(
        key().decrypt(&EncPadding::Pkcs1, &[0xff; 256]).err(),
        Some(CryptoError::InvalidData)
    );
    assert_eq!(
        key().decrypt(&EncPadding::Pkcs1, &[0; 255]).err(),
        Some(CryptoError::InvalidLength)
    );
    // Implicit rejection: a damaged ciphertext gives a stable synthetic message, no error.
    let mut bad = ct.clone();
    bad[100] ^= 1;
    let first = key().decrypt(&EncPadding::Pkcs1, &bad).unwrap();
    assert_eq!(first, key().decrypt(&EncPadding::Pkcs1, &bad).unwrap());
    assert_ne!(first.as_slice(), msg.as_slice());
}

#[test]
fn from_components_variants() {
    let c = comps();
    // Without CRT values: uses n, e, d only and still works.
    let mut no_crt = clone_comps(c);
    no_crt.p.clear();
    no_crt.dq.clear();
    let k = RsaPrivateKey::from_components(&no_crt).unwrap();
    let h = digest(DigestAlg::Sha256, b"x");
    let pad = SignPadding::Pkcs1 {
        digest: Some(DigestAlg::Sha256),
    };
    assert_eq!(k.sign(&pad, &h).unwrap(), key().sign(&pad, &h).unwrap());
    // Wrong d, with and without CRT → BadKey.
    let mut bad = clone_comps(c);
    let last = bad.d.len() - 1;
    bad.d[last] ^= 2;
    assert_eq!(
        RsaPrivateKey::from_components(&bad).err(),
        Some(CryptoError::BadKey)
    );
    bad.p.clear();
    assert_eq!(
        RsaPrivateKey::from_components(&bad).err(),
        Some(CryptoError::BadKey)
    );
    // Wrong CRT coefficient → BadKey.
    let mut bad = clone_comps(c);
    bad.qinv[0] ^= 1;
    assert_eq!(
        RsaPrivateKey::from_components(&bad).err(),
        Some(CryptoError::BadKey)
    );
    let mut bad = clone_comps(c);
    bad.e.clear();
    assert_eq!(
        RsaPrivateKey::from_components(&bad).err(),
        Some(CryptoError::BadKey)
    );
}

#[test]
fn public_from_components() {
    let c = comps();
    let p = RsaPublicKey::from_components(&c.n, &c.e).unwrap();
    assert_eq!(p.modulus_len(), 256);
    assert_eq!(
        RsaPublicKey::from_components(&c.n, &[1, 0, 0]).err(),
        Some(CryptoError::BadKey)
    );
    let mut even = c.n.clone();
    even[255] &= 0xfe;
    assert_eq!(
        RsaPublicKey::from_components(&even, &c.e).err(),
        Some(CryptoError::BadKey)
    );
    // Leading zeros are accepted.
    let mut n0 = vec![0u8];
    n0.extend_from_slice(&c.n);
    assert_eq!(
        RsaPublicKey::from_components(&n0, &c.e)
            .unwrap()
            .modulus_bits(),
        2048
    );
}

#[test]
fn concurrent_signing() {
    let k = Arc::new(RsaPrivateKey::from_components(comps()).unwrap());
    let pad = SignPadding::Pss {
        digest: DigestAlg::Sha256,
        mgf1: DigestAlg::Sha256,
        salt_len: 32,
    };
    let threads: Vec<_> = (0..4)
        .map(|i| {
            let k = Arc::clone(&k);
            let pad = pad.clone();
            std::thread::spawn(move || {
                let h = digest(DigestAlg::Sha256, &[i]);
                for _ in 0..5 {
                    let sig = k.sign(&pad, &h).unwrap();
                    k.public_key().verify(&pad, &h, &sig).unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn exponent_ok() {
    use super::exponent_ok as ok;
    assert!(ok(&[3]) && ok(&[1, 0, 1]) && ok(&[0, 0, 1, 0, 1]) && ok(&[1, 0xff, 0xff, 0xff, 0xff]));
    assert!(!ok(&[]) && !ok(&[0]) && !ok(&[1]) && !ok(&[2]) && !ok(&[3, 0, 0, 0, 1]));
}
