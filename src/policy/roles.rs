//! Who is logged in and what their role lets them do (docs/access-control.md).
//!
//! Plain `C_Login` keeps the classic two identities: CKU_SO is the token's admin ("so"), and
//! CKU_USER the default user ("user"), who may both manage and use keys as in any soft token.
//! Named users (`C_LoginUser`) have exactly one of the separated roles: admin, key-manager,
//! operator or auditor. The token, not convention, keeps their duties apart.

use cryptoki_sys::*;

use crate::error::{Error, Result};

/// A login role.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Token settings, users, PIN resets; no key use, no key management.
    Admin,
    /// Create, import, rotate, revoke, destroy keys and set their policy; no key use.
    KeyManager,
    /// Use the keys whose ACL lets them; nothing else.
    Operator,
    /// Read the audit trail and key metadata; nothing else.
    Auditor,
    /// The default user of plain `C_Login(CKU_USER)`: manages and uses keys (a classic token).
    User,
}

/// The roles a named user may be given.
pub const NAMED_ROLES: [Role; 4] = [Role::Admin, Role::KeyManager, Role::Operator, Role::Auditor];

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::KeyManager => "key-manager",
            Role::Operator => "operator",
            Role::Auditor => "auditor",
            Role::User => "user",
        }
    }

    /// A role by name: CKR_ARGUMENTS_BAD for an unknown one.
    pub fn parse(s: &str) -> Result<Self> {
        [
            Role::Admin,
            Role::KeyManager,
            Role::Operator,
            Role::Auditor,
            Role::User,
        ]
        .into_iter()
        .find(|r| r.name() == s)
        .ok_or(Error::ArgumentsBad)
    }

    /// The PKCS#11 user type this role logs in as (admins as CKU_SO).
    pub fn user_type(self) -> CK_USER_TYPE {
        if self == Role::Admin {
            CKU_SO
        } else {
            CKU_USER
        }
    }

    /// Whether the role may run cryptographic operations with keys at all (the key's ACL
    /// then decides which).
    pub fn uses_keys(self) -> bool {
        matches!(self, Role::Operator | Role::User)
    }

    /// Whether the role may create, modify and destroy token key objects.
    pub fn manages_keys(self) -> bool {
        matches!(self, Role::KeyManager | Role::User)
    }

    /// Whether the role may read and verify the audit trail.
    pub fn reads_audit(self) -> bool {
        self == Role::Auditor
    }
}

/// The identity behind a login.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// Shared: every audit record of the session carries it.
    pub name: std::sync::Arc<str>,
    pub role: Role,
}

impl Principal {
    /// The token admin of plain `C_Login(CKU_SO)`.
    pub fn so() -> Self {
        Self {
            name: "so".into(),
            role: Role::Admin,
        }
    }

    /// The default user of plain `C_Login(CKU_USER)`.
    pub fn default_user() -> Self {
        Self {
            name: "user".into(),
            role: Role::User,
        }
    }
}

/// The operation classes an ACL grants (each covers both directions).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    Sign,
    Encrypt,
    Wrap,
    Derive,
}

impl OpClass {
    pub const ALL: [OpClass; 4] = [
        OpClass::Sign,
        OpClass::Encrypt,
        OpClass::Wrap,
        OpClass::Derive,
    ];

    /// The class a usage attribute (CKA_SIGN, CKA_DECRYPT …) belongs to.
    pub fn of(usage: CK_ATTRIBUTE_TYPE) -> Self {
        match usage {
            CKA_SIGN | CKA_VERIFY | CKA_SIGN_RECOVER | CKA_VERIFY_RECOVER => OpClass::Sign,
            CKA_WRAP | CKA_UNWRAP => OpClass::Wrap,
            CKA_DERIVE => OpClass::Derive,
            _ => OpClass::Encrypt,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            OpClass::Sign => "sign",
            OpClass::Encrypt => "encrypt",
            OpClass::Wrap => "wrap",
            OpClass::Derive => "derive",
        }
    }

    /// A class by name; the other direction's name is accepted too ("verify" is "sign").
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "sign" | "verify" => Some(OpClass::Sign),
            "encrypt" | "decrypt" => Some(OpClass::Encrypt),
            "wrap" | "unwrap" => Some(OpClass::Wrap),
            "derive" => Some(OpClass::Derive),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duties_are_separated() {
        assert!(Role::Operator.uses_keys() && !Role::Operator.manages_keys());
        assert!(Role::KeyManager.manages_keys() && !Role::KeyManager.uses_keys());
        assert!(!Role::Auditor.uses_keys() && !Role::Auditor.manages_keys());
        assert!(Role::Auditor.reads_audit() && !Role::Admin.reads_audit());
        assert!(!Role::Admin.uses_keys() && !Role::Admin.manages_keys());
        assert_eq!(Role::parse("key-manager"), Ok(Role::KeyManager));
        assert_eq!(Role::parse("root"), Err(Error::ArgumentsBad));
        assert_eq!(Role::Admin.user_type(), CKU_SO);
    }

    #[test]
    fn classes_cover_both_directions() {
        assert_eq!(OpClass::of(CKA_VERIFY), OpClass::Sign);
        assert_eq!(OpClass::of(CKA_DECRYPT), OpClass::Encrypt);
        assert_eq!(OpClass::of(CKA_UNWRAP), OpClass::Wrap);
        assert_eq!(OpClass::parse("decrypt"), Some(OpClass::Encrypt));
        assert_eq!(OpClass::parse("mac"), None);
    }
}
