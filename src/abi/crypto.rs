//! Encryption, decryption, digests, signatures and verification (PKCS#11 3.0 §5.8–5.13).

use cryptoki_sys::*;

use super::{ptr, with_provider};
use crate::error::Result;
use crate::provider::Provider;
use crate::session::{Kind, Out};

/// The active operation a call continues: session and kind (CKF_ENCRYPT, CKF_SIGN, …).
#[derive(Clone, Copy)]
struct Op(CK_SESSION_HANDLE, CK_FLAGS);

impl Op {
    /// The spec ends an operation on any error of the call that continues it but
    /// CKR_BUFFER_TOO_SMALL (§5.2): bad pointer arguments end it too.
    fn ends_on_error<T>(self, p: &Provider, r: Result<T>) -> Result<T> {
        if r.is_err() {
            let _ = p.session_cancel(self.0, self.1);
        }
        r
    }
}

/// Shared shim for every call that reads `data` and writes output with the two-call
/// convention.
unsafe fn in_out(
    op: Op,
    p_data: *const u8,
    data_len: CK_ULONG,
    p_out: *mut u8,
    p_out_len: *mut CK_ULONG,
    f: impl FnOnce(&Provider, &[u8], Option<usize>) -> Result<Out>,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let data = op.ends_on_error(p, unsafe { ptr::bytes(p_data, data_len) })?;
        // SAFETY: forwarded from the caller.
        let cap = op.ends_on_error(p, unsafe { ptr::capacity(p_out, p_out_len) })?;
        let out = f(p, data, cap)?;
        // SAFETY: forwarded from the caller.
        unsafe { ptr::deliver(out, p_out, p_out_len) }
    })
}

/// Shared shim for *Init calls with a mechanism and a key.
unsafe fn init(
    p_mech: *mut CK_MECHANISM,
    f: impl FnOnce(&Provider, &crate::mechanism::MechanismRequest) -> Result<()>,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let m = unsafe { ptr::mechanism(p_mech) }?;
        f(p, &m)
    })
}

/// Shared shim for calls that only read data.
unsafe fn input(
    op: Op,
    p_data: *const u8,
    len: CK_ULONG,
    f: impl FnOnce(&Provider, &[u8]) -> Result<()>,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let data = op.ends_on_error(p, unsafe { ptr::bytes(p_data, len) })?;
        f(p, data)
    })
}

/// C_EncryptInit (§5.8.1).
#[no_mangle]
pub unsafe extern "C" fn C_EncryptInit(
    h: CK_SESSION_HANDLE,
    m: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe { init(m, |p, m| p.encrypt_init(h, m, key)) }
}

/// C_Encrypt (§5.8.2).
#[no_mangle]
pub unsafe extern "C" fn C_Encrypt(
    h: CK_SESSION_HANDLE,
    d: *mut u8,
    dl: CK_ULONG,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_ENCRYPT), d, dl, o, ol, |p, d, c| {
            p.outcome(h, Kind::Encrypt, "C_Encrypt", p.crypt(h, false, d, c))
        })
    }
}

/// C_EncryptUpdate (§5.8.3).
#[no_mangle]
pub unsafe extern "C" fn C_EncryptUpdate(
    h: CK_SESSION_HANDLE,
    d: *mut u8,
    dl: CK_ULONG,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_ENCRYPT), d, dl, o, ol, |p, d, c| {
            p.outcome(
                h,
                Kind::Encrypt,
                "C_EncryptUpdate",
                p.crypt_update(h, false, d, c),
            )
        })
    }
}

/// C_EncryptFinal (§5.8.4).
#[no_mangle]
pub unsafe extern "C" fn C_EncryptFinal(
    h: CK_SESSION_HANDLE,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_ENCRYPT), std::ptr::null(), 0, o, ol, |p, _, c| {
            p.outcome(
                h,
                Kind::Encrypt,
                "C_EncryptFinal",
                p.crypt_final(h, false, c),
            )
        })
    }
}

/// C_DecryptInit (§5.9.1).
#[no_mangle]
pub unsafe extern "C" fn C_DecryptInit(
    h: CK_SESSION_HANDLE,
    m: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe { init(m, |p, m| p.decrypt_init(h, m, key)) }
}

/// C_Decrypt (§5.9.2).
#[no_mangle]
pub unsafe extern "C" fn C_Decrypt(
    h: CK_SESSION_HANDLE,
    d: *mut u8,
    dl: CK_ULONG,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_DECRYPT), d, dl, o, ol, |p, d, c| {
            p.outcome(h, Kind::Decrypt, "C_Decrypt", p.crypt(h, true, d, c))
        })
    }
}

/// C_DecryptUpdate (§5.9.3).
#[no_mangle]
pub unsafe extern "C" fn C_DecryptUpdate(
    h: CK_SESSION_HANDLE,
    d: *mut u8,
    dl: CK_ULONG,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_DECRYPT), d, dl, o, ol, |p, d, c| {
            p.outcome(
                h,
                Kind::Decrypt,
                "C_DecryptUpdate",
                p.crypt_update(h, true, d, c),
            )
        })
    }
}

/// C_DecryptFinal (§5.9.4).
#[no_mangle]
pub unsafe extern "C" fn C_DecryptFinal(
    h: CK_SESSION_HANDLE,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_DECRYPT), std::ptr::null(), 0, o, ol, |p, _, c| {
            p.outcome(
                h,
                Kind::Decrypt,
                "C_DecryptFinal",
                p.crypt_final(h, true, c),
            )
        })
    }
}

/// C_DigestInit (§5.10.1).
#[no_mangle]
pub unsafe extern "C" fn C_DigestInit(h: CK_SESSION_HANDLE, m: *mut CK_MECHANISM) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe { init(m, |p, m| p.digest_init(h, m)) }
}

/// C_Digest (§5.10.2).
#[no_mangle]
pub unsafe extern "C" fn C_Digest(
    h: CK_SESSION_HANDLE,
    d: *mut u8,
    dl: CK_ULONG,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe { in_out(Op(h, CKF_DIGEST), d, dl, o, ol, |p, d, c| p.digest(h, d, c)) }
}

/// C_DigestUpdate (§5.10.3).
#[no_mangle]
pub unsafe extern "C" fn C_DigestUpdate(h: CK_SESSION_HANDLE, d: *mut u8, dl: CK_ULONG) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe { input(Op(h, CKF_DIGEST), d, dl, |p, d| p.digest_update(h, d)) }
}

/// C_DigestKey (§5.10.4): continue the digest with a secret key's value.
#[no_mangle]
pub unsafe extern "C" fn C_DigestKey(h: CK_SESSION_HANDLE, key: CK_OBJECT_HANDLE) -> CK_RV {
    with_provider(|p| p.digest_key(h, key))
}

/// C_DigestFinal (§5.10.5).
#[no_mangle]
pub unsafe extern "C" fn C_DigestFinal(
    h: CK_SESSION_HANDLE,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_DIGEST), std::ptr::null(), 0, o, ol, |p, _, c| {
            p.digest_final(h, c)
        })
    }
}

/// C_SignInit (§5.11.1).
#[no_mangle]
pub unsafe extern "C" fn C_SignInit(
    h: CK_SESSION_HANDLE,
    m: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe { init(m, |p, m| p.sign_init(h, m, key)) }
}

/// C_Sign (§5.11.2).
#[no_mangle]
pub unsafe extern "C" fn C_Sign(
    h: CK_SESSION_HANDLE,
    d: *mut u8,
    dl: CK_ULONG,
    o: *mut u8,
    ol: *mut CK_ULONG,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_SIGN), d, dl, o, ol, |p, d, c| {
            p.outcome(h, Kind::Sign, "C_Sign", p.sign(h, d, c))
        })
    }
}

/// C_SignUpdate (§5.11.3).
#[no_mangle]
pub unsafe extern "C" fn C_SignUpdate(h: CK_SESSION_HANDLE, d: *mut u8, dl: CK_ULONG) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        input(Op(h, CKF_SIGN), d, dl, |p, d| {
            p.outcome(h, Kind::Sign, "C_SignUpdate", p.sign_update(h, d))
        })
    }
}

/// C_SignFinal (§5.11.4).
#[no_mangle]
pub unsafe extern "C" fn C_SignFinal(h: CK_SESSION_HANDLE, o: *mut u8, ol: *mut CK_ULONG) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        in_out(Op(h, CKF_SIGN), std::ptr::null(), 0, o, ol, |p, _, c| {
            p.outcome(h, Kind::Sign, "C_SignFinal", p.sign_final(h, c))
        })
    }
}

/// C_VerifyInit (§5.13.1).
#[no_mangle]
pub unsafe extern "C" fn C_VerifyInit(
    h: CK_SESSION_HANDLE,
    m: *mut CK_MECHANISM,
    key: CK_OBJECT_HANDLE,
) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe { init(m, |p, m| p.verify_init(h, m, key)) }
}

/// C_Verify (§5.13.2).
#[no_mangle]
pub unsafe extern "C" fn C_Verify(
    h: CK_SESSION_HANDLE,
    d: *mut u8,
    dl: CK_ULONG,
    s: *mut u8,
    sl: CK_ULONG,
) -> CK_RV {
    let op = Op(h, CKF_VERIFY);
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let data = op.ends_on_error(p, unsafe { ptr::bytes(d, dl) })?;
        // SAFETY: forwarded from the caller.
        let sig = op.ends_on_error(p, unsafe { ptr::bytes(s, sl) })?;
        p.outcome(h, Kind::Verify, "C_Verify", p.verify(h, data, sig))
    })
}

/// C_VerifyUpdate (§5.13.3).
#[no_mangle]
pub unsafe extern "C" fn C_VerifyUpdate(h: CK_SESSION_HANDLE, d: *mut u8, dl: CK_ULONG) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        input(Op(h, CKF_VERIFY), d, dl, |p, d| {
            p.outcome(h, Kind::Verify, "C_VerifyUpdate", p.verify_update(h, d))
        })
    }
}

/// C_VerifyFinal (§5.13.4).
#[no_mangle]
pub unsafe extern "C" fn C_VerifyFinal(h: CK_SESSION_HANDLE, s: *mut u8, sl: CK_ULONG) -> CK_RV {
    // SAFETY: forwarded from the caller.
    unsafe {
        input(Op(h, CKF_VERIFY), s, sl, |p, s| {
            p.outcome(h, Kind::Verify, "C_VerifyFinal", p.verify_final(h, s))
        })
    }
}
