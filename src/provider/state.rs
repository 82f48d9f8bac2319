//! Operation state (PKCS#11 3.0 §5.6.7–5.6.8) and session cancellation (§5.6.5).
//!
//! C_GetOperationState saves a copy of an active digest in this module instance and hands
//! the caller an opaque, unguessable reference to it; C_SetOperationState restores it into
//! any session of the same application. Saved states never leave the process, so they carry
//! nothing an attacker could replay elsewhere; the newest [`KEPT`] are kept.

use std::collections::VecDeque;
use std::sync::Mutex;

use cryptoki_sys::*;

use super::Provider;
use crate::crypto::rng;
use crate::error::{Error, Result};
use crate::mechanism::Digester;
use crate::session::{Active, Out};

/// How many saved states the module keeps.
const KEPT: usize = 64;
/// Prefix of a state blob, so a foreign blob is recognised as such.
const MAGIC: &[u8; 4] = b"KWs1";
/// Blob length: magic and a random 16-byte reference.
const BLOB_LEN: usize = 4 + 16;

/// One saved digest state and the reference the caller holds to it.
type Entry = ([u8; 16], Box<dyn Digester>);

/// The saved digest states, newest last.
#[derive(Default)]
pub(super) struct Saved(Mutex<VecDeque<Entry>>);

impl Provider {
    /// C_GetOperationState: only a running digest (alone) can be saved.
    pub fn get_operation_state(
        &self,
        h: CK_SESSION_HANDLE,
        capacity: Option<usize>,
    ) -> Result<Out> {
        let s = self.session(h)?;
        let ops = s.ops()?;
        if ops.encrypt.is_some()
            || ops.decrypt.is_some()
            || ops.sign.is_some()
            || ops.verify.is_some()
        {
            return Err(Error::StateUnsaveable);
        }
        let digest = ops.digest.as_ref().ok_or(Error::OperationNotInitialized)?;
        match capacity {
            None => return Ok(Out::Size(BLOB_LEN)),
            Some(cap) if cap < BLOB_LEN => return Ok(Out::TooSmall(BLOB_LEN)),
            Some(_) => {}
        }
        let mut id = [0u8; 16];
        rng::fill(&mut id).map_err(|_| Error::GeneralError)?;
        let copy = digest.op.snapshot()?;
        let mut saved = self.saved.0.lock().map_err(|_| Error::GeneralError)?;
        if saved.len() == KEPT {
            saved.pop_front();
        }
        saved.push_back((id, copy));
        let mut blob = MAGIC.to_vec();
        blob.extend_from_slice(&id);
        Ok(Out::Data(blob.into()))
    }

    /// C_SetOperationState: a digest state needs no keys (CKR_KEY_NOT_NEEDED otherwise).
    pub fn set_operation_state(
        &self,
        h: CK_SESSION_HANDLE,
        blob: &[u8],
        encryption_key: CK_OBJECT_HANDLE,
        authentication_key: CK_OBJECT_HANDLE,
    ) -> Result<()> {
        let s = self.session(h)?;
        let id: [u8; 16] = match blob.strip_prefix(MAGIC) {
            Some(rest) => rest.try_into().map_err(|_| Error::SavedStateInvalid)?,
            None => return Err(Error::SavedStateInvalid),
        };
        if encryption_key != CK_INVALID_HANDLE || authentication_key != CK_INVALID_HANDLE {
            return Err(Error::KeyNotNeeded);
        }
        let copy = {
            let saved = self.saved.0.lock().map_err(|_| Error::GeneralError)?;
            let (_, state) = saved
                .iter()
                .find(|(k, _)| *k == id)
                .ok_or(Error::SavedStateInvalid)?;
            state.snapshot()?
        };
        let mut ops = s.ops()?;
        (ops.encrypt, ops.decrypt, ops.sign, ops.verify) = (None, None, None, None);
        ops.digest = Some(Active::new(copy));
        Ok(())
    }

    /// C_SessionCancel: end the operations `flags` names (CKF_ENCRYPT, CKF_DIGEST, …).
    pub fn session_cancel(&self, h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        let wants = |f: CK_FLAGS| flags & f != 0;
        if wants(CKF_ENCRYPT) {
            ops.encrypt = None;
        }
        if wants(CKF_DECRYPT) {
            ops.decrypt = None;
        }
        if wants(CKF_DIGEST) {
            ops.digest = None;
        }
        if wants(CKF_SIGN) {
            ops.sign = None;
        }
        if wants(CKF_VERIFY) {
            ops.verify = None;
        }
        if wants(CKF_FIND_OBJECTS) {
            ops.find = None;
        }
        if wants(CKF_MESSAGE_ENCRYPT) {
            ops.message_encrypt = None;
        }
        if wants(CKF_MESSAGE_DECRYPT) {
            ops.message_decrypt = None;
        }
        Ok(())
    }
}
