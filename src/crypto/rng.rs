//! Cryptographically secure random bytes (aws-lc DRBG).

use super::{CryptoError, Result};

/// Fills `buf` with random bytes from the aws-lc DRBG.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    aws_lc_rs::rand::fill(buf).map_err(|_| CryptoError::Internal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fills_and_differs() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        fill(&mut a).unwrap();
        fill(&mut b).unwrap();
        assert_ne!(a, [0u8; 32]);
        assert_ne!(a, b);
        fill(&mut []).unwrap();
    }
}
