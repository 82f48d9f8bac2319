//! Pointer → value conversions for the C_* shims: NULL and length checks live here, once.
//!
//! Every function is `unsafe`: the caller (a C_* shim) passes pointers it received from
//! the application, which PKCS#11 requires to be valid for the lengths given with them.

use std::ffi::c_void;
use std::mem::size_of;
use std::ptr;

use cryptoki_sys::*;

use crate::error::{Error, Result};
use crate::mechanism::{MechanismRequest, Param};
use crate::object::Attributes;
use crate::session::Out;

/// A byte string the caller passed in (`len` bytes at `p`); NULL is accepted when `len` is 0.
pub(super) unsafe fn bytes<'a>(p: *const u8, len: CK_ULONG) -> Result<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: the application guarantees `p` points to `len` readable bytes (PKCS#11 §5).
    Ok(unsafe { std::slice::from_raw_parts(p, len as usize) })
}

/// A mutable byte buffer the caller passed in.
pub(super) unsafe fn bytes_mut<'a>(p: *mut u8, len: CK_ULONG) -> Result<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: the application guarantees `p` points to `len` writable bytes.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, len as usize) })
}

/// An output location; CKR_ARGUMENTS_BAD for NULL.
pub(super) unsafe fn out<'a, T>(p: *mut T) -> Result<&'a mut T> {
    // SAFETY: non-NULL output pointers from the application point to a writable T.
    unsafe { p.as_mut() }.ok_or(Error::ArgumentsBad)
}

/// The capacity of an output buffer (None for a NULL buffer: a size query).
pub(super) unsafe fn capacity(buf: *mut u8, len: *mut CK_ULONG) -> Result<Option<usize>> {
    // SAFETY: forwarded contract of `out`.
    let len = unsafe { out(len) }?;
    Ok((!buf.is_null()).then_some(*len as usize))
}

/// Deliver an [`Out`] into the caller's buffer and length, per the two-call convention.
pub(super) unsafe fn deliver(result: Out, buf: *mut u8, len: *mut CK_ULONG) -> Result<()> {
    // SAFETY: forwarded contract of `out`.
    let len = unsafe { out(len) }?;
    match result {
        Out::Size(n) => *len = n as CK_ULONG,
        Out::TooSmall(n) => {
            *len = n as CK_ULONG;
            return Err(Error::BufferTooSmall);
        }
        Out::Data(data) => {
            if !data.is_empty() {
                // SAFETY: `produce` checked that the caller's capacity (*len) holds `data`,
                // and `buf` is non-NULL whenever a capacity was given.
                unsafe { ptr::copy_nonoverlapping(data.as_ptr(), buf, data.len()) };
            }
            *len = data.len() as CK_ULONG;
        }
    }
    Ok(())
}

/// Two-call delivery of a list of CK_ULONG-sized items (slot ids, mechanisms, handles).
pub(super) unsafe fn deliver_list(
    items: &[CK_ULONG],
    p: *mut CK_ULONG,
    count: *mut CK_ULONG,
) -> Result<()> {
    // SAFETY: forwarded contract of `out`.
    let count = unsafe { out(count) }?;
    if p.is_null() {
        *count = items.len() as CK_ULONG;
        return Ok(());
    }
    let cap = *count as usize;
    *count = items.len() as CK_ULONG;
    if cap < items.len() {
        return Err(Error::BufferTooSmall);
    }
    // SAFETY: `p` holds `cap` >= items.len() elements (the caller's count).
    unsafe { ptr::copy_nonoverlapping(items.as_ptr(), p, items.len()) };
    Ok(())
}

/// Copy a caller's template into an attribute set. CKR_ARGUMENTS_BAD for a NULL template
/// with a non-zero count or a NULL value with a non-zero length.
pub(super) unsafe fn template(p: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Attributes> {
    if count == 0 {
        return Ok(Attributes::new());
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: forwarded contract.
    Attributes::from_pairs(unsafe { pairs(p, count, true) }?)
}

/// The (type, value) pairs of `count` CK_ATTRIBUTEs at `p` (non-NULL). An attribute array
/// of CK_ATTRIBUTE (the template attributes, one level deep) is read and stored as
/// `attr::encode_template`.
///
/// # Safety
/// `p` points to `count` CK_ATTRIBUTEs whose pValue point to ulValueLen bytes each.
unsafe fn pairs(
    p: *const CK_ATTRIBUTE,
    count: CK_ULONG,
    arrays_allowed: bool,
) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>> {
    // SAFETY: the application passes `count` CK_ATTRIBUTEs at `p`.
    let attrs = unsafe { std::slice::from_raw_parts(p, count as usize) };
    let mut out = Vec::with_capacity(attrs.len());
    for a in attrs {
        if !crate::object::attr::is_template(a.type_) {
            // SAFETY: each pValue points to ulValueLen bytes.
            let value = unsafe { bytes(a.pValue as *const u8, a.ulValueLen) }?;
            out.push((a.type_, value.to_vec()));
            continue;
        }
        let size = size_of::<CK_ATTRIBUTE>();
        let n = a.ulValueLen as usize / size;
        if !arrays_allowed || !(a.ulValueLen as usize).is_multiple_of(size) {
            return Err(Error::AttributeValueInvalid);
        }
        let nested = if n == 0 {
            Vec::new()
        } else if a.pValue.is_null() {
            return Err(Error::AttributeValueInvalid);
        } else {
            // SAFETY: pValue holds ulValueLen / sizeof(CK_ATTRIBUTE) nested attributes.
            unsafe { pairs(a.pValue as *const CK_ATTRIBUTE, n as CK_ULONG, false) }?
        };
        out.push((a.type_, crate::object::attr::encode_template(&nested)));
    }
    Ok(out)
}

/// The caller's CK_ATTRIBUTE array for C_GetAttributeValue, writable.
pub(super) unsafe fn attributes_mut<'a>(
    p: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> Result<&'a mut [CK_ATTRIBUTE]> {
    if count == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Error::ArgumentsBad);
    }
    // SAFETY: the application passes `count` writable CK_ATTRIBUTEs at `p`.
    Ok(unsafe { std::slice::from_raw_parts_mut(p, count as usize) })
}

/// Read a parameter struct of type T if the length matches exactly.
unsafe fn param_struct<T>(p: *const c_void, len: CK_ULONG) -> Result<T> {
    if p.is_null() || len as usize != size_of::<T>() {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: `p` points to `len` == size_of::<T>() bytes; unaligned reads are allowed.
    Ok(unsafe { ptr::read_unaligned(p as *const T) })
}

/// CK_GCM_PARAMS as some applications still pass it (without ulIvBits, PKCS#11 2.40 errata).
#[repr(C)]
#[derive(Clone, Copy)]
struct GcmParamsNoBits {
    p_iv: *mut u8,
    iv_len: CK_ULONG,
    p_aad: *mut u8,
    aad_len: CK_ULONG,
    tag_bits: CK_ULONG,
}

unsafe fn gcm(p: *const c_void, len: CK_ULONG) -> Result<Param> {
    let (iv, iv_len, iv_bits, aad, aad_len, tag_bits) =
        if len as usize == size_of::<GcmParamsNoBits>() {
            // SAFETY: length checked by param_struct.
            let g: GcmParamsNoBits = unsafe { param_struct(p, len) }?;
            (
                g.p_iv,
                g.iv_len,
                g.iv_len * 8,
                g.p_aad,
                g.aad_len,
                g.tag_bits,
            )
        } else {
            // SAFETY: length checked by param_struct.
            let g: CK_GCM_PARAMS = unsafe { param_struct(p, len) }?;
            (
                g.pIv,
                g.ulIvLen,
                g.ulIvBits,
                g.pAAD,
                g.ulAADLen,
                g.ulTagBits,
            )
        };
    // SAFETY: the struct's pointers describe caller memory of the given lengths.
    let iv = unsafe { param_bytes(iv, iv_len) }?;
    // SAFETY: as above.
    let aad = unsafe { param_bytes(aad, aad_len) }?;
    Ok(Param::Gcm {
        iv,
        iv_bits,
        aad,
        tag_bits,
    })
}

/// Bytes a mechanism parameter struct points to; CKR_MECHANISM_PARAM_INVALID for a NULL
/// pointer with a non-zero length.
///
/// # Safety
/// `p` is NULL or points to `len` readable bytes.
unsafe fn param_bytes(p: *const u8, len: CK_ULONG) -> Result<Vec<u8>> {
    // SAFETY: forwarded contract.
    unsafe { bytes(p, len) }
        .map(<[u8]>::to_vec)
        .map_err(|_| Error::MechanismParamInvalid)
}

/// CK_ECDH1_DERIVE_PARAMS.
unsafe fn ecdh(p: *const c_void, len: CK_ULONG) -> Result<Param> {
    // SAFETY: length checked by param_struct.
    let s: CK_ECDH1_DERIVE_PARAMS = unsafe { param_struct(p, len) }?;
    Ok(Param::Ecdh {
        kdf: s.kdf,
        // SAFETY: the struct's pointers describe caller memory of the given lengths.
        shared_data: unsafe { param_bytes(s.pSharedData, s.ulSharedDataLen) }?,
        // SAFETY: as above.
        public_data: unsafe { param_bytes(s.pPublicData, s.ulPublicDataLen) }?,
    })
}

/// CK_HKDF_PARAMS (a salt given as a key handle is refused by the mechanism).
unsafe fn hkdf(p: *const c_void, len: CK_ULONG) -> Result<Param> {
    // SAFETY: length checked by param_struct.
    let s: CK_HKDF_PARAMS = unsafe { param_struct(p, len) }?;
    let salt = if s.ulSaltType == CKF_HKDF_SALT_DATA {
        // SAFETY: the struct's pointers describe caller memory of the given lengths.
        unsafe { param_bytes(s.pSalt, s.ulSaltLen) }?
    } else {
        Vec::new()
    };
    Ok(Param::Hkdf {
        extract: s.bExtract != 0,
        expand: s.bExpand != 0,
        prf: s.prfHashMechanism,
        salt_type: s.ulSaltType,
        salt,
        // SAFETY: as above.
        info: unsafe { param_bytes(s.pInfo, s.ulInfoLen) }?,
    })
}

/// CK_SP800_108_KDF_PARAMS in counter mode: its CK_PRF_DATA_PARAM list, in order.
/// Additional derived keys are not offered (CKR_MECHANISM_PARAM_INVALID).
unsafe fn kbkdf(p: *const c_void, len: CK_ULONG) -> Result<Param> {
    use crate::mechanism::KbkdfPart;
    // SAFETY: length checked by param_struct.
    let s: CK_SP800_108_KDF_PARAMS = unsafe { param_struct(p, len) }?;
    if s.ulAdditionalDerivedKeys != 0 || s.pDataParams.is_null() || s.ulNumberOfDataParams == 0 {
        return Err(Error::MechanismParamInvalid);
    }
    // SAFETY: pDataParams holds ulNumberOfDataParams CK_PRF_DATA_PARAMs.
    let list =
        unsafe { std::slice::from_raw_parts(s.pDataParams, s.ulNumberOfDataParams as usize) };
    let mut parts = Vec::with_capacity(list.len());
    for d in list {
        let part = match d.type_ {
            CK_SP800_108_ITERATION_VARIABLE => {
                // SAFETY: this entry's pValue holds a CK_SP800_108_COUNTER_FORMAT.
                let f: CK_SP800_108_COUNTER_FORMAT =
                    unsafe { param_struct(d.pValue, d.ulValueLen) }?;
                KbkdfPart::Counter {
                    little_endian: f.bLittleEndian != 0,
                    bits: f.ulWidthInBits,
                }
            }
            CK_SP800_108_DKM_LENGTH => {
                // SAFETY: this entry's pValue holds a CK_SP800_108_DKM_LENGTH_FORMAT.
                let f: CK_SP800_108_DKM_LENGTH_FORMAT =
                    unsafe { param_struct(d.pValue, d.ulValueLen) }?;
                let segments = match f.dkmLengthMethod {
                    CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => false,
                    CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => true,
                    _ => return Err(Error::MechanismParamInvalid),
                };
                KbkdfPart::Length {
                    segments,
                    little_endian: f.bLittleEndian != 0,
                    bits: f.ulWidthInBits,
                }
            }
            // SAFETY: this entry's pValue holds ulValueLen bytes.
            CK_SP800_108_BYTE_ARRAY => {
                KbkdfPart::Bytes(unsafe { param_bytes(d.pValue as *const u8, d.ulValueLen) }?)
            }
            _ => return Err(Error::MechanismParamInvalid),
        };
        parts.push(part);
    }
    Ok(Param::Kbkdf {
        prf: s.prfType,
        parts,
    })
}

/// Password lengths above this are taken for the 2.40 layout's `CK_ULONG_PTR`.
const MAX_PASSWORD: CK_ULONG = 4096;

/// No pointer lies below this (Linux maps nothing under `vm.mmap_min_addr`, 64 KiB).
const LOWEST_POINTER: CK_ULONG = 0x1_0000;

/// CK_PKCS5_PBKD2_PARAMS2. The 2.40 CK_PKCS5_PBKD2_PARAMS has the same size but a pointer
/// to the password length in the last field; a value too large to be a length is read as
/// that pointer, so callers of either layout work.
unsafe fn pbkdf2(p: *const c_void, len: CK_ULONG) -> Result<Param> {
    // SAFETY: length checked by param_struct.
    let s: CK_PKCS5_PBKD2_PARAMS2 = unsafe { param_struct(p, len) }?;
    if s.saltSource != CKZ_SALT_SPECIFIED {
        return Err(Error::MechanismParamInvalid);
    }
    let password_len = if s.ulPasswordLen > MAX_PASSWORD {
        // Only an aligned address above the first 64 KiB (never mapped on the platforms the
        // module supports) can be the 2.40 pointer; anything else is a 3.0 length too long to
        // take, refused rather than dereferenced.
        let aligned = (s.ulPasswordLen as usize).is_multiple_of(std::mem::align_of::<CK_ULONG>());
        if !aligned || s.ulPasswordLen < LOWEST_POINTER {
            return Err(Error::MechanismParamInvalid);
        }
        // SAFETY: in the 2.40 layout this field points to the caller's CK_ULONG length.
        unsafe { (s.ulPasswordLen as *const CK_ULONG).as_ref() }
            .copied()
            .ok_or(Error::MechanismParamInvalid)?
    } else {
        s.ulPasswordLen
    };
    Ok(Param::Pbkdf2 {
        // SAFETY: the struct's pointers describe caller memory of the given lengths.
        salt: unsafe { param_bytes(s.pSaltSourceData as *const u8, s.ulSaltSourceDataLen) }?,
        iterations: s.iterations,
        prf: s.prf,
        // SAFETY: as above.
        password: crate::mechanism::param::SecretBytes(
            unsafe { param_bytes(s.pPassword, password_len) }?.into(),
        ),
    })
}

/// Copy a CK_MECHANISM and its parameter into safe form.
pub(super) unsafe fn mechanism(p: *const CK_MECHANISM) -> Result<MechanismRequest> {
    // SAFETY: non-NULL mechanism pointers point to a CK_MECHANISM.
    let m = unsafe { p.as_ref() }.ok_or(Error::ArgumentsBad)?;
    let (pp, len) = (m.pParameter as *const c_void, m.ulParameterLen);
    let param = match m.mechanism {
        _ if pp.is_null() && len == 0 => Param::None,
        CKM_RSA_PKCS_PSS
        | CKM_SHA1_RSA_PKCS_PSS
        | CKM_SHA224_RSA_PKCS_PSS
        | CKM_SHA256_RSA_PKCS_PSS
        | CKM_SHA384_RSA_PKCS_PSS
        | CKM_SHA512_RSA_PKCS_PSS
        | CKM_SHA3_224_RSA_PKCS_PSS
        | CKM_SHA3_256_RSA_PKCS_PSS
        | CKM_SHA3_384_RSA_PKCS_PSS
        | CKM_SHA3_512_RSA_PKCS_PSS => {
            // SAFETY: length checked by param_struct.
            let s: CK_RSA_PKCS_PSS_PARAMS = unsafe { param_struct(pp, len) }?;
            Param::Pss {
                hash: s.hashAlg,
                mgf: s.mgf,
                salt_len: s.sLen,
            }
        }
        CKM_RSA_PKCS_OAEP => {
            // SAFETY: length checked by param_struct.
            let s: CK_RSA_PKCS_OAEP_PARAMS = unsafe { param_struct(pp, len) }?;
            Param::Oaep {
                hash: s.hashAlg,
                mgf: s.mgf,
                source: s.source,
                // SAFETY: the label pointer describes ulSourceDataLen caller bytes.
                label: unsafe { param_bytes(s.pSourceData as *const u8, s.ulSourceDataLen) }?,
            }
        }
        // SAFETY: forwarded contract.
        CKM_AES_GCM => unsafe { gcm(pp, len) }?,
        // SAFETY: forwarded contract.
        CKM_ECDH1_DERIVE | CKM_ECDH1_COFACTOR_DERIVE => unsafe { ecdh(pp, len) }?,
        // SAFETY: forwarded contract.
        CKM_HKDF_DERIVE | CKM_HKDF_DATA => unsafe { hkdf(pp, len) }?,
        // SAFETY: forwarded contract.
        CKM_PKCS5_PBKD2 => unsafe { pbkdf2(pp, len) }?,
        // SAFETY: forwarded contract.
        CKM_SP800_108_COUNTER_KDF => unsafe { kbkdf(pp, len) }?,
        CKM_AES_ECB_ENCRYPT_DATA => {
            // SAFETY: length checked by param_struct.
            let s: CK_KEY_DERIVATION_STRING_DATA = unsafe { param_struct(pp, len) }?;
            // SAFETY: the struct describes ulLen caller bytes.
            Param::Bytes(unsafe { param_bytes(s.pData, s.ulLen) }?)
        }
        CKM_AES_CBC_ENCRYPT_DATA => {
            // SAFETY: length checked by param_struct.
            let s: CK_AES_CBC_ENCRYPT_DATA_PARAMS = unsafe { param_struct(pp, len) }?;
            Param::CbcEncryptData {
                iv: s.iv,
                // SAFETY: the struct describes `length` caller bytes.
                data: unsafe { param_bytes(s.pData, s.length) }?,
            }
        }
        CKM_EDDSA => {
            // SAFETY: length checked by param_struct.
            let s: CK_EDDSA_PARAMS = unsafe { param_struct(pp, len) }?;
            Param::EdDsa {
                prehash: s.phFlag != 0,
                // SAFETY: the context pointer describes ulContextDataLen caller bytes.
                context: unsafe { param_bytes(s.pContextData, s.ulContextDataLen) }?,
            }
        }
        CKM_AES_CTR => {
            // SAFETY: length checked by param_struct.
            let s: CK_AES_CTR_PARAMS = unsafe { param_struct(pp, len) }?;
            Param::Ctr {
                counter_bits: s.ulCounterBits,
                block: s.cb,
            }
        }
        // SAFETY: the parameter is `len` bytes at `pp`.
        _ => Param::Bytes(unsafe { bytes(pp as *const u8, len) }?.to_vec()),
    };
    Ok(MechanismRequest::new(m.mechanism, param))
}

/// A blank-padded fixed-width PKCS#11 string field (truncated at a character boundary).
pub(super) fn pad<const N: usize>(s: &str) -> [u8; N] {
    let mut field = [b' '; N];
    let mut end = s.len().min(N);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    field[..end].copy_from_slice(&s.as_bytes()[..end]);
    field
}

/// A blank-padded field back to a string (C_InitToken's label).
pub(super) fn unpad(field: &[u8]) -> String {
    String::from_utf8_lossy(field)
        .trim_end_matches([' ', '\0'])
        .to_owned()
}
