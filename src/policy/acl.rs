//! Per-key access control lists (CKA_KW_ACL): who may use a key for which operation class.
//!
//! The attribute is UTF-8 text, entries separated by `;`, each `WHO=CLASSES`:
//! `WHO` is `user:NAME`, `role:ROLE` or `*`; `CLASSES` a comma list of `sign`, `encrypt`,
//! `wrap`, `derive` (each covers its reverse: verify, decrypt, unwrap) or `*`.
//! An empty ACL is the default: every role that uses keys (operators and the default user)
//! may use the key for everything its own attributes allow. Roles that never use keys
//! (admin, key-manager, auditor) are refused whatever the ACL says.

use super::roles::{OpClass, Principal, Role};
use crate::error::{Error, Result};

/// Who an entry names.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Who {
    User(String),
    Role(Role),
    Anyone,
}

/// One parsed entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Entry {
    who: Who,
    classes: Vec<OpClass>,
}

/// A parsed ACL.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Acl(Vec<Entry>);

impl Acl {
    /// Parse the attribute value: CKR_ATTRIBUTE_VALUE_INVALID for anything malformed.
    pub fn parse(value: &[u8]) -> Result<Self> {
        let text = std::str::from_utf8(value).map_err(|_| Error::AttributeValueInvalid)?;
        let mut entries = Vec::new();
        for item in text.split(';').map(str::trim).filter(|s| !s.is_empty()) {
            let (who, classes) = item.split_once('=').ok_or(Error::AttributeValueInvalid)?;
            let who = match who.trim() {
                "*" => Who::Anyone,
                w => match w.split_once(':') {
                    Some(("user", n)) if valid_name(n) => Who::User(n.to_owned()),
                    Some(("role", r)) => {
                        Who::Role(Role::parse(r).map_err(|_| Error::AttributeValueInvalid)?)
                    }
                    _ => return Err(Error::AttributeValueInvalid),
                },
            };
            let mut classes = match classes.trim() {
                "*" => OpClass::ALL.to_vec(),
                list => list
                    .split(',')
                    .map(|c| OpClass::parse(c.trim()).ok_or(Error::AttributeValueInvalid))
                    .collect::<Result<Vec<_>>>()?,
            };
            classes.dedup();
            entries.push(Entry { who, classes });
        }
        Ok(Self(entries))
    }

    /// Whether `p` may use the key for `class`.
    pub fn permits(&self, p: &Principal, class: OpClass) -> bool {
        if !p.role.uses_keys() {
            return false;
        }
        if self.0.is_empty() {
            return true;
        }
        self.0.iter().any(|e| {
            let named = match &e.who {
                Who::Anyone => true,
                Who::User(n) => **n == *p.name,
                Who::Role(r) => *r == p.role,
            };
            named && e.classes.contains(&class)
        })
    }

    /// The canonical text of this ACL (what `keyward key acl` shows).
    pub fn to_text(&self) -> String {
        self.0
            .iter()
            .map(|e| {
                let who = match &e.who {
                    Who::Anyone => "*".to_owned(),
                    Who::User(n) => format!("user:{n}"),
                    Who::Role(r) => format!("role:{}", r.name()),
                };
                let classes: Vec<&str> = e.classes.iter().map(|c| c.name()).collect();
                format!("{who}={}", classes.join(","))
            })
            .collect::<Vec<_>>()
            .join(";")
    }
}

/// User names: 1–64 of letters, digits, `.`, `_`, `-`, `@`.
pub fn valid_name(n: &str) -> bool {
    (1..=64).contains(&n.len())
        && n.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str, role: Role) -> Principal {
        Principal {
            name: name.into(),
            role,
        }
    }

    #[test]
    fn empty_acl_lets_key_users_do_everything_and_no_one_else() {
        let acl = Acl::parse(b"").unwrap();
        assert!(acl.permits(&who("op", Role::Operator), OpClass::Wrap));
        assert!(acl.permits(&Principal::default_user(), OpClass::Sign));
        for r in [Role::Admin, Role::KeyManager, Role::Auditor] {
            assert!(!acl.permits(&who("x", r), OpClass::Sign), "{r:?}");
        }
    }

    #[test]
    fn entries_grant_by_user_role_and_class() {
        let acl = Acl::parse(b"user:alice=sign; role:operator=encrypt,decrypt").unwrap();
        assert!(acl.permits(&who("alice", Role::Operator), OpClass::Sign));
        assert!(!acl.permits(&who("bob", Role::Operator), OpClass::Sign));
        assert!(acl.permits(&who("bob", Role::Operator), OpClass::Encrypt));
        assert!(!acl.permits(&Principal::default_user(), OpClass::Encrypt));
        assert!(!acl.permits(&who("alice", Role::KeyManager), OpClass::Sign));
        assert_eq!(acl.to_text(), "user:alice=sign;role:operator=encrypt");
        assert!(Acl::parse(b"*=*")
            .unwrap()
            .permits(&who("z", Role::Operator), OpClass::Derive));
    }

    #[test]
    fn malformed_acls_are_invalid_values() {
        for bad in [
            &b"alice=sign"[..],
            b"user:=sign",
            b"role:root=sign",
            b"*=mac",
            b"*",
            b"\xff=*",
        ] {
            assert_eq!(
                Acl::parse(bad),
                Err(Error::AttributeValueInvalid),
                "{bad:?}"
            );
        }
    }
}
