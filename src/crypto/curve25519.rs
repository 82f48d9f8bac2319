//! Ed25519 signatures (RFC 8032, pure mode) and X25519 key agreement (RFC 7748), backed by
//! `aws-lc-rs`. Keys are raw 32-byte strings, as PKCS#11 holds them.

use aws_lc_rs::agreement;
use aws_lc_rs::encoding::{AsBigEndian, Curve25519SeedBin};
use aws_lc_rs::signature::{self, Ed25519KeyPair, KeyPair};
use zeroize::Zeroizing;

use super::{CryptoError, Result};

/// Length of every Curve25519 key and of the shared secret, in bytes.
pub const KEY_LEN: usize = 32;
/// Length of an Ed25519 signature, in bytes.
pub const SIGNATURE_LEN: usize = 64;

/// A generated key pair: (private seed or scalar, public key).
pub type RawPair = (Zeroizing<Vec<u8>>, Vec<u8>);

/// An Ed25519 private key.
pub struct Ed25519Private(Ed25519KeyPair);

impl Ed25519Private {
    /// From the 32-byte seed (CKA_VALUE).
    pub fn from_seed(seed: &[u8]) -> Result<Self> {
        if seed.len() != KEY_LEN {
            return Err(CryptoError::BadKey);
        }
        Ed25519KeyPair::from_seed_unchecked(seed)
            .map(Self)
            .map_err(|_| CryptoError::BadKey)
    }

    /// A fresh key pair: (seed, public key).
    pub fn generate() -> Result<RawPair> {
        let pair = Ed25519KeyPair::generate().map_err(|_| CryptoError::Internal)?;
        let seed: Curve25519SeedBin = pair
            .seed()
            .and_then(|s| s.as_be_bytes())
            .map_err(|_| CryptoError::Internal)?;
        let public = pair.public_key().as_ref().to_vec();
        Ok((Zeroizing::new(seed.as_ref().to_vec()), public))
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.0
            .try_sign(message)
            .map(|s| s.as_ref().to_vec())
            .map_err(|_| CryptoError::Internal)
    }
}

/// Verify an Ed25519 signature with a raw 32-byte public key.
pub fn ed25519_verify(public: &[u8], message: &[u8], sig: &[u8]) -> Result<()> {
    if public.len() != KEY_LEN {
        return Err(CryptoError::BadKey);
    }
    if sig.len() != SIGNATURE_LEN {
        return Err(CryptoError::BadSignatureLength);
    }
    signature::UnparsedPublicKey::new(&signature::ED25519, public)
        .verify(message, sig)
        .map_err(|_| CryptoError::BadSignature)
}

/// A fresh X25519 key pair: (private scalar, public key).
pub fn x25519_generate() -> Result<RawPair> {
    let private =
        agreement::PrivateKey::generate(&agreement::X25519).map_err(|_| CryptoError::Internal)?;
    let public = private
        .compute_public_key()
        .map_err(|_| CryptoError::Internal)?;
    let scalar: Curve25519SeedBin = private.as_be_bytes().map_err(|_| CryptoError::Internal)?;
    Ok((
        Zeroizing::new(scalar.as_ref().to_vec()),
        public.as_ref().to_vec(),
    ))
}

/// The X25519 shared secret of `private` and the peer's raw public key. An all-zero result
/// (a low-order peer point) is rejected as `InvalidData`.
pub fn x25519_agree(private: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let key = agreement::PrivateKey::from_private_key(&agreement::X25519, private)
        .map_err(|_| CryptoError::BadKey)?;
    super::raw_agreement(&key, &agreement::X25519, peer)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;

    /// RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte).
    #[test]
    fn rfc8032_vectors() {
        let cases = [
            (
                "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
                "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
                "",
                "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
            ),
            (
                "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
                "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
                "72",
                "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
            ),
        ];
        for (seed, public, msg, sig) in cases {
            let key = Ed25519Private::from_seed(&hex(seed)).unwrap();
            assert_eq!(key.sign(&hex(msg)).unwrap(), hex(sig));
            ed25519_verify(&hex(public), &hex(msg), &hex(sig)).unwrap();
            let mut bad = hex(sig);
            bad[0] ^= 1;
            assert_eq!(
                ed25519_verify(&hex(public), &hex(msg), &bad).unwrap_err(),
                CryptoError::BadSignature
            );
        }
    }

    /// RFC 7748 §6.1 Diffie–Hellman example.
    #[test]
    fn rfc7748_agreement() {
        let alice = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let bob_pub = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let shared = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(x25519_agree(&alice, &bob_pub).unwrap().as_slice(), shared);
    }

    #[test]
    fn generated_pairs_work() {
        let (seed, public) = Ed25519Private::generate().unwrap();
        let sig = Ed25519Private::from_seed(&seed)
            .unwrap()
            .sign(b"m")
            .unwrap();
        ed25519_verify(&public, b"m", &sig).unwrap();
        let (a, a_pub) = x25519_generate().unwrap();
        let (b, b_pub) = x25519_generate().unwrap();
        assert_eq!(
            x25519_agree(&a, &b_pub).unwrap(),
            x25519_agree(&b, &a_pub).unwrap()
        );
    }
}
