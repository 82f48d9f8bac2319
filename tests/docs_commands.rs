//! The documentation cannot rot: every `sh` block of the pages listed here is run, in order,
//! as one bash script (`set -euo pipefail`) in a fresh home directory with the built
//! `keyward` first on PATH. A command that fails, or a check a page makes that does not hold,
//! fails the test and names the page.
//!
//! Not run here: the README's two commands (CI runs `scripts/test.sh`, which runs
//! `scripts/quickstart.sh`), and docs/fuzzing.md's, which need the nightly toolchain CI does
//! not have (tests/fuzz_corpus.rs replays the fuzz seed corpus instead). Other pages show no
//! commands, only file contents and formulas.
use std::path::Path;
use std::process::Command;

/// The `sh` fenced blocks of a Markdown text, in order.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        match (&mut current, line.trim_start()) {
            (None, "```sh") => current = Some(String::new()),
            (Some(block), "```") => {
                blocks.push(std::mem::take(block));
                current = None;
            }
            (Some(block), _) => {
                block.push_str(line);
                block.push('\n');
            }
            (None, _) => {}
        }
    }
    assert!(current.is_none(), "an sh block is not closed");
    blocks
}

fn run_page(page: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(page)).expect("page");
    let blocks = sh_blocks(&text);
    assert!(!blocks.is_empty(), "{page} has no sh block");
    let bin = Path::new(env!("CARGO_BIN_EXE_keyward")).parent().unwrap();
    let home = std::env::temp_dir().join(format!(
        "keyward-docs-{}-{}",
        std::process::id(),
        page.replace('/', "-")
    ));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).unwrap();
    let script = format!("set -euo pipefail\n{}", blocks.join("\n"));
    let out = Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(&home)
        .env("HOME", &home)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env_remove("KEYWARD_CONF")
        .env_remove("KEYWARD_DIR")
        .env_remove("KEYWARD_PIN")
        .env_remove("KEYWARD_SO_PIN")
        .output()
        .expect("run bash");
    assert!(
        out.status.success(),
        "{page}: its commands failed ({})\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// One test per page whose `sh` blocks are a self-contained walk-through.
macro_rules! pages {
    ($($test:ident: $page:literal,)*) => {$(
        #[test]
        fn $test() {
            run_page($page);
        }
    )*};
}

pages! {
    getting_started_runs_as_written: "docs/getting-started.md",
    configuration_examples_run_as_written: "docs/configuration.md",
    migration_runs_as_written: "docs/migration.md",
    access_control_walk_through_runs_as_written: "docs/access-control.md",
    audit_walk_through_runs_as_written: "docs/audit.md",
    integration_index_runs_as_written: "docs/integration/README.md",
    pkcs11_tool_guide_runs_as_written: "docs/integration/pkcs11-tool.md",
    openssl_provider_guide_runs_as_written: "docs/integration/openssl-provider.md",
    openssl_engine_guide_runs_as_written: "docs/integration/openssl-engine.md",
    nss_guide_runs_as_written: "docs/integration/nss.md",
    java_guide_runs_as_written: "docs/integration/java.md",
    gnutls_guide_runs_as_written: "docs/integration/gnutls.md",
    p11_kit_guide_runs_as_written: "docs/integration/p11-kit.md",
    python_guide_runs_as_written: "docs/integration/python.md",
}

#[test]
fn sh_blocks_are_found_in_order() {
    let md = "text\n```sh\necho one\n```\n```toml\nx = 1\n```\n```sh\necho two\n```\n";
    assert_eq!(sh_blocks(md), ["echo one\n", "echo two\n"]);
}
