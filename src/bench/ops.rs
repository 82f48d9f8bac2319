//! The operations `keyward bench` measures, as data: an id (for `--only`), a title (for the
//! table) and an [`Action`] that says what one iteration does.

use cryptoki::mechanism::MechanismType;
use serde::Serialize;

use super::{BenchError, Result};

/// Where a key lives: on the token (a stored object) or in the session (memory only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Store {
    /// `CKA_TOKEN = true`.
    Token,
    /// `CKA_TOKEN = false`.
    Session,
}

impl Store {
    /// `token` or `session`.
    pub fn name(self) -> &'static str {
        match self {
            Store::Token => "token",
            Store::Session => "session",
        }
    }
}

/// The keys the bench generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum KeyKind {
    /// RSA, 2048-bit modulus, e = 65537.
    Rsa2048,
    /// RSA, 3072-bit modulus, e = 65537.
    Rsa3072,
    /// ECDSA on NIST P-256.
    P256,
    /// ECDSA on NIST P-384.
    P384,
    /// Ed25519.
    Ed25519,
    /// AES-256.
    Aes256,
    /// A 32-byte generic secret for HMAC.
    HmacSecret,
}

/// A mechanism, independent of any module's constants table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Mech {
    /// CKM_SHA256_RSA_PKCS.
    RsaPkcs1Sha256,
    /// CKM_SHA256_RSA_PKCS_PSS (MGF1-SHA-256, 32-byte salt).
    RsaPssSha256,
    /// CKM_ECDSA_SHA256.
    EcdsaSha256,
    /// CKM_ECDSA_SHA384.
    EcdsaSha384,
    /// CKM_ECDSA on a digest the caller computed (SHA-256 for P-256, SHA-384 for P-384), for
    /// modules without the hash-and-sign mechanisms (SoftHSM 2.6).
    EcdsaPrehashed,
    /// CKM_EDDSA (pure Ed25519).
    Eddsa,
    /// CKM_AES_GCM (12-byte IV, 128-bit tag).
    AesGcm,
    /// CKM_AES_CBC (no padding).
    AesCbc,
    /// CKM_SHA256_HMAC.
    HmacSha256,
}

impl Mech {
    /// The PKCS#11 mechanism type.
    pub fn mechanism_type(self) -> MechanismType {
        match self {
            Mech::RsaPkcs1Sha256 => MechanismType::SHA256_RSA_PKCS,
            Mech::RsaPssSha256 => MechanismType::SHA256_RSA_PKCS_PSS,
            Mech::EcdsaSha256 => MechanismType::ECDSA_SHA256,
            Mech::EcdsaSha384 => MechanismType::ECDSA_SHA384,
            Mech::EcdsaPrehashed => MechanismType::ECDSA,
            Mech::Eddsa => MechanismType::EDDSA,
            Mech::AesGcm => MechanismType::AES_GCM,
            Mech::AesCbc => MechanismType::AES_CBC,
            Mech::HmacSha256 => MechanismType::SHA256_HMAC,
        }
    }
}

/// How a find operation looks its object up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum FindBy {
    /// A template of one `CKA_ID`.
    Id,
    /// A template of one `CKA_LABEL`.
    Label,
}

/// What one iteration of an operation does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Action {
    /// `C_SignInit` + `C_Sign` of `len` bytes (signatures and MACs).
    Sign {
        key: KeyKind,
        mech: Mech,
        len: usize,
    },
    /// `C_VerifyInit` + `C_Verify` of a signature over `len` bytes.
    Verify {
        key: KeyKind,
        mech: Mech,
        len: usize,
    },
    /// `C_EncryptInit` + `C_Encrypt` of `len` bytes.
    Encrypt {
        key: KeyKind,
        mech: Mech,
        len: usize,
    },
    /// `C_DigestInit` + `C_Digest` (SHA-256) of `len` bytes.
    Digest { len: usize },
    /// `C_GenerateKeyPair` (the pairs are destroyed after the measurement).
    GenerateKeyPair { key: KeyKind },
    /// `C_FindObjectsInit` + `C_FindObjects` + `C_FindObjectsFinal` for one of `population`
    /// token objects, each lookup a different object.
    Find { by: FindBy, population: usize },
    /// `C_OpenSession` + `C_Login` + `C_CloseSession`, with no other session open.
    Login,
    /// `C_CreateObject` of a small token secret key (destroyed after the measurement).
    CreateObject,
}

impl Action {
    /// The key this action uses, if it uses one the bench sets up beforehand.
    pub fn key(&self) -> Option<KeyKind> {
        match *self {
            Action::Sign { key, .. } | Action::Verify { key, .. } | Action::Encrypt { key, .. } => {
                Some(key)
            }
            _ => None,
        }
    }

    /// How many token objects must exist for this action (finds only).
    pub fn population(&self) -> Option<usize> {
        match *self {
            Action::Find { population, .. } => Some(population),
            _ => None,
        }
    }

    /// Whether this action can only run on one thread (login state is per application).
    pub fn single_threaded(&self) -> bool {
        matches!(self, Action::Login)
    }

    /// Every mechanism the module must list for this action (the operation's and its key's
    /// generation mechanism).
    pub fn mechanisms(&self) -> Vec<MechanismType> {
        let keygen = |k: KeyKind| match k {
            KeyKind::Rsa2048 | KeyKind::Rsa3072 => MechanismType::RSA_PKCS_KEY_PAIR_GEN,
            KeyKind::P256 | KeyKind::P384 => MechanismType::ECC_KEY_PAIR_GEN,
            KeyKind::Ed25519 => MechanismType::ECC_EDWARDS_KEY_PAIR_GEN,
            KeyKind::Aes256 => MechanismType::AES_KEY_GEN,
            KeyKind::HmacSecret => MechanismType::GENERIC_SECRET_KEY_GEN,
        };
        match *self {
            Action::Sign { key, mech, .. }
            | Action::Verify { key, mech, .. }
            | Action::Encrypt { key, mech, .. } => vec![mech.mechanism_type(), keygen(key)],
            Action::Digest { .. } => vec![MechanismType::SHA256],
            Action::GenerateKeyPair { key } => vec![keygen(key)],
            Action::Find { .. } | Action::Login | Action::CreateObject => Vec::new(),
        }
    }
}

/// One row of the benchmark.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpSpec {
    /// Stable name, e.g. `rsa2048-pkcs1-sign/token` (what `--only` matches).
    pub id: String,
    /// Human title, e.g. `RSA-2048 sign PKCS#1 v1.5 [token]`.
    pub title: String,
    /// What one iteration does.
    pub action: Action,
    /// Where the key lives (none for operations without a key of their own).
    pub store: Option<Store>,
}

/// Adds an operation once per key store, or once without one.
struct Catalogue(Vec<OpSpec>);

impl Catalogue {
    fn both(&mut self, id: &str, title: &str, action: Action) {
        for store in [Store::Token, Store::Session] {
            self.0.push(OpSpec {
                id: format!("{id}/{}", store.name()),
                title: format!("{title} [{}]", store.name()),
                action,
                store: Some(store),
            });
        }
    }

    fn one(&mut self, id: &str, title: &str, action: Action, store: Option<Store>) {
        self.0.push(OpSpec {
            id: id.into(),
            title: title.into(),
            action,
            store,
        });
    }
}

/// Bytes signed, MACed or verified per signature operation.
pub const SIGN_LEN: usize = 64;

/// Every operation, in the order the bench runs them (finds last: they need thousands of
/// objects, created before the first find and removed when the module is closed).
pub fn catalogue() -> Vec<OpSpec> {
    let mut c = Catalogue(Vec::new());
    c.signatures();
    c.symmetric();
    c.management();
    c.0
}

impl Catalogue {
    /// RSA, ECDSA and Ed25519 signatures and verifications.
    fn signatures(&mut self) {
        use KeyKind::*;
        let len = SIGN_LEN;
        for (key, bits) in [(Rsa2048, "2048"), (Rsa3072, "3072")] {
            for (mech, m, mt) in [
                (Mech::RsaPkcs1Sha256, "pkcs1", "PKCS#1 v1.5"),
                (Mech::RsaPssSha256, "pss", "PSS"),
            ] {
                let (id, title) = (format!("rsa{bits}-{m}"), format!("RSA-{bits}"));
                let sign = Action::Sign { key, mech, len };
                self.both(&format!("{id}-sign"), &format!("{title} sign {mt}"), sign);
                let verify = Action::Verify { key, mech, len };
                self.both(
                    &format!("{id}-verify"),
                    &format!("{title} verify {mt}"),
                    verify,
                );
            }
        }
        for (key, curve, id, mech) in [
            (P256, "P-256", "p256", Mech::EcdsaSha256),
            (P384, "P-384", "p384", Mech::EcdsaSha384),
        ] {
            for (mech, m, mt) in [
                (mech, "", ""),
                (
                    Mech::EcdsaPrehashed,
                    "-prehashed",
                    ", CKM_ECDSA on the caller's hash",
                ),
            ] {
                let (sign, verify) = (
                    Action::Sign { key, mech, len },
                    Action::Verify { key, mech, len },
                );
                self.both(
                    &format!("{id}{m}-sign"),
                    &format!("ECDSA {curve} sign{mt}"),
                    sign,
                );
                self.both(
                    &format!("{id}{m}-verify"),
                    &format!("ECDSA {curve} verify{mt}"),
                    verify,
                );
            }
        }
        let mech = Mech::Eddsa;
        self.both(
            "ed25519-sign",
            "Ed25519 sign",
            Action::Sign {
                key: Ed25519,
                mech,
                len,
            },
        );
    }

    /// AES, HMAC and SHA-256.
    fn symmetric(&mut self) {
        let key = KeyKind::Aes256;
        for (len, size) in [(16, "16"), (4096, "4k"), (65536, "64k")] {
            let title = format!("AES-256-GCM encrypt {}", human_size(len));
            let mech = Mech::AesGcm;
            self.both(
                &format!("aes-gcm-{size}"),
                &title,
                Action::Encrypt { key, mech, len },
            );
        }
        let (mech, len) = (Mech::AesCbc, 4096);
        let cbc = Action::Encrypt { key, mech, len };
        self.both("aes-cbc-4k", "AES-256-CBC encrypt 4 KiB", cbc);
        let (key, mech, len) = (KeyKind::HmacSecret, Mech::HmacSha256, 64);
        self.both(
            "hmac-sha256-64",
            "HMAC-SHA256 64 B",
            Action::Sign { key, mech, len },
        );
        let digest = Action::Digest { len: 16384 };
        self.one("sha256-16k", "SHA-256 digest 16 KiB", digest, None);
    }

    /// Key generation, object creation, login and object search.
    fn management(&mut self) {
        let keygen = |key| Action::GenerateKeyPair { key };
        self.both(
            "rsa2048-keygen",
            "RSA-2048 key pair generation",
            keygen(KeyKind::Rsa2048),
        );
        self.both(
            "p256-keygen",
            "P-256 key pair generation",
            keygen(KeyKind::P256),
        );
        let token = Some(Store::Token);
        self.one(
            "create-object/token",
            "C_CreateObject [token]",
            Action::CreateObject,
            token,
        );
        let login = "C_OpenSession+C_Login+C_CloseSession";
        self.one("login", login, Action::Login, None);
        for (population, n) in [(1000, "1k"), (10_000, "10k")] {
            let among = format!("among {} objects", thousands(population as u64));
            for (by, what, attr) in [
                (FindBy::Id, "id", "CKA_ID"),
                (FindBy::Label, "label", "label"),
            ] {
                let title = format!("C_FindObjects by {attr} {among}");
                self.one(
                    &format!("find-{what}-{n}"),
                    &title,
                    Action::Find { by, population },
                    token,
                );
            }
        }
    }
}

/// The operations `only` names (ids or id prefixes), in catalogue order; all when `only` is
/// empty. A name that matches nothing is an error listing the ids.
pub fn select(all: &[OpSpec], only: &[String]) -> Result<Vec<OpSpec>> {
    if let Some(bad) = only
        .iter()
        .find(|name| !all.iter().any(|s| s.id.starts_with(name.as_str())))
    {
        let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        return Err(BenchError(format!(
            "no operation is named {bad:?}; the operations are: {}",
            ids.join(", ")
        )));
    }
    Ok(all
        .iter()
        .filter(|s| only.is_empty() || only.iter().any(|n| s.id.starts_with(n.as_str())))
        .cloned()
        .collect())
}

/// `16 B`, `4 KiB`, `64 KiB`.
pub fn human_size(len: usize) -> String {
    if len >= 1024 && len.is_multiple_of(1024) {
        format!("{} KiB", len / 1024)
    } else {
        format!("{len} B")
    }
}

/// `10000` → `10,000`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique() {
        let all = catalogue();
        let mut ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), all.len());
    }

    #[test]
    fn only_selects_by_prefix_in_catalogue_order() {
        let all = catalogue();
        let only = vec!["hmac".to_string(), "rsa2048-pkcs1-sign/token".to_string()];
        let picked: Vec<String> = select(&all, &only)
            .unwrap()
            .into_iter()
            .map(|s| s.id)
            .collect();
        assert_eq!(
            picked,
            [
                "rsa2048-pkcs1-sign/token",
                "hmac-sha256-64/token",
                "hmac-sha256-64/session"
            ]
        );
    }

    #[test]
    fn unknown_name_is_an_error() {
        let err = select(&catalogue(), &["rsa1024".to_string()]).unwrap_err();
        assert!(err.0.contains("rsa1024"));
    }

    #[test]
    fn finds_come_last_and_grow() {
        let all = catalogue();
        let first_find = all
            .iter()
            .position(|s| s.action.population().is_some())
            .unwrap();
        assert!(all[first_find..]
            .iter()
            .all(|s| s.action.population().is_some()));
        let sizes: Vec<usize> = all.iter().filter_map(|s| s.action.population()).collect();
        assert!(sizes.windows(2).all(|w| w[0] <= w[1]));
    }

    #[test]
    fn formats_sizes_and_thousands() {
        assert_eq!(human_size(16), "16 B");
        assert_eq!(human_size(65536), "64 KiB");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(10_000), "10,000");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
