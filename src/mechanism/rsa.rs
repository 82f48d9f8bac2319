//! RSA: key pair generation, PKCS#1 v1.5, PSS and raw (X.509) signatures, PKCS#1 v1.5,
//! OAEP and raw encryption (§2.1). PKCS#1 v1.5 decryption uses implicit rejection.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::ops::{self, crypto_error, Context, Input};
use super::param::{hash_alg, mgf1_alg, MechanismRequest, Param};
use super::{Cipher, Generated, Info, Mechanism, Signer, Verifier};
use crate::crypto::digest::DigestAlg;
use crate::crypto::rsa::{self, EncPadding, SignPadding};
use crate::error::{Error, Result};
use crate::object::attr::parse_ulong;
use crate::object::key::{self, KeyMaterial};
use crate::object::Attributes;

pub(super) struct Rsa;

/// Smallest modulus this token generates (and, by default, signs or decrypts with).
pub const MIN_BITS: CK_ULONG = 2048;
/// Smallest modulus it still verifies and encrypts with (imported legacy keys).
const MIN_PUBLIC_BITS: CK_ULONG = 1024;
const MAX_BITS: CK_ULONG = 8192;

/// The digest a hash-and-sign mechanism applies, or None for the raw forms.
fn prehash(ty: CK_MECHANISM_TYPE) -> Option<DigestAlg> {
    Some(match ty {
        CKM_SHA1_RSA_PKCS | CKM_SHA1_RSA_PKCS_PSS => DigestAlg::Sha1,
        CKM_SHA224_RSA_PKCS | CKM_SHA224_RSA_PKCS_PSS => DigestAlg::Sha224,
        CKM_SHA256_RSA_PKCS | CKM_SHA256_RSA_PKCS_PSS => DigestAlg::Sha256,
        CKM_SHA384_RSA_PKCS | CKM_SHA384_RSA_PKCS_PSS => DigestAlg::Sha384,
        CKM_SHA512_RSA_PKCS | CKM_SHA512_RSA_PKCS_PSS => DigestAlg::Sha512,
        CKM_SHA3_224_RSA_PKCS | CKM_SHA3_224_RSA_PKCS_PSS => DigestAlg::Sha3_224,
        CKM_SHA3_256_RSA_PKCS | CKM_SHA3_256_RSA_PKCS_PSS => DigestAlg::Sha3_256,
        CKM_SHA3_384_RSA_PKCS | CKM_SHA3_384_RSA_PKCS_PSS => DigestAlg::Sha3_384,
        CKM_SHA3_512_RSA_PKCS | CKM_SHA3_512_RSA_PKCS_PSS => DigestAlg::Sha3_512,
        _ => return None,
    })
}

fn is_pss(ty: CK_MECHANISM_TYPE) -> bool {
    matches!(
        ty,
        CKM_RSA_PKCS_PSS
            | CKM_SHA1_RSA_PKCS_PSS
            | CKM_SHA224_RSA_PKCS_PSS
            | CKM_SHA256_RSA_PKCS_PSS
            | CKM_SHA384_RSA_PKCS_PSS
            | CKM_SHA512_RSA_PKCS_PSS
            | CKM_SHA3_224_RSA_PKCS_PSS
            | CKM_SHA3_256_RSA_PKCS_PSS
            | CKM_SHA3_384_RSA_PKCS_PSS
            | CKM_SHA3_512_RSA_PKCS_PSS
    )
}

/// The signature scheme and input stage of a sign/verify mechanism.
fn scheme(m: &MechanismRequest) -> Result<(SignPadding, Input)> {
    let pre = prehash(m.ty);
    if !is_pss(m.ty) {
        m.no_param()?;
        return match (m.ty, pre) {
            (CKM_RSA_PKCS, _) => Ok((SignPadding::Pkcs1 { digest: None }, Input::raw())),
            (CKM_RSA_X_509, _) => Ok((SignPadding::Raw, Input::raw())),
            (_, Some(h)) => Ok((SignPadding::Pkcs1 { digest: Some(h) }, Input::hashed(h))),
            _ => Err(Error::MechanismInvalid),
        };
    }
    let Param::Pss {
        hash,
        mgf,
        salt_len,
    } = m.param
    else {
        return Err(Error::MechanismParamInvalid);
    };
    let digest = hash_alg(hash)?;
    // The hash-and-sign forms must name their own hash (§2.1.14).
    if pre.is_some_and(|h| h != digest) {
        return Err(Error::MechanismParamInvalid);
    }
    let padding = SignPadding::Pss {
        digest,
        mgf1: mgf1_alg(mgf)?,
        salt_len: salt_len as usize,
    };
    let input = if pre.is_some() {
        Input::hashed(digest)
    } else {
        Input::raw()
    };
    Ok((padding, input))
}

/// A PSS salt must fit the key: emLen >= hLen + sLen + 2 (RFC 8017 §9.1.1). One that cannot
/// is a bad parameter, refused at C_SignInit/C_VerifyInit (CKR_MECHANISM_PARAM_INVALID)
/// rather than at the first C_Sign.
fn check_salt(padding: &SignPadding, key_bits: usize) -> Result<()> {
    if let SignPadding::Pss {
        digest, salt_len, ..
    } = padding
    {
        let em_len = key_bits.saturating_sub(1).div_ceil(8);
        let needed = salt_len.checked_add(digest.output_len() + 2);
        if needed.is_none_or(|n| n > em_len) {
            return Err(Error::MechanismParamInvalid);
        }
    }
    Ok(())
}

fn encryption(m: &MechanismRequest) -> Result<EncPadding> {
    match (&m.param, m.ty) {
        (_, CKM_RSA_PKCS) => m.no_param().map(|_| EncPadding::Pkcs1),
        (_, CKM_RSA_X_509) => m.no_param().map(|_| EncPadding::Raw),
        (
            Param::Oaep {
                hash,
                mgf,
                source,
                label,
            },
            CKM_RSA_PKCS_OAEP,
        ) => {
            if *source != CKZ_DATA_SPECIFIED && !(*source == 0 && label.is_empty()) {
                return Err(Error::MechanismParamInvalid);
            }
            Ok(EncPadding::Oaep {
                digest: hash_alg(*hash)?,
                mgf1: mgf1_alg(*mgf)?,
                label: label.clone(),
            })
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// A private key for signing or decrypting (the token's policy on keys below 2048 bits is
/// applied by the provider, which knows the slot's configuration).
fn private(key: &Arc<KeyMaterial>) -> Result<Arc<KeyMaterial>> {
    match &**key {
        KeyMaterial::RsaPrivate(_) => Ok(key.clone()),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// CKM_RSA_X_509 signs exactly k bytes: shorter input is taken as a big-endian number.
fn raw_input(padding: &SignPadding, data: &[u8], k: usize) -> Zeroizing<Vec<u8>> {
    let mut input = Zeroizing::new(Vec::with_capacity(k));
    if *padding == SignPadding::Raw && data.len() < k {
        input.resize(k - data.len(), 0);
    }
    input.extend_from_slice(data);
    input
}

fn public(key: &Arc<KeyMaterial>) -> Result<Arc<KeyMaterial>> {
    match **key {
        KeyMaterial::RsaPublic(_) => Ok(key.clone()),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

impl Mechanism for Rsa {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_RSA)
    }

    fn info(&self, ty: CK_MECHANISM_TYPE) -> Info {
        let crypt = CKF_ENCRYPT | CKF_DECRYPT;
        let sign = CKF_SIGN | CKF_VERIFY;
        let flags = match ty {
            CKM_RSA_PKCS_KEY_PAIR_GEN => CKF_GENERATE_KEY_PAIR,
            CKM_RSA_PKCS_OAEP => crypt | CKF_WRAP | CKF_UNWRAP,
            CKM_RSA_PKCS => crypt | sign | CKF_WRAP | CKF_UNWRAP,
            CKM_RSA_X_509 => crypt | sign,
            _ => sign,
        };
        let min_key = if ty == CKM_RSA_PKCS_KEY_PAIR_GEN {
            MIN_BITS
        } else {
            MIN_PUBLIC_BITS
        };
        Info {
            min_key,
            max_key: MAX_BITS,
            flags,
        }
    }

    fn sign(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Signer>> {
        let (padding, input) = scheme(m)?;
        let key = private(key)?;
        check_salt(&padding, key.size())?;
        Ok(ops::signer(input, move |data| match &*key {
            KeyMaterial::RsaPrivate(k) => {
                let data = raw_input(&padding, data, k.modulus_len());
                k.sign(&padding, &data).map_err(crypto_error(Context::Sign))
            }
            _ => Err(Error::KeyTypeInconsistent),
        }))
    }

    fn verify(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        let (padding, input) = scheme(m)?;
        let key = public(key)?;
        check_salt(&padding, key.size())?;
        Ok(ops::verifier(input, move |data, sig| match &*key {
            KeyMaterial::RsaPublic(k) => k
                .verify(&padding, data, sig)
                .map_err(crypto_error(Context::Verify)),
            _ => Err(Error::KeyTypeInconsistent),
        }))
    }

    fn encrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        let padding = encryption(m)?;
        let key = public(key)?;
        Ok(ops::one_shot(move |data| match &*key {
            KeyMaterial::RsaPublic(k) => k
                .encrypt(&padding, data)
                .map(Zeroizing::new)
                .map_err(crypto_error(Context::Encrypt)),
            _ => Err(Error::KeyTypeInconsistent),
        }))
    }

    fn decrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        let padding = encryption(m)?;
        let key = private(key)?;
        Ok(ops::one_shot(move |data| match &*key {
            KeyMaterial::RsaPrivate(k) => k
                .decrypt(&padding, data)
                .map_err(crypto_error(Context::Decrypt)),
            _ => Err(Error::KeyTypeInconsistent),
        }))
    }

    fn generate_key_pair(
        &self,
        m: &MechanismRequest,
        public: &Attributes,
        _private: &Attributes,
    ) -> Result<(Generated, Generated)> {
        m.no_param()?;
        let bits = public
            .get(CKA_MODULUS_BITS)
            .ok_or(Error::TemplateIncomplete)
            .and_then(parse_ulong)?;
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(Error::KeySizeRange);
        }
        let exponent = public
            .get(CKA_PUBLIC_EXPONENT)
            .unwrap_or(&[0x01, 0x00, 0x01]);
        let components = rsa::generate(bits as u32, exponent).map_err(|e| match e {
            crate::crypto::CryptoError::BadKey | crate::crypto::CryptoError::BadParameter => {
                Error::AttributeValueInvalid
            }
            _ => Error::GeneralError,
        })?;
        let (pub_attrs, priv_attrs) = key::rsa_pair_attributes(&components, bits);
        Ok((pub_attrs, priv_attrs))
    }
}
