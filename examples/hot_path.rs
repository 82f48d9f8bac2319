//! A quick look at the per-operation cost of the hot path: HMAC-SHA256 (64 bytes) and
//! ECDSA P-256 signatures with a token key, single thread. Not a benchmark suite (issue 8).
//! Usage: KEYWARD_DIR=... KEYWARD_PIN=... cargo run --release --example hot_path
//! (HOT_PATH_ONLY=HMAC or ECDSA runs only that one and HOT_PATH_SCALE=N N times as many,
//! e.g. under `perf record`; HOT_PATH_GAP_MS=G signs 40 times G ms apart instead, as a sparse
//! caller does, and prints the latency of each signature's calls: median, 90th percentile,
//! maximum).

use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use cryptoki::session::UserType;
use cryptoki::types::AuthPin;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let module = std::env::var("KEYWARD_MODULE").unwrap_or_else(|_| {
        concat!(env!("CARGO_MANIFEST_DIR"), "/target/release/libkeyward.so").into()
    });
    let pin = std::env::var("KEYWARD_PIN")?;
    let p11 = Pkcs11::new(module)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let slot = p11.get_slots_with_initialized_token()?[0];
    let s = p11.open_rw_session(slot)?;
    s.login(UserType::User, Some(&AuthPin::new(pin.into())))?;
    let hmac = s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Value(vec![1; 32]),
        Attribute::Sign(true),
        Attribute::Token(true),
    ])?;
    let (_, ec) = s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::EcParams(vec![
                0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
            ]),
            Attribute::Token(true),
        ],
        &[Attribute::Sign(true), Attribute::Token(true)],
    )?;
    let data = [7u8; 64];
    if let Some(gap) = std::env::var("HOT_PATH_GAP_MS")
        .ok()
        .and_then(|g| g.parse().ok())
    {
        return sparse(&s, hmac, &data, std::time::Duration::from_millis(gap));
    }
    for (name, mech, key, n) in [
        ("HMAC-SHA256 64 B", Mechanism::Sha256Hmac, hmac, 200_000u32),
        ("ECDSA P-256 SHA-256", Mechanism::EcdsaSha256, ec, 20_000),
    ] {
        if std::env::var("HOT_PATH_ONLY").is_ok_and(|only| !name.starts_with(&only)) {
            continue;
        }
        let scale: u32 = std::env::var("HOT_PATH_SCALE").map_or(1, |v| v.parse().unwrap_or(1));
        let n = n * scale;
        let start = Instant::now();
        for _ in 0..n {
            s.sign(&mech, key, &data)?;
        }
        let per = start.elapsed() / n;
        println!(
            "{name}: {:.2} µs/op, {:.0} ops/s",
            per.as_secs_f64() * 1e6,
            1.0 / per.as_secs_f64()
        );
    }
    Ok(())
}

/// Sign with `key` 40 times, `gap` apart; print the latency percentiles of the calls.
fn sparse(
    s: &cryptoki::session::Session,
    key: cryptoki::object::ObjectHandle,
    data: &[u8],
    gap: std::time::Duration,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut took: Vec<f64> = (0..40)
        .map(|_| {
            std::thread::sleep(gap);
            let start = Instant::now();
            s.sign(&Mechanism::Sha256Hmac, key, data)
                .map(|_| start.elapsed().as_secs_f64() * 1e6)
        })
        .collect::<Result<_, _>>()?;
    took.sort_by(f64::total_cmp);
    println!(
        "HMAC-SHA256 64 B, one signature every {} ms: median {:.1} µs, p90 {:.1} µs, max {:.1} µs",
        gap.as_millis(),
        took[took.len() / 2],
        took[took.len() * 9 / 10],
        took[took.len() - 1]
    );
    Ok(())
}
