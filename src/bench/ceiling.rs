//! The ceiling: the same crypto straight on aws-lc-rs, no PKCS#11 in between — what a token
//! built on aws-lc could reach at best. Keys are made once per measurement and shared by the
//! threads, as the token keys are.

use std::hint::black_box;
use std::sync::Arc;

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
use aws_lc_rs::cipher::{EncryptingKey, EncryptionContext, UnboundCipherKey, AES_256};
use aws_lc_rs::iv::FixedLength;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::KeySize;
use aws_lc_rs::signature::{
    self, EcdsaKeyPair, Ed25519KeyPair, KeyPair, ParsedPublicKey, RsaKeyPair,
};
use aws_lc_rs::{digest, hmac};

use super::ops::{Action, KeyKind, Mech};
use super::report::Outcome;
use super::runner::{self, Factory, StepFn, Timing, Worker};
use super::{BenchError, Result};

/// A crypto operation with a ceiling (its [`Action`], which is hashable, so the token-key
/// and session-key rows share one measurement).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Ceiling(Action);

/// aws-lc-rs errors carry no detail worth showing.
fn lc<E>(_: E) -> BenchError {
    BenchError("aws-lc-rs refused the operation".into())
}

type Boxed = Box<Factory<'static>>;

impl Ceiling {
    /// The ceiling of `action`, if it is plain crypto aws-lc-rs can do.
    pub(crate) fn of(action: &Action) -> Option<Ceiling> {
        let supported = match *action {
            Action::Sign { .. } | Action::Encrypt { .. } | Action::Digest { .. } => true,
            Action::Verify { key, .. } => !matches!(key, KeyKind::Ed25519 | KeyKind::HmacSecret),
            Action::GenerateKeyPair { key } => matches!(key, KeyKind::Rsa2048 | KeyKind::P256),
            Action::Find { .. } | Action::Login | Action::CreateObject => false,
        };
        supported.then_some(Ceiling(*action))
    }

    /// Measure it; a failure is reported like a module's.
    pub(crate) fn measure(self, timing: Timing) -> Outcome {
        match self.factory().and_then(|f| runner::measure(timing, &*f)) {
            Ok(m) => Outcome::Measured(m),
            Err(e) => Outcome::failed(e.0),
        }
    }

    fn factory(self) -> Result<Boxed> {
        match self.0 {
            Action::Sign { key, mech, len } => sign(key, mech, len),
            Action::Verify { key, mech, len } => verify(key, mech, len),
            Action::Encrypt { mech, len, .. } => encrypt(mech, len),
            Action::Digest { len } => Ok(steps(move || {
                let data = vec![0x5a; len];
                move || {
                    black_box(digest::digest(&digest::SHA256, &data));
                    Ok(())
                }
            })),
            Action::GenerateKeyPair { key } => Ok(steps(move || {
                move || match key {
                    KeyKind::Rsa2048 => {
                        RsaKeyPair::generate(KeySize::Rsa2048).map(drop).map_err(lc)
                    }
                    _ => EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
                        .map(drop)
                        .map_err(lc),
                }
            })),
            _ => Err(BenchError("no ceiling for this operation".into())),
        }
    }
}

/// A factory whose workers are the closures `make` returns (one per thread).
fn steps<M, F>(make: M) -> Boxed
where
    M: Fn() -> F + Sync + 'static,
    F: FnMut() -> Result<()> + 'static,
{
    Box::new(move |_| -> Result<Box<dyn Worker>> { Ok(Box::new(StepFn(make()))) })
}

fn rsa_key(key: KeyKind) -> Result<RsaKeyPair> {
    let size = if key == KeyKind::Rsa3072 {
        KeySize::Rsa3072
    } else {
        KeySize::Rsa2048
    };
    RsaKeyPair::generate(size).map_err(lc)
}

fn ec_alg(key: KeyKind) -> &'static signature::EcdsaSigningAlgorithm {
    if key == KeyKind::P384 {
        &signature::ECDSA_P384_SHA384_FIXED_SIGNING
    } else {
        &signature::ECDSA_P256_SHA256_FIXED_SIGNING
    }
}

/// The digest an ECDSA key of `key`'s curve signs: SHA-384 for P-384, else SHA-256.
fn message_digest(key: KeyKind, data: &[u8]) -> digest::Digest {
    let alg = if key == KeyKind::P384 {
        &digest::SHA384
    } else {
        &digest::SHA256
    };
    digest::digest(alg, data)
}

fn sign(key: KeyKind, mech: Mech, len: usize) -> Result<Boxed> {
    let data = Arc::new(vec![0x5a; len]);
    match mech {
        Mech::RsaPkcs1Sha256 | Mech::RsaPssSha256 => {
            let pair = Arc::new(rsa_key(key)?);
            let padding: &'static dyn signature::RsaEncoding = if mech == Mech::RsaPssSha256 {
                &signature::RSA_PSS_SHA256
            } else {
                &signature::RSA_PKCS1_SHA256
            };
            Ok(steps(move || {
                let (pair, data, rng) = (pair.clone(), data.clone(), SystemRandom::new());
                let mut sig = vec![0; pair.public_modulus_len()];
                move || pair.sign(padding, &rng, &data, &mut sig).map_err(lc)
            }))
        }
        Mech::EcdsaSha256 | Mech::EcdsaSha384 => {
            let pair = Arc::new(EcdsaKeyPair::generate(ec_alg(key)).map_err(lc)?);
            Ok(steps(move || {
                let (pair, data, rng) = (pair.clone(), data.clone(), SystemRandom::new());
                move || pair.sign(&rng, &data).map(drop).map_err(lc)
            }))
        }
        Mech::EcdsaPrehashed => {
            let pair = Arc::new(EcdsaKeyPair::generate(ec_alg(key)).map_err(lc)?);
            let hash = Arc::new(message_digest(key, &data));
            Ok(steps(move || {
                let (pair, hash) = (pair.clone(), hash.clone());
                move || pair.sign_digest(&hash).map(drop).map_err(lc)
            }))
        }
        Mech::Eddsa => {
            let pair = Arc::new(Ed25519KeyPair::generate().map_err(lc)?);
            Ok(steps(move || {
                let (pair, data) = (pair.clone(), data.clone());
                move || {
                    black_box(pair.sign(&data));
                    Ok(())
                }
            }))
        }
        Mech::HmacSha256 => {
            let key = Arc::new(hmac::Key::new(hmac::HMAC_SHA256, &[7; 32]));
            Ok(steps(move || {
                let (key, data) = (key.clone(), data.clone());
                move || {
                    black_box(hmac::sign(&key, &data));
                    Ok(())
                }
            }))
        }
        Mech::AesGcm | Mech::AesCbc => Err(BenchError("not a signature".into())),
    }
}

fn verify(key: KeyKind, mech: Mech, len: usize) -> Result<Boxed> {
    let data = vec![0x5a; len];
    let rng = SystemRandom::new();
    let (public, sig) = match mech {
        Mech::RsaPkcs1Sha256 | Mech::RsaPssSha256 => {
            let pair = rsa_key(key)?;
            let (padding, alg): (&'static dyn signature::RsaEncoding, _) =
                if mech == Mech::RsaPssSha256 {
                    (
                        &signature::RSA_PSS_SHA256,
                        &signature::RSA_PSS_2048_8192_SHA256,
                    )
                } else {
                    (
                        &signature::RSA_PKCS1_SHA256,
                        &signature::RSA_PKCS1_2048_8192_SHA256,
                    )
                };
            let mut sig = vec![0; pair.public_modulus_len()];
            pair.sign(padding, &rng, &data, &mut sig).map_err(lc)?;
            (
                ParsedPublicKey::new(alg, pair.public_key().as_ref()).map_err(lc)?,
                sig,
            )
        }
        Mech::EcdsaSha256 | Mech::EcdsaSha384 | Mech::EcdsaPrehashed => {
            let pair = EcdsaKeyPair::generate(ec_alg(key)).map_err(lc)?;
            let alg: &'static signature::EcdsaVerificationAlgorithm = if key == KeyKind::P384 {
                &signature::ECDSA_P384_SHA384_FIXED
            } else {
                &signature::ECDSA_P256_SHA256_FIXED
            };
            let sig = pair.sign(&rng, &data).map_err(lc)?.as_ref().to_vec();
            (
                ParsedPublicKey::new(alg, pair.public_key().as_ref()).map_err(lc)?,
                sig,
            )
        }
        _ => return Err(BenchError("no verify ceiling for this mechanism".into())),
    };
    let hash = message_digest(key, &data);
    let prehashed = mech == Mech::EcdsaPrehashed;
    let shared = Arc::new((public, sig, data, hash));
    Ok(steps(move || {
        let shared = shared.clone();
        move || {
            let (public, sig, data, hash) = &*shared;
            if prehashed {
                public.verify_digest_sig(hash, sig).map_err(lc)
            } else {
                public.verify_sig(data, sig).map_err(lc)
            }
        }
    }))
}

fn encrypt(mech: Mech, len: usize) -> Result<Boxed> {
    const KEY: [u8; 32] = [7; 32];
    let data = Arc::new(vec![0x5a; len]);
    if mech == Mech::AesCbc {
        let key = Arc::new(
            EncryptingKey::cbc(UnboundCipherKey::new(&AES_256, &KEY).map_err(lc)?).map_err(lc)?,
        );
        return Ok(steps(move || {
            let (key, data, mut out) = (key.clone(), data.clone(), vec![0; len]);
            move || {
                out.copy_from_slice(&data);
                let iv = EncryptionContext::Iv128(FixedLength::from([0u8; 16]));
                key.less_safe_encrypt(&mut out, iv).map(drop).map_err(lc)
            }
        }));
    }
    let key = Arc::new(LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM, &KEY).map_err(lc)?,
    ));
    Ok(steps(move || {
        let (key, data) = (key.clone(), data.clone());
        let (mut out, mut counter) = (Vec::with_capacity(len + 16), 0u64);
        move || {
            counter += 1;
            let mut iv = [0u8; 12];
            iv[4..].copy_from_slice(&counter.to_be_bytes());
            out.clear();
            out.extend_from_slice(&data);
            let tag = key
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(iv),
                    Aad::empty(),
                    &mut out,
                )
                .map_err(lc)?;
            out.extend_from_slice(tag.as_ref());
            Ok(())
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::ops::catalogue;

    #[test]
    fn token_and_session_rows_share_one_ceiling() {
        let rows: Vec<_> = catalogue()
            .into_iter()
            .filter(|s| s.id.starts_with("p256-sign/"))
            .collect();
        assert_eq!(rows.len(), 2);
        assert_eq!(Ceiling::of(&rows[0].action), Ceiling::of(&rows[1].action));
    }

    #[test]
    fn object_management_has_no_ceiling() {
        assert_eq!(Ceiling::of(&Action::Login), None);
        assert_eq!(Ceiling::of(&Action::CreateObject), None);
    }

    #[test]
    fn every_ceiling_runs() {
        let timing = Timing::new(0.02, 1);
        for spec in catalogue() {
            let Some(c) = Ceiling::of(&spec.action) else {
                continue;
            };
            if matches!(
                spec.action,
                Action::GenerateKeyPair {
                    key: KeyKind::Rsa2048
                }
            ) {
                continue; // seconds per key in a debug build
            }
            match c.measure(timing) {
                Outcome::Measured(m) => assert!(m.ops_per_sec > 0.0, "{}", spec.id),
                other => panic!("{}: {other:?}", spec.id),
            }
        }
    }
}
