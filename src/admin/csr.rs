//! A PKCS#10 certificate request (RFC 2986) for a rotated key pair: the new public key, the
//! subject of the certificate that named the previous version, signed on the token by the
//! new private key. DER by the RustCrypto `x509-cert`, `spki`, `pkcs1` and `der` crates.

use cryptoki_sys::*;
use pkcs8::der::asn1::{AnyRef, BitString, ObjectIdentifier, SequenceOf, UintRef};
use pkcs8::der::{Decode, Encode};
use x509_cert::name::Name;
use x509_cert::request::{CertReq, CertReqInfo, Version};
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};

use crate::error::{Error, Result};
use crate::mechanism::{MechanismRequest, Param};
use crate::object::Object;
use crate::provider::Provider;

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const EC_PUBLIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ECDSA_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");

fn der_error(_: pkcs8::der::Error) -> Error {
    Error::GeneralError
}

fn alg(oid: ObjectIdentifier, params: Option<AnyRef<'_>>) -> Result<AlgorithmIdentifierOwned> {
    Ok(AlgorithmIdentifierOwned {
        oid,
        parameters: params.map(pkcs8::der::Any::from),
    })
}

/// The raw point inside CKA_EC_POINT (a DER OCTET STRING, or already raw).
fn raw_point(v: &[u8]) -> &[u8] {
    crate::crypto::ec::unwrap_octet_string(v).unwrap_or(v)
}

/// The SubjectPublicKeyInfo of a public key object, and how to sign with its private half.
fn spki_of(
    public: &Object,
) -> Result<(
    SubjectPublicKeyInfoOwned,
    CK_MECHANISM_TYPE,
    AlgorithmIdentifierOwned,
)> {
    let a = public.attrs();
    let need = |ty| a.get(ty).ok_or(Error::KeyTypeInconsistent);
    let (algorithm, key, mech, sig_alg) = match public.shape().subtype {
        CKK_RSA => {
            let rsa = pkcs1::RsaPublicKey {
                modulus: UintRef::new(need(CKA_MODULUS)?).map_err(der_error)?,
                public_exponent: UintRef::new(need(CKA_PUBLIC_EXPONENT)?).map_err(der_error)?,
            };
            let key = rsa.to_der().map_err(der_error)?;
            (
                alg(RSA, Some(AnyRef::NULL))?,
                key,
                CKM_SHA256_RSA_PKCS,
                alg(SHA256_RSA, Some(AnyRef::NULL))?,
            )
        }
        CKK_EC => {
            let curve = ObjectIdentifier::from_der(need(CKA_EC_PARAMS)?).map_err(der_error)?;
            let params = AnyRef::from(&curve);
            let key = raw_point(need(CKA_EC_POINT)?).to_vec();
            (
                alg(EC_PUBLIC, Some(params))?,
                key,
                CKM_ECDSA_SHA256,
                alg(ECDSA_SHA256, None)?,
            )
        }
        CKK_EC_EDWARDS => {
            let key = raw_point(need(CKA_EC_POINT)?).to_vec();
            (alg(ED25519, None)?, key, CKM_EDDSA, alg(ED25519, None)?)
        }
        _ => return Err(Error::KeyTypeInconsistent),
    };
    let spki = SubjectPublicKeyInfoOwned {
        algorithm,
        subject_public_key: BitString::from_bytes(&key).map_err(der_error)?,
    };
    Ok((spki, mech, sig_alg))
}

/// ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } from PKCS#11's r ‖ s.
fn ecdsa_sig_der(raw: &[u8]) -> Result<Vec<u8>> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let mut seq: SequenceOf<UintRef<'_>, 2> = SequenceOf::new();
    seq.add(UintRef::new(r).map_err(der_error)?)
        .map_err(der_error)?;
    seq.add(UintRef::new(s).map_err(der_error)?)
        .map_err(der_error)?;
    seq.to_der().map_err(der_error)
}

/// The DER public key (SubjectPublicKeyInfo) of `public`.
pub fn public_key_der(public: &Object) -> Result<Vec<u8>> {
    spki_of(public)?.0.to_der().map_err(der_error)
}

/// A CSR for the key pair (`public`, private handle `private`) with `subject` (DER Name),
/// signed through `p` in session `h`.
pub fn request(
    p: &Provider,
    h: CK_SESSION_HANDLE,
    public: &Object,
    private: CK_OBJECT_HANDLE,
    subject: &[u8],
) -> Result<Vec<u8>> {
    let (spki, mech, algorithm) = spki_of(public)?;
    let info = CertReqInfo {
        version: Version::V1,
        subject: Name::from_der(subject).map_err(|_| Error::AttributeValueInvalid)?,
        public_key: spki,
        attributes: Default::default(),
    };
    let tbs = info.to_der().map_err(der_error)?;
    let m = MechanismRequest::new(mech, Param::None);
    p.sign_init(h, &m, private)?;
    let raw = match p.sign(h, &tbs, Some(usize::MAX))? {
        crate::session::Out::Data(sig) => sig.to_vec(),
        _ => return Err(Error::GeneralError),
    };
    let signature = if mech == CKM_ECDSA_SHA256 {
        ecdsa_sig_der(&raw)?
    } else {
        raw
    };
    CertReq {
        info,
        algorithm,
        signature: BitString::from_bytes(&signature).map_err(der_error)?,
    }
    .to_der()
    .map_err(der_error)
}
