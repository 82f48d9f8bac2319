//! AES key wrap (PKCS#11 3.0 §2.14): CKM_AES_KEY_WRAP (RFC 3394) and CKM_AES_KEY_WRAP_KWP
//! (RFC 5649). CKM_AES_KEY_WRAP_PAD is served as RFC 5649 too, as SoftHSM and nShield do, so
//! keys wrapped by those tokens unwrap here. Each also works through C_Encrypt / C_Decrypt.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::ops::{self, crypto_error, Context};
use super::param::{MechanismRequest, Param};
use super::{Cipher, Info, Mechanism};
use crate::crypto::keywrap;
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;

pub(super) struct AesKeyWrap;

/// The default initial values: RFC 3394's A6A6A6A6A6A6A6A6 and RFC 5649's A65959A6. Only the
/// default is supported; a caller may pass it explicitly or leave the parameter out.
const KW_IV: [u8; 8] = [0xa6; 8];
const KWP_IV: [u8; 4] = [0xa6, 0x59, 0x59, 0xa6];

/// Whether `m` asks for RFC 5649 padding; CKR_MECHANISM_PARAM_INVALID for a non-default IV.
fn padded(m: &MechanismRequest) -> Result<bool> {
    let padded = m.ty != CKM_AES_KEY_WRAP;
    let default_iv: &[u8] = if padded { &KWP_IV } else { &KW_IV };
    match &m.param {
        Param::None => Ok(padded),
        Param::Bytes(iv) if iv.is_empty() || iv.as_slice() == default_iv => Ok(padded),
        _ => Err(Error::MechanismParamInvalid),
    }
}

fn secret(key: &Arc<KeyMaterial>) -> Result<Zeroizing<Vec<u8>>> {
    match &**key {
        KeyMaterial::Secret(k) => Ok((**k).clone()),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

impl Mechanism for AesKeyWrap {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_AES)
    }

    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 16,
            max_key: 32,
            flags: CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP,
        }
    }

    fn encrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        let padded = padded(m)?;
        let kek = secret(key)?;
        Ok(ops::one_shot(move |data| {
            keywrap::wrap(&kek, data, padded)
                .map(Zeroizing::new)
                .map_err(crypto_error(Context::Encrypt))
        }))
    }

    fn decrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        let padded = padded(m)?;
        let kek = secret(key)?;
        Ok(ops::one_shot(move |data| {
            keywrap::unwrap(&kek, data, padded).map_err(crypto_error(Context::Decrypt))
        }))
    }
}
