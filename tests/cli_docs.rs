//! Shell completions and man pages come from the CLI definition itself: every subcommand
//! appears in them, and bash accepts the script.

fn keyward(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(args)
        .output()
        .expect("run keyward")
}

#[test]
fn completions_name_every_subcommand_and_bash_loads_them() {
    for shell in ["bash", "zsh", "fish"] {
        let out = keyward(&["completions", shell]);
        assert!(out.status.success(), "{shell}");
        let script = String::from_utf8(out.stdout).unwrap();
        for sub in [
            "rotate", "revoke", "adopt", "verify", "audit", "user", "bench",
        ] {
            assert!(script.contains(sub), "{shell} completions lack {sub}");
        }
    }
    let script = String::from_utf8(keyward(&["completions", "bash"]).stdout).unwrap();
    let bash = std::process::Command::new("bash")
        .args(["-c", &format!("{script}\ncomplete -p keyward")])
        .output()
        .expect("bash");
    assert!(
        bash.status.success(),
        "{}",
        String::from_utf8_lossy(&bash.stderr)
    );
    assert!(String::from_utf8_lossy(&bash.stdout).contains("-F _keyward keyward"));
}

#[test]
fn man_pages_cover_every_subcommand() {
    let dir = tempfile::tempdir().unwrap();
    let out = keyward(&["man", dir.path().to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for page in [
        "keyward.1",
        "keyward-key-rotate.1",
        "keyward-store-verify.1",
        "keyward-user-add.1",
        "keyward-adopt.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join(page)).expect(page);
        assert!(text.contains(".TH"), "{page} is not a man page");
    }
    let main = String::from_utf8(keyward(&["man"]).stdout).unwrap();
    assert!(
        main.contains(".SH SUBCOMMANDS") || main.contains("keyward\\-key"),
        "{main}"
    );
}

/// The exit status is documented in `--help` (and so in the man page) and holds: 0 for
/// success, 1 for a failed command (with its reason on stderr), 2 for a usage error.
#[test]
fn exit_status_is_documented_and_kept() {
    let help = String::from_utf8(keyward(&["--help"]).stdout).unwrap();
    assert!(help.contains("Exit status: 0 success; 1 "), "{help}");
    assert_eq!(keyward(&["--version"]).status.code(), Some(0));
    assert_eq!(keyward(&["no-such-command"]).status.code(), Some(2));
    assert_eq!(
        keyward(&["key", "generate"]).status.code(),
        Some(2),
        "missing --type"
    );
    let dir = tempfile::tempdir().unwrap();
    let failed = std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
        .args(["key", "export-public", "pkcs11:object=nothing-here"])
        .env_remove("KEYWARD_CONF")
        .env("KEYWARD_DIR", dir.path())
        .output()
        .unwrap();
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.starts_with("keyward: ") && stderr.contains("run `keyward init"),
        "the reason and the next step: {stderr}"
    );
    let man = tempfile::tempdir().unwrap();
    assert!(keyward(&["man", man.path().to_str().unwrap()])
        .status
        .success());
    let page = std::fs::read_to_string(man.path().join("keyward.1")).unwrap();
    assert!(page.contains("Exit status"), "the man page carries it");
}

/// `--token` takes a label or an RFC 7512 URI naming the token.
#[test]
fn token_is_named_by_label_or_uri() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_keyward"))
            .args(args)
            .env_remove("KEYWARD_CONF")
            .env("KEYWARD_DIR", dir.path())
            .env("KEYWARD_SO_PIN", "so-pin-1234")
            .env("KEYWARD_PIN", "user-pin-1234")
            .output()
            .unwrap()
    };
    assert!(run(&["init", "--label", "uri token"]).status.success());
    for token in [
        "uri token",
        "pkcs11:token=uri%20token",
        "pkcs11:token=uri%20token;object=x",
    ] {
        let out = run(&["--token", token, "key", "list", "--json"]);
        assert!(out.status.success(), "{token}: {out:?}");
    }
    for (token, says) in [
        ("pkcs11:token=other", "no token labelled \"other\""),
        ("pkcs11:object=x", "names no token"),
    ] {
        let out = run(&["--token", token, "key", "list"]);
        assert_eq!(out.status.code(), Some(1), "{token}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(says), "{token}: {stderr}");
    }
}
