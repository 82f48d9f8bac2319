//! The audited entry points (docs/audit.md): every key use, login and token change is
//! recorded with who did it, to what, how, and the result — denials included. The work itself
//! lives in the `*_unaudited` methods; object writes are in `audit_objects.rs`, failing
//! final calls and C_DigestKey in `outcome.rs`.
//!
//! Key use is recorded when it is authorised (each `C_*Init`, before any data is processed),
//! so in a strict slot an operation whose record cannot be written never starts.

use std::sync::Arc;

use cryptoki_sys::*;

use super::Provider;
use crate::error::Result;
use crate::mechanism::MechanismRequest;
use crate::object::attr::parse_ulong;
use crate::object::vendor::{CKA_KW_REVOCATION_REASON, CKA_KW_STATE};
use crate::object::{Attributes, Object};
use crate::policy::lifecycle;
use crate::session::{Grant, Question, Session};
use crate::token::{ObjectHandle, Subject, Token};

/// The operation a usage attribute stands for, as records name it.
fn use_name(usage: CK_ATTRIBUTE_TYPE) -> &'static str {
    match usage {
        CKA_SIGN => "sign",
        CKA_VERIFY => "verify",
        CKA_ENCRYPT => "encrypt",
        CKA_DECRYPT => "decrypt",
        CKA_WRAP => "wrap",
        CKA_UNWRAP => "unwrap",
        CKA_DERIVE => "derive",
        _ => "use",
    }
}

/// What a C_SetAttributeValue changed: the lifecycle state and reason by name, else the
/// attribute types (never values: they may be secret).
pub(super) fn change_detail(template: &Attributes) -> String {
    let state = template.get(CKA_KW_STATE).and_then(|v| parse_ulong(v).ok());
    let reason = template
        .get(CKA_KW_REVOCATION_REASON)
        .and_then(|v| parse_ulong(v).ok());
    let mut parts = Vec::new();
    if let Some(s) = state {
        parts.push(format!("state={}", crate::admin::lifecycle::state_name(s)));
    }
    if let Some(r) = reason {
        parts.push(format!("reason={r}"));
    }
    let types: Vec<String> = template.types().map(|t| format!("0x{t:x}")).collect();
    parts.push(format!("attributes={}", types.join(",")));
    parts.join(" ")
}

/// Record an event on `token` and pass `r` through; an event a strict slot cannot record
/// turns success into its error.
fn audited<T>(
    token: &Token,
    h: CK_SESSION_HANDLE,
    op: &'static str,
    subject: Option<&Subject>,
    mech: Option<CK_MECHANISM_TYPE>,
    detail: String,
    r: Result<T>,
) -> Result<T> {
    let outcome = r.as_ref().map(drop).map_err(|e| *e);
    let logged = token.audit(h, op, subject, mech, outcome, detail);
    match (r, logged) {
        (Ok(v), Ok(())) => Ok(v),
        (Ok(_), Err(e)) | (Err(e), _) => Err(e),
    }
}

impl Provider {
    /// Record `op` in session `h`'s token (nothing to record for an invalid session).
    pub(super) fn audited<T>(
        &self,
        h: CK_SESSION_HANDLE,
        op: &'static str,
        subject: Option<&Subject>,
        mech: Option<CK_MECHANISM_TYPE>,
        detail: String,
        r: Result<T>,
    ) -> Result<T> {
        match self.session_token(h) {
            Ok((_, token)) => audited(token, h, op, subject, mech, detail, r),
            Err(_) => r,
        }
    }

    /// The subject of object `o` as session `h` sees it (None if it cannot see it).
    pub(super) fn subject(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Option<Subject> {
        let (_, token) = self.session_token(h).ok()?;
        let vis = Self::visibility(token).ok()?;
        token
            .object(ObjectHandle(o), vis)
            .ok()
            .map(|obj| Subject::of(&obj))
    }

    /// Key use, authorised or refused: the one gate every operation with a key passes.
    pub(super) fn operation_object(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        m: &MechanismRequest,
    ) -> Result<Arc<Object>> {
        let (s, token) = self.session_token(h)?;
        self.session_operation_object(&s, token, key, usage, m)
    }

    /// [`Self::operation_object`] for a session the caller has looked up already. A question
    /// the session's last grant answered, with nothing changed since, is answered again
    /// without the checks, and its record written again (`session/grant.rs`).
    pub(super) fn session_operation_object(
        &self,
        s: &Session,
        token: &Token,
        key: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        m: &MechanismRequest,
    ) -> Result<Arc<Object>> {
        let h = s.handle.0;
        // Another process may have changed the key's lifecycle: one stat of the WAL file when
        // nothing changed, a reload of the changed objects when something did.
        let asked = token.sync_if_written().map(|()| Question {
            key,
            usage,
            mechanism: m.ty,
            generation: token.generation(),
            day: lifecycle::today(),
        });
        if let Some((obj, event)) = asked.as_ref().ok().and_then(|q| s.grant.reuse(q)) {
            if let Some(event) = event {
                token.record_again(&event)?;
            }
            return Ok(obj);
        }
        let checked = asked.and_then(|q| {
            let (obj, reusable) = self.check_use(token, h, key, usage, m, &q.day)?;
            Ok((obj, reusable, q))
        });
        let (obj, reusable, question) = match checked {
            Ok(granted) => granted,
            Err(e) if token.audits() => {
                let subject = self.subject(h, key);
                let op = use_name(usage);
                return audited(
                    token,
                    h,
                    op,
                    subject.as_ref(),
                    Some(m.ty),
                    String::new(),
                    Err(e),
                );
            }
            Err(e) => return Err(e),
        };
        let event = token.use_event(h, use_name(usage), &Subject::of(&obj), m.ty)?;
        let event = event.map(Arc::new);
        if let Some(event) = &event {
            token.record_again(event)?;
        }
        if reusable {
            s.grant.remember(Grant {
                question,
                object: Arc::downgrade(&obj),
                event,
            });
        }
        Ok(obj)
    }

    /// C_Login: success and failure, naming who tried.
    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let r = self.login_unaudited(h, user, pin);
        self.login_audited(h, &self.tried(h, user, b""), r)
    }

    /// The name a login attempt is for: the named user, else "so" or "user" by type; a
    /// CKU_CONTEXT_SPECIFIC re-authentication is by whoever is logged in.
    fn tried(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, name: &[u8]) -> String {
        if !name.is_empty() && user != CKU_CONTEXT_SPECIFIC {
            return String::from_utf8_lossy(name).into_owned();
        }
        match user {
            CKU_SO => "so".into(),
            CKU_USER => "user".into(),
            CKU_CONTEXT_SPECIFIC => self
                .session_token(h)
                .ok()
                .and_then(|(_, t)| t.principal().ok().flatten())
                .map_or_else(String::new, |p| p.name.to_string()),
            _ => "invalid".into(),
        }
    }

    /// C_LoginUser: success and failure, naming who tried.
    pub fn login_user(
        &self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: &[u8],
        name: &[u8],
    ) -> Result<()> {
        let r = self.login_user_unaudited(h, user, pin, name);
        self.login_audited(h, &self.tried(h, user, name), r)
    }

    /// Record a login, on disk before the call returns (a failed attempt must be in the
    /// trail even if the process is killed right after); a strict slot that cannot record a
    /// successful one logs out again.
    fn login_audited(&self, h: CK_SESSION_HANDLE, who: &str, r: Result<()>) -> Result<()> {
        let ok = r.is_ok();
        let Ok((_, token)) = self.session_token(h) else {
            return r;
        };
        let detail = format!("as={who}");
        let r = match r {
            Ok(()) => audited(token, h, "login", None, None, detail, Ok(())),
            // The record names who tried, with no role: nobody is logged in as them.
            Err(e) => {
                let _ = token.audit_failed_login(h, who, e, detail);
                Err(e)
            }
        };
        // A non-strict slot reports a failed write on stderr; the login's outcome stands.
        let _ = token.audit_flush();
        if ok && r.is_err() {
            let _ = token.logout();
        }
        r
    }

    /// C_Logout.
    pub fn logout(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let (_, token) = self.session_token(h)?;
        // Recorded before the logout, so the record still names who leaves.
        if token.login_state()? != crate::token::Login::Public {
            token.audit(h, "logout", None, None, Ok(()), String::new())?;
        }
        token.logout()
    }

    /// C_InitToken. Its record is checkpointed at once with the NEW master key, so the
    /// trail verifies under it from the start (checkpoints of earlier initialisations are
    /// covered by that one: docs/audit.md).
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &str) -> Result<()> {
        let r = self.init_token_unaudited(slot, so_pin, label);
        let Ok(token) = self.token(slot) else {
            return r.map(drop);
        };
        let detail = format!("label={label}");
        let key = audited(token, 0, "init-token", None, None, detail, r)?;
        token.audit_checkpoint(key)
    }

    /// C_InitPIN.
    pub fn init_pin(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let r = self.init_pin_unaudited(h, pin);
        self.audited(h, "init-pin", None, None, String::new(), r)
    }

    /// C_SetPIN.
    pub fn set_pin(&self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        let r = self.set_pin_unaudited(h, old, new);
        self.audited(h, "set-pin", None, None, String::new(), r)
    }
}
