//! The per-operation cost of a module, for comparing a Keyward delegate slot with the device
//! module it delegates to (docs/delegation.md, "Cost"). One thread, token keys generated
//! here, a fixed number of operations.
//!
//! Usage: DELEGATE_COST_MODULE=PATH DELEGATE_COST_TOKEN=LABEL DELEGATE_COST_PIN=PIN
//! [DELEGATE_COST_ONLY=HMAC|ECDSA|RSA] [DELEGATE_COST_N=ops] cargo run --release --example delegate_cost
//! prints the wall-clock µs per operation of N operations, and the 10th percentile and median
//! of its blocks of DELEGATE_COST_BLOCK operations (on a shared host some blocks run while a
//! neighbour holds the core's caches; the fast tenth is the module's own cost). Run it with N
//! and 2N operations under `valgrind --tool=callgrind` and difference the two: N operations
//! without the set-up.
//!
//! With DELEGATE_COST_IDLE_MODULE=PATH and DELEGATE_COST_IDLE_TOKEN=LABEL (same PIN) that
//! module is loaded, initialised and logged in too, and left idle: what its mere presence in
//! the process costs the other.
//!
//! With DELEGATE_COST_IDLE_THREAD=1 the process starts one thread that only sleeps: what
//! being multi-threaded costs (glibc's malloc and stdio lock only once a process has a second
//! thread).
//!
//! Paired mode, for a machine whose speed drifts (a shared VM): with
//! DELEGATE_COST_BASE_MODULE=PATH and DELEGATE_COST_BASE_TOKEN=LABEL (same PIN) both modules
//! are loaded in this process, each with its own key, and blocks of DELEGATE_COST_BLOCK
//! operations alternate between them (which goes first alternates too), N operations each in
//! all. It prints the median µs per operation of each module's blocks and the median of the
//! per-pair ratios: each ratio compares two blocks run milliseconds apart, so a slow spell of
//! the host slows both sides of a pair and cancels out.

use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

type Failure = Box<dyn std::error::Error>;

fn env(name: &str) -> Result<String, Failure> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

fn number(name: &str, default: u32) -> u32 {
    std::env::var(name).map_or(default, |v| v.parse().unwrap_or(default))
}

/// The module's context (kept alive with the session) and a user session on token `label`.
fn open(module: &str, label: &str, pin: &str) -> Result<(Pkcs11, Session), Failure> {
    let p11 = Pkcs11::new(module)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let slot = p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| p11.get_token_info(*s).is_ok_and(|t| t.label() == label))
        .ok_or_else(|| format!("{module}: no token labelled {label}"))?;
    let s = p11.open_rw_session(slot)?;
    s.login(UserType::User, Some(&AuthPin::new(pin.into())))?;
    Ok((p11, s))
}

/// One kind of signature measured.
struct Case {
    name: &'static str,
    only: &'static str,
    mechanism: Mechanism<'static>,
    data: &'static [u8],
    /// Fewer operations for slow signatures: N / divisor.
    divisor: u32,
}

const DATA: [u8; 64] = [7; 64];
const HASH: [u8; 32] = [9; 32];

fn cases() -> [Case; 3] {
    [
        Case {
            name: "HMAC-SHA256 64 B",
            only: "HMAC",
            mechanism: Mechanism::Sha256Hmac,
            data: &DATA,
            divisor: 1,
        },
        Case {
            name: "ECDSA P-256 (CKM_ECDSA)",
            only: "ECDSA",
            mechanism: Mechanism::Ecdsa,
            data: &HASH,
            divisor: 1,
        },
        Case {
            name: "RSA-2048 SHA256-RSA-PKCS",
            only: "RSA",
            mechanism: Mechanism::Sha256RsaPkcs,
            data: &DATA,
            divisor: 10,
        },
    ]
}

/// A token key for `case`, made as a delegate slot makes device keys (private, sensitive,
/// non-extractable, a 16-byte CKA_ID and a 40-byte CKA_LABEL, as applications label their
/// keys), so both paths sign with the same kind of device object. The signing key first,
/// then any other object to destroy afterwards.
fn make_key(s: &Session, case: &Case) -> cryptoki::error::Result<Vec<ObjectHandle>> {
    let mut id = [0u8; 16];
    s.generate_random_slice(&mut id)?;
    let label: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let private = [
        Attribute::Sign(true),
        Attribute::Token(true),
        Attribute::Private(true),
        Attribute::Sensitive(true),
        Attribute::Extractable(false),
        Attribute::Id(id.to_vec()),
        Attribute::Label(format!("delegate:{label}").into_bytes()),
    ];
    let (mechanism, parameter) = match case.only {
        "HMAC" => {
            let mut template = vec![Attribute::ValueLen(32.into())];
            template.extend(private);
            let key = s.generate_key(&Mechanism::GenericSecretKeyGen, &template)?;
            return Ok(vec![key]);
        }
        "ECDSA" => (Mechanism::EccKeyPairGen, Attribute::EcParams(P256.to_vec())),
        _ => (
            Mechanism::RsaPkcsKeyPairGen,
            Attribute::ModulusBits(2048.into()),
        ),
    };
    let public = [
        parameter,
        Attribute::Verify(true),
        Attribute::Token(true),
        Attribute::Id(id.to_vec()),
    ];
    let (public, private) = s.generate_key_pair(&mechanism, &public, &private)?;
    Ok(vec![private, public])
}

/// µs per operation of `n` signatures with `key`.
fn time(s: &Session, case: &Case, key: ObjectHandle, n: u32) -> cryptoki::error::Result<f64> {
    let start = Instant::now();
    for _ in 0..n {
        s.sign(&case.mechanism, key, case.data)?;
    }
    Ok(start.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1)))
}

/// The `p`th percentile of `v` (nearest rank).
fn percentile(v: &[f64], p: usize) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = (v.len() * p).div_ceil(100).max(1);
    v[rank - 1]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Blocks alternating between `base` and `subject` (see the module doc).
fn paired(
    case: &Case,
    (base, base_key): (&Session, ObjectHandle),
    (subject, subject_key): (&Session, ObjectHandle),
    n: u32,
    block: u32,
) -> cryptoki::error::Result<()> {
    let (mut b, mut k, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    // One block each to warm up, not counted.
    time(base, case, base_key, block)?;
    time(subject, case, subject_key, block)?;
    for i in 0..(n / block).max(1) {
        let (tb, tk) = if i % 2 == 0 {
            let tb = time(base, case, base_key, block)?;
            (tb, time(subject, case, subject_key, block)?)
        } else {
            let tk = time(subject, case, subject_key, block)?;
            (time(base, case, base_key, block)?, tk)
        };
        b.push(tb);
        k.push(tk);
        ratios.push(tk / tb);
    }
    let pairs = ratios.len();
    println!(
        "{}: {pairs} pairs of {block} ops, base {:.2} µs/op, subject {:.2} µs/op, \
         median ratio {:.4} ({:+.1}%)",
        case.name,
        median(b),
        median(k),
        median(ratios.clone()),
        (median(ratios) - 1.0) * 100.0
    );
    Ok(())
}

fn main() -> Result<(), Failure> {
    let pin = env("DELEGATE_COST_PIN")?;
    let (_p11, s) = open(
        &env("DELEGATE_COST_MODULE")?,
        &env("DELEGATE_COST_TOKEN")?,
        &pin,
    )?;
    if std::env::var("DELEGATE_COST_IDLE_THREAD").is_ok_and(|v| v == "1") {
        std::thread::spawn(|| loop {
            std::thread::park();
        });
    }
    let _idle = match std::env::var("DELEGATE_COST_IDLE_MODULE") {
        Ok(module) => Some(open(&module, &env("DELEGATE_COST_IDLE_TOKEN")?, &pin)?),
        Err(_) => None,
    };
    let base = match std::env::var("DELEGATE_COST_BASE_MODULE") {
        Ok(module) => Some(open(&module, &env("DELEGATE_COST_BASE_TOKEN")?, &pin)?),
        Err(_) => None,
    };
    let only = std::env::var("DELEGATE_COST_ONLY").unwrap_or_default();
    let n = number("DELEGATE_COST_N", 10_000);
    let block = number("DELEGATE_COST_BLOCK", 200);
    for case in cases().iter().filter(|c| c.only.starts_with(&only)) {
        let n = n / case.divisor;
        let keys = make_key(&s, case)?;
        match &base {
            Some((_, b)) => {
                let base_keys = make_key(b, case)?;
                let block = (block / case.divisor).max(1);
                paired(case, (b, base_keys[0]), (&s, keys[0]), n, block)?;
                base_keys
                    .into_iter()
                    .try_for_each(|k| b.destroy_object(k))?;
            }
            None => {
                let block = (block / case.divisor).max(1);
                let mut blocks = Vec::new();
                for _ in 0..(n / block).max(1) {
                    blocks.push(time(&s, case, keys[0], block)?);
                }
                let per = blocks.iter().sum::<f64>() / blocks.len() as f64;
                println!(
                    "{}: {n} ops, {per:.2} µs/op (wall), blocks of {block}: p10 {:.2} µs/op, median {:.2} µs/op",
                    case.name,
                    percentile(&blocks, 10),
                    median(blocks.clone())
                );
            }
        }
        keys.into_iter().try_for_each(|k| s.destroy_object(k))?;
    }
    Ok(())
}
