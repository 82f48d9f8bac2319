//! `keyward user ...` and `keyward key acl`: named users, their roles and PINs, and key ACLs.

use std::io::Write;
use std::path::PathBuf;

use clap::Subcommand;
use keyward::admin::users::UserChange;
use keyward::admin::Admin;
use keyward::policy::roles::Role;

use super::{read_pin, slot_of_uri};
use crate::advice::describe;

#[derive(Subcommand)]
pub(crate) enum UserCommand {
    /// Add a named user with a role: admin, key-manager, operator or auditor. Their PIN comes
    /// from --new-pin-file, KEYWARD_NEW_PIN or a prompt.
    Add {
        name: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        new_pin_file: Option<PathBuf>,
        /// The admin's PIN (else KEYWARD_SO_PIN, or KEYWARD_PIN with --user, else a prompt).
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
    /// List the named users: role, failed logins, locked, second factor.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
    /// Remove a named user (and its wrap of the token master key).
    Remove {
        name: String,
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
    /// Set a named user's PIN (an admin reset; it also unlocks the user).
    Passwd {
        name: String,
        #[arg(long)]
        new_pin_file: Option<PathBuf>,
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
    /// Give a named user another role (admin, key-manager, operator or auditor), from
    /// their next login. Recorded in the audit trail.
    Role {
        name: String,
        role: String,
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
    /// Clear a locked user's failed-login count.
    Unlock {
        name: String,
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
    /// Second factor: `user mfa enable NAME` enrols the user in TOTP and prints the otpauth
    /// URI and a QR code once; the user then types PIN followed by the 6-digit code.
    Mfa {
        #[arg(value_parser = ["enable"])]
        action: String,
        name: String,
        #[arg(long)]
        so_pin_file: Option<PathBuf>,
    },
}

/// The admin's PIN: the built-in SO's (KEYWARD_SO_PIN) or, with `--user`, that named
/// admin's (KEYWARD_PIN).
fn admin_pin(file: Option<PathBuf>, named: bool) -> Result<keyward::admin::Pin, String> {
    let (env, prompt) = if named {
        ("KEYWARD_PIN", "Admin PIN: ")
    } else {
        ("KEYWARD_SO_PIN", "SO PIN: ")
    };
    read_pin(file.as_ref(), env, prompt, true)?.ok_or_else(|| "no admin PIN".into())
}

fn parse_role(role: &str) -> Result<Role, String> {
    Role::parse(role)
        .ok()
        .filter(|r| keyward::policy::roles::NAMED_ROLES.contains(r))
        .ok_or_else(|| format!("unknown role {role:?}: admin, key-manager, operator or auditor"))
}

fn new_pin(file: Option<PathBuf>) -> Result<keyward::admin::Pin, String> {
    read_pin(file.as_ref(), "KEYWARD_NEW_PIN", "New user's PIN: ", true)?
        .ok_or_else(|| "no PIN for the user".into())
}

fn explain(name: &str, e: keyward::error::Error) -> String {
    use keyward::error::Error::*;
    match e {
        ArgumentsBad => format!(
            "{name:?}: no such user, the name is taken, or it is not 1-64 letters, digits, . _ - @"
        ),
        PinIncorrect => "the admin PIN is not right".into(),
        PinLenRange => "the PIN's length is outside the token's PIN policy".into(),
        UserTypeInvalid => "that user is not an admin".into(),
        ActionProhibited => format!(
            "{name}'s PIN record predates role changes: set a new PIN first (keyward user passwd)"
        ),
        other => format!("{name}: {}", describe(&other)),
    }
}

/// Run one `keyward user` command.
pub(crate) fn run(admin: &Admin, slot: u64, named: bool, cmd: UserCommand) -> Result<(), String> {
    match cmd {
        UserCommand::Add {
            name,
            role,
            new_pin_file,
            so_pin_file,
        } => {
            let role = parse_role(&role)?;
            let so = admin_pin(so_pin_file, named)?;
            let pin = new_pin(new_pin_file)?;
            admin
                .change_user(slot, &so, &name, UserChange::Add { role, pin: &pin })
                .map_err(|e| explain(&name, e))?;
            println!("added user {name} ({})", role.name());
        }
        UserCommand::List { json, so_pin_file } => {
            let so = admin_pin(so_pin_file, named)?;
            let users = admin.users(slot, &so).map_err(|e| explain("", e))?;
            if json {
                let text = serde_json::to_string_pretty(&users).map_err(|e| e.to_string())?;
                println!("{text}");
                return Ok(());
            }
            println!(
                "{:<24} {:<12} {:>8} {:<6} MFA",
                "NAME", "ROLE", "FAILURES", "LOCKED"
            );
            for u in users {
                println!(
                    "{:<24} {:<12} {:>8} {:<6} {}",
                    u.name,
                    u.role,
                    u.failures,
                    if u.locked { "yes" } else { "no" },
                    if u.mfa { "totp" } else { "-" }
                );
            }
        }
        UserCommand::Remove { name, so_pin_file } => {
            let so = admin_pin(so_pin_file, named)?;
            admin
                .change_user(slot, &so, &name, UserChange::Remove)
                .map_err(|e| explain(&name, e))?;
            println!("removed user {name}");
        }
        UserCommand::Passwd {
            name,
            new_pin_file,
            so_pin_file,
        } => {
            let so = admin_pin(so_pin_file, named)?;
            let pin = new_pin(new_pin_file)?;
            admin
                .change_user(slot, &so, &name, UserChange::Passwd { pin: &pin })
                .map_err(|e| explain(&name, e))?;
            println!("set a new PIN for {name}");
        }
        UserCommand::Role {
            name,
            role,
            so_pin_file,
        } => {
            let role = parse_role(&role)?;
            let so = admin_pin(so_pin_file, named)?;
            admin
                .change_user(slot, &so, &name, UserChange::Role { role })
                .map_err(|e| explain(&name, e))?;
            println!("{name} is now {} (from their next login)", role.name());
        }
        UserCommand::Unlock { name, so_pin_file } => {
            let so = admin_pin(so_pin_file, named)?;
            admin
                .change_user(slot, &so, &name, UserChange::Unlock)
                .map_err(|e| explain(&name, e))?;
            println!("unlocked {name}");
        }
        UserCommand::Mfa {
            action: _,
            name,
            so_pin_file,
        } => {
            let so = admin_pin(so_pin_file, named)?;
            let secret = admin
                .enable_mfa(slot, &so, &name)
                .map_err(|e| explain(&name, e))?;
            let uri = keyward::crypto::totp::otpauth_uri("Keyward", &name, &secret);
            let mut out = std::io::stdout().lock();
            let _ = writeln!(
                out,
                "TOTP enrolled for {name}. Scan the code or enter the URI in an authenticator app:"
            );
            let _ = writeln!(out, "{uri}");
            if let Ok(code) = qrcode::QrCode::new(uri.as_bytes()) {
                let art = code
                    .render::<qrcode::render::unicode::Dense1x2>()
                    .quiet_zone(true)
                    .build();
                let _ = writeln!(out, "{art}");
            }
            let _ = writeln!(
                out,
                "From now on {name} logs in with the PIN followed by the 6-digit code."
            );
        }
    }
    Ok(())
}

/// What `keyward key acl` was asked to do.
pub(crate) struct AclChange {
    pub set: Option<String>,
    pub clear: bool,
    pub json: bool,
}

/// `keyward key acl URI [--set ACL | --clear] [--json]`.
pub(crate) fn acl(
    admin: &Admin,
    slot: u64,
    uri: &str,
    change: AclChange,
    pin_file: Option<PathBuf>,
) -> Result<(), String> {
    let AclChange { set, clear, json } = change;
    let (key, slot) = slot_of_uri(admin, slot, uri)?;
    let pin = read_pin(pin_file.as_ref(), "KEYWARD_PIN", "User PIN: ", true)?.ok_or("no PIN")?;
    let set = if clear { Some(String::new()) } else { set };
    let acls = admin
        .acl(slot, &key, &pin, set.as_deref())
        .map_err(|e| match e {
            keyward::error::Error::KeyHandleInvalid => format!("no key matches {uri}"),
            keyward::error::Error::AttributeValueInvalid => "not an ACL: use WHO=CLASSES;... with \
                 WHO user:NAME, role:ROLE or *, and CLASSES sign, encrypt, wrap, derive or *"
                .into(),
            keyward::error::Error::ActionProhibited => {
                "only a key manager (or the default user) may change a key's ACL".into()
            }
            other => format!("{uri}: {}", describe(&other)),
        })?;
    if json {
        let rows: Vec<_> = acls
            .iter()
            .map(|(class, acl)| serde_json::json!({ "class": class, "acl": acl }))
            .collect();
        let text = serde_json::to_string_pretty(&rows).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    for (class, a) in acls {
        println!(
            "{class} key: {}",
            if a.is_empty() {
                "(default: operators and the default user, every class)"
            } else {
                &a
            }
        );
    }
    Ok(())
}
