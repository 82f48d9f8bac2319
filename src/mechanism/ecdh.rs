//! ECDH key derivation (PKCS#11 3.0 §2.3.15): CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE
//! on P-256/384/521 (cofactor 1, so both are the same) and on X25519, with CKD_NULL or the
//! ANSI X9.63 KDF over SHA-1/SHA-2.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::ops::{crypto_error, Context};
use super::param::{MechanismRequest, Param};
use super::{Info, Mechanism};
use crate::crypto::curve25519;
use crate::crypto::derive::x963;
use crate::crypto::digest::DigestAlg;
use crate::crypto::ec::unwrap_octet_string;
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;

pub(super) struct Ecdh;

fn kdf_alg(kdf: CK_EC_KDF_TYPE) -> Result<Option<DigestAlg>> {
    Ok(Some(match kdf {
        CKD_NULL => return Ok(None),
        CKD_SHA1_KDF => DigestAlg::Sha1,
        CKD_SHA224_KDF => DigestAlg::Sha224,
        CKD_SHA256_KDF => DigestAlg::Sha256,
        CKD_SHA384_KDF => DigestAlg::Sha384,
        CKD_SHA512_KDF => DigestAlg::Sha512,
        _ => return Err(Error::MechanismParamInvalid),
    }))
}

/// The peer's public value: raw, or wrapped in a DER OCTET STRING as some callers send it.
fn peer_point(public_data: &[u8], raw_len: usize) -> &[u8] {
    if public_data.len() == raw_len {
        return public_data;
    }
    unwrap_octet_string(public_data).unwrap_or(public_data)
}

fn shared_secret(base: &KeyMaterial, public_data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let derive_error = |e| match crypto_error(Context::Encrypt)(e) {
        Error::DataInvalid | Error::DataLenRange => Error::MechanismParamInvalid,
        other => other,
    };
    match base {
        KeyMaterial::EcPrivate(k) => {
            let raw_len = 1 + 2 * k.curve().field_len();
            k.ecdh(peer_point(public_data, raw_len))
                .map_err(derive_error)
        }
        KeyMaterial::MontgomeryPrivate(k) => {
            let peer = peer_point(public_data, curve25519::KEY_LEN);
            curve25519::x25519_agree(k, peer).map_err(derive_error)
        }
        _ => Err(Error::KeyTypeInconsistent),
    }
}

impl Mechanism for Ecdh {
    fn accepts(&self, _ty: CK_MECHANISM_TYPE, key_type: CK_KEY_TYPE) -> bool {
        matches!(key_type, CKK_EC | CKK_EC_MONTGOMERY)
    }

    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 255,
            max_key: 521,
            flags: CKF_DERIVE | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
        }
    }

    fn derive(
        &self,
        m: &MechanismRequest,
        base: &KeyMaterial,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let Param::Ecdh {
            kdf,
            shared_data,
            public_data,
        } = &m.param
        else {
            return Err(Error::MechanismParamInvalid);
        };
        let alg = kdf_alg(*kdf)?;
        if alg.is_none() && !shared_data.is_empty() {
            return Err(Error::MechanismParamInvalid);
        }
        let z = shared_secret(base, public_data)?;
        match alg {
            None => match len {
                None => Ok(z),
                Some(n) if n <= z.len() => Ok(Zeroizing::new(z[..n].to_vec())),
                Some(_) => Err(Error::TemplateInconsistent),
            },
            Some(alg) => x963(alg, &z, shared_data, len.unwrap_or(alg.output_len()))
                .map_err(|_| Error::TemplateInconsistent),
        }
    }
}
