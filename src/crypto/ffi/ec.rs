//! EC keys (`EC_KEY`, `EC_POINT`), ECDSA and ECDH.

use super::*;

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
