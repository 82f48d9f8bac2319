//! Keyward's vendor-defined attributes and values (mirrored in `include/keyward.h`): all in
//! the CKA_VENDOR_DEFINED range, at offsets from KEYWARD_VENDOR_BASE ("KW").

use cryptoki_sys::{CKA_VENDOR_DEFINED, CK_ATTRIBUTE_TYPE, CK_MECHANISM_TYPE, CK_ULONG};

/// "KW": the base of every Keyward extension.
pub const KEYWARD_VENDOR_BASE: CK_ULONG = 0x4B57_0000;
const BASE: CK_ATTRIBUTE_TYPE = CKA_VENDOR_DEFINED | KEYWARD_VENDOR_BASE;

/// CK_ULONG: the key's lifecycle state (`KW_STATE_*`), readable by any client; changed with
/// C_SetAttributeValue along the transitions in `docs/lifecycle.md`.
pub const CKA_KW_STATE: CK_ATTRIBUTE_TYPE = BASE | 0x01;
/// CK_ULONG: when the state last changed, in seconds since the Unix epoch (token-managed).
pub const CKA_KW_STATE_CHANGED: CK_ATTRIBUTE_TYPE = BASE | 0x02;
/// CK_ULONG: why the key was revoked (`KW_REASON_*`, RFC 5280 / KMIP), 0 if it was not.
pub const CKA_KW_REVOCATION_REASON: CK_ATTRIBUTE_TYPE = BASE | 0x03;
/// CK_ULONG: how many protect operations (sign, encrypt, wrap, derive) this version may
/// start; 0 means no limit. Counted per version (a rotation starts a new count); only a role
/// that manages keys may raise it.
pub const CKA_KW_USAGE_LIMIT: CK_ATTRIBUTE_TYPE = BASE | 0x04;

/// Byte string: the logical key every version of it shares (token-managed; set at creation).
pub const CKA_KW_KEY_ID: CK_ATTRIBUTE_TYPE = BASE | 0x05;
/// CK_ULONG: this object's version of its logical key, from 1 (token-managed).
pub const CKA_KW_VERSION: CK_ATTRIBUTE_TYPE = BASE | 0x06;

/// CK_ULONG: rotate this key every so many seconds (0: never). A secret key past due rotates
/// at its next protect operation, in any session; `keyward rotate --due` rotates every key
/// that is due.
pub const CKA_KW_ROTATION_PERIOD: CK_ATTRIBUTE_TYPE = BASE | 0x07;
/// CK_ULONG: when this version was made (Unix seconds; token-managed).
pub const CKA_KW_CREATED: CK_ATTRIBUTE_TYPE = BASE | 0x08;

/// Byte string: for a copy of a token key (C_CopyObject), the CKA_UNIQUE_ID of the key it was
/// copied from; the copy then follows that key's lifecycle (token-managed).
pub const CKA_KW_COPY_OF: CK_ATTRIBUTE_TYPE = BASE | 0x09;

/// UTF-8 text: who may use the key for which operation class (`user:NAME`, `role:ROLE` or `*`
/// = `sign`, `encrypt`, `wrap`, `derive` or `*`, entries separated by `;`); empty: every role
/// that uses keys, for everything (docs/access-control.md). Set by key managers.
pub const CKA_KW_ACL: CK_ATTRIBUTE_TYPE = BASE | 0x0A;

/// Byte string: in a delegate slot, the CKA_ID of the device object(s) holding this key; the
/// key's material never leaves the device (token-managed; docs/delegation.md).
pub const CKA_KW_DEVICE_ID: CK_ATTRIBUTE_TYPE = BASE | 0x0B;

/// Vendor mechanism: rotate a key. `C_GenerateKey` (secret keys) or `C_GenerateKeyPair` (key
/// pairs) with this mechanism and the current version's handle (a CK_OBJECT_HANDLE; for a
/// pair, the private key's) as parameter makes the next version — same attributes, new
/// material, active — and deactivates the previous one. Templates must be empty.
pub const CKM_KW_ROTATE: CK_MECHANISM_TYPE =
    cryptoki_sys::CKM_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x01;

/// Vendor mechanism: versioned AES-GCM. C_Encrypt with the current version of an AES key
/// writes "KWG1" ‖ version ‖ IV ‖ ciphertext ‖ tag; C_Decrypt with any version of the same
/// logical key finds the version the ciphertext names. Optional parameter: associated data.
pub const CKM_KW_VERSIONED_AES_GCM: CK_MECHANISM_TYPE =
    cryptoki_sys::CKM_VENDOR_DEFINED | KEYWARD_VENDOR_BASE | 0x02;

pub const KW_STATE_PRE_ACTIVE: CK_ULONG = 1;
pub const KW_STATE_ACTIVE: CK_ULONG = 2;
pub const KW_STATE_SUSPENDED: CK_ULONG = 3;
pub const KW_STATE_DEACTIVATED: CK_ULONG = 4;
pub const KW_STATE_COMPROMISED: CK_ULONG = 5;
pub const KW_STATE_DESTROYED: CK_ULONG = 6;

pub const KW_REASON_NONE: CK_ULONG = 0;
pub const KW_REASON_UNSPECIFIED: CK_ULONG = 1;
pub const KW_REASON_KEY_COMPROMISE: CK_ULONG = 2;
pub const KW_REASON_CA_COMPROMISE: CK_ULONG = 3;
pub const KW_REASON_AFFILIATION_CHANGED: CK_ULONG = 4;
pub const KW_REASON_SUPERSEDED: CK_ULONG = 5;
pub const KW_REASON_CESSATION_OF_OPERATION: CK_ULONG = 6;
pub const KW_REASON_PRIVILEGE_WITHDRAWN: CK_ULONG = 7;
