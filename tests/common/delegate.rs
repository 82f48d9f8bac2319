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

/// The delegate slot of the module `p11` (configured by [`device_and_config`]) initialised,
/// with a user session logged in.
pub fn user_session(
    p11: &cryptoki::context::Pkcs11,
) -> (cryptoki::slot::Slot, cryptoki::session::Session) {
    use cryptoki::session::UserType;
    use cryptoki::types::AuthPin;
    let pin = |s: &str| AuthPin::new(s.into());
    let slot = p11.get_all_slots().unwrap()[0];
    p11.init_token(slot, &pin(super::SO_PIN), "delegated")
        .unwrap();
    let s = p11.open_rw_session(slot).unwrap();
    s.login(UserType::So, Some(&pin(super::SO_PIN))).unwrap();
    s.init_pin(&pin(super::USER_PIN)).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin(super::USER_PIN)))
        .unwrap();
    (slot, s)
}
