//! Keyward crypto layer: thin, leak-free wrappers over aws-lc.
//!
//! All `unsafe` code lives in [`ffi`]; the other modules only use its safe RAII
//! wrappers or the safe `aws-lc-rs` API.

pub mod aead;
pub mod aes;
pub mod cmac;
pub mod curve25519;
pub mod derive;
pub mod digest;
pub mod ec;
#[allow(unsafe_code)]
pub mod ffi;
pub mod hmac;
pub mod kdf;
pub mod keywrap;
pub mod prepared;
pub mod rng;
pub mod rsa;
pub mod rsa_implicit;
pub mod totp;

/// Raw ECDH (or X25519) agreement; the caller applies any KDF.
pub(crate) fn raw_agreement(
    key: &aws_lc_rs::agreement::PrivateKey,
    alg: &'static aws_lc_rs::agreement::Algorithm,
    peer: &[u8],
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    aws_lc_rs::agreement::agree(
        key,
        aws_lc_rs::agreement::UnparsedPublicKey::new(alg, peer),
        CryptoError::InvalidData,
        |secret| Ok(zeroize::Zeroizing::new(secret.to_vec())),
    )
}

/// Decode a hex string of test vectors (panics on bad input: tests only).
#[cfg(test)]
pub(crate) fn test_hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Opaque, leak-free errors. The caller maps them to CKR codes by context.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// Input length wrong for the operation (block multiple, > modulus-11 for PKCS#1, hash too long …)
    InvalidLength,
    /// Ciphertext/padding/tag rejected on decrypt (CBC-PAD padding, GCM tag, OAEP/PKCS#1 decode).
    InvalidData,
    /// Signature did not verify.
    BadSignature,
    /// Signature of the wrong length for the key.
    BadSignatureLength,
    /// Key material rejected (bad components, point not on curve, bad key size/exponent).
    BadKey,
    /// Parameter rejected (IV length, tag length, salt length …).
    BadParameter,
    /// Anything else from the library.
    Internal,
}

impl core::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let s = match self {
            CryptoError::InvalidLength => "invalid input length",
            CryptoError::InvalidData => "invalid data",
            CryptoError::BadSignature => "signature invalid",
            CryptoError::BadSignatureLength => "signature length invalid",
            CryptoError::BadKey => "key rejected",
            CryptoError::BadParameter => "parameter rejected",
            CryptoError::Internal => "internal crypto error",
        };
        f.write_str(s)
    }
}

impl std::error::Error for CryptoError {}

/// Result alias used throughout the crypto layer.
pub type Result<T> = core::result::Result<T, CryptoError>;
