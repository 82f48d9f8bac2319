//! Object management functions (PKCS#11 3.0 §5.7).

use std::sync::Arc;

use cryptoki_sys::*;

use super::access::{self, Write};
use super::Provider;
use crate::error::{Error, Result};
use crate::object::template::{self, Origin};
use crate::object::vendor::CKA_KW_USAGE_LIMIT;
use crate::object::{key, Attributes, Object};
use crate::session::{Find, Session};
use crate::token::{Login, ObjectHandle, Token};

/// Session rules for writing an object with these attributes: token objects need a
/// read/write session, private objects a user login; then the role gate.
pub(super) fn check_write(
    session: &Session,
    token: &Token,
    attrs: &Attributes,
    w: Write,
) -> Result<()> {
    access::may_write(token, attrs, w)?;
    // The token's own policy (rotating a due key at its next use) writes in any session.
    if attrs.flag(CKA_TOKEN) && !access::acting_by_policy() {
        session.require_rw()?;
    }
    if attrs.flag(CKA_PRIVATE) && token.login_state()? != Login::User {
        return Err(Error::UserNotLoggedIn);
    }
    Ok(())
}

/// Raising a key's usage limit (to a higher value, or to 0 = no limit) is key management:
/// only a role that manages keys (the default user, a key manager) may do it.
/// CKR_USER_NOT_LOGGED_IN without a login, CKR_ACTION_PROHIBITED for other roles.
fn may_raise_usage_limit(token: &Token, current: &Attributes, next: &Attributes) -> Result<()> {
    let limit = |a: &Attributes| a.ulong(CKA_KW_USAGE_LIMIT).unwrap_or(0);
    let (old, new) = (limit(current), limit(next));
    let raised = old != 0 && (new == 0 || new > old);
    if !raised {
        return Ok(());
    }
    match token.principal()? {
        None => Err(Error::UserNotLoggedIn),
        Some(p) if p.role.manages_keys() => Ok(()),
        Some(_) => Err(Error::ActionProhibited),
    }
}

impl Provider {
    /// C_CreateObject.
    pub(super) fn create_object_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, token) = self.session_token(h)?;
        let shape = template::shape_of(template, None, None)?;
        let is_so = token.login_state()? == Login::So;
        access::check_acl_value(template)?;
        // A delegate slot keeps no key material: secret and private keys are made on its device.
        if token.device().is_some() && matches!(shape.class, CKO_SECRET_KEY | CKO_PRIVATE_KEY) {
            return Err(Error::TemplateInconsistent);
        }
        let mut attrs = template::new_object(shape, template, Origin::Create, is_so)?;
        check_write(&s, token, &attrs, Write::Create)?;
        key::complete_import(shape, &mut attrs)?;
        Ok(token.add_object(attrs, s.handle)?.0)
    }

    /// The visible object `o` of session `h` with its token.
    pub fn object(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Result<Arc<Object>> {
        let (_, token) = self.session_token(h)?;
        token.sync()?; // another process may have changed it (its lifecycle state, say)
        token.object(ObjectHandle(o), Self::visibility(token)?)
    }

    /// C_CopyObject.
    pub(super) fn copy_object_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let (s, token) = self.session_token(h)?;
        let obj = token.object(ObjectHandle(o), Self::visibility(token)?)?;
        let is_so = token.login_state()? == Login::So;
        access::check_acl_value(template)?;
        let attrs = template::copy(obj.shape(), obj.attrs(), template, is_so)?;
        check_write(&s, token, &attrs, Write::Create)?;
        Ok(token.add_object(attrs, s.handle)?.0)
    }

    /// C_DestroyObject.
    pub(super) fn destroy_object_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let (s, token) = self.session_token(h)?;
        token.sync()?;
        let obj = token.object(ObjectHandle(o), Self::visibility(token)?)?;
        check_write(&s, token, obj.attrs(), Write::Change)?;
        if !obj.attrs().flag(CKA_DESTROYABLE) {
            return Err(Error::ActionProhibited);
        }
        token.destroy_object(ObjectHandle(o))
    }

    /// C_SetAttributeValue.
    pub(super) fn set_attributes_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        template: &Attributes,
    ) -> Result<()> {
        let (s, token) = self.session_token(h)?;
        token.sync()?;
        let obj = token.object(ObjectHandle(o), Self::visibility(token)?)?;
        check_write(&s, token, obj.attrs(), Write::Change)?;
        access::check_acl_value(template)?;
        let is_so = token.login_state()? == Login::So;
        let attrs = template::modify(obj.shape(), obj.attrs(), template, is_so)?;
        may_raise_usage_limit(token, obj.attrs(), &attrs)?;
        token.replace_object(ObjectHandle(o), attrs)
    }

    /// C_FindObjectsInit: CKR_OPERATION_ACTIVE if a search is running.
    pub fn find_init(&self, h: CK_SESSION_HANDLE, template: &Attributes) -> Result<()> {
        let (s, token) = self.session_token(h)?;
        let mut ops = s.ops()?;
        if ops.find.is_some() {
            return Err(Error::OperationActive);
        }
        token.sync()?;
        let found = token.find(template, Self::visibility(token)?)?;
        ops.find = Some(Find {
            remaining: found.into(),
        });
        Ok(())
    }

    /// C_FindObjects: up to `max` further handles.
    pub fn find_next(&self, h: CK_SESSION_HANDLE, max: usize) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        let find = ops.find.as_mut().ok_or(Error::OperationNotInitialized)?;
        let n = max.min(find.remaining.len());
        Ok(find.remaining.drain(..n).map(|o| o.0).collect())
    }

    /// C_FindObjectsFinal.
    pub fn find_final(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        ops.find
            .take()
            .map(drop)
            .ok_or(Error::OperationNotInitialized)
    }
}
