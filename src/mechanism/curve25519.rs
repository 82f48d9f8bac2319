//! Edwards and Montgomery curves: Ed25519 key pairs and EdDSA (PKCS#11 3.0 §2.3.11–2.3.14),
//! X25519 key pairs (derivation is in `ecdh.rs`).

use std::sync::Arc;

use cryptoki_sys::*;

use super::ops::{self, crypto_error, Context, Input};
use super::param::{MechanismRequest, Param};
use super::{Generated, Info, Mechanism, Signer, Verifier};
use crate::crypto::curve25519::{self, Ed25519Private};
use crate::error::{Error, Result};
use crate::object::key::{self, KeyMaterial};
use crate::object::Attributes;

/// Ed25519 (CKK_EC_EDWARDS).
pub(super) struct Edwards;
/// X25519 (CKK_EC_MONTGOMERY).
pub(super) struct Montgomery;

/// Curve25519 key size as CK_MECHANISM_INFO reports it, in bits.
const BITS: CK_ULONG = 255;

/// CKM_EDDSA takes no parameter, or CK_EDDSA_PARAMS asking for pure Ed25519 (no prehash,
/// no context); Ed25519ctx and Ed25519ph are not offered.
fn pure_ed25519(m: &MechanismRequest) -> Result<()> {
    match &m.param {
        Param::None => Ok(()),
        Param::EdDsa {
            prehash: false,
            context,
        } if context.is_empty() => Ok(()),
        _ => Err(Error::MechanismParamInvalid),
    }
}

/// The caller's CKA_EC_PARAMS for a new pair, which must be one of `accepted`.
fn pair_params(
    public: &Attributes,
    private: &Attributes,
    accepted: key::CurveParams,
) -> Result<()> {
    key::pair_ec_params(public, private)?;
    key::check_curve25519(public, accepted)
}

fn pair_info(ty: CK_MECHANISM_TYPE, gen: CK_MECHANISM_TYPE, op: CK_FLAGS) -> Info {
    let flags = if ty == gen { CKF_GENERATE_KEY_PAIR } else { op };
    Info {
        min_key: BITS,
        max_key: BITS,
        flags,
    }
}

impl Mechanism for Edwards {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_EC_EDWARDS)
    }

    fn info(&self, ty: CK_MECHANISM_TYPE) -> Info {
        pair_info(ty, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKF_SIGN | CKF_VERIFY)
    }

    fn sign(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Signer>> {
        pure_ed25519(m)?;
        if !matches!(**key, KeyMaterial::EdPrivate(_)) {
            return Err(Error::KeyTypeInconsistent);
        }
        let key = key.clone();
        Ok(ops::signer(Input::raw(), move |msg| match &*key {
            KeyMaterial::EdPrivate(k) => k.sign(msg).map_err(crypto_error(Context::Sign)),
            _ => Err(Error::KeyTypeInconsistent),
        }))
    }

    fn verify(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        pure_ed25519(m)?;
        let KeyMaterial::EdPublic(public) = &**key else {
            return Err(Error::KeyTypeInconsistent);
        };
        let public = public.clone();
        Ok(ops::verifier(Input::raw(), move |msg, sig| {
            curve25519::ed25519_verify(&public, msg, sig).map_err(crypto_error(Context::Verify))
        }))
    }

    fn generate_key_pair(
        &self,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
    ) -> Result<(Generated, Generated)> {
        m.no_param()?;
        pair_params(public, private, key::ED25519_PARAMS)?;
        let pair = Ed25519Private::generate().map_err(|_| Error::GeneralError)?;
        Ok(with_params(public, key::curve25519_pair_attributes(&pair)))
    }
}

impl Mechanism for Montgomery {
    fn key_type(&self, _ty: CK_MECHANISM_TYPE) -> Option<CK_KEY_TYPE> {
        Some(CKK_EC_MONTGOMERY)
    }

    fn info(&self, ty: CK_MECHANISM_TYPE) -> Info {
        pair_info(ty, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKF_DERIVE)
    }

    fn generate_key_pair(
        &self,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
    ) -> Result<(Generated, Generated)> {
        m.no_param()?;
        pair_params(public, private, key::X25519_PARAMS)?;
        let pair = curve25519::x25519_generate().map_err(|_| Error::GeneralError)?;
        Ok(with_params(public, key::curve25519_pair_attributes(&pair)))
    }
}

/// Both halves of a new pair carry the caller's CKA_EC_PARAMS.
fn with_params(public: &Attributes, pair: (Generated, Generated)) -> (Generated, Generated) {
    let (mut pub_attrs, mut priv_attrs) = pair;
    if let Some(params) = public.get(CKA_EC_PARAMS) {
        pub_attrs.set(CKA_EC_PARAMS, params.to_vec());
        priv_attrs.set(CKA_EC_PARAMS, params.to_vec());
    }
    (pub_attrs, priv_attrs)
}
