//! The device behind a delegate slot, as the token sees it: opened from the slot's
//! configuration, with the device's mechanism table kept once it has been read.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cryptoki_sys::*;

use super::Token;
use crate::backend::delegate::{Device, DeviceConfig, PinSource};
use crate::config::{DelegateConfig, DevicePin};
use crate::error::{Error, Result};
use crate::mechanism::Info;

/// The device and what it offers (read on first need; a device's mechanisms do not change).
pub(super) struct Delegate {
    device: Arc<Device>,
    mechanisms: Mutex<Option<Arc<HashMap<CK_MECHANISM_TYPE, Info>>>>,
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
            mechanisms: Mutex::new(None),
        }
    }

    fn mechanisms(&self) -> Result<Arc<HashMap<CK_MECHANISM_TYPE, Info>>> {
        let mut cached = self.mechanisms.lock().map_err(|_| Error::GeneralError)?;
        if let Some(m) = &*cached {
            return Ok(Arc::clone(m));
        }
        let table: HashMap<_, _> = self
            .device
            .mechanisms()?
            .into_iter()
            .map(|(ty, min_key, max_key, flags)| {
                (
                    ty,
                    Info {
                        min_key,
                        max_key,
                        flags,
                    },
                )
            })
            .collect();
        let table = Arc::new(table);
        *cached = Some(Arc::clone(&table));
        Ok(table)
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
            Some(d) => Ok(d.mechanisms()?.get(&ty).copied()),
        }
    }

    /// Whether the device offers mechanism `ty` (false for a soft slot).
    pub fn device_offers(&self, ty: CK_MECHANISM_TYPE) -> Result<bool> {
        Ok(self.device_mechanism(ty)?.is_some())
    }
}
