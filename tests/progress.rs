//! Progress bars for long CLI work: shown on a terminal (a pseudo-terminal made by `script`),
//! absent when the output is a pipe. (Migration's bar is checked in tests/migrate_softhsm.rs.)
mod common;

use common::{trail, USER_PIN};

/// Erases the bar's line; a bar drawn anywhere leaves it in the output.
const ERASE: &str = "\r\x1b[2K";

#[test]
fn bulk_generation_and_audit_verification_show_progress_on_a_terminal_only() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "progress");
    trail::add_user(index, "aud", "auditor");
    let slot_arg = index.to_string();
    let generate = |label: &str| {
        [
            "--slot", &slot_arg, "key", "generate", "--type", "aes:128", "--label", label,
            "--count", "4",
        ]
        .map(str::to_owned)
    };
    let pin = [("KEYWARD_PIN", USER_PIN)];

    let piped = common::keyward_cli_output(&generate("piped").each_ref().map(|s| s.as_str()), &pin);
    assert!(piped.status.success());
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(
        !stderr.contains(ERASE) && !stderr.contains("keys generated"),
        "{stderr}"
    );

    let shown =
        common::keyward_cli_on_terminal(&generate("shown").each_ref().map(|s| s.as_str()), &pin);
    assert!(shown.contains("] 4/4 keys generated"), "{shown}");
    assert!(
        shown.contains(ERASE),
        "the bar is erased when done: {shown:?}"
    );

    let aud = [("KEYWARD_PIN", "aud-pin-1")];
    let verify = ["--slot", &slot_arg, "--user", "aud", "audit", "verify"];
    let piped = common::keyward_cli_output(&verify, &aud);
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let stderr = String::from_utf8_lossy(&piped.stderr);
    assert!(!stderr.contains("records verified"), "{stderr}");

    let shown = common::keyward_cli_on_terminal(&verify, &aud);
    // The report line after the erased bar: "N records, ..."; the bar counted to N.
    let records: u64 = shown
        .rsplit(ERASE)
        .next()
        .and_then(|report| report.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no report after the bar: {shown:?}"));
    assert!(records > 10, "{shown}");
    let done = format!("] {records}/{records} records verified");
    assert!(shown.contains(&done), "{done} not in {shown:?}");
}
