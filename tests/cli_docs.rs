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
