//! From a SoftHSM object's stored attributes to the template Keyward's C_CreateObject takes.
//!
//! Every attribute Keyward's rule table allows on the object's class and type is carried
//! over with the source's value (usage flags, CKA_PRIVATE, CKA_SENSITIVE, CKA_EXTRACTABLE,
//! CKA_MODIFIABLE, dates, allowed mechanisms, templates…), so no key becomes less protected
//! than it was. Left out: what the token itself maintains (CKA_LOCAL, CKA_ALWAYS_SENSITIVE,
//! CKA_NEVER_EXTRACTABLE, CKA_KEY_GEN_MECHANISM, check values) or computes on creation
//! (CKA_MODULUS_BITS, CKA_VALUE_LEN), attributes Keyward does not know, empty optional
//! values, and CKA_TRUSTED = true (only Keyward's SO may set it; the report says so).

use cryptoki_sys::*;

use super::files::{Stored, Value};
use super::secure::TokenKey;
use crate::object::attr::{encode_template, ulong_bytes};
use crate::object::rules::{self, flag, Kind, Shape};
use crate::object::Attributes;

/// What an object is, for the report.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct What {
    pub class: &'static str,
    pub key_type: String,
    pub label: String,
    /// CKA_ID in hex.
    pub id: String,
}

impl What {
    /// An object file that could not be read at all.
    pub(super) fn unknown() -> Self {
        What {
            class: "unknown",
            ..Default::default()
        }
    }
}

impl std::fmt::Display for What {
    /// `private RSA 'label' id 01`; `data 'label'`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.class)?;
        if !self.key_type.is_empty() {
            write!(f, " {}", self.key_type)?;
        }
        write!(f, " '{}'", self.label)?;
        if !self.id.is_empty() {
            write!(f, " id {}", self.id)?;
        }
        Ok(())
    }
}

/// An object ready to be made in the Keyward token.
pub(super) struct Candidate {
    pub what: What,
    pub template: Attributes,
    /// What was not carried over, for the report.
    pub notes: Vec<String>,
}

/// Decrypt `stored` (its byte strings, when the object is private) and build its template.
/// Errors carry what is known of the object and why it cannot be migrated.
pub(super) fn candidate(stored: Stored, key: &TokenKey) -> Result<Candidate, (What, String)> {
    // Class and key type are never encrypted; the label and id of a private object are.
    let mut what = describe(&stored, false);
    let clear = decrypt_all(stored, key).map_err(|e| (what.clone(), e))?;
    what = describe(&clear, true);
    let (template, notes) = template(&clear).map_err(|e| (what.clone(), e))?;
    Ok(Candidate {
        what,
        template,
        notes,
    })
}

/// SoftHSM encrypts every non-empty byte string of an object whose CKA_PRIVATE is true
/// (absent reads as true, as SoftHSM reads it); attribute maps never.
fn decrypt_all(stored: Stored, key: &TokenKey) -> Result<Stored, String> {
    if matches!(stored.get(&CKA_PRIVATE), Some(Value::Bool(false))) {
        return Ok(stored);
    }
    let mut clear = Stored::new();
    for (ty, value) in stored {
        let value = match value {
            Value::Bytes(b) if !b.is_empty() => Value::Bytes(key.decrypt(&b).ok_or_else(|| {
                format!("attribute 0x{ty:x} does not decrypt with the token key (damaged file?)")
            })?),
            other => other,
        };
        clear.insert(ty, value);
    }
    Ok(clear)
}

fn ulong(stored: &Stored, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
    match stored.get(&ty) {
        Some(Value::Ulong(v)) => CK_ULONG::try_from(*v).ok(),
        _ => None,
    }
}

fn bytes(stored: &Stored, ty: CK_ATTRIBUTE_TYPE) -> &[u8] {
    match stored.get(&ty) {
        Some(Value::Bytes(b)) => b,
        _ => &[],
    }
}

/// What `stored` is; its label and id only if readable (`decrypted`, or not private).
fn describe(stored: &Stored, decrypted: bool) -> What {
    let class = ulong(stored, CKA_CLASS);
    let key_type = match class {
        Some(CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY) => {
            key_type_name(ulong(stored, CKA_KEY_TYPE))
        }
        Some(CKO_CERTIFICATE) => match ulong(stored, CKA_CERTIFICATE_TYPE) {
            Some(CKC_X_509) => "X.509".into(),
            Some(other) => format!("type 0x{other:x}"),
            None => "?".into(),
        },
        _ => String::new(),
    };
    let private = !matches!(stored.get(&CKA_PRIVATE), Some(Value::Bool(false)));
    let hidden = private && !decrypted;
    let text = |ty| match hidden {
        true => "?".to_owned(),
        false => String::from_utf8_lossy(bytes(stored, ty)).into_owned(),
    };
    What {
        class: class.map_or("unknown", super::super::listing::class_name),
        key_type,
        label: text(CKA_LABEL),
        id: match hidden {
            true => "?".to_owned(),
            false => super::super::listing::hex(bytes(stored, CKA_ID)),
        },
    }
}

fn key_type_name(t: Option<CK_KEY_TYPE>) -> String {
    match t {
        Some(CKK_RSA) => "RSA",
        Some(CKK_EC) => "EC",
        Some(CKK_EC_EDWARDS) => "EdDSA",
        Some(CKK_EC_MONTGOMERY) => "Montgomery",
        Some(CKK_AES) => "AES",
        Some(CKK_GENERIC_SECRET) => "generic secret",
        Some(CKK_DSA) => "DSA",
        Some(CKK_DH) => "DH",
        Some(CKK_DES) => "DES",
        Some(CKK_DES2) => "DES2",
        Some(CKK_DES3) => "DES3",
        Some(CKK_GOSTR3410) => "GOST R 34.10",
        Some(CKK_GOSTR3411) => "GOST R 34.11",
        Some(CKK_GOST28147) => "GOST 28147",
        Some(other) => return format!("type 0x{other:x}"),
        None => "?",
    }
    .into()
}

/// The C_CreateObject template for a decrypted object, and notes on what was left out.
fn template(clear: &Stored) -> Result<(Attributes, Vec<String>), String> {
    let class = ulong(clear, CKA_CLASS).ok_or("the object has no CKA_CLASS")?;
    let subtype = match class {
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
            ulong(clear, CKA_KEY_TYPE).ok_or("the key has no CKA_KEY_TYPE")?
        }
        CKO_CERTIFICATE => ulong(clear, CKA_CERTIFICATE_TYPE).unwrap_or(CK_ULONG::MAX),
        _ => 0,
    };
    let shape = Shape { class, subtype };
    if !rules::supported(shape) {
        let kind = describe(clear, true).key_type;
        return Err(match class {
            CKO_CERTIFICATE => format!("Keyward holds X.509 certificates only, not {kind}"),
            CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
                format!("Keyward does not hold {kind} keys")
            }
            other => format!("Keyward does not hold objects of class 0x{other:x}"),
        });
    }
    let mut t = Attributes::new();
    let mut notes = Vec::new();
    for (&ty, value) in clear {
        let Some(rule) = rules::rule(shape, ty) else {
            continue;
        };
        if rule.has(flag::TOKEN_MANAGED | flag::COMPUTED_ON_CREATE) {
            continue;
        }
        let wire = wire(rule.kind, value)
            .ok_or_else(|| format!("attribute 0x{ty:x} is not stored as a {:?}", rule.kind))?;
        if rule.has(flag::SO_ONLY) && wire == [1] {
            notes.push(format!(
                "attribute 0x{ty:x} (CKA_TRUSTED) not carried over: only Keyward's SO may set it"
            ));
            continue;
        }
        if wire.is_empty() && !keeps_empty(class, ty) {
            continue;
        }
        t.set(ty, wire);
    }
    t.set_bool(CKA_TOKEN, true);
    Ok((t, notes))
}

/// Empty values kept as they are: the names the report and `keyward keys` show, and a data
/// object's (possibly empty) value.
fn keeps_empty(class: CK_OBJECT_CLASS, ty: CK_ATTRIBUTE_TYPE) -> bool {
    matches!(ty, CKA_LABEL | CKA_ID) || (class == CKO_DATA && ty == CKA_VALUE)
}

/// A stored value in the form the C ABI (and Keyward's templates) use, if it has `kind`.
fn wire(kind: Kind, value: &Value) -> Option<Vec<u8>> {
    Some(match (kind, value) {
        (Kind::Bool, Value::Bool(b)) => vec![u8::from(*b)],
        (Kind::Ulong, Value::Ulong(v)) => ulong_bytes(CK_ULONG::try_from(*v).ok()?),
        (Kind::Bytes | Kind::Date, Value::Bytes(b)) => b.to_vec(),
        (Kind::Mechanisms, Value::Mechanisms(_)) => plain(value)?,
        (Kind::Template, Value::Map(entries)) => {
            let entries = entries
                .iter()
                .map(|(ty, v)| Some((*ty, plain(v)?)))
                .collect::<Option<Vec<_>>>()?;
            encode_template(&entries)
        }
        _ => return None,
    })
}

/// A value inside an attribute template (or a mechanism list) in C ABI form.
fn plain(value: &Value) -> Option<Vec<u8>> {
    Some(match value {
        Value::Bool(b) => vec![u8::from(*b)],
        Value::Ulong(v) => ulong_bytes(CK_ULONG::try_from(*v).ok()?),
        Value::Bytes(b) => b.to_vec(),
        Value::Mechanisms(m) => m
            .iter()
            .map(|&m| CK_ULONG::try_from(m).ok().map(ulong_bytes))
            .collect::<Option<Vec<_>>>()?
            .concat(),
        Value::Map(_) => return None,
    })
}

#[cfg(test)]
#[allow(clippy::unnecessary_cast)] // CK_ULONG is 32 bits on some platforms
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn b(v: &[u8]) -> Value {
        Value::Bytes(Zeroizing::new(v.to_vec()))
    }

    #[test]
    fn a_key_keeps_its_flags_and_loses_what_the_token_maintains() {
        let mut s = Stored::new();
        s.insert(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY as u64));
        s.insert(CKA_KEY_TYPE, Value::Ulong(CKK_AES as u64));
        s.insert(CKA_LABEL, b(b"aes1"));
        s.insert(CKA_ID, b(&[3]));
        s.insert(CKA_VALUE, b(&[7; 32]));
        s.insert(CKA_VALUE_LEN, Value::Ulong(32));
        s.insert(CKA_CHECK_VALUE, b(&[1, 2, 3]));
        s.insert(CKA_SENSITIVE, Value::Bool(false));
        s.insert(CKA_EXTRACTABLE, Value::Bool(false));
        s.insert(CKA_NEVER_EXTRACTABLE, Value::Bool(true));
        s.insert(CKA_LOCAL, Value::Bool(true));
        s.insert(CKA_START_DATE, b(b""));
        s.insert(CKA_END_DATE, b(b"20301231"));
        s.insert(CKA_ALLOWED_MECHANISMS, Value::Mechanisms(vec![]));
        s.insert(CKA_WRAP_TEMPLATE, Value::Map(vec![]));
        s.insert(0x8000_1234, b(b"vendor"));
        let (t, notes) = template(&s).unwrap();
        assert!(notes.is_empty());
        assert_eq!(t.get(CKA_VALUE), Some(&[7u8; 32][..]));
        assert!(!t.flag(CKA_SENSITIVE) && t.contains(CKA_SENSITIVE));
        assert!(!t.flag(CKA_EXTRACTABLE) && t.contains(CKA_EXTRACTABLE));
        assert_eq!(t.get(CKA_END_DATE), Some(&b"20301231"[..]));
        for gone in [
            CKA_VALUE_LEN,
            CKA_CHECK_VALUE,
            CKA_NEVER_EXTRACTABLE,
            CKA_LOCAL,
            CKA_START_DATE,
            CKA_ALLOWED_MECHANISMS,
            CKA_WRAP_TEMPLATE,
            0x8000_1234,
        ] {
            assert!(!t.contains(gone), "0x{gone:x}");
        }
        assert!(t.flag(CKA_TOKEN));
        assert_eq!(describe(&s, true).to_string(), "secret AES 'aes1' id 03");
    }

    #[test]
    fn unsupported_types_and_trusted_certificates_are_explained() {
        let mut dsa = Stored::new();
        dsa.insert(CKA_CLASS, Value::Ulong(CKO_PRIVATE_KEY as u64));
        dsa.insert(CKA_KEY_TYPE, Value::Ulong(CKK_DSA as u64));
        assert_eq!(
            template(&dsa).unwrap_err(),
            "Keyward does not hold DSA keys"
        );
        let mut cert = Stored::new();
        cert.insert(CKA_CLASS, Value::Ulong(CKO_CERTIFICATE as u64));
        cert.insert(CKA_CERTIFICATE_TYPE, Value::Ulong(CKC_X_509 as u64));
        cert.insert(CKA_TRUSTED, Value::Bool(true));
        cert.insert(CKA_LABEL, Value::Ulong(1));
        assert!(template(&cert).unwrap_err().contains("0x3"));
        cert.insert(CKA_LABEL, b(b"c"));
        let (t, notes) = template(&cert).unwrap();
        assert!(!t.contains(CKA_TRUSTED));
        assert_eq!(notes.len(), 1);
    }
}
