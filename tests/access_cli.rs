//! The admin's and auditor's CLI, run as its own process against the token the module in
//! this process uses: `user passwd`, `user role`, `user mfa enable`'s QR code, `key acl`
//! (show, set, clear), `audit tail [-f]`, `audit export --since/--until`, and the PIN
//! length policy through C_InitPIN, C_SetPIN and the CLI.
mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::session::UserType;
use cryptoki_sys::*;

use common::trail::{add_user, cli, export, export_with, ok, sql};
use common::{assert_rv, login_user, pin, SO_PIN, USER_PIN};

fn so(new_pin: &str) -> [(&'static str, &str); 2] {
    [("KEYWARD_SO_PIN", SO_PIN), ("KEYWARD_NEW_PIN", new_pin)]
}

/// `user passwd` sets a new PIN (the old one stops working) and unlocks a locked user.
#[test]
fn user_passwd_resets_and_unlocks() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "passwd");
    add_user(index, "op", "operator");
    let s = common::p11().open_rw_session(slot).unwrap();
    for _ in 0..common::MAX_RETRIES {
        assert_eq!(login_user(&s, CKU_USER, "op", b"wrong"), CKR_PIN_INCORRECT);
    }
    assert_eq!(login_user(&s, CKU_USER, "op", b"op-pin-1"), CKR_PIN_LOCKED);
    let out = ok(cli(index, &["user", "passwd", "op"], &so("op-pin-2")));
    assert!(out.contains("set a new PIN for op"), "{out}");
    assert_eq!(
        login_user(&s, CKU_USER, "op", b"op-pin-1"),
        CKR_PIN_INCORRECT
    );
    assert_eq!(login_user(&s, CKU_USER, "op", b"op-pin-2"), CKR_OK);
}

/// `user role` takes effect at the user's next login, is recorded, needs an admin, and an
/// edited role still opens nothing.
#[test]
fn user_role_changes_at_next_login() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "role change");
    for (n, r) in [
        ("op", "operator"),
        ("km", "key-manager"),
        ("aud", "auditor"),
    ] {
        add_user(index, n, r);
    }
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = common::token_hmac_key(&s, "rk");
    s.logout().unwrap();
    assert_eq!(login_user(&s, CKU_USER, "op", b"op-pin-1"), CKR_OK);
    ok(cli(index, &["user", "role", "op", "key-manager"], &so("")));
    s.sign(&Mechanism::Sha256Hmac, key, b"m")
        .expect("the current login keeps its role");
    s.logout().unwrap();
    assert_eq!(login_user(&s, CKU_USER, "op", b"op-pin-1"), CKR_OK);
    assert_rv(
        s.sign(&Mechanism::Sha256Hmac, key, b"m"),
        RvError::KeyFunctionNotPermitted,
    );
    s.destroy_object(key).expect("now a key manager");
    s.logout().unwrap();
    ok(cli(index, &["user", "role", "op", "admin"], &so("")));
    assert_eq!(
        login_user(&s, CKU_USER, "op", b"op-pin-1"),
        CKR_USER_TYPE_INVALID
    );
    assert_eq!(login_user(&s, CKU_SO, "op", b"op-pin-1"), CKR_OK);
    s.logout().unwrap();

    // Only an admin changes roles; roles named users cannot have are refused.
    let by_km = cli(
        index,
        &["--user", "km", "user", "role", "km", "admin"],
        &[("KEYWARD_PIN", "km-pin-1")],
    );
    assert!(
        !by_km.status.success(),
        "a key manager cannot promote itself"
    );
    assert!(!cli(index, &["user", "role", "km", "user"], &so(""))
        .status
        .success());
    let rec = export(index)
        .into_iter()
        .find(|r| r["operation"] == "user-role" && r["detail"] == "name=op role=key-manager")
        .expect("the role change is recorded");
    assert_eq!(rec["user"], "so");
    assert_eq!(rec["result"], "CKR_OK");

    // The role column is still bound: edited, it opens nothing.
    sql(
        &common::slot_dir(index).join("token.db"),
        "UPDATE users SET role = 'admin' WHERE name = 'km';",
    );
    assert_eq!(login_user(&s, CKU_SO, "km", b"km-pin-1"), CKR_PIN_INCORRECT);
    assert_eq!(
        login_user(&s, CKU_USER, "km", b"km-pin-1"),
        CKR_PIN_INCORRECT
    );
}

/// `user mfa enable` prints the otpauth URI and a QR code drawn with block characters.
#[test]
fn mfa_enrolment_prints_a_qr_code() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "qr");
    add_user(index, "op", "operator");
    let out = ok(cli(index, &["user", "mfa", "enable", "op"], &so("")));
    assert!(out.contains("otpauth://totp/"), "{out}");
    let blocks = |l: &str| l.chars().filter(|c| matches!(c, '█' | '▀' | '▄')).count();
    let rows: Vec<&str> = out.lines().filter(|l| blocks(l) > 10).collect();
    assert!(rows.len() >= 10, "a QR code of block rows:\n{out}");
    let width = rows[0].chars().count();
    assert!(
        rows.iter().all(|r| r.chars().count() == width),
        "a square code:\n{out}"
    );
}

/// `key acl` shows, sets and clears a key's ACL (as a key manager), and the C ABI obeys.
#[test]
fn key_acl_show_set_clear() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "acl cli");
    for (n, r) in [
        ("km", "key-manager"),
        ("op", "operator"),
        ("op2", "operator"),
    ] {
        add_user(index, n, r);
    }
    let s = common::p11().open_rw_session(slot).unwrap();
    assert_eq!(login_user(&s, CKU_USER, "km", b"km-pin-1"), CKR_OK);
    let key = common::token_hmac_key(&s, "acl-key");
    s.logout().unwrap();
    let km = [("KEYWARD_PIN", "km-pin-1")];
    let uri = "pkcs11:token=acl%20cli;object=acl-key";
    let acl = |extra: &[&str]| {
        let args = [&["--user", "km", "key", "acl", uri][..], extra].concat();
        ok(cli(index, &args, &km))
    };
    assert!(acl(&[]).contains("(default"), "empty at first");
    assert_eq!(
        acl(&["--set", "user:op=sign"]).trim(),
        "secret key: user:op=sign"
    );
    assert_eq!(acl(&[]).trim(), "secret key: user:op=sign", "shown");
    let json: serde_json::Value = serde_json::from_str(&acl(&["--json"])).unwrap();
    assert_eq!(
        json,
        serde_json::json!([{ "class": "secret", "acl": "user:op=sign" }])
    );
    let signs = |name: &str| {
        assert_eq!(
            login_user(&s, CKU_USER, name, format!("{name}-pin-1").as_bytes()),
            CKR_OK
        );
        let r = s.sign(&Mechanism::Sha256Hmac, key, b"m").map(drop);
        s.logout().unwrap();
        r.err().map(|e| common::rv_of(&e))
    };
    assert_eq!(signs("op"), None);
    assert_eq!(signs("op2"), Some(RvError::KeyFunctionNotPermitted));
    assert!(acl(&["--clear"]).contains("(default"), "cleared");
    assert!(acl(&[]).contains("(default"));
    assert_eq!(signs("op2"), None, "the default lets every operator in");
    let by_op = cli(
        index,
        &["--user", "op", "key", "acl", uri, "--clear"],
        &[("KEYWARD_PIN", "op-pin-1")],
    );
    assert!(!by_op.status.success(), "an operator may not change an ACL");
}

/// `audit tail -n N` prints the last N records; `-f` keeps printing new ones as they are
/// committed, until it is killed.
#[test]
fn audit_tail_and_follow() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "tail");
    add_user(index, "aud", "auditor");
    let aud = [("KEYWARD_PIN", "aud-pin-1")];
    let last3 = ok(cli(
        index,
        &["--user", "aud", "audit", "tail", "-n", "3"],
        &aud,
    ));
    let seqs: Vec<u64> = last3
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs.len(), 3, "{last3}");
    assert!(
        seqs.windows(2).all(|w| w[1] == w[0] + 1),
        "the newest, in order: {seqs:?}"
    );

    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"));
    cmd.args([
        "--slot",
        &index.to_string(),
        "--user",
        "aud",
        "audit",
        "tail",
        "-n",
        "0",
        "-f",
    ])
    .env("KEYWARD_CONF", common::root_dir().join("keyward.toml"))
    .env("KEYWARD_PIN", "aud-pin-1")
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("keyward audit tail -f");
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500)); // it has read the trail's end
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    common::token_hmac_key(&s, "followed");
    s.logout().unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut seen = Vec::new();
    let found = loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) if line.contains("\"object_label\":\"followed\"") => break true,
            Ok(line) => seen.push(line),
            Err(_) => break false,
        }
    };
    child.kill().expect("stop tail -f");
    child.wait().unwrap();
    assert!(
        found,
        "tail -f printed the new record; saw:\n{}",
        seen.join("\n")
    );
}

/// `audit export --since T` keeps the records at or after T, `--until T` those before it.
#[test]
fn audit_export_since_and_until() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "export window");
    add_user(index, "aud", "auditor");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    for i in 0..4 {
        common::token_hmac_key(&s, &format!("w{i}"));
        std::thread::sleep(Duration::from_millis(20));
    }
    s.logout().unwrap();
    let all = export(index);
    let time = |r: &serde_json::Value| r["time"].as_str().unwrap().to_owned();
    let pivot = time(all.iter().find(|r| r["object_label"] == "w2").unwrap());
    let seqs = |rs: &[serde_json::Value]| -> Vec<u64> {
        rs.iter().map(|r| r["seq"].as_u64().unwrap()).collect()
    };
    let last = all.last().unwrap()["seq"].as_u64().unwrap();
    let since = export_with(index, &["--since", &pivot]);
    let until = export_with(index, &["--until", &pivot]);
    assert!(since.iter().all(|r| time(r) >= pivot), "since");
    assert!(until.iter().all(|r| time(r) < pivot), "until");
    let want_since: Vec<u64> = seqs(&all)
        .into_iter()
        .filter(|q| time(&all[(*q - 1) as usize]) >= pivot)
        .collect();
    let want_until: Vec<u64> = seqs(&all)
        .into_iter()
        .filter(|q| time(&all[(*q - 1) as usize]) < pivot)
        .collect();
    let upto = |v: Vec<u64>| -> Vec<u64> { v.into_iter().filter(|q| *q <= last).collect() };
    assert_eq!(upto(seqs(&since)), want_since);
    assert_eq!(
        seqs(&until),
        want_until,
        "nothing newer is before the pivot"
    );
    assert!(since.iter().any(|r| r["object_label"] == "w3"));
    assert!(!until.iter().any(|r| r["object_label"] == "w2"));
    let bad = cli(
        index,
        &["--user", "aud", "audit", "export", "--since", "yesterday"],
        &[("KEYWARD_PIN", "aud-pin-1")],
    );
    assert!(!bad.status.success(), "a bound that is not RFC 3339");
}

/// PINs shorter than the slot's minimum (4) are CKR_PIN_LEN_RANGE through C_InitPIN and
/// C_SetPIN (the default user's and a named user's), and refused by the CLI.
#[test]
fn short_pins_are_refused() {
    let (slot, index) = common::claim_slot();
    common::init_token(slot, "pin policy");
    add_user(index, "op", "operator");
    let s = common::p11().open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    assert_rv(s.init_pin(&pin("abc")), RvError::PinLenRange);
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_rv(s.set_pin(&pin(USER_PIN), &pin("abc")), RvError::PinLenRange);
    s.logout().unwrap();
    assert_eq!(login_user(&s, CKU_USER, "op", b"op-pin-1"), CKR_OK);
    assert_rv(
        s.set_pin(&pin("op-pin-1"), &pin("abc")),
        RvError::PinLenRange,
    );
    s.logout().unwrap();
    assert_eq!(
        login_user(&s, CKU_USER, "op", b"op-pin-1"),
        CKR_OK,
        "unchanged"
    );
    s.logout().unwrap();
    for args in [
        &["user", "add", "x", "--role", "operator"][..],
        &["user", "passwd", "op"],
    ] {
        let out = cli(index, args, &so("abc"));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(err.contains("length"), "{args:?}: {err}");
    }
}
