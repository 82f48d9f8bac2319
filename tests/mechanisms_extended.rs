//! The mechanisms beyond the first set that `cryptoki` cannot name: SHA-512/t and SHA-3
//! digests, their HMACs (full and `_GENERAL`), ECDSA and RSA with SHA-3, and RSA limits.
//! Called through the module's raw function list; results checked against published
//! vectors, or against an independent construction from already-verified parts.
mod common;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;

use common::{raw, user_session};

use common::hex;

/// A CK_MECHANISM whose parameter (if any) lives in `param`.
fn mech(ty: CK_MECHANISM_TYPE, param: &mut [u8]) -> CK_MECHANISM {
    CK_MECHANISM {
        mechanism: ty,
        pParameter: if param.is_empty() {
            std::ptr::null_mut()
        } else {
            param.as_mut_ptr().cast()
        },
        ulParameterLen: param.len() as CK_ULONG,
    }
}

fn check(rv: CK_RV, what: &str) -> Result<(), CK_RV> {
    if rv == CKR_OK {
        Ok(())
    } else {
        eprintln!("{what}: 0x{rv:x}");
        Err(rv)
    }
}

/// Run a raw single-part call that writes output (C_Digest, C_Sign) with a big buffer.
fn output(
    f: unsafe extern "C" fn(CK_SESSION_HANDLE, *mut u8, CK_ULONG, *mut u8, *mut CK_ULONG) -> CK_RV,
    s: &Session,
    data: &[u8],
) -> Result<Vec<u8>, CK_RV> {
    let mut out = vec![0u8; 1024];
    let mut len = out.len() as CK_ULONG;
    let mut input = data.to_vec();
    // SAFETY: live buffers of the stated lengths; a valid session handle.
    let rv = unsafe {
        f(
            s.handle(),
            input.as_mut_ptr(),
            input.len() as CK_ULONG,
            out.as_mut_ptr(),
            &mut len,
        )
    };
    check(rv, "output call")?;
    out.truncate(len as usize);
    Ok(out)
}

fn digest(s: &Session, ty: CK_MECHANISM_TYPE, data: &[u8]) -> Vec<u8> {
    let mut m = mech(ty, &mut []);
    // SAFETY: a live mechanism and a valid session handle.
    check(
        unsafe { raw().C_DigestInit.unwrap()(s.handle(), &mut m) },
        "C_DigestInit",
    )
    .unwrap();
    output(raw().C_Digest.unwrap(), s, data).unwrap()
}

fn sign(
    s: &Session,
    ty: CK_MECHANISM_TYPE,
    param: &mut [u8],
    key: ObjectHandle,
    data: &[u8],
) -> Result<Vec<u8>, CK_RV> {
    let mut m = mech(ty, param);
    // SAFETY: as above.
    check(
        unsafe { raw().C_SignInit.unwrap()(s.handle(), &mut m, key.handle()) },
        "C_SignInit",
    )?;
    output(raw().C_Sign.unwrap(), s, data)
}

fn verify(
    s: &Session,
    ty: CK_MECHANISM_TYPE,
    param: &mut [u8],
    key: ObjectHandle,
    data: &[u8],
    sig: &[u8],
) -> Result<(), CK_RV> {
    let mut m = mech(ty, param);
    // SAFETY: as above.
    check(
        unsafe { raw().C_VerifyInit.unwrap()(s.handle(), &mut m, key.handle()) },
        "C_VerifyInit",
    )?;
    let (mut d, mut g) = (data.to_vec(), sig.to_vec());
    // SAFETY: live buffers of the stated lengths.
    let rv = unsafe {
        raw().C_Verify.unwrap()(
            s.handle(),
            d.as_mut_ptr(),
            d.len() as CK_ULONG,
            g.as_mut_ptr(),
            g.len() as CK_ULONG,
        )
    };
    check(rv, "C_Verify")
}

/// (HMAC mechanism, its _GENERAL form, digest mechanism, digest block length)
const HMACS: [(
    CK_MECHANISM_TYPE,
    CK_MECHANISM_TYPE,
    CK_MECHANISM_TYPE,
    usize,
); 6] = [
    (
        CKM_SHA512_224_HMAC,
        CKM_SHA512_224_HMAC_GENERAL,
        CKM_SHA512_224,
        128,
    ),
    (
        CKM_SHA512_256_HMAC,
        CKM_SHA512_256_HMAC_GENERAL,
        CKM_SHA512_256,
        128,
    ),
    (
        CKM_SHA3_224_HMAC,
        CKM_SHA3_224_HMAC_GENERAL,
        CKM_SHA3_224,
        144,
    ),
    (
        CKM_SHA3_256_HMAC,
        CKM_SHA3_256_HMAC_GENERAL,
        CKM_SHA3_256,
        136,
    ),
    (
        CKM_SHA3_384_HMAC,
        CKM_SHA3_384_HMAC_GENERAL,
        CKM_SHA3_384,
        104,
    ),
    (
        CKM_SHA3_512_HMAC,
        CKM_SHA3_512_HMAC_GENERAL,
        CKM_SHA3_512,
        72,
    ),
];

/// FIPS 180-4 / FIPS 202 digests of "abc".
#[test]
fn sha512_t_and_sha3_digests_match_fips_vectors() {
    let s = user_session();
    let cases = [
        (CKM_SHA512_224, "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa"),
        (CKM_SHA512_256, "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23"),
        (CKM_SHA3_224, "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf"),
        (CKM_SHA3_256, "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"),
        (CKM_SHA3_384, "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b298d88cea927ac7f539f1edf228376d25"),
        (CKM_SHA3_512, "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"),
    ];
    for (ty, want) in cases {
        assert_eq!(digest(&s, ty, b"abc"), hex(want), "mechanism 0x{ty:x}");
    }
}

/// HMAC(K, m) = H((K ⊕ opad) ‖ H((K ⊕ ipad) ‖ m)) with the module's own (KAT-checked) digest.
fn reference_hmac(
    s: &Session,
    hash: CK_MECHANISM_TYPE,
    block: usize,
    key: &[u8],
    msg: &[u8],
) -> Vec<u8> {
    let mut k = key.to_vec();
    k.resize(block, 0);
    let pad = |b: u8| k.iter().map(|x| x ^ b).collect::<Vec<u8>>();
    let inner = digest(s, hash, &[pad(0x36), msg.to_vec()].concat());
    digest(s, hash, &[pad(0x5c), inner].concat())
}

#[test]
fn sha512_t_and_sha3_hmacs_match_the_construction_and_truncate() {
    let s = user_session();
    let key_bytes = hex("1e225cafb90339bba1b24076d4206c3e79c355805d851682bc818baa4f5a7779");
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Value(key_bytes.clone()),
            Attribute::Sign(true),
            Attribute::Verify(true),
        ])
        .unwrap();
    let msg = b"keyward extended mechanisms";
    for (hmac, general, hash, block) in HMACS {
        let tag = sign(&s, hmac, &mut [], key, msg).unwrap();
        assert_eq!(
            tag,
            reference_hmac(&s, hash, block, &key_bytes, msg),
            "0x{hmac:x}"
        );
        verify(&s, hmac, &mut [], key, msg, &tag).unwrap();
        let mut bad = tag.clone();
        bad[0] ^= 1;
        assert_eq!(
            verify(&s, hmac, &mut [], key, msg, &bad),
            Err(CKR_SIGNATURE_INVALID)
        );
        let mut len = (10 as CK_ULONG).to_ne_bytes();
        let short = sign(&s, general, &mut len, key, msg).unwrap();
        assert_eq!(short, tag[..10], "0x{general:x} truncates");
        verify(&s, general, &mut len, key, msg, &short).unwrap();
    }
    // Wycheproof hmac_sha3_256 tcId 1: an empty message.
    let tag = sign(&s, CKM_SHA3_256_HMAC, &mut [], key, b"").unwrap();
    assert_eq!(
        tag,
        hex("a3c58470afa8835d6e2357fb7b1cd07f8c4bc4c7874ca59d83163f046a9e227e")
    );
}

#[test]
fn ecdsa_with_sha3_equals_ecdsa_on_the_sha3_hash() {
    let s = user_session();
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(hex("06082a8648ce3d030107"))],
            &[Attribute::Sign(true)],
        )
        .unwrap();
    let msg = b"ecdsa over sha-3";
    let pairs = [
        (CKM_ECDSA_SHA3_224, CKM_SHA3_224),
        (CKM_ECDSA_SHA3_256, CKM_SHA3_256),
        (CKM_ECDSA_SHA3_384, CKM_SHA3_384),
        (CKM_ECDSA_SHA3_512, CKM_SHA3_512),
    ];
    for (ecdsa, hash) in pairs {
        let sig = sign(&s, ecdsa, &mut [], private, msg).unwrap();
        assert_eq!(sig.len(), 64);
        verify(&s, ecdsa, &mut [], public, msg, &sig).unwrap();
        let h = digest(&s, hash, msg);
        verify(&s, CKM_ECDSA, &mut [], public, &h, &sig).unwrap();
        assert_eq!(
            verify(&s, ecdsa, &mut [], public, b"other", &sig),
            Err(CKR_SIGNATURE_INVALID)
        );
    }
}

/// DER DigestInfo prefixes for SHA3-224/256/384/512 (OIDs 2.16.840.1.101.3.4.2.7–10).
fn sha3_digest_info(n: u8, hash: &[u8]) -> Vec<u8> {
    let mut der = vec![0x30, 0x11 + hash.len() as u8, 0x30, 0x0d, 0x06, 0x09];
    der.extend_from_slice(&[
        0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, n, 0x05, 0x00,
    ]);
    der.extend_from_slice(&[0x04, hash.len() as u8]);
    der.extend_from_slice(hash);
    der
}

fn rsa_pair(s: &Session, bits: u64) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::RsaPkcsKeyPairGen,
        &[Attribute::ModulusBits(bits.into()), Attribute::Verify(true)],
        &[Attribute::Sign(true)],
    )
    .unwrap()
}

fn pss_param(hash: CK_MECHANISM_TYPE, mgf: CK_ULONG, salt: CK_ULONG) -> Vec<u8> {
    let p = CK_RSA_PKCS_PSS_PARAMS {
        hashAlg: hash,
        mgf,
        sLen: salt,
    };
    // SAFETY: a plain C struct viewed as its bytes.
    unsafe {
        std::slice::from_raw_parts(
            (&p as *const CK_RSA_PKCS_PSS_PARAMS).cast::<u8>(),
            std::mem::size_of_val(&p),
        )
    }
    .to_vec()
}

#[test]
fn rsa_with_sha3_uses_the_right_digest_info_and_pss_hash() {
    let s = user_session();
    let (public, private) = rsa_pair(&s, 2048);
    let msg = b"rsa over sha-3";
    let cases = [
        (
            CKM_SHA3_224_RSA_PKCS,
            CKM_SHA3_224_RSA_PKCS_PSS,
            CKM_SHA3_224,
            CKG_MGF1_SHA3_224,
            7u8,
        ),
        (
            CKM_SHA3_256_RSA_PKCS,
            CKM_SHA3_256_RSA_PKCS_PSS,
            CKM_SHA3_256,
            CKG_MGF1_SHA3_256,
            8,
        ),
        (
            CKM_SHA3_384_RSA_PKCS,
            CKM_SHA3_384_RSA_PKCS_PSS,
            CKM_SHA3_384,
            CKG_MGF1_SHA3_384,
            9,
        ),
        (
            CKM_SHA3_512_RSA_PKCS,
            CKM_SHA3_512_RSA_PKCS_PSS,
            CKM_SHA3_512,
            CKG_MGF1_SHA3_512,
            10,
        ),
    ];
    for (pkcs, pss, hash, mgf, oid) in cases {
        let sig = sign(&s, pkcs, &mut [], private, msg).unwrap();
        let info = sha3_digest_info(oid, &digest(&s, hash, msg));
        verify(&s, CKM_RSA_PKCS, &mut [], public, &info, &sig).unwrap();
        assert_eq!(
            sig,
            sign(&s, CKM_RSA_PKCS, &mut [], private, &info).unwrap(),
            "PKCS#1 v1.5 is deterministic"
        );
        let mut p = pss_param(hash, mgf, 32);
        let sig = sign(&s, pss, &mut p, private, msg).unwrap();
        verify(&s, pss, &mut p, public, msg, &sig).unwrap();
        verify(
            &s,
            CKM_RSA_PKCS_PSS,
            &mut p,
            public,
            &digest(&s, hash, msg),
            &sig,
        )
        .unwrap();
    }
}

/// RSA-1024 keys may be imported and used to verify, but not to sign (CKR_KEY_SIZE_RANGE);
/// generation below 2048 bits is refused.
#[test]
fn rsa_1024_verifies_but_does_not_sign() {
    let s = user_session();
    assert_eq!(
        s.generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[Attribute::ModulusBits(1024.into())],
            &[]
        )
        .map(|_| ())
        .map_err(|e| common::rv_of(&e)),
        Err(cryptoki::error::RvError::KeySizeRange)
    );
    // A 1024-bit public key imported from outside (any odd modulus does for a public key).
    let n = hex(concat!(
        "c4e2f5e9a2b4c3d1f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5",
        "f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3",
        "b2c1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1",
        "d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9"
    ));
    let public = s
        .create_object(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Modulus(n),
            Attribute::PublicExponent(vec![1, 0, 1]),
            Attribute::Verify(true),
        ])
        .unwrap();
    // A 1024-bit private key imports, but by default it may not sign (CKR_KEY_SIZE_RANGE);
    // a slot configured with `allow_rsa_1024_private` lets it.
    let c = keyward::crypto::rsa::generate(1024, &[1, 0, 1]).unwrap();
    let import = |s: &Session| {
        s.create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Modulus(c.n.clone()),
            Attribute::PublicExponent(c.e.clone()),
            Attribute::PrivateExponent(c.d.clone()),
            Attribute::Prime1(c.p.clone()),
            Attribute::Prime2(c.q.clone()),
            Attribute::Exponent1(c.dp.clone()),
            Attribute::Exponent2(c.dq.clone()),
            Attribute::Coefficient(c.qinv.clone()),
            Attribute::Sign(true),
        ])
        .unwrap()
    };
    assert_eq!(
        sign(&s, CKM_SHA256_RSA_PKCS, &mut [], import(&s), b"m"),
        Err(CKR_KEY_SIZE_RANGE)
    );
    let legacy = common::legacy_rsa_token();
    let sig = sign(&legacy, CKM_SHA256_RSA_PKCS, &mut [], import(&legacy), b"m").unwrap();
    assert_eq!(sig.len(), 128);
    // Verification runs (and fails on a made-up signature), it is not refused for the size.
    assert_eq!(
        verify(&s, CKM_SHA256_RSA_PKCS, &mut [], public, b"m", &[1u8; 128]),
        Err(CKR_SIGNATURE_INVALID)
    );
}
