//! AES-256-GCM sealing for the store (random 96-bit nonce, prepended to the ciphertext).

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::{Zeroize, Zeroizing};

use super::{CryptoError, Result};

/// A 256-bit sealing key.
pub struct SealKey(LessSafeKey);

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey([redacted])")
    }
}

impl SealKey {
    /// `key` must be 32 bytes.
    pub fn new(key: &[u8]) -> Result<Self> {
        let k = UnboundKey::new(&AES_256_GCM, key).map_err(|_| CryptoError::BadKey)?;
        Ok(Self(LessSafeKey::new(k)))
    }

    /// nonce || ciphertext || tag. The plaintext is copied once, into a buffer already large
    /// enough for the tag, and encrypted there: no plaintext copy is left in freed memory.
    pub fn seal(&self, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>> {
        let mut nonce = [0u8; NONCE_LEN];
        super::rng::fill(&mut nonce)?;
        let tag_len = AES_256_GCM.tag_len();
        let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + tag_len);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(plaintext);
        let sealed = self.0.seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad),
            &mut out[NONCE_LEN..],
        );
        match sealed {
            Ok(tag) => {
                out.extend_from_slice(tag.as_ref());
                Ok(out)
            }
            Err(_) => {
                out.zeroize();
                Err(CryptoError::Internal)
            }
        }
    }

    /// Reverse of [`seal`](Self::seal); InvalidData if anything was altered.
    pub fn open(&self, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < NONCE_LEN {
            return Err(CryptoError::InvalidData);
        }
        let (nonce, ct) = sealed.split_at(NONCE_LEN);
        let nonce =
            Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::InvalidData)?;
        let mut buf = Zeroizing::new(ct.to_vec());
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

    #[test]
    fn seal_open_and_tamper() {
        let k = SealKey::new(&[9u8; 32]).unwrap();
        let mut s = k.seal(b"secret", b"aad").unwrap();
        assert_eq!(&k.open(&s, b"aad").unwrap()[..], b"secret");
        assert_eq!(k.open(&s, b"other").unwrap_err(), CryptoError::InvalidData);
        let last = s.len() - 1;
        s[last] ^= 1;
        assert_eq!(k.open(&s, b"aad").unwrap_err(), CryptoError::InvalidData);
    }
}
