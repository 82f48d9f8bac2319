//! `keyward doctor` on this binary's configuration: an initialised token passes its checks, an
//! uninitialised one is reported with the command that fixes it, a store directory others can
//! write fails the run.
mod common;

use std::os::unix::fs::PermissionsExt;

fn doctor(index: usize) -> (bool, Vec<serde_json::Value>) {
    let slot = index.to_string();
    let out = common::keyward_cli_output(&["--slot", slot.as_str(), "doctor", "--json"], &[]);
    let findings = serde_json::from_slice(&out.stdout).expect("JSON findings");
    (out.status.success(), findings)
}

fn about<'a>(findings: &'a [serde_json::Value], check: &str) -> Vec<&'a serde_json::Value> {
    findings.iter().filter(|f| f["check"] == check).collect()
}

#[test]
fn doctor_reports_token_state_and_permissions_with_fixes() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "doctor");
    let (_, uninit) = common::claim_slot();
    let (_, findings) = doctor(index);
    let ours = about(&findings, &format!("slot {index}: token"));
    assert_eq!(ours[0]["level"], "ok", "{findings:?}");
    let theirs = about(&findings, &format!("slot {uninit}: token"));
    assert_eq!(theirs[0]["level"], "warn", "{findings:?}");
    assert!(
        theirs[0]["fix"].as_str().unwrap().contains("init --label"),
        "{findings:?}"
    );
    assert!(about(&findings, "clock")[0]["level"] == "ok");

    let dir = common::slot_dir(index);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (ok, findings) = doctor(index);
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert!(!ok, "a world-writable store directory must fail the run");
    let perms = about(&findings, &format!("slot {index}: permissions"));
    assert_eq!(perms[0]["level"], "fail", "{findings:?}");
    assert!(perms[0]["fix"].as_str().unwrap().starts_with("chmod go-w"));
}
