//! Concurrency under load: three processes × eight threads on one token, each thread with its
//! own session doing a bounded mix of operations — generate a token key, encrypt and sign with
//! shared keys (one with a usage limit), find by label, set an attribute, rotate, destroy,
//! log in — while a fourth process logs in and out again and again (a login is per process,
//! so a logout inside a worker process would take the others' keys away mid-operation; the
//! cycling process exercises C_Login/C_Logout, the key cache's clearing and their audit
//! records against the same store). Afterwards: no unexpected error anywhere, every key a thread kept is found and every
//! key it destroyed is gone, the shared key's usage counter is exact, the audit chain verifies.
mod common;

use cryptoki::error::{Error as P11Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki_sys::CK_ULONG;

use common::child::{child_context, run_child_output};
use common::{pin, SO_PIN, USER_PIN};

const PROCESSES: usize = 3;
const THREADS: usize = 8;
const ROUNDS: usize = 12;
/// Login-sign-logout cycles of the fourth process.
const CYCLES: usize = 40;
const CKA_KW_USAGE_LIMIT: CK_ULONG = 0x8000_0000 | 0x4B57_0000 | 0x04;

fn find_label(s: &Session, label: &str) -> Vec<ObjectHandle> {
    s.find_objects(&[Attribute::Label(label.as_bytes().to_vec())])
        .unwrap()
}

fn aes_key(s: &Session, label: &str, limit: Option<CK_ULONG>) -> ObjectHandle {
    let mut t = vec![
        Attribute::Token(true),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
        Attribute::ValueLen(32.into()),
        Attribute::Label(label.as_bytes().to_vec()),
    ];
    if let Some(limit) = limit {
        t.push(Attribute::VendorDefined((
            AttributeType::VendorDefined(CKA_KW_USAGE_LIMIT),
            limit.to_ne_bytes().to_vec(),
        )));
    }
    s.generate_key(&Mechanism::AesKeyGen, &t).unwrap()
}

fn cli(index: usize, args: &[&str], env: &[(&str, &str)]) -> String {
    let slot = index.to_string();
    common::keyward_cli(&[&["--slot", slot.as_str()], args].concat(), env)
}

#[test]
fn three_processes_of_eight_threads_lose_nothing() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "stress");
    cli(
        index,
        &["user", "add", "aud", "--role", "auditor"],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", "aud-pin-1")],
    );
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    aes_key(&s, "shared-aes", Some(1_000_000));
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(vec![5; 32]),
        Attribute::Token(true),
        Attribute::Sign(true),
        Attribute::Label(b"shared-hmac".to_vec()),
    ])
    .unwrap();

    let children: Vec<_> = (0..PROCESSES)
        .map(|p| {
            std::thread::spawn(move || {
                run_child_output("child_works", "worker", index, &p.to_string())
            })
        })
        .collect();
    let cycler = std::thread::spawn(move || run_child_output("child_cycles", "cycler", index, ""));
    let outputs: Vec<String> = children.into_iter().map(|c| c.join().unwrap()).collect();
    let cycled = cycler.join().unwrap();
    assert!(
        cycled.lines().any(|l| l == format!("CYCLED {CYCLES}")),
        "the login/logout process finished every cycle: {cycled}"
    );

    let (mut kept, mut gone, mut encryptions) = (Vec::new(), Vec::new(), 0u64);
    for out in &outputs {
        for line in out.lines() {
            if let Some(l) = line.strip_prefix("KEPT ") {
                kept.push(l.to_owned());
            } else if let Some(l) = line.strip_prefix("GONE ") {
                gone.push(l.to_owned());
            } else if let Some(n) = line.strip_prefix("ENCRYPTED ") {
                encryptions += n.parse::<u64>().unwrap();
            }
        }
    }
    assert_eq!(encryptions, (PROCESSES * THREADS * ROUNDS) as u64);
    assert_eq!(kept.len() + gone.len(), PROCESSES * THREADS * ROUNDS);
    for label in &kept {
        assert!(
            !find_label(&s, label).is_empty(),
            "kept key {label} not found"
        );
    }
    for label in &gone {
        assert!(
            find_label(&s, label).is_empty(),
            "destroyed key {label} still there"
        );
    }
    let show = cli(
        index,
        &["key", "show", "pkcs11:object=shared-aes", "--json"],
        &[("KEYWARD_PIN", USER_PIN)],
    );
    let report: serde_json::Value = serde_json::from_str(&show).unwrap();
    assert_eq!(
        report["versions"][0]["uses"], encryptions,
        "the usage counter counts every encryption of every process: {report}"
    );
    cli(
        index,
        &["--user", "aud", "audit", "verify"],
        &[("KEYWARD_PIN", "aud-pin-1")],
    );
}

/// Whether `e` is one of the answers a correct token may give to this mix: a second login
/// in a process already logged in.
fn expected(e: &P11Error) -> bool {
    matches!(e, P11Error::Pkcs11(RvError::UserAlreadyLoggedIn, _))
}

/// Child: CYCLES times open a session, log in, sign with the shared key, log out and close,
/// while the workers run; prints how many cycles completed.
#[test]
fn child_cycles() {
    let Some((p11, slot, _)) = child_context("cycler") else {
        return;
    };
    for cycle in 0..CYCLES {
        let s = p11.open_rw_session(slot).unwrap();
        s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
        let hmac = find_label(&s, "shared-hmac")[0];
        s.sign(&Mechanism::Sha256Hmac, hmac, b"cycle").unwrap();
        s.logout().unwrap();
        let refused = s.sign(&Mechanism::Sha256Hmac, hmac, b"after logout");
        assert!(refused.is_err(), "cycle {cycle}: signed after C_Logout");
        s.close().unwrap();
    }
    println!();
    println!("CYCLED {CYCLES}");
}

/// Child: eight threads, each with its own session, ROUNDS rounds of the mix; prints what it
/// kept, destroyed and encrypted.
#[test]
fn child_works() {
    let Some((p11, slot, process)) = child_context("worker") else {
        return;
    };
    let out: Vec<String> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                let (p11, process) = (&p11, &process);
                scope.spawn(move || {
                    let s = p11.open_rw_session(slot).unwrap();
                    if let Err(e) = s.login(UserType::User, Some(&pin(USER_PIN))) {
                        assert!(expected(&e), "login: {e}");
                    }
                    let shared = find_label(&s, "shared-aes")[0];
                    let hmac = find_label(&s, "shared-hmac")[0];
                    let mut lines = Vec::new();
                    for round in 0..ROUNDS {
                        let label = format!("p{process}-t{t}-r{round}");
                        let mut key = aes_key(&s, &label, None);
                        let iv = [round as u8; 16];
                        s.encrypt(&Mechanism::AesCbcPad(iv), shared, b"stress payload")
                            .unwrap();
                        s.sign(&Mechanism::Sha256Hmac, hmac, label.as_bytes())
                            .unwrap();
                        assert_eq!(find_label(&s, &label), vec![key], "{label}");
                        s.update_attributes(key, &[Attribute::Decrypt(false)])
                            .unwrap();
                        if round % 4 == 1 {
                            let old: CK_ULONG = key.handle();
                            key = s
                                .generate_key(&common::rotate_mechanism(&old), &[])
                                .unwrap();
                            assert_eq!(find_label(&s, &label)[0], key, "newest version first");
                        }
                        if round % 3 == 0 {
                            for version in find_label(&s, &label) {
                                s.destroy_object(version).unwrap();
                            }
                            lines.push(format!("GONE {label}"));
                        } else {
                            lines.push(format!("KEPT {label}"));
                        }
                    }
                    lines.push(format!("ENCRYPTED {ROUNDS}"));
                    lines
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker thread"))
            .collect()
    });
    // (libtest has written "test child_works ... " without a newline.)
    println!();
    for line in out {
        println!("{line}");
    }
}
