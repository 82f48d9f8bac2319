//! ECDSA, Ed25519, ECDH, X25519 and RSA (PKCS#1 v1.5, PSS, OAEP) vectors.

use std::collections::HashSet;

use cryptoki::error::RvError;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::Session;
use serde::Deserialize;

use crate::{
    check, import, load, new_secret_value, run, show, step, verified, Case, Expect, Hex, NoParams,
    Obj, Outcome, Verdict,
};

const P256_OID: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_OID: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
const X25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

/// `bytes` as a DER OCTET STRING (the CKA_EC_POINT encoding); points here are < 128 bytes.
fn octet_string(bytes: &[u8]) -> Vec<u8> {
    let len = u8::try_from(bytes.len())
        .ok()
        .filter(|n| *n < 0x80)
        .expect("a point short enough for a one-byte DER length");
    [&[0x04, len][..], bytes].concat()
}

// ---------------------------------------------------------------------------------------------
// Signature verification
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PublicKeyOf<K> {
    public_key: K,
}

#[derive(Deserialize)]
struct SigCase {
    msg: Hex,
    sig: Hex,
}

/// How to import a group's public key: its key type and attributes.
trait PublicKey {
    fn template(&self) -> (KeyType, Vec<Attribute>);
}

#[derive(Deserialize)]
struct EcPublic {
    curve: String,
    uncompressed: Hex,
}

impl PublicKey for EcPublic {
    fn template(&self) -> (KeyType, Vec<Attribute>) {
        let oid = match self.curve.as_str() {
            "secp256r1" => P256_OID,
            "secp384r1" => P384_OID,
            other => panic!("unexpected curve {other}"),
        };
        let attrs = vec![
            Attribute::EcParams(oid.to_vec()),
            Attribute::EcPoint(octet_string(&self.uncompressed)),
        ];
        (KeyType::EC, attrs)
    }
}

#[derive(Deserialize)]
struct EdPublic {
    pk: Hex,
}

impl PublicKey for EdPublic {
    fn template(&self) -> (KeyType, Vec<Attribute>) {
        let attrs = vec![
            Attribute::EcParams(ED25519_OID.to_vec()),
            Attribute::EcPoint(octet_string(&self.pk)),
        ];
        (KeyType::EC_EDWARDS, attrs)
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RsaPublic {
    modulus: Hex,
    public_exponent: Hex,
}

impl PublicKey for RsaPublic {
    fn template(&self) -> (KeyType, Vec<Attribute>) {
        let attrs = vec![
            Attribute::Modulus(self.modulus.to_vec()),
            Attribute::PublicExponent(self.public_exponent.to_vec()),
        ];
        (KeyType::RSA, attrs)
    }
}

const SIGNATURE_REFUSALS: &[RvError] = &[RvError::SignatureInvalid, RvError::SignatureLenRange];

/// C_Verify with `mech` under the group's imported public key.
fn verify<K: PublicKey>(
    mech: Mechanism<'static>,
) -> impl Fn(&Session, &PublicKeyOf<K>, &Case<SigCase>) -> Outcome {
    move |s, group, c| {
        let (ty, mut attrs) = group.public_key.template();
        attrs.push(Attribute::Verify(true));
        let key = import(s, ObjectClass::PUBLIC_KEY, ty, attrs).map_err(step("import"))?;
        let v = &c.data;
        let got = verified(s.verify(&mech, key.h, &v.msg, &v.sig));
        check(c.result, got, &[], SIGNATURE_REFUSALS)
    }
}

#[test]
fn ecdsa_p256_sha256_p1363() {
    let file = "ecdsa_secp256r1_sha256_p1363_test.json";
    run(
        "ecdsa_p256_sha256",
        file,
        250,
        verify::<EcPublic>(Mechanism::EcdsaSha256),
    );
}

#[test]
fn ecdsa_p384_sha384_p1363() {
    let file = "ecdsa_secp384r1_sha384_p1363_test.json";
    run(
        "ecdsa_p384_sha384",
        file,
        265,
        verify::<EcPublic>(Mechanism::EcdsaSha384),
    );
}

#[test]
fn ed25519() {
    let eddsa = Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure));
    run(
        "ed25519",
        "ed25519_test.json",
        145,
        verify::<EdPublic>(eddsa),
    );
}

#[test]
fn rsa_pkcs1_sha256_verify() {
    let file = "rsa_signature_2048_sha256_test.json";
    run(
        "rsa_pkcs1_sha256",
        file,
        255,
        verify::<RsaPublic>(Mechanism::Sha256RsaPkcs),
    );
}

#[test]
fn rsa_pss_sha256_mgf1_32_verify() {
    let pss = Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32u64.into(),
    });
    let file = "rsa_pss_2048_sha256_mgf1_32_test.json";
    run(
        "rsa_pss_sha256_mgf1_32",
        file,
        105,
        verify::<RsaPublic>(pss),
    );
}

// ---------------------------------------------------------------------------------------------
// ECDH (P-256, X25519) through C_DeriveKey
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
struct EcdhCase {
    public: Hex,
    private: Hex,
    shared: Hex,
}

/// CKM_ECDH1_DERIVE (CKD_NULL) with an imported `ty` private key on the curve `oid` and the
/// vector's raw peer point: the derived secret must be `shared`; a bad point must be refused
/// (any CKR) without creating a key.
fn ecdh(
    ty: KeyType,
    oid: &'static [u8],
) -> impl Fn(&Session, &NoParams, &Case<EcdhCase>) -> Outcome {
    move |s, _, c| {
        let v = &c.data;
        let attrs = [
            Attribute::EcParams(oid.to_vec()),
            Attribute::Value(v.private.to_vec()),
            Attribute::Derive(true),
        ];
        let key = import(s, ObjectClass::PRIVATE_KEY, ty, attrs).map_err(step("import"))?;
        let m = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &v.public));
        let shared = new_secret_value(s, None, |t| s.derive_key(&m, key.h, t));
        check(c.result, shared, &v.shared, &[])
    }
}

#[test]
fn ecdh_p256_ecpoint() {
    let file = "ecdh_secp256r1_ecpoint_test.json";
    run("ecdh_p256_ecpoint", file, 350, ecdh(KeyType::EC, P256_OID));
}

#[test]
fn x25519() {
    run(
        "x25519",
        "x25519_test.json",
        510,
        ecdh(KeyType::EC_MONTGOMERY, X25519_OID),
    );
}

// ---------------------------------------------------------------------------------------------
// RSA decryption: OAEP and PKCS#1 v1.5
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrivateKeyOf {
    private_key: RsaPrivate,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RsaPrivate {
    modulus: Hex,
    public_exponent: Hex,
    private_exponent: Hex,
    prime1: Hex,
    prime2: Hex,
    exponent1: Hex,
    exponent2: Hex,
    coefficient: Hex,
}

/// The group's RSA private key, with CKA_DECRYPT.
fn rsa_private<'s>(s: &'s Session, group: &PrivateKeyOf) -> Result<Obj<'s>, String> {
    let k = &group.private_key;
    let attrs = [
        Attribute::Modulus(k.modulus.to_vec()),
        Attribute::PublicExponent(k.public_exponent.to_vec()),
        Attribute::PrivateExponent(k.private_exponent.to_vec()),
        Attribute::Prime1(k.prime1.to_vec()),
        Attribute::Prime2(k.prime2.to_vec()),
        Attribute::Exponent1(k.exponent1.to_vec()),
        Attribute::Exponent2(k.exponent2.to_vec()),
        Attribute::Coefficient(k.coefficient.to_vec()),
        Attribute::Decrypt(true),
    ];
    import(s, ObjectClass::PRIVATE_KEY, KeyType::RSA, attrs).map_err(step("import"))
}

const DECRYPT_REFUSALS: &[RvError] = &[
    RvError::EncryptedDataInvalid,
    RvError::EncryptedDataLenRange,
];

#[derive(Deserialize)]
struct OaepCase {
    msg: Hex,
    ct: Hex,
    label: Hex,
}

/// CKM_RSA_PKCS_OAEP, SHA-256 and MGF1-SHA-256, with the vector's label.
#[test]
fn rsa_oaep_sha256_decrypt() {
    let file = "rsa_oaep_2048_sha256_mgf1sha256_test.json";
    run(
        "rsa_oaep_sha256",
        file,
        35,
        |s, group: &PrivateKeyOf, c: &Case<OaepCase>| {
            let key = rsa_private(s, group)?;
            let v = &c.data;
            let label = match &v.label[..] {
                [] => PkcsOaepSource::empty(),
                label => PkcsOaepSource::data_specified(label),
            };
            let params =
                PkcsOaepParams::new(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256, label);
            let got = s.decrypt(&Mechanism::RsaPkcsOaep(params), key.h, &v.ct);
            check(c.result, got, &v.msg, DECRYPT_REFUSALS)
        },
    );
}

#[derive(Deserialize)]
struct Pkcs1Case {
    msg: Hex,
    ct: Hex,
}

const IMPLICIT: &str = "implicit rejection";

/// CKM_RSA_PKCS decryption. The module uses implicit rejection: a ciphertext with bad padding
/// must decrypt (CKR_OK, no padding oracle) to a deterministic synthetic message that is none of
/// the file's messages. A malformed ciphertext (bad length, c ≥ n) may instead be refused.
#[test]
fn rsa_pkcs1_decrypt() {
    let file = "rsa_pkcs1_2048_test.json";
    let messages: HashSet<Vec<u8>> = load::<PrivateKeyOf, Pkcs1Case>(file)
        .iter()
        .flat_map(|g| g.tests.iter().map(|c| c.data.msg.to_vec()))
        .collect();
    run(
        "rsa_pkcs1_decrypt",
        file,
        65,
        |s, group: &PrivateKeyOf, c: &Case<Pkcs1Case>| {
            let key = rsa_private(s, group)?;
            let v = &c.data;
            let first = s.decrypt(&Mechanism::RsaPkcs, key.h, &v.ct);
            if c.result != Expect::Invalid {
                return check(c.result, first, &v.msg, &[]);
            }
            let bad_padding = c.has_flag("InvalidPkcs1Padding");
            match first {
                Err(e) if bad_padding => Err(format!(
                    "bad padding reported as {}, not by implicit rejection",
                    show(&e)
                )),
                Err(e) => check(c.result, Err(e), &[], DECRYPT_REFUSALS),
                Ok(synthetic) if messages.contains(&synthetic) => {
                    Err("bad ciphertext decrypted to one of the file's messages".into())
                }
                Ok(synthetic) => match s.decrypt(&Mechanism::RsaPkcs, key.h, &v.ct) {
                    Ok(again) if again == synthetic => Ok(Verdict::Rejected(IMPLICIT)),
                    other => Err(format!("second decryption differs: {other:?}")),
                },
            }
        },
    );
}
