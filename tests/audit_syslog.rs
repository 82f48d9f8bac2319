//! The syslog forwarder, wired from keyward.toml: `audit_syslog = "/path/to/socket"` sends
//! each committed record to that datagram socket as an RFC 5424 line (`"syslog"` sends to
//! /dev/log, which is also journald's socket). The test binds the socket itself, runs the
//! CLI and a process using the module with that configuration, and reads what arrives.
mod common;

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use cryptoki::mechanism::Mechanism;
use cryptoki::session::UserType;

use common::child::{child_context, run_child_with};
use common::{pin, SO_PIN, USER_PIN};

/// `<PRI>1 TIME HOST keyward PID audit [keyward@32473 seq="N" hash="HEX"] BODY`.
fn check_rfc5424(line: &str) -> serde_json::Value {
    let (pri, rest) = line
        .strip_prefix('<')
        .and_then(|l| l.split_once(">1 "))
        .unwrap_or_else(|| panic!("no <PRI>1 header: {line}"));
    assert!(
        ["85", "86"].contains(&pri),
        "authpriv.notice or .info: {line}"
    );
    let fields: Vec<&str> = rest.splitn(6, ' ').collect();
    assert_eq!(fields.len(), 6, "{line}");
    let (time, host, app, pid, msgid) = (fields[0], fields[1], fields[2], fields[3], fields[4]);
    assert!(
        time.ends_with('Z') && time.contains('T') && time.len() == 27,
        "{time}"
    );
    assert!(!host.is_empty() && !host.contains(' '));
    assert_eq!((app, msgid), ("keyward", "audit"));
    assert!(pid.parse::<u32>().unwrap() > 0);
    let sd_and_body = fields[5];
    let (sd, body) = sd_and_body.split_once("] ").expect("structured data");
    assert!(sd.starts_with("[keyward@32473 seq=\""), "{sd}");
    let hash = sd.split("hash=\"").nth(1).unwrap().trim_end_matches('"');
    assert_eq!(hash.len(), 64);
    assert!(hash.chars().all(|c| c.is_ascii_hexdigit()));
    let record: serde_json::Value = serde_json::from_str(body).expect("the record as JSON");
    let seq = sd
        .split("seq=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    assert_eq!(record["seq"].to_string(), seq);
    record
}

#[test]
fn records_reach_the_configured_socket() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("log.sock");
    let conf = dir.path().join("keyward.toml");
    std::fs::write(
        &conf,
        format!(
            "[[slot]]\npath = \"{}\"\nlabel = \"syslog slot\"\nargon2_memory_kib = 64\n\
             argon2_iterations = 1\naudit_syslog = \"{}\"\n",
            dir.path().join("slot").display(),
            sock.display()
        ),
    )
    .unwrap();
    let collector = UnixDatagram::bind(&sock).expect("bind the collector socket");
    collector
        .set_read_timeout(Some(Duration::from_secs(3)))
        .unwrap();

    let conf_str = conf.to_str().unwrap();
    common::keyward_cli(
        &["init", "--label", "syslogged"],
        &[
            ("KEYWARD_CONF", conf_str),
            ("KEYWARD_SO_PIN", SO_PIN),
            ("KEYWARD_PIN", USER_PIN),
        ],
    );
    run_child_with(&conf, "syslog_child", "syslog", 0, "");

    let mut records = Vec::new();
    let mut buf = vec![0u8; 65536];
    while let Ok(n) = collector.recv(&mut buf) {
        let line = String::from_utf8(buf[..n].to_vec()).expect("UTF-8 line");
        for secret in [SO_PIN, USER_PIN] {
            assert!(!line.contains(secret), "a PIN in {line}");
        }
        records.push(check_rfc5424(&line));
    }
    let ops: Vec<&str> = records
        .iter()
        .map(|r| r["operation"].as_str().unwrap())
        .collect();
    assert!(ops.contains(&"init-token"), "{ops:?}");
    let signed = records
        .iter()
        .find(|r| r["operation"] == "sign")
        .unwrap_or_else(|| panic!("the signature forwarded: {ops:?}"));
    assert_eq!(signed["object_label"], "forwarded-key");
    assert_eq!(signed["mechanism"], "CKM_SHA256_HMAC");
    assert_eq!(signed["user"], "user");
}

/// Child: with the syslog configuration, sign once as the default user.
#[test]
fn syslog_child() {
    let Some((p11, slot, _)) = child_context("syslog") else {
        return;
    };
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let key = common::token_hmac_key(&s, "forwarded-key");
    s.sign(&Mechanism::Sha256Hmac, key, b"m").unwrap();
    s.logout().unwrap();
}
