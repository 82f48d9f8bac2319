//! The persistent store seen from outside: no key material on disk in the clear, token
//! objects that survive the process, several processes sharing one token, and fork().
//!
//! Child processes re-run this test binary with `--exact <child test>`; the child tests are
//! no-ops unless `KEYWARD_TEST_ROLE` names them, and they load the module themselves with the
//! parent's configuration file (never through `common::p11()`, which would make a new one).
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use aws_lc_rs::encoding::{AsBigEndian, AsDer};
use aws_lc_rs::signature::{self as lc_sig, KeyPair as _};
use common::child::{child_context, child_role, load_module, run_child};
use common::{assert_rv, p11, pin, USER_PIN};
use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;

const P256_PARAMS: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const NEW_USER_PIN: &str = "user-secret-from-child";
const BLOCK: [u8; 16] = *b"sixteen byte blk";

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// The tests of this binary run one at a time: fork() must not copy a lock another thread
/// holds inside the module, and child processes should not race the parent's other tests.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A claimed and initialised token: its slot and index in the configuration.
fn token() -> (Slot, usize) {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, &format!("store {index}"));
    (slot, index)
}

fn login(session: &Session, user_pin: &str) -> cryptoki::error::Result<()> {
    session.login(UserType::User, Some(&pin(user_pin)))
}

fn user_session_on(p: &Pkcs11, slot: Slot) -> Session {
    let session = p.open_rw_session(slot).expect("C_OpenSession");
    login(&session, USER_PIN).expect("user login");
    session
}

fn label(text: &str) -> Attribute {
    Attribute::Label(text.as_bytes().to_vec())
}

fn find_one(session: &Session, name: &str) -> ObjectHandle {
    let found = session.find_objects(&[label(name)]).expect("C_FindObjects");
    assert_eq!(found.len(), 1, "exactly one object labelled {name:?}");
    found[0]
}

fn read(session: &Session, object: ObjectHandle, ty: AttributeType) -> Attribute {
    let mut attrs = session
        .get_attributes(object, &[ty])
        .expect("C_GetAttributeValue");
    assert_eq!(attrs.len(), 1, "{ty:?} is readable");
    attrs.remove(0)
}

fn token_data(session: &Session, name: &str, private: bool, value: &[u8]) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::DATA),
            Attribute::Token(true),
            Attribute::Private(private),
            label(name),
            Attribute::Value(value.to_vec()),
        ])
        .expect("C_CreateObject")
}

fn token_aes(session: &Session, name: &str, key: &[u8]) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::Encrypt(true),
            label(name),
            Attribute::Value(key.to_vec()),
        ])
        .expect("C_CreateObject AES")
}

fn encrypt_block(session: &Session, key: ObjectHandle) -> Vec<u8> {
    session
        .encrypt(&Mechanism::AesEcb, key, &BLOCK)
        .expect("C_Encrypt")
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut b = vec![0; n];
    aws_lc_rs::rand::fill(&mut b).expect("random");
    b
}

fn hex(bytes: &[u8], upper: bool) -> Vec<u8> {
    bytes
        .iter()
        .flat_map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
            .into_bytes()
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// (a) No plaintext key material on disk
// ---------------------------------------------------------------------------------------------

/// One DER TLV: (tag, contents, rest). Enough for PKCS#8 RSA keys.
fn der(input: &[u8]) -> (u8, &[u8], &[u8]) {
    let tag = input[0];
    let (len, header) = match input[1] {
        short if short < 0x80 => (short as usize, 2),
        long => {
            let n = (long & 0x7f) as usize;
            let len = input[2..2 + n]
                .iter()
                .fold(0usize, |acc, b| acc << 8 | *b as usize);
            (len, 2 + n)
        }
    };
    (tag, &input[header..header + len], &input[header + len..])
}

/// The INTEGERs of the RSAPrivateKey inside a PKCS#8 document, without leading zero bytes:
/// [version, n, e, d, p, q, dp, dq, qinv].
fn rsa_integers(pkcs8: &[u8]) -> Vec<Vec<u8>> {
    let (_, info, _) = der(pkcs8);
    let (_, _version, rest) = der(info);
    let (_, _algorithm, rest) = der(rest);
    let (_, octets, _) = der(rest);
    let (_, mut body, _) = der(octets);
    let mut ints = Vec::new();
    while !body.is_empty() {
        let (tag, value, rest) = der(body);
        assert_eq!(tag, 0x02, "INTEGER");
        let skip = value.iter().take_while(|b| **b == 0).count();
        ints.push(value[skip..].to_vec());
        body = rest;
    }
    assert_eq!(ints.len(), 9, "RSAPrivateKey has nine integers");
    ints
}

/// Import the RSA key `ints` (see [`rsa_integers`]) as a token private key.
fn import_rsa(session: &Session, ints: &[Vec<u8>]) -> ObjectHandle {
    let [_, n, e, d, p, q, dp, dq, qinv] = ints else {
        panic!("nine integers");
    };
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            label("rsa at rest"),
            Attribute::Modulus(n.clone()),
            Attribute::PublicExponent(e.clone()),
            Attribute::PrivateExponent(d.clone()),
            Attribute::Prime1(p.clone()),
            Attribute::Prime2(q.clone()),
            Attribute::Exponent1(dp.clone()),
            Attribute::Exponent2(dq.clone()),
            Attribute::Coefficient(qinv.clone()),
        ])
        .expect("C_CreateObject RSA")
}

fn import_ec(session: &Session, scalar: &[u8]) -> ObjectHandle {
    session
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::Sign(true),
            label("ec at rest"),
            Attribute::EcParams(P256_PARAMS.to_vec()),
            Attribute::Value(scalar.to_vec()),
        ])
        .expect("C_CreateObject EC")
}

/// Every regular file below `dir`, with its contents.
fn read_tree(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read_dir") {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            out.extend(read_tree(&path));
        } else {
            let bytes = std::fs::read(&path).expect("read store file");
            out.push((path, bytes));
        }
    }
    out
}

/// The files (and the encoding: raw, hex, HEX) in which `needle` occurs.
fn occurrences(files: &[(PathBuf, Vec<u8>)], needle: &[u8]) -> Vec<String> {
    let encodings = [
        ("raw", needle.to_vec()),
        ("hex", hex(needle, false)),
        ("HEX", hex(needle, true)),
    ];
    let mut hits = Vec::new();
    for (path, bytes) in files {
        for (name, pattern) in &encodings {
            if bytes
                .windows(pattern.len())
                .any(|w| w == pattern.as_slice())
            {
                hits.push(format!("{} ({name})", path.display()));
            }
        }
    }
    hits
}

#[test]
fn no_key_material_is_stored_in_the_clear() {
    let _serial = serial();
    let (slot, index) = token();
    let session = user_session_on(p11(), slot);

    let aes_key = random_bytes(32);
    let aes = token_aes(&session, "aes at rest", &aes_key);

    let rsa_pair = lc_sig::RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).expect("RSA");
    let pkcs8 = rsa_pair.as_der().expect("PKCS#8");
    let ints = rsa_integers(pkcs8.as_ref());
    let rsa = import_rsa(&session, &ints);

    let ec_pair =
        lc_sig::EcdsaKeyPair::generate(&lc_sig::ECDSA_P256_SHA256_ASN1_SIGNING).expect("P-256");
    let scalar = ec_pair.private_key().as_be_bytes().expect("scalar");
    let ec = import_ec(&session, scalar.as_ref());

    // Use every key once so any cache is warm, and check the imports are the real keys.
    assert_eq!(encrypt_block(&session, aes).len(), 16);
    let signature = session
        .sign(&Mechanism::Sha256RsaPkcs, rsa, b"at rest")
        .expect("C_Sign RSA");
    lc_sig::UnparsedPublicKey::new(
        &lc_sig::RSA_PKCS1_2048_8192_SHA256,
        rsa_pair.public_key().as_ref(),
    )
    .verify(b"at rest", &signature)
    .expect("the imported RSA key is the generated one");
    session
        .sign(&Mechanism::EcdsaSha256, ec, b"at rest")
        .expect("C_Sign EC");
    session
        .update_attributes(aes, &[label("aes at rest, renamed")])
        .expect("rewrite the sealed record");

    // Markers in public attributes prove the scan reads what the token writes.
    let marker = format!(
        "clear-marker-{}",
        String::from_utf8(hex(&random_bytes(8), false)).unwrap()
    );
    let hex_secret = random_bytes(12);
    token_data(&session, &marker, false, &hex(&hex_secret, false));

    let files = read_tree(&common::slot_dir(index));
    assert!(!files.is_empty(), "the token directory holds files");
    assert!(
        !occurrences(&files, marker.as_bytes()).is_empty(),
        "the public label is found: the scan works"
    );
    assert!(
        occurrences(&files, &hex_secret)
            .iter()
            .any(|h| h.ends_with("(hex)")),
        "hex-encoded bytes are found too"
    );
    let secrets = [
        ("AES key", aes_key.as_slice()),
        ("RSA private exponent", &ints[3]),
        ("RSA prime p", &ints[4]),
        ("RSA prime q", &ints[5]),
        ("RSA exponent dp", &ints[6]),
        ("RSA exponent dq", &ints[7]),
        ("RSA coefficient", &ints[8]),
        ("EC scalar", scalar.as_ref()),
        ("user PIN", USER_PIN.as_bytes()),
        ("SO PIN", common::SO_PIN.as_bytes()),
    ];
    let leaks: HashMap<&str, Vec<String>> = secrets
        .iter()
        .map(|(name, bytes)| (*name, occurrences(&files, bytes)))
        .filter(|(_, hits)| !hits.is_empty())
        .collect();
    assert!(leaks.is_empty(), "key material on disk: {leaks:?}");
}

// ---------------------------------------------------------------------------------------------
// (b) Token objects outlive the process
// ---------------------------------------------------------------------------------------------

#[test]
fn token_objects_persist_into_a_new_process() {
    let _serial = serial();
    let (slot, index) = token();
    let session = user_session_on(p11(), slot);
    token_data(&session, "persisted public", false, b"public value");
    token_data(&session, "persisted private", true, b"private value");
    let key = token_aes(&session, "persisted key", &random_bytes(16));
    let ciphertext = String::from_utf8(hex(&encrypt_block(&session, key), false)).unwrap();
    session.close().expect("C_CloseSession");
    run_child("child_persistence", "persistence", index, &ciphertext);
}

#[test]
fn child_persistence() {
    let Some((p, slot, ciphertext)) = child_context("persistence") else {
        return;
    };
    let session = p.open_rw_session(slot).expect("C_OpenSession");
    let public = find_one(&session, "persisted public");
    assert_eq!(
        read(&session, public, AttributeType::Value),
        Attribute::Value(b"public value".to_vec())
    );
    assert!(session
        .find_objects(&[label("persisted private")])
        .expect("C_FindObjects")
        .is_empty());
    login(&session, USER_PIN).expect("user login");
    let private = find_one(&session, "persisted private");
    assert_eq!(
        read(&session, private, AttributeType::Value),
        Attribute::Value(b"private value".to_vec())
    );
    assert_eq!(
        read(&session, private, AttributeType::Private),
        Attribute::Private(true)
    );
    let key = find_one(&session, "persisted key");
    assert_eq!(
        read(&session, key, AttributeType::Token),
        Attribute::Token(true)
    );
    assert_eq!(
        String::from_utf8(hex(&encrypt_block(&session, key), false)).unwrap(),
        ciphertext,
        "the key encrypts as it did in the parent"
    );
}

// ---------------------------------------------------------------------------------------------
// (c) Several processes on one token
// ---------------------------------------------------------------------------------------------

#[test]
fn processes_share_objects_and_pin_changes() {
    let _serial = serial();
    let (slot, index) = token();
    let session = user_session_on(p11(), slot);
    token_data(&session, "from parent", true, b"parent value");
    run_child("child_multi_process", "multi", index, "");

    let child_object = find_one(&session, "from child");
    assert_eq!(
        read(&session, child_object, AttributeType::Value),
        Attribute::Value(b"child value".to_vec())
    );
    session.logout().expect("C_Logout");
    assert_rv(login(&session, USER_PIN), RvError::PinIncorrect);
    login(&session, NEW_USER_PIN).expect("the PIN the child set works here");
}

#[test]
fn child_multi_process() {
    let Some((p, slot, _)) = child_context("multi") else {
        return;
    };
    let session = user_session_on(&p, slot);
    let parent_object = find_one(&session, "from parent");
    assert_eq!(
        read(&session, parent_object, AttributeType::Value),
        Attribute::Value(b"parent value".to_vec())
    );
    token_data(&session, "from child", true, b"child value");
    session
        .set_pin(&pin(USER_PIN), &pin(NEW_USER_PIN))
        .expect("C_SetPIN");
}

// ---------------------------------------------------------------------------------------------
// (d) fork()
// ---------------------------------------------------------------------------------------------

fn ec_token_pair(session: &Session) {
    session
        .generate_key_pair(
            &Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(true),
                Attribute::EcParams(P256_PARAMS.to_vec()),
                Attribute::Verify(true),
                label("fork public"),
            ],
            &[
                Attribute::Token(true),
                Attribute::Sign(true),
                label("fork private"),
            ],
        )
        .expect("C_GenerateKeyPair");
}

fn sign_and_verify(session: &Session) -> cryptoki::error::Result<()> {
    let private = find_one(session, "fork private");
    let public = find_one(session, "fork public");
    let signature = session.sign(&Mechanism::EcdsaSha256, private, b"forked")?;
    session.verify(&Mechanism::EcdsaSha256, public, b"forked", &signature)
}

/// The forked child: a fresh C_Initialize, a login and a signature.
fn forked_child(index: usize) -> Result<(), String> {
    let p = Pkcs11::new(common::module_path()).map_err(|e| format!("load: {e}"))?;
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .map_err(|e| format!("C_Initialize in the child: {e}"))?;
    let slot = p.get_all_slots().map_err(|e| e.to_string())?[index];
    let session = p.open_rw_session(slot).map_err(|e| e.to_string())?;
    login(&session, USER_PIN).map_err(|e| format!("login: {e}"))?;
    sign_and_verify(&session).map_err(|e| format!("sign: {e}"))
}

#[test]
fn a_forked_child_initialises_again_and_signs() {
    let _serial = serial();
    let (slot, index) = token();
    let session = user_session_on(p11(), slot);
    ec_token_pair(&session);
    sign_and_verify(&session).expect("sign before fork");

    // SAFETY: the child only calls the module and async-signal-safe exits; this binary's
    // other tests wait on `serial()`, so no thread holds a lock inside the module.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        let outcome = std::panic::catch_unwind(|| forked_child(index))
            .unwrap_or_else(|_| Err("panic".into()));
        let code = match outcome {
            Ok(()) => 0,
            Err(message) => {
                use std::io::Write;
                let _ = writeln!(std::io::stderr(), "forked child: {message}");
                1
            }
        };
        // SAFETY: leave without running the parent's destructors or test harness.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waiting for our own child.
    let waited = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(waited, pid, "waitpid");
    assert!(
        libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "the forked child failed (status 0x{status:x})"
    );
    sign_and_verify(&session).expect("the parent still works after the fork");
    let again = p11()
        .open_rw_session(slot)
        .expect("C_OpenSession after fork");
    sign_and_verify(&again).expect("a new parent session works too");
}

// ---------------------------------------------------------------------------------------------
// (e) C_Finalize, then unloading the module
// ---------------------------------------------------------------------------------------------

/// An application may C_Finalize and dlclose the module, then carry on: the threads that
/// called it must be able to exit afterwards.
#[test]
fn the_module_can_be_unloaded_after_finalize() {
    let _serial = serial();
    let (_, index) = token();
    run_child("child_unload", "unload", index, "");
}

#[test]
fn child_unload() {
    let Some((index, _)) = child_role("unload") else {
        return;
    };
    let worker = std::thread::spawn(move || {
        let (p, slot) = load_module(index);
        let session = p.open_ro_session(slot).expect("C_OpenSession");
        assert_eq!(session.generate_random_vec(32).expect("random").len(), 32);
        session.close().expect("C_CloseSession");
        p.finalize().expect("C_Finalize"); // and dlclose: the last reference is gone
    });
    worker.join().expect("the worker thread exits cleanly");
}
