//! The per-operation cost of a module, for comparing a Keyward delegate slot with the device
//! module it delegates to (docs/delegation.md, "Cost"). One thread, token keys generated
//! here, a fixed number of operations, so that `perf stat` can count instructions per
//! operation (robust on a loaded machine, unlike operations per second).
//!
//! Usage: DELEGATE_COST_MODULE=PATH DELEGATE_COST_TOKEN=LABEL DELEGATE_COST_PIN=PIN
//! [DELEGATE_COST_ONLY=HMAC|ECDSA|RSA] [DELEGATE_COST_N=ops] cargo run --release --example delegate_cost
//! Run it with N and 2N operations under `perf stat -e instructions:u,task-clock`: the
//! difference is N operations without the set-up.

use std::time::Instant;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;

const P256: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn env(name: &str) -> Result<String, Box<dyn std::error::Error>> {
    std::env::var(name).map_err(|_| format!("set {name}").into())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let p11 = Pkcs11::new(env("DELEGATE_COST_MODULE")?)?;
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))?;
    let label = env("DELEGATE_COST_TOKEN")?;
    let slot = p11
        .get_slots_with_initialized_token()?
        .into_iter()
        .find(|s| p11.get_token_info(*s).is_ok_and(|t| t.label() == label))
        .ok_or("no token with that label")?;
    let s = p11.open_rw_session(slot)?;
    s.login(
        UserType::User,
        Some(&AuthPin::new(env("DELEGATE_COST_PIN")?.into())),
    )?;
    let only = std::env::var("DELEGATE_COST_ONLY").unwrap_or_default();
    let n: u32 = std::env::var("DELEGATE_COST_N").map_or(10_000, |v| v.parse().unwrap_or(10_000));
    let data = [7u8; 64];
    let hash = [9u8; 32];
    if "HMAC".starts_with(&only) {
        let key = s.generate_key(
            &Mechanism::GenericSecretKeyGen,
            &[
                Attribute::ValueLen(32.into()),
                Attribute::Sign(true),
                Attribute::Token(true),
                // What a delegate slot asks the device for, so both paths sign with the same
                // kind of device object.
                Attribute::Private(true),
                Attribute::Sensitive(true),
                Attribute::Extractable(false),
            ],
        )?;
        run(
            &s,
            "HMAC-SHA256 64 B",
            &Mechanism::Sha256Hmac,
            key,
            &data,
            n,
        )?;
        s.destroy_object(key)?;
    }
    if "ECDSA".starts_with(&only) {
        let (public, private) = pair(
            &s,
            &Mechanism::EccKeyPairGen,
            Attribute::EcParams(P256.to_vec()),
        )?;
        run(
            &s,
            "ECDSA P-256 (CKM_ECDSA)",
            &Mechanism::Ecdsa,
            private,
            &hash,
            n,
        )?;
        s.destroy_object(private)?;
        s.destroy_object(public)?;
    }
    if "RSA".starts_with(&only) {
        let (public, private) = pair(
            &s,
            &Mechanism::RsaPkcsKeyPairGen,
            Attribute::ModulusBits(2048.into()),
        )?;
        run(
            &s,
            "RSA-2048 SHA256-RSA-PKCS",
            &Mechanism::Sha256RsaPkcs,
            private,
            &data,
            n / 10,
        )?;
        s.destroy_object(private)?;
        s.destroy_object(public)?;
    }
    Ok(())
}

fn pair(
    s: &Session,
    mechanism: &Mechanism,
    parameter: Attribute,
) -> cryptoki::error::Result<(ObjectHandle, ObjectHandle)> {
    s.generate_key_pair(
        mechanism,
        &[parameter, Attribute::Verify(true), Attribute::Token(true)],
        &[
            Attribute::Sign(true),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
        ],
    )
}

fn run(
    s: &Session,
    name: &str,
    mechanism: &Mechanism,
    key: ObjectHandle,
    data: &[u8],
    n: u32,
) -> cryptoki::error::Result<()> {
    let start = Instant::now();
    for _ in 0..n {
        s.sign(mechanism, key, data)?;
    }
    let per = start.elapsed() / n.max(1);
    println!(
        "{name}: {n} ops, {:.2} µs/op (wall)",
        per.as_secs_f64() * 1e6
    );
    Ok(())
}
