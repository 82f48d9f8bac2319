//! Black-box tests of the asymmetric mechanisms (PKCS#11 3.0 RSA and EC): key pair
//! generation, signatures checked by the module and independently by aws-lc-rs, RSA-OAEP, and
//! public keys imported with C_CreateObject verifying signatures made outside the module.
mod common;

use aws_lc_rs::digest;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{
    KeySize, OaepAlgorithm, OaepPublicEncryptingKey, PublicEncryptingKey, PublicKeyComponents,
    OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OAEP_SHA384_MGF1SHA384, OAEP_SHA512_MGF1SHA512,
};
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, EcdsaSigningAlgorithm, EcdsaVerificationAlgorithm, KeyPair as _,
    RsaEncoding, RsaKeyPair, RsaParameters, UnparsedPublicKey,
};
use common::{assert_rv, rv_of};
use cryptoki::error::{Result, RvError};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;

const MSG: &[u8] = b"Keyward asymmetric test message, long enough to span several update calls.";
const RSA_BITS: u64 = 2048;

// ---------------------------------------------------------------------------------------------
// Hashes, curves and the mechanisms built from them
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug)]
enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

impl Hash {
    const ALL: [Hash; 3] = [Hash::Sha256, Hash::Sha384, Hash::Sha512];

    fn digest(self, data: &[u8]) -> Vec<u8> {
        let alg = match self {
            Hash::Sha256 => &digest::SHA256,
            Hash::Sha384 => &digest::SHA384,
            Hash::Sha512 => &digest::SHA512,
        };
        digest::digest(alg, data).as_ref().to_vec()
    }

    fn len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }

    fn mechanism_type(self) -> MechanismType {
        match self {
            Hash::Sha256 => MechanismType::SHA256,
            Hash::Sha384 => MechanismType::SHA384,
            Hash::Sha512 => MechanismType::SHA512,
        }
    }

    fn mgf(self) -> PkcsMgfType {
        match self {
            Hash::Sha256 => PkcsMgfType::MGF1_SHA256,
            Hash::Sha384 => PkcsMgfType::MGF1_SHA384,
            Hash::Sha512 => PkcsMgfType::MGF1_SHA512,
        }
    }

    /// The DER DigestInfo (RFC 8017 §9.2 note 1) that CKM_RSA_PKCS signs for this hash.
    fn digest_info(self, data: &[u8]) -> Vec<u8> {
        let oid_last = match self {
            Hash::Sha256 => 1,
            Hash::Sha384 => 2,
            Hash::Sha512 => 3,
        };
        let oid = [0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, oid_last];
        let algorithm = der(0x30, &[der(0x06, &oid), der(0x05, &[])].concat());
        der(0x30, &[algorithm, der(0x04, &self.digest(data))].concat())
    }

    /// PSS parameters matching this hash, salt as long as the hash (what aws-lc-rs expects).
    fn pss_params(self) -> PkcsPssParams {
        PkcsPssParams {
            hash_alg: self.mechanism_type(),
            mgf: self.mgf(),
            s_len: (self.len() as u64).into(),
        }
    }

    fn rsa_pkcs(self) -> Mechanism<'static> {
        match self {
            Hash::Sha256 => Mechanism::Sha256RsaPkcs,
            Hash::Sha384 => Mechanism::Sha384RsaPkcs,
            Hash::Sha512 => Mechanism::Sha512RsaPkcs,
        }
    }

    fn rsa_pss(self, params: PkcsPssParams) -> Mechanism<'static> {
        match self {
            Hash::Sha256 => Mechanism::Sha256RsaPkcsPss(params),
            Hash::Sha384 => Mechanism::Sha384RsaPkcsPss(params),
            Hash::Sha512 => Mechanism::Sha512RsaPkcsPss(params),
        }
    }

    fn ecdsa(self) -> Mechanism<'static> {
        match self {
            Hash::Sha256 => Mechanism::EcdsaSha256,
            Hash::Sha384 => Mechanism::EcdsaSha384,
            Hash::Sha512 => Mechanism::EcdsaSha512,
        }
    }

    fn aws_pkcs1(self) -> &'static RsaParameters {
        match self {
            Hash::Sha256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Hash::Sha384 => &signature::RSA_PKCS1_2048_8192_SHA384,
            Hash::Sha512 => &signature::RSA_PKCS1_2048_8192_SHA512,
        }
    }

    fn aws_pss(self) -> &'static RsaParameters {
        match self {
            Hash::Sha256 => &signature::RSA_PSS_2048_8192_SHA256,
            Hash::Sha384 => &signature::RSA_PSS_2048_8192_SHA384,
            Hash::Sha512 => &signature::RSA_PSS_2048_8192_SHA512,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Curve {
    P256,
    P384,
    P521,
}

impl Curve {
    const ALL: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];

    /// CKA_EC_PARAMS: the DER namedCurve OID (RFC 5480 §2.1.1.1).
    fn ec_params(self) -> &'static [u8] {
        match self {
            Curve::P256 => &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07],
            Curve::P384 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22],
            Curve::P521 => &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23],
        }
    }

    fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// The aws-lc-rs verifier for this curve and hash, and whether it takes r‖s (else DER).
    fn aws_verifier(self, hash: Hash) -> (&'static EcdsaVerificationAlgorithm, bool) {
        match (self, hash) {
            (Curve::P256, Hash::Sha256) => (&signature::ECDSA_P256_SHA256_FIXED, true),
            (Curve::P256, Hash::Sha384) => (&signature::ECDSA_P256_SHA384_ASN1, false),
            (Curve::P256, Hash::Sha512) => (&signature::ECDSA_P256_SHA512_ASN1, false),
            (Curve::P384, Hash::Sha256) => (&signature::ECDSA_P384_SHA256_ASN1, false),
            (Curve::P384, Hash::Sha384) => (&signature::ECDSA_P384_SHA384_FIXED, true),
            (Curve::P384, Hash::Sha512) => (&signature::ECDSA_P384_SHA512_ASN1, false),
            (Curve::P521, Hash::Sha256) => (&signature::ECDSA_P521_SHA256_FIXED, true),
            (Curve::P521, Hash::Sha384) => (&signature::ECDSA_P521_SHA384_FIXED, true),
            (Curve::P521, Hash::Sha512) => (&signature::ECDSA_P521_SHA512_FIXED, true),
        }
    }

    /// aws-lc-rs's verdict on an r‖s signature of `msg` (hashed with `hash`) by `point`.
    fn aws_verify(self, hash: Hash, point: &[u8], msg: &[u8], sig: &[u8]) -> bool {
        let (alg, fixed) = self.aws_verifier(hash);
        let sig = if fixed { sig.to_vec() } else { ecdsa_der(sig) };
        UnparsedPublicKey::new(alg, point).verify(msg, &sig).is_ok()
    }
}

// ---------------------------------------------------------------------------------------------
// Tiny DER encoder
// ---------------------------------------------------------------------------------------------

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

fn strip_zeros(be: &[u8]) -> &[u8] {
    let first = be.iter().position(|b| *b != 0).unwrap_or(be.len());
    &be[first..]
}

fn der_uint(be: &[u8]) -> Vec<u8> {
    let value = strip_zeros(be);
    let mut content = Vec::new();
    if value.first().is_none_or(|b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(value);
    der(0x02, &content)
}

/// r‖s as the DER ECDSA-Sig-Value (RFC 3279 §2.2.3).
fn ecdsa_der(fixed: &[u8]) -> Vec<u8> {
    let (r, s) = fixed.split_at(fixed.len() / 2);
    der(0x30, &[der_uint(r), der_uint(s)].concat())
}

// ---------------------------------------------------------------------------------------------
// Keys and attributes
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Pair {
    public: ObjectHandle,
    private: ObjectHandle,
}

fn rsa_pair_with(s: &Session, public: &[Attribute]) -> Result<Pair> {
    let mut public_template = vec![
        Attribute::Token(false),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
    ];
    public_template.extend_from_slice(public);
    let private_template = [
        Attribute::Token(false),
        Attribute::Sign(true),
        Attribute::Decrypt(true),
    ];
    let mech = Mechanism::RsaPkcsKeyPairGen;
    let (public, private) = s.generate_key_pair(&mech, &public_template, &private_template)?;
    Ok(Pair { public, private })
}

fn rsa_pair(s: &Session, bits: u64) -> Pair {
    rsa_pair_with(s, &[Attribute::ModulusBits(bits.into())]).expect("RSA C_GenerateKeyPair")
}

fn ec_pair_with(s: &Session, ec_params: &[u8]) -> Result<Pair> {
    let public = [
        Attribute::Token(false),
        Attribute::Verify(true),
        Attribute::EcParams(ec_params.to_vec()),
    ];
    let private = [Attribute::Token(false), Attribute::Sign(true)];
    let (public, private) = s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)?;
    Ok(Pair { public, private })
}

fn ec_pair(s: &Session, curve: Curve) -> Pair {
    ec_pair_with(s, curve.ec_params()).expect("EC C_GenerateKeyPair")
}

fn attribute(s: &Session, object: ObjectHandle, ty: AttributeType) -> Attribute {
    let mut attrs = s
        .get_attributes(object, &[ty])
        .expect("C_GetAttributeValue");
    assert_eq!(attrs.len(), 1, "{ty:?} is readable");
    attrs.remove(0)
}

fn bytes_attr(s: &Session, object: ObjectHandle, ty: AttributeType) -> Vec<u8> {
    match attribute(s, object, ty) {
        Attribute::Modulus(v)
        | Attribute::PublicExponent(v)
        | Attribute::EcParams(v)
        | Attribute::EcPoint(v) => v,
        other => panic!("unexpected attribute {other:?}"),
    }
}

/// (n, e) of an RSA key, big-endian without leading zeros.
fn rsa_public(s: &Session, key: ObjectHandle) -> (Vec<u8>, Vec<u8>) {
    let n = bytes_attr(s, key, AttributeType::Modulus);
    let e = bytes_attr(s, key, AttributeType::PublicExponent);
    (strip_zeros(&n).to_vec(), strip_zeros(&e).to_vec())
}

fn aws_rsa_verify(params: &RsaParameters, n_e: &(Vec<u8>, Vec<u8>), sig: &[u8]) -> bool {
    let key = PublicKeyComponents {
        n: &n_e.0[..],
        e: &n_e.1[..],
    };
    key.verify(params, MSG, sig).is_ok()
}

/// The uncompressed point inside CKA_EC_POINT, which must be exactly a DER OCTET STRING
/// wrapping 04‖X‖Y (PKCS#11 3.0, EC public key objects).
fn ec_point(s: &Session, key: ObjectHandle, curve: Curve) -> Vec<u8> {
    let encoded = bytes_attr(s, key, AttributeType::EcPoint);
    let point_len = 1 + 2 * curve.field_len();
    assert!(
        encoded.len() > point_len,
        "{curve:?}: CKA_EC_POINT too short"
    );
    let point = encoded[encoded.len() - point_len..].to_vec();
    assert_eq!(encoded, der(0x04, &point), "{curve:?}: DER OCTET STRING");
    assert_eq!(point[0], 0x04, "{curve:?}: uncompressed point");
    point
}

/// CKA_LOCAL and CKA_KEY_GEN_MECHANISM of both halves of a generated pair.
fn check_generated(s: &Session, pair: Pair, mech: MechanismType) {
    let types = [AttributeType::Local, AttributeType::KeyGenMechanism];
    for key in [pair.public, pair.private] {
        let attrs = s.get_attributes(key, &types).expect("C_GetAttributeValue");
        assert_eq!(
            attrs,
            [Attribute::Local(true), Attribute::KeyGenMechanism(mech)]
        );
    }
}

fn create_public_key(s: &Session, key_type: KeyType, material: &[Attribute]) -> ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::KeyType(key_type),
        Attribute::Token(false),
        Attribute::Verify(true),
    ];
    template.extend_from_slice(material);
    s.create_object(&template)
        .expect("C_CreateObject public key")
}

// ---------------------------------------------------------------------------------------------
// Signing and verifying through the module
// ---------------------------------------------------------------------------------------------

/// The message fed to C_SignUpdate/C_VerifyUpdate in uneven pieces, one of them empty.
fn parts(data: &[u8]) -> [&[u8]; 4] {
    let (a, rest) = data.split_at(1.min(data.len()));
    let (b, c) = rest.split_at(7.min(rest.len()));
    [a, b, &[], c]
}

fn sign_parts(s: &Session, mech: &Mechanism, key: ObjectHandle, data: &[u8]) -> Vec<u8> {
    s.sign_init(mech, key).expect("C_SignInit");
    for part in parts(data) {
        s.sign_update(part).expect("C_SignUpdate");
    }
    s.sign_final().expect("C_SignFinal")
}

fn verify_parts(
    s: &Session,
    mech: &Mechanism,
    key: ObjectHandle,
    data: &[u8],
    sig: &[u8],
) -> Result<()> {
    s.verify_init(mech, key)?;
    for part in parts(data) {
        s.verify_update(part)?;
    }
    s.verify_final(sig)
}

/// A good signature verifies; a flipped bit, all zeros and all ones (r, s or the RSA
/// representative out of range) are CKR_SIGNATURE_INVALID; a byte too short or too long is
/// CKR_SIGNATURE_LEN_RANGE (PKCS#11 3.0, C_Verify).
#[track_caller]
fn check_verify(verify: impl Fn(&[u8]) -> Result<()>, sig: &[u8]) {
    verify(sig).expect("a good signature verifies");
    let mut flipped = sig.to_vec();
    *flipped.last_mut().expect("non-empty signature") ^= 0x01;
    for bad in [flipped, vec![0; sig.len()], vec![0xff; sig.len()]] {
        assert_rv(verify(&bad), RvError::SignatureInvalid);
    }
    assert_rv(verify(&sig[..sig.len() - 1]), RvError::SignatureLenRange);
    let mut long = sig.to_vec();
    long.push(0);
    assert_rv(verify(&long), RvError::SignatureLenRange);
}

#[derive(Clone, Copy, PartialEq)]
enum Parts {
    /// Single-part only (mechanisms on a hash).
    Single,
    /// Single and multi-part; the signature scheme is randomized.
    Randomized,
    /// Single and multi-part; both must give the same signature.
    Deterministic,
}

/// Sign `data` with `mech` (single-part, and multi-part unless `Parts::Single`); every signature
/// has `sig_len` bytes, passes `independent` and the module's own checks (single and multi-part).
#[track_caller]
fn exercise(
    s: &Session,
    pair: Pair,
    mech: &Mechanism,
    data: &[u8],
    sig_len: usize,
    parts: Parts,
    independent: impl Fn(&[u8]) -> bool,
) {
    let single = s.sign(mech, pair.private, data).expect("C_Sign");
    let mut signatures = vec![single.clone()];
    if parts != Parts::Single {
        let multi = sign_parts(s, mech, pair.private, data);
        if parts == Parts::Deterministic {
            assert_eq!(multi, single, "{mech:?}: multi-part equals single-part");
        }
        signatures.push(multi);
    }
    for sig in &signatures {
        assert_eq!(sig.len(), sig_len, "{mech:?}: signature length");
        assert!(
            independent(sig),
            "{mech:?}: aws-lc-rs rejects the signature"
        );
        s.verify(mech, pair.public, data, sig)
            .expect("C_Verify of a good signature");
    }
    check_verify(|sig| s.verify(mech, pair.public, data, sig), &single);
    if parts != Parts::Single {
        check_verify(|sig| verify_parts(s, mech, pair.public, data, sig), &single);
    }
}

// ---------------------------------------------------------------------------------------------
// RSA key pair generation
// ---------------------------------------------------------------------------------------------

fn check_rsa_generation(s: &Session, bits: u64, exponent: Option<&[u8]>) {
    let mut public = vec![Attribute::ModulusBits(bits.into())];
    public.extend(exponent.map(|e| Attribute::PublicExponent(e.to_vec())));
    let pair = rsa_pair_with(s, &public).expect("RSA C_GenerateKeyPair");
    let modulus_bits = attribute(s, pair.public, AttributeType::ModulusBits);
    assert_eq!(modulus_bits, Attribute::ModulusBits(bits.into()));
    let (n, e) = rsa_public(s, pair.public);
    assert_eq!(n.len() * 8, bits as usize, "modulus of {bits} bits");
    assert!(n[0] & 0x80 != 0, "top bit of the modulus set");
    assert_eq!(e, [0x01, 0x00, 0x01], "public exponent 65537");
    assert_eq!(
        rsa_public(s, pair.private),
        (n, e),
        "private key carries n, e"
    );
    check_generated(s, pair, MechanismType::RSA_PKCS_KEY_PAIR_GEN);
}

#[test]
fn rsa_key_pair_generation_2048_and_3072() {
    let s = common::user_session();
    // 65537 is the default when CKA_PUBLIC_EXPONENT is absent; also ask for it explicitly.
    check_rsa_generation(&s, 2048, None);
    check_rsa_generation(&s, 3072, Some(&[0x01, 0x00, 0x01]));
}

#[test]
fn rsa_key_pair_generation_4096() {
    let s = common::user_session();
    check_rsa_generation(&s, 4096, None);
}

#[test]
fn rsa_key_pair_generation_rejects_bad_sizes() {
    let s = common::user_session();
    for bits in [1024u64, 1000] {
        let template = [Attribute::ModulusBits(bits.into())];
        assert_rv(
            rsa_pair_with(&s, &template).map(|_| ()),
            RvError::KeySizeRange,
        );
    }
}

#[test]
fn rsa_key_pair_generation_requires_modulus_bits() {
    let s = common::user_session();
    let template = [Attribute::PublicExponent(vec![0x01, 0x00, 0x01])];
    assert_rv(
        rsa_pair_with(&s, &template).map(|_| ()),
        RvError::TemplateIncomplete,
    );
}

// ---------------------------------------------------------------------------------------------
// RSA signatures
// ---------------------------------------------------------------------------------------------

#[test]
fn rsa_pkcs_signs_caller_digest_info() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    let n_e = rsa_public(&s, pair.public);
    let k = RSA_BITS as usize / 8;
    for hash in Hash::ALL {
        let digest_info = hash.digest_info(MSG);
        exercise(
            &s,
            pair,
            &Mechanism::RsaPkcs,
            &digest_info,
            k,
            Parts::Single,
            |sig| aws_rsa_verify(hash.aws_pkcs1(), &n_e, sig),
        );
        // PKCS #1 v1.5 is deterministic: the same as the module hashing itself.
        let raw = s.sign(&Mechanism::RsaPkcs, pair.private, &digest_info);
        let hashed = s.sign(&hash.rsa_pkcs(), pair.private, MSG);
        assert_eq!(raw.unwrap(), hashed.unwrap(), "{hash:?}");
    }
    // At most k - 11 bytes fit in the PKCS #1 v1.5 block (PKCS#11 3.0, PKCS #1 v1.5 RSA key and data lengths).
    let too_long = vec![0x5a; k - 10];
    assert_rv(
        s.sign(&Mechanism::RsaPkcs, pair.private, &too_long),
        RvError::DataLenRange,
    );
}

#[test]
fn rsa_pkcs_with_hash_single_and_multi_part() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    let n_e = rsa_public(&s, pair.public);
    for hash in Hash::ALL {
        let k = RSA_BITS as usize / 8;
        exercise(
            &s,
            pair,
            &hash.rsa_pkcs(),
            MSG,
            k,
            Parts::Deterministic,
            |sig| aws_rsa_verify(hash.aws_pkcs1(), &n_e, sig),
        );
    }
}

#[test]
fn rsa_pss_on_hash() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    let n_e = rsa_public(&s, pair.public);
    for hash in Hash::ALL {
        let mech = Mechanism::RsaPkcsPss(hash.pss_params());
        let k = RSA_BITS as usize / 8;
        exercise(
            &s,
            pair,
            &mech,
            &hash.digest(MSG),
            k,
            Parts::Single,
            |sig| aws_rsa_verify(hash.aws_pss(), &n_e, sig),
        );
        // The input is the hash itself, exactly hLen bytes (PKCS#11 3.0, PKCS #1 RSA PSS).
        for len in [hash.len() - 1, hash.len() + 1] {
            let data = vec![0x5a; len];
            assert_rv(s.sign(&mech, pair.private, &data), RvError::DataLenRange);
        }
    }
}

#[test]
fn rsa_pss_with_hash_single_and_multi_part() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    let n_e = rsa_public(&s, pair.public);
    for hash in Hash::ALL {
        let mech = hash.rsa_pss(hash.pss_params());
        let k = RSA_BITS as usize / 8;
        exercise(&s, pair, &mech, MSG, k, Parts::Randomized, |sig| {
            aws_rsa_verify(hash.aws_pss(), &n_e, sig)
        });
    }
}

#[test]
fn rsa_pss_rejects_mismatched_hash_alg() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    // CKM_SHAx_RSA_PKCS_PSS: hashAlg must be the mechanism's own hash (PKCS#11 3.0, PKCS #1 RSA PSS).
    for (hash, other) in [
        (Hash::Sha256, Hash::Sha384),
        (Hash::Sha384, Hash::Sha512),
        (Hash::Sha512, Hash::Sha256),
    ] {
        let mech = hash.rsa_pss(other.pss_params());
        assert_rv(
            s.sign_init(&mech, pair.private),
            RvError::MechanismParamInvalid,
        );
        assert_rv(
            s.verify_init(&mech, pair.public),
            RvError::MechanismParamInvalid,
        );
    }
}

// ---------------------------------------------------------------------------------------------
// RSA-OAEP
// ---------------------------------------------------------------------------------------------

struct Oaep {
    hash: MechanismType,
    mgf: PkcsMgfType,
    hash_len: usize,
    /// The same scheme in aws-lc-rs, where it has one (not for SHA-224).
    aws: Option<&'static OaepAlgorithm>,
}

const OAEP_SHA1: Oaep = Oaep {
    hash: MechanismType::SHA1,
    mgf: PkcsMgfType::MGF1_SHA1,
    hash_len: 20,
    aws: Some(&OAEP_SHA1_MGF1SHA1),
};
const OAEP_SHA224: Oaep = Oaep {
    hash: MechanismType::SHA224,
    mgf: PkcsMgfType::MGF1_SHA224,
    hash_len: 28,
    aws: None,
};
const OAEP_SHA256: Oaep = Oaep {
    hash: MechanismType::SHA256,
    mgf: PkcsMgfType::MGF1_SHA256,
    hash_len: 32,
    aws: Some(&OAEP_SHA256_MGF1SHA256),
};
const OAEP_SHA384: Oaep = Oaep {
    hash: MechanismType::SHA384,
    mgf: PkcsMgfType::MGF1_SHA384,
    hash_len: 48,
    aws: Some(&OAEP_SHA384_MGF1SHA384),
};
const OAEP_SHA512: Oaep = Oaep {
    hash: MechanismType::SHA512,
    mgf: PkcsMgfType::MGF1_SHA512,
    hash_len: 64,
    aws: Some(&OAEP_SHA512_MGF1SHA512),
};
/// Every OAEP hash the module offers.
const OAEPS: [&Oaep; 5] = [
    &OAEP_SHA1,
    &OAEP_SHA224,
    &OAEP_SHA256,
    &OAEP_SHA384,
    &OAEP_SHA512,
];
const LABEL: &[u8] = b"keyward oaep label";
const SECRET: &[u8] = b"a secret worth wrapping";

impl Oaep {
    fn mechanism<'a>(&self, label: Option<&'a [u8]>) -> Mechanism<'a> {
        let source = label.map_or(PkcsOaepSource::empty(), PkcsOaepSource::data_specified);
        Mechanism::RsaPkcsOaep(PkcsOaepParams::new(self.hash, self.mgf, source))
    }
}

#[test]
fn rsa_oaep_round_trip() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    let k = RSA_BITS as usize / 8;
    for oaep in OAEPS {
        for label in [None, Some(LABEL)] {
            let mech = oaep.mechanism(label);
            let max = vec![0xa5; k - 2 * oaep.hash_len - 2];
            for plaintext in [SECRET, &max[..], &[]] {
                let ct = s.encrypt(&mech, pair.public, plaintext).expect("C_Encrypt");
                assert_eq!(ct.len(), k, "{:?} ciphertext length", oaep.hash);
                let again = s.encrypt(&mech, pair.public, plaintext).unwrap();
                assert_ne!(ct, again, "OAEP is randomized");
                let pt = s.decrypt(&mech, pair.private, &ct).expect("C_Decrypt");
                assert_eq!(pt, plaintext, "{:?} label {label:?}", oaep.hash);
            }
            // One byte more than k - 2hLen - 2 does not fit (PKCS#11 3.0, PKCS #1 RSA OAEP).
            let too_long = vec![0xa5; max.len() + 1];
            assert_rv(
                s.encrypt(&mech, pair.public, &too_long),
                RvError::DataLenRange,
            );
        }
    }
}

#[test]
fn rsa_oaep_decrypts_aws_lc_ciphertext() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    let (n, e) = rsa_public(&s, pair.public);
    let components = PublicKeyComponents { n, e };
    let public: PublicEncryptingKey = components.try_into().expect("aws-lc public key");
    let public = OaepPublicEncryptingKey::new(public).expect("OAEP key");
    for (oaep, aws) in OAEPS.iter().filter_map(|o| Some((o, o.aws?))) {
        for label in [None, Some(LABEL)] {
            let mut buf = vec![0; public.ciphertext_size()];
            let ct = public
                .encrypt(aws, SECRET, &mut buf, label)
                .expect("aws-lc OAEP encrypt");
            let pt = s.decrypt(&oaep.mechanism(label), pair.private, ct);
            assert_eq!(pt.expect("C_Decrypt"), SECRET, "{:?} {label:?}", oaep.hash);
        }
    }
}

#[test]
fn rsa_oaep_wrong_label_is_encrypted_data_invalid() {
    let s = common::user_session();
    let pair = rsa_pair(&s, RSA_BITS);
    let ct = s
        .encrypt(&OAEP_SHA256.mechanism(Some(LABEL)), pair.public, SECRET)
        .expect("C_Encrypt");
    let mut tampered = ct.clone();
    let last = tampered.len() - 1;
    tampered[last] ^= 0x01;
    let other_label: &[u8] = b"another label";
    for (mech, data) in [
        (OAEP_SHA256.mechanism(Some(other_label)), &ct),
        (OAEP_SHA256.mechanism(None), &ct),
        (OAEP_SHA1.mechanism(Some(LABEL)), &ct),
        (OAEP_SHA256.mechanism(Some(LABEL)), &tampered),
    ] {
        assert_rv(
            s.decrypt(&mech, pair.private, data),
            RvError::EncryptedDataInvalid,
        );
    }
    let pt = s.decrypt(&OAEP_SHA256.mechanism(Some(LABEL)), pair.private, &ct);
    assert_eq!(pt.expect("the right label still decrypts"), SECRET);
}

// ---------------------------------------------------------------------------------------------
// EC
// ---------------------------------------------------------------------------------------------

#[test]
fn ec_key_pair_generation_on_nist_curves() {
    let s = common::user_session();
    for curve in Curve::ALL {
        let pair = ec_pair(&s, curve);
        for key in [pair.public, pair.private] {
            assert_eq!(
                bytes_attr(&s, key, AttributeType::EcParams),
                curve.ec_params(),
                "{curve:?}"
            );
            assert!(matches!(
                attribute(&s, key, AttributeType::KeyType),
                Attribute::KeyType(KeyType::EC)
            ));
        }
        ec_point(&s, pair.public, curve);
        check_generated(&s, pair, MechanismType::ECC_KEY_PAIR_GEN);
    }
}

#[test]
fn ec_key_pair_generation_rejects_unsupported_curve() {
    let s = common::user_session();
    let secp256k1 = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
    let brainpool_p256r1 = [
        0x06, 0x09, 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07,
    ];
    for params in [&secp256k1[..], &brainpool_p256r1[..]] {
        let err = ec_pair_with(&s, params).err().expect("unsupported curve");
        let rv = rv_of(&err);
        assert!(
            matches!(
                rv,
                RvError::CurveNotSupported | RvError::DomainParamsInvalid
            ),
            "{params:02x?}: got {rv:?}"
        );
    }
    let no_params = [Attribute::Verify(true)];
    let result = s.generate_key_pair(&Mechanism::EccKeyPairGen, &no_params, &[]);
    assert_rv(result, RvError::TemplateIncomplete);
}

#[test]
fn ecdsa_on_hash() {
    let s = common::user_session();
    for curve in Curve::ALL {
        let pair = ec_pair(&s, curve);
        let point = ec_point(&s, pair.public, curve);
        for hash in Hash::ALL {
            let sig_len = 2 * curve.field_len();
            let digest = hash.digest(MSG);
            exercise(
                &s,
                pair,
                &Mechanism::Ecdsa,
                &digest,
                sig_len,
                Parts::Single,
                |sig| curve.aws_verify(hash, &point, MSG, sig),
            );
        }
    }
}

#[test]
fn ecdsa_with_hash_single_and_multi_part() {
    let s = common::user_session();
    for curve in Curve::ALL {
        let pair = ec_pair(&s, curve);
        let point = ec_point(&s, pair.public, curve);
        for hash in Hash::ALL {
            let sig_len = 2 * curve.field_len();
            exercise(
                &s,
                pair,
                &hash.ecdsa(),
                MSG,
                sig_len,
                Parts::Randomized,
                |sig| curve.aws_verify(hash, &point, MSG, sig),
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Imported public keys verify signatures made by aws-lc-rs
// ---------------------------------------------------------------------------------------------

/// Module verification of an outside signature, single and multi-part; also CKA_LOCAL false.
#[track_caller]
fn check_imported(s: &Session, key: ObjectHandle, mech: &Mechanism, sig: &[u8]) {
    assert!(matches!(
        attribute(s, key, AttributeType::Local),
        Attribute::Local(false)
    ));
    check_verify(|sig| s.verify(mech, key, MSG, sig), sig);
    check_verify(|sig| verify_parts(s, mech, key, MSG, sig), sig);
}

#[test]
fn imported_rsa_public_key_verifies_aws_lc_signature() {
    let s = common::user_session();
    let aws_key = RsaKeyPair::generate(KeySize::Rsa2048).expect("aws-lc RSA key");
    let public = aws_key.public_key();
    let key = create_public_key(
        &s,
        KeyType::RSA,
        &[
            Attribute::Modulus(public.modulus().big_endian_without_leading_zero().to_vec()),
            Attribute::PublicExponent(public.exponent().big_endian_without_leading_zero().to_vec()),
        ],
    );
    let modulus_bits = attribute(&s, key, AttributeType::ModulusBits);
    assert_eq!(modulus_bits, Attribute::ModulusBits(2048.into()));
    let cases: [(&'static dyn RsaEncoding, Mechanism); 2] = [
        (&signature::RSA_PKCS1_SHA256, Mechanism::Sha256RsaPkcs),
        (
            &signature::RSA_PSS_SHA384,
            Hash::Sha384.rsa_pss(Hash::Sha384.pss_params()),
        ),
    ];
    for (encoding, mech) in &cases {
        let mut sig = vec![0; aws_key.public_modulus_len()];
        aws_key
            .sign(*encoding, &SystemRandom::new(), MSG, &mut sig)
            .expect("aws-lc sign");
        check_imported(&s, key, mech, &sig);
    }
}

#[test]
fn imported_ec_public_key_verifies_aws_lc_signature() {
    let s = common::user_session();
    let cases: [(Curve, &'static EcdsaSigningAlgorithm, Hash); 3] = [
        (
            Curve::P256,
            &signature::ECDSA_P256_SHA256_FIXED_SIGNING,
            Hash::Sha256,
        ),
        (
            Curve::P384,
            &signature::ECDSA_P384_SHA384_FIXED_SIGNING,
            Hash::Sha384,
        ),
        (
            Curve::P521,
            &signature::ECDSA_P521_SHA512_FIXED_SIGNING,
            Hash::Sha512,
        ),
    ];
    for (curve, alg, hash) in cases {
        let aws_key = EcdsaKeyPair::generate(alg).expect("aws-lc EC key");
        let point = aws_key.public_key().as_ref();
        let key = create_public_key(
            &s,
            KeyType::EC,
            &[
                Attribute::EcParams(curve.ec_params().to_vec()),
                Attribute::EcPoint(der(0x04, point)),
            ],
        );
        let sig = aws_key
            .sign(&SystemRandom::new(), MSG)
            .expect("aws-lc sign");
        check_imported(&s, key, &hash.ecdsa(), sig.as_ref());
    }
}
