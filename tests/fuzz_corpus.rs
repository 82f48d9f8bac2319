//! Replays the fuzz corpus on stable Rust: every file under `fuzz/corpus/<target>/` (the seed
//! inputs, and the inputs of crashes found and fixed, named `regression-*`) goes through the
//! same entry point as the fuzz target `<target>`: `keyward::fuzzing` for the parser targets,
//! `fuzz/harness/abi.rs` for the two that drive the C ABI. A fixed bug that comes back fails
//! here without nightly or cargo-fuzz. See docs/fuzzing.md.

#[path = "../fuzz/harness/abi.rs"]
mod abi;

use std::path::{Path, PathBuf};
use std::sync::Mutex;

fn corpus(target: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("corpus entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no corpus for {target}");
    files
}

/// Feed every corpus file of `target` to `entry`, naming the file that fails.
fn replay(target: &str, entry: fn(&[u8])) {
    let files = corpus(target);
    for file in &files {
        let data = std::fs::read(file).expect("read corpus file");
        let name = file.file_name().unwrap_or_default().to_string_lossy();
        if let Err(panic) = std::panic::catch_unwind(|| entry(&data)) {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            panic!("{target}/{name}: {msg}");
        }
    }
    println!("{target}: {} inputs", files.len());
}

/// The ABI targets share one module instance and work session: one at a time.
static ABI: Mutex<()> = Mutex::new(());

#[test]
fn template_abi() {
    let _one = ABI.lock().unwrap_or_else(|e| e.into_inner());
    replay("template_abi", abi::template_abi);
}

#[test]
fn mechanism_abi() {
    let _one = ABI.lock().unwrap_or_else(|e| e.into_inner());
    replay("mechanism_abi", abi::mechanism_abi);
}

#[test]
fn template_checks() {
    replay("template_checks", keyward::fuzzing::template_checks);
}

#[test]
fn store_record() {
    replay("store_record", keyward::fuzzing::store_record);
}

#[test]
fn config() {
    replay("config", keyward::fuzzing::config);
}

#[test]
fn audit_record() {
    replay("audit_record", keyward::fuzzing::audit_record);
}
