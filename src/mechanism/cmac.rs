//! AES-CMAC and AES-CMAC-GENERAL (PKCS#11 3.0 §2.10.x, NIST SP 800-38B).

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::mac::{tag_len, Mac, MacEngine};
use super::param::MechanismRequest;
use super::{Info, Mechanism, Signer, Verifier};
use crate::crypto::cmac;
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;

pub(super) struct Cmac;

impl MacEngine for cmac::Cmac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        cmac::Cmac::update(self, data).map_err(|_| Error::GeneralError)
    }
    fn tag(self: Box<Self>) -> Result<Zeroizing<Vec<u8>>> {
        self.finish().map_err(|_| Error::GeneralError)
    }
}

fn start(m: &MechanismRequest, key: &KeyMaterial) -> Result<Mac> {
    let len = tag_len(m, m.ty == CKM_AES_CMAC_GENERAL, cmac::TAG_LEN)?;
    let KeyMaterial::Secret(bytes) = key else {
        return Err(Error::KeyTypeInconsistent);
    };
    let engine = cmac::Cmac::new(bytes).map_err(|_| Error::KeyTypeInconsistent)?;
    Ok(Mac::new(Box::new(engine), len))
}

impl Mechanism for Cmac {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_AES)
    }

    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 16,
            max_key: 32,
            flags: CKF_SIGN | CKF_VERIFY,
        }
    }

    fn sign(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Signer>> {
        Ok(Box::new(start(m, key)?))
    }

    fn verify(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        Ok(Box::new(start(m, key)?))
    }
}
