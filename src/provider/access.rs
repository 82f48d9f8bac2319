//! Role and ACL gates (docs/access-control.md): who may write which objects, and who may
//! use a key for which operation class. Denials are audited by the callers' audit records.

use std::cell::Cell;

use cryptoki_sys::*;

use crate::error::{Error, Result};
use crate::object::vendor::CKA_KW_ACL;
use crate::object::{Attributes, Object};
use crate::policy::acl::Acl;
use crate::policy::roles::{OpClass, Role};
use crate::token::Token;

/// What a write does to an object.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Write {
    /// A new object (create, copy, generate, derive, unwrap).
    Create,
    /// An existing object (set attributes, destroy).
    Change,
}

thread_local! {
    /// Set while the token itself acts on policy (a key past its rotation period rotating at
    /// an operator's protect operation): the write is the policy's, not the caller's.
    static BY_POLICY: Cell<bool> = const { Cell::new(false) };
}

/// Run `f` as the token's own policy action (role gates on writes do not apply).
pub(super) fn by_policy<T>(f: impl FnOnce() -> T) -> T {
    struct Reset;
    impl Drop for Reset {
        fn drop(&mut self) {
            BY_POLICY.with(|b| b.set(false));
        }
    }
    BY_POLICY.with(|b| b.set(true));
    let _reset = Reset;
    f()
}

/// Whether the current write is the token's own policy action ([`by_policy`]).
pub(super) fn acting_by_policy() -> bool {
    BY_POLICY.with(Cell::get)
}

fn is_key(attrs: &Attributes) -> bool {
    matches!(
        attrs.ulong(CKA_CLASS),
        Some(CKO_SECRET_KEY | CKO_PRIVATE_KEY | CKO_PUBLIC_KEY)
    )
}

/// Whether the logged-in role may write an object with `attrs`.
///
/// Key managers and the default user write anything; operators only their own session
/// objects; auditors nothing; admins no keys. A refused creation is CKR_USER_NOT_LOGGED_IN
/// (the right identity is not logged in), a refused change CKR_ACTION_PROHIBITED.
pub(super) fn may_write(token: &Token, attrs: &Attributes, w: Write) -> Result<()> {
    if BY_POLICY.with(Cell::get) {
        return Ok(());
    }
    let Some(p) = token.principal()? else {
        return Ok(()); // public sessions: the session rules (check_write) decide
    };
    let allowed = match p.role {
        Role::User | Role::KeyManager => true,
        // An operator's session objects are its own (no one else can reach them), and a
        // session copy of a token key stays governed by the original's ACL.
        Role::Operator => !attrs.flag(CKA_TOKEN),
        Role::Admin => !is_key(attrs),
        Role::Auditor => false,
    };
    match (allowed, w) {
        (true, _) => Ok(()),
        (false, Write::Create) => Err(Error::UserNotLoggedIn),
        (false, Write::Change) => Err(Error::ActionProhibited),
    }
}

/// Whether the logged-in principal may use `governing` (the key, or for a copy the key it
/// was copied from) for an operation needing `usage`: CKR_KEY_FUNCTION_NOT_PERMITTED.
pub(super) fn may_use(token: &Token, governing: &Object, usage: CK_ATTRIBUTE_TYPE) -> Result<()> {
    let Some(p) = token.principal()? else {
        return Ok(()); // public objects in a public session
    };
    let acl = Acl::parse(governing.attrs().get(CKA_KW_ACL).unwrap_or_default())
        .map_err(|_| Error::KeyFunctionNotPermitted)?;
    acl.permits(&p, OpClass::of(usage))
        .then_some(())
        .ok_or(Error::KeyFunctionNotPermitted)
}

/// A template that sets CKA_KW_ACL must parse: CKR_ATTRIBUTE_VALUE_INVALID.
pub(super) fn check_acl_value(template: &Attributes) -> Result<()> {
    match template.get(CKA_KW_ACL) {
        Some(v) => Acl::parse(v).map(drop),
        None => Ok(()),
    }
}
