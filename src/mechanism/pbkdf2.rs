//! PKCS #5 PBKDF2 key generation (PKCS#11 3.0 §2.39.3): C_GenerateKey with
//! CKM_PKCS5_PBKD2 turns a password into a secret key of the template's type and length.

use cryptoki_sys::*;

use super::param::{MechanismRequest, Param};
use super::{Generated, Info, Mechanism};
use crate::crypto::derive::pbkdf2;
use crate::crypto::digest::DigestAlg;
use crate::error::{Error, Result};
use crate::object::attr::parse_ulong;
use crate::object::Attributes;

pub(super) struct Pbkdf2;

/// Highest iteration count accepted (bounds the time one call can take).
const MAX_ITERATIONS: CK_ULONG = 10_000_000;

fn prf(p: CK_ULONG) -> Result<DigestAlg> {
    Ok(match p {
        CKP_PKCS5_PBKD2_HMAC_SHA1 => DigestAlg::Sha1,
        CKP_PKCS5_PBKD2_HMAC_SHA224 => DigestAlg::Sha224,
        CKP_PKCS5_PBKD2_HMAC_SHA256 => DigestAlg::Sha256,
        CKP_PKCS5_PBKD2_HMAC_SHA384 => DigestAlg::Sha384,
        CKP_PKCS5_PBKD2_HMAC_SHA512 => DigestAlg::Sha512,
        CKP_PKCS5_PBKD2_HMAC_SHA512_224 => DigestAlg::Sha512_224,
        CKP_PKCS5_PBKD2_HMAC_SHA512_256 => DigestAlg::Sha512_256,
        _ => return Err(Error::MechanismParamInvalid),
    })
}

impl Mechanism for Pbkdf2 {
    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 1,
            max_key: 512,
            flags: CKF_GENERATE,
        }
    }

    fn generate_key(&self, m: &MechanismRequest, template: &Attributes) -> Result<Generated> {
        let Param::Pbkdf2 {
            salt,
            iterations,
            prf: p,
            password,
        } = &m.param
        else {
            return Err(Error::MechanismParamInvalid);
        };
        if !(1..=MAX_ITERATIONS).contains(iterations) {
            return Err(Error::MechanismParamInvalid);
        }
        let key_type = template.get(CKA_KEY_TYPE).map(parse_ulong).transpose()?;
        let len = match (
            template.get(CKA_VALUE_LEN).map(parse_ulong).transpose()?,
            key_type,
        ) {
            (Some(n), Some(CKK_AES)) if !matches!(n, 16 | 24 | 32) => {
                return Err(Error::KeySizeRange)
            }
            (Some(n), _) if (1..=512).contains(&n) => n as usize,
            (Some(_), _) => return Err(Error::KeySizeRange),
            (None, _) => return Err(Error::TemplateIncomplete),
        };
        let value = pbkdf2(prf(*p)?, &password.0, salt, *iterations as u32, len)
            .map_err(|_| Error::MechanismParamInvalid)?;
        let mut out = Attributes::new();
        out.set(CKA_VALUE, value.to_vec());
        Ok(out)
    }
}
