//! HMAC with SHA-1, SHA-2 and SHA-3 (full-length and `_GENERAL`) and generic secret key
//! generation (§2.20–2.25, §2.16).

use std::sync::Arc;

use cryptoki_sys::*;

use zeroize::Zeroizing;

use super::mac::{tag_len, Mac, MacEngine};
use super::param::MechanismRequest;
use super::{Generated, Info, Mechanism, Signer, Verifier};
use crate::crypto::digest::DigestAlg;
use crate::crypto::hmac;
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;
use crate::object::Attributes;

pub(super) struct Hmac;

/// Largest generic secret this token generates or uses, in bytes.
const MAX_SECRET: CK_ULONG = 512;

/// The digest of an HMAC mechanism and whether it is a `*_HMAC_GENERAL` one.
fn alg(ty: CK_MECHANISM_TYPE) -> Result<(DigestAlg, bool)> {
    Ok(match ty {
        CKM_SHA_1_HMAC => (DigestAlg::Sha1, false),
        CKM_SHA224_HMAC => (DigestAlg::Sha224, false),
        CKM_SHA256_HMAC => (DigestAlg::Sha256, false),
        CKM_SHA384_HMAC => (DigestAlg::Sha384, false),
        CKM_SHA512_HMAC => (DigestAlg::Sha512, false),
        CKM_SHA_1_HMAC_GENERAL => (DigestAlg::Sha1, true),
        CKM_SHA224_HMAC_GENERAL => (DigestAlg::Sha224, true),
        CKM_SHA256_HMAC_GENERAL => (DigestAlg::Sha256, true),
        CKM_SHA384_HMAC_GENERAL => (DigestAlg::Sha384, true),
        CKM_SHA512_HMAC_GENERAL => (DigestAlg::Sha512, true),
        CKM_SHA512_224_HMAC => (DigestAlg::Sha512_224, false),
        CKM_SHA512_224_HMAC_GENERAL => (DigestAlg::Sha512_224, true),
        CKM_SHA512_256_HMAC => (DigestAlg::Sha512_256, false),
        CKM_SHA512_256_HMAC_GENERAL => (DigestAlg::Sha512_256, true),
        CKM_SHA3_224_HMAC => (DigestAlg::Sha3_224, false),
        CKM_SHA3_224_HMAC_GENERAL => (DigestAlg::Sha3_224, true),
        CKM_SHA3_256_HMAC => (DigestAlg::Sha3_256, false),
        CKM_SHA3_256_HMAC_GENERAL => (DigestAlg::Sha3_256, true),
        CKM_SHA3_384_HMAC => (DigestAlg::Sha3_384, false),
        CKM_SHA3_384_HMAC_GENERAL => (DigestAlg::Sha3_384, true),
        CKM_SHA3_512_HMAC => (DigestAlg::Sha3_512, false),
        CKM_SHA3_512_HMAC_GENERAL => (DigestAlg::Sha3_512, true),
        _ => return Err(Error::MechanismInvalid),
    })
}

impl MacEngine for hmac::Hmac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        hmac::Hmac::update(self, data);
        Ok(())
    }
    fn tag(self: Box<Self>) -> Result<Zeroizing<Vec<u8>>> {
        Ok(self.finish())
    }
}

fn start(m: &MechanismRequest, key: &KeyMaterial) -> Result<Mac> {
    let (alg, general) = alg(m.ty)?;
    let len = tag_len(m, general, alg.output_len())?;
    let KeyMaterial::Secret(secret) = key else {
        return Err(Error::KeyTypeInconsistent);
    };
    let engine = match secret.hmac(alg) {
        Some(prepared) => hmac::Hmac::prepared(alg, prepared),
        None => hmac::Hmac::new(alg, secret).map_err(|_| Error::KeyTypeInconsistent)?,
    };
    Ok(Mac::new(Box::new(engine), len))
}

impl Mechanism for Hmac {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_GENERIC_SECRET)
    }

    fn info(&self, ty: CK_MECHANISM_TYPE) -> Info {
        let flags = if ty == CKM_GENERIC_SECRET_KEY_GEN {
            CKF_GENERATE
        } else {
            CKF_SIGN | CKF_VERIFY
        };
        Info {
            min_key: 1,
            max_key: MAX_SECRET,
            flags,
        }
    }

    fn sign(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Signer>> {
        Ok(Box::new(start(m, key)?))
    }

    fn verify(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        Ok(Box::new(start(m, key)?))
    }

    fn generate_key(&self, m: &MechanismRequest, template: &Attributes) -> Result<Generated> {
        m.no_param()?;
        super::ops::random_secret(template, |len| (1..=MAX_SECRET).contains(&len))
    }
}
