//! Configuration: one slot in the user's data directory by default, or the slots listed in
//! the TOML file named by `KEYWARD_CONF`.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::audit::Writer;
use crate::error::{Error, Result};

/// Cost of the PIN key-derivation function (Argon2id) for PINs set from now on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct KdfCost {
    pub memory_kib: u32,
    pub iterations: u32,
}

impl Default for KdfCost {
    /// OWASP's 2023 minimum for Argon2id: 19 MiB, 2 passes.
    fn default() -> Self {
        Self {
            memory_kib: 19 * 1024,
            iterations: 2,
        }
    }
}

/// One slot and the token behind it.
#[derive(Clone, Debug)]
pub struct SlotConfig {
    pub description: String,
    /// Directory holding `token.db`.
    pub path: PathBuf,
    pub pin_max_retries: u32,
    pub pin_min_len: usize,
    pub pin_max_len: usize,
    pub kdf: KdfCost,
    /// Whether RSA private keys below 2048 bits may sign and decrypt (they always verify
    /// and encrypt). Off by default.
    pub allow_rsa_1024_private: bool,
    /// Whether a compromised key may still verify, decrypt and unwrap (never protect).
    pub allow_compromised_processing: bool,
    /// Keep an audit trail (`audit.db` beside `token.db`). On by default.
    pub audit: bool,
    /// Refuse an operation whose audit record cannot be written (docs/audit.md).
    pub audit_strict: bool,
    /// Coalesce identical events waiting to be written into one record with a count
    /// (docs/audit.md); on by default, never in strict mode.
    pub audit_coalesce: bool,
    /// Also send each committed record to syslog: "syslog" (/dev/log) or a datagram
    /// socket's path.
    pub audit_syslog: Option<String>,
    /// Who writes the audit trail: a thread of its own, or the threads that record
    /// (docs/audit.md); by default the callers in a single-threaded process.
    pub audit_writer: Writer,
    /// `backend = "delegate"`: the slot's keys live on this device (docs/delegation.md).
    pub delegate: Option<DelegateConfig>,
}

/// The device behind a delegate slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DelegateConfig {
    /// The device's PKCS#11 module.
    pub module: PathBuf,
    /// Its token: a label, or an RFC 7512 URI (`pkcs11:token=...;serial=...`).
    pub token: String,
    /// Where its user PIN comes from: a file, or an environment variable.
    pub pin: DevicePin,
}

/// The source of a device PIN (never the PIN itself in the configuration).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DevicePin {
    File(PathBuf),
    Env(String),
}

impl SlotConfig {
    /// A slot with default policy whose store lives in `path`.
    pub fn at(path: PathBuf) -> Self {
        Self {
            description: "Keyward soft token".into(),
            path,
            pin_max_retries: 10,
            pin_min_len: 4,
            pin_max_len: 255,
            kdf: KdfCost::default(),
            allow_rsa_1024_private: false,
            allow_compromised_processing: false,
            audit: true,
            audit_strict: false,
            audit_coalesce: true,
            audit_syslog: None,
            audit_writer: Writer::Auto,
            delegate: None,
        }
    }

    /// The audit trail file.
    pub fn audit_path(&self) -> PathBuf {
        self.path.join("audit.db")
    }

    /// The token database file.
    pub fn db_path(&self) -> PathBuf {
        self.path.join("token.db")
    }
}

/// The module configuration.
#[derive(Clone, Debug)]
pub struct Config {
    pub slots: Vec<SlotConfig>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    #[serde(default)]
    slot: Vec<FileSlot>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSlot {
    path: PathBuf,
    /// The slot's label (CK_SLOT_INFO.slotDescription); `description` is accepted too.
    #[serde(alias = "description")]
    label: Option<String>,
    pin_max_retries: Option<u32>,
    pin_min_len: Option<usize>,
    pin_max_len: Option<usize>,
    argon2_memory_kib: Option<u32>,
    argon2_iterations: Option<u32>,
    allow_rsa_1024_private: Option<bool>,
    allow_compromised_processing: Option<bool>,
    audit: Option<bool>,
    audit_strict: Option<bool>,
    audit_coalesce: Option<bool>,
    audit_syslog: Option<String>,
    /// "auto" (the default), "thread" or "caller".
    audit_writer: Option<String>,
    /// "soft" (the default) or "delegate".
    backend: Option<String>,
    device_module: Option<PathBuf>,
    device_token: Option<String>,
    device_pin_file: Option<PathBuf>,
    device_pin_env: Option<String>,
}

impl Config {
    /// Read `KEYWARD_CONF` if set, else one slot in `KEYWARD_DIR` or the user data directory.
    /// CKR_GENERAL_ERROR (reported on stderr) for an unreadable or invalid file.
    pub fn from_env() -> Result<Self> {
        if let Some(path) = std::env::var_os("KEYWARD_CONF") {
            return Self::load(Path::new(&path));
        }
        Ok(Self {
            slots: vec![SlotConfig::at(default_dir()?)],
        })
    }

    /// Load a TOML configuration file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            eprintln!("keyward: cannot read {}: {e}", path.display());
            Error::GeneralError
        })?;
        Self::parse(&text)
            .inspect_err(|_| eprintln!("keyward: invalid configuration in {}", path.display()))
    }

    /// Parse TOML text (`[[slot]]` tables with `path`, `label`, `pin_max_retries`,
    /// `pin_min_len`, `pin_max_len`, `argon2_memory_kib`, `argon2_iterations`,
    /// `allow_rsa_1024_private`, `allow_compromised_processing`, `audit`, `audit_strict`,
    /// `audit_coalesce`, `audit_syslog`, `audit_writer`, and for `backend = "delegate"`: `device_module`,
    /// `device_token`, one of `device_pin_file` / `device_pin_env`).
    pub fn parse(text: &str) -> Result<Self> {
        let file: FileConfig = toml::from_str(text).map_err(|e| {
            eprintln!("keyward: {e}");
            Error::GeneralError
        })?;
        let slots = file
            .slot
            .into_iter()
            .map(FileSlot::into_slot)
            .collect::<Result<Vec<_>>>()?;
        if slots.is_empty() {
            eprintln!("keyward: the configuration lists no [[slot]]");
            return Err(Error::GeneralError);
        }
        Ok(Self { slots })
    }
}

impl FileSlot {
    fn into_slot(self) -> Result<SlotConfig> {
        let delegate = self.delegate()?;
        let mut s = SlotConfig::at(self.path);
        s.delegate = delegate;
        if let Some(d) = self.label {
            s.description = d;
        }
        s.pin_max_retries = self.pin_max_retries.unwrap_or(s.pin_max_retries).max(1);
        s.pin_min_len = self.pin_min_len.unwrap_or(s.pin_min_len);
        s.pin_max_len = self.pin_max_len.unwrap_or(s.pin_max_len);
        s.kdf.memory_kib = self.argon2_memory_kib.unwrap_or(s.kdf.memory_kib).max(8);
        s.kdf.iterations = self.argon2_iterations.unwrap_or(s.kdf.iterations).max(1);
        s.allow_rsa_1024_private = self.allow_rsa_1024_private.unwrap_or(false);
        s.allow_compromised_processing = self.allow_compromised_processing.unwrap_or(false);
        s.audit = self.audit.unwrap_or(true);
        s.audit_strict = self.audit_strict.unwrap_or(false);
        s.audit_coalesce = self.audit_coalesce.unwrap_or(true);
        s.audit_syslog = self.audit_syslog;
        if let Some(name) = &self.audit_writer {
            let Some(writer) = Writer::parse(name) else {
                eprintln!("keyward: audit_writer is \"auto\", \"thread\" or \"caller\"");
                return Err(Error::GeneralError);
            };
            s.audit_writer = writer;
        }
        if s.pin_min_len > s.pin_max_len {
            eprintln!("keyward: pin_min_len exceeds pin_max_len");
            return Err(Error::GeneralError);
        }
        Ok(s)
    }

    /// The device of a `backend = "delegate"` slot; device keys on any other slot are an error.
    fn delegate(&self) -> Result<Option<DelegateConfig>> {
        let invalid = |msg: &str| {
            eprintln!("keyward: {msg}");
            Err(Error::GeneralError)
        };
        let device_keys = self.device_module.is_some()
            || self.device_token.is_some()
            || self.device_pin_file.is_some()
            || self.device_pin_env.is_some();
        match self.backend.as_deref() {
            None | Some("soft") if device_keys => {
                invalid("device_* keys need backend = \"delegate\"")
            }
            None | Some("soft") => Ok(None),
            Some("delegate") => {
                let (Some(module), Some(token)) = (&self.device_module, &self.device_token) else {
                    return invalid("a delegate slot needs device_module and device_token");
                };
                let pin = match (&self.device_pin_file, &self.device_pin_env) {
                    (Some(f), None) => DevicePin::File(f.clone()),
                    (None, Some(v)) => DevicePin::Env(v.clone()),
                    _ => {
                        return invalid(
                            "a delegate slot needs one of device_pin_file, device_pin_env",
                        )
                    }
                };
                Ok(Some(DelegateConfig {
                    module: module.clone(),
                    token: token.clone(),
                    pin,
                }))
            }
            Some(other) => invalid(&format!("unknown backend {other:?} (soft or delegate)")),
        }
    }
}

/// `$KEYWARD_DIR`, else `$XDG_DATA_HOME/keyward`, else `~/.local/share/keyward`.
pub fn default_dir() -> Result<PathBuf> {
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(dir) = env("KEYWARD_DIR") {
        return Ok(dir);
    }
    if let Some(xdg) = env("XDG_DATA_HOME") {
        return Ok(xdg.join("keyward"));
    }
    env("HOME")
        .map(|h| h.join(".local/share/keyward"))
        .ok_or(Error::GeneralError)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_several_slots_with_policy() {
        let c = Config::parse(
            "[[slot]]\npath = \"/a\"\npin_max_retries = 3\n[[slot]]\npath = \"/b\"\nlabel = \"B\"\nallow_rsa_1024_private = true\n",
        )
        .unwrap();
        assert_eq!(c.slots.len(), 2);
        assert_eq!(c.slots[0].pin_max_retries, 3);
        assert_eq!(c.slots[1].description, "B");
        assert!(!c.slots[0].allow_rsa_1024_private && c.slots[1].allow_rsa_1024_private);
        assert_eq!(c.slots[1].db_path(), PathBuf::from("/b/token.db"));
    }

    #[test]
    fn rejects_unknown_keys_and_empty_files() {
        assert!(Config::parse("[[slot]]\npath = \"/a\"\nbogus = 1\n").is_err());
        assert!(Config::parse("").is_err());
    }

    #[test]
    fn a_delegate_slot_names_its_device_and_pin_source() {
        let c = Config::parse(
            "[[slot]]\npath = \"/a\"\nbackend = \"delegate\"\ndevice_module = \"/lib/hsm.so\"\ndevice_token = \"pkcs11:token=hsm\"\ndevice_pin_env = \"HSM_PIN\"\n",
        )
        .unwrap();
        assert_eq!(
            c.slots[0].delegate,
            Some(DelegateConfig {
                module: "/lib/hsm.so".into(),
                token: "pkcs11:token=hsm".into(),
                pin: DevicePin::Env("HSM_PIN".into()),
            })
        );
        let base = "[[slot]]\npath = \"/a\"\n";
        for bad in [
            "backend = \"delegate\"\ndevice_module = \"/m\"\ndevice_pin_env = \"P\"\n",
            "backend = \"delegate\"\ndevice_module = \"/m\"\ndevice_token = \"t\"\n",
            "backend = \"delegate\"\ndevice_module = \"/m\"\ndevice_token = \"t\"\ndevice_pin_env = \"P\"\ndevice_pin_file = \"/f\"\n",
            "device_module = \"/m\"\n",
            "backend = \"hsm\"\n",
        ] {
            assert!(Config::parse(&format!("{base}{bad}")).is_err(), "{bad}");
        }
        assert_eq!(Config::parse(base).unwrap().slots[0].delegate, None);
    }
}
