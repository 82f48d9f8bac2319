//! `keyward migrate softhsm TOKEN_DIR`: a SoftHSMv2 token's objects, with their keys, made
//! again in a Keyward token.
//!
//! Keys SoftHSM generates are sensitive and never extractable, so no PKCS#11 call can take
//! them out. The token's files can be read, though: with the token's PIN they decrypt
//! ([`files`] for the layout, [`secure`] for the key derivation and encryption), and
//! [`convert`] turns each object into the template Keyward's C_CreateObject takes — the
//! same provider path `keyward key import` uses, logged in as the user (or `--user`, a key
//! manager). The source directory is only ever read.

mod convert;
mod files;
mod secure;

use std::path::{Path, PathBuf};

use cryptoki_sys::*;

pub use convert::What;

use super::Admin;
use crate::error::Error;
use crate::object::{key, template, Attributes};
use convert::Candidate;
use secure::TokenKey;

/// An object ready to be made, or what is known of it and why it cannot be.
type Converted = Result<Candidate, (What, String)>;

/// A SoftHSM token directory, opened with one of its PINs.
pub struct SoftHsmToken {
    dir: PathBuf,
    pub label: String,
    pub serial: String,
    key: TokenKey,
}

/// What happened to one object.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    Migrated,
    /// `--dry-run`: it would be migrated.
    WouldMigrate,
    /// An object of the same class, label and CKA_ID is in the Keyward token already.
    AlreadyThere,
    /// It could not be migrated; the reason says why.
    Skipped,
}

/// One line of the report.
#[derive(Debug, serde::Serialize)]
pub struct Moved {
    /// The SoftHSM object file.
    pub file: String,
    pub outcome: Outcome,
    #[serde(flatten)]
    pub what: What,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What of the object was not carried over.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

impl SoftHsmToken {
    /// Open the token in `dir` with `pin` (its user PIN; its SO PIN opens it too).
    /// Errors say what to do: a database-backed token, the token directory's parent, a
    /// PIN that opens neither key blob.
    pub fn open(dir: &Path, pin: &[u8]) -> Result<Self, String> {
        if !dir.is_dir() {
            return Err(format!("{} is not a directory", dir.display()));
        }
        if dir.join("sqlite3.db").exists() {
            return Err(format!(
                "{} is a SoftHSM token in the database object store (objectstore.backend = db), \
                 which keyward migrate does not read; only the file object store is supported",
                dir.display()
            ));
        }
        if !dir.join("token.object").is_file() {
            return Err(not_a_token(dir));
        }
        let token = files::read_token(dir)?;
        let blobs = [token.user_blob.as_deref(), token.so_blob.as_deref()];
        if blobs.iter().all(Option::is_none) {
            return Err(format!(
                "the SoftHSM token in {} is not initialised",
                dir.display()
            ));
        }
        let key = blobs
            .into_iter()
            .flatten()
            .find_map(|blob| TokenKey::unlock(blob, pin))
            .ok_or_else(|| {
                format!(
                    "the PIN does not open the SoftHSM token {:?} in {} (it is neither its \
                     user PIN nor its SO PIN); nothing was migrated",
                    token.label,
                    dir.display()
                )
            })?;
        Ok(Self {
            dir: dir.to_path_buf(),
            label: token.label,
            serial: token.serial,
            key,
        })
    }

    /// Every object, decrypted and converted (or why not), keys first, then certificates
    /// and data; by label and id within each class.
    fn objects(&self) -> Result<Vec<(String, Converted)>, String> {
        let mut out = Vec::new();
        for path in files::object_files(&self.dir)? {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let candidate = std::fs::read(&path)
                .map(zeroize::Zeroizing::new)
                .map_err(|e| e.to_string())
                .and_then(|bytes| files::parse(&bytes))
                .map_err(|e| (What::unknown(), format!("unreadable object file: {e}")))
                .and_then(|stored| convert::candidate(stored, &self.key));
            out.push((name, candidate));
        }
        let rank = |c: &'static str| {
            ["private", "public", "secret", "certificate", "data"]
                .iter()
                .position(|&n| n == c)
                .unwrap_or(9)
        };
        out.sort_by_cached_key(|(file, c)| {
            let what = match c {
                Ok(c) => &c.what,
                Err((what, _)) => what,
            };
            (
                rank(what.class),
                what.label.clone(),
                what.id.clone(),
                file.clone(),
            )
        });
        Ok(out)
    }
}

/// The error for a directory without `token.object`: perhaps SoftHSM's tokendir itself.
fn not_a_token(dir: &Path) -> String {
    let tokens: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("token.object").is_file() || p.join("sqlite3.db").is_file())
        .map(|p| {
            let label = files::read_token(&p).map(|t| t.label).unwrap_or_default();
            format!("{} ({label:?})", p.display())
        })
        .collect();
    if tokens.is_empty() {
        return format!(
            "{} holds no SoftHSM token (no token.object): give the token's own directory, \
             directories.tokendir/<uuid>",
            dir.display()
        );
    }
    format!(
        "{} is SoftHSM's token directory; give one token's directory: {}",
        dir.display(),
        tokens.join(", ")
    )
}

impl Admin {
    /// Make every object of `source` in `slot`'s token (logged in with `pin` as the user or
    /// the named user), one report line per object; with `dry_run` nothing is made.
    /// Objects already there (same class, label and CKA_ID) are left alone, so a second
    /// run is safe. Errors: the slot or the login (nothing is made then). `progress(done,
    /// total)` is called after each object.
    pub fn migrate_softhsm(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        source: &SoftHsmToken,
        dry_run: bool,
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Moved>, String> {
        let objects = source.objects()?;
        let p = &self.provider;
        let flags = match dry_run {
            true => CKF_SERIAL_SESSION,
            false => CKF_SERIAL_SESSION | CKF_RW_SESSION,
        };
        let h = p.open_session(slot, flags).map_err(|e| {
            format!(
                "no session on Keyward slot {slot}: {} (is its token initialised? keyward init)",
                e.ckr_name()
            )
        })?;
        let r = self
            .login(h, CKU_USER, pin)
            .map_err(|e| format!("cannot log in to the Keyward token: {}", e.ckr_name()));
        let total = objects.len();
        let r = r.map(|()| {
            (1..)
                .zip(objects)
                .map(|(done, (file, c))| {
                    let moved = match c {
                        Ok(c) => self.migrate_one(h, file, c, dry_run),
                        Err((what, reason)) => Moved {
                            file,
                            outcome: Outcome::Skipped,
                            what,
                            reason: Some(reason),
                            notes: Vec::new(),
                        },
                    };
                    progress(done, total);
                    moved
                })
                .collect()
        });
        let _ = p.close_session(h);
        r
    }

    fn migrate_one(
        &self,
        h: CK_SESSION_HANDLE,
        file: String,
        c: Candidate,
        dry_run: bool,
    ) -> Moved {
        let result = match self.already_there(h, &c.template) {
            Ok(true) => Ok(Outcome::AlreadyThere),
            Ok(false) if dry_run => would_create(&c.template).map(|()| Outcome::WouldMigrate),
            Ok(false) => self
                .provider
                .create_object(h, &c.template)
                .map(|_| Outcome::Migrated),
            Err(e) => Err(e),
        };
        let (outcome, reason) = match result {
            Ok(outcome) => (outcome, None),
            Err(e) => (Outcome::Skipped, Some(refusal(e))),
        };
        Moved {
            file,
            outcome,
            what: c.what,
            reason,
            notes: c.notes,
        }
    }

    /// Whether an object of the template's class with its label and CKA_ID is visible.
    fn already_there(&self, h: CK_SESSION_HANDLE, t: &Attributes) -> crate::error::Result<bool> {
        let mut find = Attributes::new();
        for ty in [CKA_CLASS, CKA_LABEL, CKA_ID] {
            if let Some(v) = t.get(ty) {
                find.set(ty, v.to_vec());
            }
        }
        let p = &self.provider;
        p.find_init(h, &find)?;
        let found = p.find_next(h, 1);
        p.find_final(h)?;
        Ok(!found?.is_empty())
    }
}

/// The checks C_CreateObject makes on a template, without making the object.
fn would_create(t: &Attributes) -> crate::error::Result<()> {
    let shape = template::shape_of(t, None, None)?;
    let mut attrs = template::new_object(shape, t, template::Origin::Create, false)?;
    key::complete_import(shape, &mut attrs)
}

fn refusal(e: Error) -> String {
    let hint = match e {
        Error::AttributeValueInvalid => " (key material or a value Keyward's policy refuses)",
        Error::AttributeTypeInvalid | Error::TemplateInconsistent => {
            " (an attribute Keyward does not accept on this object)"
        }
        Error::UserNotLoggedIn | Error::ActionProhibited => " (this user may not create it)",
        _ => "",
    };
    format!("Keyward refused it: {}{hint}", e.ckr_name())
}
