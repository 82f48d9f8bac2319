//! `keyward key import`, `keyward key export-public` and `keyward cert list|export`: keys
//! and certificates into and out of the token.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use keyward::admin::generate::{GenerateRequest, KeySpec};
use keyward::admin::import::{ImportOptions, Imported, RawKind};
use keyward::admin::{keyfile, Admin};
use zeroize::Zeroizing;

use super::progress::Bar;
use super::{read_pin, slot_of_uri};
use crate::advice::describe;

#[derive(Args)]
pub(crate) struct ImportArgs {
    /// PEM (private keys: PKCS#8, encrypted PKCS#8, RSA and EC; certificates; public keys),
    /// DER, PKCS#12 (.p12/.pfx), or with --raw the bytes of a secret key.
    file: PathBuf,
    /// CKA_LABEL of every object made (certificates after the first: LABEL-2, LABEL-3…).
    #[arg(long)]
    label: String,
    /// CKA_ID in hex (default: SHA-1 of the public key, so a certificate finds its key;
    /// secret keys: 8 random bytes).
    #[arg(long)]
    id: Option<String>,
    /// The file is a raw secret key of this type.
    #[arg(long, value_enum)]
    raw: Option<Raw>,
    /// Let the imported private or secret key be wrapped out of the token later
    /// (CKA_EXTRACTABLE; default: never).
    #[arg(long)]
    extractable: bool,
    /// File holding the password of a PKCS#12 file or encrypted key (else
    /// KEYWARD_IMPORT_PASSWORD, else a prompt).
    #[arg(long)]
    password_file: Option<PathBuf>,
    #[arg(long)]
    json: bool,
    /// File holding the user PIN (else KEYWARD_PIN, else a prompt).
    #[arg(long)]
    pin_file: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum Raw {
    Aes,
    Generic,
}

#[derive(Args)]
pub(crate) struct GenerateArgs {
    /// rsa:BITS (default 3072), ec:p256|p384|p521, ed25519, x25519, aes:128|192|256,
    /// generic:BYTES.
    #[arg(long = "type")]
    key_type: String,
    /// CKA_LABEL; with --count N the keys are LABEL-1 … LABEL-N.
    #[arg(long)]
    label: String,
    /// CKA_ID in hex (one key only; default: 8 random bytes per key).
    #[arg(long, conflicts_with = "count")]
    id: Option<String>,
    /// How many keys to make (a progress bar shows on a terminal).
    #[arg(long, default_value_t = 1)]
    count: usize,
    /// Let the private or secret key be wrapped out of the token later (CKA_EXTRACTABLE).
    #[arg(long)]
    extractable: bool,
    #[arg(long)]
    json: bool,
    /// File holding the user PIN (else KEYWARD_PIN, else a prompt).
    #[arg(long)]
    pin_file: Option<PathBuf>,
}

#[derive(Args)]
pub(crate) struct ExportPublicArgs {
    /// The key, as a PKCS#11 URI (pkcs11:object=LABEL or ;id=%01).
    uri: String,
    /// Write the PEM here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Log in first (for private public-key objects): file holding the user PIN.
    #[arg(long)]
    pin_file: Option<PathBuf>,
}

#[derive(Subcommand)]
pub(crate) enum CertCommand {
    /// List the certificates: label, id, subject, issuer, expiry.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print (or write) the certificates a PKCS#11 URI names, as PEM.
    Export {
        uri: String,
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

/// `keyward key generate --type T --label L [--count N]`.
pub(crate) fn generate(admin: &Admin, slot: u64, args: GenerateArgs) -> Result<(), String> {
    let spec = KeySpec::parse(&args.key_type)?;
    if args.count == 0 {
        return Err("--count must be at least 1".into());
    }
    let id = args.id.as_deref().map(hex_id).transpose()?;
    let labels: Vec<String> = match args.count {
        1 => vec![args.label.clone()],
        n => (1..=n).map(|i| format!("{}-{i}", args.label)).collect(),
    };
    let pin =
        read_pin(args.pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?.ok_or("no PIN")?;
    let mut bar = Bar::new("keys generated", labels.len());
    let request = GenerateRequest {
        spec,
        labels,
        id,
        extractable: args.extractable,
    };
    let made = admin
        .generate(slot, &pin, &request, |n| bar.set(n))
        .map_err(|e| format!("the token refused to generate: {}", e.ckr_name()))?;
    drop(bar);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&made).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    for m in made {
        println!("generated {} {:?} id {}: {}", m.class, m.label, m.id, m.uri);
    }
    Ok(())
}

fn hex_id(h: &str) -> Result<Vec<u8>, String> {
    data_encoding::HEXLOWER_PERMISSIVE
        .decode(h.as_bytes())
        .map_err(|_| format!("--id {h:?} is not hex"))
}

/// `keyward key import FILE --label L ...`.
pub(crate) fn import(admin: &Admin, slot: u64, args: ImportArgs) -> Result<(), String> {
    let bytes = Zeroizing::new(
        std::fs::read(&args.file).map_err(|e| format!("{}: {e}", args.file.display()))?,
    );
    let id = args.id.as_deref().map(hex_id).transpose()?;
    let options = ImportOptions {
        label: args.label.clone(),
        id,
        extractable: args.extractable,
    };
    let pin =
        read_pin(args.pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?.ok_or("no PIN")?;
    let made = match args.raw {
        Some(raw) => {
            let kind = match raw {
                Raw::Aes => RawKind::Aes,
                Raw::Generic => RawKind::Generic,
            };
            admin.import_raw(slot, &pin, kind, &bytes, &options)?
        }
        None => {
            let items = match keyfile::read(&bytes, None) {
                Ok(items) => items,
                // A PKCS#12 file or an encrypted key: ask for its password and read again.
                Err(e) if e.contains("password") => {
                    let password = read_pin(
                        args.password_file.as_ref(),
                        "KEYWARD_IMPORT_PASSWORD",
                        "Password of the key file: ",
                        true,
                    )
                    .map_err(|_| e.clone())?
                    .ok_or(e)?;
                    keyfile::read(&bytes, Some(&password))?
                }
                Err(e) => return Err(format!("{}: {e}", args.file.display())),
            };
            admin.import(slot, &pin, &items, &options)?
        }
    };
    report(&made, args.json)
}

fn report(made: &[Imported], json: bool) -> Result<(), String> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(made).map_err(|e| e.to_string())?
        );
        return Ok(());
    }
    for m in made {
        println!(
            "imported {} {} {:?} id {}",
            m.key_type, m.class, m.label, m.id
        );
    }
    Ok(())
}

/// `keyward key export-public URI [--out FILE]`.
pub(crate) fn export_public(
    admin: &Admin,
    slot: u64,
    args: ExportPublicArgs,
) -> Result<(), String> {
    let (key, slot) = slot_of_uri(admin, slot, &args.uri)?;
    let pin = match &args.pin_file {
        Some(f) => read_pin(Some(f), "KEYWARD_PIN", "User PIN: ", true)?,
        None => None,
    };
    let der = admin
        .export_public(slot, &key, pin.as_ref().map(|p| p.as_slice()))
        .map_err(|e| match e {
            keyward::error::Error::KeyHandleInvalid => {
                format!(
                    "no public key matches {} (try type=public, or --pin-file)",
                    args.uri
                )
            }
            other => format!("{}: {}", args.uri, describe(&other)),
        })?;
    let pem = keyward::admin::lifecycle::pem("PUBLIC KEY", &der).map_err(|e| e.to_string())?;
    emit(&pem, args.out.as_ref())
}

/// `keyward cert list|export`.
pub(crate) fn cert(admin: &Admin, slot: u64, action: CertCommand) -> Result<(), String> {
    match action {
        CertCommand::List { json } => {
            let rows: Vec<_> = admin
                .certificates(slot, None, None)
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(row, _)| row)
                .collect();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            println!("{:<20} {:<16} {:<40} NOT AFTER", "LABEL", "ID", "SUBJECT");
            for r in rows {
                println!(
                    "{:<20} {:<16} {:<40} {}",
                    r.label, r.id, r.subject, r.not_after
                );
            }
            Ok(())
        }
        CertCommand::Export { uri, out } => {
            let (key, slot) = slot_of_uri(admin, slot, &uri)?;
            let found = admin
                .certificates(slot, Some(&key), None)
                .map_err(|e| describe(&e))?;
            if found.is_empty() {
                return Err(format!("no certificate matches {uri}"));
            }
            let mut text = String::new();
            for (_, der) in found {
                text += &keyward::admin::lifecycle::pem("CERTIFICATE", &der)
                    .map_err(|e| e.to_string())?;
            }
            emit(&text, out.as_ref())
        }
    }
}

fn emit(text: &str, out: Option<&PathBuf>) -> Result<(), String> {
    match out {
        Some(path) => std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display())),
        None => {
            print!("{text}");
            Ok(())
        }
    }
}
