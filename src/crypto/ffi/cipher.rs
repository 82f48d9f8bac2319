//! AES through `EVP_CIPHER_CTX`.

use super::*;

/// AES mode of a [`CipherCtx`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AesKind {
    /// ECB.
    Ecb,
    /// CBC.
    Cbc,
    /// CTR with a 128-bit big-endian counter.
    Ctr,
    /// GCM.
    Gcm,
}

fn aes_cipher(kind: AesKind, key_len: usize) -> Option<*const sys::EVP_CIPHER> {
    // SAFETY: the EVP_aes_* functions have no preconditions and return static tables.
    unsafe {
        Some(match (kind, key_len) {
            (AesKind::Ecb, 16) => sys::EVP_aes_128_ecb(),
            (AesKind::Ecb, 24) => sys::EVP_aes_192_ecb(),
            (AesKind::Ecb, 32) => sys::EVP_aes_256_ecb(),
            (AesKind::Cbc, 16) => sys::EVP_aes_128_cbc(),
            (AesKind::Cbc, 24) => sys::EVP_aes_192_cbc(),
            (AesKind::Cbc, 32) => sys::EVP_aes_256_cbc(),
            (AesKind::Ctr, 16) => sys::EVP_aes_128_ctr(),
            (AesKind::Ctr, 24) => sys::EVP_aes_192_ctr(),
            (AesKind::Ctr, 32) => sys::EVP_aes_256_ctr(),
            (AesKind::Gcm, 16) => sys::EVP_aes_128_gcm(),
            (AesKind::Gcm, 24) => sys::EVP_aes_192_gcm(),
            (AesKind::Gcm, 32) => sys::EVP_aes_256_gcm(),
            _ => return None,
        })
    }
}

/// Owned `EVP_CIPHER_CTX` for AES; cleansed by aws-lc when freed.
pub struct CipherCtx {
    ctx: NonNull<sys::EVP_CIPHER_CTX>,
    kind: AesKind,
}

// SAFETY: the context is exclusively owned and only used through `&mut self`
// (or freed in Drop); aws-lc cipher contexts have no thread affinity.
unsafe impl Send for CipherCtx {}

impl Drop for CipherCtx {
    fn drop(&mut self) {
        // SAFETY: owned by us and freed exactly once; cleanup zeroes the key schedule.
        unsafe { sys::EVP_CIPHER_CTX_free(self.ctx.as_ptr()) }
    }
}

impl CipherCtx {
    /// Initialises AES in `kind` mode. Key length not 16/24/32 → `BadKey`.
    /// `iv` must be empty for ECB, 16 bytes for CBC/CTR, 1..=256 bytes for GCM,
    /// else `BadParameter`. `padding` enables PKCS#7 (CBC only).
    pub fn new(kind: AesKind, key: &[u8], iv: &[u8], encrypt: bool, padding: bool) -> Result<Self> {
        let cipher = aes_cipher(kind, key.len()).ok_or(CryptoError::BadKey)?;
        let iv_ok = match kind {
            AesKind::Ecb => iv.is_empty(),
            AesKind::Cbc | AesKind::Ctr => iv.len() == AES_BLOCK,
            AesKind::Gcm => (1..=256).contains(&iv.len()),
        };
        if !iv_ok {
            return Err(CryptoError::BadParameter);
        }
        // SAFETY: EVP_CIPHER_CTX_new has no preconditions.
        let p = unsafe { sys::EVP_CIPHER_CTX_new() };
        let ctx = non_null(p, CryptoError::Internal)?;
        let mut me = CipherCtx { ctx, kind };
        let enc = c_int::from(encrypt);
        // SAFETY: `cipher` is a static table; NULL key/iv defer keying.
        unsafe { me.init(cipher, ptr::null(), ptr::null(), enc) }?;
        if kind == AesKind::Gcm {
            // SAFETY: SET_IVLEN takes no buffer; iv.len() <= 256 so the cast is lossless.
            unsafe {
                me.ctrl(
                    sys::EVP_CTRL_GCM_SET_IVLEN,
                    iv.len() as c_int,
                    ptr::null_mut(),
                )
            }?;
        }
        let iv_ptr = if iv.is_empty() {
            ptr::null()
        } else {
            iv.as_ptr()
        };
        // SAFETY: `key` holds exactly the cipher's key length and `iv` exactly the
        // IV length configured above (or is NULL for ECB), both validated above.
        unsafe { me.init(ptr::null(), key.as_ptr(), iv_ptr, enc) }?;
        // SAFETY: the context is valid.
        let rc = unsafe { sys::EVP_CIPHER_CTX_set_padding(me.ctx.as_ptr(), c_int::from(padding)) };
        check(rc, CryptoError::Internal)?;
        Ok(me)
    }

    /// `EVP_CipherInit_ex` on this context.
    ///
    /// # Safety
    /// `cipher` must be NULL or a static AES cipher; `key` NULL or readable for the
    /// cipher's key length; `iv` NULL or readable for the configured IV length.
    unsafe fn init(
        &mut self,
        cipher: *const sys::EVP_CIPHER,
        key: *const u8,
        iv: *const u8,
        enc: c_int,
    ) -> Result<()> {
        let c = self.ctx.as_ptr();
        // SAFETY: the context is valid; the pointers satisfy the caller's guarantee.
        let rc = unsafe { sys::EVP_CipherInit_ex(c, cipher, ptr::null_mut(), key, iv, enc) };
        check(rc, CryptoError::Internal)
    }

    /// `EVP_CIPHER_CTX_ctrl`.
    ///
    /// # Safety
    /// `p` must be NULL (for commands without a buffer) or valid for reads and
    /// writes of `arg` bytes for the duration of the call.
    unsafe fn ctrl(&mut self, cmd: c_int, arg: c_int, p: *mut core::ffi::c_void) -> Result<()> {
        // SAFETY: the context is valid; `p` satisfies the caller's guarantee.
        let rc = unsafe { sys::EVP_CIPHER_CTX_ctrl(self.ctx.as_ptr(), cmd, arg, p) };
        check(rc, CryptoError::Internal)
    }

    /// Re-arms a CTR context at a new 16-byte counter block (key kept).
    pub fn reset_ctr(&mut self, counter_block: &[u8; 16]) -> Result<()> {
        if self.kind != AesKind::Ctr {
            return Err(CryptoError::Internal);
        }
        // SAFETY: the context is a keyed CTR context whose IV length is 16, matching
        // `counter_block`; NULL cipher/key keep the current ones, enc -1 keeps direction.
        unsafe { self.init(ptr::null(), ptr::null(), counter_block.as_ptr(), -1) }
    }

    /// One `EVP_CipherUpdate` call on `chunk` (len <= MAX_CIPHER_CHUNK); returns bytes written.
    ///
    /// # Safety
    /// `out` must be NULL (GCM AAD) or writable for `chunk.len() + AES_BLOCK` bytes.
    unsafe fn update_raw(&mut self, out: *mut u8, chunk: &[u8]) -> Result<usize> {
        let (c, len) = (self.ctx.as_ptr(), c_int::try_from(chunk.len()));
        let len = len.map_err(|_| CryptoError::Internal)?;
        let mut outl: c_int = 0;
        // SAFETY: `out` satisfies the caller's guarantee (EVP writes at most
        // in_len + block_size bytes for AES); `chunk` is readable for `len` bytes.
        let rc = unsafe { sys::EVP_CipherUpdate(c, out, &mut outl, chunk.as_ptr(), len) };
        check(rc, CryptoError::Internal)?;
        usize::try_from(outl).map_err(|_| CryptoError::Internal)
    }

    /// Feeds GCM additional authenticated data.
    pub fn aad(&mut self, aad: &[u8]) -> Result<()> {
        if self.kind != AesKind::Gcm {
            return Err(CryptoError::Internal);
        }
        for chunk in aad.chunks(MAX_CIPHER_CHUNK) {
            // SAFETY: a NULL output makes GCM treat the input as AAD.
            unsafe { self.update_raw(ptr::null_mut(), chunk) }?;
        }
        Ok(())
    }

    /// `EVP_CipherUpdate`; returns the output produced.
    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(Vec::with_capacity(input.len() + AES_BLOCK));
        for chunk in input.chunks(MAX_CIPHER_CHUNK) {
            let start = out.len();
            let room = chunk.len() + AES_BLOCK;
            out.resize(start + room, 0);
            // SAFETY: `out[start..]` is writable for chunk.len() + AES_BLOCK bytes.
            let produced = unsafe { self.update_raw(out.as_mut_ptr().add(start), chunk) }?;
            out.truncate(start + produced.min(room));
        }
        Ok(out)
    }

    /// `EVP_CipherFinal_ex`; returns the final output (at most one block).
    pub fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; AES_BLOCK]);
        let mut outl: c_int = 0;
        // SAFETY: `out` is writable for one block, the most EVP_CipherFinal_ex writes.
        let rc = unsafe { sys::EVP_CipherFinal_ex(self.ctx.as_ptr(), out.as_mut_ptr(), &mut outl) };
        check(rc, CryptoError::Internal)?;
        let produced = usize::try_from(outl).map_err(|_| CryptoError::Internal)?;
        out.truncate(produced.min(AES_BLOCK));
        Ok(out)
    }

    /// Reads the GCM tag (after `finish` on an encrypting context), `len` in 1..=16.
    pub fn gcm_tag(&mut self, len: usize) -> Result<Vec<u8>> {
        if self.kind != AesKind::Gcm || !(1..=AES_BLOCK).contains(&len) {
            return Err(CryptoError::Internal);
        }
        let mut tag = vec![0u8; len];
        let (cmd, n) = (sys::EVP_CTRL_GCM_GET_TAG, len as c_int);
        // SAFETY: `tag` is writable for `len` (<= 16) bytes, as GET_TAG requires.
        unsafe { self.ctrl(cmd, n, tag.as_mut_ptr().cast()) }?;
        Ok(tag)
    }

    /// Sets the expected GCM tag (decrypting context, before `finish`), 1..=16 bytes.
    pub fn set_gcm_tag(&mut self, tag: &[u8]) -> Result<()> {
        if self.kind != AesKind::Gcm || !(1..=AES_BLOCK).contains(&tag.len()) {
            return Err(CryptoError::Internal);
        }
        let mut copy = tag.to_vec();
        let (cmd, n) = (sys::EVP_CTRL_GCM_SET_TAG, tag.len() as c_int);
        // SAFETY: `copy` is valid for tag.len() (<= 16) bytes; SET_TAG only reads it.
        unsafe { self.ctrl(cmd, n, copy.as_mut_ptr().cast()) }
    }
}
