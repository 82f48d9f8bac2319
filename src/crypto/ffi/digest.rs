//! Digests and HMAC (`EVP_MD_CTX`, `HMAC_CTX`).

use super::*;

/// Largest digest this layer produces (SHA-512), in bytes.
const MAX_MD: usize = 64;

/// A running digest of any [`DigestAlg`]; `Clone` snapshots it.
pub struct MdCtx(NonNull<sys::EVP_MD_CTX>);

// SAFETY: the EVP_MD_CTX is exclusively owned; moving it to another thread is fine.
unsafe impl Send for MdCtx {}
// SAFETY: `&self` methods (clone) only read the context through EVP_MD_CTX_copy_ex.
unsafe impl Sync for MdCtx {}

impl MdCtx {
    pub fn new(alg: DigestAlg) -> Self {
        // SAFETY: no preconditions; NULL (out of memory) is handled below.
        let ctx = unsafe { sys::EVP_MD_CTX_new() };
        let ctx = NonNull::new(ctx).expect("out of memory allocating EVP_MD_CTX");
        // SAFETY: `ctx` is a fresh context and `evp_md` a static method table.
        let rc = unsafe { sys::EVP_DigestInit_ex(ctx.as_ptr(), evp_md(alg), null_mut()) };
        assert_eq!(rc, 1, "EVP_DigestInit_ex cannot fail for a built-in digest");
        Self(ctx)
    }

    pub fn update(&mut self, data: &[u8]) {
        // SAFETY: the context is initialised; `data` is readable for its length.
        let rc =
            unsafe { sys::EVP_DigestUpdate(self.0.as_ptr(), data.as_ptr().cast(), data.len()) };
        debug_assert_eq!(rc, 1);
    }

    pub fn finish(self) -> Vec<u8> {
        let mut out = vec![0u8; MAX_MD];
        let mut len: core::ffi::c_uint = 0;
        // SAFETY: `out` holds EVP_MAX_MD_SIZE (64) bytes, enough for every DigestAlg.
        let rc = unsafe { sys::EVP_DigestFinal_ex(self.0.as_ptr(), out.as_mut_ptr(), &mut len) };
        debug_assert_eq!(rc, 1);
        out.truncate(len as usize);
        out
    }
}

impl Clone for MdCtx {
    fn clone(&self) -> Self {
        // SAFETY: as in `new`.
        let ctx = NonNull::new(unsafe { sys::EVP_MD_CTX_new() })
            .expect("out of memory allocating EVP_MD_CTX");
        // SAFETY: `ctx` is fresh, `self.0` an initialised context.
        let rc = unsafe { sys::EVP_MD_CTX_copy_ex(ctx.as_ptr(), self.0.as_ptr()) };
        assert_eq!(rc, 1, "EVP_MD_CTX_copy_ex failed");
        Self(ctx)
    }
}

impl Drop for MdCtx {
    fn drop(&mut self) {
        // SAFETY: owned context, freed once (EVP_MD_CTX_free cleanses it).
        unsafe { sys::EVP_MD_CTX_free(self.0.as_ptr()) };
    }
}

/// A running HMAC of any [`DigestAlg`]; the keyed state is cleansed on drop.
pub struct HmacCtx(NonNull<sys::HMAC_CTX>);

// SAFETY: the HMAC_CTX is exclusively owned; moving it to another thread is fine.
unsafe impl Send for HmacCtx {}

impl HmacCtx {
    pub fn new(alg: DigestAlg, key: &[u8]) -> Result<Self> {
        // SAFETY: no preconditions; NULL is handled by non_null.
        let ctx = non_null(unsafe { sys::HMAC_CTX_new() }, CryptoError::Internal)?;
        let me = Self(ctx);
        // SAFETY: fresh context; `key` readable for its length (a NULL pointer is not
        // passed for an empty key: an empty slice's pointer is dangling but non-NULL).
        let rc = unsafe {
            sys::HMAC_Init_ex(
                me.0.as_ptr(),
                key.as_ptr().cast(),
                key.len(),
                evp_md(alg),
                null_mut(),
            )
        };
        check(rc, CryptoError::BadKey)?;
        Ok(me)
    }

    pub fn update(&mut self, data: &[u8]) {
        // SAFETY: the context is initialised; `data` is readable for its length.
        let rc = unsafe { sys::HMAC_Update(self.0.as_ptr(), data.as_ptr(), data.len()) };
        debug_assert_eq!(rc, 1);
    }

    pub fn finish(self) -> Zeroizing<Vec<u8>> {
        let mut out = Zeroizing::new(vec![0u8; MAX_MD]);
        let mut len: core::ffi::c_uint = 0;
        // SAFETY: `out` holds EVP_MAX_MD_SIZE bytes.
        let rc = unsafe { sys::HMAC_Final(self.0.as_ptr(), out.as_mut_ptr(), &mut len) };
        debug_assert_eq!(rc, 1);
        out.truncate(len as usize);
        out
    }
}

impl Drop for HmacCtx {
    fn drop(&mut self) {
        // SAFETY: owned context, freed once; HMAC_CTX_free cleanses the key schedule.
        unsafe { sys::HMAC_CTX_free(self.0.as_ptr()) };
    }
}
