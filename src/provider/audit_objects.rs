//! The audited object writes (docs/audit.md): create, copy, modify, destroy, generate,
//! wrap, unwrap, derive. Each runs inside [`recording`], so that a strict slot records every
//! object it commits BEFORE committing it, and refuses (CKR_DEVICE_ERROR, nothing kept) a
//! write whose record cannot be written. Otherwise the write is recorded once it is done,
//! with its result — refusals included.

use cryptoki_sys::*;

use super::audit::change_detail;
use super::Provider;
use crate::error::Result;
use crate::mechanism::MechanismRequest;
use crate::object::vendor::{CKA_KW_STATE, CKM_KW_ROTATE};
use crate::object::Attributes;
use crate::session::Out;
use crate::token::{recording, Subject};

impl Provider {
    /// Run the object write `f` as `op`; record its outcome about the subject `about` gives,
    /// unless a strict slot already recorded its commit.
    fn write<T>(
        &self,
        h: CK_SESSION_HANDLE,
        op: &'static str,
        mech: Option<CK_MECHANISM_TYPE>,
        detail: String,
        f: impl FnOnce() -> Result<T>,
        about: impl FnOnce(&Result<T>) -> Option<Subject>,
    ) -> Result<T> {
        let (r, recorded) = recording(h, op, mech, &detail, f);
        if recorded && r.is_ok() {
            return r;
        }
        let subject = about(&r);
        self.audited(h, op, subject.as_ref(), mech, detail, r)
    }

    /// The subject of the object a write made (None if it failed).
    fn made(&self, h: CK_SESSION_HANDLE, r: &Result<CK_OBJECT_HANDLE>) -> Option<Subject> {
        r.as_ref().ok().and_then(|o| self.subject(h, *o))
    }

    /// C_CreateObject.
    pub fn create_object(&self, h: CK_SESSION_HANDLE, t: &Attributes) -> Result<CK_OBJECT_HANDLE> {
        self.write(
            h,
            "create-object",
            None,
            String::new(),
            || self.create_object_unaudited(h, t),
            |r| self.made(h, r),
        )
    }

    /// C_CopyObject: the copy is the subject (the original when it failed).
    pub fn copy_object(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        t: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let original = self.subject(h, o);
        let detail = format!(
            "copy-of={}",
            original.as_ref().map(|s| s.uid.as_str()).unwrap_or("")
        );
        self.write(
            h,
            "copy-object",
            None,
            detail,
            || self.copy_object_unaudited(h, o, t),
            |r| self.made(h, r).or(original),
        )
    }

    /// C_DestroyObject.
    pub fn destroy_object(&self, h: CK_SESSION_HANDLE, o: CK_OBJECT_HANDLE) -> Result<()> {
        let subject = self.subject(h, o);
        self.write(
            h,
            "destroy-object",
            None,
            String::new(),
            || self.destroy_object_unaudited(h, o),
            |_| subject,
        )
    }

    /// C_SetAttributeValue (lifecycle changes name the new state).
    pub fn set_attributes(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        t: &Attributes,
    ) -> Result<()> {
        let op = if t.contains(CKA_KW_STATE) {
            "state-change"
        } else {
            "set-attributes"
        };
        self.write(
            h,
            op,
            None,
            change_detail(t),
            || self.set_attributes_unaudited(h, o, t),
            |_| self.subject(h, o),
        )
    }

    /// C_GenerateKey (and rotation of a secret key with CKM_KW_ROTATE).
    pub fn generate_key(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        t: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        let op = if m.ty == CKM_KW_ROTATE {
            "rotate"
        } else {
            "generate-key"
        };
        self.write(
            h,
            op,
            Some(m.ty),
            String::new(),
            || self.generate_key_unaudited(h, m, t),
            |r| self.made(h, r),
        )
    }

    /// C_GenerateKeyPair (and rotation of a key pair with CKM_KW_ROTATE): the private key is
    /// the subject.
    pub fn generate_key_pair(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let op = if m.ty == CKM_KW_ROTATE {
            "rotate"
        } else {
            "generate-key-pair"
        };
        self.write(
            h,
            op,
            Some(m.ty),
            String::new(),
            || self.generate_key_pair_unaudited(h, m, public, private),
            |r| r.as_ref().ok().and_then(|(_, p)| self.subject(h, *p)),
        )
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
        self.write(
            h,
            "unwrap-key",
            Some(m.ty),
            String::new(),
            || self.unwrap_key_unaudited(h, m, unwrapping, wrapped, t),
            |r| self.made(h, r),
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
        self.write(
            h,
            "derive-key",
            Some(m.ty),
            String::new(),
            || self.derive_key_unaudited(h, m, base, t),
            |r| self.made(h, r),
        )
    }
}
