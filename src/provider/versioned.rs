//! The object side of versioned AES-GCM: encryption names the key's version, decryption
//! gathers every version of the logical key that may still decrypt.

use std::sync::Arc;

use cryptoki_sys::*;

use super::Provider;
use crate::error::{Error, Result};
use crate::mechanism::versioned_gcm::{self, Versions};
use crate::mechanism::{Cipher, MechanismRequest, Param};
use crate::object::vendor::*;
use crate::object::Attributes;
use crate::policy::lifecycle::{self, Use};

impl Provider {
    /// For a public key that is a later version of its logical key, the material of the
    /// earlier versions that may still verify: signatures made before a rotation keep
    /// verifying through the current public key (docs/lifecycle.md). Empty for version 1.
    pub(super) fn older_versions(
        &self,
        h: CK_SESSION_HANDLE,
        key: CK_OBJECT_HANDLE,
    ) -> Result<Vec<Arc<crate::object::key::KeyMaterial>>> {
        let (_, token) = self.session_token(h)?;
        let vis = Self::visibility(token)?;
        let Ok(obj) = token.object(crate::token::ObjectHandle(key), vis) else {
            return Ok(Vec::new()); // key_init reports the bad handle
        };
        let version = obj.attrs().ulong(CKA_KW_VERSION).unwrap_or(1);
        if obj.class() != CKO_PUBLIC_KEY || version <= 1 {
            return Ok(Vec::new());
        }
        let mut same_key = Attributes::new();
        same_key.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
        same_key.set(
            CKA_KW_KEY_ID,
            obj.attrs().get(CKA_KW_KEY_ID).unwrap_or_default().to_vec(),
        );
        let (today, policy) = (
            lifecycle::today(),
            token.config().allow_compromised_processing,
        );
        let mut older = Vec::new();
        for handle in token.find(&same_key, vis)? {
            let other = token.object(handle, vis)?;
            let earlier = other.attrs().ulong(CKA_KW_VERSION).unwrap_or(1) < version;
            let usable = other.allows(CKA_VERIFY)
                && lifecycle::authorize(other.attrs(), Use::Process, &today, policy).is_ok();
            if earlier && usable {
                older.push(other.key()?);
            }
        }
        Ok(older)
    }

    /// The cipher for CKM_KW_VERSIONED_AES_GCM with `key` (checked as any key operation).
    pub(super) fn versioned_cipher(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
        encrypt: bool,
    ) -> Result<Box<dyn Cipher>> {
        let usage = if encrypt { CKA_ENCRYPT } else { CKA_DECRYPT };
        let obj = self.operation_object(h, key, usage, m)?;
        let aad = match &m.param {
            Param::None => Vec::new(),
            Param::Bytes(b) => b.clone(),
            _ => return Err(Error::MechanismParamInvalid),
        };
        if encrypt {
            let version = obj.attrs().ulong(CKA_KW_VERSION).unwrap_or(1);
            return Ok(versioned_gcm::encryptor(obj.key()?, version, aad));
        }
        let (_, token) = self.session_token(h)?;
        let mut same_key = Attributes::new();
        same_key.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
        same_key.set(
            CKA_KW_KEY_ID,
            obj.attrs().get(CKA_KW_KEY_ID).unwrap_or_default().to_vec(),
        );
        let vis = Self::visibility(token)?;
        let today = lifecycle::today();
        let policy = token.config().allow_compromised_processing;
        let mut versions: Versions = Vec::new();
        for handle in token.find(&same_key, vis)? {
            let version = token.object(handle, vis)?;
            let usable = version.allows(CKA_DECRYPT)
                && lifecycle::authorize(version.attrs(), Use::Process, &today, policy).is_ok();
            if usable {
                let number = version.attrs().ulong(CKA_KW_VERSION).unwrap_or(1);
                versions.push((number, Arc::clone(&version.key()?)));
            }
        }
        Ok(versioned_gcm::decryptor(versions, aad))
    }
}
