//! AES: key generation and ECB, CBC, CBC-PAD, CTR, GCM (§2.8, §2.12).

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::ops::{crypto_error, Context};
use super::param::{MechanismRequest, Param};
use super::{Cipher, Generated, Info, Mechanism};
use crate::crypto::aes::{AesCipher, AesMode};
use crate::crypto::prepared::GCM_TAG_LEN;
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;
use crate::object::Attributes;

pub(super) struct Aes;

fn mode(m: &MechanismRequest) -> Result<AesMode> {
    Ok(match m.ty {
        CKM_AES_ECB => {
            m.no_param()?;
            AesMode::Ecb
        }
        CKM_AES_CBC => AesMode::Cbc { iv: m.iv16()? },
        CKM_AES_CBC_PAD => AesMode::CbcPad { iv: m.iv16()? },
        CKM_AES_CTR => match &m.param {
            Param::Ctr {
                counter_bits,
                block,
            } if (1..=128).contains(counter_bits) => AesMode::Ctr {
                counter_block: *block,
                counter_bits: *counter_bits as u32,
            },
            _ => return Err(Error::MechanismParamInvalid),
        },
        CKM_AES_GCM => match &m.param {
            Param::Gcm {
                iv, aad, tag_bits, ..
            } if !iv.is_empty() => AesMode::Gcm {
                iv: iv.clone(),
                aad: aad.clone(),
                tag_bits: *tag_bits as u32,
            },
            _ => return Err(Error::MechanismParamInvalid),
        },
        _ => return Err(Error::MechanismInvalid),
    })
}

/// A streaming AES operation; errors are mapped per direction.
struct Stream {
    cipher: Option<AesCipher>,
    ctx: Context,
}

impl Cipher for Stream {
    fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let c = self.cipher.as_mut().ok_or(Error::OperationNotInitialized)?;
        c.update(data).map_err(crypto_error(self.ctx))
    }

    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let c = self.cipher.take().ok_or(Error::OperationNotInitialized)?;
        c.finish().map_err(crypto_error(self.ctx))
    }
}

/// AES-GCM with a 12-byte IV and a 16-byte tag, on a 128- or 256-bit key: C_Encrypt and
/// C_Decrypt seal or open in one call from the key's prepared state (no key schedule or
/// GHASH table per operation); a first C_*Update or C_*Final builds the streaming cipher.
struct PreparedGcm {
    key: Arc<KeyMaterial>,
    mode: AesMode,
    encrypt: bool,
    stream: Option<Stream>,
}

impl PreparedGcm {
    fn stream(&mut self) -> Result<&mut Stream> {
        if self.stream.is_none() {
            self.stream = Some(stream(&self.key, &self.mode, self.encrypt)?);
        }
        self.stream.as_mut().ok_or(Error::GeneralError)
    }
}

impl Cipher for PreparedGcm {
    fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.stream()?.update(data)
    }

    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        self.stream()?.finish()
    }

    fn one_shot(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let (KeyMaterial::Secret(secret), AesMode::Gcm { iv, aad, .. }, None) =
            (&*self.key, &self.mode, &self.stream)
        else {
            let mut out = self.update(data)?;
            out.extend_from_slice(&self.finish()?);
            return Ok(out);
        };
        let gcm = secret.gcm().ok_or(Error::GeneralError)?;
        if self.encrypt {
            gcm.seal(iv, aad, data)
                .map_err(crypto_error(Context::Encrypt))
        } else {
            gcm.open(iv, aad, data)
                .map_err(crypto_error(Context::Decrypt))
        }
    }
}

fn stream(key: &KeyMaterial, mode: &AesMode, encrypt: bool) -> Result<Stream> {
    let KeyMaterial::Secret(bytes) = key else {
        return Err(Error::KeyTypeInconsistent);
    };
    let cipher = AesCipher::new(bytes, mode, encrypt).map_err(|e| match e {
        crate::crypto::CryptoError::BadKey => Error::KeyTypeInconsistent,
        _ => Error::MechanismParamInvalid,
    })?;
    let ctx = if encrypt {
        Context::Encrypt
    } else {
        Context::Decrypt
    };
    Ok(Stream {
        cipher: Some(cipher),
        ctx,
    })
}

fn start(m: &MechanismRequest, key: &Arc<KeyMaterial>, encrypt: bool) -> Result<Box<dyn Cipher>> {
    let mode = mode(m)?;
    let prepared = match (&**key, &mode) {
        (KeyMaterial::Secret(secret), AesMode::Gcm { iv, tag_bits, .. }) => {
            iv.len() == 12 && *tag_bits as usize == 8 * GCM_TAG_LEN && secret.gcm().is_some()
        }
        _ => false,
    };
    if prepared {
        return Ok(Box::new(PreparedGcm {
            key: Arc::clone(key),
            mode,
            encrypt,
            stream: None,
        }));
    }
    Ok(Box::new(stream(key, &mode, encrypt)?))
}

impl Mechanism for Aes {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_AES)
    }

    fn info(&self, ty: CK_MECHANISM_TYPE) -> Info {
        let flags = match ty {
            CKM_AES_KEY_GEN => CKF_GENERATE,
            CKM_AES_ECB_ENCRYPT_DATA | CKM_AES_CBC_ENCRYPT_DATA => CKF_DERIVE,
            CKM_AES_ECB | CKM_AES_CBC | CKM_AES_CBC_PAD => {
                CKF_ENCRYPT | CKF_DECRYPT | CKF_WRAP | CKF_UNWRAP
            }
            CKM_AES_GCM => {
                CKF_ENCRYPT
                    | CKF_DECRYPT
                    | CKF_MESSAGE_ENCRYPT
                    | CKF_MESSAGE_DECRYPT
                    | CKF_MULTI_MESSAGE
            }
            _ => CKF_ENCRYPT | CKF_DECRYPT,
        };
        Info {
            min_key: 16,
            max_key: 32,
            flags,
        }
    }

    fn encrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        start(m, key, true)
    }

    fn decrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        start(m, key, false)
    }

    fn generate_key(&self, m: &MechanismRequest, template: &Attributes) -> Result<Generated> {
        m.no_param()?;
        super::ops::random_secret(template, |len| matches!(len, 16 | 24 | 32))
    }

    /// CKM_AES_ECB_ENCRYPT_DATA / CKM_AES_CBC_ENCRYPT_DATA: the new key is the encryption
    /// of the parameter's data (a non-empty multiple of 16 bytes), truncated to `len`.
    fn derive(
        &self,
        m: &MechanismRequest,
        base: &KeyMaterial,
        len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let (mode, data) = match (&m.param, m.ty) {
            (Param::Bytes(data), CKM_AES_ECB_ENCRYPT_DATA) => (AesMode::Ecb, data),
            (Param::CbcEncryptData { iv, data }, CKM_AES_CBC_ENCRYPT_DATA) => {
                (AesMode::Cbc { iv: *iv }, data)
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        if data.is_empty() || !data.len().is_multiple_of(16) {
            return Err(Error::MechanismParamInvalid);
        }
        let KeyMaterial::Secret(key) = base else {
            return Err(Error::KeyTypeInconsistent);
        };
        let mut c = AesCipher::new(key, &mode, true).map_err(crypto_error(Context::Encrypt))?;
        let mut out = c.update(data).map_err(crypto_error(Context::Encrypt))?;
        out.extend_from_slice(&c.finish().map_err(crypto_error(Context::Encrypt))?);
        match len {
            None => Ok(out),
            Some(n) if n <= out.len() => Ok(Zeroizing::new(out[..n].to_vec())),
            Some(_) => Err(Error::TemplateInconsistent),
        }
    }
}
