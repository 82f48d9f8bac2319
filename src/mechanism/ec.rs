//! Elliptic curves over prime fields: key pair generation and ECDSA (§2.3).

use std::sync::Arc;

use cryptoki_sys::*;

use super::ops::{self, crypto_error, Context, Input};
use super::param::MechanismRequest;
use super::{Generated, Info, Mechanism, Signer, Verifier};
use crate::crypto::digest::DigestAlg;
use crate::crypto::ec;
use crate::error::{Error, Result};
use crate::object::key::{self, KeyMaterial};
use crate::object::Attributes;

pub(super) struct Ecdsa;

fn input(ty: CK_MECHANISM_TYPE) -> Result<Input> {
    Ok(match ty {
        CKM_ECDSA => Input::raw(),
        CKM_ECDSA_SHA1 => Input::hashed(DigestAlg::Sha1),
        CKM_ECDSA_SHA224 => Input::hashed(DigestAlg::Sha224),
        CKM_ECDSA_SHA256 => Input::hashed(DigestAlg::Sha256),
        CKM_ECDSA_SHA384 => Input::hashed(DigestAlg::Sha384),
        CKM_ECDSA_SHA512 => Input::hashed(DigestAlg::Sha512),
        CKM_ECDSA_SHA3_224 => Input::hashed(DigestAlg::Sha3_224),
        CKM_ECDSA_SHA3_256 => Input::hashed(DigestAlg::Sha3_256),
        CKM_ECDSA_SHA3_384 => Input::hashed(DigestAlg::Sha3_384),
        CKM_ECDSA_SHA3_512 => Input::hashed(DigestAlg::Sha3_512),
        _ => return Err(Error::MechanismInvalid),
    })
}

impl Mechanism for Ecdsa {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_EC)
    }

    fn info(&self, ty: CK_MECHANISM_TYPE) -> Info {
        let op = if ty == CKM_EC_KEY_PAIR_GEN {
            CKF_GENERATE_KEY_PAIR
        } else {
            CKF_SIGN | CKF_VERIFY
        };
        Info {
            min_key: 256,
            max_key: 521,
            flags: op | CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS,
        }
    }

    fn sign(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Signer>> {
        m.no_param()?;
        let input = input(m.ty)?;
        if !matches!(**key, KeyMaterial::EcPrivate(_)) {
            return Err(Error::KeyTypeInconsistent);
        }
        let key = key.clone();
        Ok(ops::signer(input, move |hash| match &*key {
            KeyMaterial::EcPrivate(k) => k.sign_hash(hash).map_err(crypto_error(Context::Sign)),
            _ => Err(Error::KeyTypeInconsistent),
        }))
    }

    fn verify(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        m.no_param()?;
        let input = input(m.ty)?;
        if !matches!(**key, KeyMaterial::EcPublic(_)) {
            return Err(Error::KeyTypeInconsistent);
        }
        let key = key.clone();
        Ok(ops::verifier(input, move |hash, sig| match &*key {
            KeyMaterial::EcPublic(k) => k
                .verify_hash(hash, sig)
                .map_err(crypto_error(Context::Verify)),
            _ => Err(Error::KeyTypeInconsistent),
        }))
    }

    fn generate_key_pair(
        &self,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
    ) -> Result<(Generated, Generated)> {
        m.no_param()?;
        let params = key::pair_ec_params(public, private)?;
        let curve = ec::Curve::from_ec_params(params).ok_or(Error::CurveNotSupported)?;
        let pair = ec::generate(curve).map_err(|_| Error::GeneralError)?;
        let (pub_attrs, priv_attrs) = key::ec_pair_attributes(curve, &pair);
        Ok((pub_attrs, priv_attrs))
    }
}
