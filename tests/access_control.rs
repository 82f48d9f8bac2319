//! Named users, roles and per-key ACLs through the C ABI (`C_LoginUser`): separation of duties
//! across every role and operation class, ACL enforcement, lockout and unlock, TOTP.
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::*;

use common::{assert_rv, pin, SO_PIN, USER_PIN};

const CKA_KW_ACL: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x0A;
const CKA_KW_STATE: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x01;

use common::login_user;

/// A token with one user of each named role (PIN = "<name>-pin-1"), added by the admin
/// with `keyward user add`.
fn token_with_users(label: &str) -> (cryptoki::slot::Slot, usize) {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, label);
    for (name, role) in [
        ("adm", "admin"),
        ("km", "key-manager"),
        ("op", "operator"),
        ("op2", "operator"),
        ("aud", "auditor"),
    ] {
        let pin = format!("{name}-pin-1");
        admin(
            index,
            &["user", "add", name, "--role", role],
            &[("KEYWARD_NEW_PIN", &pin)],
        );
    }
    (slot, index)
}

/// `keyward --slot INDEX ARGS` as the token's SO (the built-in admin).
fn admin(index: usize, args: &[&str], env: &[(&str, &str)]) -> String {
    let slot = index.to_string();
    let args = [&["--slot", slot.as_str()], args].concat();
    let env = [env, &[("KEYWARD_SO_PIN", SO_PIN)]].concat();
    common::keyward_cli(&args, &env)
}

fn user_pin(name: &str) -> Vec<u8> {
    format!("{name}-pin-1").into_bytes()
}

/// An AES token key usable for all four operation classes, made by the key manager.
fn all_class_key(s: &Session, acl: &str) -> ObjectHandle {
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(vec![7; 32]),
        Attribute::Token(true),
        Attribute::Label(b"shared".to_vec()),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Derive(true),
        Attribute::VendorDefined((
            AttributeType::VendorDefined(CKA_KW_ACL),
            acl.as_bytes().to_vec(),
        )),
    ])
    .expect("the key manager creates a key")
}

/// Try each operation class with `key`; the error of each (sign, encrypt, wrap, derive),
/// None for success.
fn classes(s: &Session, key: ObjectHandle) -> [Option<RvError>; 4] {
    let rv = |r: cryptoki::error::Result<()>| r.err().map(|e| common::rv_of(&e));
    let sign = rv(s.sign(&Mechanism::AesCMac, key, b"m").map(drop));
    let encrypt = rv(s
        .encrypt(&Mechanism::AesCbcPad([0; 16]), key, b"m")
        .map(drop));
    let target = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![9; 16]),
            Attribute::Extractable(true),
            Attribute::Sensitive(false),
        ])
        .ok();
    let wrap = match target {
        Some(t) => rv(s.wrap_key(&Mechanism::AesKeyWrap, key, t).map(drop)),
        None => Some(RvError::UserNotLoggedIn), // roles that may not even make a session key
    };
    let data = [1u8; 16];
    let derive = rv(s
        .derive_key(
            &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &data)),
            key,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::ValueLen(16.into()),
            ],
        )
        .map(drop));
    [sign, encrypt, wrap, derive]
}

const OK4: [Option<RvError>; 4] = [None; 4];
const DENIED4: [Option<RvError>; 4] = [Some(RvError::KeyFunctionNotPermitted); 4];

/// Every role against every operation class and every kind of object write.
#[test]
fn role_matrix() {
    let (slot, _) = token_with_users("roles");
    let s = common::p11().open_rw_session(slot).unwrap();
    assert_eq!(login_user(&s, CKU_USER, "km", &user_pin("km")), CKR_OK);
    let key = all_class_key(&s, "");
    // Key manager: manages (create above, set below), never uses.
    assert_eq!(classes(&s, key), DENIED4, "key-manager");
    s.update_attributes(key, &[Attribute::Label(b"renamed".to_vec())])
        .expect("the key manager changes a key");
    s.logout().unwrap();

    // Operator: uses, never manages token objects.
    assert_eq!(login_user(&s, CKU_USER, "op", &user_pin("op")), CKR_OK);
    assert_eq!(classes(&s, key), OK4, "operator");
    assert_rv(s.destroy_object(key), RvError::ActionProhibited);
    assert_rv(
        s.update_attributes(
            key,
            &[Attribute::VendorDefined((
                AttributeType::VendorDefined(CKA_KW_STATE),
                3u64.to_ne_bytes().to_vec(),
            ))],
        ),
        RvError::ActionProhibited,
    );
    assert_rv(
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![1; 16]),
            Attribute::Token(true),
        ]),
        RvError::UserNotLoggedIn,
    );
    s.logout().unwrap();

    // Auditor: reads metadata, nothing else.
    assert_eq!(login_user(&s, CKU_USER, "aud", &user_pin("aud")), CKR_OK);
    assert_eq!(
        s.find_objects(&[Attribute::Label(b"renamed".to_vec())])
            .unwrap(),
        vec![key],
        "the auditor sees the key"
    );
    assert_eq!(
        classes(&s, key),
        [
            Some(RvError::KeyFunctionNotPermitted),
            Some(RvError::KeyFunctionNotPermitted),
            Some(RvError::UserNotLoggedIn),
            Some(RvError::KeyFunctionNotPermitted)
        ],
        "auditor"
    );
    assert_rv(s.destroy_object(key), RvError::ActionProhibited);
    s.logout().unwrap();

    // Named admin (CKU_SO): users and settings only; private keys are out of its sight.
    assert_eq!(login_user(&s, CKU_SO, "adm", &user_pin("adm")), CKR_OK);
    assert_rv(
        s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![1; 16]),
            Attribute::Private(false),
        ]),
        RvError::UserNotLoggedIn,
    );
    s.logout().unwrap();

    // The default user of plain C_Login does both, as in any soft token.
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(classes(&s, key), OK4, "default user");
    s.destroy_object(key).expect("the default user destroys");
}

/// A key's ACL decides which operators may use it for which class; only key managers set it.
#[test]
fn acls_are_enforced_and_only_key_managers_set_them() {
    let (slot, _) = token_with_users("acl");
    let s = common::p11().open_rw_session(slot).unwrap();
    assert_eq!(login_user(&s, CKU_USER, "km", &user_pin("km")), CKR_OK);
    let key = all_class_key(&s, "user:op=sign;role:operator=encrypt");
    assert_rv(
        s.update_attributes(
            key,
            &[Attribute::VendorDefined((
                AttributeType::VendorDefined(CKA_KW_ACL),
                b"user:=sign".to_vec(),
            ))],
        ),
        RvError::AttributeValueInvalid,
    );
    s.logout().unwrap();

    assert_eq!(login_user(&s, CKU_USER, "op", &user_pin("op")), CKR_OK);
    let [sign, encrypt, wrap, derive] = classes(&s, key);
    assert_eq!((sign, encrypt), (None, None));
    let denied = Some(RvError::KeyFunctionNotPermitted);
    assert_eq!((wrap, derive), (denied, denied));
    assert_rv(
        s.update_attributes(
            key,
            &[Attribute::VendorDefined((
                AttributeType::VendorDefined(CKA_KW_ACL),
                b"*=*".to_vec(),
            ))],
        ),
        RvError::ActionProhibited,
    );
    // A session copy does not escape the original's ACL.
    let copy = s.copy_object(key, &[Attribute::Token(false)]).unwrap();
    assert_rv(
        s.wrap_key(&Mechanism::AesKeyWrap, copy, copy).map(drop),
        RvError::KeyFunctionNotPermitted,
    );
    s.logout().unwrap();

    assert_eq!(login_user(&s, CKU_USER, "op2", &user_pin("op2")), CKR_OK);
    let [sign, encrypt, ..] = classes(&s, key);
    assert_eq!(
        (sign, encrypt),
        (Some(RvError::KeyFunctionNotPermitted), None)
    );
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(classes(&s, key), DENIED4, "the ACL names no default user");
}

/// Wrong PINs lock a named user (even the right PIN is then refused) until an admin unlocks
/// it; unknown names look like wrong PINs; a right PIN with the wrong user type is refused.
#[test]
fn lockout_unlock_and_user_types() {
    let (slot, index) = token_with_users("lockout");
    let s = common::p11().open_rw_session(slot).unwrap();
    assert_eq!(
        login_user(&s, CKU_USER, "nobody", b"whatever"),
        CKR_PIN_INCORRECT
    );
    assert_eq!(
        login_user(&s, CKU_SO, "op", &user_pin("op")),
        CKR_USER_TYPE_INVALID
    );
    for _ in 0..common::MAX_RETRIES {
        assert_eq!(
            login_user(&s, CKU_USER, "op", b"wrong-pin"),
            CKR_PIN_INCORRECT
        );
    }
    assert_eq!(
        login_user(&s, CKU_USER, "op", &user_pin("op")),
        CKR_PIN_LOCKED
    );
    assert_eq!(
        login_user(&s, CKU_USER, "op2", &user_pin("op2")),
        CKR_OK,
        "others unaffected"
    );
    s.logout().unwrap();
    admin(index, &["user", "unlock", "op"], &[]);
    assert_eq!(login_user(&s, CKU_USER, "op", &user_pin("op")), CKR_OK);
    // A named user changes their own PIN with C_SetPIN.
    s.set_pin(&pin("op-pin-1"), &pin("op-pin-2")).unwrap();
    s.logout().unwrap();
    assert_eq!(
        login_user(&s, CKU_USER, "op", b"op-pin-1"),
        CKR_PIN_INCORRECT
    );
    assert_eq!(login_user(&s, CKU_USER, "op", b"op-pin-2"), CKR_OK);
    s.logout().unwrap();
    // Removing a user removes its wrap: its PIN opens nothing any more.
    let list = admin(index, &["user", "list", "--json"], &[]);
    assert!(list.contains("\"op\""), "{list}");
    admin(index, &["user", "remove", "op"], &[]);
    let list = admin(index, &["user", "list", "--json"], &[]);
    assert!(!list.contains("\"op\""), "{list}");
    assert_eq!(
        login_user(&s, CKU_USER, "op", b"op-pin-2"),
        CKR_PIN_INCORRECT
    );
}

/// With TOTP enrolled, the PIN alone is refused, PIN + current code works, and a code is
/// good only once.
#[test]
fn totp_second_factor() {
    let (slot, index) = token_with_users("totp");
    let out = admin(index, &["user", "mfa", "enable", "op"], &[]);
    let secret = out
        .split("secret=")
        .nth(1)
        .and_then(|r| r.split('&').next())
        .expect("the otpauth URI names the secret");
    let secret = data_encoding::BASE32_NOPAD
        .decode(secret.as_bytes())
        .unwrap();
    let s = common::p11().open_rw_session(slot).unwrap();
    assert_eq!(
        login_user(&s, CKU_USER, "op", &user_pin("op")),
        CKR_PIN_INCORRECT
    );
    let now = keyward::policy::lifecycle::now_seconds();
    let code = keyward::crypto::totp::code(&secret, now / 30).unwrap();
    let wrong = (code + 1) % 1_000_000;
    let with = |c: u32| [user_pin("op"), format!("{c:06}").into_bytes()].concat();
    assert_eq!(
        login_user(&s, CKU_USER, "op", &with(wrong)),
        CKR_PIN_INCORRECT
    );
    assert_eq!(login_user(&s, CKU_USER, "op", &with(code)), CKR_OK);
    s.logout().unwrap();
    assert_eq!(
        login_user(&s, CKU_USER, "op", &with(code)),
        CKR_PIN_INCORRECT,
        "a code is accepted once"
    );
}

/// The role column of a user is in clear in the database, but bound into the user's PIN
/// wrap: an operator promoted to admin by editing the file can no longer log in at all.
#[test]
fn an_edited_role_opens_nothing() {
    let (slot, index) = token_with_users("edited role");
    let s = common::p11().open_rw_session(slot).unwrap();
    assert_eq!(login_user(&s, CKU_USER, "op", &user_pin("op")), CKR_OK);
    s.logout().unwrap();
    let db = common::slot_dir(index).join("token.db");
    // From another process: a second SQLite copy in this one would break the module's locks.
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); \
             c.execute(\"UPDATE users SET role='admin' WHERE name='op'\"); c.commit()",
        ])
        .arg(&db)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        login_user(&s, CKU_SO, "op", &user_pin("op")),
        CKR_PIN_INCORRECT
    );
    assert_eq!(
        login_user(&s, CKU_USER, "op", &user_pin("op")),
        CKR_PIN_INCORRECT
    );
}
