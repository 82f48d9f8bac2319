//! One operation on a PKCS#11 session: the [`Worker`] each bench thread runs, with its own
//! session and buffers, sharing the module's keys.

use cryptoki::context::Pkcs11;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

use super::keys::{self, Key, LABEL_PREFIX};
use super::ops::{Action, FindBy, KeyKind, Mech, Store};
use super::population;
use super::runner::{StepFn, Worker};
use super::{BenchError, Result};

/// What every worker of one measurement shares.
pub(crate) struct Ctx {
    pub(crate) p11: Pkcs11,
    pub(crate) slot: Slot,
    pub(crate) pin: AuthPin,
    pub(crate) action: Action,
    pub(crate) store: Option<Store>,
    /// The key the action uses, set up by the module beforehand.
    pub(crate) key: Option<Key>,
}

/// Build thread `index`'s worker for `ctx.action`: open its session and prepare its input.
pub(crate) fn worker(ctx: &Ctx, index: usize) -> Result<Box<dyn Worker>> {
    let key = || {
        ctx.key
            .ok_or_else(|| BenchError("no key was set up for this operation".into()))
    };
    match ctx.action {
        Action::Sign {
            key: kind,
            mech,
            len,
        } => sign(ctx.session()?, mech, key()?, signed_input(kind, mech, len)),
        Action::Verify {
            key: kind,
            mech,
            len,
        } => verify(ctx.session()?, mech, key()?, signed_input(kind, mech, len)),
        Action::Encrypt { mech, len, .. } => encrypt(ctx.session()?, mech, key()?, len),
        Action::Digest { len } => {
            let session = ctx.session()?;
            let data = vec![0x5a; len];
            Ok(Box::new(StepFn(move || {
                session.digest(&Mechanism::Sha256, &data)?;
                Ok(())
            })))
        }
        Action::GenerateKeyPair { key } => {
            let store = ctx.store.unwrap_or(Store::Session);
            Ok(Box::new(Creator::new(
                ctx.session()?,
                Creates::KeyPair(key, store),
                index,
            )))
        }
        Action::CreateObject => Ok(Box::new(Creator::new(
            ctx.session()?,
            Creates::Object,
            index,
        ))),
        Action::Find { by, population } => find(ctx.session()?, by, population, index),
        Action::Login => {
            let (p11, slot, pin) = (ctx.p11.clone(), ctx.slot, ctx.pin.clone());
            Ok(Box::new(StepFn(move || {
                let session = p11.open_rw_session(slot)?;
                session.login(UserType::User, Some(&pin))?;
                session.close()?;
                Ok(())
            })))
        }
    }
}

impl Ctx {
    /// A new read-write session for one worker (the user is already logged in).
    fn session(&self) -> Result<Session> {
        Ok(self.p11.open_rw_session(self.slot)?)
    }
}

/// The mechanism for a signature, MAC or CBC operation. Errors: GCM, which takes a per-call
/// IV (see [`encrypt`]).
fn mechanism(mech: Mech) -> Result<Mechanism<'static>> {
    Ok(match mech {
        Mech::RsaPkcs1Sha256 => Mechanism::Sha256RsaPkcs,
        Mech::RsaPssSha256 => Mechanism::Sha256RsaPkcsPss(PkcsPssParams {
            hash_alg: MechanismType::SHA256,
            mgf: PkcsMgfType::MGF1_SHA256,
            s_len: 32.into(),
        }),
        Mech::EcdsaSha256 => Mechanism::EcdsaSha256,
        Mech::EcdsaSha384 => Mechanism::EcdsaSha384,
        Mech::EcdsaPrehashed => Mechanism::Ecdsa,
        Mech::Eddsa => Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
        Mech::HmacSha256 => Mechanism::Sha256Hmac,
        Mech::AesCbc => Mechanism::AesCbc([0; 16]),
        Mech::AesGcm => return Err(BenchError("AES-GCM needs a per-call IV".into())),
    })
}

/// What a signature operation passes to `C_Sign`: a message of `len` bytes, or for
/// [`Mech::EcdsaPrehashed`] that message's SHA-256 (P-256) or SHA-384 (P-384) digest.
pub(crate) fn signed_input(kind: KeyKind, mech: Mech, len: usize) -> Vec<u8> {
    let message = vec![0x5a; len];
    if mech != Mech::EcdsaPrehashed {
        return message;
    }
    let alg = if kind == KeyKind::P384 {
        &aws_lc_rs::digest::SHA384
    } else {
        &aws_lc_rs::digest::SHA256
    };
    aws_lc_rs::digest::digest(alg, &message).as_ref().to_vec()
}

fn sign(session: Session, mech: Mech, key: Key, data: Vec<u8>) -> Result<Box<dyn Worker>> {
    let m = mechanism(mech)?;
    Ok(Box::new(StepFn(move || {
        session.sign(&m, key.private, &data)?;
        Ok(())
    })))
}

fn verify(session: Session, mech: Mech, key: Key, data: Vec<u8>) -> Result<Box<dyn Worker>> {
    let m = mechanism(mech)?;
    let signature = session.sign(&m, key.private, &data)?;
    Ok(Box::new(StepFn(move || {
        session.verify(&m, key.public, &data, &signature)?;
        Ok(())
    })))
}

fn encrypt(session: Session, mech: Mech, key: Key, len: usize) -> Result<Box<dyn Worker>> {
    let data = vec![0x5a; len];
    if mech != Mech::AesGcm {
        let m = mechanism(mech)?;
        return Ok(Box::new(StepFn(move || {
            session.encrypt(&m, key.private, &data)?;
            Ok(())
        })));
    }
    // A fresh 12-byte IV per message (a counter), as a careful application would use.
    let (mut iv, mut counter) = ([0u8; 12], 0u64);
    Ok(Box::new(StepFn(move || {
        counter += 1;
        iv[4..].copy_from_slice(&counter.to_be_bytes());
        let params = GcmParams::new(&mut iv, &[], 128.into())?;
        session.encrypt(&Mechanism::AesGcm(params), key.private, &data)?;
        Ok(())
    })))
}

/// Look up a different one of the first `population` objects each step.
fn find(session: Session, by: FindBy, population: usize, index: usize) -> Result<Box<dyn Worker>> {
    let targets: Vec<Attribute> = (0..population)
        .map(|i| {
            let name = population::name(i).into_bytes();
            match by {
                FindBy::Id => Attribute::Id(name),
                FindBy::Label => Attribute::Label(name),
            }
        })
        .collect();
    // Threads start at different objects.
    let mut next = index * population / 7 % population.max(1);
    Ok(Box::new(StepFn(move || {
        let target = &targets[next];
        next = (next + 1) % targets.len();
        let found = session.find_objects(std::slice::from_ref(target))?;
        if found.len() != 1 {
            return Err(BenchError(format!(
                "a find for one object returned {} objects",
                found.len()
            )));
        }
        Ok(())
    })))
}

/// What a [`Creator`] makes each step.
enum Creates {
    KeyPair(KeyKind, Store),
    Object,
}

/// Creates objects each step and destroys them all in [`Worker::finish`] (untimed).
struct Creator {
    session: Session,
    creates: Creates,
    label: String,
    made: Vec<ObjectHandle>,
    count: u64,
}

impl Creator {
    fn new(session: Session, creates: Creates, thread: usize) -> Self {
        Creator {
            session,
            creates,
            label: format!("{LABEL_PREFIX}created-{thread}"),
            made: Vec::new(),
            count: 0,
        }
    }
}

impl Worker for Creator {
    fn step(&mut self) -> Result<()> {
        self.count += 1;
        match self.creates {
            Creates::KeyPair(kind, store) => {
                let key = keys::generate(&self.session, kind, store, &self.label)?;
                self.made.extend(key.objects());
            }
            Creates::Object => {
                let handle = self.session.create_object(&[
                    Attribute::Class(ObjectClass::SECRET_KEY),
                    Attribute::KeyType(KeyType::GENERIC_SECRET),
                    Attribute::Token(true),
                    Attribute::Label(self.label.as_bytes().to_vec()),
                    Attribute::Value(self.count.to_be_bytes().repeat(2)),
                ])?;
                self.made.push(handle);
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<()> {
        for handle in &self.made {
            self.session.destroy_object(*handle)?;
        }
        Ok(())
    }
}
