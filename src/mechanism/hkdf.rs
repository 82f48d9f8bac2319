//! HKDF key derivation (PKCS#11 3.0 §2.42, RFC 5869): CKM_HKDF_DERIVE with extract, expand
//! or both, over SHA-1/SHA-2; the salt is absent or given as data.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::param::{hash_alg, MechanismRequest, Param};
use super::{Info, Mechanism};
use crate::crypto::derive::{hkdf_expand, hkdf_extract};
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;

pub(super) struct Hkdf;

impl Mechanism for Hkdf {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_GENERIC_SECRET)
    }

    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 1,
            max_key: 512,
            flags: CKF_DERIVE,
        }
    }

    fn derive(
        &self,
        m: &MechanismRequest,
        base: &KeyMaterial,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let Param::Hkdf {
            extract,
            expand,
            prf,
            salt_type,
            salt,
            info,
        } = &m.param
        else {
            return Err(Error::MechanismParamInvalid);
        };
        let alg = hash_alg(*prf)?;
        let KeyMaterial::Secret(ikm) = base else {
            return Err(Error::KeyTypeInconsistent);
        };
        if !extract && !expand {
            return Err(Error::MechanismParamInvalid);
        }
        let prk = if *extract {
            match *salt_type {
                CKF_HKDF_SALT_NULL => hkdf_extract(alg, &[], ikm),
                CKF_HKDF_SALT_DATA if !salt.is_empty() => hkdf_extract(alg, salt, ikm),
                _ => return Err(Error::MechanismParamInvalid),
            }
            .map_err(|_| Error::GeneralError)?
        } else {
            (**ikm).clone()
        };
        if !expand {
            return match len {
                Some(n) if n != prk.len() => Err(Error::TemplateInconsistent),
                _ => Ok(prk),
            };
        }
        let n = len.ok_or(Error::TemplateIncomplete)?;
        hkdf_expand(alg, &prk, info, n).map_err(|_| Error::TemplateInconsistent)
    }
}
