//! The audit trail seen through the CLI, as the auditor "aud" (PIN "aud-pin-1"), and
//! tampered with from another process.

use std::path::Path;

use super::{keyward_cli_output, SO_PIN};

/// `keyward --slot INDEX ARGS` with `env`.
pub fn cli(index: usize, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let slot = index.to_string();
    keyward_cli_output(&[&["--slot", slot.as_str()], args].concat(), env)
}

/// Assert that a CLI run succeeded; its stdout.
#[track_caller]
pub fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8 output")
}

/// `keyward user add NAME --role ROLE` as the SO; the user's PIN is "<name>-pin-1".
pub fn add_user(index: usize, name: &str, role: &str) {
    let pin = format!("{name}-pin-1");
    ok(cli(
        index,
        &["user", "add", name, "--role", role],
        &[("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", &pin)],
    ));
}

/// The auditor's `audit export --format jsonl EXTRA...`, one JSON value per record.
pub fn export_with(index: usize, extra: &[&str]) -> Vec<serde_json::Value> {
    let args = [
        &["--user", "aud", "audit", "export", "--format", "jsonl"][..],
        extra,
    ]
    .concat();
    ok(cli(index, &args, &[("KEYWARD_PIN", "aud-pin-1")]))
        .lines()
        .map(|l| serde_json::from_str(l).expect("a JSON record"))
        .collect()
}

/// The auditor's whole export.
pub fn export(index: usize) -> Vec<serde_json::Value> {
    export_with(index, &[])
}

/// The auditor's `audit verify` (not checked).
pub fn verify(index: usize) -> std::process::Output {
    cli(
        index,
        &["--user", "aud", "audit", "verify"],
        &[("KEYWARD_PIN", "aud-pin-1")],
    )
}

/// Run SQL on a database from another process (python3's sqlite3): a second copy of
/// SQLite in this process would break the module's WAL locking. Its printed output.
pub fn sql(db: &Path, statement: &str) -> String {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import sqlite3, sys\n\
             c = sqlite3.connect(sys.argv[1])\n\
             q = sys.argv[2]\n\
             if q.lstrip().upper().startswith('SELECT'):\n\
             \x20   for row in c.execute(q): print(*row)\n\
             else:\n\
             \x20   c.executescript(q)\n\
             c.commit()\n",
        ])
        .arg(db)
        .arg(statement)
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The trail file of slot `index`.
pub fn audit_db(index: usize) -> std::path::PathBuf {
    super::slot_dir(index).join("audit.db")
}

/// The first record with `op` by `user` and `result`, if any.
pub fn find<'a>(
    records: &'a [serde_json::Value],
    op: &str,
    user: &str,
    result: &str,
) -> Option<&'a serde_json::Value> {
    records
        .iter()
        .find(|r| r["operation"] == op && r["user"] == user && r["result"] == result)
}

/// Every field a record always carries is filled: time, host, pid, process, token (and the
/// session, except for C_InitToken, which has none).
#[track_caller]
pub fn assert_stamped(r: &serde_json::Value) {
    let text = |k: &str| r[k].as_str().unwrap_or("").to_owned();
    for k in ["time", "host", "process", "token"] {
        assert!(!text(k).is_empty(), "{k} empty in {r}");
    }
    assert!(r["pid"].as_u64().unwrap_or(0) > 0, "pid in {r}");
    if r["operation"] != "init-token" {
        assert!(r["session"].as_u64().unwrap_or(0) > 0, "session in {r}");
    }
}
