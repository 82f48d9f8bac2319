//! `keyward key ...` and `keyward rotate --due`: a key's versions, its lifecycle, rotation,
//! destruction (docs/lifecycle.md).

use std::path::{Path, PathBuf};

use clap::Subcommand;
use keyward::admin::lifecycle::{reason, Change, StateChanges, VersionState};
use keyward::admin::{Admin, Pin};
use keyward::error::Error;

use super::{read_pin, slot_of_uri};
use crate::advice;

#[derive(Subcommand)]
pub(crate) enum KeyCommand {
    /// The same listing as `keyward keys`.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Generate keys on the token (several with --count, with a progress bar on a terminal).
    Generate(super::transfer::GenerateArgs),
    /// Import private keys (with their public keys), certificates and public keys from PEM,
    /// DER or PKCS#12, or a raw AES/generic secret key (--raw).
    Import(super::transfer::ImportArgs),
    /// Print (or write) a key's public key as PEM (SubjectPublicKeyInfo).
    ExportPublic(super::transfer::ExportPublicArgs),
    /// Revoke a key: key-compromise and ca-compromise make every version compromised (no use
    /// at all), any other reason deactivates the versions still in use (verify and decrypt
    /// only) and records the reason on those already deactivated.
    Revoke {
        /// The key, as a PKCS#11 URI (pkcs11:token=T;object=LABEL or ;id=%01).
        uri: String,
        /// unspecified, key-compromise, ca-compromise, affiliation-changed, superseded,
        /// cessation-of-operation or privilege-withdrawn.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Show a key: every version (state, dates, reason, usage limit), and its tombstone if
    /// it was destroyed.
    Show {
        uri: String,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Destroy a key, in any state: every version's material is deleted; a tombstone (label,
    /// id, versions, dates, states, reasons) stays for `keyward key show`.
    Destroy {
        uri: String,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Rotate a key: its next version (new material, same attributes) becomes the one found
    /// first; the previous version is deactivated (it still verifies and decrypts).
    Rotate {
        uri: String,
        /// For a key pair: write a PEM certificate request for the new version, with the
        /// subject of the certificate that shares the key's CKA_ID.
        #[arg(long)]
        csr: Option<PathBuf>,
        /// For a key pair: write the new version's public key (PEM).
        #[arg(long)]
        public_key: Option<PathBuf>,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Suspend a key's active version: no protect operations until it is resumed.
    Suspend {
        uri: String,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Resume a key's suspended version.
    Resume {
        uri: String,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Activate a key's pre-active version.
    Activate {
        uri: String,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Deactivate a key's versions still in use: they still verify and decrypt, they no
    /// longer sign or encrypt.
    Deactivate {
        uri: String,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Show or set who may use a key (every version): --set 'user:alice=sign;role:operator=*'
    /// (classes: sign, encrypt, wrap, derive, or *), --clear for the default.
    Acl {
        uri: String,
        #[arg(long, conflicts_with = "clear")]
        set: Option<String>,
        #[arg(long)]
        clear: bool,
        /// One object per key object: its class and ACL ("" is the default).
        #[arg(long)]
        json: bool,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
}

/// The key a URI names, its slot and the user PIN.
fn key_and_pin(
    admin: &Admin,
    slot: u64,
    uri: &str,
    pin_file: Option<PathBuf>,
) -> Result<(keyward::admin::uri::KeyUri, u64, Pin), String> {
    let (key, slot) = slot_of_uri(admin, slot, uri)?;
    let pin = read_pin(pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?.ok_or("no PIN")?;
    Ok((key, slot, pin))
}

/// Write PEM `label` text of `der` to `path`.
fn write_pem(path: &Path, label: &'static str, der: Option<&Vec<u8>>) -> Result<(), String> {
    let der = der.ok_or("only a key pair has a public key and a CSR")?;
    let text = keyward::admin::lifecycle::pem(label, der).map_err(|e| e.to_string())?;
    std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()))
}

/// "version 2 private (active)".
fn describe(v: &VersionState) -> String {
    format!("version {} {} ({})", v.version, v.class, v.state)
}

/// Every `keyward key` subcommand but `list` (which `keyward keys` shares).
pub(crate) fn run(admin: &Admin, slot: u64, action: KeyCommand) -> Result<(), String> {
    let (uri, change, pin_file) = match action {
        KeyCommand::List { .. }
        | KeyCommand::Generate(_)
        | KeyCommand::Import(_)
        | KeyCommand::ExportPublic(_) => return Err("handled before the lifecycle commands".into()),
        KeyCommand::Rotate {
            uri,
            csr,
            public_key,
            pin_file,
        } => return rotate(admin, slot, &uri, csr, public_key, pin_file),
        KeyCommand::Show {
            uri,
            json,
            pin_file,
        } => return show(admin, slot, &uri, json, pin_file),
        KeyCommand::Destroy { uri, pin_file } => return destroy(admin, slot, &uri, pin_file),
        KeyCommand::Acl {
            uri,
            set,
            clear,
            json,
            pin_file,
        } => {
            let change = super::users::AclChange { set, clear, json };
            return super::users::acl(admin, slot, &uri, change, pin_file);
        }
        KeyCommand::Revoke {
            uri,
            reason: r,
            pin_file,
        } => {
            let code = reason(&r).ok_or_else(|| format!("unknown revocation reason {r:?}"))?;
            (uri, Change::Revoke(code), pin_file)
        }
        KeyCommand::Suspend { uri, pin_file } => (uri, Change::Suspend, pin_file),
        KeyCommand::Resume { uri, pin_file } => (uri, Change::Resume, pin_file),
        KeyCommand::Activate { uri, pin_file } => (uri, Change::Activate, pin_file),
        KeyCommand::Deactivate { uri, pin_file } => (uri, Change::Deactivate, pin_file),
    };
    change_state(admin, slot, &uri, change, pin_file)
}

/// `keyward key suspend|resume|activate|deactivate|revoke URI`: the change goes to every
/// version it applies to; it is an error only if it applies to none (then nothing changed).
fn change_state(
    admin: &Admin,
    slot: u64,
    uri: &str,
    change: Change,
    pin_file: Option<PathBuf>,
) -> Result<(), String> {
    let (key, slot, pin) = key_and_pin(admin, slot, uri, pin_file)?;
    let StateChanges { changed, skipped } =
        admin
            .change_state(slot, &key, change, &pin)
            .map_err(|e| match e {
                Error::KeyHandleInvalid => format!("no key matches {uri}"),
                Error::AttributeValueInvalid => {
                    format!(
                        "{uri}: the lifecycle does not allow that change (see docs/lifecycle.md)"
                    )
                }
                other => format!("{uri}: {}", advice::describe(&other)),
            })?;
    if changed.is_empty() {
        let states: Vec<String> = skipped.iter().map(describe).collect();
        return Err(format!(
            "{uri}: no version can be {}: {} (see docs/lifecycle.md); nothing changed",
            change.done(),
            states.join(", ")
        ));
    }
    let to = keyward::admin::lifecycle::state_name(change.target());
    for v in &changed {
        println!(
            "{} version {} {}: {} -> {to}",
            change.done(),
            v.version,
            v.class,
            v.state
        );
    }
    for v in &skipped {
        println!("unchanged {}", describe(v));
    }
    Ok(())
}

/// `keyward key rotate URI [--csr FILE] [--public-key FILE]`.
fn rotate(
    admin: &Admin,
    slot: u64,
    uri: &str,
    csr: Option<PathBuf>,
    public_key: Option<PathBuf>,
    pin_file: Option<PathBuf>,
) -> Result<(), String> {
    let (key, slot, pin) = key_and_pin(admin, slot, uri, pin_file)?;
    let done = admin
        .rotate(slot, &key, &pin, csr.is_some())
        .map_err(|e| match e {
            Error::KeyHandleInvalid => format!("no active key matches {uri}"),
            Error::TemplateIncomplete => format!(
                "{uri} was rotated, but no certificate with its CKA_ID names a subject for the CSR"
            ),
            other => format!("{uri}: {}", advice::describe(&other)),
        })?;
    println!(
        "rotated {} {uri}: version {} is now current",
        done.class, done.version
    );
    if let Some(path) = &public_key {
        write_pem(path, "PUBLIC KEY", done.public_key.as_ref())?;
        println!("new public key: {}", path.display());
    }
    if let Some(path) = &csr {
        write_pem(path, "CERTIFICATE REQUEST", done.csr.as_ref())?;
        println!("certificate request: {}", path.display());
    }
    Ok(())
}

/// A file name for a label: letters, digits, '.', '-' and '_' kept, anything else '_'.
fn file_stem(label: &str, key_id: &str) -> String {
    let stem: String = label
        .chars()
        .map(|c| match c {
            'a'..='z' | 'A'..='Z' | '0'..='9' | '.' | '-' | '_' => c,
            _ => '_',
        })
        .collect();
    match stem.trim_start_matches('.') {
        "" => key_id.to_owned(),
        s => s.to_owned(),
    }
}

/// `keyward rotate --due [--json] [--public-key-dir DIR]`: with DIR, each rotated key pair's
/// new public key goes to DIR/LABEL.vVERSION.pub.pem (PEM SubjectPublicKeyInfo).
pub(crate) fn rotate_due(
    admin: &Admin,
    slot: u64,
    json: bool,
    public_key_dir: Option<PathBuf>,
    pin_file: Option<PathBuf>,
) -> Result<(), String> {
    let pin = read_pin(pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?.ok_or("no PIN")?;
    let done = admin
        .rotate_due(slot, &pin)
        .map_err(|e| advice::describe(&e))?;
    let mut rows = Vec::new();
    for r in &done {
        let written = match (&public_key_dir, &r.public_key) {
            (Some(dir), Some(_)) => {
                let name = format!("{}.v{}.pub.pem", file_stem(&r.label, &r.key_id), r.version);
                let path = dir.join(name);
                write_pem(&path, "PUBLIC KEY", r.public_key.as_ref())?;
                Some(path)
            }
            _ => None,
        };
        if !json {
            println!(
                "rotated {} {:?}: version {} is now current",
                r.class, r.label, r.version
            );
            if let Some(p) = &written {
                println!("  new public key: {}", p.display());
            }
        }
        let mut row = serde_json::to_value(r).map_err(|e| e.to_string())?;
        if let Some(p) = &written {
            row["public_key_file"] = p.display().to_string().into();
        }
        rows.push(row);
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
        );
    } else if done.is_empty() {
        println!("no key is due for rotation");
    }
    Ok(())
}

/// `keyward key show URI [--json]`.
fn show(
    admin: &Admin,
    slot: u64,
    uri: &str,
    json: bool,
    pin_file: Option<PathBuf>,
) -> Result<(), String> {
    let (key, slot, pin) = key_and_pin(admin, slot, uri, pin_file)?;
    let report = admin
        .show(slot, &key, &pin)
        .map_err(|e| format!("{uri}: {}", advice::describe(&e)))?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    if report.versions.is_empty() && report.tombstones.is_empty() {
        return Err(format!("no key matches {uri}"));
    }
    if !report.versions.is_empty() {
        println!(
            "{:>7}  {:<8} {:<12} {:>11} {:>11} {:<10} {:<10} {:>6} {:>6}  REASON",
            "VERSION", "CLASS", "STATE", "CREATED", "CHANGED", "START", "END", "USES", "LIMIT"
        );
    }
    for v in &report.versions {
        println!(
            "{:>7}  {:<8} {:<12} {:>11} {:>11} {:<10} {:<10} {:>6} {:>6}  {}",
            v.version,
            v.class,
            v.state,
            v.created,
            v.state_changed,
            v.start_date,
            v.end_date,
            v.uses,
            v.usage_limit,
            v.revocation_reason
        );
    }
    for t in &report.tombstones {
        println!(
            "destroyed: {:?} (id {}, key id {}) after {} version(s), created {}, destroyed at {} \
             (Unix time); last state {} since {}, reason {}",
            t.label,
            t.id,
            t.key_id,
            t.versions,
            t.created,
            t.destroyed_at,
            t.state,
            t.state_changed,
            t.reason
        );
        for v in &t.history {
            println!(
                "  version {} {}: created {}, {} since {}, reason {}",
                v.version, v.class, v.created, v.state, v.state_changed, v.reason
            );
        }
    }
    Ok(())
}

/// `keyward key destroy URI`: it names the versions that were still in use.
fn destroy(admin: &Admin, slot: u64, uri: &str, pin_file: Option<PathBuf>) -> Result<(), String> {
    let (key, slot, pin) = key_and_pin(admin, slot, uri, pin_file)?;
    let done = admin.destroy(slot, &key, &pin).map_err(|e| match e {
        Error::KeyHandleInvalid => format!("no key matches {uri}"),
        other => format!("{uri}: {}", advice::describe(&other)),
    })?;
    for v in &done.in_use {
        println!("note: {} was still in use", describe(v));
    }
    println!(
        "destroyed {} key object(s) ({uri}); its tombstone remains for `keyward key show`",
        done.objects
    );
    Ok(())
}
