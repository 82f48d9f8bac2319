//! Secrets leave memory: no copy of the user PIN stays in writable memory after C_Login; a secret key's value, present in this process's memory while the
//! module holds the key decrypted after login (the positive control: the scan does find it),
//! is nowhere in the process's writable memory after C_Logout, and not after
//! C_DestroyObject or C_Finalize either. The value is random, made at run time and zeroized by this test
//! as soon as the module has it, so any copy the scan finds is the module's.
//!
//! The scan sees a dropped copy only until the allocator reuses its memory, so it passed and
//! failed with unrelated code changes while the store's sealing left copies of every secret
//! attribute in freed heap blocks (a growing CBOR buffer, the AEAD buffer growing for its tag).
//! `no_freed_heap_block_holds_key_material` catches that class of leak whatever the heap
//! layout, with an LD_PRELOAD guard (tests/data/free_guard.c) that inspects every freed block.
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

/// Create a token HMAC key (generic secret, CKA_SIGN) with `value` and the `extra`
/// attributes, zeroizing the template's copy of the value once the module has it.
fn create_hmac_key(
    s: &cryptoki::session::Session,
    value: &[u8],
    extra: &[Attribute],
) -> cryptoki::object::ObjectHandle {
    let mut template = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(true),
        Attribute::Sign(true),
    ];
    template.extend_from_slice(extra);
    template.push(Attribute::Value(value.to_vec()));
    let key = s.create_object(&template).unwrap();
    if let Some(Attribute::Value(v)) = template.last_mut() {
        v.zeroize();
    }
    key
}

#[test]
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
    let key = create_hmac_key(&s, &value, &[Attribute::Label(b"zeroize".to_vec())]);
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
    let key = create_hmac_key(&s, &value, &[]);
    value.zeroize();
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

/// What the child writes to the guard's report before its positive control.
const CONTROL_MARK: &str = "--- positive control ---\n";

/// Build tests/data/free_guard.c, the LD_PRELOAD library that reports every heap block freed
/// (or left behind by realloc) while it still holds a given secret.
fn build_free_guard() -> std::path::PathBuf {
    let out = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("free_guard-{}.so", std::process::id()));
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/free_guard.c");
    let status = std::process::Command::new("cc")
        .args(["-O1", "-shared", "-fPIC", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("run cc");
    assert!(status.success(), "cc could not build {}", source.display());
    out
}

/// Unlike the memory scan above, which sees a dropped copy only while no later allocation
/// has reused its memory, this catches every copy of a key's value that the module frees
/// without zeroizing, whatever the heap layout: a child process runs the module under
/// free_guard through creation, use, attribute change, copy, wrap and unwrap, rotation,
/// logout and a fresh login, and destruction. The child then frees an unzeroized copy of
/// its own, which the guard must report (the positive control).
#[test]
fn no_freed_heap_block_holds_key_material() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "free-guard");
    let guard = build_free_guard();
    let report = guard.with_extension("report");
    let _ = std::fs::remove_file(&report);

    let mut value = [0u8; 32];
    common::p11()
        .open_ro_session(slot)
        .unwrap()
        .generate_random_slice(&mut value)
        .unwrap();
    let masked: String = value.iter().map(|b| format!("{:02x}", b ^ MASK)).collect();
    value.zeroize();

    common::child::run_child_env(
        &common::root_dir().join("keyward.toml"),
        "free_guard_child",
        "free-guard",
        index,
        &masked,
        &[
            ("LD_PRELOAD", guard.to_str().unwrap()),
            ("FREE_GUARD_NEEDLE", &masked),
            ("FREE_GUARD_REPORT", report.to_str().unwrap()),
        ],
    );
    let text = std::fs::read_to_string(&report).expect("the guard's report");
    let (module, control) = text
        .split_once(CONTROL_MARK)
        .expect("the child reached its positive control");
    assert!(
        !module.contains("FOUND"),
        "the module freed a copy of the key's value without zeroizing it:\n{module}"
    );
    assert!(
        control.contains("FOUND: free"),
        "positive control: the guard reports a freed copy of the value\n{control}"
    );
}

/// Child of [`no_freed_heap_block_holds_key_material`], run under free_guard.
#[test]
fn free_guard_child() {
    let Some((p11, slot, masked)) = common::child::child_context("free-guard") else {
        return;
    };
    let mut value = Vec::with_capacity(32);
    for i in (0..masked.len()).step_by(2) {
        value.push(u8::from_str_radix(&masked[i..i + 2], 16).unwrap() ^ MASK);
    }
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = create_hmac_key(
        &s,
        &value,
        &[
            Attribute::Extractable(true),
            Attribute::Label(b"guarded".to_vec()),
        ],
    );
    s.sign(&Mechanism::Sha256Hmac, key, b"m").unwrap();
    s.update_attributes(key, &[Attribute::Label(b"guarded, renamed".to_vec())])
        .unwrap();
    let copy = s
        .copy_object(key, &[Attribute::Label(b"guarded copy".to_vec())])
        .unwrap();
    s.sign(&Mechanism::Sha256Hmac, copy, b"m").unwrap();

    let kek = s
        .generate_key(
            &Mechanism::AesKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Wrap(true),
                Attribute::Unwrap(true),
            ],
        )
        .unwrap();
    let wrapped = s.wrap_key(&Mechanism::AesKeyWrap, kek, key).unwrap();
    let unwrapped = s
        .unwrap_key(
            &Mechanism::AesKeyWrap,
            kek,
            &wrapped,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::GENERIC_SECRET),
                Attribute::Token(true),
                Attribute::Sign(true),
            ],
        )
        .unwrap();
    s.sign(&Mechanism::Sha256Hmac, unwrapped, b"m").unwrap();

    let old: cryptoki_sys::CK_ULONG = key.handle();
    let newest = s
        .generate_key(&common::rotate_mechanism(&old), &[])
        .unwrap();
    s.sign(&Mechanism::Sha256Hmac, newest, b"m").unwrap();

    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    // (The copy follows its original's lifecycle and is deactivated with it by the rotation.)
    s.sign(&Mechanism::Sha256Hmac, newest, b"after a new login")
        .unwrap();
    s.sign(&Mechanism::Sha256Hmac, unwrapped, b"after a new login")
        .unwrap();
    for object in [newest, key, copy, unwrapped, kek] {
        s.destroy_object(object).unwrap();
    }
    s.logout().unwrap();

    use std::io::Write;
    let report = std::env::var("FREE_GUARD_REPORT").unwrap();
    std::fs::OpenOptions::new()
        .append(true)
        .open(report)
        .unwrap()
        .write_all(CONTROL_MARK.as_bytes())
        .unwrap();
    drop(std::hint::black_box(value));
}
