//! `keyward audit ...`: reading and verifying the trail, for an auditor. Each read is itself
//! recorded.

use std::path::PathBuf;

use cryptoki_sys::*;

use super::Admin;
use crate::audit::{self, Record, VerifyReport};
use crate::error::Result;

impl Admin {
    /// Log in as the auditor (`--user NAME`, role auditor), record `op`, and run `f` with the
    /// trail's path and the checkpoint key. CKR_USER_NOT_LOGGED_IN for any other role.
    fn as_auditor<T>(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        op: &'static str,
        f: impl FnOnce(&std::path::Path, &[u8; 32]) -> Result<T>,
    ) -> Result<T> {
        let p = &self.provider;
        let token = p.token(slot)?;
        let h = p.open_session(slot, CKF_SERIAL_SESSION)?;
        let r = (|| {
            self.login(h, CKU_USER, pin)?;
            let key = token.audit_reader_key();
            token.audit(
                h,
                op,
                None,
                None,
                key.as_ref().map(drop).map_err(|e| *e),
                String::new(),
            )?;
            f(&token.config().audit_path(), &*key?)
        })();
        p.close_session(h)?;
        r
    }

    /// Verify the whole trail with the checkpoint key.
    pub fn audit_verify(&self, slot: CK_SLOT_ID, pin: &[u8]) -> Result<VerifyReport> {
        self.audit_verify_with_progress(slot, pin, &mut |_, _| {})
    }

    /// [`Self::audit_verify`], calling `progress(done, total)` as records are walked.
    pub fn audit_verify_with_progress(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        progress: &mut dyn FnMut(u64, u64),
    ) -> Result<VerifyReport> {
        self.as_auditor(slot, pin, "audit-verify", |path, key| {
            let token = self.provider.token(slot)?;
            token.audit_flush()?; // our own record included
                                  // The anchor first: it never runs ahead of the trail read after it.
            let anchor = token.audit_anchor()?;
            let anchor = audit::Anchored::Kept(anchor.as_ref());
            audit::verify_with_progress(path, key, anchor, progress)
        })
    }

    /// The records between two RFC 3339 instants.
    pub fn audit_export(
        &self,
        slot: CK_SLOT_ID,
        pin: &[u8],
        since: Option<&str>,
        until: Option<&str>,
    ) -> Result<Vec<Record>> {
        self.as_auditor(slot, pin, "audit-export", |path, _| {
            audit::export(path, since, until)
        })
    }

    /// The trail's path, once an auditor has logged in (for `audit tail -f`).
    pub fn audit_path(&self, slot: CK_SLOT_ID, pin: &[u8]) -> Result<PathBuf> {
        self.as_auditor(slot, pin, "audit-tail", |path, _| Ok(path.to_owned()))
    }
}
