//! Mechanisms are data: each family implements [`Mechanism`] for the operations it
//! supports, and [`REGISTRY`] maps every `CKM_*` to its implementation.

mod aes;
mod cmac;
mod curve25519;
mod digest;
mod ec;
mod ecdh;
mod hkdf;
mod hmac;
mod kbkdf;
mod keywrap;
mod mac;
pub mod message;
pub mod names;
pub mod ops;
pub mod param;
mod pbkdf2;
mod rotate;
mod rsa;
pub mod versioned_gcm;

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

pub use ops::{Cipher, Digester, Signer, Verifier};
pub use param::{KbkdfPart, MechanismRequest, Param};
pub use rsa::MIN_BITS as RSA_MIN_BITS;

use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;
use crate::object::Attributes;

/// True CK_MECHANISM_INFO for one mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Info {
    pub min_key: CK_ULONG,
    pub max_key: CK_ULONG,
    pub flags: CK_FLAGS,
}

/// What a new key gets from its generator: the attributes it computed.
pub type Generated = Attributes;

/// One mechanism family's behaviour. Every operation defaults to CKR_MECHANISM_INVALID
/// ("not valid for this operation", §5.2); `info` must be exact.
pub trait Mechanism: Sync {
    fn info(&self, ty: CK_MECHANISM_TYPE) -> Info;

    /// The key type mechanism `ty` of this family uses or generates (None for digests).
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        None
    }

    fn sign(&self, _m: &MechanismRequest, _key: &Arc<KeyMaterial>) -> Result<Box<dyn Signer>> {
        Err(Error::MechanismInvalid)
    }
    fn verify(&self, _m: &MechanismRequest, _key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        Err(Error::MechanismInvalid)
    }
    fn encrypt(&self, _m: &MechanismRequest, _key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        Err(Error::MechanismInvalid)
    }
    fn decrypt(&self, _m: &MechanismRequest, _key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        Err(Error::MechanismInvalid)
    }
    fn digest(&self, _m: &MechanismRequest) -> Result<Box<dyn Digester>> {
        Err(Error::MechanismInvalid)
    }
    /// Whether mechanism `ty` works with keys of `key_type` (default: the one it names).
    fn accepts(&self, ty: CK_MECHANISM_TYPE, key_type: CK_KEY_TYPE) -> bool {
        self.key_type(ty).is_none_or(|k| k == key_type)
    }

    /// C_DeriveKey: the new secret key's value from `base`. `len` is the CKA_VALUE_LEN the
    /// template asks for; without it the mechanism's natural output length.
    fn derive(
        &self,
        _m: &MechanismRequest,
        _base: &KeyMaterial,
        _len: Option<usize>,
    ) -> Result<Zeroizing<Vec<u8>>> {
        Err(Error::MechanismInvalid)
    }

    /// C_GenerateKey: the attributes it computed (CKA_VALUE …).
    fn generate_key(&self, _m: &MechanismRequest, _template: &Attributes) -> Result<Generated> {
        Err(Error::MechanismInvalid)
    }
    /// C_GenerateKeyPair: the computed (public, private) attributes.
    fn generate_key_pair(
        &self,
        _m: &MechanismRequest,
        _public: &Attributes,
        _private: &Attributes,
    ) -> Result<(Generated, Generated)> {
        Err(Error::MechanismInvalid)
    }
}

/// Every supported mechanism, in the order C_GetMechanismList reports them.
pub static REGISTRY: &[(CK_MECHANISM_TYPE, &dyn Mechanism)] = &[
    (CKM_RSA_PKCS_KEY_PAIR_GEN, &rsa::Rsa),
    (CKM_RSA_PKCS, &rsa::Rsa),
    (CKM_RSA_X_509, &rsa::Rsa),
    (CKM_SHA1_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA224_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA256_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA384_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA512_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA3_224_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA3_256_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA3_384_RSA_PKCS, &rsa::Rsa),
    (CKM_SHA3_512_RSA_PKCS, &rsa::Rsa),
    (CKM_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA1_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA224_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA256_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA384_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA512_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA3_224_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA3_256_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA3_384_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_SHA3_512_RSA_PKCS_PSS, &rsa::Rsa),
    (CKM_RSA_PKCS_OAEP, &rsa::Rsa),
    (CKM_EC_KEY_PAIR_GEN, &ec::Ecdsa),
    (CKM_ECDSA, &ec::Ecdsa),
    (CKM_ECDSA_SHA1, &ec::Ecdsa),
    (CKM_ECDSA_SHA224, &ec::Ecdsa),
    (CKM_ECDSA_SHA256, &ec::Ecdsa),
    (CKM_ECDSA_SHA384, &ec::Ecdsa),
    (CKM_ECDSA_SHA512, &ec::Ecdsa),
    (CKM_ECDSA_SHA3_224, &ec::Ecdsa),
    (CKM_ECDSA_SHA3_256, &ec::Ecdsa),
    (CKM_ECDSA_SHA3_384, &ec::Ecdsa),
    (CKM_ECDSA_SHA3_512, &ec::Ecdsa),
    (CKM_ECDH1_DERIVE, &ecdh::Ecdh),
    (CKM_ECDH1_COFACTOR_DERIVE, &ecdh::Ecdh),
    (CKM_EC_EDWARDS_KEY_PAIR_GEN, &curve25519::Edwards),
    (CKM_EDDSA, &curve25519::Edwards),
    (CKM_EC_MONTGOMERY_KEY_PAIR_GEN, &curve25519::Montgomery),
    (CKM_AES_KEY_GEN, &aes::Aes),
    (CKM_AES_ECB, &aes::Aes),
    (CKM_AES_CBC, &aes::Aes),
    (CKM_AES_CBC_PAD, &aes::Aes),
    (CKM_AES_CTR, &aes::Aes),
    (CKM_AES_GCM, &aes::Aes),
    (CKM_AES_ECB_ENCRYPT_DATA, &aes::Aes),
    (CKM_AES_CBC_ENCRYPT_DATA, &aes::Aes),
    (CKM_AES_KEY_WRAP, &keywrap::AesKeyWrap),
    (CKM_AES_KEY_WRAP_PAD, &keywrap::AesKeyWrap),
    (CKM_AES_KEY_WRAP_KWP, &keywrap::AesKeyWrap),
    (CKM_AES_CMAC, &cmac::Cmac),
    (CKM_AES_CMAC_GENERAL, &cmac::Cmac),
    (CKM_SHA_1, &digest::Sha),
    (CKM_SHA224, &digest::Sha),
    (CKM_SHA256, &digest::Sha),
    (CKM_SHA384, &digest::Sha),
    (CKM_SHA512, &digest::Sha),
    (CKM_SHA512_224, &digest::Sha),
    (CKM_SHA512_256, &digest::Sha),
    (CKM_SHA3_224, &digest::Sha),
    (CKM_SHA3_256, &digest::Sha),
    (CKM_SHA3_384, &digest::Sha),
    (CKM_SHA3_512, &digest::Sha),
    (CKM_GENERIC_SECRET_KEY_GEN, &hmac::Hmac),
    (CKM_SHA_1_HMAC, &hmac::Hmac),
    (CKM_SHA224_HMAC, &hmac::Hmac),
    (CKM_SHA256_HMAC, &hmac::Hmac),
    (CKM_SHA384_HMAC, &hmac::Hmac),
    (CKM_SHA512_HMAC, &hmac::Hmac),
    (CKM_SHA_1_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA224_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA256_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA384_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA512_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA512_224_HMAC, &hmac::Hmac),
    (CKM_SHA512_224_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA512_256_HMAC, &hmac::Hmac),
    (CKM_SHA512_256_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA3_224_HMAC, &hmac::Hmac),
    (CKM_SHA3_224_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA3_256_HMAC, &hmac::Hmac),
    (CKM_SHA3_256_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA3_384_HMAC, &hmac::Hmac),
    (CKM_SHA3_384_HMAC_GENERAL, &hmac::Hmac),
    (CKM_SHA3_512_HMAC, &hmac::Hmac),
    (CKM_SHA3_512_HMAC_GENERAL, &hmac::Hmac),
    (CKM_HKDF_DERIVE, &hkdf::Hkdf),
    (CKM_HKDF_DATA, &hkdf::Hkdf),
    (CKM_PKCS5_PBKD2, &pbkdf2::Pbkdf2),
    (CKM_SP800_108_COUNTER_KDF, &kbkdf::Kbkdf),
    (crate::object::vendor::CKM_KW_ROTATE, &rotate::Rotate),
    (
        crate::object::vendor::CKM_KW_VERSIONED_AES_GCM,
        &versioned_gcm::VersionedGcm,
    ),
];

/// The implementation of `ty`; CKR_MECHANISM_INVALID if unknown. Every C_*Init asks, so
/// it searches a copy of [`REGISTRY`] sorted by type, made on first use.
pub fn lookup(ty: CK_MECHANISM_TYPE) -> Result<&'static dyn Mechanism> {
    static SORTED: std::sync::OnceLock<Vec<(CK_MECHANISM_TYPE, &'static dyn Mechanism)>> =
        std::sync::OnceLock::new();
    let sorted = SORTED.get_or_init(|| {
        let mut v = REGISTRY.to_vec();
        v.sort_by_key(|(t, _)| *t);
        v
    });
    sorted
        .binary_search_by_key(&ty, |(t, _)| *t)
        .map(|i| sorted[i].1)
        .map_err(|_| Error::MechanismInvalid)
}

/// C_GetMechanismList.
pub fn list() -> Vec<CK_MECHANISM_TYPE> {
    REGISTRY.iter().map(|(t, _)| *t).collect()
}

/// C_GetMechanismInfo; CKR_MECHANISM_INVALID if unknown.
pub fn info(ty: CK_MECHANISM_TYPE) -> Result<Info> {
    lookup(ty).map(|m| m.info(ty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_has_no_duplicates_and_every_info_has_flags() {
        let mut seen = std::collections::HashSet::new();
        for (ty, m) in REGISTRY {
            assert!(seen.insert(*ty), "duplicate 0x{ty:x}");
            let i = m.info(*ty);
            assert_ne!(i.flags, 0, "0x{ty:x} has no flags");
            assert!(i.min_key <= i.max_key);
        }
    }
}
