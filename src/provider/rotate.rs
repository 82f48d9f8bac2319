//! Key rotation (docs/lifecycle.md): the next version of a logical key — same attributes and
//! policy, new material, active — and the previous version deactivated, so it still
//! verifies and decrypts. Reached through the vendor mechanism CKM_KW_ROTATE with
//! C_GenerateKey / C_GenerateKeyPair, and from `keyward key rotate`.

use cryptoki_sys::*;

use super::Provider;
use crate::error::{Error, Result};
use crate::mechanism::{MechanismRequest, Param};
use crate::object::attr::parse_ulong;
use crate::object::rules::{self, flag};
use crate::object::vendor::*;
use crate::object::{Attributes, Object};
use crate::policy::lifecycle;
use crate::token::{ObjectHandle, Subject};

/// The generation mechanism that makes keys of `key_type`.
fn generator(key_type: CK_KEY_TYPE) -> Result<CK_MECHANISM_TYPE> {
    Ok(match key_type {
        CKK_AES => CKM_AES_KEY_GEN,
        CKK_GENERIC_SECRET => CKM_GENERIC_SECRET_KEY_GEN,
        CKK_RSA => CKM_RSA_PKCS_KEY_PAIR_GEN,
        CKK_EC => CKM_EC_KEY_PAIR_GEN,
        CKK_EC_EDWARDS => CKM_EC_EDWARDS_KEY_PAIR_GEN,
        CKK_EC_MONTGOMERY => CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
        _ => return Err(Error::KeyTypeInconsistent),
    })
}

/// The generation template that reproduces `obj` with new material: its attributes minus
/// the material, the token-managed ones and the lifecycle (the new version starts active).
fn regeneration_template(obj: &Object) -> Attributes {
    let mut t = Attributes::new();
    for (ty, value) in obj.attrs().iter() {
        let keep = rules::rule(obj.shape(), ty)
            .is_some_and(|r| !r.has(flag::TOKEN_MANAGED | flag::GENERATED | flag::LIFECYCLE));
        if keep && ty != CKA_UNIQUE_ID {
            t.set(ty, value.to_vec());
        }
    }
    t
}

/// The handle in a CKM_KW_ROTATE parameter.
fn rotated_handle(m: &MechanismRequest) -> Result<CK_OBJECT_HANDLE> {
    match &m.param {
        Param::Bytes(b) => parse_ulong(b).map_err(|_| Error::MechanismParamInvalid),
        _ => Err(Error::MechanismParamInvalid),
    }
}

impl Provider {
    /// The current version of a key to rotate: visible, active, a secret or private key.
    fn current_version(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        class: CK_OBJECT_CLASS,
    ) -> Result<std::sync::Arc<Object>> {
        let (_, token) = self.session_token(h)?;
        token.sync()?;
        let obj = token
            .object(ObjectHandle(key), Self::visibility(token)?)
            .map_err(|_| Error::KeyHandleInvalid)?;
        if obj.class() != class {
            return Err(Error::KeyTypeInconsistent);
        }
        if lifecycle::state_of(obj.attrs()) != KW_STATE_ACTIVE {
            return Err(Error::KeyFunctionNotPermitted);
        }
        Ok(obj)
    }

    /// Give a new version the logical key's id and the next number, and deactivate the old
    /// version; the old version is changed after the new one exists, so nothing is lost. The
    /// old version's deactivation is recorded as a `state-change` (docs/audit.md); the
    /// rotation itself is recorded by the audited entry point.
    fn link_versions(
        &self,
        h: CK_SESSION_HANDLE,
        old: &Object,
        old_h: CK_OBJECT_HANDLE,
        new_h: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (_, token) = self.session_token(h)?;
        let vis = Self::visibility(token)?;
        let version = old.attrs().ulong(CKA_KW_VERSION).unwrap_or(1);
        let key_id = old.attrs().get(CKA_KW_KEY_ID).unwrap_or_default().to_vec();
        let mut new_attrs = token.object(ObjectHandle(new_h), vis)?.attrs().clone();
        new_attrs.set(CKA_KW_KEY_ID, key_id);
        new_attrs.set_ulong(CKA_KW_VERSION, version + 1);
        token.replace_object(ObjectHandle(new_h), new_attrs)?;
        let mut old_attrs = old.attrs().clone();
        old_attrs.set_ulong(CKA_KW_STATE, KW_STATE_DEACTIVATED);
        old_attrs.set_ulong(CKA_KW_REVOCATION_REASON, KW_REASON_SUPERSEDED);
        old_attrs.set_ulong(CKA_KW_STATE_CHANGED, lifecycle::now_seconds());
        let r = token.replace_object(ObjectHandle(old_h), old_attrs);
        let subject = Subject::of(old);
        let detail = format!(
            "state=deactivated reason={KW_REASON_SUPERSEDED} rotated-to={}",
            version + 1
        );
        let outcome = r.as_ref().map(drop).map_err(|e| *e);
        token.audit(h, "state-change", Some(&subject), None, outcome, detail)?;
        r
    }

    /// C_GenerateKey with CKM_KW_ROTATE: the next version of a secret key.
    pub fn rotate_secret(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        if !template.is_empty() {
            return Err(Error::TemplateInconsistent);
        }
        let old_h = rotated_handle(m)?;
        let old = self.current_version(h, old_h, CKO_SECRET_KEY)?;
        let gen = MechanismRequest::new(generator(old.shape().subtype)?, Param::None);
        // Recorded once, as the `rotate` of the audited entry point.
        let new_h = self.generate_key_unaudited(h, &gen, &regeneration_template(&old))?;
        self.link_versions(h, &old, old_h, new_h)?;
        Ok(new_h)
    }

    /// C_GenerateKeyPair with CKM_KW_ROTATE: the next version of a key pair (its private
    /// key's handle in the parameter; the public half is the one with the same CKA_KW_KEY_ID).
    pub fn rotate_pair(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        if !public.is_empty() || !private.is_empty() {
            return Err(Error::TemplateInconsistent);
        }
        let old_priv_h = rotated_handle(m)?;
        let old_priv = self.current_version(h, old_priv_h, CKO_PRIVATE_KEY)?;
        let (_, token) = self.session_token(h)?;
        let mut find = Attributes::new();
        find.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
        find.set(
            CKA_KW_KEY_ID,
            old_priv
                .attrs()
                .get(CKA_KW_KEY_ID)
                .unwrap_or_default()
                .to_vec(),
        );
        find.set_ulong(
            CKA_KW_VERSION,
            old_priv.attrs().ulong(CKA_KW_VERSION).unwrap_or(1),
        );
        let vis = Self::visibility(token)?;
        let old_pub_h = *token
            .find(&find, vis)?
            .first()
            .ok_or(Error::KeyHandleInvalid)?;
        let old_pub = token.object(old_pub_h, vis)?;
        let gen = MechanismRequest::new(generator(old_priv.shape().subtype)?, Param::None);
        let (pub_h, priv_h) = self.generate_key_pair_unaudited(
            h,
            &gen,
            &regeneration_template(&old_pub),
            &regeneration_template(&old_priv),
        )?;
        self.link_versions(h, &old_pub, old_pub_h.0, pub_h)?;
        self.link_versions(h, &old_priv, old_priv_h, priv_h)?;
        Ok((pub_h, priv_h))
    }
}
