//! Key derivation functions PKCS#11 callers ask for: HKDF (RFC 5869), the ANSI X9.63 KDF
//! used by ECDH1_DERIVE (CKD_SHA*_KDF), and PBKDF2 (RFC 8018). All over HMAC/SHA from the
//! rest of this layer, so every SHA-1/SHA-2 variant works.

use zeroize::Zeroizing;

use super::digest::{Digest, DigestAlg};
use super::hmac::Hmac;
use super::{CryptoError, Result};

fn hmac(alg: DigestAlg, key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<Vec<u8>>> {
    let mut mac = Hmac::new(alg, key)?;
    for p in parts {
        mac.update(p);
    }
    Ok(mac.finish())
}

/// HKDF-Extract: PRK = HMAC(salt, ikm); an empty salt means HashLen zero bytes.
pub fn hkdf_extract(alg: DigestAlg, salt: &[u8], ikm: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let zeros = vec![0u8; alg.output_len()];
    let salt = if salt.is_empty() { &zeros[..] } else { salt };
    hmac(alg, salt, &[ikm])
}

/// HKDF-Expand to `len` bytes (at most 255 × HashLen, else `InvalidLength`).
pub fn hkdf_expand(
    alg: DigestAlg,
    prk: &[u8],
    info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if len > 255 * alg.output_len() {
        return Err(CryptoError::InvalidLength);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut block = Zeroizing::new(Vec::new());
    for counter in 1..=255u8 {
        if out.len() >= len {
            break;
        }
        block = hmac(alg, prk, &[&block, info, &[counter]])?;
        out.extend_from_slice(&block);
    }
    out.truncate(len);
    Ok(out)
}

/// ANSI X9.63 KDF: Hash(Z ‖ counter₃₂ ‖ SharedInfo) for counter = 1, 2, … to `len` bytes.
pub fn x963(
    alg: DigestAlg,
    z: &[u8],
    shared_info: &[u8],
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut d = Digest::new(alg);
        d.update(z);
        d.update(&counter.to_be_bytes());
        d.update(shared_info);
        out.extend_from_slice(&Zeroizing::new(d.finish()));
        counter = counter.checked_add(1).ok_or(CryptoError::InvalidLength)?;
    }
    out.truncate(len);
    Ok(out)
}

/// PBKDF2 with HMAC-`alg` (RFC 8018 §5.2) to `len` bytes.
pub fn pbkdf2(
    alg: DigestAlg,
    password: &[u8],
    salt: &[u8],
    iterations: u32,
    len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    if iterations == 0 || len == 0 {
        return Err(CryptoError::BadParameter);
    }
    let mut out = Zeroizing::new(Vec::with_capacity(len));
    let mut index: u32 = 1;
    while out.len() < len {
        let mut u = hmac(alg, password, &[salt, &index.to_be_bytes()])?;
        let mut t = u.clone();
        for _ in 1..iterations {
            u = hmac(alg, password, &[&u])?;
            t.iter_mut().zip(u.iter()).for_each(|(a, b)| *a ^= b);
        }
        out.extend_from_slice(&t);
        index = index.checked_add(1).ok_or(CryptoError::InvalidLength)?;
    }
    out.truncate(len);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;

    /// RFC 5869 test case 1 (SHA-256) and test case 4 (SHA-1).
    #[test]
    fn rfc5869_vectors() {
        let ikm = hex("0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b");
        let salt = hex("000102030405060708090a0b0c");
        let info = hex("f0f1f2f3f4f5f6f7f8f9");
        let prk = hkdf_extract(DigestAlg::Sha256, &salt, &ikm).unwrap();
        assert_eq!(
            prk.as_slice(),
            hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5")
        );
        let okm = hkdf_expand(DigestAlg::Sha256, &prk, &info, 42).unwrap();
        assert_eq!(okm.as_slice(), hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"));
        let ikm4 = hex("0b0b0b0b0b0b0b0b0b0b0b");
        let prk4 = hkdf_extract(DigestAlg::Sha1, &salt, &ikm4).unwrap();
        let okm4 = hkdf_expand(DigestAlg::Sha1, &prk4, &info, 42).unwrap();
        assert_eq!(okm4.as_slice(), hex("085a01ea1b10f36933068b56efa5ad81a4f14b822f5b091568a9cdd4f155fda2c22e422478d305f3f896"));
        assert_eq!(
            hkdf_expand(DigestAlg::Sha1, &prk4, &info, 255 * 20 + 1).unwrap_err(),
            CryptoError::InvalidLength
        );
    }

    /// RFC 6070 PBKDF2-HMAC-SHA1 test vectors 1 and 2.
    #[test]
    fn rfc6070_vectors() {
        let one = pbkdf2(DigestAlg::Sha1, b"password", b"salt", 1, 20).unwrap();
        assert_eq!(
            one.as_slice(),
            hex("0c60c80f961f0e71f3a9b524af6012062fe037a6")
        );
        let two = pbkdf2(DigestAlg::Sha1, b"password", b"salt", 2, 20).unwrap();
        assert_eq!(
            two.as_slice(),
            hex("ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957")
        );
    }

    /// ANSI X9.63 KDF, SHA-256: the first CAVS vector of NIST's "ansx963_2001" set.
    #[test]
    fn x963_vector() {
        let z = hex("96c05619d56c328ab95fe84b18264b08725b85e33fd34f08");
        let out = x963(DigestAlg::Sha256, &z, &[], 16).unwrap();
        assert_eq!(out.as_slice(), hex("443024c3dae66b95e6f5670601558f71"));
    }
}
