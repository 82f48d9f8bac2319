//! Reading key files for `keyward key import`: PEM (any number of blocks) or DER; private
//! keys as PKCS#8, PKCS#1 (`RSA PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or encrypted PKCS#8;
//! X.509 certificates; public keys (SubjectPublicKeyInfo); PKCS#12 files. Every private key
//! comes out as PKCS#8 DER (zeroized), the form the token's own unwrapping decodes.

use pkcs8::der::asn1::{AnyRef, ObjectIdentifier};
use pkcs8::der::{Decode, Encode};
use pkcs8::{AlgorithmIdentifierRef, PrivateKeyInfo};
use x509_cert::Certificate;
use zeroize::Zeroizing;

use crate::crypto::ffi;

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC_PUBLIC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");

/// One thing found in a key file.
pub enum Item {
    /// PKCS#8 PrivateKeyInfo DER.
    PrivateKey(Zeroizing<Vec<u8>>),
    /// X.509 certificate DER.
    Certificate(Vec<u8>),
    /// SubjectPublicKeyInfo DER.
    PublicKey(Vec<u8>),
}

/// What a key file holds. `password` opens PKCS#12 files and encrypted PKCS#8 keys (None
/// where one is needed: an error that says so). Errors are messages for the administrator.
pub fn read(bytes: &[u8], password: Option<&[u8]>) -> Result<Vec<Item>, String> {
    if bytes.trim_ascii_start().starts_with(b"-----BEGIN ") {
        return pem_items(bytes, password);
    }
    der_item(bytes, password)
}

fn pem_items(bytes: &[u8], password: Option<&[u8]>) -> Result<Vec<Item>, String> {
    let text = std::str::from_utf8(bytes).map_err(|_| "the PEM file is not text".to_owned())?;
    let mut items = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("-----BEGIN ") {
        let block = &rest[start..];
        let end_marker = block
            .find("-----END ")
            .ok_or("a PEM block has no END line")?;
        let end = block[end_marker..]
            .find('\n')
            .map_or(block.len(), |n| end_marker + n + 1);
        let (label, der) = pkcs8::der::pem::decode_vec(&block.as_bytes()[..end])
            .map_err(|e| format!("a PEM block cannot be decoded: {e}"))?;
        let der = Zeroizing::new(der);
        items.push(match label {
            "PRIVATE KEY" => Item::PrivateKey(check_pkcs8(der)?),
            "RSA PRIVATE KEY" => Item::PrivateKey(from_pkcs1(&der)?),
            "EC PRIVATE KEY" => Item::PrivateKey(from_sec1(&der)?),
            "ENCRYPTED PRIVATE KEY" => Item::PrivateKey(decrypt(&der, password)?),
            "CERTIFICATE" => Item::Certificate(check_certificate(der.to_vec())?),
            "PUBLIC KEY" => Item::PublicKey(der.to_vec()),
            other => return Err(format!("PEM blocks labelled {other:?} are not imported")),
        });
        rest = &block[end..];
    }
    if items.is_empty() {
        return Err("the file has no PEM block".into());
    }
    Ok(items)
}

/// A DER file: a PKCS#8 key, a certificate, a public key, or else a PKCS#12 file.
fn der_item(bytes: &[u8], password: Option<&[u8]>) -> Result<Vec<Item>, String> {
    if PrivateKeyInfo::from_der(bytes).is_ok() {
        return Ok(vec![Item::PrivateKey(Zeroizing::new(bytes.to_vec()))]);
    }
    if Certificate::from_der(bytes).is_ok() {
        return Ok(vec![Item::Certificate(bytes.to_vec())]);
    }
    if pkcs8::spki::SubjectPublicKeyInfoRef::from_der(bytes).is_ok() {
        return Ok(vec![Item::PublicKey(bytes.to_vec())]);
    }
    let password = password.ok_or(
        "not a PEM file, a DER key or certificate; if it is PKCS#12 or an encrypted key, \
         give its password (--password-file or KEYWARD_IMPORT_PASSWORD)",
    )?;
    if let Ok(key) = ffi::pkcs8_decrypt(bytes, password) {
        return Ok(vec![Item::PrivateKey(key)]);
    }
    let (key, certs) = ffi::pkcs12_open(bytes, password).map_err(|_| {
        "neither a DER key or certificate, nor a PKCS#12 file or encrypted key that this \
         password opens"
            .to_owned()
    })?;
    let mut items: Vec<Item> = key.map(Item::PrivateKey).into_iter().collect();
    items.extend(certs.into_iter().map(Item::Certificate));
    Ok(items)
}

fn check_pkcs8(der: Zeroizing<Vec<u8>>) -> Result<Zeroizing<Vec<u8>>, String> {
    PrivateKeyInfo::from_der(&der).map_err(|e| format!("malformed PKCS#8 private key: {e}"))?;
    Ok(der)
}

fn check_certificate(der: Vec<u8>) -> Result<Vec<u8>, String> {
    Certificate::from_der(&der).map_err(|e| format!("malformed certificate: {e}"))?;
    Ok(der)
}

fn decrypt(der: &[u8], password: Option<&[u8]>) -> Result<Zeroizing<Vec<u8>>, String> {
    let password = password.ok_or(
        "the private key is encrypted: give its password (--password-file or \
         KEYWARD_IMPORT_PASSWORD)",
    )?;
    ffi::pkcs8_decrypt(der, password)
        .map_err(|_| "the encrypted private key does not open with this password".to_owned())
}

/// PKCS#8 around a PKCS#1 RSAPrivateKey.
fn from_pkcs1(der: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    pkcs1::RsaPrivateKey::from_der(der).map_err(|e| format!("malformed RSA private key: {e}"))?;
    wrap(RSA, Some(AnyRef::NULL), der)
}

/// PKCS#8 around a SEC1 ECPrivateKey, which must name its curve.
fn from_sec1(der: &[u8]) -> Result<Zeroizing<Vec<u8>>, String> {
    let key =
        sec1::EcPrivateKey::from_der(der).map_err(|e| format!("malformed EC private key: {e}"))?;
    let curve = key
        .parameters
        .and_then(|p| p.named_curve())
        .ok_or("the EC private key does not name its curve")?;
    wrap(EC_PUBLIC, Some(AnyRef::from(&curve)), der)
}

fn wrap(
    oid: ObjectIdentifier,
    parameters: Option<AnyRef<'_>>,
    key: &[u8],
) -> Result<Zeroizing<Vec<u8>>, String> {
    let info = PrivateKeyInfo {
        algorithm: AlgorithmIdentifierRef { oid, parameters },
        private_key: key,
        public_key: None,
    };
    info.to_der()
        .map(Zeroizing::new)
        .map_err(|e| format!("cannot re-encode the private key: {e}"))
}

/// A SubjectPublicKeyInfo taken apart: what the token's public key object is made of.
pub struct SpkiParts {
    pub algorithm: ObjectIdentifier,
    /// The algorithm parameters (DER), if any.
    pub parameters: Option<Vec<u8>>,
    /// The subjectPublicKey bits.
    pub key: Vec<u8>,
}

/// The parts of a SubjectPublicKeyInfo (DER).
pub fn spki_parts(der: &[u8]) -> Result<SpkiParts, String> {
    let spki = pkcs8::spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| format!("malformed public key: {e}"))?;
    let params = match spki.algorithm.parameters {
        Some(p) => Some(p.to_der().map_err(|e| e.to_string())?),
        None => None,
    };
    let key = spki
        .subject_public_key
        .as_bytes()
        .ok_or("the public key is not a whole number of bytes")?
        .to_vec();
    Ok(SpkiParts {
        algorithm: spki.algorithm.oid,
        parameters: params,
        key,
    })
}
