//! `keyward adopt`: existing device keys brought under Keyward's management.

use cryptoki_sys::*;

use super::listing::{class_name, hex};
use super::Admin;
use crate::error::Result;

/// One Keyward object made for an adopted device key.
#[derive(Debug, serde::Serialize)]
pub struct Adopted {
    pub label: String,
    pub class: &'static str,
    /// The device object's CKA_ID (hex): also the Keyward object's CKA_ID and CKA_KW_DEVICE_ID.
    pub id: String,
}

impl Admin {
    /// Adopt the device keys matching `uri` into the delegate token in `slot` (as the user,
    /// or the named user: a key manager), optionally under a new `label`.
    pub fn adopt(
        &self,
        slot: CK_SLOT_ID,
        uri: &str,
        label: Option<&str>,
        pin: &[u8],
    ) -> Result<Vec<Adopted>> {
        let p = &self.provider;
        let h = p.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)?;
        let r = (|| {
            self.login(h, CKU_USER, pin)?;
            let mut rows = Vec::new();
            for o in p.adopt(h, uri, label)? {
                let obj = p.object(h, o)?;
                let a = obj.attrs();
                rows.push(Adopted {
                    label: String::from_utf8_lossy(a.get(CKA_LABEL).unwrap_or_default())
                        .into_owned(),
                    class: class_name(obj.class()),
                    id: hex(a.get(CKA_ID).unwrap_or_default()),
                });
            }
            Ok(rows)
        })();
        p.close_session(h)?;
        r
    }
}
