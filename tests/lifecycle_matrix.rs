//! The lifecycle as tables, through plain PKCS#11 (C_SetAttributeValue of CKA_KW_STATE and
//! each operation's C_*Init): every (from, to) pair of the six states against the state
//! machine of docs/lifecycle.md, and every operation class — sign, verify, encrypt, decrypt,
//! wrap, unwrap, derive — in every state, on a slot with the default policy and on the slot
//! with `allow_compromised_processing = true` (also after a revocation by the CLI).
mod common;

use cryptoki::error::RvError;
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::CK_ULONG;

use common::{assert_rv, pin, rv_of, user_session, USER_PIN};

/// Mirrors of include/keyward.h.
const CKA_KW_STATE: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x01;
const PRE_ACTIVE: CK_ULONG = 1;
const ACTIVE: CK_ULONG = 2;
const SUSPENDED: CK_ULONG = 3;
const DEACTIVATED: CK_ULONG = 4;
const COMPROMISED: CK_ULONG = 5;
const DESTROYED: CK_ULONG = 6;
const STATES: [CK_ULONG; 6] = [
    PRE_ACTIVE,
    ACTIVE,
    SUSPENDED,
    DEACTIVATED,
    COMPROMISED,
    DESTROYED,
];

/// The transitions docs/lifecycle.md draws between live states.
const DRAWN: [(CK_ULONG, CK_ULONG); 10] = [
    (PRE_ACTIVE, ACTIVE),
    (PRE_ACTIVE, DEACTIVATED),
    (PRE_ACTIVE, COMPROMISED),
    (ACTIVE, SUSPENDED),
    (ACTIVE, DEACTIVATED),
    (ACTIVE, COMPROMISED),
    (SUSPENDED, ACTIVE),
    (SUSPENDED, DEACTIVATED),
    (SUSPENDED, COMPROMISED),
    (DEACTIVATED, COMPROMISED),
];

fn vendor(ty: CK_ULONG, v: CK_ULONG) -> Attribute {
    Attribute::VendorDefined((AttributeType::VendorDefined(ty), v.to_ne_bytes().to_vec()))
}

fn state(s: &Session, key: ObjectHandle) -> CK_ULONG {
    match s
        .get_attributes(key, &[AttributeType::VendorDefined(CKA_KW_STATE)])
        .unwrap()
        .as_slice()
    {
        [Attribute::VendorDefined((_, v))] => CK_ULONG::from_ne_bytes(v[..8].try_into().unwrap()),
        other => panic!("CKA_KW_STATE: {other:?}"),
    }
}

fn set_state(s: &Session, key: ObjectHandle, to: CK_ULONG) -> cryptoki::error::Result<()> {
    s.update_attributes(key, &[vendor(CKA_KW_STATE, to)])
}

/// Bring a key made active (or pre-active) to `target` along drawn transitions.
fn bring_to(s: &Session, key: ObjectHandle, target: CK_ULONG) {
    if !matches!(target, PRE_ACTIVE | ACTIVE) {
        set_state(s, key, target).expect("a drawn transition");
    }
    assert_eq!(state(s, key), target);
}

/// The initial state attribute for a key that should end up in `target`.
fn born(target: CK_ULONG) -> Vec<Attribute> {
    match target {
        PRE_ACTIVE => vec![vendor(CKA_KW_STATE, PRE_ACTIVE)],
        _ => vec![],
    }
}

const AES_VALUE: [u8; 32] = [7; 32];

/// An AES key able to do all seven operation classes, with `extra` attributes.
fn aes_key(s: &Session, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Value(AES_VALUE.to_vec()),
        Attribute::Sign(true),
        Attribute::Verify(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::Wrap(true),
        Attribute::Unwrap(true),
        Attribute::Derive(true),
    ];
    t.extend_from_slice(extra);
    s.create_object(&t).expect("create AES key")
}

#[test]
fn every_pair_of_states_follows_the_state_machine() {
    let s = user_session();
    for from in STATES {
        for to in STATES {
            let key = aes_key(&s, &born(from.min(COMPROMISED)));
            if from == DESTROYED {
                s.destroy_object(key).unwrap();
                assert_rv(set_state(&s, key, to), RvError::ObjectHandleInvalid);
                continue;
            }
            bring_to(&s, key, from);
            let legal = (from == to && to != DESTROYED) || DRAWN.contains(&(from, to));
            match set_state(&s, key, to) {
                Ok(()) => assert!(legal, "{from} -> {to} was accepted"),
                Err(e) => {
                    assert!(!legal, "{from} -> {to} was refused: {e}");
                    assert_eq!(rv_of(&e), RvError::AttributeValueInvalid, "{from} -> {to}");
                }
            }
            let now = state(&s, key);
            assert_eq!(now, if legal { to } else { from }, "{from} -> {to}");
        }
    }
    let key = aes_key(&s, &[]);
    for bad in [0, 7, 0x8000_0000] {
        assert_rv(set_state(&s, key, bad), RvError::AttributeValueInvalid);
    }
}

/// The operation classes, in the order of [`OPS`].
const OPS: [&str; 7] = [
    "sign", "verify", "encrypt", "decrypt", "wrap", "unwrap", "derive",
];
const PROTECT: [bool; 7] = [true, false, true, false, true, false, true];

/// What an operation class needs beyond the key: data protected while the key was active.
struct Protected {
    tag: Vec<u8>,
    ciphertext: Vec<u8>,
    wrapped: Vec<u8>,
    target: ObjectHandle,
}

const MSG: &[u8] = b"lifecycle matrix";
const IV: [u8; 16] = [3; 16];

fn protected_by_an_active_twin(s: &Session) -> Protected {
    let twin = aes_key(s, &[]);
    let target = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![9; 16]),
            Attribute::Extractable(true),
        ])
        .unwrap();
    Protected {
        tag: s.sign(&Mechanism::AesCMac, twin, MSG).unwrap(),
        ciphertext: s.encrypt(&Mechanism::AesCbcPad(IV), twin, MSG).unwrap(),
        wrapped: s.wrap_key(&Mechanism::AesKeyWrap, twin, target).unwrap(),
        target,
    }
}

/// Run operation class `op` with `key`: Ok, or the CKR code it failed with.
fn run(s: &Session, key: ObjectHandle, op: &str, data: &Protected) -> Result<(), RvError> {
    let made = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
    ];
    let block = [5u8; 16];
    let r = match op {
        "sign" => s.sign(&Mechanism::AesCMac, key, MSG).map(drop),
        "verify" => s.verify(&Mechanism::AesCMac, key, MSG, &data.tag),
        "encrypt" => s.encrypt(&Mechanism::AesCbcPad(IV), key, MSG).map(drop),
        "decrypt" => s
            .decrypt(&Mechanism::AesCbcPad(IV), key, &data.ciphertext)
            .map(|pt| assert_eq!(pt, MSG)),
        "wrap" => s
            .wrap_key(&Mechanism::AesKeyWrap, key, data.target)
            .map(drop),
        "unwrap" => s
            .unwrap_key(&Mechanism::AesKeyWrap, key, &data.wrapped, &made)
            .map(drop),
        "derive" => s
            .derive_key(
                &Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new([0; 16], &block)),
                key,
                &made,
            )
            .map(drop),
        other => panic!("unknown operation {other}"),
    };
    r.map_err(|e| rv_of(&e))
}

/// Every operation class with an AES key in each live state; `compromised_processing` is the
/// slot's policy. Refusals are CKR_KEY_FUNCTION_NOT_PERMITTED.
fn check_operations(s: &Session, compromised_processing: bool) {
    let data = protected_by_an_active_twin(s);
    for st in [PRE_ACTIVE, ACTIVE, SUSPENDED, DEACTIVATED, COMPROMISED] {
        let key = aes_key(s, &born(st));
        bring_to(s, key, st);
        for (op, protect) in OPS.iter().zip(PROTECT) {
            let allowed = match (st, protect) {
                (ACTIVE, _) => true,
                (SUSPENDED | DEACTIVATED, false) => true,
                (COMPROMISED, false) => compromised_processing,
                _ => false,
            };
            let expected = if allowed {
                Ok(())
            } else {
                Err(RvError::KeyFunctionNotPermitted)
            };
            assert_eq!(run(s, key, op, &data), expected, "{op} in state {st}");
        }
    }
}

#[test]
fn each_operation_class_in_each_state() {
    check_operations(&user_session(), false);
}

/// The slot whose policy lets a compromised key process (never protect).
fn compromised_processing_session() -> (Session, usize) {
    let index = common::COMPROMISED_SLOT;
    let slot = common::p11().get_all_slots().unwrap()[index];
    common::init_token(slot, "compromised processing");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    (s, index)
}

/// On the slot with `allow_compromised_processing = true`: the same table, except that a
/// compromised key verifies, decrypts and unwraps; and a token key revoked for key compromise
/// by the CLI (another process) still decrypts in this one, and still signs nothing.
#[test]
fn a_slot_that_allows_compromised_processing() {
    let (s, index) = compromised_processing_session();
    check_operations(&s, true);

    let data = protected_by_an_active_twin(&s);
    let key = aes_key(
        &s,
        &[Attribute::Token(true), Attribute::Label(b"leaked".to_vec())],
    );
    run(&s, key, "sign", &data).unwrap();
    let slot = index.to_string();
    common::keyward_cli(
        &[
            "--slot",
            &slot,
            "key",
            "revoke",
            "pkcs11:object=leaked",
            "--reason",
            "key-compromise",
        ],
        &[("KEYWARD_PIN", USER_PIN)],
    );
    assert_eq!(state(&s, key), COMPROMISED);
    for (op, protect) in OPS.iter().zip(PROTECT) {
        let expected = if protect {
            Err(RvError::KeyFunctionNotPermitted)
        } else {
            Ok(())
        };
        assert_eq!(
            run(&s, key, op, &data),
            expected,
            "{op} after the CLI's revocation"
        );
    }
}

const P256: &str = "06082a8648ce3d030107";

/// The asymmetric side of the table: ECDSA sign and ECDH derive with a private key, verify
/// with a public key, in each live state (process on a compromised key refused).
#[test]
fn ec_keys_sign_verify_and_derive_by_state() {
    let s = user_session();
    let (ref_public, ref_private) = s
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[Attribute::EcParams(common::hex(P256))],
            &[Attribute::Sign(true)],
        )
        .unwrap();
    let signature = s.sign(&Mechanism::EcdsaSha256, ref_private, MSG).unwrap();
    let point = match s
        .get_attributes(ref_public, &[AttributeType::EcPoint])
        .unwrap()
        .as_slice()
    {
        [Attribute::EcPoint(p)] => p.clone(),
        other => panic!("CKA_EC_POINT: {other:?}"),
    };
    let raw_point = point[2..].to_vec();
    for st in [PRE_ACTIVE, ACTIVE, SUSPENDED, DEACTIVATED, COMPROMISED] {
        let mut private_t = vec![Attribute::Sign(true), Attribute::Derive(true)];
        private_t.extend(born(st));
        let (_, private) = s
            .generate_key_pair(
                &Mechanism::EccKeyPairGen,
                &[Attribute::EcParams(common::hex(P256))],
                &private_t,
            )
            .unwrap();
        bring_to(&s, private, st);
        let mut public_t = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(common::hex(P256)),
            Attribute::EcPoint(point.clone()),
            Attribute::Verify(true),
        ];
        public_t.extend(born(st));
        let public = s.create_object(&public_t).unwrap();
        bring_to(&s, public, st);

        let protect_ok = st == ACTIVE;
        let process_ok = matches!(st, ACTIVE | SUSPENDED | DEACTIVATED);
        let outcome = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(RvError::KeyFunctionNotPermitted)
            }
        };
        let sign = s.sign(&Mechanism::EcdsaSha256, private, MSG).map(drop);
        assert_eq!(
            sign.map_err(|e| rv_of(&e)),
            outcome(protect_ok),
            "sign in {st}"
        );
        let ecdh = Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(EcKdf::null(), &raw_point));
        let made = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
        ];
        let derive = s.derive_key(&ecdh, private, &made).map(drop);
        assert_eq!(
            derive.map_err(|e| rv_of(&e)),
            outcome(protect_ok),
            "derive in {st}"
        );
        let verify = s.verify(&Mechanism::EcdsaSha256, public, MSG, &signature);
        assert_eq!(
            verify.map_err(|e| rv_of(&e)),
            outcome(process_ok),
            "verify in {st}"
        );
    }
}
