//! The audited entry points (docs/audit.md): every object write, key generation, wrap,
//! unwrap, derive, key use and login is recorded with who did it, to what, how, and the
//! result — denials included. The work itself lives in the `*_unaudited` methods.
//!
//! Key use is recorded when it is authorised (each `C_*Init`, before any data is processed),
//! so in a strict slot an operation whose record cannot be written never starts. Object
//! writes are recorded when they are done; in a strict slot a write whose record fails is
//! reported to the caller as CKR_DEVICE_ERROR.

use std::sync::Arc;

use cryptoki_sys::*;

use super::Provider;
use crate::error::Result;
use crate::mechanism::MechanismRequest;
use crate::object::attr::parse_ulong;
use crate::object::vendor::{CKA_KW_REVOCATION_REASON, CKA_KW_STATE, CKM_KW_ROTATE};
use crate::object::{Attributes, Object};
use crate::session::Out;
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
fn change_detail(template: &Attributes) -> String {
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
    fn subject(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Option<Subject> {
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
        let (_, token) = self.session_token(h)?;
        let r = self.operation_object_unaudited(token, h, key, usage, m);
        if !token.audits() {
            return r;
        }
        let subject = match &r {
            Ok(obj) => Some(Subject::of(obj)),
            Err(_) => self.subject(h, key),
        };
        audited(
            token,
            h,
            use_name(usage),
            subject.as_ref(),
            Some(m.ty),
            String::new(),
            r,
        )
    }

    /// C_Login: success and failure, naming who tried.
    pub fn login(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let r = self.login_unaudited(h, user, pin);
        let who = match user {
            CKU_SO => "so",
            CKU_USER => "user",
            CKU_CONTEXT_SPECIFIC => "context-specific",
            _ => "invalid",
        };
        self.login_audited(h, who, r)
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
        let name = String::from_utf8_lossy(name).into_owned();
        self.login_audited(h, &name, r)
    }

    /// Record a login, on disk before the call returns (a failed attempt must be in the
    /// trail even if the process is killed right after); a strict slot that cannot record a
    /// successful one logs out again.
    fn login_audited(&self, h: CK_SESSION_HANDLE, who: &str, r: Result<()>) -> Result<()> {
        let ok = r.is_ok();
        let r = self.audited(h, "login", None, None, format!("as={who}"), r);
        let Ok((_, token)) = self.session_token(h) else {
            return r;
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

    /// C_InitToken.
    pub fn init_token(&self, slot: CK_SLOT_ID, so_pin: &[u8], label: &str) -> Result<()> {
        let r = self.init_token_unaudited(slot, so_pin, label);
        match self.token(slot) {
            Ok(token) => audited(
                token,
                0,
                "init-token",
                None,
                None,
                format!("label={label}"),
                r,
            ),
            Err(_) => r,
        }
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

    /// C_CreateObject.
    pub fn create_object(&self, h: CK_SESSION_HANDLE, t: &Attributes) -> Result<CK_OBJECT_HANDLE> {
        let r = self.create_object_unaudited(h, t);
        let subject = r.as_ref().ok().and_then(|o| self.subject(h, *o));
        self.audited(h, "create-object", subject.as_ref(), None, String::new(), r)
    }

    /// C_CopyObject.
    pub fn copy_object(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        t: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let original = self.subject(h, o);
        let r = self.copy_object_unaudited(h, o, t);
        let detail = format!(
            "copy-of={}",
            original.as_ref().map(|s| s.uid.as_str()).unwrap_or("")
        );
        let subject = r
            .as_ref()
            .ok()
            .and_then(|c| self.subject(h, *c))
            .or(original);
        self.audited(h, "copy-object", subject.as_ref(), None, detail, r)
    }

    /// C_DestroyObject.
    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Result<()> {
        let subject = self.subject(h, o);
        let r = self.destroy_object_unaudited(h, o);
        self.audited(
            h,
            "destroy-object",
            subject.as_ref(),
            None,
            String::new(),
            r,
        )
    }

    /// C_SetAttributeValue (lifecycle changes name the new state).
    pub fn set_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        t: &Attributes,
    ) -> Result<()> {
        let r = self.set_attributes_unaudited(h, o, t);
        let op = if t.contains(CKA_KW_STATE) {
            "state-change"
        } else {
            "set-attributes"
        };
        let subject = self.subject(h, o);
        self.audited(h, op, subject.as_ref(), None, change_detail(t), r)
    }

    /// C_GenerateKey (and rotation of a secret key with CKM_KW_ROTATE).
    pub fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        t: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let r = self.generate_key_unaudited(h, m, t);
        let subject = r.as_ref().ok().and_then(|o| self.subject(h, *o));
        let op = if m.ty == CKM_KW_ROTATE {
            "rotate"
        } else {
            "generate-key"
        };
        self.audited(h, op, subject.as_ref(), Some(m.ty), String::new(), r)
    }

    /// C_GenerateKeyPair (and rotation of a key pair with CKM_KW_ROTATE).
    pub fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let r = self.generate_key_pair_unaudited(h, m, public, private);
        let subject = r.as_ref().ok().and_then(|(_, p)| self.subject(h, *p));
        let op = if m.ty == CKM_KW_ROTATE {
            "rotate"
        } else {
            "generate-key-pair"
        };
        self.audited(h, op, subject.as_ref(), Some(m.ty), String::new(), r)
    }

    /// C_WrapKey: the wrapped key is the subject (the wrapping key's use is recorded as "wrap").
    pub fn wrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        capacity: Option<usize>,
    ) -> Result<Out> {
        let r = self.wrap_key_unaudited(h, m, wrapping, key, capacity);
        if matches!(r, Ok(Out::Size(_) | Out::TooSmall(_))) {
            return r; // a length query exports nothing
        }
        let subject = self.subject(h, key);
        self.audited(
            h,
            "wrap-key",
            subject.as_ref(),
            Some(m.ty),
            String::new(),
            r,
        )
    }

    /// C_UnwrapKey: the new key is the subject.
    pub fn unwrap_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        unwrapping: CK_OBJECT_HANDLE,
        wrapped: &[u8],
        t: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let r = self.unwrap_key_unaudited(h, m, unwrapping, wrapped, t);
        let subject = r.as_ref().ok().and_then(|o| self.subject(h, *o));
        self.audited(
            h,
            "unwrap-key",
            subject.as_ref(),
            Some(m.ty),
            String::new(),
            r,
        )
    }

    /// C_DeriveKey: the new key is the subject.
    pub fn derive_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        base: CK_OBJECT_HANDLE,
        t: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let r = self.derive_key_unaudited(h, m, base, t);
        let subject = r.as_ref().ok().and_then(|o| self.subject(h, *o));
        self.audited(
            h,
            "derive-key",
            subject.as_ref(),
            Some(m.ty),
            String::new(),
            r,
        )
    }
}
