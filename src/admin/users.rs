//! `keyward user ...` and `keyward key acl`: named users and per-key access lists. User
//! changes need the admin (the built-in SO, or a named admin with `--user`).

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::listing::class_name;
use super::uri::KeyUri;
use super::Admin;
use crate::error::{Error, Result};
use crate::object::vendor::CKA_KW_ACL;
use crate::object::Attributes;
use crate::policy::acl::Acl;
use crate::policy::roles::Role;
use crate::token::{Token, UserInfo};

/// A change to a named user.
pub enum UserChange<'a> {
    Add {
        role: Role,
        pin: &'a [u8],
    },
    Remove,
    Passwd {
        pin: &'a [u8],
    },
    Unlock,
    /// Another role, from the user's next login.
    Role {
        role: Role,
    },
}

impl Admin {
    /// Run `f` on the token of `slot` in a read/write session logged in as the admin.
    /// The admin's action is recorded as `op` with `detail` (never a PIN).
    fn as_admin<T>(
        &self,
        slot: CK_SLOT_ID,
        admin_pin: &[u8],
        op: &'static str,
        detail: String,
        f: impl FnOnce(&Token) -> Result<T>,
    ) -> Result<T> {
        let p = &self.provider;
        let token = p.token(slot)?;
        let h = p.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)?;
        let r = self.login(h, CKU_SO, admin_pin).and_then(|_| {
            let r = f(token);
            let outcome = r.as_ref().map(drop).map_err(|e| *e);
            token.audit(h, op, None, None, outcome, detail)?;
            r
        });
        p.close_session(h)?;
        r
    }

    /// Add, remove, re-PIN, unlock or re-role named user `name`.
    pub fn change_user(
        &self,
        slot: CK_SLOT_ID,
        admin_pin: &[u8],
        name: &str,
        change: UserChange<'_>,
    ) -> Result<()> {
        let (op, detail) = match &change {
            UserChange::Add { role, .. } => {
                ("user-add", format!("name={name} role={}", role.name()))
            }
            UserChange::Remove => ("user-remove", format!("name={name}")),
            UserChange::Passwd { .. } => ("user-passwd", format!("name={name}")),
            UserChange::Unlock => ("user-unlock", format!("name={name}")),
            UserChange::Role { role } => ("user-role", format!("name={name} role={}", role.name())),
        };
        self.as_admin(slot, admin_pin, op, detail, |t| match change {
            UserChange::Add { role, pin } => t.add_user(name, role, pin),
            UserChange::Remove => t.remove_user(name),
            UserChange::Passwd { pin } => t.reset_user_pin(name, pin),
            UserChange::Unlock => t.unlock_user(name),
            UserChange::Role { role } => t.set_user_role(name, role),
        })
    }

    /// Enrol `name` in TOTP: the secret, to show once.
    pub fn enable_mfa(
        &self,
        slot: CK_SLOT_ID,
        admin_pin: &[u8],
        name: &str,
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.as_admin(slot, admin_pin, "user-mfa", format!("name={name}"), |t| {
            t.enable_mfa(name)
        })
    }

    /// The named users (admin).
    pub fn users(&self, slot: CK_SLOT_ID, admin_pin: &[u8]) -> Result<Vec<UserInfo>> {
        self.as_admin(slot, admin_pin, "user-list", String::new(), |t| t.users())
    }

    /// Set (Some) or read (None) the ACL of every version of the keys `uri` names; the ACL
    /// class and ACL text of each key object after the change, newest first.
    pub fn acl(
        &self,
        slot: CK_SLOT_ID,
        uri: &KeyUri,
        pin: &[u8],
        set: Option<&str>,
    ) -> Result<Vec<(&'static str, String)>> {
        if let Some(text) = set {
            Acl::parse(text.as_bytes())?;
        }
        self.with_keys(slot, &uri.template(), pin, |h, keys| {
            if keys.is_empty() {
                return Err(Error::KeyHandleInvalid);
            }
            let mut out = Vec::new();
            for (o, obj) in keys {
                let value = match set {
                    Some(text) => {
                        let mut t = Attributes::new();
                        t.set(CKA_KW_ACL, text.as_bytes().to_vec());
                        self.provider.set_attributes(h, o, &t)?;
                        text.as_bytes().to_vec()
                    }
                    None => obj.attrs().get(CKA_KW_ACL).unwrap_or_default().to_vec(),
                };
                out.push((class_name(obj.class()), Acl::parse(&value)?.to_text()));
            }
            Ok(out)
        })
    }
}
