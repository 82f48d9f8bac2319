//! Private keys as PKCS#8 PrivateKeyInfo (RFC 5208), the form PKCS#11 wraps them in
//! (§5.18.3): RSA (PKCS#1 RSAPrivateKey), EC (SEC1 ECPrivateKey with the named curve),
//! Ed25519 and X25519 (RFC 8410). DER is produced and parsed by the RustCrypto `pkcs8`,
//! `pkcs1` and `sec1` crates; every intermediate buffer is zeroized.

use cryptoki_sys::*;
use pkcs8::der::asn1::{AnyRef, OctetStringRef, UintRef};
use pkcs8::der::{Decode, Encode};
use pkcs8::{AlgorithmIdentifierRef, ObjectIdentifier, PrivateKeyInfo};
use zeroize::Zeroizing;

use super::attr::Attributes;
use super::key::{self, KeyMaterial};
use super::rules::Shape;
use crate::crypto::ec::Curve;
use crate::error::{Error, Result};

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");

fn der_error(_: pkcs8::der::Error) -> Error {
    Error::WrappedKeyInvalid
}

fn need(attrs: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    attrs.get(ty).ok_or(Error::KeyNotWrappable)
}

fn uint(bytes: &[u8]) -> Result<UintRef<'_>> {
    UintRef::new(bytes).map_err(|_| Error::KeyNotWrappable)
}

/// PrivateKeyInfo { algorithm, privateKey } as DER.
fn info(
    oid: ObjectIdentifier,
    params: Option<AnyRef<'_>>,
    key: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let info = PrivateKeyInfo {
        algorithm: AlgorithmIdentifierRef {
            oid,
            parameters: params,
        },
        private_key: key,
        public_key: None,
    };
    info.to_der()
        .map(Zeroizing::new)
        .map_err(|_| Error::KeyNotWrappable)
}

/// The PKCS#8 encoding of a private key object (C_WrapKey). CKR_KEY_NOT_WRAPPABLE for a
/// key that lacks what the encoding needs (an RSA key imported without its primes).
pub fn encode(
    shape: Shape,
    attrs: &Attributes,
    material: &KeyMaterial,
) -> Result<Zeroizing<Vec<u8>>> {
    match shape.subtype {
        CKK_RSA => {
            let rsa = pkcs1::RsaPrivateKey {
                modulus: uint(need(attrs, CKA_MODULUS)?)?,
                public_exponent: uint(need(attrs, CKA_PUBLIC_EXPONENT)?)?,
                private_exponent: uint(need(attrs, CKA_PRIVATE_EXPONENT)?)?,
                prime1: uint(need(attrs, CKA_PRIME_1)?)?,
                prime2: uint(need(attrs, CKA_PRIME_2)?)?,
                exponent1: uint(need(attrs, CKA_EXPONENT_1)?)?,
                exponent2: uint(need(attrs, CKA_EXPONENT_2)?)?,
                coefficient: uint(need(attrs, CKA_COEFFICIENT)?)?,
                other_prime_infos: None,
            };
            let der = Zeroizing::new(rsa.to_der().map_err(|_| Error::KeyNotWrappable)?);
            info(RSA, Some(AnyRef::NULL), &der)
        }
        CKK_EC => {
            let KeyMaterial::EcPrivate(k) = material else {
                return Err(Error::KeyNotWrappable);
            };
            let curve = key::curve_of(attrs)?;
            let scalar = left_pad(need(attrs, CKA_VALUE)?, curve.field_len())?;
            let point = k.public_point();
            let oid = ObjectIdentifier::from_der(curve.ec_params())
                .map_err(|_| Error::KeyNotWrappable)?;
            let ec = sec1::EcPrivateKey {
                private_key: &scalar,
                parameters: None,
                public_key: Some(&point),
            };
            let der = Zeroizing::new(ec.to_der().map_err(|_| Error::KeyNotWrappable)?);
            let params = AnyRef::from(&oid);
            info(EC, Some(params), &der)
        }
        CKK_EC_EDWARDS | CKK_EC_MONTGOMERY => {
            let oid = if shape.subtype == CKK_EC_EDWARDS {
                ED25519
            } else {
                X25519
            };
            let inner =
                OctetStringRef::new(need(attrs, CKA_VALUE)?).map_err(|_| Error::KeyNotWrappable)?;
            let der = Zeroizing::new(inner.to_der().map_err(|_| Error::KeyNotWrappable)?);
            info(oid, None, &der)
        }
        _ => Err(Error::KeyNotWrappable),
    }
}

fn left_pad(v: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let start = v.iter().position(|b| *b != 0).unwrap_or(v.len());
    let v = &v[start..];
    if v.len() > len {
        return Err(Error::KeyNotWrappable);
    }
    let mut out = Zeroizing::new(vec![0u8; len - v.len()]);
    out.extend_from_slice(v);
    Ok(out)
}

/// A private key from its PKCS#8 encoding (C_UnwrapKey): its key type and the attributes
/// that carry its material. CKR_WRAPPED_KEY_INVALID for anything else.
pub fn decode(der: &[u8]) -> Result<(CK_KEY_TYPE, Attributes)> {
    let info = PrivateKeyInfo::from_der(der).map_err(der_error)?;
    let mut out = Attributes::new();
    let oid = info.algorithm.oid;
    if oid == RSA {
        let k = pkcs1::RsaPrivateKey::from_der(info.private_key).map_err(der_error)?;
        for (ty, v) in [
            (CKA_MODULUS, k.modulus),
            (CKA_PUBLIC_EXPONENT, k.public_exponent),
            (CKA_PRIVATE_EXPONENT, k.private_exponent),
            (CKA_PRIME_1, k.prime1),
            (CKA_PRIME_2, k.prime2),
            (CKA_EXPONENT_1, k.exponent1),
            (CKA_EXPONENT_2, k.exponent2),
            (CKA_COEFFICIENT, k.coefficient),
        ] {
            out.set(ty, v.as_bytes().to_vec());
        }
        return Ok((CKK_RSA, out));
    }
    if oid == EC {
        let curve_oid: ObjectIdentifier = info
            .algorithm
            .parameters
            .ok_or(Error::WrappedKeyInvalid)?
            .decode_as()
            .map_err(der_error)?;
        let params = curve_oid.to_der().map_err(der_error)?;
        Curve::from_ec_params(&params).ok_or(Error::CurveNotSupported)?;
        let k =
            sec1::EcPrivateKey::from_der(info.private_key).map_err(|_| Error::WrappedKeyInvalid)?;
        out.set(CKA_EC_PARAMS, params);
        out.set(CKA_VALUE, k.private_key.to_vec());
        return Ok((CKK_EC, out));
    }
    let (key_type, params) = match oid {
        ED25519 => (CKK_EC_EDWARDS, key::ED25519_PARAMS[0]),
        X25519 => (CKK_EC_MONTGOMERY, key::X25519_PARAMS[0]),
        _ => return Err(Error::WrappedKeyInvalid),
    };
    let inner = OctetStringRef::from_der(info.private_key).map_err(der_error)?;
    out.set(CKA_EC_PARAMS, params.to_vec());
    out.set(CKA_VALUE, inner.as_bytes().to_vec());
    Ok((key_type, out))
}
