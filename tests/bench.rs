//! Smoke test of `keyward bench`: the `keyward` binary, run as its own process, measures a few
//! operations for 0.2 s each on the built `libkeyward.so` with a temporary token, and every
//! one of them must come out with a positive rate. No timing is asserted.

mod common;

use std::path::Path;
use std::process::{Command, Output};

/// In catalogue order (the order the bench runs and reports them).
const OPS: &[&str] = &[
    "rsa2048-pss-verify/session",
    "p256-sign/token",
    "aes-gcm-16/token",
    "hmac-sha256-64/session",
    "sha256-16k",
    "create-object/token",
    "login",
    "find-id-1k",
];

/// `keyward ARGS` with the token in `store`.
fn keyward(store: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .env("KEYWARD_DIR", store)
        .env_remove("KEYWARD_CONF")
        .env_remove("KEYWARD_BENCH_PIN")
        .env("KEYWARD_SO_PIN", common::SO_PIN)
        .env("KEYWARD_PIN", common::USER_PIN)
        .output()
        .expect("run keyward")
}

fn check(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn bench_measures_every_selected_operation_and_cleans_up() {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = dir.path().join("token");
    check(
        &keyward(&store, &["init", "--label", "smoke"]),
        "keyward init",
    );
    let (json, svg) = (dir.path().join("bench.json"), dir.path().join("bench.svg"));
    let module = common::module_path();
    let only = OPS.join(",");
    let args = [
        "bench",
        "--module",
        module.to_str().expect("utf-8 path"),
        "--token",
        "smoke",
        "--seconds",
        "0.2",
        "--only",
        &only,
        "--json",
        json.to_str().expect("utf-8 path"),
        "--plot",
        svg.to_str().expect("utf-8 path"),
    ];
    let out = keyward(&store, &args);
    check(&out, "keyward bench");
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("| operation"), "{table}");

    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).expect("JSON written")).expect("JSON");
    let rows = report["rows"].as_array().expect("rows");
    let ids: Vec<&str> = rows.iter().filter_map(|r| r["id"].as_str()).collect();
    assert_eq!(ids, OPS);
    for row in rows {
        let id = &row["id"];
        assert_eq!(row["a"]["status"], "measured", "{id}: {}", row["a"]);
        let rate = row["a"]["ops_per_sec"].as_f64().unwrap_or(0.0);
        assert!(rate > 0.0, "{id}: rate {rate}");
        if let Some(ceiling) = row["ceiling"].as_object() {
            assert_eq!(ceiling["status"], "measured", "{id} ceiling");
            assert!(row["a_pct_of_ceiling"].as_f64().unwrap_or(0.0) > 0.0);
        }
    }
    assert_eq!(report["module_a"]["token"], "smoke");
    assert!(report["machine"]["cores"].as_u64().unwrap_or(0) >= 1);
    let plot = std::fs::read_to_string(&svg).expect("SVG written");
    assert!(plot.starts_with("<svg") && plot.contains("ECDSA P-256 sign"));

    // Every bench-* object is gone: the token lists no key at all.
    let keys = keyward(&store, &["keys", "--json"]);
    check(&keys, "keyward keys");
    let listed: serde_json::Value = serde_json::from_slice(&keys.stdout).expect("keys JSON");
    assert_eq!(listed.as_array().map(Vec::len), Some(0), "{listed}");
}
