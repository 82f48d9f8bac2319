//! The keys the bench generates on a module: templates per [`KeyKind`], on the token or in
//! the session, all labelled `bench-*`.

use cryptoki::error::Result as P11Result;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, ObjectHandle};
use cryptoki::session::Session;

use super::ops::{KeyKind, Store};

/// DER OID of NIST P-256 (`CKA_EC_PARAMS`).
const P256_OID: [u8; 10] = [0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER OID of NIST P-384.
const P384_OID: [u8; 7] = [0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// DER OID 1.3.101.112 (id-Ed25519).
const ED25519_OID: [u8; 5] = [0x06, 0x03, 0x2b, 0x65, 0x70];
/// Every label the bench gives an object starts with this (leftovers are swept at start).
pub(crate) const LABEL_PREFIX: &str = "bench-";

/// A generated key: for a secret key both handles are the same object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    /// The private or secret key (signs, encrypts).
    pub(crate) private: ObjectHandle,
    /// The public key (verifies), or the secret key again.
    pub(crate) public: ObjectHandle,
}

impl Key {
    /// The distinct objects, for destruction.
    pub(crate) fn objects(&self) -> Vec<ObjectHandle> {
        if self.private == self.public {
            vec![self.private]
        } else {
            vec![self.private, self.public]
        }
    }
}

/// The label of a bench key: `bench-p256-token`.
pub(crate) fn label(kind: KeyKind, store: Store) -> String {
    format!("{LABEL_PREFIX}{kind:?}-{}", store.name()).to_lowercase()
}

/// Generate a key of `kind` on `session`, stored as `store` says, labelled `label`.
pub(crate) fn generate(
    session: &Session,
    kind: KeyKind,
    store: Store,
    label: &str,
) -> P11Result<Key> {
    let common = |usage: Attribute| {
        vec![
            Attribute::Token(store == Store::Token),
            Attribute::Label(label.as_bytes().to_vec()),
            usage,
        ]
    };
    let private = |usage: Attribute| {
        let mut t = common(usage);
        t.extend([Attribute::Private(true), Attribute::Sensitive(true)]);
        t
    };
    let pair = |mech: Mechanism, public_extra: Vec<Attribute>| -> P11Result<Key> {
        let mut public = common(Attribute::Verify(true));
        public.extend(public_extra);
        let (public, private) =
            session.generate_key_pair(&mech, &public, &private(Attribute::Sign(true)))?;
        Ok(Key { private, public })
    };
    let rsa = |bits: u64| {
        vec![
            Attribute::ModulusBits(bits.into()),
            Attribute::PublicExponent(vec![1, 0, 1]),
        ]
    };
    match kind {
        KeyKind::Rsa2048 => pair(Mechanism::RsaPkcsKeyPairGen, rsa(2048)),
        KeyKind::Rsa3072 => pair(Mechanism::RsaPkcsKeyPairGen, rsa(3072)),
        KeyKind::P256 => pair(
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(P256_OID.to_vec())],
        ),
        KeyKind::P384 => pair(
            Mechanism::EccKeyPairGen,
            vec![Attribute::EcParams(P384_OID.to_vec())],
        ),
        KeyKind::Ed25519 => pair(
            Mechanism::EccEdwardsKeyPairGen,
            vec![Attribute::EcParams(ED25519_OID.to_vec())],
        ),
        KeyKind::Aes256 => {
            let mut t = private(Attribute::Encrypt(true));
            t.push(Attribute::ValueLen(32.into()));
            let key = session.generate_key(&Mechanism::AesKeyGen, &t)?;
            Ok(Key {
                private: key,
                public: key,
            })
        }
        KeyKind::HmacSecret => {
            let mut t = private(Attribute::Sign(true));
            t.extend([Attribute::Verify(true), Attribute::ValueLen(32.into())]);
            let key = session.generate_key(&Mechanism::GenericSecretKeyGen, &t)?;
            Ok(Key {
                private: key,
                public: key,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_carry_the_prefix_kind_and_store() {
        assert_eq!(label(KeyKind::P256, Store::Token), "bench-p256-token");
        assert_eq!(
            label(KeyKind::HmacSecret, Store::Session),
            "bench-hmacsecret-session"
        );
        assert!(label(KeyKind::Rsa3072, Store::Session).starts_with(LABEL_PREFIX));
    }
}
