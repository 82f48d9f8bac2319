//! HMAC with SHA-1/SHA-2 and generic secret key generation (§2.20–2.25, §2.16).

use std::sync::Arc;

use cryptoki_sys::*;

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

fn alg(ty: CK_MECHANISM_TYPE) -> Result<DigestAlg> {
    Ok(match ty {
        CKM_SHA_1_HMAC => DigestAlg::Sha1,
        CKM_SHA224_HMAC => DigestAlg::Sha224,
        CKM_SHA256_HMAC => DigestAlg::Sha256,
        CKM_SHA384_HMAC => DigestAlg::Sha384,
        CKM_SHA512_HMAC => DigestAlg::Sha512,
        _ => return Err(Error::MechanismInvalid),
    })
}

struct Mac(Option<hmac::Hmac>);

impl Mac {
    fn start(m: &MechanismRequest, key: &KeyMaterial) -> Result<Self> {
        m.no_param()?;
        let KeyMaterial::Secret(bytes) = key else {
            return Err(Error::KeyTypeInconsistent);
        };
        Ok(Self(Some(
            hmac::Hmac::new(alg(m.ty)?, bytes).map_err(|_| Error::KeyTypeInconsistent)?,
        )))
    }

    fn take(&mut self) -> Result<hmac::Hmac> {
        self.0.take().ok_or(Error::OperationNotInitialized)
    }
}

impl Signer for Mac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?
            .update(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Ok(self.take()?.finish().to_vec())
    }
}

impl Verifier for Mac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        Signer::update(self, data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        self.take()?
            .verify(signature)
            .map_err(super::ops::crypto_error(super::ops::Context::Verify))
    }
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
        Ok(Box::new(Mac::start(m, key)?))
    }

    fn verify(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        Ok(Box::new(Mac::start(m, key)?))
    }

    fn generate_key(&self, m: &MechanismRequest, template: &Attributes) -> Result<Generated> {
        m.no_param()?;
        super::ops::random_secret(template, |len| (1..=MAX_SECRET).contains(&len))
    }
}
