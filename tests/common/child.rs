//! Tests that need a second process: the test binary re-runs itself with `--exact <child
//! test>`; child tests are no-ops unless `KEYWARD_TEST_ROLE` names them, and they load the
//! module themselves with the parent's configuration file (never through `common::p11()`,
//! which would make a new one).

use std::process::Command;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::slot::Slot;

const ROLE: &str = "KEYWARD_TEST_ROLE";
const CONF: &str = "KEYWARD_TEST_CONF";
const SLOT: &str = "KEYWARD_TEST_SLOT";
const EXPECT: &str = "KEYWARD_TEST_EXPECT";

/// Re-run this binary as a child process running only `test` in `role`, on slot `index` of
/// this binary's configuration; panics unless it ran exactly that one test and passed.
pub fn run_child(test: &str, role: &str, index: usize, expect: &str) {
    run_child_output(test, role, index, expect);
}

/// [`run_child`], returning the child's standard output.
pub fn run_child_output(test: &str, role: &str, index: usize, expect: &str) -> String {
    run_child_with(
        &super::root_dir().join("keyward.toml"),
        test,
        role,
        index,
        expect,
    )
}

/// [`run_child_output`] with another configuration file `conf` (a slot set up differently
/// from this binary's).
pub fn run_child_with(
    conf: &std::path::Path,
    test: &str,
    role: &str,
    index: usize,
    expect: &str,
) -> String {
    run_child_env(conf, test, role, index, expect, &[])
}

/// [`run_child_with`] with extra environment variables `env` for the child.
pub fn run_child_env(
    conf: &std::path::Path,
    test: &str,
    role: &str,
    index: usize,
    expect: &str,
    env: &[(&str, &str)],
) -> String {
    let out = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .envs(env.iter().copied())
        .env(ROLE, role)
        .env(CONF, conf)
        .env(SLOT, index.to_string())
        .env(EXPECT, expect)
        .output()
        .expect("spawn child");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("test result: ok. 1 passed"),
        "child {test} ({role}) failed: {}\n--- stdout\n{stdout}\n--- stderr\n{stderr}",
        out.status
    );
    stdout.into_owned()
}

/// Start this binary as a child process running only `test` in `role` on slot `index`, and
/// return once the child has printed a line containing `ready` (for a test that kills it at
/// a moment after the child's real work began, however slow its start-up is on a loaded
/// machine). Panics if the child ends or stays silent for a minute first.
pub fn spawn_child_when(
    test: &str,
    role: &str,
    index: usize,
    expect: &str,
    ready: &str,
) -> std::process::Child {
    use std::io::BufRead;
    let mut child = Command::new(std::env::current_exe().expect("test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(ROLE, role)
        .env(CONF, super::root_dir().join("keyward.toml"))
        .env(SLOT, index.to_string())
        .env(EXPECT, expect)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn child");
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let ready = ready.to_owned();
    // Reads to the end, so the child never blocks on a full pipe.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout).lines() {
            match line {
                Ok(l) if l.contains(&ready) => {
                    let _ = tx.send(());
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
    });
    rx.recv_timeout(std::time::Duration::from_secs(60))
        .expect("the child did not report it was ready");
    child
}

/// In a child process started by [`run_child`] for `role`: the slot index and the parent's
/// message, after pointing `KEYWARD_CONF` at the parent's configuration. None in any other run.
pub fn child_role(role: &str) -> Option<(usize, String)> {
    if std::env::var(ROLE).ok()? != role {
        return None;
    }
    std::env::set_var(
        "KEYWARD_CONF",
        std::env::var_os(CONF).expect("parent configuration"),
    );
    let index = std::env::var(SLOT)
        .expect("slot")
        .parse()
        .expect("slot index");
    Some((index, std::env::var(EXPECT).unwrap_or_default()))
}

/// Load and initialise the module in this process; the slot at `index`.
pub fn load_module(index: usize) -> (Pkcs11, Slot) {
    let p = Pkcs11::new(super::module_path()).expect("load module");
    p.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .expect("C_Initialize");
    let slot = p.get_all_slots().expect("C_GetSlotList")[index];
    (p, slot)
}

/// [`child_role`] plus the module, kept loaded for the life of the child process (unloading
/// is checked on its own by `the_module_can_be_unloaded_after_finalize`).
pub fn child_context(role: &str) -> Option<(Pkcs11, Slot, String)> {
    let (index, message) = child_role(role)?;
    let (p, slot) = load_module(index);
    std::mem::forget(p.clone());
    Some((p, slot, message))
}
