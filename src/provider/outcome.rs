//! The records a key operation leaves after its authorisation (docs/audit.md): a call that
//! continues or finishes it and fails (C_Verify → CKR_SIGNATURE_INVALID, C_Decrypt →
//! CKR_ENCRYPTED_DATA_INVALID …), and C_DigestKey, which is a key use of its own.
//!
//! Success is recorded once, at the operation's `C_*Init`; nothing here runs on the success
//! path of C_Sign, C_Encrypt and the others but a `match` on their result.

use std::sync::Arc;

use cryptoki_sys::*;

use super::Provider;
use crate::error::{Error, Result};
use crate::object::attr::parse_ulong;
use crate::object::vendor::{CKA_KW_DEVICE_ID, CKA_KW_USAGE_LIMIT};
use crate::object::Object;
use crate::policy::lifecycle::{self, Use};
use crate::session::Kind;
use crate::token::{ObjectHandle, Subject, Token};

impl Provider {
    /// Pass `r`, the result of `call` continuing the session's operation of `kind`, through;
    /// when it failed, record the failure with the key and mechanism the operation started
    /// with. Failures that say no operation was there (CKR_OPERATION_NOT_INITIALIZED, a bad
    /// session) are not recorded: there is no key to name.
    pub fn outcome<T>(
        &self,
        h: CK_SESSION_HANDLE,
        kind: Kind,
        call: &'static str,
        r: Result<T>,
    ) -> Result<T> {
        match r {
            Ok(v) => Ok(v),
            Err(e) => {
                self.record_failure(h, kind, call, e);
                Err(e)
            }
        }
    }

    fn record_failure(&self, h: CK_SESSION_HANDLE, kind: Kind, call: &str, e: Error) {
        if matches!(
            e,
            Error::OperationNotInitialized | Error::SessionHandleInvalid | Error::SessionClosed
        ) {
            return;
        }
        let Ok((s, token)) = self.session_token(h) else {
            return;
        };
        if !token.audits() {
            return;
        }
        let Some((key, mech)) = s.ops().ok().and_then(|ops| ops.started(kind)) else {
            return;
        };
        let subject = self.key_subject(token, key);
        // The operation already failed: a strict slot that cannot record it changes nothing.
        let _ = token.audit(
            h,
            kind.name(),
            subject.as_ref(),
            Some(mech),
            Err(e),
            format!("in={call}"),
        );
    }

    /// The subject of key `key` as this process sees it now (None if it is gone).
    fn key_subject(&self, token: &Token, key: CK_OBJECT_HANDLE) -> Option<Subject> {
        let vis = Self::visibility(token).ok()?;
        let obj = token.object(ObjectHandle(key), vis).ok()?;
        Some(Subject::of(&obj))
    }

    /// C_DigestKey (PKCS#11 3.0 §5.10.4): continue the session's digest with the value of
    /// secret key `key`. A key use, gated and recorded like the others: role and ACL of the
    /// derive class, the protect uses of the lifecycle, the key's usage limit.
    ///
    /// CKR_OPERATION_NOT_INITIALIZED without an active digest; CKR_KEY_HANDLE_INVALID for no
    /// such key (or an object that is not a key); CKR_KEY_INDIGESTIBLE for a public or
    /// private key, or a secret key whose value is not here (a delegate slot's device key);
    /// CKR_KEY_FUNCTION_NOT_PERMITTED when the role, the ACL or the lifecycle forbid it.
    /// Any error ends the digest (§5.2).
    pub fn digest_key(&self, h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> Result<()> {
        let (s, token) = self.session_token(h)?;
        let mut ops = s.ops()?;
        if ops.digest.is_none() {
            return Err(Error::OperationNotInitialized);
        }
        let mech = ops.started(Kind::Digest).map(|(_, m)| m);
        let r = self.digestible(token, key);
        if token.audits() {
            let subject = match &r {
                Ok(obj) => Some(Subject::of(obj)),
                Err(_) => self.key_subject(token, key),
            };
            let outcome = r.as_ref().map(drop).map_err(|e| *e);
            let logged = token.audit(
                h,
                "digest-key",
                subject.as_ref(),
                mech,
                outcome,
                String::new(),
            );
            if let (Ok(_), Err(e)) = (&r, logged) {
                ops.digest = None;
                return Err(e);
            }
        }
        let obj = match r {
            Ok(obj) => obj,
            Err(e) => {
                ops.digest = None;
                return Err(e);
            }
        };
        let value = obj.attrs().get(CKA_VALUE).ok_or(Error::KeyIndigestible);
        super::crypto_ops::feed(&mut ops.digest, |a| a.update().update(value?))
    }

    /// The secret key behind `key`, if this principal may digest it now.
    fn digestible(&self, token: &Token, key: CK_OBJECT_HANDLE) -> Result<Arc<Object>> {
        token.sync_if_written()?;
        let obj = token
            .object(ObjectHandle(key), Self::visibility(token)?)
            .map_err(|_| Error::KeyHandleInvalid)?;
        match obj.class() {
            CKO_SECRET_KEY => {}
            CKO_PUBLIC_KEY | CKO_PRIVATE_KEY => return Err(Error::KeyIndigestible),
            _ => return Err(Error::KeyHandleInvalid),
        }
        let attrs = obj.attrs();
        if attrs.contains(CKA_KW_DEVICE_ID) || attrs.get(CKA_VALUE).is_none() {
            return Err(Error::KeyIndigestible);
        }
        let governing = Self::governing(token, &obj)?;
        super::access::may_use(token, &governing, CKA_DERIVE)?;
        let policy = token.config().allow_compromised_processing;
        lifecycle::authorize(governing.attrs(), Use::Protect, &lifecycle::today(), policy)?;
        let limit = governing
            .attrs()
            .get(CKA_KW_USAGE_LIMIT)
            .map(parse_ulong)
            .transpose()?;
        if let Some(limit @ 1..) = limit {
            let uid = governing.attrs().get(CKA_UNIQUE_ID).unwrap_or_default();
            #[allow(clippy::unnecessary_cast)] // CK_ULONG is 32 bits on some platforms
            let counted = token.consume_use(&String::from_utf8_lossy(uid), limit as u64)?;
            if !counted {
                return Err(Error::KeyFunctionNotPermitted);
            }
        }
        Ok(obj)
    }
}
