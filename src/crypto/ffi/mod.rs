//! The only module of the crypto layer that contains `unsafe` code.
//!
//! It exposes small RAII wrappers (their `Drop` frees the aws-lc object) around
//! aws-lc-sys objects — `BIGNUM`, `RSA`/`EVP_PKEY`, `EVP_PKEY_CTX`, `EC_KEY`,
//! `EVP_CIPHER_CTX` — with safe methods. Every call's return value is checked;
//! on failure aws-lc's thread-local error queue is cleared so no detail leaks
//! or accumulates, and an opaque [`CryptoError`] is returned.
//!
//! One file per family of aws-lc objects (rsa, ec, cipher, keywrap, digest, keyfile); this
//! one holds what they share: error-queue handling, `BIGNUM`, the digest method tables.

use core::ffi::c_int;
use core::ptr::{self, null_mut, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::digest::DigestAlg;
use super::ec::Curve;
use super::rsa::RsaComponents;
use super::{CryptoError, Result};

mod cipher;
mod digest;
mod ec;
mod keyfile;
mod keywrap;
mod rsa;

pub use cipher::*;
pub use digest::*;
pub use ec::*;
pub use keyfile::*;
pub use keywrap::*;
pub use rsa::*;

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
