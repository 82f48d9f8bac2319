//! The safe administrative API the `keyward` CLI uses. It drives the same [`Provider`] the
//! PKCS#11 module exposes, so the CLI and every PKCS#11 caller share one code path.

pub mod audit;
pub mod csr;
pub mod delegate;
pub mod doctor;
pub mod export;
pub mod generate;
pub mod import;
pub mod install;
pub mod keyfile;
pub mod lifecycle;
mod listing;
pub mod softhsm;
pub mod store;
pub mod uri;
pub mod users;
pub mod versions;

use cryptoki_sys::*;
use zeroize::Zeroizing;

pub use listing::{flag_names, KeyRow};

use crate::config::Config;
use crate::error::{Error, Result};
use crate::provider::Provider;

/// A PIN held in memory only as long as needed.
pub type Pin = Zeroizing<Vec<u8>>;

/// An administrative view of the configured slots.
pub struct Admin {
    provider: Provider,
    /// The named user (`C_LoginUser`) the CLI acts as; None: the built-in SO and user.
    user: Option<String>,
}

/// One slot as `keyward info` shows it.
#[derive(Debug, serde::Serialize)]
pub struct SlotRow {
    pub id: CK_SLOT_ID,
    pub description: String,
    pub store: String,
    pub token_present: bool,
    pub label: String,
    pub serial: String,
    pub flags: Vec<&'static str>,
}

impl Admin {
    /// Open the configuration from the environment (`KEYWARD_CONF`, `KEYWARD_DIR`).
    pub fn from_env() -> Result<Self> {
        Ok(Self {
            provider: Provider::new(Config::from_env()?),
            user: None,
        })
    }

    /// Act as named user `name` from now on (`keyward --user NAME`).
    pub fn set_user(&mut self, name: Option<String>) {
        self.user = name;
    }

    /// Log session `h` in as `user_type`: the named user if one was set, else the built-in
    /// SO or default user.
    pub(crate) fn login(
        &self,
        h: CK_SESSION_HANDLE,
        user_type: CK_USER_TYPE,
        pin: &[u8],
    ) -> Result<()> {
        match &self.user {
            Some(name) => self.provider.login_user(h, user_type, pin, name.as_bytes()),
            None => self.provider.login(h, user_type, pin),
        }
    }

    pub fn provider(&self) -> &Provider {
        &self.provider
    }

    /// Initialise the token in `slot` with a label, SO PIN and user PIN.
    pub fn init(
        &self,
        slot: CK_SLOT_ID,
        label: &str,
        so_pin: &[u8],
        user_pin: &[u8],
    ) -> Result<()> {
        self.provider.init_token(slot, so_pin, label)?;
        let h = self
            .provider
            .open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)?;
        let r = self
            .provider
            .login(h, CKU_SO, so_pin)
            .and_then(|_| self.provider.init_pin(h, user_pin))
            .and_then(|_| self.provider.logout(h));
        self.provider.close_session(h)?;
        r
    }

    /// Every configured slot and its token.
    pub fn slots(&self) -> Result<Vec<SlotRow>> {
        let cfgs = Config::from_env()?.slots;
        let mut rows = Vec::new();
        for id in self.provider.slot_ids(false) {
            let info = self.provider.slot_info(id)?;
            let store = cfgs
                .get(id as usize)
                .map(|c| c.db_path().display().to_string())
                .unwrap_or_default();
            let token = self.provider.token_status(id).ok();
            rows.push(SlotRow {
                id,
                description: info.description,
                store,
                token_present: token.is_some(),
                label: token
                    .as_ref()
                    .map(|t| t.info.label.clone())
                    .unwrap_or_default(),
                serial: token
                    .as_ref()
                    .map(|t| t.info.serial.clone())
                    .unwrap_or_default(),
                flags: token.map(|t| flag_names(t.info.flags)).unwrap_or_default(),
            });
        }
        Ok(rows)
    }

    /// The keys in `slot`: public objects only without a PIN, all with the user PIN.
    pub fn keys(&self, slot: CK_SLOT_ID, pin: Option<&[u8]>) -> Result<Vec<KeyRow>> {
        let h = self.provider.open_session(slot, CKF_SERIAL_SESSION)?;
        let r = (|| {
            if let Some(pin) = pin {
                self.login(h, CKU_USER, pin)?;
            }
            listing::key_rows(&self.provider, h)
        })();
        self.provider.close_session(h)?;
        r
    }

    /// Run `f` on the key objects (newest first) matching `template` in `slot`, in a
    /// read/write session logged in as the user; the session is closed whatever happens.
    pub(crate) fn with_keys<T>(
        &self,
        slot: CK_SLOT_ID,
        template: &crate::object::Attributes,
        pin: &[u8],
        f: impl FnOnce(
            CK_SESSION_HANDLE,
            Vec<(CK_OBJECT_HANDLE, std::sync::Arc<crate::object::Object>)>,
        ) -> Result<T>,
    ) -> Result<T> {
        let p = &self.provider;
        let h = p.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)?;
        let r = (|| {
            self.login(h, CKU_USER, pin)?;
            p.find_init(h, template)?;
            let found = p.find_next(h, usize::MAX);
            p.find_final(h)?;
            let mut keys = Vec::new();
            for o in found? {
                let obj = p.object(h, o)?;
                if matches!(
                    obj.class(),
                    CKO_PRIVATE_KEY | CKO_PUBLIC_KEY | CKO_SECRET_KEY
                ) {
                    keys.push((o, obj));
                }
            }
            f(h, keys)
        })();
        p.close_session(h)?;
        r
    }

    /// The first slot whose token has `label`, else CKR_TOKEN_NOT_PRESENT.
    pub fn slot_by_label(&self, label: &str) -> Result<CK_SLOT_ID> {
        self.slots()?
            .into_iter()
            .find(|s| s.label == label)
            .map(|s| s.id)
            .ok_or(Error::TokenNotPresent)
    }
}
