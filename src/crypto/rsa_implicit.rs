//! RSAES-PKCS1-v1_5 decoding with implicit rejection (draft-irtf-cfrg-rsa-guidance, the
//! scheme OpenSSL 3.2 adopted): a ciphertext with bad padding decrypts to a synthetic
//! message derived from the private key and the ciphertext instead of an error, so the
//! token is not a Bleichenbacher padding oracle. The padding check and the choice between
//! the real and the synthetic message run in constant time.

use zeroize::Zeroizing;

use super::digest::{digest, DigestAlg};
use super::hmac::Hmac;
use super::Result;

/// The key-derivation key input: SHA-256 of the private exponent as k big-endian bytes.
pub fn kdk_seed(d: &[u8], k: usize) -> Zeroizing<Vec<u8>> {
    let mut padded = Zeroizing::new(vec![0u8; k.saturating_sub(d.len())]);
    padded.extend_from_slice(d);
    Zeroizing::new(digest(DigestAlg::Sha256, &padded))
}

/// IRPRF(key, label, bits): HMAC-SHA-256(key, I2OSP(i, 2) ‖ label ‖ I2OSP(bits, 2)) for
/// i = 0, 1, … concatenated and cut to `bits / 8` bytes.
fn prf(key: &[u8], label: &[u8], bits: u16) -> Result<Zeroizing<Vec<u8>>> {
    let len = usize::from(bits / 8);
    let mut out = Zeroizing::new(Vec::with_capacity(len + 32));
    let mut i: u16 = 0;
    while out.len() < len {
        let mut h = Hmac::new(DigestAlg::Sha256, key)?;
        h.update(&i.to_be_bytes());
        h.update(label);
        h.update(&bits.to_be_bytes());
        out.extend_from_slice(&h.finish());
        i += 1;
    }
    out.truncate(len);
    Ok(out)
}

/// All ones if `a == b`, else zero (no data-dependent branch).
fn ct_eq(a: usize, b: usize) -> usize {
    let x = a ^ b;
    // (x | -x) has its top bit set iff x != 0.
    ((x | x.wrapping_neg()) >> (usize::BITS - 1)).wrapping_sub(1)
}

/// All ones if `a < b`, else zero, for values below 2^(usize::BITS - 1).
fn ct_lt(a: usize, b: usize) -> usize {
    0usize.wrapping_sub(a.wrapping_sub(b) >> (usize::BITS - 1))
}

fn ct_select(mask: usize, a: usize, b: usize) -> usize {
    (a & mask) | (b & !mask)
}

/// Decode the k-byte RSA output `em` of `ciphertext` (also k bytes): the message if the
/// padding is valid, else the synthetic message. `seed` is [`kdk_seed`] of the key.
pub fn decode(em: &[u8], ciphertext: &[u8], seed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let k = em.len();
    if !(11..=2048).contains(&k) || ciphertext.len() != k {
        return Err(super::CryptoError::InvalidLength);
    }
    // The synthetic message.
    let mut kdk_mac = Hmac::new(DigestAlg::Sha256, seed)?;
    kdk_mac.update(ciphertext);
    let kdk = kdk_mac.finish();
    let candidates = prf(&kdk, b"length", 2048)?;
    let synthetic = prf(&kdk, b"message", (k * 8) as u16)?;
    let max_sep_offset = k - 2 - 8;
    let mask = usize::MAX >> (max_sep_offset.leading_zeros());
    let mut synthetic_len = 0usize;
    for pair in candidates.chunks_exact(2) {
        let candidate = usize::from(u16::from_be_bytes([pair[0], pair[1]])) & mask;
        synthetic_len = ct_select(ct_lt(candidate, max_sep_offset), candidate, synthetic_len);
    }
    // The real padding: 00 02 PS(≥ 8 non-zero bytes) 00 M.
    let mut looking = usize::MAX;
    let mut separator = 0usize;
    for (i, &byte) in em.iter().enumerate().skip(2) {
        let is_zero = ct_eq(usize::from(byte), 0);
        separator = ct_select(looking & is_zero, i, separator);
        looking &= !is_zero;
    }
    let good = ct_eq(usize::from(em[0]), 0)
        & ct_eq(usize::from(em[1]), 2)
        & !looking
        & !ct_lt(separator, 10);
    let real_len = k - 1 - separator;
    let out_len = ct_select(good, real_len, synthetic_len);
    let byte_mask = (good & 0xff) as u8;
    let mut out = Zeroizing::new(vec![0u8; k]);
    for (o, (&real, &fake)) in out.iter_mut().zip(em.iter().zip(synthetic.iter())) {
        *o = (real & byte_mask) | (fake & !byte_mask);
    }
    Ok(Zeroizing::new(out[k - out_len..].to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn padded(k: usize, msg: &[u8]) -> Vec<u8> {
        let mut em = vec![0u8, 2];
        em.extend(std::iter::repeat_n(0x5a, k - 3 - msg.len()));
        em.push(0);
        em.extend_from_slice(msg);
        em
    }

    #[test]
    fn constant_time_helpers() {
        assert_eq!(ct_eq(5, 5), usize::MAX);
        assert_eq!(ct_eq(5, 6), 0);
        assert_eq!(ct_lt(3, 4), usize::MAX);
        assert_eq!(ct_lt(4, 4), 0);
        assert_eq!(ct_lt(5, 4), 0);
        assert_eq!(ct_select(usize::MAX, 1, 2), 1);
        assert_eq!(ct_select(0, 1, 2), 2);
    }

    #[test]
    fn valid_padding_gives_the_message() {
        let seed = kdk_seed(&[7u8; 64], 128);
        for msg in [&b""[..], b"x", &[9u8; 117]] {
            let em = padded(128, msg);
            assert_eq!(decode(&em, &[1u8; 128], &seed).unwrap().as_slice(), msg);
        }
    }

    #[test]
    fn bad_padding_gives_a_deterministic_synthetic_message() {
        let seed = kdk_seed(&[7u8; 64], 128);
        let mut em = padded(128, b"secret");
        em[1] = 1;
        let a = decode(&em, &[1u8; 128], &seed).unwrap();
        let b = decode(&em, &[1u8; 128], &seed).unwrap();
        let other = decode(&em, &[2u8; 128], &seed).unwrap();
        assert_eq!(a, b, "the same ciphertext gives the same answer");
        assert_ne!(a.as_slice(), b"secret");
        assert_ne!(a, other, "another ciphertext gives another message");
        assert!(a.len() <= 128 - 11);
        // A separator too early (fewer than 8 padding bytes) is rejected as well.
        let mut short_ps = vec![0u8, 2, 1, 1, 1, 0];
        short_ps.extend_from_slice(&[3u8; 122]);
        let out = decode(&short_ps, &[1u8; 128], &seed).unwrap();
        assert_ne!(out.as_slice(), &[3u8; 122][..]);
    }
}
