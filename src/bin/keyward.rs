//! `keyward`: the administrator's command line, a thin front-end over `keyward::admin`.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

#[path = "keyward/advice.rs"]
mod advice;
#[path = "keyward/audit.rs"]
mod audit;
#[path = "keyward/bench.rs"]
mod bench;
#[path = "keyward/docs.rs"]
mod docs;
#[path = "keyward/keys.rs"]
mod keys;
#[path = "keyward/migrate.rs"]
mod migrate;
#[path = "keyward/progress.rs"]
mod progress;
#[path = "keyward/transfer.rs"]
mod transfer;
#[path = "keyward/users.rs"]
mod users;

use clap::{Parser, Subcommand};
use keyward::admin::{Admin, Pin};
use zeroize::Zeroizing;

/// The exit status, the same for every subcommand (in `--help` and the man pages).
const EXIT_STATUS: &str = "Exit status: 0 success; 1 the command failed or found a problem \
(a wrong PIN, no such key, `store verify`, `audit verify` or `doctor` finding something), \
with the reason and what to do on stderr; 2 a usage error (an unknown subcommand or option, \
a missing or malformed argument).";

/// Keyward: a PKCS#11 token with real key management.
///
/// The token store is chosen by KEYWARD_CONF (a TOML file of slots) or KEYWARD_DIR (one slot);
/// without either it lives in $XDG_DATA_HOME/keyward or ~/.local/share/keyward.
#[derive(Parser)]
#[command(version, about, after_help = EXIT_STATUS)]
struct Cli {
    /// Slot id to act on (default: the first slot, or the one whose token has --token).
    #[arg(long, global = true)]
    slot: Option<u64>,
    /// Select the slot by token label, or by a PKCS#11 URI naming it (pkcs11:token=LABEL).
    #[arg(long, global = true)]
    token: Option<String>,
    /// Act as this named user (C_LoginUser; PIN from KEYWARD_PIN or --pin-file/--so-pin-file)
    /// instead of the built-in SO or default user.
    #[arg(long, global = true)]
    user: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Initialise (or re-initialise, wiping it) a token and set its SO and user PINs.
    Init {
        #[arg(long)]
        label: String,
        /// File holding the SO PIN (else KEYWARD_SO_PIN, else a prompt).
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
        /// File holding the user PIN (else KEYWARD_PIN, else a prompt).
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Show the module path, the slots, their tokens and flags.
    Info {
        #[arg(long)]
        json: bool,
    },
    /// List keys: label, id, class, type, size, lifecycle state. Private keys need the PIN.
    Keys {
        #[arg(long)]
        json: bool,
        /// File holding the user PIN (else KEYWARD_PIN, else a prompt on a terminal).
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Rotate every key whose rotation period has passed (for cron or a systemd timer).
    Rotate {
        /// Required: rotate what is due (the only mode for now).
        #[arg(long)]
        due: bool,
        #[arg(long)]
        json: bool,
        /// Write each rotated key pair's new public key (PEM) into this directory, as
        /// LABEL.vVERSION.pub.pem.
        #[arg(long)]
        public_key_dir: Option<PathBuf>,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Key management: list keys, and move them through their lifecycle.
    Key {
        #[command(subcommand)]
        action: keys::KeyCommand,
    },
    /// Certificates on the token: list them, export them as PEM (`key import` brings them in).
    Cert {
        #[command(subcommand)]
        action: transfer::CertCommand,
    },
    /// Bring another token's objects into the Keyward token: `migrate softhsm TOKEN_DIR`.
    Migrate {
        #[command(subcommand)]
        action: migrate::MigrateCommand,
    },
    /// Named users and their roles (admin).
    User {
        #[command(subcommand)]
        action: users::UserCommand,
    },
    /// Install the module under PREFIX/lib/pkcs11 (default /usr/local) and, with --p11-kit,
    /// register it with p11-kit (/etc/pkcs11/modules for root, else
    /// $XDG_CONFIG_HOME/pkcs11/modules or ~/.config/pkcs11/modules).
    Install {
        #[arg(long, default_value = "/usr/local")]
        prefix: PathBuf,
        #[arg(long)]
        p11_kit: bool,
        /// Where to write keyward.module instead of p11-kit's default directory.
        #[arg(long, requires = "p11_kit")]
        p11_kit_dir: Option<PathBuf>,
    },
    /// The audit trail: verify, export, tail (auditor).
    Audit {
        #[command(subcommand)]
        action: audit::AuditCommand,
    },
    /// Measure operations per second of a PKCS#11 module, optionally against a second one.
    Bench(bench::BenchArgs),
    /// The token store: `verify` checks every object against its seal and the file against
    /// SQLite's consistency check (exit 1 if anything failed).
    Store {
        #[command(subcommand)]
        action: StoreCommand,
    },
    /// Check the configuration, store permissions, PIN state, clock, audit trail (with --user
    /// an auditor and KEYWARD_PIN) and which PKCS#11 consumers load the module; exit 1 if
    /// anything failed. Says what to fix.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Print the shell completion script for SHELL (bash: `source <(keyward completions bash)`).
    Completions(docs::CompletionsArgs),
    /// Print the man page, or write every page (one per subcommand) into DIR.
    Man(docs::ManArgs),
    /// Bring existing keys of a delegate slot's device under Keyward's management: URI names
    /// them on the device (pkcs11:object=LABEL;id=%01;type=private; token attributes are
    /// ignored, the Keyward slot is --slot). As the user, or --user a key manager.
    Adopt {
        uri: String,
        /// A new label for the adopted key (default: the device object's).
        #[arg(long)]
        label: Option<String>,
        #[arg(long)]
        json: bool,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Check every token object (sealed part and clear attributes) and the database file.
    Verify {
        #[arg(long)]
        json: bool,
        /// File holding the user PIN (else KEYWARD_PIN, else a prompt).
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
}

/// A PIN from a file, an environment variable or a no-echo prompt — never from argv.
fn read_pin(
    file: Option<&PathBuf>,
    env: &str,
    prompt: &str,
    required: bool,
) -> Result<Option<Pin>, String> {
    if let Some(f) = file {
        let text = Zeroizing::new(
            std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?,
        );
        return Ok(Some(Zeroizing::new(
            text.trim_end_matches(['\r', '\n']).as_bytes().to_vec(),
        )));
    }
    if let Ok(v) = std::env::var(env) {
        return Ok(Some(Zeroizing::new(v.into_bytes())));
    }
    if !std::io::stdin().is_terminal() {
        return if required {
            Err(format!("no PIN: use a file option or set {env}"))
        } else {
            Ok(None)
        };
    }
    let pin = Zeroizing::new(rpassword::prompt_password(prompt).map_err(|e| e.to_string())?);
    Ok(Some(Zeroizing::new(pin.as_bytes().to_vec())))
}

fn module_path() -> String {
    let exe = std::env::current_exe().ok();
    let lib = exe
        .as_ref()
        .and_then(|e| e.parent())
        .map(|d| d.join("libkeyward.so"));
    match lib {
        Some(p) if p.exists() => p.display().to_string(),
        _ => "libkeyward.so (not found beside this binary)".into(),
    }
}

fn run(cli: Cli) -> Result<(), String> {
    match &cli.command {
        Command::Bench(args) => return bench::run(args, &cli),
        Command::Completions(args) => return docs::completions::<Cli>(args),
        Command::Man(args) => return docs::man::<Cli>(args),
        _ => {}
    }
    let mut admin = Admin::from_env().map_err(|e| format!("cannot load the configuration: {e}"))?;
    admin.set_user(cli.user.clone());
    let slot = match (&cli.token, cli.slot) {
        (Some(token), _) => {
            let label = token_label(token)?;
            admin
                .slot_by_label(&label)
                .map_err(|_| format!("no token labelled {label:?} (`keyward info` lists them)"))?
        }
        (None, Some(s)) => s,
        (None, None) => 0,
    };
    match cli.command {
        Command::Init {
            label,
            so_pin_file,
            pin_file,
        } => {
            let so = read_pin(so_pin_file.as_ref(), "KEYWARD_SO_PIN", "SO PIN: ", true)?
                .ok_or("no SO PIN")?;
            let user = read_pin(pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?
                .ok_or("no user PIN")?;
            admin
                .init(slot, &label, &so, &user)
                .map_err(|e| format!("init failed: {}", advice::describe(&e)))?;
            println!("Initialised token {label:?} in slot {slot}.");
        }
        Command::Info { json } => {
            let slots = admin.slots().map_err(|e| e.to_string())?;
            if json {
                let v = serde_json::json!({ "module": module_path(), "slots": slots });
                println!(
                    "{}",
                    serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            println!("module: {}", module_path());
            for s in slots {
                println!("slot {}: {} (store {})", s.id, s.description, s.store);
                if s.token_present {
                    println!("  token: {:?} serial {}", s.label, s.serial);
                    println!("  flags: {}", s.flags.join(" "));
                }
            }
        }
        Command::Keys { json, pin_file }
        | Command::Key {
            action: keys::KeyCommand::List { json, pin_file },
        } => {
            let pin = read_pin(pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", false)?;
            let rows = admin
                .keys(slot, pin.as_deref().map(|p| p.as_slice()))
                .map_err(|e| advice::describe(&e))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
                );
                return Ok(());
            }
            println!(
                "{:<20} {:<16} {:<8} {:<15} {:>6} {:>4}  {:<12} {:<10} {:>11}",
                "LABEL", "ID", "CLASS", "TYPE", "BITS", "VER", "STATE", "END", "USES"
            );
            for r in rows {
                let bits = r.bits.map_or("-".into(), |b| b.to_string());
                let uses = match r.usage_limit {
                    Some(limit) => format!("{}/{limit}", r.uses),
                    None => r.uses.to_string(),
                };
                println!(
                    "{:<20} {:<16} {:<8} {:<15} {:>6} {:>4}  {:<12} {:<10} {:>11}",
                    r.label, r.id, r.class, r.key_type, bits, r.version, r.state, r.end_date, uses
                );
            }
        }
        Command::Key {
            action: keys::KeyCommand::Generate(args),
        } => transfer::generate(&admin, slot, args)?,
        Command::Key {
            action: keys::KeyCommand::Import(args),
        } => transfer::import(&admin, slot, args)?,
        Command::Key {
            action: keys::KeyCommand::ExportPublic(args),
        } => transfer::export_public(&admin, slot, args)?,
        Command::Cert { action } => transfer::cert(&admin, slot, action)?,
        Command::Key { action } => keys::run(&admin, slot, action)?,
        Command::Migrate { action } => migrate::run(&admin, slot, action)?,
        Command::User { action } => users::run(&admin, slot, cli.user.is_some(), action)?,
        Command::Audit { action } => audit::run(&admin, slot, action)?,
        Command::Install {
            prefix,
            p11_kit,
            p11_kit_dir,
        } => {
            let module = std::env::current_exe()
                .ok()
                .and_then(|e| e.parent().map(|d| d.join("libkeyward.so")))
                .filter(|p| p.exists())
                .ok_or("libkeyward.so is not beside this keyward binary")?;
            let kit = p11_kit
                .then(|| p11_kit_dir.unwrap_or_else(keyward::admin::install::default_p11_kit_dir));
            for step in keyward::admin::install::install(&module, &prefix, kit.as_deref())? {
                println!("{step}");
            }
        }
        // Run above, before the configuration is loaded.
        Command::Bench(_) | Command::Completions(_) | Command::Man(_) => {}
        Command::Doctor { json } => {
            let pin = match &cli.user {
                Some(_) => read_pin(None, "KEYWARD_PIN", "Auditor PIN: ", false)?,
                None => None,
            };
            let findings = admin.doctor(
                std::path::Path::new(&module_path()),
                pin.as_deref().map(|p| p.as_slice()),
            );
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&findings).map_err(|e| e.to_string())?
                );
            } else {
                for f in &findings {
                    let level = match f.level {
                        keyward::admin::doctor::Level::Ok => "ok  ",
                        keyward::admin::doctor::Level::Warn => "WARN",
                        keyward::admin::doctor::Level::Fail => "FAIL",
                    };
                    println!("{level} {}: {}", f.check, f.detail);
                    if !f.fix.is_empty() && f.level != keyward::admin::doctor::Level::Ok {
                        println!("     fix: {}", f.fix);
                    }
                }
            }
            let failed = findings
                .iter()
                .filter(|f| f.level == keyward::admin::doctor::Level::Fail)
                .count();
            if failed > 0 {
                return Err(format!("{failed} check(s) failed"));
            }
        }
        Command::Store {
            action: StoreCommand::Verify { json, pin_file },
        } => {
            let pin =
                read_pin(pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?.ok_or("no PIN")?;
            let report = admin
                .verify_store(slot, &pin)
                .map_err(|e| format!("cannot verify the store: {}", advice::describe(&e)))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?
                );
            } else {
                println!("{} token object(s) intact", report.intact);
                for uid in &report.failed {
                    println!("object {uid}: FAILED its integrity check (edited or corrupted)");
                }
                for problem in &report.database {
                    println!("database: {problem}");
                }
            }
            if !report.is_ok() {
                return Err(format!(
                    "the store failed verification: {} object(s), {} database problem(s)",
                    report.failed.len(),
                    report.database.len()
                ));
            }
        }
        Command::Adopt {
            uri,
            label,
            json,
            pin_file,
        } => {
            let pin =
                read_pin(pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?.ok_or("no PIN")?;
            let rows = admin
                .adopt(slot, &uri, label.as_deref(), &pin)
                .map_err(|e| format!("{e} (is slot {slot} a delegate slot, and does {uri} name a key on its device?)"))?;
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?
                );
            } else if rows.is_empty() {
                println!("nothing new to adopt");
            }
            for r in rows.iter().filter(|_| !json) {
                println!("adopted {} {:?} (device id {})", r.class, r.label, r.id);
            }
        }
        Command::Rotate {
            due,
            json,
            public_key_dir,
            pin_file,
        } => {
            if !due {
                return Err("say --due: rotate every key whose rotation period has passed".into());
            }
            keys::rotate_due(&admin, slot, json, public_key_dir, pin_file)?;
        }
    }
    Ok(())
}

/// The token label `--token` names: a label, or an RFC 7512 URI with a `token` attribute
/// (`pkcs11:token=prod%20keys`).
fn token_label(token: &str) -> Result<String, String> {
    if !token.starts_with("pkcs11:") {
        return Ok(token.to_string());
    }
    keyward::admin::uri::KeyUri::parse_token(token)?
        .ok_or_else(|| format!("{token} names no token (pkcs11:token=LABEL)"))
}

/// The key a URI names and its slot (the URI's token, else the one chosen on the command
/// line).
fn slot_of_uri(
    admin: &Admin,
    slot: u64,
    uri: &str,
) -> Result<(keyward::admin::uri::KeyUri, u64), String> {
    let key = keyward::admin::uri::KeyUri::parse(uri)?;
    let slot = slot_of(admin, &key, slot)?;
    Ok((key, slot))
}

fn slot_of(admin: &Admin, key: &keyward::admin::uri::KeyUri, slot: u64) -> Result<u64, String> {
    match &key.token {
        Some(label) => admin
            .slot_by_label(label)
            .map_err(|_| format!("no token labelled {label:?}")),
        None => Ok(slot),
    }
}

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("keyward: {e}");
            ExitCode::FAILURE
        }
    }
}
