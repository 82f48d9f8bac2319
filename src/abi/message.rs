//! Message-based encryption and decryption (PKCS#11 3.0 §5.9, §5.11) for AES-GCM. Each call
//! carries a CK_GCM_MESSAGE_PARAMS; the token writes a generated IV back into its pIv and,
//! when encrypting, the tag into its pTag.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::{ptr, with_provider};
use crate::error::{Error, Result};
use crate::mechanism::message::GcmMessage;
use crate::provider::Provider;
use crate::session::Out;

/// The caller's CK_GCM_MESSAGE_PARAMS: its safe copy and where to write results back.
struct Param {
    raw: CK_GCM_MESSAGE_PARAMS,
    safe: GcmMessage,
}

impl Param {
    /// Read the parameter; when decrypting, the tag (ulTagBits / 8 bytes at pTag) is input.
    ///
    /// # Safety
    /// `p` is NULL or points to `len` readable bytes; the struct's pointers describe caller
    /// memory of the lengths it gives.
    unsafe fn read(p: *mut c_void, len: CK_ULONG, encrypt: bool) -> Result<Self> {
        if p.is_null() || len as usize != std::mem::size_of::<CK_GCM_MESSAGE_PARAMS>() {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: `p` points to a whole CK_GCM_MESSAGE_PARAMS (checked length); unaligned ok.
        let raw = unsafe { std::ptr::read_unaligned(p as *const CK_GCM_MESSAGE_PARAMS) };
        let bad = |_| Error::MechanismParamInvalid;
        if raw.pIv.is_null() || raw.ulIvLen == 0 || raw.pTag.is_null() {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: pIv describes ulIvLen caller bytes.
        let iv = unsafe { ptr::bytes(raw.pIv, raw.ulIvLen) }
            .map_err(bad)?
            .to_vec();
        let tag = if encrypt {
            Vec::new()
        } else {
            // SAFETY: pTag describes ulTagBits / 8 caller bytes.
            unsafe { ptr::bytes(raw.pTag, raw.ulTagBits / 8) }
                .map_err(bad)?
                .to_vec()
        };
        let safe = GcmMessage {
            iv,
            iv_fixed_bits: raw.ulIvFixedBits,
            generator: raw.ivGenerator,
            tag,
            tag_bits: raw.ulTagBits,
        };
        Ok(Self { raw, safe })
    }

    /// Write the (possibly generated) IV and, if one was produced, the tag back.
    ///
    /// # Safety
    /// As for [`Param::read`]; pIv and pTag are writable for ulIvLen and ulTagBits / 8 bytes.
    unsafe fn write_back(&self, encrypt: bool) {
        let iv = &self.safe.iv;
        if iv.len() == self.raw.ulIvLen as usize {
            // SAFETY: pIv is writable for ulIvLen == iv.len() bytes.
            unsafe { std::ptr::copy_nonoverlapping(iv.as_ptr(), self.raw.pIv, iv.len()) };
        }
        let tag = &self.safe.tag;
        if encrypt && !tag.is_empty() && tag.len() <= (self.raw.ulTagBits / 8) as usize {
            // SAFETY: pTag is writable for ulTagBits / 8 >= tag.len() bytes.
            unsafe { std::ptr::copy_nonoverlapping(tag.as_ptr(), self.raw.pTag, tag.len()) };
        }
    }
}

/// Shared body of the calls that take a parameter, an input and (maybe) an output.
unsafe fn run(
    encrypt: bool,
    p_param: *mut c_void,
    param_len: CK_ULONG,
    p_in: *mut u8,
    in_len: CK_ULONG,
    out: Option<(*mut u8, *mut CK_ULONG)>,
    f: impl FnOnce(&Provider, &mut GcmMessage, &[u8], Option<usize>) -> Result<Out>,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let mut param = unsafe { Param::read(p_param, param_len, encrypt) }?;
        // SAFETY: forwarded from the caller.
        let input = unsafe { ptr::bytes(p_in, in_len) }?;
        let capacity = match out {
            // SAFETY: forwarded from the caller.
            Some((buf, len)) => unsafe { ptr::capacity(buf, len) }?,
            None => Some(0),
        };
        let result = f(p, &mut param.safe, input, capacity)?;
        let produced = matches!(result, Out::Data(_));
        if produced {
            // SAFETY: forwarded from the caller.
            unsafe { param.write_back(encrypt) };
        }
        match out {
            // SAFETY: forwarded from the caller.
            Some((buf, len)) => unsafe { ptr::deliver(result, buf, len) },
            None => Ok(()),
        }
    })
}

macro_rules! message_functions {
    ($encrypt:expr, $init:ident, $one:ident, $begin:ident, $next:ident, $final:ident) => {
        #[doc = concat!("`", stringify!($init), "` (PKCS#11 3.0 message-based functions).")]
        #[no_mangle]
        pub unsafe extern "C" fn $init(
            h: CK_SESSION_HANDLE,
            p_mech: *mut CK_MECHANISM,
            key: CK_OBJECT_HANDLE,
        ) -> CK_RV {
            with_provider(|p| {
                // SAFETY: forwarded from the caller.
                let m = unsafe { ptr::mechanism(p_mech) }?;
                p.message_init(h, &m, key, $encrypt)
            })
        }

        #[doc = concat!("`", stringify!($one), "`: one whole message.")]
        #[no_mangle]
        pub unsafe extern "C" fn $one(
            h: CK_SESSION_HANDLE,
            p_param: *mut c_void,
            param_len: CK_ULONG,
            p_aad: *mut u8,
            aad_len: CK_ULONG,
            p_in: *mut u8,
            in_len: CK_ULONG,
            p_out: *mut u8,
            p_out_len: *mut CK_ULONG,
        ) -> CK_RV {
            let body = |p: &Provider, m: &mut GcmMessage, input: &[u8], cap| {
                // SAFETY: forwarded from the caller.
                let aad = unsafe { ptr::bytes(p_aad, aad_len) }?;
                p.message_one_shot(h, $encrypt, m, aad, input, cap)
            };
            let out = Some((p_out, p_out_len));
            // SAFETY: forwarded from the caller.
            unsafe { run($encrypt, p_param, param_len, p_in, in_len, out, body) }
        }

        #[doc = concat!("`", stringify!($begin), "`: start a message in parts.")]
        #[no_mangle]
        pub unsafe extern "C" fn $begin(
            h: CK_SESSION_HANDLE,
            p_param: *mut c_void,
            param_len: CK_ULONG,
            p_aad: *mut u8,
            aad_len: CK_ULONG,
        ) -> CK_RV {
            let body = |p: &Provider, m: &mut GcmMessage, aad: &[u8], _| {
                p.message_begin(h, $encrypt, m, aad)
                    .map(|_| Out::Data(Default::default()))
            };
            // SAFETY: forwarded from the caller.
            unsafe { run($encrypt, p_param, param_len, p_aad, aad_len, None, body) }
        }

        #[doc = concat!("`", stringify!($next), "`: one part; CKF_END_OF_MESSAGE ends it.")]
        #[no_mangle]
        pub unsafe extern "C" fn $next(
            h: CK_SESSION_HANDLE,
            p_param: *mut c_void,
            param_len: CK_ULONG,
            p_in: *mut u8,
            in_len: CK_ULONG,
            p_out: *mut u8,
            p_out_len: *mut CK_ULONG,
            flags: CK_FLAGS,
        ) -> CK_RV {
            let end = flags & CKF_END_OF_MESSAGE != 0;
            let body = |p: &Provider, m: &mut GcmMessage, input: &[u8], cap| {
                p.message_next(h, $encrypt, m, input, cap, end)
            };
            let out = Some((p_out, p_out_len));
            // SAFETY: forwarded from the caller.
            unsafe { run($encrypt, p_param, param_len, p_in, in_len, out, body) }
        }

        #[doc = concat!("`", stringify!($final), "`: end the message-based operation.")]
        #[no_mangle]
        pub unsafe extern "C" fn $final(h: CK_SESSION_HANDLE) -> CK_RV {
            with_provider(|p| p.message_final(h, $encrypt))
        }
    };
}

message_functions!(
    true,
    C_MessageEncryptInit,
    C_EncryptMessage,
    C_EncryptMessageBegin,
    C_EncryptMessageNext,
    C_MessageEncryptFinal
);
message_functions!(
    false,
    C_MessageDecryptInit,
    C_DecryptMessage,
    C_DecryptMessageBegin,
    C_DecryptMessageNext,
    C_MessageDecryptFinal
);
