//! Read-only listings for the CLI: token flags and key rows.

use cryptoki_sys::*;

use crate::error::Result;
use crate::object::key::KeyMaterial;
use crate::object::vendor::{
    CKA_KW_CREATED, CKA_KW_KEY_ID, CKA_KW_REVOCATION_REASON, CKA_KW_ROTATION_PERIOD,
    CKA_KW_STATE_CHANGED, CKA_KW_USAGE_LIMIT, CKA_KW_VERSION,
};
use crate::object::Attributes;
use crate::provider::Provider;

/// One key as `keyward keys` shows it.
#[derive(Debug, serde::Serialize)]
pub struct KeyRow {
    /// The RFC 7512 URI naming this object (token, label, id, type).
    pub uri: String,
    pub label: String,
    pub id: String,
    pub class: &'static str,
    pub key_type: &'static str,
    /// Bits (RSA modulus, EC field, secret key length).
    pub bits: Option<usize>,
    pub token: bool,
    pub private: bool,
    /// Lifecycle state (docs/lifecycle.md).
    pub state: &'static str,
    /// Revocation reason, if the key was revoked.
    pub revocation_reason: Option<CK_ULONG>,
    /// Protect operations allowed (None: no limit).
    pub usage_limit: Option<CK_ULONG>,
    /// Protect operations counted so far (across every process).
    pub uses: u64,
    /// This object's version of its logical key, and the logical key (hex).
    pub version: CK_ULONG,
    pub key_id: String,
    /// When this version was made, and when its state or reason was last set (Unix seconds).
    pub created: CK_ULONG,
    pub state_changed: CK_ULONG,
    /// Seconds between rotations (None: never rotates by policy).
    pub rotation_period: Option<CK_ULONG>,
    /// CKA_START_DATE / CKA_END_DATE ("YYYYMMDD", empty: none).
    pub start_date: String,
    pub end_date: String,
}

/// Names of the CKF_* token flags that are set.
pub fn flag_names(flags: CK_FLAGS) -> Vec<&'static str> {
    const NAMES: [(CK_FLAGS, &str); 12] = [
        (CKF_RNG, "RNG"),
        (CKF_LOGIN_REQUIRED, "LOGIN_REQUIRED"),
        (CKF_USER_PIN_INITIALIZED, "USER_PIN_INITIALIZED"),
        (CKF_TOKEN_INITIALIZED, "TOKEN_INITIALIZED"),
        (CKF_USER_PIN_COUNT_LOW, "USER_PIN_COUNT_LOW"),
        (CKF_USER_PIN_FINAL_TRY, "USER_PIN_FINAL_TRY"),
        (CKF_USER_PIN_LOCKED, "USER_PIN_LOCKED"),
        (CKF_SO_PIN_COUNT_LOW, "SO_PIN_COUNT_LOW"),
        (CKF_SO_PIN_FINAL_TRY, "SO_PIN_FINAL_TRY"),
        (CKF_SO_PIN_LOCKED, "SO_PIN_LOCKED"),
        (CKF_USER_PIN_TO_BE_CHANGED, "USER_PIN_TO_BE_CHANGED"),
        (CKF_SO_PIN_TO_BE_CHANGED, "SO_PIN_TO_BE_CHANGED"),
    ];
    NAMES
        .iter()
        .filter(|(f, _)| flags & f != 0)
        .map(|(_, n)| *n)
        .collect()
}

pub(super) fn class_name(c: CK_OBJECT_CLASS) -> &'static str {
    match c {
        CKO_PUBLIC_KEY => "public",
        CKO_PRIVATE_KEY => "private",
        CKO_SECRET_KEY => "secret",
        CKO_CERTIFICATE => "certificate",
        CKO_DATA => "data",
        _ => "other",
    }
}

fn type_name(attrs: &Attributes) -> &'static str {
    match attrs.ulong(CKA_KEY_TYPE) {
        Some(CKK_RSA) => "RSA",
        Some(CKK_EC) => "EC",
        Some(CKK_AES) => "AES",
        Some(CKK_GENERIC_SECRET) => "GENERIC_SECRET",
        Some(CKK_EC_EDWARDS) => "EC_EDWARDS",
        Some(CKK_EC_MONTGOMERY) => "EC_MONTGOMERY",
        Some(_) => "other",
        None => "-",
    }
}

/// An object's CKA_UNIQUE_ID as text (the key of its usage counter).
pub(super) fn uid_of(a: &Attributes) -> String {
    String::from_utf8_lossy(a.get(CKA_UNIQUE_ID).unwrap_or_default()).into_owned()
}

pub(super) fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Every visible key in the session's token, newest first.
pub(super) fn key_rows(p: &Provider, h: CK_SESSION_HANDLE) -> Result<Vec<KeyRow>> {
    p.find_init(h, &Attributes::new())?;
    let handles = p.find_next(h, usize::MAX);
    p.find_final(h)?;
    let (_, token) = p.session_token(h)?;
    let token_label = token.label()?;
    let mut rows = Vec::new();
    for o in handles? {
        let obj = p.object(h, o)?;
        if !matches!(
            obj.class(),
            CKO_PUBLIC_KEY | CKO_PRIVATE_KEY | CKO_SECRET_KEY
        ) {
            continue;
        }
        let a = obj.attrs();
        let bits = obj.key().ok().map(|k| match &*k {
            KeyMaterial::Secret(v) => v.len() * 8,
            KeyMaterial::Device(d) if d.class == CKO_SECRET_KEY => d.size * 8,
            other => other.size(),
        });
        let (label, id) = (
            a.get(CKA_LABEL).unwrap_or_default(),
            a.get(CKA_ID).unwrap_or_default(),
        );
        rows.push(KeyRow {
            uri: super::uri::key_uri(&token_label, label, id, obj.class()),
            label: String::from_utf8_lossy(label).into_owned(),
            id: hex(id),
            class: class_name(obj.class()),
            key_type: type_name(a),
            bits,
            token: obj.is_token(),
            private: obj.is_private(),
            state: super::lifecycle::state_name(crate::policy::lifecycle::state_of(a)),
            revocation_reason: a.ulong(CKA_KW_REVOCATION_REASON).filter(|r| *r != 0),
            usage_limit: a.ulong(CKA_KW_USAGE_LIMIT).filter(|l| *l != 0),
            uses: token.uses(&uid_of(a))?,
            version: a.ulong(CKA_KW_VERSION).unwrap_or(1),
            key_id: hex(a.get(CKA_KW_KEY_ID).unwrap_or_default()),
            created: a.ulong(CKA_KW_CREATED).unwrap_or(0),
            state_changed: a.ulong(CKA_KW_STATE_CHANGED).unwrap_or(0),
            rotation_period: a.ulong(CKA_KW_ROTATION_PERIOD).filter(|p| *p != 0),
            start_date: String::from_utf8_lossy(a.get(CKA_START_DATE).unwrap_or_default())
                .into_owned(),
            end_date: String::from_utf8_lossy(a.get(CKA_END_DATE).unwrap_or_default()).into_owned(),
        });
    }
    Ok(rows)
}
