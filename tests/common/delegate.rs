//! A delegate slot for the black-box tests: a SoftHSM token standing in for the device, and
//! a Keyward configuration whose only slot delegates to it.

use std::path::{Path, PathBuf};

pub const SOFTHSM: &str = "/usr/lib/softhsm/libsofthsm2.so";
pub const DEVICE_PIN: &str = "device-pin-1";

/// A SoftHSM token "hsm" in `dir`/tokens and a Keyward configuration delegating to it.
pub fn device_and_config(dir: &Path) -> PathBuf {
    let conf = super::softhsm_conf(dir);
    std::env::set_var("SOFTHSM2_CONF", &conf);
    let out = std::process::Command::new("softhsm2-util")
        .args(["--init-token", "--free", "--label", "hsm"])
        .args(["--so-pin", "device-so-1", "--pin", DEVICE_PIN])
        .output()
        .expect("softhsm2-util");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::write(dir.join("device.pin"), format!("{DEVICE_PIN}\n")).unwrap();
    let keyward = dir.join("keyward.toml");
    std::fs::write(
        &keyward,
        format!(
            "[[slot]]\npath = \"{}\"\nargon2_memory_kib = 64\nargon2_iterations = 1\n\
             backend = \"delegate\"\ndevice_module = \"{SOFTHSM}\"\ndevice_token = \"hsm\"\n\
             device_pin_file = \"{}\"\n",
            dir.join("keyward").display(),
            dir.join("device.pin").display()
        ),
    )
    .unwrap();
    keyward
}

/// The module loaded with a configuration whose only slot delegates to a fresh SoftHSM token
/// in `dir`, its token initialised, and a user session on it; None (after saying SKIPPED)
/// when SoftHSM is not installed.
pub fn delegated(
    dir: &Path,
) -> Option<(
    cryptoki::context::Pkcs11,
    cryptoki::slot::Slot,
    cryptoki::session::Session,
)> {
    use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
    use cryptoki::session::UserType;
    if !Path::new(SOFTHSM).exists() {
        eprintln!("SKIPPED: {SOFTHSM} is not installed (CI installs softhsm2)");
        return None;
    }
    std::env::set_var("KEYWARD_CONF", device_and_config(dir));
    let p11 = Pkcs11::new(super::module_path()).unwrap();
    p11.initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
        .unwrap();
    let slot = p11.get_all_slots().unwrap()[0];
    super::init_token_in(&p11, slot, "delegated");
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::User, Some(&super::pin(super::USER_PIN)))
        .unwrap();
    Some((p11, slot, s))
}
