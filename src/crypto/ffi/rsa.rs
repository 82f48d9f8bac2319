//! RSA keys (`RSA`, `EVP_PKEY`) and their operations through `EVP_PKEY_CTX`.

use super::*;

/// An RSA key (public or private) held in an `EVP_PKEY`.
pub struct RsaKey {
    pkey: NonNull<sys::EVP_PKEY>,
    /// Borrowed from `pkey`, which owns it; valid as long as `pkey` is.
    rsa: NonNull<sys::RSA>,
}

// SAFETY: the EVP_PKEY/RSA are exclusively owned by this wrapper and never mutated
// after construction. aws-lc documents that an RSA object may be used concurrently
// by non-mutating functions; its lazily-built caches (Montgomery contexts, blinding)
// are guarded by the RSA's internal lock, and EVP_PKEY reference counts (taken by
// EVP_PKEY_CTX_new) are atomic. Freeing from another thread is therefore fine.
unsafe impl Send for RsaKey {}
// SAFETY: see the `Send` impl — all `&self` methods only perform operations that
// aws-lc allows concurrently on a constructed key (sign/verify/encrypt/decrypt
// through per-call EVP_PKEY_CTXs, and const accessors).
unsafe impl Sync for RsaKey {}

impl Drop for RsaKey {
    fn drop(&mut self) {
        // SAFETY: `pkey` is owned by us and freed exactly once; it also frees `rsa`.
        unsafe { sys::EVP_PKEY_free(self.pkey.as_ptr()) }
    }
}

impl RsaKey {
    /// Takes ownership of a (possibly NULL) freshly created `RSA`; wraps it in an `EVP_PKEY`.
    fn from_rsa(rsa: *mut sys::RSA, null_err: CryptoError) -> Result<Self> {
        let rsa = non_null(rsa, null_err)?;
        // SAFETY: EVP_PKEY_new has no preconditions.
        let pkey = unsafe { sys::EVP_PKEY_new() };
        // SAFETY: if non-NULL, both pointers are valid and `pkey` takes ownership of
        // `rsa` on success (EVP_PKEY_assign_RSA only fails for a NULL key).
        if pkey.is_null() || unsafe { sys::EVP_PKEY_assign_RSA(pkey, rsa.as_ptr()) } != 1 {
            // SAFETY: ownership was not transferred; both are ours (EVP_PKEY_free
            // accepts NULL) and freed exactly once.
            unsafe {
                sys::RSA_free(rsa.as_ptr());
                sys::EVP_PKEY_free(pkey);
            }
            clear_errors();
            return Err(CryptoError::Internal);
        }
        let pkey = non_null(pkey, CryptoError::Internal)?;
        Ok(RsaKey { pkey, rsa })
    }

    /// Public key from big-endian n and e. Rejected by aws-lc (even n, e even or
    /// < 3 or over 33 bits, n over 16384 bits) → `BadKey`.
    pub fn new_public(n: &[u8], e: &[u8]) -> Result<Self> {
        let (n, e) = (Bn::from_be_bytes(n)?, Bn::from_be_bytes(e)?);
        // SAFETY: `n` and `e` are valid BIGNUMs; aws-lc copies them.
        let rsa = unsafe { sys::RSA_new_public_key(n.as_ptr(), e.as_ptr()) };
        Self::from_rsa(rsa, CryptoError::BadKey)
    }

    /// Private key from `c` (with its CRT values when `with_crt`, else n, e, d only).
    /// aws-lc runs `RSA_check_key` (with CRT: n = pq, ed ≡ 1, CRT values) → `BadKey`.
    pub fn new_private(c: &RsaComponents, with_crt: bool) -> Result<Self> {
        let bn = Bn::from_be_bytes;
        let (n, e, d) = (bn(&c.n)?, bn(&c.e)?, bn(&c.d)?);
        let rsa = if with_crt {
            let (p, q) = (bn(&c.p)?, bn(&c.q)?);
            let (dp, dq, qi) = (bn(&c.dp)?, bn(&c.dq)?, bn(&c.qinv)?);
            // SAFETY: all BIGNUMs are valid for the call; aws-lc copies them.
            unsafe {
                sys::RSA_new_private_key(
                    n.as_ptr(),
                    e.as_ptr(),
                    d.as_ptr(),
                    p.as_ptr(),
                    q.as_ptr(),
                    dp.as_ptr(),
                    dq.as_ptr(),
                    qi.as_ptr(),
                )
            }
        } else {
            // SAFETY: all BIGNUMs are valid for the call; aws-lc copies them.
            unsafe { sys::RSA_new_private_key_no_crt(n.as_ptr(), e.as_ptr(), d.as_ptr()) }
        };
        Self::from_rsa(rsa, CryptoError::BadKey)
    }

    /// Generates a key of `bits` (aws-lc rounds down to a multiple of 128) with
    /// big-endian exponent `e`. Failure → `BadKey`.
    pub fn generate(bits: u32, e: &[u8]) -> Result<Self> {
        let bits = c_int::try_from(bits).map_err(|_| CryptoError::BadKey)?;
        let e = Bn::from_be_bytes(e)?;
        // SAFETY: RSA_new has no preconditions.
        let rsa = non_null(unsafe { sys::RSA_new() }, CryptoError::Internal)?;
        // SAFETY: `rsa` is a fresh RSA we exclusively own, `e` is valid, and a NULL
        // callback is allowed.
        let rc =
            unsafe { sys::RSA_generate_key_ex(rsa.as_ptr(), bits, e.as_ptr(), ptr::null_mut()) };
        if rc != 1 {
            // SAFETY: `rsa` is still exclusively ours and freed exactly once.
            unsafe { sys::RSA_free(rsa.as_ptr()) };
            clear_errors();
            return Err(CryptoError::BadKey);
        }
        Self::from_rsa(rsa.as_ptr(), CryptoError::Internal)
    }

    /// Modulus length in bytes (k).
    pub fn size(&self) -> usize {
        // SAFETY: `rsa` is valid while `self` lives; RSA_size is non-mutating.
        unsafe { sys::RSA_size(self.rsa.as_ptr()) as usize }
    }

    /// Modulus length in bits.
    pub fn bits(&self) -> u32 {
        // SAFETY: `rsa` is valid while `self` lives; RSA_bits is non-mutating.
        unsafe { sys::RSA_bits(self.rsa.as_ptr()) }
    }

    /// Exports all components as minimal big-endian bytes (absent ones empty).
    pub fn export(&self) -> RsaComponents {
        let mut v: [*const sys::BIGNUM; 8] = [ptr::null(); 8];
        let r = self.rsa.as_ptr();
        let [n, e, d, p, q, dp, dq, qi] = &mut v;
        // SAFETY: `rsa` is valid; every out-pointer is a valid local slot.
        unsafe {
            sys::RSA_get0_key(r, n, e, d);
            sys::RSA_get0_factors(r, p, q);
            sys::RSA_get0_crt_params(r, dp, dq, qi);
        }
        // SAFETY: each pointer is NULL or owned by `self.rsa`, which outlives these
        // calls and is not modified.
        unsafe {
            RsaComponents {
                n: bn_bytes(v[0]),
                e: bn_bytes(v[1]),
                d: bn_bytes(v[2]),
                p: bn_bytes(v[3]),
                q: bn_bytes(v[4]),
                dp: bn_bytes(v[5]),
                dq: bn_bytes(v[6]),
                qinv: bn_bytes(v[7]),
            }
        }
    }

    /// A fresh operation context initialised for `op`, with padding `pad`.
    pub fn ctx(&self, op: PkeyOp, pad: RsaPad) -> Result<PkeyCtx> {
        // SAFETY: `pkey` is valid; EVP_PKEY_CTX_new takes its own reference to it.
        let p = unsafe { sys::EVP_PKEY_CTX_new(self.pkey.as_ptr(), ptr::null_mut()) };
        let ctx = PkeyCtx(non_null(p, CryptoError::Internal)?);
        let c = ctx.0.as_ptr();
        let pad = match pad {
            RsaPad::Pkcs1 => sys::RSA_PKCS1_PADDING,
            RsaPad::Pss => sys::RSA_PKCS1_PSS_PADDING,
            RsaPad::Oaep => sys::RSA_PKCS1_OAEP_PADDING,
            RsaPad::None => sys::RSA_NO_PADDING,
        };
        // SAFETY: `c` is a valid, freshly created context.
        let rc = unsafe {
            match op {
                PkeyOp::Sign => sys::EVP_PKEY_sign_init(c),
                PkeyOp::Verify => sys::EVP_PKEY_verify_init(c),
                PkeyOp::Encrypt => sys::EVP_PKEY_encrypt_init(c),
                PkeyOp::Decrypt => sys::EVP_PKEY_decrypt_init(c),
            }
        };
        check(rc, CryptoError::Internal)?;
        // SAFETY: `c` is a valid, initialised context.
        check(
            unsafe { sys::EVP_PKEY_CTX_set_rsa_padding(c, pad) },
            CryptoError::Internal,
        )?;
        Ok(ctx)
    }
}

/// Operation a [`PkeyCtx`] is initialised for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkeyOp {
    /// `EVP_PKEY_sign`.
    Sign,
    /// `EVP_PKEY_verify`.
    Verify,
    /// `EVP_PKEY_encrypt`.
    Encrypt,
    /// `EVP_PKEY_decrypt`.
    Decrypt,
}

/// RSA padding modes of an `EVP_PKEY_CTX`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RsaPad {
    /// PKCS#1 v1.5 (signature or encryption).
    Pkcs1,
    /// RSASSA-PSS.
    Pss,
    /// RSAES-OAEP.
    Oaep,
    /// No padding (raw RSA).
    None,
}

/// Which digest parameter of a [`PkeyCtx`] to set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MdRole {
    /// Signature hash (PKCS#1 v1.5 DigestInfo / PSS).
    Signature,
    /// MGF1 hash (PSS / OAEP).
    Mgf1,
    /// OAEP label hash.
    Oaep,
}

/// Signature shared by `EVP_PKEY_sign`, `EVP_PKEY_encrypt` and `EVP_PKEY_decrypt`.
type PkeyFn =
    unsafe extern "C" fn(*mut sys::EVP_PKEY_CTX, *mut u8, *mut usize, *const u8, usize) -> c_int;

/// Owned `EVP_PKEY_CTX` for one RSA operation.
pub struct PkeyCtx(NonNull<sys::EVP_PKEY_CTX>);

impl Drop for PkeyCtx {
    fn drop(&mut self) {
        // SAFETY: owned by us, freed exactly once (this also frees any OAEP label
        // and drops the context's reference to the EVP_PKEY).
        unsafe { sys::EVP_PKEY_CTX_free(self.0.as_ptr()) }
    }
}

impl PkeyCtx {
    /// Sets one of the digest parameters.
    pub fn set_md(&mut self, role: MdRole, alg: DigestAlg) -> Result<()> {
        let (c, md) = (self.0.as_ptr(), evp_md(alg));
        // SAFETY: the context is valid and exclusively borrowed; the EVP_MD is static.
        let rc = unsafe {
            match role {
                MdRole::Signature => sys::EVP_PKEY_CTX_set_signature_md(c, md),
                MdRole::Mgf1 => sys::EVP_PKEY_CTX_set_rsa_mgf1_md(c, md),
                MdRole::Oaep => sys::EVP_PKEY_CTX_set_rsa_oaep_md(c, md),
            }
        };
        check(rc, CryptoError::Internal)
    }

    /// Sets an exact PSS salt length. Too large for a C int → `BadParameter`.
    pub fn set_pss_saltlen(&mut self, len: usize) -> Result<()> {
        let len = c_int::try_from(len).map_err(|_| CryptoError::BadParameter)?;
        // SAFETY: the context is valid and exclusively borrowed.
        check(
            unsafe { sys::EVP_PKEY_CTX_set_rsa_pss_saltlen(self.0.as_ptr(), len) },
            CryptoError::BadParameter,
        )
    }

    /// Sets the OAEP label (context must use OAEP padding). Empty → no-op.
    pub fn set_oaep_label(&mut self, label: &[u8]) -> Result<()> {
        if label.is_empty() {
            return Ok(());
        }
        // SAFETY: OPENSSL_malloc has no preconditions.
        let buf = unsafe { sys::OPENSSL_malloc(label.len()) }.cast::<u8>();
        let buf = non_null(buf, CryptoError::Internal)?;
        // SAFETY: `buf` is a fresh allocation of `label.len()` bytes that cannot
        // overlap `label`.
        unsafe { ptr::copy_nonoverlapping(label.as_ptr(), buf.as_ptr(), label.len()) };
        // SAFETY: the context is valid; on success it takes ownership of `buf`
        // (an OPENSSL_malloc'd buffer, freed later with OPENSSL_free).
        let rc = unsafe {
            sys::EVP_PKEY_CTX_set0_rsa_oaep_label(self.0.as_ptr(), buf.as_ptr(), label.len())
        };
        if rc != 1 {
            // SAFETY: on failure ownership stayed with us; `buf` came from OPENSSL_malloc.
            unsafe { sys::OPENSSL_free(buf.as_ptr().cast()) };
            clear_errors();
            return Err(CryptoError::Internal);
        }
        Ok(())
    }

    /// Runs `f` (sign/encrypt/decrypt) into a zeroizing buffer of `max_out` bytes.
    fn run(&mut self, f: PkeyFn, input: &[u8], max_out: usize) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; max_out]);
        let mut len = out.len();
        // SAFETY: `f` is one of EVP_PKEY_{sign,encrypt,decrypt}; `out` is writable for
        // `len` bytes (the capacity we report), `input` is readable for its length,
        // and the context is valid and initialised for that operation.
        let rc = unsafe {
            f(
                self.0.as_ptr(),
                out.as_mut_ptr(),
                &mut len,
                input.as_ptr(),
                input.len(),
            )
        };
        check(rc, CryptoError::Internal)?;
        out.truncate(len.min(max_out));
        Ok(out)
    }

    /// `EVP_PKEY_sign` with an output buffer of `max_out` bytes.
    pub fn sign(&mut self, input: &[u8], max_out: usize) -> Result<Vec<u8>> {
        Ok(self.run(sys::EVP_PKEY_sign, input, max_out)?.to_vec())
    }

    /// `EVP_PKEY_encrypt` with an output buffer of `max_out` bytes.
    pub fn encrypt(&mut self, input: &[u8], max_out: usize) -> Result<Vec<u8>> {
        Ok(self.run(sys::EVP_PKEY_encrypt, input, max_out)?.to_vec())
    }

    /// `EVP_PKEY_decrypt` with a zeroizing output buffer of `max_out` bytes.
    pub fn decrypt(&mut self, input: &[u8], max_out: usize) -> Result<Zeroizing<Vec<u8>>> {
        self.run(sys::EVP_PKEY_decrypt, input, max_out)
    }

    /// `EVP_PKEY_verify`; any failure → `BadSignature`.
    pub fn verify(&mut self, sig: &[u8], input: &[u8]) -> Result<()> {
        let c = self.0.as_ptr();
        // SAFETY: both slices are readable for their lengths; the context is valid.
        let rc = unsafe {
            sys::EVP_PKEY_verify(c, sig.as_ptr(), sig.len(), input.as_ptr(), input.len())
        };
        check(rc, CryptoError::BadSignature)
    }
}
