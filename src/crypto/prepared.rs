//! Keyed states prepared once per key and shared by every operation with it (aws-lc-rs):
//! an HMAC key's inner and outer pad states, an AES-GCM key's schedule and GHASH table.
//! A C_SignInit or C_EncryptInit with a cached key then starts from a copy instead of
//! re-deriving them, as the crypto library's own API does.

use aws_lc_rs::aead::{self, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use super::digest::DigestAlg;
use super::{CryptoError, Result};

/// An HMAC key with its pad states computed (SHA-1 and SHA-2 only).
pub struct HmacKey(hmac::Key);

impl HmacKey {
    /// None for a digest aws-lc-rs has no HMAC for (SHA-512/t, SHA-3): those keep the
    /// per-operation path.
    pub fn new(alg: DigestAlg, key: &[u8]) -> Option<Self> {
        let alg = match alg {
            DigestAlg::Sha1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlg::Sha224 => hmac::HMAC_SHA224,
            DigestAlg::Sha256 => hmac::HMAC_SHA256,
            DigestAlg::Sha384 => hmac::HMAC_SHA384,
            DigestAlg::Sha512 => hmac::HMAC_SHA512,
            _ => return None,
        };
        Some(Self(hmac::Key::new(alg, key)))
    }

    /// A running HMAC over nothing yet.
    pub fn start(&self) -> hmac::Context {
        hmac::Context::with_key(&self.0)
    }
}

/// An AES-128 or AES-256 GCM key with its schedule expanded (no AES-192 in aws-lc-rs).
pub struct GcmKey(LessSafeKey);

/// The tag length the prepared path produces and checks; other lengths take the streaming path.
pub const GCM_TAG_LEN: usize = 16;

impl GcmKey {
    /// None for a key length aws-lc-rs's AEAD does not take.
    pub fn new(key: &[u8]) -> Option<Self> {
        let alg = match key.len() {
            16 => &aead::AES_128_GCM,
            32 => &aead::AES_256_GCM,
            _ => return None,
        };
        UnboundKey::new(alg, key)
            .ok()
            .map(|k| Self(LessSafeKey::new(k)))
    }

    /// ciphertext || 16-byte tag. `iv` must be 12 bytes (`BadParameter` otherwise).
    pub fn seal(&self, iv: &[u8], aad: &[u8], plaintext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| CryptoError::BadParameter)?;
        let mut buf = Zeroizing::new(Vec::with_capacity(plaintext.len() + GCM_TAG_LEN));
        buf.extend_from_slice(plaintext);
        self.0
            .seal_in_place_append_tag(nonce, Aad::from(aad), &mut *buf)
            .map_err(|_| CryptoError::InvalidLength)?;
        Ok(buf)
    }

    /// The plaintext of ciphertext || 16-byte tag: shorter than a tag → `InvalidLength`,
    /// a tag that does not match → `InvalidData`.
    pub fn open(&self, iv: &[u8], aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let nonce = Nonce::try_assume_unique_for_key(iv).map_err(|_| CryptoError::BadParameter)?;
        if sealed.len() < GCM_TAG_LEN {
            return Err(CryptoError::InvalidLength);
        }
        let mut buf = Zeroizing::new(sealed.to_vec());
        let len = self
            .0
            .open_in_place(nonce, Aad::from(aad), &mut buf)
            .map_err(|_| CryptoError::InvalidData)?
            .len();
        buf.truncate(len);
        Ok(buf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::aes::{AesCipher, AesMode};

    /// The prepared key and the streaming cipher agree both ways, and a bad tag is refused.
    #[test]
    fn gcm_matches_the_streaming_cipher() {
        for key in [vec![7u8; 16], vec![9u8; 32]] {
            let (iv, aad, msg) = ([1u8; 12], b"header".to_vec(), b"sixteen byte msg".to_vec());
            let mode = AesMode::Gcm {
                iv: iv.to_vec(),
                aad: aad.clone(),
                tag_bits: 128,
            };
            let mut c = AesCipher::new(&key, &mode, true).unwrap();
            let mut streamed = c.update(&msg).unwrap();
            streamed.extend_from_slice(&c.finish().unwrap());
            let g = GcmKey::new(&key).unwrap();
            let sealed = g.seal(&iv, &aad, &msg).unwrap();
            assert_eq!(&sealed[..], &streamed[..]);
            assert_eq!(&g.open(&iv, &aad, &sealed).unwrap()[..], &msg[..]);
            let mut bad = sealed.to_vec();
            bad[0] ^= 1;
            assert!(matches!(
                g.open(&iv, &aad, &bad),
                Err(CryptoError::InvalidData)
            ));
            assert!(matches!(
                g.open(&iv, &aad, &bad[..15]),
                Err(CryptoError::InvalidLength)
            ));
            assert!(matches!(
                g.seal(&[0; 16], &aad, &msg),
                Err(CryptoError::BadParameter)
            ));
        }
        assert!(GcmKey::new(&[0; 24]).is_none());
    }

    #[test]
    fn hmac_matches_the_rfc_4231_vector() {
        let want = crate::crypto::test_hex(
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
        );
        let k = HmacKey::new(DigestAlg::Sha256, b"Jefe").unwrap();
        let mut c = k.start();
        c.update(b"what do ya want for nothing?");
        assert_eq!(c.sign().as_ref(), &want[..]);
        assert!(HmacKey::new(DigestAlg::Sha3_256, b"Jefe").is_none());
    }
}
