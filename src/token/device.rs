//! The device behind a delegate slot, as the token sees it: opened from the slot's
//! configuration, with the device's mechanism table kept once it has been read.

use std::sync::{Arc, Mutex, OnceLock};

use cryptoki_sys::*;

use super::Token;
use crate::backend::delegate::{Device, DeviceConfig, PinSource};
use crate::config::{DelegateConfig, DevicePin};
use crate::error::{Error, Result};
use crate::mechanism::Info;

/// The device's mechanisms with their info, sorted by type.
type Table = Box<[(CK_MECHANISM_TYPE, Info)]>;

/// The device and what it offers (read on first need; a device's mechanisms do not change).
pub(super) struct Delegate {
    device: Arc<Device>,
    /// Read once, then consulted by every operation with a device key without a lock.
    mechanisms: OnceLock<Table>,
    /// Held while reading the table, so concurrent first callers ask the device once.
    reading: Mutex<()>,
}

impl Delegate {
    /// The device of a delegate slot; connecting waits for its first use.
    pub(super) fn open(config: &DelegateConfig) -> Self {
        let pin = match &config.pin {
            DevicePin::File(f) => PinSource::File(f.clone()),
            DevicePin::Env(v) => PinSource::Env(v.clone()),
        };
        Self {
            device: Arc::new(Device::new(DeviceConfig {
                module: config.module.clone(),
                token: config.token.clone(),
                pin,
            })),
            mechanisms: OnceLock::new(),
            reading: Mutex::new(()),
        }
    }

    /// The table, read from the device on first need (an unreachable device is not
    /// remembered: the next call asks again).
    fn mechanisms(&self) -> Result<&Table> {
        if let Some(t) = self.mechanisms.get() {
            return Ok(t);
        }
        let _reading = self.reading.lock().map_err(|_| Error::GeneralError)?;
        if let Some(t) = self.mechanisms.get() {
            return Ok(t);
        }
        let mut table: Vec<_> = self
            .device
            .mechanisms()?
            .into_iter()
            .map(|(ty, min_key, max_key, flags)| {
                let info = Info {
                    min_key,
                    max_key,
                    flags,
                };
                (ty, info)
            })
            .collect();
        table.sort_unstable_by_key(|(ty, _)| *ty);
        table.dedup_by_key(|(ty, _)| *ty);
        Ok(self.mechanisms.get_or_init(|| table.into_boxed_slice()))
    }

    /// The device's info for `ty`, if it offers it.
    fn mechanism(&self, ty: CK_MECHANISM_TYPE) -> Result<Option<Info>> {
        let table = self.mechanisms()?;
        let found = table.binary_search_by_key(&ty, |(t, _)| *t);
        Ok(found.ok().map(|i| table[i].1))
    }
}

impl Drop for Delegate {
    /// The device connection is never torn down in a process: a `C_Finalize` of Keyward at
    /// exit (pkcs11-provider calls it from OpenSSL's exit handlers) would close the device's
    /// sessions after the device module's own library state is gone — SoftHSM then crashes
    /// in `C_CloseSession`. The device ends its sessions when the process exits; a Keyward
    /// re-initialised in the same process reuses the loaded module (already logged in).
    fn drop(&mut self) {
        std::mem::forget(Arc::clone(&self.device));
    }
}

impl Token {
    /// The device of a delegate slot (None for a soft slot).
    pub fn device(&self) -> Option<&Arc<Device>> {
        self.delegate.as_ref().map(|d| &d.device)
    }

    /// The device's info for mechanism `ty` (None if it lacks it, or this is a soft slot).
    /// CKR_DEVICE_ERROR while the device cannot be reached.
    pub fn device_mechanism(&self, ty: CK_MECHANISM_TYPE) -> Result<Option<Info>> {
        match &self.delegate {
            None => Ok(None),
            Some(d) => d.mechanism(ty),
        }
    }

    /// Whether the device offers mechanism `ty` (false for a soft slot).
    pub fn device_offers(&self, ty: CK_MECHANISM_TYPE) -> Result<bool> {
        Ok(self.device_mechanism(ty)?.is_some())
    }
}
