//! Key files: PKCS#12 and encrypted PKCS#8 (`keyward key import`).

use super::*;

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
