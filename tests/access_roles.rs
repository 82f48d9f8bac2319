//! The role matrix through the C ABI: every role (named admin, key manager, operator,
//! auditor, and the default user of plain C_Login) against every operation class, table
//! driven. Each role gets fresh targets made by the default user beforehand, not private
//! (so even the admin can see them), so that every refusal comes from the role check
//! itself, not from a missing or invisible object.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;

use common::trail::add_user;
use common::{pin, USER_PIN};

const CKA_KW_ACL: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x0A;
const CKA_KW_STATE: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x01;

const CLASSES: [&str; 13] = [
    "sign",
    "verify",
    "encrypt",
    "decrypt",
    "wrap",
    "unwrap",
    "derive",
    "generate",
    "create",
    "destroy",
    "rotate",
    "set-state",
    "set-acl",
];

/// What each role's attempt at each class of [`CLASSES`] returns.
type Row = [Option<RvError>; 13];

const OK: Option<RvError> = None;
const KFNP: Option<RvError> = Some(RvError::KeyFunctionNotPermitted);
const UNLI: Option<RvError> = Some(RvError::UserNotLoggedIn);
const AP: Option<RvError> = Some(RvError::ActionProhibited);

/// Roles that use no keys and manage none.
const NO_USE_NO_MANAGE: Row = [
    KFNP, KFNP, KFNP, KFNP, KFNP, KFNP, KFNP, UNLI, UNLI, AP, UNLI, AP, AP,
];

fn expected(role: &str) -> Row {
    match role {
        "admin" | "auditor" => NO_USE_NO_MANAGE,
        "key-manager" => [
            KFNP, KFNP, KFNP, KFNP, KFNP, KFNP, KFNP, OK, OK, OK, OK, OK, OK,
        ],
        "operator" => [OK, OK, OK, OK, OK, OK, OK, UNLI, UNLI, AP, UNLI, AP, AP],
        "user" => [OK; 13],
        other => panic!("{other}"),
    }
}

/// What the default user prepares for one role's turn.
struct Targets {
    key: ObjectHandle,
    mac: Vec<u8>,
    ct: Vec<u8>,
    target: ObjectHandle,
    blob: Vec<u8>,
    doomed: ObjectHandle,
    rotating: ObjectHandle,
    stateful: ObjectHandle,
    acl: ObjectHandle,
}

fn aes(s: &Session, label: &str) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![7; 16]),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Derive(true),
    ])
    .expect("the default user makes a target")
}

fn targets(s: &Session, role: &str) -> Targets {
    let key = aes(s, &format!("{role}-key"));
    let target = aes(s, &format!("{role}-target"));
    Targets {
        mac: s.sign(&Mechanism::AesCMac, key, b"m").unwrap(),
        ct: s
            .encrypt(&Mechanism::AesCbcPad([0; 16]), key, b"m")
            .unwrap(),
        blob: s.wrap_key(&Mechanism::AesKeyWrap, key, target).unwrap(),
        key,
        target,
        doomed: aes(s, &format!("{role}-doomed")),
        rotating: aes(s, &format!("{role}-rotating")),
        stateful: aes(s, &format!("{role}-stateful")),
        acl: aes(s, &format!("{role}-acl")),
    }
}

fn vendor(ty: CK_ULONG, value: Vec<u8>) -> Attribute {
    Attribute::VendorDefined((AttributeType::VendorDefined(ty), value))
}

/// Try every class with `t`; the outcome of each.
fn attempt(s: &Session, t: &Targets) -> Row {
    let rv = |r: cryptoki::error::Result<()>| r.err().map(|e| common::rv_of(&e));
    let new_key = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(false),
        Attribute::Private(false),
    ];
    let data = [1u8; 16];
    let derived = [&new_key[..], &[Attribute::ValueLen(16.into())]].concat();
    let rotating = t.rotating.handle();
    [
        rv(s.sign(&Mechanism::AesCMac, t.key, b"m").map(drop)),
        rv(s.verify(&Mechanism::AesCMac, t.key, b"m", &t.mac)),
        rv(s.encrypt(&Mechanism::AesCbcPad([0; 16]), t.key, b"m")
            .map(drop)),
        rv(s.decrypt(&Mechanism::AesCbcPad([0; 16]), t.key, &t.ct)
            .map(drop)),
        rv(s.wrap_key(&Mechanism::AesKeyWrap, t.key, t.target)
            .map(drop)),
        rv(
            s.unwrap_key(&Mechanism::AesKeyWrap, t.key, &t.blob, &new_key)
                .map(drop),
        ),
        rv(s.derive_key(
            &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &data)),
            t.key,
            &derived,
        )
        .map(drop)),
        rv(s.generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(16.into()),
                Attribute::Token(true),
                Attribute::Private(false),
            ],
        )
        .map(drop)),
        rv(s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![1; 16]),
            Attribute::Token(true),
            Attribute::Private(false),
        ])
        .map(drop)),
        rv(s.destroy_object(t.doomed)),
        rv(s.generate_key(&common::rotate_mechanism(&rotating), &[])
            .map(drop)),
        rv(s.update_attributes(
            t.stateful,
            &[vendor(CKA_KW_STATE, 3u64.to_ne_bytes().to_vec())],
        )),
        rv(s.update_attributes(t.acl, &[vendor(CKA_KW_ACL, b"role:operator=sign".to_vec())])),
    ]
}

/// Log `s` in as `role`: the named users by C_LoginUser (the admin as CKU_SO), the default
/// user by plain C_Login.
fn log_in(s: &Session, role: &str) {
    let named = |ty, name: &str| {
        let rv = common::login_user(s, ty, name, format!("{name}-pin-1").as_bytes());
        assert_eq!(rv, CKR_OK, "{role} logs in");
    };
    match role {
        "admin" => named(CKU_SO, "adm"),
        "key-manager" => named(CKU_USER, "km"),
        "operator" => named(CKU_USER, "op"),
        "auditor" => named(CKU_USER, "aud"),
        _ => s.login(UserType::User, Some(&pin(USER_PIN))).unwrap(),
    }
}

#[test]
fn every_role_against_every_operation_class() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "role matrix");
    for (name, role) in [
        ("adm", "admin"),
        ("km", "key-manager"),
        ("op", "operator"),
        ("aud", "auditor"),
    ] {
        add_user(index, name, role);
    }
    let s = common::p11().open_rw_session(slot).unwrap();
    let mut wrong = Vec::new();
    for role in ["admin", "key-manager", "operator", "auditor", "user"] {
        s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        let t = targets(&s, role);
        s.logout().unwrap();
        log_in(&s, role);
        let got = attempt(&s, &t);
        s.logout().unwrap();
        for (i, (g, want)) in got.iter().zip(expected(role)).enumerate() {
            if *g != want {
                wrong.push(format!("{role} {}: got {g:?}, want {want:?}", CLASSES[i]));
            }
        }
    }
    assert!(wrong.is_empty(), "role matrix:\n{}", wrong.join("\n"));
}
