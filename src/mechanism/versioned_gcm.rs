//! Versioned AES-GCM (Keyward's CKM_KW_VERSIONED_AES_GCM, cloud-KMS style): the ciphertext
//! names the key version that made it, so decryption finds the right version of the logical
//! key after any number of rotations.
//!
//! Format: `"KWG1"` ‖ version (u32, big-endian) ‖ IV (12 random bytes) ‖ ciphertext ‖ tag
//! (16 bytes). The 8-byte header is authenticated with the caller's associated data (the
//! mechanism parameter, optional).

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::ops::{self, crypto_error, Context};
use super::{Cipher, Info, Mechanism};
use crate::crypto::aes::{AesCipher, AesMode};
use crate::crypto::rng;
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;

pub(super) struct VersionedGcm;

const MAGIC: &[u8; 4] = b"KWG1";
const HEADER: usize = 8;
const IV: usize = 12;
const TAG: usize = 16;

/// The versions of one logical key that may decrypt, with their material.
pub type Versions = Vec<(CK_ULONG, Arc<KeyMaterial>)>;

fn secret(k: &KeyMaterial) -> Result<&[u8]> {
    match k {
        KeyMaterial::Secret(v) => Ok(v),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

fn header(version: CK_ULONG) -> Result<[u8; HEADER]> {
    let v = u32::try_from(version).map_err(|_| Error::GeneralError)?;
    let mut h = [0u8; HEADER];
    h[..4].copy_from_slice(MAGIC);
    h[4..].copy_from_slice(&v.to_be_bytes());
    Ok(h)
}

fn gcm(key: &[u8], iv: &[u8], header: &[u8], aad: &[u8], encrypt: bool) -> Result<AesCipher> {
    let mode = AesMode::Gcm {
        iv: iv.to_vec(),
        aad: [header, aad].concat(),
        tag_bits: (TAG * 8) as u32,
    };
    let ctx = if encrypt {
        Context::Encrypt
    } else {
        Context::Decrypt
    };
    AesCipher::new(key, &mode, encrypt).map_err(crypto_error(ctx))
}

/// Encrypt with `key`, version `version`.
pub fn encryptor(key: Arc<KeyMaterial>, version: CK_ULONG, aad: Vec<u8>) -> Box<dyn Cipher> {
    ops::one_shot(move |pt| {
        let head = header(version)?;
        let mut iv = [0u8; IV];
        rng::fill(&mut iv).map_err(|_| Error::GeneralError)?;
        let mut c = gcm(secret(&key)?, &iv, &head, &aad, true)?;
        let mut out = Zeroizing::new([&head[..], &iv[..]].concat());
        out.extend_from_slice(&c.update(pt).map_err(crypto_error(Context::Encrypt))?);
        out.extend_from_slice(&c.finish().map_err(crypto_error(Context::Encrypt))?);
        Ok(out)
    })
}

/// Decrypt with whichever of `versions` the ciphertext names; CKR_ENCRYPTED_DATA_INVALID for
/// a foreign format, an unknown (or unusable) version or a failed tag.
pub fn decryptor(versions: Versions, aad: Vec<u8>) -> Box<dyn Cipher> {
    ops::one_shot(move |ct| {
        if ct.len() < HEADER + IV + TAG {
            return Err(Error::EncryptedDataLenRange);
        }
        let (head, rest) = ct.split_at(HEADER);
        if &head[..4] != MAGIC {
            return Err(Error::EncryptedDataInvalid);
        }
        let version = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
        let (_, key) = versions
            .iter()
            .find(|(v, _)| *v == CK_ULONG::from(version))
            .ok_or(Error::EncryptedDataInvalid)?;
        let (iv, body) = rest.split_at(IV);
        let mut c = gcm(secret(key)?, iv, head, &aad, false)?;
        let mut out = c.update(body).map_err(crypto_error(Context::Decrypt))?;
        out.extend_from_slice(&c.finish().map_err(crypto_error(Context::Decrypt))?);
        Ok(out)
    })
}

impl Mechanism for VersionedGcm {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_AES)
    }

    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 16,
            max_key: 32,
            flags: CKF_ENCRYPT | CKF_DECRYPT,
        }
    }
}
