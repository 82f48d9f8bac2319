//! AES-CMAC (NIST SP 800-38B) backed by `aws-lc-rs`.

use aws_lc_rs::cmac as lc;
use zeroize::Zeroizing;

use super::{CryptoError, Result};

/// CMAC tag length for AES, in bytes.
pub const TAG_LEN: usize = 16;

/// Multi-part AES-CMAC; the key schedule lives in aws-lc and is cleansed on drop.
pub struct Cmac(lc::Context);

impl Cmac {
    /// Starts a CMAC with an AES key of 16, 24 or 32 bytes (`BadKey` otherwise).
    pub fn new(key: &[u8]) -> Result<Self> {
        let alg = match key.len() {
            16 => lc::AES_128,
            24 => lc::AES_192,
            32 => lc::AES_256,
            _ => return Err(CryptoError::BadKey),
        };
        let key = lc::Key::new(alg, key).map_err(|_| CryptoError::BadKey)?;
        Ok(Self(lc::Context::with_key(&key)))
    }

    /// Feeds more data.
    pub fn update(&mut self, d: &[u8]) -> Result<()> {
        self.0.update(d).map_err(|_| CryptoError::Internal)
    }

    /// The full 16-byte tag.
    pub fn finish(self) -> Result<Zeroizing<Vec<u8>>> {
        let tag = self.0.sign().map_err(|_| CryptoError::Internal)?;
        Ok(Zeroizing::new(tag.as_ref().to_vec()))
    }
}

impl core::fmt::Debug for Cmac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Cmac([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;

    /// NIST SP 800-38B appendix D.1 (AES-128), examples 1–3.
    #[test]
    fn sp800_38b_aes128_examples() {
        let key = hex("2b7e151628aed2a6abf7158809cf4f3c");
        let msg = hex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51");
        let cases = [
            (0, "bb1d6929e95937287fa37d129b756746"),
            (16, "070a16b46b4d4144f79bdd9dd04a287c"),
            (32, "ce0cbf1738f4df6428b1d93bf12081c9"),
        ];
        for (len, want) in cases {
            let mut c = Cmac::new(&key).unwrap();
            c.update(&msg[..len]).unwrap();
            assert_eq!(
                c.finish().unwrap().as_slice(),
                hex(want).as_slice(),
                "len {len}"
            );
        }
    }

    #[test]
    fn rejects_bad_key_lengths() {
        assert_eq!(Cmac::new(&[0; 15]).unwrap_err(), CryptoError::BadKey);
    }
}
