//! The only module of the crypto layer that contains `unsafe` code.
//!
//! It exposes small RAII wrappers (their `Drop` frees the aws-lc object) around
//! aws-lc-sys objects — `BIGNUM`, `RSA`/`EVP_PKEY`, `EVP_PKEY_CTX`, `EC_KEY`,
//! `EVP_CIPHER_CTX` — with safe methods. Every call's return value is checked;
//! on failure aws-lc's thread-local error queue is cleared so no detail leaks
//! or accumulates, and an opaque [`CryptoError`] is returned.

use core::ffi::c_int;
use core::ptr::{self, null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::digest::DigestAlg;
use super::ec::Curve;
use super::rsa::RsaComponents;
use super::{CryptoError, Result};

/// Largest input handed to one `EVP_CipherUpdate` call (its length is a C `int`).
const MAX_CIPHER_CHUNK: usize = 1 << 28;
/// AES block size in bytes.
const AES_BLOCK: usize = 16;

/// Clears aws-lc's thread-local error queue.
fn clear_errors() {
    // SAFETY: ERR_clear_error has no preconditions; it only touches thread-local state.
    unsafe { sys::ERR_clear_error() }
}

/// Maps an aws-lc "1 on success" return code to a `Result`.
fn check(rc: c_int, err: CryptoError) -> Result<()> {
    if rc == 1 {
        Ok(())
    } else {
        clear_errors();
        Err(err)
    }
}

/// Maps a possibly-NULL pointer returned by aws-lc to a `Result`.
fn non_null<T>(p: *mut T, err: CryptoError) -> Result<NonNull<T>> {
    NonNull::new(p).ok_or_else(|| {
        clear_errors();
        err
    })
}

/// The static `EVP_MD` for a digest algorithm.
fn evp_md(alg: DigestAlg) -> *const sys::EVP_MD {
    // SAFETY: the EVP_sha* functions have no preconditions and return pointers to
    // static, immutable method tables that live for the whole program.
    unsafe {
        match alg {
            DigestAlg::Sha1 => sys::EVP_sha1(),
            DigestAlg::Sha224 => sys::EVP_sha224(),
            DigestAlg::Sha256 => sys::EVP_sha256(),
            DigestAlg::Sha384 => sys::EVP_sha384(),
            DigestAlg::Sha512 => sys::EVP_sha512(),
            DigestAlg::Sha512_224 => sys::EVP_sha512_224(),
            DigestAlg::Sha512_256 => sys::EVP_sha512_256(),
            DigestAlg::Sha3_224 => sys::EVP_sha3_224(),
            DigestAlg::Sha3_256 => sys::EVP_sha3_256(),
            DigestAlg::Sha3_384 => sys::EVP_sha3_384(),
            DigestAlg::Sha3_512 => sys::EVP_sha3_512(),
        }
    }
}

// ----- BIGNUM -----

/// Owned `BIGNUM` (private helper); cleared (`BN_clear_free`) on drop.
struct Bn(NonNull<sys::BIGNUM>);

impl Bn {
    /// Parses big-endian unsigned bytes (empty → zero).
    fn from_be_bytes(bytes: &[u8]) -> Result<Self> {
        // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes; with `ret` NULL
        // aws-lc allocates a fresh BIGNUM that we own from here on.
        let p = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), ptr::null_mut()) };
        non_null(p, CryptoError::Internal).map(Bn)
    }

    fn as_ptr(&self) -> *const sys::BIGNUM {
        self.0.as_ptr()
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: `self.0` is owned by us, valid, and freed exactly once here.
        unsafe { sys::BN_clear_free(self.0.as_ptr()) }
    }
}

/// Minimal big-endian bytes of a borrowed BIGNUM (NULL → empty).
///
/// # Safety
/// `bn` must be NULL or point to a valid BIGNUM that stays alive and unmodified
/// for the duration of the call.
unsafe fn bn_bytes(bn: *const sys::BIGNUM) -> Vec<u8> {
    if bn.is_null() {
        return Vec::new();
    }
    // SAFETY: guaranteed valid by the caller.
    let len = unsafe { sys::BN_num_bytes(bn) } as usize;
    let mut out = vec![0u8; len];
    // SAFETY: `out` is writable for exactly BN_num_bytes(bn) bytes, which is what
    // BN_bn2bin writes; `bn` is valid per the caller's guarantee.
    unsafe { sys::BN_bn2bin(bn, out.as_mut_ptr()) };
    out
}

/// Big-endian bytes of a borrowed BIGNUM left-padded to exactly `len` bytes.
///
/// # Safety
/// `bn` must be NULL or point to a valid BIGNUM that stays alive and unmodified
/// for the duration of the call.
unsafe fn bn_padded(bn: *const sys::BIGNUM, len: usize) -> Result<Zeroizing<Vec<u8>>> {
    if bn.is_null() {
        return Err(CryptoError::Internal);
    }
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: `out` is writable for `len` bytes; `bn` is valid per the caller.
    let rc = unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) };
    check(rc, CryptoError::Internal)?;
    Ok(out)
}

// ----- RSA -----

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

// ----- EC -----

fn curve_nid(curve: Curve) -> c_int {
    match curve {
        Curve::P256 => sys::NID_X9_62_prime256v1,
        Curve::P384 => sys::NID_secp384r1,
        Curve::P521 => sys::NID_secp521r1,
    }
}

/// Owned `EC_POINT` (private helper).
struct EcPoint(NonNull<sys::EC_POINT>);

impl Drop for EcPoint {
    fn drop(&mut self) {
        // SAFETY: owned by us and freed exactly once.
        unsafe { sys::EC_POINT_free(self.0.as_ptr()) }
    }
}

/// An EC key (private or public) on a named curve.
pub struct EcKey(NonNull<sys::EC_KEY>);

// SAFETY: the EC_KEY is exclusively owned and never mutated after construction;
// ECDSA_do_sign/ECDSA_do_verify and the accessors take `const EC_KEY *` and aws-lc
// allows concurrent non-mutating use. Freeing from another thread is fine.
unsafe impl Send for EcKey {}
// SAFETY: see `Send` — `&self` methods only call const, non-mutating aws-lc functions.
unsafe impl Sync for EcKey {}

impl Drop for EcKey {
    fn drop(&mut self) {
        // SAFETY: owned by us and freed exactly once (EC_KEY_free clears the scalar).
        unsafe { sys::EC_KEY_free(self.0.as_ptr()) }
    }
}

impl EcKey {
    fn new(curve: Curve) -> Result<Self> {
        // SAFETY: no preconditions; returns a fresh EC_KEY we own or NULL.
        let p = unsafe { sys::EC_KEY_new_by_curve_name(curve_nid(curve)) };
        non_null(p, CryptoError::Internal).map(EcKey)
    }

    fn group(&self) -> *const sys::EC_GROUP {
        // SAFETY: the key is valid; the group is static and owned by aws-lc.
        unsafe { sys::EC_KEY_get0_group(self.0.as_ptr()) }
    }

    fn new_point(&self) -> Result<EcPoint> {
        // SAFETY: the group pointer is valid (static for named curves).
        let p = unsafe { sys::EC_POINT_new(self.group()) };
        non_null(p, CryptoError::Internal).map(EcPoint)
    }

    /// Generates a fresh key pair.
    pub fn generate(curve: Curve) -> Result<Self> {
        let key = Self::new(curve)?;
        // SAFETY: the key is valid and exclusively owned during construction.
        check(
            unsafe { sys::EC_KEY_generate_key(key.0.as_ptr()) },
            CryptoError::Internal,
        )?;
        Ok(key)
    }

    /// Installs `point` as the public key and validates the key → `BadKey`.
    fn set_public(&self, point: &EcPoint) -> Result<()> {
        // SAFETY: key and point are valid; aws-lc copies the point.
        let rc = unsafe { sys::EC_KEY_set_public_key(self.0.as_ptr(), point.0.as_ptr()) };
        check(rc, CryptoError::BadKey)?;
        // SAFETY: the key is valid; EC_KEY_check_key is non-mutating.
        let rc = unsafe { sys::EC_KEY_check_key(self.0.as_ptr()) };
        check(rc, CryptoError::BadKey)
    }

    /// Builds a private key from scalar `d` (big-endian) and derives its public
    /// point. Zero or ≥ order → `BadKey`.
    pub fn from_private(curve: Curve, d: &[u8]) -> Result<Self> {
        let d = Bn::from_be_bytes(d)?;
        let key = Self::new(curve)?;
        // SAFETY: the key and `d` are valid; aws-lc copies `d` and range-checks it.
        let rc = unsafe { sys::EC_KEY_set_private_key(key.0.as_ptr(), d.as_ptr()) };
        check(rc, CryptoError::BadKey)?;
        let point = key.new_point()?;
        let (g, p) = (key.group(), point.0.as_ptr());
        // SAFETY: group, point and scalar are valid; the optional q/m/ctx may be NULL.
        let rc =
            unsafe { sys::EC_POINT_mul(g, p, d.as_ptr(), ptr::null(), ptr::null(), null_mut()) };
        check(rc, CryptoError::BadKey)?;
        key.set_public(&point)?;
        Ok(key)
    }

    /// Builds a public key from an X9.62 encoded point. Not on curve → `BadKey`.
    pub fn from_public_point(curve: Curve, encoded: &[u8]) -> Result<Self> {
        let key = Self::new(curve)?;
        let point = key.new_point()?;
        let (p, len) = (encoded.as_ptr(), encoded.len());
        // SAFETY: group and point are valid, `encoded` is readable for `len` bytes,
        // and a NULL BN_CTX is allowed.
        let rc = unsafe {
            sys::EC_POINT_oct2point(key.group(), point.0.as_ptr(), p, len, ptr::null_mut())
        };
        check(rc, CryptoError::BadKey)?;
        key.set_public(&point)?;
        Ok(key)
    }

    /// Private scalar, big-endian, left-padded to `len` bytes.
    pub fn private_scalar(&self, len: usize) -> Result<Zeroizing<Vec<u8>>> {
        // SAFETY: the key is valid; the returned pointer is owned by it (or NULL).
        let d = unsafe { sys::EC_KEY_get0_private_key(self.0.as_ptr()) };
        // SAFETY: `d` is NULL or owned by `self`, alive and unmodified for the call.
        unsafe { bn_padded(d, len) }
    }

    /// Public point in uncompressed form (04||X||Y), which must be `len` bytes long.
    pub fn public_point(&self, len: usize) -> Result<Vec<u8>> {
        // SAFETY: the key is valid; the returned pointer is owned by it (or NULL).
        let point = unsafe { sys::EC_KEY_get0_public_key(self.0.as_ptr()) };
        if point.is_null() {
            return Err(CryptoError::Internal);
        }
        let form = sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED;
        let mut out = vec![0u8; len];
        let (g, buf) = (self.group(), out.as_mut_ptr());
        // SAFETY: group and point are valid and `out` is writable for `len` bytes
        // (aws-lc fails rather than overflow if the encoding is longer).
        let written = unsafe { sys::EC_POINT_point2oct(g, point, form, buf, len, ptr::null_mut()) };
        if written != len {
            clear_errors();
            return Err(CryptoError::Internal);
        }
        Ok(out)
    }

    /// ECDSA over a pre-computed hash (truncated by aws-lc as FIPS 186 says);
    /// returns r||s, each left-padded to `field_len`.
    pub fn sign_hash(&self, hash: &[u8], field_len: usize) -> Result<Vec<u8>> {
        // SAFETY: `hash` is readable for its length and the key is valid.
        let sig = unsafe { sys::ECDSA_do_sign(hash.as_ptr(), hash.len(), self.0.as_ptr()) };
        let sig = EcdsaSig(non_null(sig, CryptoError::Internal)?);
        let mut r: *const sys::BIGNUM = ptr::null();
        let mut s: *const sys::BIGNUM = ptr::null();
        // SAFETY: `sig` is valid; the out-pointers are valid locals.
        unsafe { sys::ECDSA_SIG_get0(sig.0.as_ptr(), &mut r, &mut s) };
        // SAFETY: r and s are NULL or owned by `sig`, which outlives these calls.
        let (r, s) = unsafe { (bn_padded(r, field_len)?, bn_padded(s, field_len)?) };
        let mut out = Vec::with_capacity(2 * field_len);
        out.extend_from_slice(&r);
        out.extend_from_slice(&s);
        Ok(out)
    }

    /// ECDSA verification of (r, s) over a hash; mismatch → `BadSignature`.
    pub fn verify_hash(&self, hash: &[u8], r: &[u8], s: &[u8]) -> Result<()> {
        // SAFETY: ECDSA_SIG_new has no preconditions.
        let sig = EcdsaSig(non_null(
            unsafe { sys::ECDSA_SIG_new() },
            CryptoError::Internal,
        )?);
        let r = Bn::from_be_bytes(r)?;
        let s = Bn::from_be_bytes(s)?;
        // SAFETY: all pointers are valid; on success `sig` takes ownership of r and s.
        let rc = unsafe { sys::ECDSA_SIG_set0(sig.0.as_ptr(), r.0.as_ptr(), s.0.as_ptr()) };
        check(rc, CryptoError::Internal)?;
        // Ownership moved into `sig`: do not free them again.
        core::mem::forget(r);
        core::mem::forget(s);
        // SAFETY: `hash` is readable for its length; `sig` and the key are valid.
        let rc = unsafe {
            sys::ECDSA_do_verify(hash.as_ptr(), hash.len(), sig.0.as_ptr(), self.0.as_ptr())
        };
        check(rc, CryptoError::BadSignature)
    }
}

/// Owned `ECDSA_SIG` (private helper).
struct EcdsaSig(NonNull<sys::ECDSA_SIG>);

impl Drop for EcdsaSig {
    fn drop(&mut self) {
        // SAFETY: owned by us and freed exactly once (also frees r and s).
        unsafe { sys::ECDSA_SIG_free(self.0.as_ptr()) }
    }
}

// ----- AES (EVP_CIPHER_CTX) -----

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

// ----- AES key wrap (RFC 3394, RFC 5649) -----

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

// ----- Digests and HMAC (EVP_MD_CTX, HMAC_CTX) -----

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

// ----- Key files: PKCS#12 and encrypted PKCS#8 (`keyward key import`) -----

/// An `EVP_PKEY` parsed from a key file, freed on drop.
struct FileKey(NonNull<sys::EVP_PKEY>);

impl Drop for FileKey {
    fn drop(&mut self) {
        // SAFETY: `self.0` is owned by us and freed exactly once here.
        unsafe { sys::EVP_PKEY_free(self.0.as_ptr()) }
    }
}

impl FileKey {
    fn new(p: *mut sys::EVP_PKEY) -> Result<Self> {
        non_null(p, CryptoError::BadKey).map(FileKey)
    }

    /// PKCS#8 PrivateKeyInfo (DER).
    fn private_der(&self) -> Result<Zeroizing<Vec<u8>>> {
        // SAFETY: `cbb` is an initialised CBB (see `marshal`); the key is valid.
        marshal(|cbb| unsafe { sys::EVP_marshal_private_key(cbb, self.0.as_ptr()) })
    }

    /// SubjectPublicKeyInfo (DER).
    fn public_der(&self) -> Result<Vec<u8>> {
        // SAFETY: as in `private_der`.
        marshal(|cbb| unsafe { sys::EVP_marshal_public_key(cbb, self.0.as_ptr()) })
            .map(|der| der.to_vec())
    }
}

/// A `CBS` reading `bytes` (which must outlive it).
fn cbs(bytes: &[u8]) -> sys::CBS {
    let mut c = core::mem::MaybeUninit::<sys::CBS>::zeroed();
    // SAFETY: CBS_init only stores the pointer and length in the (writable) struct;
    // afterwards every field is initialised.
    unsafe {
        sys::CBS_init(c.as_mut_ptr(), bytes.as_ptr(), bytes.len());
        c.assume_init()
    }
}

/// The bytes `write` puts into a fresh `CBB` (zeroized: they may be a private key).
fn marshal(write: impl FnOnce(*mut sys::CBB) -> c_int) -> Result<Zeroizing<Vec<u8>>> {
    let mut cbb = core::mem::MaybeUninit::<sys::CBB>::zeroed();
    // SAFETY: a zeroed CBB is the state CBB_init expects; it allocates its buffer.
    check(
        unsafe { sys::CBB_init(cbb.as_mut_ptr(), 256) },
        CryptoError::Internal,
    )?;
    let mut data: *mut u8 = null_mut();
    let mut len = 0usize;
    // SAFETY: the CBB was initialised above; on success CBB_finish hands its buffer to us
    // (freed below), on failure CBB_cleanup frees it.
    let ok = write(cbb.as_mut_ptr()) == 1
        && unsafe { sys::CBB_finish(cbb.as_mut_ptr(), &mut data, &mut len) } == 1;
    if !ok {
        // SAFETY: the CBB is initialised and not finished.
        unsafe { sys::CBB_cleanup(cbb.as_mut_ptr()) };
        clear_errors();
        return Err(CryptoError::BadKey);
    }
    // SAFETY: CBB_finish returned `len` readable bytes at `data`, which we own; they are
    // copied, cleansed and freed exactly once.
    unsafe {
        let out = Zeroizing::new(core::slice::from_raw_parts(data, len).to_vec());
        sys::OPENSSL_cleanse(data.cast(), len);
        sys::OPENSSL_free(data.cast());
        Ok(out)
    }
}

/// `password` with a terminating NUL, for aws-lc's C-string password arguments. A password
/// containing NUL cannot be passed: `BadParameter`.
fn c_password(password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if password.contains(&0) {
        return Err(CryptoError::BadParameter);
    }
    let mut p = Zeroizing::new(Vec::with_capacity(password.len() + 1));
    p.extend_from_slice(password);
    p.push(0);
    Ok(p)
}

/// What a PKCS#12 file holds: its private key (PKCS#8 DER), if any, and its certificates
/// (DER, in file order).
pub type Pkcs12Contents = (Option<Zeroizing<Vec<u8>>>, Vec<Vec<u8>>);

/// The contents of a PKCS#12 file. A wrong password or a malformed file: `BadKey`.
pub fn pkcs12_open(der: &[u8], password: &[u8]) -> Result<Pkcs12Contents> {
    let password = c_password(password)?;
    // SAFETY: no preconditions; the stack is freed below.
    let stack = non_null(unsafe { sys::OPENSSL_sk_new_null() }, CryptoError::Internal)?;
    let mut key: *mut sys::EVP_PKEY = null_mut();
    let mut input = cbs(der);
    // SAFETY: `key` and `input` are valid for writes, `der` outlives `input`, `stack` is an
    // empty stack that aws-lc fills with X509 pointers we then own, `password` is
    // NUL-terminated.
    let rc = unsafe {
        sys::PKCS12_get_key_and_certs(
            &mut key,
            stack.as_ptr().cast(),
            &mut input,
            password.as_ptr().cast(),
        )
    };
    let mut certs = Vec::new();
    // SAFETY: `stack` is valid; each element is an X509 we own, encoded then freed once.
    unsafe {
        for i in 0..sys::OPENSSL_sk_num(stack.as_ptr()) {
            let x509 = sys::OPENSSL_sk_value(stack.as_ptr(), i).cast::<sys::X509>();
            let len = sys::i2d_X509(x509, null_mut());
            if len > 0 {
                let mut der = vec![0u8; len as usize];
                let mut out = der.as_mut_ptr();
                if sys::i2d_X509(x509, &mut out) == len {
                    certs.push(der);
                }
            }
            sys::X509_free(x509);
        }
        sys::OPENSSL_sk_free(stack.as_ptr());
    }
    if rc != 1 {
        if !key.is_null() {
            // SAFETY: a key returned despite the failure is ours to free.
            unsafe { sys::EVP_PKEY_free(key) };
        }
        clear_errors();
        return Err(CryptoError::BadKey);
    }
    let private = match NonNull::new(key) {
        Some(k) => Some(FileKey(k).private_der()?),
        None => None,
    };
    Ok((private, certs))
}

/// An EncryptedPrivateKeyInfo (DER) decrypted to PKCS#8 PrivateKeyInfo (DER). A wrong
/// password or a malformed structure: `BadKey`.
pub fn pkcs8_decrypt(der: &[u8], password: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let mut input = cbs(der);
    // SAFETY: `input` reads `der`, which outlives the call; the password pointer and length
    // describe a readable buffer; the returned key (if any) is ours.
    let key = unsafe {
        sys::PKCS8_parse_encrypted_private_key(&mut input, password.as_ptr().cast(), password.len())
    };
    FileKey::new(key)?.private_der()
}

/// The SubjectPublicKeyInfo (DER) of the private key in a PKCS#8 PrivateKeyInfo (DER).
pub fn pkcs8_public_key(der: &[u8]) -> Result<Vec<u8>> {
    let mut input = cbs(der);
    // SAFETY: `input` reads `der`, which outlives the call; the returned key is ours.
    let key = unsafe { sys::EVP_parse_private_key(&mut input) };
    FileKey::new(key)?.public_der()
}
