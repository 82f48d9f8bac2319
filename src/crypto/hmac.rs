//! HMAC over every [`DigestAlg`] (SHA-1, SHA-2, SHA-3), on aws-lc's `HMAC_CTX`.

use aws_lc_rs::constant_time;
use zeroize::Zeroizing;

use super::digest::DigestAlg;
use super::ffi::HmacCtx;
use super::prepared::HmacKey;
use super::{CryptoError, Result};

/// Multi-part HMAC computation. The keyed state lives in an aws-lc `HMAC_CTX`, cleansed on
/// drop: our own, or a copy of a [`HmacKey`]'s prepared one.
pub struct Hmac {
    alg: DigestAlg,
    ctx: Engine,
}

// The prepared context is held by value (no allocation per operation); an `Hmac` lives
// boxed in its operation anyway.
#[allow(clippy::large_enum_variant)]
enum Engine {
    Keyed(HmacCtx),
    Prepared(aws_lc_rs::hmac::Context),
}

impl core::fmt::Debug for Hmac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Hmac")
            .field("alg", &self.alg)
            .field("key", &"[redacted]")
            .finish()
    }
}

impl Hmac {
    /// Starts an HMAC with `key` (any length, including empty).
    pub fn new(alg: DigestAlg, key: &[u8]) -> Result<Self> {
        Ok(Hmac {
            alg,
            ctx: Engine::Keyed(HmacCtx::new(alg, key)?),
        })
    }

    /// Starts an HMAC from a key prepared for `alg` (no key schedule per operation).
    pub fn prepared(alg: DigestAlg, key: &HmacKey) -> Self {
        Hmac {
            alg,
            ctx: Engine::Prepared(key.start()),
        }
    }

    /// Feeds more data.
    pub fn update(&mut self, d: &[u8]) {
        match &mut self.ctx {
            Engine::Keyed(c) => c.update(d),
            Engine::Prepared(c) => c.update(d),
        }
    }

    /// Returns the full-length tag (`alg.output_len()` bytes).
    pub fn finish(self) -> Zeroizing<Vec<u8>> {
        match self.ctx {
            Engine::Keyed(c) => c.finish(),
            Engine::Prepared(c) => Zeroizing::new(c.sign().as_ref().to_vec()),
        }
    }

    /// Verifies a full-length `tag` in constant time.
    ///
    /// Wrong length → `BadSignatureLength`; mismatch → `BadSignature`.
    pub fn verify(self, tag: &[u8]) -> Result<()> {
        if tag.len() != self.alg.output_len() {
            return Err(CryptoError::BadSignatureLength);
        }
        let mac = self.finish();
        constant_time::verify_slices_are_equal(&mac, tag).map_err(|_| CryptoError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;

    fn assert_send<T: Send>() {}

    #[test]
    fn rfc4231_case2() {
        let want = hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
        let mut h = Hmac::new(DigestAlg::Sha256, b"Jefe").unwrap();
        h.update(b"what do ya want ");
        h.update(b"for nothing?");
        assert_eq!(&h.finish()[..], &want[..]);
        let mut h = Hmac::new(DigestAlg::Sha256, b"Jefe").unwrap();
        h.update(b"what do ya want for nothing?");
        h.verify(&want).unwrap();
        assert_send::<Hmac>();
    }

    #[test]
    fn rfc4231_case2_sha512() {
        let want = hex(concat!(
            "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554",
            "9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737"
        ));
        let mut h = Hmac::new(DigestAlg::Sha512, b"Jefe").unwrap();
        h.update(b"what do ya want for nothing?");
        assert_eq!(&h.finish()[..], &want[..]);
    }

    /// Wycheproof hmac_sha3_256 tcId 1 and hmac_sha512_256 tcId 2 (empty messages).
    #[test]
    fn sha3_and_sha512_256_vectors() {
        let key = hex("1e225cafb90339bba1b24076d4206c3e79c355805d851682bc818baa4f5a7779");
        let cases = [
            (
                DigestAlg::Sha3_256,
                "a3c58470afa8835d6e2357fb7b1cd07f8c4bc4c7874ca59d83163f046a9e227e",
            ),
            (
                DigestAlg::Sha512_256,
                "baae6ac18c37dbf3a71b22741ced96e1e2dbe6e7a737142e14bd93fda144dad0",
            ),
        ];
        for (alg, want) in cases {
            let h = Hmac::new(alg, &key).unwrap();
            assert_eq!(h.finish().as_slice(), hex(want), "{alg:?}");
        }
    }

    #[test]
    fn verify_negatives() {
        let mut h = Hmac::new(DigestAlg::Sha256, b"").unwrap();
        h.update(b"x");
        let mut tag = h.finish();
        assert_eq!(tag.len(), 32);
        let h = Hmac::new(DigestAlg::Sha256, b"").unwrap();
        assert_eq!(h.verify(&tag[..31]), Err(CryptoError::BadSignatureLength));
        tag[0] ^= 1;
        let mut h = Hmac::new(DigestAlg::Sha256, b"").unwrap();
        h.update(b"x");
        assert_eq!(h.verify(&tag), Err(CryptoError::BadSignature));
    }

    #[test]
    fn debug_redacted() {
        let h = Hmac::new(DigestAlg::Sha1, b"secret").unwrap();
        let s = format!("{h:?}");
        assert!(s.contains("[redacted]") && !s.contains("secret"));
    }
}
