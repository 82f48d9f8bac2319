//! Key transport (PKCS#11 3.0 §5.18.3–5.18.4): C_WrapKey and C_UnwrapKey for secret keys
//! (their value) and private keys (PKCS#8 PrivateKeyInfo),
//! with any mechanism that advertises CKF_WRAP / CKF_UNWRAP, honouring the wrapping key's
//! CKA_WRAP_TEMPLATE and the unwrapping key's CKA_UNWRAP_TEMPLATE.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::access::Write;
use super::objects::check_write;
use super::Provider;
use crate::error::{Error, Result};
use crate::mechanism::{self, Cipher, MechanismRequest};
use crate::object::attr::parse_ulong;
use crate::object::template::{self, Origin};
use crate::object::Attributes;
use crate::object::{key, pkcs8};
use crate::session::Out;
use crate::token::{Login, ObjectHandle};

/// Run a one-shot cipher over `data`.
fn run(mut cipher: Box<dyn Cipher>, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut out = cipher.update(data)?;
    out.extend_from_slice(&cipher.finish()?);
    Ok(out)
}

/// Whether the secret value suits the key type it is unwrapped into.
fn fits(key_type: CK_KEY_TYPE, value: &[u8]) -> bool {
    match key_type {
        CKK_AES => matches!(value.len(), 16 | 24 | 32),
        _ => !value.is_empty(),
    }
}

impl Provider {
    /// The mechanism for a wrap or unwrap: CKR_MECHANISM_INVALID unless it has `flag`.
    fn transport_mechanism(m: &MechanismRequest, flag: CK_FLAGS) -> Result<()> {
        let mech = mechanism::lookup(m.ty)?;
        if mech.info(m.ty).flags & flag == 0 {
            return Err(Error::MechanismInvalid);
        }
        Ok(())
    }

    /// C_WrapKey: `key` (a secret or private key) encrypted under `wrapping`.
    pub(super) fn wrap_key_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        capacity: Option<usize>,
    ) -> Result<Out> {
        Self::transport_mechanism(m, CKF_WRAP)?;
        let (_, token) = self.session_token(h)?;
        let wrapper = self
            .operation_object(h, wrapping, CKA_WRAP, m)
            .map_err(|e| e.for_key_role(Error::WrappingKeyHandleInvalid))?;
        let target = token
            .object(ObjectHandle(key), Self::visibility(token)?)
            .map_err(|_| Error::KeyHandleInvalid)?;
        if !matches!(target.class(), CKO_SECRET_KEY | CKO_PRIVATE_KEY) {
            return Err(Error::KeyNotWrappable);
        }
        if !target.attrs().flag(CKA_EXTRACTABLE) {
            return Err(Error::KeyUnextractable);
        }
        if target.attrs().flag(CKA_WRAP_WITH_TRUSTED) && !wrapper.attrs().flag(CKA_TRUSTED) {
            return Err(Error::KeyNotWrappable);
        }
        if !template::satisfies(wrapper.attrs().get(CKA_WRAP_TEMPLATE), target.attrs())? {
            return Err(Error::KeyNotWrappable);
        }
        // A secret key travels as its value, a private key as PKCS#8 PrivateKeyInfo.
        let value = if target.class() == CKO_PRIVATE_KEY {
            pkcs8::encode(target.shape(), target.attrs(), &*target.key()?)?
        } else {
            let v = target
                .attrs()
                .get(CKA_VALUE)
                .ok_or(Error::KeyNotWrappable)?;
            Zeroizing::new(v.to_vec())
        };
        let cipher = mechanism::lookup(m.ty)?.encrypt(m, &wrapper.key()?)?;
        let wrapped = run(cipher, &value).map_err(|e| match e {
            Error::DataLenRange => Error::KeySizeRange,
            other => other,
        })?;
        Ok(Out::for_capacity(wrapped, capacity))
    }

    /// C_UnwrapKey: a new secret or private key from `wrapped`, decrypted under `unwrapping`.
    pub(super) fn unwrap_key_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        Self::transport_mechanism(m, CKF_UNWRAP)?;
        let (s, token) = self.session_token(h)?;
        let unwrapper = self
            .operation_object(h, unwrapping, CKA_UNWRAP, m)
            .map_err(|e| e.for_key_role(Error::UnwrappingKeyHandleInvalid))?;
        let template =
            &template::with_imposed(unwrapper.attrs().get(CKA_UNWRAP_TEMPLATE), template)?;
        let class = template.get(CKA_CLASS).map(parse_ulong).transpose()?;
        let cipher = mechanism::lookup(m.ty)?.decrypt(m, &unwrapper.key()?)?;
        let value = run(cipher, wrapped).map_err(|e| match e {
            Error::EncryptedDataInvalid => Error::WrappedKeyInvalid,
            Error::EncryptedDataLenRange => Error::WrappedKeyLenRange,
            other => other,
        })?;
        if class == Some(CKO_PRIVATE_KEY) {
            return self.unwrap_private(h, &value, template);
        }
        let key_type = template
            .get(CKA_KEY_TYPE)
            .map(parse_ulong)
            .transpose()?
            .ok_or(Error::TemplateIncomplete)?;
        let shape = template::shape_of(template, Some(CKO_SECRET_KEY), Some(key_type))?;
        let is_so = token.login_state()? == Login::So;
        let mut attrs = template::new_object(shape, template, Origin::Unwrap, is_so)?;
        check_write(&s, token, &attrs, Write::Create)?;
        let asked = template.get(CKA_VALUE_LEN).map(parse_ulong).transpose()?;
        if !fits(key_type, &value) || asked.is_some_and(|n| n as usize != value.len()) {
            return Err(Error::TemplateInconsistent);
        }
        attrs.set_ulong(CKA_VALUE_LEN, value.len() as CK_ULONG);
        attrs.set(CKA_VALUE, value.to_vec());
        Ok(token.add_object(attrs, s.handle)?.0)
    }

    /// The private-key half of C_UnwrapKey: `der` is a PKCS#8 PrivateKeyInfo.
    fn unwrap_private(
        &self,
        h: CK_SESSION_HANDLE,
        der: &[u8],
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, token) = self.session_token(h)?;
        let (key_type, material) = pkcs8::decode(der)?;
        let shape = template::shape_of(template, Some(CKO_PRIVATE_KEY), Some(key_type))?;
        let is_so = token.login_state()? == Login::So;
        let mut attrs = template::new_object(shape, template, Origin::Unwrap, is_so)?;
        check_write(&s, token, &attrs, Write::Create)?;
        for (ty, v) in material.iter() {
            match attrs.get(ty) {
                Some(given) if given != v => return Err(Error::TemplateInconsistent),
                _ => attrs.set(ty, v.to_vec()),
            }
        }
        key::complete_import(shape, &mut attrs).map_err(|_| Error::WrappedKeyInvalid)?;
        Ok(token.add_object(attrs, s.handle)?.0)
    }
}
