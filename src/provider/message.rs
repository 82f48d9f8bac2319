//! Message-based encryption and decryption (PKCS#11 3.0 §5.9, §5.11): AES-GCM with one
//! IV, associated data and tag per message.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Provider;
use crate::error::{Error, Result};
use crate::mechanism::message::{GcmMessage, MessageCipher};
use crate::mechanism::{self, MechanismRequest};
use crate::session::{Ops, Out};

fn pick(ops: &mut Ops, encrypt: bool) -> &mut Option<MessageCipher> {
    if encrypt {
        &mut ops.message_encrypt
    } else {
        &mut ops.message_decrypt
    }
}

impl Provider {
    /// C_MessageEncryptInit / C_MessageDecryptInit.
    pub fn message_init(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        key: CK_OBJECT_HANDLE,
        encrypt: bool,
    ) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        if pick(&mut ops, encrypt).is_some() {
            return Err(Error::OperationActive);
        }
        let flag = if encrypt {
            CKF_MESSAGE_ENCRYPT
        } else {
            CKF_MESSAGE_DECRYPT
        };
        if mechanism::lookup(m.ty)?.info(m.ty).flags & flag == 0 {
            return Err(Error::MechanismInvalid);
        }
        let usage = if encrypt { CKA_ENCRYPT } else { CKA_DECRYPT };
        let key = self.operation_object(h, key, usage, m)?.key()?;
        *pick(&mut ops, encrypt) = Some(MessageCipher::new(m, &key, encrypt)?);
        Ok(())
    }

    /// Run `f` on the session's message cipher. A NULL output buffer or one that is too
    /// small is answered from `output_len` without touching the message.
    fn with_message(
        &self,
        h: CK_SESSION_HANDLE,
        encrypt: bool,
        out_len: impl FnOnce(&MessageCipher) -> usize,
        capacity: Option<usize>,
        f: impl FnOnce(&mut MessageCipher) -> Result<Zeroizing<Vec<u8>>>,
    ) -> Result<Out> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        let cipher = pick(&mut ops, encrypt)
            .as_mut()
            .ok_or(Error::OperationNotInitialized)?;
        let need = out_len(cipher);
        match capacity {
            None => Ok(Out::Size(need)),
            Some(cap) if cap < need => Ok(Out::TooSmall(need)),
            Some(_) => f(cipher).map(Out::Data),
        }
    }

    /// C_EncryptMessage / C_DecryptMessage.
    pub fn message_one_shot(
        &self,
        h: CK_SESSION_HANDLE,
        encrypt: bool,
        p: &mut GcmMessage,
        aad: &[u8],
        input: &[u8],
        capacity: Option<usize>,
    ) -> Result<Out> {
        self.with_message(
            h,
            encrypt,
            |c| c.output_len(input.len(), true),
            capacity,
            |c| c.one_shot(p, aad, input),
        )
    }

    /// C_EncryptMessageBegin / C_DecryptMessageBegin.
    pub fn message_begin(
        &self,
        h: CK_SESSION_HANDLE,
        encrypt: bool,
        p: &mut GcmMessage,
        aad: &[u8],
    ) -> Result<()> {
        self.with_message(
            h,
            encrypt,
            |_| 0,
            Some(0),
            |c| c.begin(p, aad).map(|_| Zeroizing::new(Vec::new())),
        )
        .map(|_| ())
    }

    /// C_EncryptMessageNext / C_DecryptMessageNext.
    pub fn message_next(
        &self,
        h: CK_SESSION_HANDLE,
        encrypt: bool,
        p: &mut GcmMessage,
        part: &[u8],
        capacity: Option<usize>,
        end: bool,
    ) -> Result<Out> {
        self.with_message(
            h,
            encrypt,
            |c| c.output_len(part.len(), end),
            capacity,
            |c| c.next(p, part, end),
        )
    }

    /// C_MessageEncryptFinal / C_MessageDecryptFinal: ends the message-based operation.
    pub fn message_final(&self, h: CK_SESSION_HANDLE, encrypt: bool) -> Result<()> {
        let s = self.session(h)?;
        let mut ops = s.ops()?;
        pick(&mut ops, encrypt)
            .take()
            .map(|_| ())
            .ok_or(Error::OperationNotInitialized)
    }
}
