//! Template checks for creating, generating, copying and modifying objects, driven by the
//! rule table in [`super::rules`].

use cryptoki_sys::*;

use super::attr::{parse_bool, parse_ulong, Attributes};
use super::rules::{self, flag, Kind, Rule, Shape};
use super::vendor::*;
use crate::error::{Error, Result};
use crate::policy::lifecycle;

/// How an object comes into being; decides which template rules apply.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// C_CreateObject: the caller supplies the material.
    Create,
    /// C_GenerateKey / C_GenerateKeyPair with this mechanism.
    Generate(CK_MECHANISM_TYPE),
    /// C_DeriveKey from a base key with these CKA_ALWAYS_SENSITIVE / CKA_NEVER_EXTRACTABLE.
    Derive {
        always_sensitive: bool,
        never_extractable: bool,
    },
    /// C_UnwrapKey: the material came from outside the token.
    Unwrap,
}

/// The shape a template describes. `class`/`subtype` defaults come from the mechanism.
/// CKR_TEMPLATE_INCOMPLETE without a class or key type, CKR_TEMPLATE_INCONSISTENT when the
/// template contradicts the defaults, CKR_ATTRIBUTE_VALUE_INVALID for unsupported values.
pub fn shape_of(
    template: &Attributes,
    default_class: Option<CK_OBJECT_CLASS>,
    default_subtype: Option<CK_ULONG>,
) -> Result<Shape> {
    let class = pick(template, CKA_CLASS, default_class)?.ok_or(Error::TemplateIncomplete)?;
    let subtype_attr = match class {
        CKO_CERTIFICATE => Some(CKA_CERTIFICATE_TYPE),
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => Some(CKA_KEY_TYPE),
        CKO_DATA => None,
        _ => return Err(Error::AttributeValueInvalid),
    };
    let subtype = match subtype_attr {
        Some(attr) => pick(template, attr, default_subtype)?.ok_or(Error::TemplateIncomplete)?,
        None => 0,
    };
    let shape = Shape { class, subtype };
    if !rules::supported(shape) {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(shape)
}

fn pick(
    template: &Attributes,
    ty: CK_ATTRIBUTE_TYPE,
    default: Option<CK_ULONG>,
) -> Result<Option<CK_ULONG>> {
    match (template.get(ty).map(parse_ulong).transpose()?, default) {
        (Some(v), Some(d)) if v != d => Err(Error::TemplateInconsistent),
        (Some(v), _) => Ok(Some(v)),
        (None, d) => Ok(d),
    }
}

fn check_kind(rule: &Rule, value: &[u8]) -> Result<()> {
    let ok = match rule.kind {
        Kind::Bool => parse_bool(value).is_ok(),
        Kind::Ulong => parse_ulong(value).is_ok(),
        Kind::Bytes => true,
        Kind::Date => {
            value.is_empty() || (value.len() == 8 && value.iter().all(u8::is_ascii_digit))
        }
        Kind::Mechanisms => value.len().is_multiple_of(std::mem::size_of::<CK_ULONG>()),
        Kind::Template => super::attr::decode_template(value).is_ok(),
    };
    ok.then_some(()).ok_or(Error::AttributeValueInvalid)
}

/// Validate a caller's template for a new object and return it with defaults and
/// token-managed attributes filled in (CKA_UNIQUE_ID excepted: the token sets it).
pub fn new_object(
    shape: Shape,
    template: &Attributes,
    origin: Origin,
    is_so: bool,
) -> Result<Attributes> {
    for (ty, value) in template.iter() {
        let rule = rules::rule(shape, ty).ok_or(Error::AttributeTypeInvalid)?;
        check_kind(rule, value)?;
        if rule.has(flag::TOKEN_MANAGED) {
            return Err(Error::AttributeReadOnly);
        }
        if rule.has(flag::SO_ONLY) && !is_so && parse_bool(value)? {
            return Err(Error::AttributeReadOnly);
        }
        let forbidden = match origin {
            Origin::Create => rule.has(flag::COMPUTED_ON_CREATE),
            Origin::Generate(_) | Origin::Derive { .. } | Origin::Unwrap => {
                rule.has(flag::GENERATED)
            }
        };
        if forbidden {
            return Err(Error::TemplateInconsistent);
        }
    }
    for rule in rules::rules(shape) {
        let required = match origin {
            Origin::Create => rule.has(flag::REQUIRED_CREATE),
            Origin::Generate(_) => rule.has(flag::REQUIRED_GENERATE),
            Origin::Derive { .. } | Origin::Unwrap => false,
        };
        if required && !template.contains(rule.ty) {
            return Err(Error::TemplateIncomplete);
        }
    }
    check_lifecycle_values(template)?;
    if !lifecycle::initial_state_allowed(lifecycle::state_of(template)) {
        return Err(Error::AttributeValueInvalid);
    }
    let mut attrs = defaults(shape);
    attrs.extend(template);
    attrs.set_ulong(CKA_CLASS, shape.class);
    match shape.class {
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY => {
            attrs.set_ulong(CKA_KEY_TYPE, shape.subtype)
        }
        CKO_CERTIFICATE => attrs.set_ulong(CKA_CERTIFICATE_TYPE, shape.subtype),
        _ => {}
    }
    set_provenance(shape, &mut attrs, origin);
    Ok(attrs)
}

/// Token-managed attributes that record where a key came from (§4.7, §4.9, §4.10).
fn set_provenance(shape: Shape, attrs: &mut Attributes, origin: Origin) {
    if !matches!(
        shape.class,
        CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY
    ) {
        return;
    }
    // Whether the material was never outside the token in the clear, as far as the token
    // knows (for derived keys: whatever the base key could claim).
    let (local, mech, always_sensitive, never_extractable) = match origin {
        Origin::Create | Origin::Unwrap => (false, CK_UNAVAILABLE_INFORMATION, false, false),
        Origin::Generate(m) => (true, m, true, true),
        Origin::Derive {
            always_sensitive,
            never_extractable,
        } => (
            false,
            CK_UNAVAILABLE_INFORMATION,
            always_sensitive,
            never_extractable,
        ),
    };
    attrs.set_bool(CKA_LOCAL, local);
    attrs.set_ulong(CKA_KEY_GEN_MECHANISM, mech);
    attrs.set_ulong(CKA_KW_STATE_CHANGED, lifecycle::now_seconds());
    attrs.set_ulong(CKA_KW_CREATED, lifecycle::now_seconds());
    if !attrs.contains(CKA_KW_KEY_ID) {
        let mut id = [0u8; 16];
        // A failing RNG leaves an all-zero id; it only names the logical key.
        let _ = crate::crypto::rng::fill(&mut id);
        attrs.set(CKA_KW_KEY_ID, id.to_vec());
        attrs.set_ulong(CKA_KW_VERSION, 1);
    }
    if shape.class != CKO_PUBLIC_KEY {
        let sensitive = attrs.flag(CKA_SENSITIVE);
        let extractable = attrs.flag(CKA_EXTRACTABLE);
        attrs.set_bool(CKA_ALWAYS_SENSITIVE, always_sensitive && sensitive);
        attrs.set_bool(CKA_NEVER_EXTRACTABLE, never_extractable && !extractable);
    }
}

/// Default values for every optional attribute of `shape` (token choices where the spec
/// leaves them to the token: keys are private, sensitive and unextractable by default).
fn defaults(shape: Shape) -> Attributes {
    let mut a = Attributes::new();
    let is_secretish = matches!(shape.class, CKO_PRIVATE_KEY | CKO_SECRET_KEY);
    a.set_bool(CKA_TOKEN, false);
    a.set_bool(CKA_PRIVATE, is_secretish);
    a.set_bool(CKA_MODIFIABLE, true);
    a.set_bool(CKA_COPYABLE, true);
    a.set_bool(CKA_DESTROYABLE, true);
    a.set(CKA_LABEL, Vec::new());
    for rule in rules::rules(shape) {
        if rule.has(flag::TOKEN_MANAGED | flag::REQUIRED_CREATE | flag::GENERATED)
            || a.contains(rule.ty)
        {
            continue;
        }
        let value = match (rule.ty, rule.kind) {
            (CKA_SENSITIVE, _) => Some(vec![1]),
            (CKA_EXTRACTABLE | CKA_DERIVE | CKA_TRUSTED | CKA_WRAP_WITH_TRUSTED, _) => {
                Some(vec![0])
            }
            (CKA_ALWAYS_AUTHENTICATE, _) => Some(vec![0]),
            (CKA_KW_STATE, _) => Some(super::attr::ulong_bytes(KW_STATE_ACTIVE)),
            (CKA_KW_REVOCATION_REASON | CKA_KW_USAGE_LIMIT, _) => Some(super::attr::ulong_bytes(0)),
            (_, Kind::Bool) => Some(vec![1]),
            (_, Kind::Bytes | Kind::Date | Kind::Mechanisms | Kind::Template) => Some(Vec::new()),
            (CKA_CERTIFICATE_CATEGORY | CKA_JAVA_MIDP_SECURITY_DOMAIN, _) => {
                Some(super::attr::ulong_bytes(0))
            }
            _ => None,
        };
        if let Some(v) = value {
            a.set(rule.ty, v);
        }
    }
    a
}

/// Apply a C_SetAttributeValue template to `current`; returns the new attribute set.
/// CKR_ACTION_PROHIBITED for unmodifiable objects, CKR_ATTRIBUTE_READ_ONLY for fixed,
/// token-managed or one-way attributes changed the wrong way, CKR_ATTRIBUTE_TYPE_INVALID
/// for attributes the object cannot carry.
pub fn modify(
    shape: Shape,
    current: &Attributes,
    template: &Attributes,
    is_so: bool,
) -> Result<Attributes> {
    let lifecycle_only = template
        .iter()
        .all(|(ty, _)| rules::rule(shape, ty).is_some_and(|r| r.has(flag::LIFECYCLE)));
    if !current.flag(CKA_MODIFIABLE) && !lifecycle_only {
        return Err(Error::ActionProhibited);
    }
    let mut next = current.clone();
    for (ty, value) in template.iter() {
        let rule = rules::rule(shape, ty).ok_or(Error::AttributeTypeInvalid)?;
        check_kind(rule, value)?;
        check_change(rule, current.get(ty), value, is_so)?;
        next.set(ty, value.to_vec());
    }
    check_lifecycle_values(template)?;
    let (from, to) = (lifecycle::state_of(current), lifecycle::state_of(&next));
    if !lifecycle::transition_allowed(from, to) {
        return Err(Error::AttributeValueInvalid);
    }
    // A revocation that records a new reason without a change of state (a deactivated key
    // revoked again, for another reason) is dated too.
    let reason_changed =
        current.get(CKA_KW_REVOCATION_REASON) != next.get(CKA_KW_REVOCATION_REASON);
    if from != to || reason_changed {
        next.set_ulong(CKA_KW_STATE_CHANGED, lifecycle::now_seconds());
    }
    Ok(next)
}

/// The lifecycle values a template may carry: a state a key may start in or move to (never
/// "destroyed": C_DestroyObject does that) and a known revocation reason.
fn check_lifecycle_values(template: &Attributes) -> Result<()> {
    if let Some(v) = template.get(CKA_KW_STATE) {
        let state = parse_ulong(v)?;
        if !(KW_STATE_PRE_ACTIVE..KW_STATE_DESTROYED).contains(&state) {
            return Err(Error::AttributeValueInvalid);
        }
    }
    if let Some(v) = template.get(CKA_KW_REVOCATION_REASON) {
        if !lifecycle::reason_valid(parse_ulong(v)?) {
            return Err(Error::AttributeValueInvalid);
        }
    }
    Ok(())
}

/// Apply a C_CopyObject template: like [`modify`], but CKA_TOKEN and CKA_PRIVATE may be
/// chosen for the copy and CKA_MODIFIABLE may go from true to false.
pub fn copy(
    shape: Shape,
    current: &Attributes,
    template: &Attributes,
    is_so: bool,
) -> Result<Attributes> {
    if !current.flag(CKA_COPYABLE) {
        return Err(Error::ActionProhibited);
    }
    let mut next = current.clone();
    for (ty, value) in template.iter() {
        let rule = rules::rule(shape, ty).ok_or(Error::AttributeTypeInvalid)?;
        check_kind(rule, value)?;
        match ty {
            CKA_TOKEN | CKA_PRIVATE => {}
            CKA_MODIFIABLE if !parse_bool(value)? || current.flag(CKA_MODIFIABLE) => {}
            _ => check_change(rule, current.get(ty), value, is_so)?,
        }
        next.set(ty, value.to_vec());
    }
    // A copy of a token key keeps following the original's lifecycle (docs/lifecycle.md).
    let is_key = matches!(
        shape.class,
        CKO_PRIVATE_KEY | CKO_SECRET_KEY | CKO_PUBLIC_KEY
    );
    if is_key && current.flag(CKA_TOKEN) && !current.contains(CKA_KW_COPY_OF) {
        if let Some(uid) = current.get(CKA_UNIQUE_ID) {
            next.set(CKA_KW_COPY_OF, uid.to_vec());
        }
    }
    next.remove(CKA_UNIQUE_ID);
    Ok(next)
}

fn check_change(rule: &Rule, old: Option<&[u8]>, new: &[u8], is_so: bool) -> Result<()> {
    if rule.has(flag::FIXED | flag::TOKEN_MANAGED) {
        return Err(Error::AttributeReadOnly);
    }
    let old_true = old.is_some_and(|v| parse_bool(v).unwrap_or(false));
    let one_way_violated = (rule.has(flag::ONLY_TO_TRUE) && old_true && !parse_bool(new)?)
        || (rule.has(flag::ONLY_TO_FALSE) && !old_true && parse_bool(new)?)
        || (rule.has(flag::SO_ONLY) && !is_so && parse_bool(new)?);
    if one_way_violated {
        return Err(Error::AttributeReadOnly);
    }
    Ok(())
}

/// A caller's template with the entries a key's CKA_UNWRAP_TEMPLATE / CKA_DERIVE_TEMPLATE
/// (`imposed`, stored encoded) adds; CKR_TEMPLATE_INCONSISTENT where they disagree.
pub fn with_imposed(imposed: Option<&[u8]>, template: &Attributes) -> Result<Attributes> {
    let mut out = template.clone();
    for (ty, value) in super::attr::decode_template(imposed.unwrap_or_default())? {
        match template.get(ty) {
            Some(v) if v != value.as_slice() => return Err(Error::TemplateInconsistent),
            Some(_) => {}
            None => out.set(ty, value),
        }
    }
    Ok(out)
}

/// Whether `attrs` carries every entry of a CKA_WRAP_TEMPLATE (`required`, stored encoded).
pub fn satisfies(required: Option<&[u8]>, attrs: &Attributes) -> Result<bool> {
    let entries = super::attr::decode_template(required.unwrap_or_default())?;
    Ok(entries
        .iter()
        .all(|(ty, value)| attrs.get(*ty) == Some(value.as_slice())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aes_template() -> Attributes {
        let mut t = Attributes::new();
        t.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
        t.set_ulong(CKA_KEY_TYPE, CKK_AES);
        t.set(CKA_VALUE, vec![7; 16]);
        t
    }

    #[test]
    fn create_fills_defaults_and_provenance() {
        let t = aes_template();
        let shape = shape_of(&t, None, None).unwrap();
        let a = new_object(shape, &t, Origin::Create, false).unwrap();
        assert!(a.flag(CKA_SENSITIVE) && a.flag(CKA_PRIVATE) && a.flag(CKA_ENCRYPT));
        assert!(!a.flag(CKA_LOCAL) && !a.flag(CKA_ALWAYS_SENSITIVE));
    }

    #[test]
    fn create_rejects_what_the_spec_forbids() {
        let mut t = aes_template();
        t.set_bool(CKA_LOCAL, true);
        let shape = shape_of(&t, None, None).unwrap();
        assert_eq!(
            new_object(shape, &t, Origin::Create, false),
            Err(Error::AttributeReadOnly)
        );
        let mut t = aes_template();
        t.set(CKA_MODULUS, vec![1]);
        assert_eq!(
            new_object(shape, &t, Origin::Create, false),
            Err(Error::AttributeTypeInvalid)
        );
        let mut t = aes_template();
        t.remove(CKA_VALUE);
        assert_eq!(
            new_object(shape, &t, Origin::Create, false),
            Err(Error::TemplateIncomplete)
        );
        let t = aes_template();
        assert_eq!(
            new_object(shape, &t, Origin::Generate(CKM_AES_KEY_GEN), false),
            Err(Error::TemplateInconsistent)
        );
    }

    #[test]
    fn one_way_attributes_only_move_one_way() {
        let t = aes_template();
        let shape = shape_of(&t, None, None).unwrap();
        let a = new_object(shape, &t, Origin::Create, false).unwrap();
        let mut m = Attributes::new();
        m.set_bool(CKA_SENSITIVE, false);
        assert_eq!(modify(shape, &a, &m, false), Err(Error::AttributeReadOnly));
        let mut m = Attributes::new();
        m.set_bool(CKA_EXTRACTABLE, true);
        assert_eq!(modify(shape, &a, &m, false), Err(Error::AttributeReadOnly));
        let mut m = Attributes::new();
        m.set(CKA_LABEL, b"new".to_vec());
        assert_eq!(
            modify(shape, &a, &m, false).unwrap().get(CKA_LABEL),
            Some(&b"new"[..])
        );
    }
}
