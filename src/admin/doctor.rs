//! `keyward doctor`: checks what commonly goes wrong on a machine — configuration, store
//! permissions, PIN state, the clock, the audit trail, which PKCS#11 consumers can load the
//! module — and says what to fix.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::process::Command;

use cryptoki_sys::*;

use super::Admin;
use crate::config::Config;

/// How bad a finding is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    Ok,
    Warn,
    Fail,
}

/// One check's result, and what to do about it.
#[derive(Debug, serde::Serialize)]
pub struct Finding {
    pub level: Level,
    pub check: String,
    pub detail: String,
    /// What to do next (empty when all is well).
    pub fix: String,
}

fn finding(level: Level, check: &str, detail: String, fix: &str) -> Finding {
    Finding {
        level,
        check: check.to_owned(),
        detail,
        fix: fix.to_owned(),
    }
}

/// The permission bits of `path` that let others than its owner read or write it.
fn loose_mode(path: &Path) -> Option<u32> {
    let mode = std::fs::metadata(path).ok()?.mode() & 0o077;
    (mode != 0).then_some(mode)
}

impl Admin {
    /// Run every check. `module` is the path of libkeyward.so; `auditor_pin`, with the CLI's
    /// `--user` naming an auditor, also verifies each audit trail.
    pub fn doctor(&self, module: &Path, auditor_pin: Option<&[u8]>) -> Vec<Finding> {
        let mut out = Vec::new();
        let config = match Config::from_env() {
            Ok(c) => {
                out.push(finding(
                    Level::Ok,
                    "configuration",
                    format!("{} slot(s)", c.slots.len()),
                    "",
                ));
                c
            }
            Err(_) => {
                out.push(finding(
                    Level::Fail,
                    "configuration",
                    "KEYWARD_CONF cannot be read or parsed".into(),
                    "fix the file named by KEYWARD_CONF (docs/configuration in the README), or unset it for the default store",
                ));
                return out;
            }
        };
        for (i, slot) in config.slots.iter().enumerate() {
            self.check_slot(i as CK_SLOT_ID, slot, auditor_pin, &mut out);
        }
        out.push(clock());
        out.extend(consumers(module));
        out
    }

    fn check_slot(
        &self,
        id: CK_SLOT_ID,
        slot: &crate::config::SlotConfig,
        auditor_pin: Option<&[u8]>,
        out: &mut Vec<Finding>,
    ) {
        let name = format!("slot {id}");
        let writable_by_others = std::fs::metadata(&slot.path).is_ok_and(|m| m.mode() & 0o022 != 0);
        if writable_by_others {
            out.push(finding(
                Level::Fail,
                &format!("{name}: permissions"),
                format!("{} is writable by others", slot.path.display()),
                &format!("chmod go-w {}", slot.path.display()),
            ));
        }
        for file in [slot.db_path(), slot.audit_path()] {
            if let Some(mode) = loose_mode(&file) {
                out.push(finding(
                    Level::Fail,
                    &format!("{name}: permissions"),
                    format!(
                        "{} is accessible to others (mode bits {mode:03o})",
                        file.display()
                    ),
                    &format!("chmod 600 {}", file.display()),
                ));
            }
        }
        let status = match self.provider.token_status(id) {
            Ok(s) => s,
            Err(e) => {
                out.push(finding(
                    Level::Fail,
                    &format!("{name}: store"),
                    format!("{} cannot be opened: {e}", slot.db_path().display()),
                    "check that the directory exists and is writable by this user",
                ));
                return;
            }
        };
        let flags = status.info.flags;
        if flags & CKF_TOKEN_INITIALIZED == 0 {
            out.push(finding(
                Level::Warn,
                &format!("{name}: token"),
                "not initialised".into(),
                &format!("keyward --slot {id} init --label LABEL"),
            ));
            return;
        }
        let pins = [
            (CKF_USER_PIN_LOCKED, Level::Fail, "the user PIN is locked", "keyward init (wipes the token) — or, for named users, `keyward user unlock NAME` as the admin"),
            (CKF_USER_PIN_COUNT_LOW, Level::Warn, "failed user logins have been counted", "a successful login resets the count; check who is guessing"),
            (CKF_SO_PIN_LOCKED, Level::Fail, "the SO PIN is locked", "the token must be re-initialised"),
            (CKF_SO_PIN_COUNT_LOW, Level::Warn, "failed SO logins have been counted", "a successful SO login resets the count"),
        ];
        let mut pin_ok = true;
        for (flag, level, what, fix) in pins {
            if flags & flag != 0 {
                pin_ok = false;
                out.push(finding(level, &format!("{name}: PINs"), what.into(), fix));
            }
        }
        if flags & CKF_USER_PIN_INITIALIZED == 0 {
            pin_ok = false;
            out.push(finding(
                Level::Warn,
                &format!("{name}: PINs"),
                "no user PIN is set".into(),
                "set it as the SO: pkcs11-tool --init-pin, or keyward init",
            ));
        }
        if pin_ok {
            out.push(finding(
                Level::Ok,
                &format!("{name}: token"),
                format!("{:?}, PINs set, none locked", status.info.label),
                "",
            ));
        }
        match (slot.audit, auditor_pin) {
            (false, _) => out.push(finding(
                Level::Warn,
                &format!("{name}: audit"),
                "the audit trail is off for this slot".into(),
                "remove `audit = false` from the slot's configuration",
            )),
            (true, None) => out.push(finding(
                Level::Ok,
                &format!("{name}: audit"),
                format!("trail at {}", slot.audit_path().display()),
                &format!(
                    "to verify it: keyward --slot {id} --user AUDITOR doctor (or audit verify)"
                ),
            )),
            (true, Some(pin)) => out.push(match self.audit_verify(id, pin) {
                Ok(r) if r.first_bad.is_none() => finding(
                    Level::Ok,
                    &format!("{name}: audit"),
                    format!("{} record(s), chain intact", r.records),
                    "",
                ),
                Ok(r) => finding(
                    Level::Fail,
                    &format!("{name}: audit"),
                    format!("the trail does not verify: {r:?}"),
                    "keep a copy of audit.db for investigation; see docs/audit.md",
                ),
                Err(e) => finding(
                    Level::Warn,
                    &format!("{name}: audit"),
                    format!("cannot verify as this user: {e}"),
                    "run it as a user with the auditor role (--user NAME)",
                ),
            }),
        }
    }
}

/// The system clock: lifecycle dates, expiry and audit times depend on it.
fn clock() -> Finding {
    let now = time::OffsetDateTime::now_utc();
    if now.year() < 2024 {
        finding(
            Level::Fail,
            "clock",
            format!("the system clock says {now}"),
            "set the clock (NTP): validity dates and expiry are enforced from it",
        )
    } else {
        finding(Level::Ok, "clock", format!("{now} UTC"), "")
    }
}

/// Which consumers on this machine load the module, tried for real where they are installed.
fn consumers(module: &Path) -> Vec<Finding> {
    let mut out = Vec::new();
    if !module.exists() {
        out.push(finding(
            Level::Fail,
            "module",
            format!("{} not found", module.display()),
            "build it (cargo build --release) or install it (keyward install)",
        ));
        return out;
    }
    let run = |cmd: &mut Command| {
        cmd.output().map(|o| {
            (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).into_owned(),
            )
        })
    };
    match run(Command::new("pkcs11-tool")
        .arg("--module")
        .arg(module)
        .arg("--show-info"))
    {
        Ok((true, text)) if text.contains("Keyward") => out.push(finding(
            Level::Ok,
            "consumer: pkcs11-tool",
            "loads the module".into(),
            "",
        )),
        Ok(_) => out.push(finding(
            Level::Fail,
            "consumer: pkcs11-tool",
            "cannot load the module".into(),
            &format!("run: pkcs11-tool --module {} --show-info", module.display()),
        )),
        Err(_) => out.push(finding(
            Level::Warn,
            "consumer: pkcs11-tool",
            "not installed".into(),
            "apt install opensc",
        )),
    }
    match run(Command::new("p11-kit").arg("list-modules")) {
        Ok((true, text)) if text.contains("keyward") => out.push(finding(
            Level::Ok,
            "consumer: p11-kit",
            "the module is registered".into(),
            "",
        )),
        Ok(_) => out.push(finding(
            Level::Warn,
            "consumer: p11-kit",
            "the module is not registered (GnuTLS, NSS via p11-kit-proxy and others find modules there)".into(),
            "keyward install --p11-kit",
        )),
        Err(_) => out.push(finding(
            Level::Warn,
            "consumer: p11-kit",
            "not installed".into(),
            "apt install p11-kit",
        )),
    }
    let provider = Path::new("/usr/lib/x86_64-linux-gnu/ossl-modules/pkcs11.so");
    out.push(if provider.exists() {
        finding(
            Level::Ok,
            "consumer: OpenSSL pkcs11-provider",
            format!("{} present", provider.display()),
            "",
        )
    } else {
        finding(
            Level::Warn,
            "consumer: OpenSSL pkcs11-provider",
            "not installed".into(),
            "apt install pkcs11-provider (Debian 12: from bookworm-backports), see docs/integration",
        )
    });
    out
}
