//! Key derivation (PKCS#11 3.0 §5.18.5): C_DeriveKey makes a secret key from a base key.

use cryptoki_sys::*;

use super::access::Write;
use super::objects::check_write;
use super::Provider;
use crate::error::{Error, Result};
use crate::mechanism::{self, MechanismRequest};
use crate::object::attr::parse_ulong;
use crate::object::template::{self, Origin};
use crate::object::{Attributes, Object};
use crate::token::Login;

/// The derived key's length: CKA_VALUE_LEN if the template has it (checked against the key
/// type), else the mechanism's natural length, which must then suit the key type.
fn value_len(template: &Attributes, key_type: CK_KEY_TYPE) -> Result<Option<usize>> {
    let len = template
        .get(CKA_VALUE_LEN)
        .map(parse_ulong)
        .transpose()?
        .map(|l| usize::try_from(l).map_err(|_| Error::AttributeValueInvalid))
        .transpose()?;
    match (key_type, len) {
        (CKK_AES, Some(n)) if !matches!(n, 16 | 24 | 32) => Err(Error::AttributeValueInvalid),
        (_, Some(0)) => Err(Error::AttributeValueInvalid),
        _ => Ok(len),
    }
}

fn check_length(key_type: CK_KEY_TYPE, value: &[u8]) -> Result<()> {
    match key_type {
        CKK_AES if !matches!(value.len(), 16 | 24 | 32) => Err(Error::TemplateIncomplete),
        _ => Ok(()),
    }
}

impl Provider {
    /// C_DeriveKey: a new secret key from `base`, or nothing.
    pub(super) fn derive_key_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        base: CK_OBJECT_HANDLE,
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, token) = self.session_token(h)?;
        let mech = mechanism::lookup(m.ty)?;
        if mech.info(m.ty).flags & CKF_DERIVE == 0 {
            return Err(Error::MechanismInvalid);
        }
        let base_obj = self.operation_object(h, base, CKA_DERIVE, m)?;
        if m.ty == CKM_HKDF_DATA {
            return self.derive_data(h, m, &base_obj, template);
        }
        let template =
            &template::with_imposed(base_obj.attrs().get(CKA_DERIVE_TEMPLATE), template)?;
        let key_type = template
            .get(CKA_KEY_TYPE)
            .map(parse_ulong)
            .transpose()?
            .unwrap_or(CKK_GENERIC_SECRET);
        let shape = template::shape_of(template, Some(CKO_SECRET_KEY), Some(key_type))?;
        let origin = Origin::Derive {
            always_sensitive: base_obj.attrs().flag(CKA_ALWAYS_SENSITIVE),
            never_extractable: base_obj.attrs().flag(CKA_NEVER_EXTRACTABLE),
        };
        let is_so = token.login_state()? == Login::So;
        let mut attrs = template::new_object(shape, template, origin, is_so)?;
        check_write(&s, token, &attrs, Write::Create)?;
        let len = value_len(template, key_type)?;
        let value = mech.derive(m, &*base_obj.key()?, len)?;
        check_length(key_type, &value)?;
        attrs.set_ulong(CKA_VALUE_LEN, value.len() as CK_ULONG);
        attrs.set(CKA_VALUE, value.to_vec());
        Ok(token.add_object(attrs, s.handle)?.0)
    }

    /// CKM_HKDF_DATA: the output becomes the CKA_VALUE of a data object; its length comes
    /// from CKA_VALUE_LEN in the template, which the data object itself does not keep.
    fn derive_data(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        base: &Object,
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, token) = self.session_token(h)?;
        let len = template
            .get(CKA_VALUE_LEN)
            .ok_or(Error::TemplateIncomplete)
            .and_then(parse_ulong)?;
        let mut rest = template.clone();
        rest.remove(CKA_VALUE_LEN);
        let shape = template::shape_of(&rest, Some(CKO_DATA), None)?;
        let is_so = token.login_state()? == Login::So;
        let mut attrs = template::new_object(shape, &rest, Origin::Create, is_so)?;
        check_write(&s, token, &attrs, Write::Create)?;
        let len = usize::try_from(len).map_err(|_| Error::AttributeValueInvalid)?;
        let value = mechanism::lookup(m.ty)?.derive(m, &*base.key()?, Some(len))?;
        attrs.set(CKA_VALUE, value.to_vec());
        Ok(token.add_object(attrs, s.handle)?.0)
    }
}
