//! `keyward store verify`: the token's records checked against their seals, and the file
//! against SQLite's consistency check.

use cryptoki_sys::*;

use super::Admin;
use crate::error::Result;
use crate::token::StoreReport;

impl Admin {
    /// Log in to `slot` as the user (or the named user) and verify its store.
    pub fn verify_store(&self, slot: CK_SLOT_ID, pin: &[u8]) -> Result<StoreReport> {
        let p = &self.provider;
        let token = p.token(slot)?;
        let h = p.open_session(slot, CKF_SERIAL_SESSION)?;
        let r = self
            .login(h, CKU_USER, pin)
            .and_then(|_| token.verify_store());
        p.close_session(h)?;
        r
    }
}
