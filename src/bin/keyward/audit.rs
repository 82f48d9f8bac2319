//! `keyward audit verify|export|tail`: the auditor's view of the trail (`--user NAME` with
//! the auditor role; PIN from KEYWARD_PIN or --pin-file).

use std::path::PathBuf;
use std::time::Duration;

use clap::Subcommand;
use keyward::admin::Admin;
use keyward::audit::Record;

use super::progress::Bar;
use super::read_pin;
use crate::advice::describe;

#[derive(Subcommand)]
pub(crate) enum AuditCommand {
    /// Verify the hash chain and checkpoints. Exit status 0 only for an intact trail;
    /// otherwise names the first bad record.
    Verify {
        #[arg(long)]
        json: bool,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Print records as JSON lines, optionally between two RFC 3339 instants.
    Export {
        #[arg(long, default_value = "jsonl", value_parser = ["jsonl"])]
        format: String,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
    /// Print the last records; with -f keep printing new ones as they are committed.
    Tail {
        #[arg(short = 'n', long, default_value_t = 10)]
        lines: usize,
        #[arg(short = 'f', long)]
        follow: bool,
        #[arg(long)]
        pin_file: Option<PathBuf>,
    },
}

fn explain(e: keyward::error::Error) -> String {
    match e {
        keyward::error::Error::UserNotLoggedIn => {
            "only an auditor reads the trail: use --user NAME with a user of role auditor".into()
        }
        keyward::error::Error::PinIncorrect => "wrong user name or PIN".into(),
        keyward::error::Error::ArgumentsBad => "--since/--until must be RFC 3339 instants".into(),
        other => describe(&other),
    }
}

fn print(r: &Record) -> Result<(), String> {
    println!("{}", serde_json::to_string(r).map_err(|e| e.to_string())?);
    Ok(())
}

/// Run one `keyward audit` command.
pub(crate) fn run(admin: &Admin, slot: u64, cmd: AuditCommand) -> Result<(), String> {
    let pin_of = |f: &Option<PathBuf>| {
        read_pin(f.as_ref(), "KEYWARD_PIN", "Auditor PIN: ", true)?.ok_or("no PIN".to_string())
    };
    match cmd {
        AuditCommand::Verify { json, pin_file } => {
            let pin = pin_of(&pin_file)?;
            let mut bar = None;
            let mut progress = |done: u64, total: u64| {
                let total = usize::try_from(total).unwrap_or(usize::MAX);
                bar.get_or_insert_with(|| Bar::new("records verified", total))
                    .set(usize::try_from(done).unwrap_or(usize::MAX));
            };
            let report = admin
                .audit_verify_with_progress(slot, &pin, &mut progress)
                .map_err(explain)?;
            drop(bar);
            if json {
                let text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
                println!("{text}");
            } else {
                println!(
                    "{} records, {} checkpoints (last at seq {}), anchor at seq {}, {} after \
                     them not yet authenticated",
                    report.records,
                    report.checkpoints,
                    report.last_checkpoint_seq,
                    report.anchor_seq,
                    report.unauthenticated_tail
                );
                for note in &report.notes {
                    println!("note: {note}");
                }
            }
            match report.first_bad {
                Some((0, why)) => return Err(format!("the audit trail is NOT intact: {why}")),
                Some((seq, why)) => {
                    return Err(format!(
                        "the audit trail is NOT intact: record {seq}: {why}"
                    ))
                }
                None => {}
            }
            if !json {
                println!("intact");
            }
        }
        AuditCommand::Export {
            format: _,
            since,
            until,
            pin_file,
        } => {
            let pin = pin_of(&pin_file)?;
            let records = admin
                .audit_export(slot, &pin, since.as_deref(), until.as_deref())
                .map_err(explain)?;
            for r in &records {
                print(r)?;
            }
        }
        AuditCommand::Tail {
            lines,
            follow,
            pin_file,
        } => {
            let pin = pin_of(&pin_file)?;
            let path = admin.audit_path(slot, &pin).map_err(explain)?;
            let all = keyward::audit::read_after(&path, 0, usize::MAX).map_err(explain)?;
            let mut last = all.last().map_or(0, |r| r.seq);
            for r in &all[all.len().saturating_sub(lines)..] {
                print(r)?;
            }
            if !follow {
                return Ok(());
            }
            loop {
                std::thread::sleep(Duration::from_millis(200));
                for r in keyward::audit::read_after(&path, last, 10_000).map_err(explain)? {
                    last = r.seq;
                    print(&r)?;
                }
            }
        }
    }
    Ok(())
}
