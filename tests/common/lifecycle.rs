//! Helpers for the lifecycle tests: Keyward's vendor attributes (mirrors of
//! include/keyward.h), a token of one's own with a logged-in session, and the CLI on it.

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::CK_ULONG;

const BASE: CK_ULONG = 0x8000_0000 | 0x4B57_0000;
pub const CKA_KW_STATE: CK_ULONG = BASE | 0x01;
pub const CKA_KW_STATE_CHANGED: CK_ULONG = BASE | 0x02;
pub const CKA_KW_REVOCATION_REASON: CK_ULONG = BASE | 0x03;
pub const CKA_KW_USAGE_LIMIT: CK_ULONG = BASE | 0x04;
pub const CKA_KW_KEY_ID: CK_ULONG = BASE | 0x05;
pub const CKA_KW_VERSION: CK_ULONG = BASE | 0x06;
pub const CKA_KW_ROTATION_PERIOD: CK_ULONG = BASE | 0x07;
pub const CKA_KW_CREATED: CK_ULONG = BASE | 0x08;
pub const CKA_KW_ACL: CK_ULONG = BASE | 0x0A;
pub const CKM_KW_VERSIONED_AES_GCM: CK_ULONG = BASE | 0x02;

pub const PRE_ACTIVE: CK_ULONG = 1;
pub const ACTIVE: CK_ULONG = 2;
pub const SUSPENDED: CK_ULONG = 3;
pub const DEACTIVATED: CK_ULONG = 4;
pub const COMPROMISED: CK_ULONG = 5;

/// A CK_ULONG vendor attribute.
pub fn vendor(ty: CK_ULONG, v: CK_ULONG) -> Attribute {
    Attribute::VendorDefined((AttributeType::VendorDefined(ty), v.to_ne_bytes().to_vec()))
}

/// A byte-string vendor attribute.
pub fn vendor_bytes(ty: CK_ULONG, v: &[u8]) -> Attribute {
    Attribute::VendorDefined((AttributeType::VendorDefined(ty), v.to_vec()))
}

/// The raw value of vendor attribute `ty`.
pub fn read_bytes(s: &Session, key: ObjectHandle, ty: CK_ULONG) -> Vec<u8> {
    match s
        .get_attributes(key, &[AttributeType::VendorDefined(ty)])
        .unwrap()
        .as_slice()
    {
        [Attribute::VendorDefined((_, v))] => v.clone(),
        other => panic!("vendor attribute 0x{ty:x}: {other:?}"),
    }
}

/// A CK_ULONG vendor attribute's value.
pub fn read(s: &Session, key: ObjectHandle, ty: CK_ULONG) -> CK_ULONG {
    CK_ULONG::from_ne_bytes(read_bytes(s, key, ty)[..8].try_into().unwrap())
}

pub fn set_state(s: &Session, key: ObjectHandle, state: CK_ULONG) -> cryptoki::error::Result<()> {
    s.update_attributes(key, &[vendor(CKA_KW_STATE, state)])
}

/// A fresh token of its own (slot index `index`) and a read/write session logged in as the
/// default user.
pub fn token_session(label: &str) -> (Session, usize) {
    let (slot, index) = super::claim_slot();
    super::init_token(slot, label);
    let s = super::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&super::pin(super::USER_PIN)))
        .unwrap();
    (s, index)
}

/// `keyward --slot INDEX ARGS` with the user PIN; its output (any exit status).
pub fn cli_output(index: usize, args: &[&str]) -> std::process::Output {
    let slot = index.to_string();
    super::keyward_cli_output(
        &[&["--slot", slot.as_str()], args].concat(),
        &[("KEYWARD_PIN", super::USER_PIN)],
    )
}

/// `keyward --slot INDEX ARGS` with the user PIN; its stdout, after asserting success.
pub fn cli(index: usize, args: &[&str]) -> String {
    let out = cli_output(index, args);
    assert!(
        out.status.success(),
        "keyward {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `keyward --slot INDEX ARGS --json`, parsed.
pub fn cli_json(index: usize, args: &[&str]) -> serde_json::Value {
    let out = cli(index, &[args, &["--json"]].concat());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

/// Versioned AES-GCM (the ciphertext names the key version that made it).
pub fn versioned_gcm() -> Mechanism<'static> {
    use cryptoki::mechanism::vendor_defined::VendorDefinedMechanism;
    use cryptoki::mechanism::MechanismType;
    let ty = MechanismType::new_vendor_defined(CKM_KW_VERSIONED_AES_GCM).unwrap();
    Mechanism::VendorDefined(VendorDefinedMechanism::new::<()>(ty, None))
}

/// Now, in Unix seconds.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
