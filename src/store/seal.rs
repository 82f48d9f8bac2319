//! The key hierarchy (docs/storage-format.md):
//!
//! PIN ──Argon2id(salt, cost)──► KEK ──AES-256-GCM──► wraps the Token Master Key (TMK)
//! TMK ──HKDF-SHA-256("keyward/v1/objects")──► object sealing key
//! sealed = AES-256-GCM(object key, CBOR(secret attributes), AAD = uid ‖ CBOR(clear attributes))

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::{PinRecord, StoredObject, Who};
use crate::config::KdfCost;
use crate::crypto::digest::DigestAlg;
use crate::crypto::hmac::Hmac;
use crate::crypto::{aead::SealKey, kdf, rng};
use crate::error::{Error, Result};
use crate::object::{rules, Attributes, Object};

/// The token master key: 256 random bits, only ever in memory after a login.
pub struct Tmk(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for Tmk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tmk([redacted])")
    }
}

impl Tmk {
    /// A fresh random master key (C_InitToken).
    pub fn generate() -> Result<Self> {
        let mut k = Zeroizing::new([0u8; 32]);
        rng::fill(&mut *k).map_err(|_| Error::GeneralError)?;
        Ok(Self(k))
    }

    /// The key that authenticates audit checkpoints.
    pub fn audit_key(&self) -> Result<Zeroizing<[u8; 32]>> {
        kdf::subkey(&*self.0, b"keyward/v1/audit").map_err(|_| Error::GeneralError)
    }

    /// Seal a small token secret (a user's TOTP seed) bound to `context`.
    pub fn seal_secret(&self, context: &str, secret: &[u8]) -> Result<Vec<u8>> {
        self.secret_key()?
            .seal(secret, context.as_bytes())
            .map_err(|_| Error::GeneralError)
    }

    /// Open what [`Self::seal_secret`] sealed: CKR_DEVICE_ERROR if it was tampered with.
    pub fn open_secret(&self, context: &str, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.secret_key()?
            .open(sealed, context.as_bytes())
            .map_err(|_| Error::DeviceError)
    }

    /// The MAC binding named user `name` to `role`: HMAC-SHA256 under
    /// HKDF-SHA-256(TMK, "keyward/v1/user-role") of `name || 0 || role`. Only someone
    /// holding the master key (a logged-in admin) can make one; a role edited in the
    /// database without it fails [`Self::role_mac_ok`].
    pub fn role_mac(&self, name: &str, role: &str) -> Result<Vec<u8>> {
        Ok(self.role_hmac(name, role)?.finish().to_vec())
    }

    /// Whether `mac` binds `name` to `role` (constant-time comparison).
    pub fn role_mac_ok(&self, name: &str, role: &str, mac: &[u8]) -> bool {
        self.role_hmac(name, role)
            .is_ok_and(|h| h.verify(mac).is_ok())
    }

    fn role_hmac(&self, name: &str, role: &str) -> Result<Hmac> {
        let k = kdf::subkey(&*self.0, b"keyward/v1/user-role").map_err(|_| Error::GeneralError)?;
        let mut h = Hmac::new(DigestAlg::Sha256, &*k).map_err(|_| Error::GeneralError)?;
        h.update(name.as_bytes());
        h.update(&[0]);
        h.update(role.as_bytes());
        Ok(h)
    }

    fn secret_key(&self) -> Result<SealKey> {
        let k = kdf::subkey(&*self.0, b"keyward/v1/secrets").map_err(|_| Error::GeneralError)?;
        SealKey::new(&*k).map_err(|_| Error::GeneralError)
    }

    /// The object sealer derived from this master key.
    pub fn sealer(&self) -> Result<Sealer> {
        let k = kdf::subkey(&*self.0, b"keyward/v1/objects").map_err(|_| Error::GeneralError)?;
        Ok(Sealer(SealKey::new(&*k).map_err(|_| Error::GeneralError)?))
    }
}

/// The name a PIN record is bound to: "so", "user", or "named/NAME" for a named user.
fn tmk_aad(holder: &str) -> Vec<u8> {
    [b"keyward/v1/tmk/".as_slice(), holder.as_bytes()].concat()
}

/// The holder name of named user `name`'s PIN record. The user's role is bound to the user
/// by [`Tmk::role_mac`] instead, which an admin can redo without the user's PIN.
pub fn named(name: &str) -> String {
    format!("named/{name}")
}

/// The holder name of a PIN record made before roles were bound by a MAC: the role is bound
/// into the wrap itself, so a role edited in the database makes the PIN open nothing.
pub fn named_with_role(name: &str, role: &str) -> String {
    format!("named/{name}/{role}")
}

/// Wrap `tmk` under a KEK derived from `pin` with a fresh salt.
pub fn wrap_tmk(who: Who, pin: &[u8], tmk: &Tmk, cost: KdfCost) -> Result<PinRecord> {
    wrap_tmk_for(who.as_str(), pin, tmk, cost)
}

/// Recover the TMK with `pin`. CKR_PIN_INCORRECT if the PIN is wrong.
pub fn unwrap_tmk(who: Who, pin: &[u8], rec: &PinRecord) -> Result<Tmk> {
    unwrap_tmk_for(who.as_str(), pin, rec)
}

/// [`wrap_tmk`] for any holder (see [`named`]).
pub fn wrap_tmk_for(holder: &str, pin: &[u8], tmk: &Tmk, cost: KdfCost) -> Result<PinRecord> {
    let mut salt = vec![0u8; 16];
    rng::fill(&mut salt).map_err(|_| Error::GeneralError)?;
    let kek = kdf::pin_kek(pin, &salt, cost.memory_kib, cost.iterations)
        .map_err(|_| Error::GeneralError)?;
    let wrapped = SealKey::new(&*kek)
        .and_then(|k| k.seal(&*tmk.0, &tmk_aad(holder)))
        .map_err(|_| Error::GeneralError)?;
    Ok(PinRecord {
        salt,
        memory_kib: cost.memory_kib,
        iterations: cost.iterations,
        wrapped_tmk: wrapped,
        failures: 0,
    })
}

/// [`unwrap_tmk`] for any holder. CKR_PIN_INCORRECT if the PIN is wrong (the GCM tag check
/// is the constant-time comparison).
pub fn unwrap_tmk_for(holder: &str, pin: &[u8], rec: &PinRecord) -> Result<Tmk> {
    let kek = kdf::pin_kek(pin, &rec.salt, rec.memory_kib, rec.iterations)
        .map_err(|_| Error::DeviceError)?;
    let key = SealKey::new(&*kek).map_err(|_| Error::GeneralError)?;
    let plain = key
        .open(&rec.wrapped_tmk, &tmk_aad(holder))
        .map_err(|_| Error::PinIncorrect)?;
    let bytes: [u8; 32] = plain
        .as_slice()
        .try_into()
        .map_err(|_| Error::DeviceError)?;
    Ok(Tmk(Zeroizing::new(bytes)))
}

/// Seals and opens object records with the key derived from the TMK.
#[derive(Debug)]
pub struct Sealer(SealKey);

/// Attributes that stay readable for private objects (everything else is sealed).
const PRIVATE_CLEAR: [CK_ATTRIBUTE_TYPE; 3] = [CKA_CLASS, CKA_TOKEN, CKA_PRIVATE];

fn aad(uid: &str, clear: &[u8]) -> Vec<u8> {
    [
        b"keyward/v1/object/".as_slice(),
        uid.as_bytes(),
        b"/",
        clear,
    ]
    .concat()
}

impl Sealer {
    /// Split an object into clear and sealed parts. Private objects keep only their class
    /// and visibility flags in clear; public ones seal just their key material.
    pub fn seal(&self, uid: &str, obj: &Object) -> Result<StoredObject> {
        let private = obj.is_private();
        let shape = obj.shape();
        let (clear, secret) = obj.attrs().partition(|t| {
            if private {
                !PRIVATE_CLEAR.contains(&t)
            } else {
                rules::is_secret(shape, t)
            }
        });
        let clear = clear.to_cbor()?.to_vec();
        let sealed = if secret.is_empty() {
            None
        } else {
            let plain = secret.to_cbor()?;
            Some(
                self.0
                    .seal(&plain, &aad(uid, &clear))
                    .map_err(|_| Error::GeneralError)?,
            )
        };
        Ok(StoredObject {
            uid: uid.to_owned(),
            generation: 0,
            private,
            clear,
            sealed,
        })
    }

    /// Rebuild the attributes. CKR_DEVICE_ERROR if the record was altered in any way.
    pub fn open(&self, stored: &StoredObject) -> Result<Attributes> {
        let mut attrs = Attributes::from_cbor(&stored.clear)?;
        if let Some(sealed) = &stored.sealed {
            let plain = self
                .0
                .open(sealed, &aad(&stored.uid, &stored.clear))
                .map_err(|_| Error::DeviceError)?;
            attrs.extend(&Attributes::from_cbor(&plain)?);
        }
        if attrs.flag(CKA_PRIVATE) != stored.private {
            return Err(Error::DeviceError);
        }
        Ok(attrs)
    }
}

/// The stored form of `obj`: sealed when a sealer is at hand; without one (nobody logged in)
/// only objects with nothing to seal can be stored, else CKR_USER_NOT_LOGGED_IN.
pub fn store_form(sealer: Option<&Sealer>, uid: &str, obj: &Object) -> Result<StoredObject> {
    if let Some(sealer) = sealer {
        return sealer.seal(uid, obj);
    }
    let shape = obj.shape();
    if obj.is_private() || obj.attrs().types().any(|t| rules::is_secret(shape, t)) {
        return Err(Error::UserNotLoggedIn);
    }
    let clear = obj.attrs().to_cbor()?.to_vec();
    Ok(StoredObject {
        uid: uid.to_owned(),
        generation: 0,
        private: false,
        clear,
        sealed: None,
    })
}

/// Attributes readable without the TMK: public objects without key material. `None` for
/// records that need a login to open.
pub fn open_public(stored: &StoredObject) -> Result<Option<Attributes>> {
    if stored.private || stored.sealed.is_some() {
        return Ok(None);
    }
    let attrs = Attributes::from_cbor(&stored.clear)?;
    if attrs.flag(CKA_PRIVATE) {
        return Err(Error::DeviceError);
    }
    Ok(Some(attrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cost() -> KdfCost {
        KdfCost {
            memory_kib: 64,
            iterations: 1,
        }
    }

    #[test]
    fn tmk_round_trips_only_with_the_right_pin() {
        let tmk = Tmk::generate().unwrap();
        let rec = wrap_tmk(Who::User, b"1234", &tmk, cost()).unwrap();
        assert_eq!(*unwrap_tmk(Who::User, b"1234", &rec).unwrap().0, *tmk.0);
        assert_eq!(
            unwrap_tmk(Who::User, b"4321", &rec).unwrap_err(),
            Error::PinIncorrect
        );
        assert_eq!(
            unwrap_tmk(Who::So, b"1234", &rec).unwrap_err(),
            Error::PinIncorrect
        );
    }

    fn secret_key(private: bool) -> Object {
        let mut a = Attributes::new();
        a.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
        a.set_ulong(CKA_KEY_TYPE, CKK_AES);
        a.set_bool(CKA_PRIVATE, private);
        a.set_bool(CKA_EXTRACTABLE, false);
        a.set(CKA_VALUE, vec![0xAB; 32]);
        Object::new(a).unwrap()
    }

    #[test]
    fn key_material_never_appears_in_clear_and_tampering_is_detected() {
        let sealer = Tmk::generate().unwrap().sealer().unwrap();
        for private in [true, false] {
            let stored = sealer.seal("uid-1", &secret_key(private)).unwrap();
            assert!(!stored.clear.windows(32).any(|w| w == [0xAB; 32]));
            assert_eq!(
                sealer.open(&stored).unwrap().get(CKA_VALUE),
                Some(&[0xAB; 32][..])
            );
            let mut moved = stored.clone();
            moved.uid = "uid-2".into();
            assert_eq!(sealer.open(&moved).unwrap_err(), Error::DeviceError);
        }
        // Flipping CKA_EXTRACTABLE in the clear part of a public secret key breaks the seal.
        let stored = sealer.seal("u", &secret_key(false)).unwrap();
        let mut attrs = Attributes::from_cbor(&stored.clear).unwrap();
        attrs.set_bool(CKA_EXTRACTABLE, true);
        let forged = StoredObject {
            clear: attrs.to_cbor().unwrap().to_vec(),
            ..stored
        };
        assert_eq!(sealer.open(&forged).unwrap_err(), Error::DeviceError);
    }
}
