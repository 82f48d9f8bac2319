//! Encryption, decryption, digests, signatures and random numbers (PKCS#11 3.0 §5.8–5.15).

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Provider;
use crate::error::{Error, Result};
use crate::mechanism::{self, MechanismRequest, Param};
use crate::object::attr::parse_ulong;
use crate::object::key::KeyMaterial;
use crate::object::vendor::{
    CKA_KW_COPY_OF, CKA_KW_DEVICE_ID, CKA_KW_ROTATION_PERIOD, CKA_KW_USAGE_LIMIT, CKM_KW_ROTATE,
    CKM_KW_VERSIONED_AES_GCM,
};
use crate::object::Object;
use crate::policy::lifecycle::{self, Use};
use crate::session::{produce, Active, Call, Kind, Ops, Out};
use crate::token::ObjectHandle;

/// Start an operation in the slot `pick` selects: CKR_OPERATION_ACTIVE if one runs.
fn start<T>(
    ops: &mut Ops,
    pick: fn(&mut Ops) -> &mut Option<T>,
    make: impl FnOnce() -> Result<T>,
) -> Result<()> {
    let slot = pick(ops);
    if slot.is_some() {
        return Err(Error::OperationActive);
    }
    *slot = Some(make()?);
    Ok(())
}

/// Feed data to an active operation without output; errors end it.
pub(super) fn feed<T>(slot: &mut Option<T>, f: impl FnOnce(&mut T) -> Result<()>) -> Result<()> {
    let op = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    let r = f(op);
    if r.as_ref().is_err_and(|e| e.ends_operation()) {
        *slot = None;
    }
    r
}

impl Provider {
    /// Every check of the key object behind `key` for an operation needing `usage` with
    /// mechanism `m`, on `day`: CKR_KEY_HANDLE_INVALID, CKR_KEY_TYPE_INCONSISTENT,
    /// CKR_KEY_FUNCTION_NOT_PERMITTED, CKR_MECHANISM_INVALID. With whether the answer may be
    /// reused (`session/grant.rs`): not for a key with a usage limit (each use counts) or a
    /// rotation period (due at a time of day).
    pub(super) fn check_use(
        &self,
        token: &crate::token::Token,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        m: &MechanismRequest,
        day: &[u8; 8],
    ) -> Result<(Arc<Object>, bool)> {
        let mut obj = token
            .object(ObjectHandle(key), Self::visibility(token)?)
            .map_err(|_| Error::KeyHandleInvalid)?;
        if !matches!(
            obj.class(),
            CKO_SECRET_KEY | CKO_PUBLIC_KEY | CKO_PRIVATE_KEY
        ) {
            return Err(Error::KeyHandleInvalid);
        }
        if !mechanism::lookup(m.ty)?.accepts(m.ty, obj.shape().subtype) {
            return Err(Error::KeyTypeInconsistent);
        }
        if !obj.allows(usage) {
            return Err(Error::KeyFunctionNotPermitted);
        }
        if !obj.allows_mechanism(m.ty) {
            return Err(Error::MechanismInvalid);
        }
        // A device key: the device must offer the mechanism (CKR_DEVICE_ERROR while it
        // cannot be reached), decided here so that the audit record says so.
        if obj.attrs().contains(CKA_KW_DEVICE_ID) && !token.device_offers(m.ty)? {
            return Err(Error::MechanismInvalid);
        }
        let legacy_rsa = obj.class() == CKO_PRIVATE_KEY
            && obj.shape().subtype == CKK_RSA
            && obj.key()?.size() < mechanism::RSA_MIN_BITS as usize;
        if legacy_rsa && !token.config().allow_rsa_1024_private {
            return Err(Error::KeySizeRange);
        }
        let kind = Use::of(usage);
        let mut governing = Self::governing(token, &obj)?;
        super::access::may_use(token, &governing, usage)?;
        if let Some(new) = self.rotate_if_due(h, key, &obj, kind)? {
            obj = new;
            governing = Self::governing(token, &obj)?;
        }
        let policy = token.config().allow_compromised_processing;
        lifecycle::authorize(governing.attrs(), kind, day, policy)?;
        let limit = governing
            .attrs()
            .get(CKA_KW_USAGE_LIMIT)
            .map(parse_ulong)
            .transpose()?;
        if let (Use::Protect, Some(limit @ 1..)) = (kind, limit) {
            let uid = governing.attrs().get(CKA_UNIQUE_ID).unwrap_or_default();
            let uid = String::from_utf8_lossy(uid);
            #[allow(clippy::unnecessary_cast)] // CK_ULONG is 32 bits on some platforms
            let limit = limit as u64;
            if !token.consume_use(&uid, limit)? {
                return Err(Error::KeyFunctionNotPermitted);
            }
        }
        let reusable = matches!(limit, None | Some(0))
            && !obj.attrs().contains(CKA_KW_ROTATION_PERIOD)
            && !governing.attrs().contains(CKA_KW_ROTATION_PERIOD);
        Ok((obj, reusable))
    }

    /// The key whose policy governs `obj`: a copy of a token key is governed by the original,
    /// so revoking the original revokes every copy (a destroyed original leaves its copies
    /// unusable) and the original's ACL applies.
    pub(super) fn governing(token: &crate::token::Token, obj: &Arc<Object>) -> Result<Arc<Object>> {
        match obj.attrs().get(CKA_KW_COPY_OF) {
            Some(uid) => token
                .object_by_uid(uid, Self::visibility(token)?)?
                .ok_or(Error::KeyFunctionNotPermitted),
            None => Ok(obj.clone()),
        }
    }

    /// A secret key past its rotation period rotates at its next protect operation, in any
    /// session (the token's own policy writes the new version, read-only session or not); the
    /// operation then uses the new version, returned here. The rotation is audited as
    /// `rotate`, like one a caller asks for. None when no rotation is due.
    fn rotate_if_due(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
        obj: &Object,
        kind: Use,
    ) -> Result<Option<Arc<Object>>> {
        // The clock is read only for a key that has a rotation period.
        let due = kind == Use::Protect
            && obj.class() == CKO_SECRET_KEY
            && obj.attrs().get(CKA_KW_ROTATION_PERIOD).is_some()
            && lifecycle::rotation_due(obj.attrs(), lifecycle::now_seconds());
        if !due {
            return Ok(None);
        }
        let m = MechanismRequest::new(CKM_KW_ROTATE, Param::Bytes(key.to_ne_bytes().to_vec()));
        let new = super::access::by_policy(|| {
            self.generate_key(h, &m, &crate::object::Attributes::new())
        })?;
        let (_, token) = self.session_token(h)?;
        token
            .object(ObjectHandle(new), Self::visibility(token)?)
            .map(Some)
    }

    /// Common shape of every C_*Init that takes a key.
    fn key_init<T>(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        pick: fn(&mut Ops) -> &mut Option<T>,
        build: impl FnOnce(&dyn mechanism::Mechanism, &Arc<KeyMaterial>) -> Result<T>,
    ) -> Result<()> {
        let (s, token) = self.session_token(h)?;
        let mut ops = s.ops()?;
        if pick(&mut ops).is_some() {
            return Err(Error::OperationActive);
        }
        let mech = mechanism::lookup(m.ty)?;
        let material = self
            .session_operation_object(&s, token, key, usage, m)?
            .key()?;
        let device = super::delegate::DeviceOps::for_key(token, &material)?;
        let mech = match &device {
            Some(d) => d as &dyn mechanism::Mechanism,
            None => mech,
        };
        start(&mut ops, pick, || build(mech, &material))?;
        if let Some(kind) = Kind::of_usage(usage) {
            ops.note_start(kind, key, m.ty); // for a failing final call's record
        }
        Ok(())
    }

    pub fn encrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if m.ty == CKM_KW_VERSIONED_AES_GCM {
            return self.versioned_init(h, m, key, true);
        }
        self.key_init(
            h,
            m,
            key,
            CKA_ENCRYPT,
            |o| &mut o.encrypt,
            |mech, k| mech.encrypt(m, k).map(Active::new),
        )
    }

    pub fn decrypt_init(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        if m.ty == CKM_KW_VERSIONED_AES_GCM {
            return self.versioned_init(h, m, key, false);
        }
        self.key_init(
            h,
            m,
            key,
            CKA_DECRYPT,
            |o| &mut o.decrypt,
            |mech, k| mech.decrypt(m, k).map(Active::new),
        )
    }

    /// C_EncryptInit / C_DecryptInit with versioned AES-GCM.
    fn versioned_init(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
        encrypt: bool,
    ) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        let slot = if encrypt {
            &mut ops.encrypt
        } else {
            &mut ops.decrypt
        };
        if slot.is_some() {
            return Err(Error::OperationActive);
        }
        *slot = Some(Active::new(self.versioned_cipher(h, m, key, encrypt)?));
        let kind = if encrypt {
            Kind::Encrypt
        } else {
            Kind::Decrypt
        };
        ops.note_start(kind, key, m.ty);
        Ok(())
    }

    pub fn sign_init(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        self.key_init(
            h,
            m,
            key,
            CKA_SIGN,
            |o| &mut o.sign,
            |mech, k| mech.sign(m, k).map(Active::new),
        )
    }

    pub fn verify_init(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let older = self.older_versions(h, key)?;
        self.key_init(
            h,
            m,
            key,
            CKA_VERIFY,
            |o| &mut o.verify,
            |mech, k| {
                let current = mech.verify(m, k)?;
                if older.is_empty() {
                    return Ok(Active::new(current));
                }
                let mut all = vec![current];
                for k in &older {
                    all.push(mech.verify(m, k)?);
                }
                let any = Box::new(mechanism::ops::AnyOf(all)) as Box<dyn mechanism::Verifier>;
                Ok(Active::new(any))
            },
        )
    }

    pub fn digest_init(&self, h: CK_SESSION_HANDLE, m: &MechanismRequest) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        start(
            &mut ops,
            |o| &mut o.digest,
            || mechanism::lookup(m.ty)?.digest(m).map(Active::new),
        )?;
        ops.note_start(Kind::Digest, 0, m.ty); // C_DigestKey records the mechanism
        Ok(())
    }

    /// C_Encrypt / C_Decrypt (single part); `decrypt` selects the operation.
    pub fn crypt(
        &self,
        h: CK_SESSION_HANDLE,
        decrypt: bool,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        let slot = if decrypt {
            &mut ops.decrypt
        } else {
            &mut ops.encrypt
        };
        produce(slot, Call::Single, cap, true, |op| op.one_shot(data))
    }

    /// C_EncryptUpdate / C_DecryptUpdate.
    pub fn crypt_update(
        &self,
        h: CK_SESSION_HANDLE,
        decrypt: bool,
        data: &[u8],
        cap: Option<usize>,
    ) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        let slot = if decrypt {
            &mut ops.decrypt
        } else {
            &mut ops.encrypt
        };
        produce(slot, Call::Update, cap, false, |op| op.update(data))
    }

    /// C_EncryptFinal / C_DecryptFinal.
    pub fn crypt_final(
        &self,
        h: CK_SESSION_HANDLE,
        decrypt: bool,
        cap: Option<usize>,
    ) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        let slot = if decrypt {
            &mut ops.decrypt
        } else {
            &mut ops.encrypt
        };
        produce(slot, Call::Final, cap, true, |op| op.finish())
    }

    /// C_Sign.
    pub fn sign(&self, h: CK_SESSION_HANDLE, data: &[u8], cap: Option<usize>) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        produce(&mut ops.sign, Call::Single, cap, true, |op| {
            op.one_shot(data).map(Zeroizing::new)
        })
    }

    /// C_SignUpdate.
    pub fn sign_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        feed(&mut ops.sign, |a| a.update().update(data))
    }

    /// C_SignFinal.
    pub fn sign_final(&self, h: CK_SESSION_HANDLE, cap: Option<usize>) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        produce(&mut ops.sign, Call::Final, cap, true, |op| {
            op.finish().map(Zeroizing::new)
        })
    }

    /// C_Verify: the operation ends whatever the outcome.
    pub fn verify(&self, h: CK_SESSION_HANDLE, data: &[u8], signature: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let mut op = s
            .ops()?
            .verify
            .take()
            .ok_or(Error::OperationNotInitialized)?;
        op.check_single_part()?;
        op.op.one_shot(data, signature)
    }

    /// C_VerifyUpdate.
    pub fn verify_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        feed(&mut ops.verify, |a| a.update().update(data))
    }

    /// C_VerifyFinal: the operation ends whatever the outcome.
    pub fn verify_final(&self, h: CK_SESSION_HANDLE, signature: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let mut op = s
            .ops()?
            .verify
            .take()
            .ok_or(Error::OperationNotInitialized)?;
        op.op.finish(signature)
    }

    /// C_Digest.
    pub fn digest(&self, h: CK_SESSION_HANDLE, data: &[u8], cap: Option<usize>) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        produce(&mut ops.digest, Call::Single, cap, true, |op| {
            op.update(data)?;
            op.finish().map(Zeroizing::new)
        })
    }

    /// C_DigestUpdate.
    pub fn digest_update(&self, h: CK_SESSION_HANDLE, data: &[u8]) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        feed(&mut ops.digest, |a| a.update().update(data))
    }

    /// C_DigestFinal.
    pub fn digest_final(&self, h: CK_SESSION_HANDLE, cap: Option<usize>) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        produce(&mut ops.digest, Call::Final, cap, true, |op| {
            op.finish().map(Zeroizing::new)
        })
    }

    /// C_GenerateRandom.
    pub fn generate_random(&self, h: CK_SESSION_HANDLE, out: &mut [u8]) -> Result<()> {
        self.session(h)?;
        crate::crypto::rng::fill(out).map_err(|_| Error::GeneralError)
    }

    /// C_SeedRandom: accepted and ignored; the aws-lc DRBG reseeds itself from the OS.
    pub fn seed_random(&self, h: CK_SESSION_HANDLE, _seed: &[u8]) -> Result<()> {
        self.session(h).map(drop)
    }
}
