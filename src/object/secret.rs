//! A secret key's bytes, and the keyed states its hottest operations start from, prepared
//! on first use and kept with the (cached) key material until the object is dropped.

use std::sync::OnceLock;

use zeroize::Zeroizing;

use crate::crypto::digest::DigestAlg;
use crate::crypto::prepared::{GcmKey, HmacKey};

/// AES or generic secret key bytes with their prepared states.
pub struct SecretKey {
    bytes: Zeroizing<Vec<u8>>,
    /// One per HMAC digest: SHA-1, SHA-224, SHA-256, SHA-384, SHA-512 (boxed: a key
    /// never used for HMAC costs five empty cells, not five contexts).
    hmac: [OnceLock<Option<Box<HmacKey>>>; 5],
    gcm: OnceLock<Option<Box<GcmKey>>>,
}

impl SecretKey {
    pub fn new(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self {
            bytes,
            hmac: Default::default(),
            gcm: OnceLock::new(),
        }
    }

    /// The prepared HMAC key for `alg`, if aws-lc-rs has that HMAC.
    pub fn hmac(&self, alg: DigestAlg) -> Option<&HmacKey> {
        let i = match alg {
            DigestAlg::Sha1 => 0,
            DigestAlg::Sha224 => 1,
            DigestAlg::Sha256 => 2,
            DigestAlg::Sha384 => 3,
            DigestAlg::Sha512 => 4,
            _ => return None,
        };
        self.hmac[i]
            .get_or_init(|| HmacKey::new(alg, &self.bytes).map(Box::new))
            .as_deref()
    }

    /// The prepared AES-GCM key, for 128- and 256-bit keys.
    pub fn gcm(&self) -> Option<&GcmKey> {
        self.gcm
            .get_or_init(|| GcmKey::new(&self.bytes).map(Box::new))
            .as_deref()
    }
}

impl std::ops::Deref for SecretKey {
    type Target = Zeroizing<Vec<u8>>;
    fn deref(&self) -> &Zeroizing<Vec<u8>> {
        &self.bytes
    }
}

impl From<Zeroizing<Vec<u8>>> for SecretKey {
    fn from(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self::new(bytes)
    }
}
