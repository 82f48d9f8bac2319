//! Key derivation for the key hierarchy: Argon2id for PINs, HKDF-SHA-256 for sub-keys.

use aws_lc_rs::hkdf;
use zeroize::Zeroizing;

use super::{CryptoError, Result};

/// Argon2id(pin, salt) → 32 bytes, with memory in KiB and passes as stored with the PIN.
pub fn pin_kek(
    pin: &[u8],
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
) -> Result<Zeroizing<[u8; 32]>> {
    let params = argon2::Params::new(memory_kib, iterations, 1, Some(32))
        .map_err(|_| CryptoError::BadParameter)?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(pin, salt, &mut *out)
        .map_err(|_| CryptoError::BadParameter)?;
    Ok(out)
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// HKDF-SHA-256(ikm, salt = empty, info) → 32 bytes.
pub fn subkey(ikm: &[u8], info: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, &[]).extract(ikm);
    let infos = [info];
    let okm = prk
        .expand(&infos, Len32)
        .map_err(|_| CryptoError::Internal)?;
    let mut out = Zeroizing::new([0u8; 32]);
    okm.fill(&mut *out).map_err(|_| CryptoError::Internal)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kek_depends_on_pin_and_salt() {
        let a = pin_kek(b"1234", b"saltsaltsaltsalt", 64, 1).unwrap();
        let b = pin_kek(b"1235", b"saltsaltsaltsalt", 64, 1).unwrap();
        let c = pin_kek(b"1234", b"saltsaltsaltsalu", 64, 1).unwrap();
        assert_ne!(*a, *b);
        assert_ne!(*a, *c);
        assert_eq!(*a, *pin_kek(b"1234", b"saltsaltsaltsalt", 64, 1).unwrap());
    }

    #[test]
    fn subkeys_differ_by_info() {
        assert_ne!(
            *subkey(&[1; 32], b"a").unwrap(),
            *subkey(&[1; 32], b"b").unwrap()
        );
    }
}
