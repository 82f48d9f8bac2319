//! One session used from several threads at once. PKCS#11 leaves such an application's
//! results to it, but the module must not crash or corrupt anything: every call returns a
//! valid code, every successful result is right, and the session works afterwards.

use std::ptr::null_mut;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use cryptoki_sys::*;

use crate::support::*;

/// Iterations per thread (small: the suite also runs under valgrind, which serialises threads).
const ROUNDS: usize = 150;

/// Codes a racing call on a shared session may get besides CKR_OK.
const RACE: &[CK_RV] = &[CKR_OK, CKR_OPERATION_ACTIVE, CKR_OPERATION_NOT_INITIALIZED];

type Log = Arc<Mutex<Checks>>;

fn note(log: &Log, what: &str, rv: CK_RV, allowed: &[CK_RV]) {
    log.lock().unwrap().rv(what, rv, allowed);
}

fn digest_loop(h: CK_SESSION_HANDLE, log: Log) {
    let mut out = [0u8; 32];
    for _ in 0..ROUNDS {
        note(&log, "C_DigestInit", Kind::Digest.init(h), RACE);
        let mut n: CK_ULONG = 32;
        let rv = ck!(C_Digest(
            h,
            b"abc".as_ptr() as *mut u8,
            3,
            out.as_mut_ptr(),
            &mut n
        ));
        note(&log, "C_Digest", rv, RACE);
        if rv == CKR_OK && hex(&out[..n as usize]) != SHA256_ABC {
            log.lock()
                .unwrap()
                .ok("a raced C_Digest gave SHA-256(abc)", false);
        }
    }
}

fn sign_loop(h: CK_SESSION_HANDLE, log: Log) {
    let mut out = [0u8; 32];
    for _ in 0..ROUNDS {
        note(&log, "C_SignInit", Kind::Sign.init(h), RACE);
        let mut n: CK_ULONG = 32;
        let d = HMAC_DATA.as_ptr() as *mut u8;
        let rv = ck!(C_Sign(h, d, 8, out.as_mut_ptr(), &mut n));
        note(&log, "C_Sign", rv, RACE);
        if rv == CKR_OK && hex(&out[..n as usize]) != HMAC_SHA256 {
            log.lock()
                .unwrap()
                .ok("a raced C_Sign gave the RFC 4231 HMAC", false);
        }
    }
}

fn find_loop(h: CK_SESSION_HANDLE, log: Log) {
    let data = fixture().data;
    let class = CKO_DATA;
    let mut t = [attr(CKA_CLASS, &class)];
    for _ in 0..ROUNDS {
        note(
            &log,
            "C_FindObjectsInit",
            ck!(C_FindObjectsInit(h, t.as_mut_ptr(), 1)),
            RACE,
        );
        let mut found = [0; 16];
        let mut n = 0;
        let rv = ck!(C_FindObjects(h, found.as_mut_ptr(), 16, &mut n));
        note(&log, "C_FindObjects", rv, RACE);
        if rv == CKR_OK && n as usize > found.len() {
            log.lock()
                .unwrap()
                .ok("C_FindObjects count within max", false);
        }
        note(&log, "C_FindObjectsFinal", ck!(C_FindObjectsFinal(h)), RACE);
        let mut size = 0;
        note(
            &log,
            "C_GetObjectSize",
            ck!(C_GetObjectSize(h, data, &mut size)),
            &[CKR_OK],
        );
    }
}

fn encrypt_loop(h: CK_SESSION_HANDLE, log: Log) {
    let plain = [0x11u8; 40];
    for _ in 0..ROUNDS {
        note(&log, "C_EncryptInit", Kind::Encrypt.init(h), RACE);
        let mut ct = [0u8; 48];
        let mut n: CK_ULONG = 48;
        let rv = ck!(C_Encrypt(
            h,
            plain.as_ptr() as *mut u8,
            40,
            ct.as_mut_ptr(),
            &mut n
        ));
        note(&log, "C_Encrypt", rv, RACE);
        note(
            &log,
            "C_GenerateRandom",
            ck!(C_GenerateRandom(h, ct.as_mut_ptr(), 8)),
            &[CKR_OK],
        );
        let mut info = CK_SESSION_INFO::default();
        note(
            &log,
            "C_GetSessionInfo",
            ck!(C_GetSessionInfo(h, &mut info)),
            &[CKR_OK],
        );
    }
}

#[test]
fn one_session_many_threads() {
    let h = session();
    let log: Log = Arc::new(Mutex::new(Checks::new("one_session_many_threads")));
    let loops: [fn(CK_SESSION_HANDLE, Log); 6] = [
        digest_loop,
        digest_loop,
        sign_loop,
        sign_loop,
        find_loop,
        encrypt_loop,
    ];
    let threads: Vec<_> = loops
        .into_iter()
        .map(|f| {
            let log = log.clone();
            std::thread::spawn(move || f(h, log))
        })
        .collect();
    for t in threads {
        t.join().expect("a thread panicked");
    }
    let mut c = Arc::try_unwrap(log)
        .ok()
        .expect("threads done")
        .into_inner()
        .unwrap();
    // The session is intact: each kind can start and finish cleanly.
    for kind in KINDS {
        kind.cancel(h);
        c.rv(
            format!("{kind:?} init after the race"),
            kind.init(h),
            &[CKR_OK],
        );
        kind.cancel(h);
    }
    let mut out = [0u8; 32];
    let mut n: CK_ULONG = 32;
    Kind::Digest.init(h);
    let rv = ck!(C_Digest(
        h,
        b"abc".as_ptr() as *mut u8,
        3,
        out.as_mut_ptr(),
        &mut n
    ));
    c.rv("C_Digest after the race", rv, &[CKR_OK]);
    c.ok(
        "SHA-256(abc) after the race",
        hex(&out[..n as usize]) == SHA256_ABC,
    );
    close(h);
    c.done();
}

/// One thread closes the session while others use it: they see CKR_OK until the close and
/// CKR_SESSION_HANDLE_INVALID (or CKR_SESSION_CLOSED) after it, never a crash.
#[test]
fn closing_a_session_under_other_threads() {
    let mut c = Checks::new("closing_a_session_under_other_threads");
    for round in 0..5 {
        let h = session();
        let log: Log = Arc::new(Mutex::new(Checks::new(
            "closing_a_session_under_other_threads",
        )));
        let stop = Arc::new(AtomicBool::new(false));
        let workers: Vec<_> = (0..3)
            .map(|i| {
                let (log, stop) = (log.clone(), stop.clone());
                std::thread::spawn(move || {
                    const GONE: &[CK_RV] = &[
                        CKR_OK,
                        CKR_OPERATION_ACTIVE,
                        CKR_OPERATION_NOT_INITIALIZED,
                        CKR_SESSION_HANDLE_INVALID,
                        CKR_SESSION_CLOSED,
                    ];
                    let mut out = [0u8; 48];
                    while !stop.load(Ordering::Relaxed) {
                        let kind = [Kind::Encrypt, Kind::Digest, Kind::Sign][i % 3];
                        note(&log, "init", kind.init(h), GONE);
                        let mut n: CK_ULONG = 48;
                        let rv = match kind {
                            Kind::Encrypt => {
                                ck!(C_Encrypt(h, out.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n))
                            }
                            Kind::Sign => ck!(C_SignFinal(h, null_mut(), &mut n)),
                            _ => ck!(C_Digest(h, out.as_mut_ptr(), 16, out.as_mut_ptr(), &mut n)),
                        };
                        note(&log, "continuation", rv, GONE);
                        if rv == CKR_SESSION_HANDLE_INVALID {
                            break;
                        }
                    }
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(20));
        c.rv(
            format!("round {round}: C_CloseSession"),
            ck!(C_CloseSession(h)),
            &[CKR_OK],
        );
        stop.store(true, Ordering::Relaxed);
        for w in workers {
            w.join().expect("worker panicked");
        }
        let inner = Arc::try_unwrap(log)
            .ok()
            .expect("workers done")
            .into_inner()
            .unwrap();
        c.absorb(inner);
        let mut info = CK_SESSION_INFO::default();
        let rv = ck!(C_GetSessionInfo(h, &mut info));
        c.rv(
            format!("round {round}: closed for good"),
            rv,
            &[CKR_SESSION_HANDLE_INVALID],
        );
    }
    c.done();
}
