//! AES key wrap (RFC 3394, RFC 5649).

use super::*;

/// An expanded AES key schedule, wiped on drop.
struct AesSchedule(Box<sys::AES_KEY>);

impl AesSchedule {
    fn new(key: &[u8], encrypt: bool) -> Result<Self> {
        if !matches!(key.len(), 16 | 24 | 32) {
            return Err(CryptoError::BadKey);
        }
        // SAFETY: AES_KEY is plain data (round keys and a count); all-zero is a valid value.
        let mut schedule = Self(Box::new(unsafe { core::mem::zeroed() }));
        let bits = (key.len() * 8) as core::ffi::c_uint;
        let set = if encrypt {
            sys::AES_set_encrypt_key
        } else {
            sys::AES_set_decrypt_key
        };
        // SAFETY: `key` holds bits/8 bytes; the schedule is a valid, writable AES_KEY.
        let rc = unsafe { set(key.as_ptr(), bits, &mut *schedule.0) };
        (rc == 0).then_some(schedule).ok_or(CryptoError::BadKey)
    }
}

impl Drop for AesSchedule {
    fn drop(&mut self) {
        let p: *mut sys::AES_KEY = &mut *self.0;
        // SAFETY: `p` points to one owned, initialised AES_KEY; writing zero bytes over it
        // leaves a valid value, and the volatile write is not optimised away.
        unsafe { ptr::write_volatile(p, core::mem::zeroed()) };
    }
}

/// AES key wrap: RFC 3394 (`padded` false: input a multiple of 8 bytes, at least 16) or
/// RFC 5649 (`padded` true: any non-empty input).
pub fn aes_wrap(kek: &[u8], input: &[u8], padded: bool) -> Result<Vec<u8>> {
    let schedule = AesSchedule::new(kek, true)?;
    let max = input.len() + 16;
    let mut out = vec![0u8; max];
    let written = if padded {
        let mut len = 0usize;
        // SAFETY: `out` is writable for `max` bytes, `input` readable for its length.
        let rc = unsafe {
            sys::AES_wrap_key_padded(
                &*schedule.0,
                out.as_mut_ptr(),
                &mut len,
                max,
                input.as_ptr(),
                input.len(),
            )
        };
        check(rc, CryptoError::InvalidLength)?;
        len
    } else {
        if input.len() < 16 || !input.len().is_multiple_of(8) {
            return Err(CryptoError::InvalidLength);
        }
        // SAFETY: as above; the output is input.len() + 8 <= max bytes; NULL IV = default.
        let rc = unsafe {
            sys::AES_wrap_key(
                &*schedule.0,
                ptr::null(),
                out.as_mut_ptr(),
                input.as_ptr(),
                input.len(),
            )
        };
        let written = usize::try_from(rc);
        clear_errors();
        written.map_err(|_| CryptoError::InvalidLength)?
    };
    out.truncate(written);
    Ok(out)
}

/// The inverse of [`aes_wrap`]; an integrity failure is `InvalidData`.
pub fn aes_unwrap(kek: &[u8], input: &[u8], padded: bool) -> Result<Zeroizing<Vec<u8>>> {
    let schedule = AesSchedule::new(kek, false)?;
    let min = if padded { 16 } else { 24 };
    if input.len() < min || !input.len().is_multiple_of(8) {
        return Err(CryptoError::InvalidLength);
    }
    let mut out = Zeroizing::new(vec![0u8; input.len()]);
    let written = if padded {
        let mut len = 0usize;
        // SAFETY: `out` is writable for input.len() bytes, `input` readable for its length.
        let rc = unsafe {
            sys::AES_unwrap_key_padded(
                &*schedule.0,
                out.as_mut_ptr(),
                &mut len,
                input.len(),
                input.as_ptr(),
                input.len(),
            )
        };
        check(rc, CryptoError::InvalidData)?;
        len
    } else {
        // SAFETY: as above; the output is input.len() - 8 bytes; NULL IV = default.
        let rc = unsafe {
            sys::AES_unwrap_key(
                &*schedule.0,
                ptr::null(),
                out.as_mut_ptr(),
                input.as_ptr(),
                input.len(),
            )
        };
        usize::try_from(rc).map_err(|_| CryptoError::InvalidData)?
    };
    clear_errors();
    out.truncate(written);
    Ok(out)
}
