//! `keyward migrate softhsm TOKEN_DIR`: another token's objects into the Keyward token.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use keyward::admin::softhsm::{Moved, Outcome, SoftHsmToken};
use keyward::admin::Admin;

use super::progress::Bar;
use super::read_pin;

#[derive(Subcommand)]
pub(crate) enum MigrateCommand {
    /// Move a SoftHSMv2 token (file object store) into the Keyward token chosen by
    /// --slot/--token: every key, with its material, every certificate and data object,
    /// with their labels, ids and flags. The SoftHSM files are only read. Objects already
    /// in the Keyward token (same class, label and id) are left alone, so it can run again.
    /// Exit 1 if any object could not be migrated (each is reported with its reason).
    Softhsm(SoftHsmArgs),
}

#[derive(Args)]
pub(crate) struct SoftHsmArgs {
    /// The SoftHSM token's own directory: directories.tokendir/<uuid>, with token.object.
    token_dir: PathBuf,
    #[arg(long)]
    json: bool,
    /// Decrypt and check everything, create nothing.
    #[arg(long)]
    dry_run: bool,
    /// File holding the SoftHSM token's user PIN (else KEYWARD_SOFTHSM_PIN, else a prompt).
    #[arg(long)]
    softhsm_pin_file: Option<PathBuf>,
    /// File holding the Keyward user PIN (else KEYWARD_PIN, else a prompt).
    #[arg(long)]
    pin_file: Option<PathBuf>,
}

/// `keyward migrate softhsm TOKEN_DIR`.
pub(crate) fn run(admin: &Admin, slot: u64, action: MigrateCommand) -> Result<(), String> {
    let MigrateCommand::Softhsm(args) = action;
    let softhsm_pin = read_pin(
        args.softhsm_pin_file.as_ref(),
        "KEYWARD_SOFTHSM_PIN",
        "SoftHSM user PIN: ",
        true,
    )?
    .ok_or("no SoftHSM PIN")?;
    let source = SoftHsmToken::open(&args.token_dir, &softhsm_pin)?;
    drop(softhsm_pin);
    let pin = read_pin(
        args.pin_file.as_ref(),
        "KEYWARD_PIN",
        "Keyward user PIN: ",
        true,
    )?
    .ok_or("no PIN")?;
    let mut bar = None;
    let mut progress = |done: usize, total: usize| {
        bar.get_or_insert_with(|| Bar::new("objects", total))
            .set(done);
    };
    let moved = admin.migrate_softhsm(slot, &pin, &source, args.dry_run, &mut progress)?;
    drop(bar);
    if args.json {
        let v = serde_json::json!({
            "source": { "label": source.label, "serial": source.serial },
            "dry_run": args.dry_run,
            "objects": moved,
        });
        println!(
            "{}",
            serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?
        );
    } else {
        report(&source, &moved, args.dry_run);
    }
    let failed = moved
        .iter()
        .filter(|m| m.outcome == Outcome::Skipped)
        .count();
    match failed {
        0 => Ok(()),
        n => Err(format!("{n} object(s) could not be migrated (see above)")),
    }
}

fn report(source: &SoftHsmToken, moved: &[Moved], dry_run: bool) {
    println!(
        "SoftHSM token {:?} (serial {}): {} object(s)",
        source.label,
        source.serial,
        moved.len()
    );
    for m in moved {
        let what = &m.what;
        let reason = m.reason.as_deref().unwrap_or("?");
        match m.outcome {
            Outcome::Migrated => println!("migrated {what}"),
            Outcome::WouldMigrate => println!("would migrate {what}"),
            Outcome::AlreadyThere => println!("skipped {what}: already there"),
            Outcome::Skipped if what.class == "unknown" => {
                println!("skipped {}: {reason}", m.file)
            }
            Outcome::Skipped => println!("skipped {what}: {reason} ({})", m.file),
        }
        for note in &m.notes {
            println!("  note: {note}");
        }
    }
    let count = |o| moved.iter().filter(|m| m.outcome == o).count();
    let done = match dry_run {
        true => format!("{} would be migrated", count(Outcome::WouldMigrate)),
        false => format!("{} migrated", count(Outcome::Migrated)),
    };
    println!(
        "{done}, {} already there, {} not migrated",
        count(Outcome::AlreadyThere),
        count(Outcome::Skipped)
    );
}
