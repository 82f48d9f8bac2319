//! Key derivation, key transport and the Curve25519/CMAC mechanisms, through the module and
//! checked against published vectors or an independent computation with aws-lc-rs.
mod common;

use aws_lc_rs::agreement;
use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

use common::{assert_rv, user_session};

use common::hex;

const P256_PARAMS: &str = "06082a8648ce3d030107";
const ED25519_OID: &str = "06032b6570";
const X25519_OID: &str = "06032b656e";

/// A secret key with a known value; `usage` are the extra boolean attributes.
fn secret(s: &Session, ty: KeyType, value: &[u8], usage: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(ty),
        Attribute::Value(value.to_vec()),
    ];
    t.extend_from_slice(usage);
    s.create_object(&t).expect("import secret key")
}

/// A template for a derived or unwrapped secret whose value the test may read back.
fn readable(ty: KeyType, len: Option<u64>) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(ty),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Encrypt(true),
    ];
    t.extend(len.map(|n| Attribute::ValueLen(n.into())));
    t
}

fn value(s: &Session, key: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(key, &[AttributeType::Value])
        .unwrap()
        .as_slice()
    {
        [Attribute::Value(v)] => v.clone(),
        other => panic!("no CKA_VALUE: {other:?}"),
    }
}

fn bytes_attr(s: &Session, key: ObjectHandle, ty: AttributeType) -> Vec<u8> {
    match s.get_attributes(key, &[ty]).unwrap().as_slice() {
        [Attribute::EcPoint(v)] | [Attribute::Value(v)] => v.clone(),
        other => panic!("missing {ty:?}: {other:?}"),
    }
}

/// The raw public key inside a CKA_EC_POINT DER OCTET STRING.
fn point(der: &[u8]) -> Vec<u8> {
    assert_eq!(der[0], 0x04, "CKA_EC_POINT is an OCTET STRING");
    der[2..].to_vec()
}

/// A key pair generated on the token with CKA_DERIVE on the private half.
fn derive_pair(s: &Session, mech: Mechanism, params: &str) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &mech,
        &[Attribute::EcParams(hex(params))],
        &[Attribute::Derive(true)],
    )
    .expect("generate key pair")
}

/// ECDH on the token against a peer made by aws-lc-rs; both sides must agree.
fn ecdh_matches_aws_lc(mech: Mechanism, params: &str, alg: &'static agreement::Algorithm) {
    let s = user_session();
    let (public, private) = derive_pair(&s, mech, params);
    let peer = agreement::PrivateKey::generate(alg).unwrap();
    let peer_public = peer.compute_public_key().unwrap();
    let ecdh = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), peer_public.as_ref()));
    let derived = s
        .derive_key(&ecdh, private, &readable(KeyType::GENERIC_SECRET, None))
        .expect("C_DeriveKey");
    let token_point = point(&bytes_attr(&s, public, AttributeType::EcPoint));
    let expected = agreement::agree(
        &peer,
        agreement::UnparsedPublicKey::new(alg, &token_point),
        (),
        |z| Ok(z.to_vec()),
    )
    .unwrap();
    assert_eq!(value(&s, derived), expected);
}

#[test]
fn ecdh_p256_agrees_with_an_independent_peer() {
    ecdh_matches_aws_lc(Mechanism::EccKeyPairGen, P256_PARAMS, &agreement::ECDH_P256);
}

#[test]
fn x25519_agrees_with_an_independent_peer() {
    ecdh_matches_aws_lc(
        Mechanism::EccMontgomeryKeyPairGen,
        X25519_OID,
        &agreement::X25519,
    );
}

#[test]
fn ecdh_with_sha256_kdf_is_x963_and_bad_points_are_refused() {
    let s = user_session();
    let (a_pub, a) = derive_pair(&s, Mechanism::EccKeyPairGen, P256_PARAMS);
    let (b_pub, b) = derive_pair(&s, Mechanism::EccKeyPairGen, P256_PARAMS);
    let a_point = point(&bytes_attr(&s, a_pub, AttributeType::EcPoint));
    let b_point = point(&bytes_attr(&s, b_pub, AttributeType::EcPoint));
    let derive = |key, peer: &[u8], kdf| {
        let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(kdf, peer));
        s.derive_key(&m, key, &readable(KeyType::AES, Some(32)))
    };
    let ab = derive(a, &b_point, EcKdf::sha256(b"info")).unwrap();
    let ba = derive(b, &a_point, EcKdf::sha256(b"info")).unwrap();
    assert_eq!(value(&s, ab), value(&s, ba));
    let z = value(&s, derive(a, &b_point, EcKdf::null()).unwrap());
    let mut x963 = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    x963.update(&z);
    x963.update(&1u32.to_be_bytes());
    x963.update(b"info");
    assert_eq!(value(&s, ab), x963.finish().as_ref());
    let mut bad = b_point.clone();
    bad[10] ^= 1;
    assert_rv(
        derive(a, &bad, EcKdf::null()),
        RvError::MechanismParamInvalid,
    );
}

#[test]
fn derive_needs_cka_derive() {
    let s = user_session();
    let (_, private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(hex(P256_PARAMS))],
            &[Attribute::Derive(false)],
        )
        .unwrap();
    let peer = [4u8; 65];
    let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &peer));
    assert_rv(
        s.derive_key(&m, private, &readable(KeyType::GENERIC_SECRET, None)),
        RvError::KeyFunctionNotPermitted,
    );
}

/// RFC 5869 test case 1 through C_DeriveKey with CKM_HKDF_DERIVE.
#[test]
fn hkdf_matches_rfc5869() {
    let s = user_session();
    let ikm = hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
    let base = secret(
        &s,
        KeyType::GENERIC_SECRET,
        &ikm,
        &[Attribute::Derive(true)],
    );
    let salt = hex("000102030405060708090a0b0c");
    let info = hex("f0f1f2f3f4f5f6f7f8f9");
    let params = HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Data(&salt)),
        Some(&info),
    );
    let okm = s
        .derive_key(
            &Mechanism::HkdfDerive(params),
            base,
            &readable(KeyType::GENERIC_SECRET, Some(42)),
        )
        .expect("HKDF derive");
    assert_eq!(
        value(&s, okm),
        hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865")
    );
}

const FIPS197_KEY: &str = "000102030405060708090a0b0c0d0e0f";
const FIPS197_PT: &str = "00112233445566778899aabbccddeeff";
const FIPS197_CT: &str = "69c4e0d86a7b0430d8cdb78070b4c55a";

/// CKM_AES_CBC_ENCRYPT_DATA with a zero IV over one block is the FIPS-197 encryption.
#[test]
fn aes_encrypt_data_derivation_is_the_block_encryption() {
    let s = user_session();
    let base = secret(
        &s,
        KeyType::AES,
        &hex(FIPS197_KEY),
        &[Attribute::Derive(true)],
    );
    let data = hex(FIPS197_PT);
    let params = cryptoki::mechanism::ekdf::AesCbcDeriveParams::new([0; 16], &data);
    let derived = s
        .derive_key(
            &Mechanism::AesCbcEncryptData(params),
            base,
            &readable(KeyType::AES, None),
        )
        .expect("AES_CBC_ENCRYPT_DATA");
    assert_eq!(value(&s, derived), hex(FIPS197_CT));
}

/// RFC 3394 §4.1 through C_WrapKey, then C_UnwrapKey gives a key that encrypts the same.
#[test]
fn aes_key_wrap_matches_rfc3394_and_round_trips() {
    let s = user_session();
    let usage = [Attribute::Wrap(true), Attribute::Unwrap(true)];
    let kek = secret(&s, KeyType::AES, &hex(FIPS197_KEY), &usage);
    let target = secret(
        &s,
        KeyType::AES,
        &hex(FIPS197_PT),
        &[Attribute::Extractable(true), Attribute::Encrypt(true)],
    );
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, kek, target).unwrap();
    assert_eq!(
        wrapped,
        hex("1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5")
    );
    let unwrapped = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            kek,
            &wrapped,
            &readable(KeyType::AES, None),
        )
        .unwrap();
    assert_eq!(value(&s, unwrapped), hex(FIPS197_PT));
    let mut tampered = wrapped.clone();
    tampered[5] ^= 1;
    assert_rv(
        s.unwrap_key(
            &Mechanism::AesKeyWrap,
            kek,
            &tampered,
            &readable(KeyType::AES, None),
        ),
        RvError::WrappedKeyInvalid,
    );
}

#[test]
fn kwp_wraps_odd_lengths_and_unextractable_keys_stay_in() {
    let s = user_session();
    let usage = [Attribute::Wrap(true), Attribute::Unwrap(true)];
    let kek = secret(&s, KeyType::AES, &[9; 32], &usage);
    let odd = secret(
        &s,
        KeyType::GENERIC_SECRET,
        &[5; 21],
        &[Attribute::Extractable(true)],
    );
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrapPad, kek, odd).unwrap();
    assert_eq!(wrapped.len(), 32, "21 bytes pad to 24, plus the 8-byte IV");
    let back = s
        .unwrap_key(
            &Mechanism::AesKeyWrapPad,
            kek,
            &wrapped,
            &readable(KeyType::GENERIC_SECRET, None),
        )
        .unwrap();
    assert_eq!(value(&s, back), vec![5; 21]);
    assert_rv(
        s.wrap_key(&Mechanism::AesKeyWrap, kek, odd),
        RvError::KeySizeRange,
    );
    let locked = secret(&s, KeyType::AES, &[1; 16], &[Attribute::Extractable(false)]);
    assert_rv(
        s.wrap_key(&Mechanism::AesKeyWrap, kek, locked),
        RvError::KeyUnextractable,
    );
}

/// RFC 8032 §7.1 TEST 2 with imported Ed25519 keys.
#[test]
fn ed25519_matches_rfc8032() {
    let s = user_session();
    let seed = hex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb");
    let public = hex("3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c");
    let key = |class, material: Attribute| {
        s.create_object(&[
            Attribute::Class(class),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::EcParams(hex(ED25519_OID)),
            material,
        ])
        .unwrap()
    };
    let private = key(ObjectClass::PRIVATE_KEY, Attribute::Value(seed));
    let mut point_der = vec![0x04, 0x20];
    point_der.extend_from_slice(&public);
    let public = key(ObjectClass::PUBLIC_KEY, Attribute::EcPoint(point_der));
    let eddsa = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
    let sig = s.sign(&eddsa, private, &[0x72]).unwrap();
    assert_eq!(sig, hex("92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"));
    s.verify(&eddsa, public, &[0x72], &sig).unwrap();
    assert_rv(
        s.verify(&eddsa, public, &[0x73], &sig),
        RvError::SignatureInvalid,
    );
}

/// NIST SP 800-38B D.1 example 2 (AES-128, one block) through C_Sign / C_Verify.
#[test]
fn aes_cmac_matches_sp800_38b() {
    let s = user_session();
    let key = secret(
        &s,
        KeyType::AES,
        &hex("2b7e151628aed2a6abf7158809cf4f3c"),
        &[Attribute::Sign(true), Attribute::Verify(true)],
    );
    let msg = hex("6bc1bee22e409f96e93d7e117393172a");
    let tag = s.sign(&Mechanism::AesCMac, key, &msg).unwrap();
    assert_eq!(tag, hex("070a16b46b4d4144f79bdd9dd04a287c"));
    s.verify(&Mechanism::AesCMac, key, &msg, &tag).unwrap();
    assert_rv(
        s.verify(&Mechanism::AesCMac, key, &msg, &tag[..8]),
        RvError::SignatureLenRange,
    );
}

/// A raw CK_ATTRIBUTE over `value` (which must outlive its use).
fn raw_attr(ty: cryptoki_sys::CK_ATTRIBUTE_TYPE, value: &mut [u8]) -> cryptoki_sys::CK_ATTRIBUTE {
    cryptoki_sys::CK_ATTRIBUTE {
        type_: ty,
        pValue: value.as_mut_ptr().cast(),
        ulValueLen: value.len() as cryptoki_sys::CK_ULONG,
    }
}

/// CKA_WRAP_TEMPLATE / CKA_UNWRAP_TEMPLATE: set through C_CreateObject as attribute arrays,
/// read back the same way, and enforced by C_WrapKey and C_UnwrapKey.
#[test]
fn wrap_and_unwrap_templates_are_enforced_and_readable() {
    use cryptoki_sys::*;
    let s = user_session();
    let raw = common::raw();
    let ulong = |v: CK_ULONG| v.to_ne_bytes().to_vec();
    let (mut class, mut kt, mut value, mut yes) = (
        ulong(CKO_SECRET_KEY),
        ulong(CKK_AES),
        hex(FIPS197_KEY),
        vec![1u8],
    );
    let (mut want_aes, mut label) = (ulong(CKK_AES), b"from-kek".to_vec());
    let mut id = b"kek-with-templates".to_vec();
    let mut yes_wrap = vec![1u8];
    let mut wrap_t = [raw_attr(CKA_KEY_TYPE, &mut want_aes)];
    let mut unwrap_t = [raw_attr(CKA_LABEL, &mut label)];
    let size = std::mem::size_of::<CK_ATTRIBUTE>();
    let mut template = [
        raw_attr(CKA_CLASS, &mut class),
        raw_attr(CKA_KEY_TYPE, &mut kt),
        raw_attr(CKA_VALUE, &mut value),
        raw_attr(CKA_WRAP, &mut yes_wrap),
        raw_attr(CKA_UNWRAP, &mut yes),
        raw_attr(CKA_ID, &mut id),
        CK_ATTRIBUTE {
            type_: CKA_WRAP_TEMPLATE,
            pValue: wrap_t.as_mut_ptr().cast(),
            ulValueLen: size as CK_ULONG,
        },
        CK_ATTRIBUTE {
            type_: CKA_UNWRAP_TEMPLATE,
            pValue: unwrap_t.as_mut_ptr().cast(),
            ulValueLen: size as CK_ULONG,
        },
    ];
    let mut raw_kek = 0;
    // SAFETY: every pointer in the template is live for its length.
    let rv = unsafe {
        raw.C_CreateObject.unwrap()(
            s.handle(),
            template.as_mut_ptr(),
            template.len() as CK_ULONG,
            &mut raw_kek,
        )
    };
    assert_eq!(rv, CKR_OK, "create a KEK with templates");
    // cryptoki cannot wrap a raw handle: find the KEK by its value-less identity instead.
    let kek = s
        .find_objects(&[Attribute::Id(b"kek-with-templates".to_vec())])
        .unwrap()[0];
    assert_eq!(kek.handle(), raw_kek);

    // Read CKA_WRAP_TEMPLATE back: size, then nested type and length, then the value.
    let mut query = CK_ATTRIBUTE {
        type_: CKA_WRAP_TEMPLATE,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    };
    // SAFETY: one live attribute.
    assert_eq!(
        unsafe { raw.C_GetAttributeValue.unwrap()(s.handle(), kek.handle(), &mut query, 1) },
        CKR_OK
    );
    assert_eq!(query.ulValueLen as usize, size);
    let mut nested = [CK_ATTRIBUTE {
        type_: 0,
        pValue: std::ptr::null_mut(),
        ulValueLen: 0,
    }];
    query.pValue = nested.as_mut_ptr().cast();
    // SAFETY: the nested array is live for ulValueLen bytes.
    assert_eq!(
        unsafe { raw.C_GetAttributeValue.unwrap()(s.handle(), kek.handle(), &mut query, 1) },
        CKR_OK
    );
    assert_eq!(
        (nested[0].type_, nested[0].ulValueLen as usize),
        (CKA_KEY_TYPE, 8)
    );
    let mut got = [0u8; 8];
    nested[0].pValue = got.as_mut_ptr().cast();
    query.pValue = nested.as_mut_ptr().cast();
    // SAFETY: as above, with an 8-byte nested buffer.
    assert_eq!(
        unsafe { raw.C_GetAttributeValue.unwrap()(s.handle(), kek.handle(), &mut query, 1) },
        CKR_OK
    );
    assert_eq!(got.to_vec(), ulong(CKK_AES));

    // The wrap template admits AES keys only.
    let generic = secret(
        &s,
        KeyType::GENERIC_SECRET,
        &[4; 16],
        &[Attribute::Extractable(true)],
    );
    assert_rv(
        s.wrap_key(&Mechanism::AesKeyWrap, kek, generic),
        RvError::KeyNotWrappable,
    );
    let aes = secret(
        &s,
        KeyType::AES,
        &hex(FIPS197_PT),
        &[Attribute::Extractable(true)],
    );
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, kek, aes).unwrap();
    // The unwrap template sets the label; a caller's different label contradicts it.
    let mut clash = readable(KeyType::AES, None);
    clash.push(Attribute::Label(b"mine".to_vec()));
    assert_rv(
        s.unwrap_key(&Mechanism::AesKeyWrap, kek, &wrapped, &clash),
        RvError::TemplateInconsistent,
    );
    let back = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            kek,
            &wrapped,
            &readable(KeyType::AES, None),
        )
        .unwrap();
    let labels = s.get_attributes(back, &[AttributeType::Label]).unwrap();
    assert_eq!(labels, vec![Attribute::Label(b"from-kek".to_vec())]);
}

/// RFC 6070 vector 2 (PBKDF2-HMAC-SHA1, 2 iterations) through C_GenerateKey with
/// CKM_PKCS5_PBKD2, in the 3.0 parameter layout and in the 2.40 one (a pointer to the
/// password length).
#[test]
fn pbkdf2_key_generation_matches_rfc6070_in_both_layouts() {
    use cryptoki_sys::*;
    let s = user_session();
    let raw = common::raw();
    let (salt, password) = (b"salt".to_vec(), b"password".to_vec());
    let mut password_len: CK_ULONG = 8;
    let layouts: [CK_ULONG; 2] = [8, &mut password_len as *mut CK_ULONG as CK_ULONG];
    for (n, last_field) in layouts.into_iter().enumerate() {
        let mut params = CK_PKCS5_PBKD2_PARAMS2 {
            saltSource: CKZ_SALT_SPECIFIED,
            pSaltSourceData: salt.as_ptr() as *mut _,
            ulSaltSourceDataLen: 4,
            iterations: 2,
            prf: CKP_PKCS5_PBKD2_HMAC_SHA1,
            pPrfData: std::ptr::null_mut(),
            ulPrfDataLen: 0,
            pPassword: password.as_ptr() as *mut u8,
            ulPasswordLen: last_field,
        };
        let mut m = CK_MECHANISM {
            mechanism: CKM_PKCS5_PBKD2,
            pParameter: (&mut params as *mut CK_PKCS5_PBKD2_PARAMS2).cast(),
            ulParameterLen: std::mem::size_of::<CK_PKCS5_PBKD2_PARAMS2>() as CK_ULONG,
        };
        let mut id = format!("pbkdf2-{n}").into_bytes();
        let (mut class, mut kt, mut len) = (
            CKO_SECRET_KEY.to_ne_bytes().to_vec(),
            CKK_GENERIC_SECRET.to_ne_bytes().to_vec(),
            (20 as CK_ULONG).to_ne_bytes().to_vec(),
        );
        let (mut no, mut yes) = (vec![0u8], vec![1u8]);
        let mut t = [
            raw_attr(CKA_CLASS, &mut class),
            raw_attr(CKA_KEY_TYPE, &mut kt),
            raw_attr(CKA_VALUE_LEN, &mut len),
            raw_attr(CKA_SENSITIVE, &mut no),
            raw_attr(CKA_EXTRACTABLE, &mut yes),
            raw_attr(CKA_ID, &mut id),
        ];
        let mut h = 0;
        // SAFETY: live mechanism, parameter, template and out-handle.
        let rv = unsafe {
            raw.C_GenerateKey.unwrap()(
                s.handle(),
                &mut m,
                t.as_mut_ptr(),
                t.len() as CK_ULONG,
                &mut h,
            )
        };
        assert_eq!(rv, CKR_OK, "layout {n}");
        let key = s
            .find_objects(&[Attribute::Id(format!("pbkdf2-{n}").into_bytes())])
            .unwrap()[0];
        assert_eq!(
            value(&s, key),
            hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
            "layout {n}"
        );
    }
}

/// A private key wrapped with AES-KWP is a standard PKCS#8 PrivateKeyInfo (aws-lc-rs unwraps
/// and parses it); unwrapped back into the token it signs what the original public key
/// verifies.
#[test]
fn private_keys_wrap_as_pkcs8_and_unwrap_into_working_keys() {
    use aws_lc_rs::key_wrap::{KeyEncryptionKey, KeyWrapPadded, AES_256};
    let s = user_session();
    let kek_bytes = [0x42u8; 32];
    let kek = secret(
        &s,
        KeyType::AES,
        &kek_bytes,
        &[Attribute::Wrap(true), Attribute::Unwrap(true)],
    );
    let private_usage = [Attribute::Sign(true), Attribute::Extractable(true)];
    let pairs = [
        (
            Mechanism::RsaPkcsKeyPairGen,
            vec![Attribute::ModulusBits(2048.into())],
            KeyType::RSA,
            Mechanism::Sha256RsaPkcs,
        ),
        (
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(hex(P256_PARAMS))],
            KeyType::EC,
            Mechanism::EcdsaSha256,
        ),
        (
            Mechanism::EccEdwardsKeyPairGen,
            vec![Attribute::EcParams(hex(ED25519_OID))],
            KeyType::EC_EDWARDS,
            Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
        ),
    ];
    for (gen, public_t, key_type, sign_mech) in pairs {
        let (public, private) = s
            .generate_key_pair(&gen, &public_t, &private_usage)
            .unwrap();
        let wrapped = s.wrap_key(&Mechanism::AesKeyWrapPad, kek, private).unwrap();
        let mut der = vec![0u8; wrapped.len()];
        let der = KeyEncryptionKey::new(&AES_256, &kek_bytes)
            .unwrap()
            .unwrap_with_padding(&wrapped, &mut der)
            .unwrap()
            .to_vec();
        let parsed = match key_type {
            KeyType::RSA => aws_lc_rs::rsa::KeyPair::from_pkcs8(&der).map(|_| ()),
            KeyType::EC => aws_lc_rs::signature::EcdsaKeyPair::from_pkcs8(
                &aws_lc_rs::signature::ECDSA_P256_SHA256_FIXED_SIGNING,
                &der,
            )
            .map(|_| ()),
            _ => aws_lc_rs::signature::Ed25519KeyPair::from_pkcs8(&der).map(|_| ()),
        };
        assert!(parsed.is_ok(), "{key_type:?}: not a PKCS#8 aws-lc accepts");
        let template = [
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(key_type),
            Attribute::Sign(true),
        ];
        let back = s
            .unwrap_key(&Mechanism::AesKeyWrapPad, kek, &wrapped, &template)
            .unwrap();
        let sig = s.sign(&sign_mech, back, b"wrapped and back").unwrap();
        s.verify(&sign_mech, public, b"wrapped and back", &sig)
            .unwrap();
        let mut tampered = wrapped.clone();
        tampered[3] ^= 1;
        assert_rv(
            s.unwrap_key(&Mechanism::AesKeyWrapPad, kek, &tampered, &template),
            RvError::WrappedKeyInvalid,
        );
    }
}

/// CKM_SP800_108_COUNTER_KDF with a 32-bit big-endian counter before the fixed input equals
/// aws-lc's independent KBKDF_ctr_hmac; a little-endian counter gives something else, and a
/// list without a counter is refused.
#[test]
fn sp800_108_counter_kdf_matches_aws_lc() {
    use aws_lc_rs::kdf::{get_kbkdf_ctr_hmac_algorithm, kbkdf_ctr_hmac, KbkdfCtrHmacAlgorithmId};
    use cryptoki_sys::*;
    let s = user_session();
    let key_bytes = [0x5au8; 32];
    let base = secret(
        &s,
        KeyType::GENERIC_SECRET,
        &key_bytes,
        &[Attribute::Derive(true)],
    );
    let raw = common::raw();
    let mut info = b"label\x00context".to_vec();
    let mut derive = |little_endian: u8, with_counter: bool, id: &str| {
        let mut counter = CK_SP800_108_COUNTER_FORMAT {
            bLittleEndian: little_endian,
            ulWidthInBits: 32,
        };
        let mut data = vec![CK_PRF_DATA_PARAM {
            type_: CK_SP800_108_BYTE_ARRAY,
            pValue: info.as_mut_ptr().cast(),
            ulValueLen: info.len() as CK_ULONG,
        }];
        if with_counter {
            data.insert(
                0,
                CK_PRF_DATA_PARAM {
                    type_: CK_SP800_108_ITERATION_VARIABLE,
                    pValue: (&mut counter as *mut CK_SP800_108_COUNTER_FORMAT).cast(),
                    ulValueLen: std::mem::size_of::<CK_SP800_108_COUNTER_FORMAT>() as CK_ULONG,
                },
            );
        }
        let mut params = CK_SP800_108_KDF_PARAMS {
            prfType: CKM_SHA256_HMAC,
            ulNumberOfDataParams: data.len() as CK_ULONG,
            pDataParams: data.as_mut_ptr(),
            ulAdditionalDerivedKeys: 0,
            pAdditionalDerivedKeys: std::ptr::null_mut(),
        };
        let mut m = CK_MECHANISM {
            mechanism: CKM_SP800_108_COUNTER_KDF,
            pParameter: (&mut params as *mut CK_SP800_108_KDF_PARAMS).cast(),
            ulParameterLen: std::mem::size_of::<CK_SP800_108_KDF_PARAMS>() as CK_ULONG,
        };
        let (mut class, mut kt, mut len) = (
            CKO_SECRET_KEY.to_ne_bytes().to_vec(),
            CKK_GENERIC_SECRET.to_ne_bytes().to_vec(),
            (42 as CK_ULONG).to_ne_bytes().to_vec(),
        );
        let (mut no, mut yes, mut id_bytes) = (vec![0u8], vec![1u8], id.as_bytes().to_vec());
        let mut t = [
            raw_attr(CKA_CLASS, &mut class),
            raw_attr(CKA_KEY_TYPE, &mut kt),
            raw_attr(CKA_VALUE_LEN, &mut len),
            raw_attr(CKA_SENSITIVE, &mut no),
            raw_attr(CKA_EXTRACTABLE, &mut yes),
            raw_attr(CKA_ID, &mut id_bytes),
        ];
        let mut h = 0;
        // SAFETY: live mechanism, parameters, template and out-handle.
        let rv = unsafe {
            raw.C_DeriveKey.unwrap()(
                s.handle(),
                &mut m,
                base.handle(),
                t.as_mut_ptr(),
                t.len() as CK_ULONG,
                &mut h,
            )
        };
        (rv == CKR_OK)
            .then(|| {
                value(
                    &s,
                    s.find_objects(&[Attribute::Id(id.as_bytes().to_vec())])
                        .unwrap()[0],
                )
            })
            .ok_or(rv)
    };
    let mut expected = [0u8; 42];
    let alg = get_kbkdf_ctr_hmac_algorithm(KbkdfCtrHmacAlgorithmId::Sha256).unwrap();
    kbkdf_ctr_hmac(alg, &key_bytes, b"label\x00context", &mut expected).unwrap();
    assert_eq!(derive(0, true, "kbkdf-be").unwrap(), expected.to_vec());
    assert_ne!(derive(1, true, "kbkdf-le").unwrap(), expected.to_vec());
    assert_eq!(
        derive(0, false, "kbkdf-none"),
        Err(CKR_MECHANISM_PARAM_INVALID)
    );
}

/// RSA-OAEP and RSA-PKCS wrap a secret key under the public half and unwrap it with the
/// private half; CKA_ALLOWED_MECHANISMS on the wrapping key is honoured by C_WrapKey too.
#[test]
fn rsa_wraps_secret_keys_and_allowed_mechanisms_bind_wrapping() {
    use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource};
    use cryptoki::mechanism::MechanismType;
    let s = user_session();
    let (public, private) = s
        .generate_key_pair(
            &Mechanism::RsaPkcsKeyPairGen,
            &[Attribute::ModulusBits(2048.into()), Attribute::Wrap(true)],
            &[Attribute::Unwrap(true)],
        )
        .unwrap();
    let target = secret(
        &s,
        KeyType::AES,
        &hex(FIPS197_PT),
        &[Attribute::Extractable(true)],
    );
    let oaep = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::empty(),
    ));
    for mech in [oaep, Mechanism::RsaPkcs] {
        let wrapped = s.wrap_key(&mech, public, target).unwrap();
        assert_eq!(wrapped.len(), 256);
        let back = s
            .unwrap_key(&mech, private, &wrapped, &readable(KeyType::AES, None))
            .unwrap();
        assert_eq!(value(&s, back), hex(FIPS197_PT), "{mech:?}");
    }
    let kek = secret(
        &s,
        KeyType::AES,
        &[8; 32],
        &[
            Attribute::Wrap(true),
            Attribute::AllowedMechanisms(vec![MechanismType::AES_KEY_WRAP]),
        ],
    );
    s.wrap_key(&Mechanism::AesKeyWrap, kek, target).unwrap();
    assert_rv(
        s.wrap_key(&Mechanism::AesKeyWrapPad, kek, target),
        RvError::MechanismInvalid,
    );
    // CKA_ALLOWED_MECHANISMS (an array attribute of mechanism types) reads back as set.
    let allowed = s
        .get_attributes(kek, &[AttributeType::AllowedMechanisms])
        .unwrap();
    assert_eq!(
        allowed,
        vec![Attribute::AllowedMechanisms(vec![
            MechanismType::AES_KEY_WRAP
        ])]
    );
}
