//! Object management (PKCS#11 3.0 §5.7).

use cryptoki_sys::*;

use super::{ptr, with_provider};
use crate::error::{Error, Result};
use crate::object::Reveal;

/// C_CreateObject (§5.7.1).
#[no_mangle]
pub unsafe extern "C" fn C_CreateObject(
    h: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_object: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let template = unsafe { ptr::template(p_template, count) }?;
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(ph_object) }?;
        *out = p.create_object(h, &template)?;
        Ok(())
    })
}

/// C_CopyObject (§5.7.2).
#[no_mangle]
pub unsafe extern "C" fn C_CopyObject(
    h: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
    ph_new: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let template = unsafe { ptr::template(p_template, count) }?;
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(ph_new) }?;
        *out = p.copy_object(h, object, &template)?;
        Ok(())
    })
}

/// C_DestroyObject (§5.7.3).
#[no_mangle]
pub unsafe extern "C" fn C_DestroyObject(h: CK_SESSION_HANDLE, object: CK_OBJECT_HANDLE) -> CK_RV {
    with_provider(|p| p.destroy_object(h, object))
}

/// C_GetObjectSize (§5.7.4).
#[no_mangle]
pub unsafe extern "C" fn C_GetObjectSize(
    h: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    p_size: *mut CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(p_size) }?;
        *out = p.object(h, object)?.size() as CK_ULONG;
        Ok(())
    })
}

/// C_GetAttributeValue (§5.7.5): every attribute is answered; the return value reports the
/// most serious per-attribute problem (sensitive, invalid type, buffer too small).
#[no_mangle]
pub unsafe extern "C" fn C_GetAttributeValue(
    h: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        let obj = p.object(h, object)?;
        // SAFETY: forwarded from the caller.
        let attrs = unsafe { ptr::attributes_mut(p_template, count) }?;
        let mut worst: Option<Error> = None;
        let mut note = |e: Error| {
            let rank = |e: &Error| match e {
                Error::AttributeSensitive => 3,
                Error::AttributeTypeInvalid => 2,
                _ => 1,
            };
            if worst.as_ref().is_none_or(|w| rank(&e) > rank(w)) {
                worst = Some(e);
            }
        };
        for a in attrs.iter_mut() {
            match obj.reveal(a.type_) {
                Reveal::Sensitive => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    note(Error::AttributeSensitive);
                }
                Reveal::Invalid => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    note(Error::AttributeTypeInvalid);
                }
                Reveal::Value(v) if crate::object::attr::is_template(a.type_) => {
                    // SAFETY: `a` is the caller's attribute; its pValue (if set) holds
                    // ulValueLen bytes of nested CK_ATTRIBUTEs.
                    if let Err(e) = unsafe { reveal_array(a, v) } {
                        note(e);
                    }
                }
                Reveal::Value(v) if a.pValue.is_null() => a.ulValueLen = v.len() as CK_ULONG,
                Reveal::Value(v) if (a.ulValueLen as usize) < v.len() => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    note(Error::BufferTooSmall);
                }
                Reveal::Value(v) => {
                    // SAFETY: pValue is non-NULL with ulValueLen >= v.len() writable bytes.
                    let dst = unsafe { ptr::bytes_mut(a.pValue as *mut u8, v.len() as CK_ULONG) }?;
                    dst.copy_from_slice(v);
                    a.ulValueLen = v.len() as CK_ULONG;
                }
            }
        }
        worst.map_or(Ok(()), Err)
    })
}

/// Answer an attribute-array attribute (CKA_WRAP_TEMPLATE …) the way C_GetAttributeValue
/// answers attributes: size query, then each nested attribute's type and value.
///
/// # Safety
/// `a.pValue` is NULL or points to `a.ulValueLen` bytes of writable CK_ATTRIBUTEs whose own
/// pValue are NULL or writable for their ulValueLen.
unsafe fn reveal_array(a: &mut CK_ATTRIBUTE, stored: &[u8]) -> Result<()> {
    let entries = crate::object::attr::decode_template(stored)?;
    let needed = entries.len() * std::mem::size_of::<CK_ATTRIBUTE>();
    if a.pValue.is_null() {
        a.ulValueLen = needed as CK_ULONG;
        return Ok(());
    }
    if (a.ulValueLen as usize) < needed {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return Err(Error::BufferTooSmall);
    }
    // SAFETY: pValue holds at least `entries.len()` writable CK_ATTRIBUTEs.
    let nested =
        unsafe { ptr::attributes_mut(a.pValue as *mut CK_ATTRIBUTE, entries.len() as CK_ULONG) }?;
    let mut result = Ok(());
    for (slot, (ty, value)) in nested.iter_mut().zip(&entries) {
        slot.type_ = *ty;
        if slot.pValue.is_null() {
            slot.ulValueLen = value.len() as CK_ULONG;
        } else if (slot.ulValueLen as usize) < value.len() {
            slot.ulValueLen = CK_UNAVAILABLE_INFORMATION;
            result = Err(Error::BufferTooSmall);
        } else {
            // SAFETY: the nested pValue is writable for ulValueLen >= value.len() bytes.
            let dst = unsafe { ptr::bytes_mut(slot.pValue as *mut u8, value.len() as CK_ULONG) }?;
            dst.copy_from_slice(value);
            slot.ulValueLen = value.len() as CK_ULONG;
        }
    }
    a.ulValueLen = needed as CK_ULONG;
    result
}

/// C_SetAttributeValue (§5.7.6).
#[no_mangle]
pub unsafe extern "C" fn C_SetAttributeValue(
    h: CK_SESSION_HANDLE,
    object: CK_OBJECT_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let template = unsafe { ptr::template(p_template, count) }?;
        p.set_attributes(h, object, &template)
    })
}

/// C_FindObjectsInit (§5.7.7).
#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsInit(
    h: CK_SESSION_HANDLE,
    p_template: *mut CK_ATTRIBUTE,
    count: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let template = unsafe { ptr::template(p_template, count) }?;
        p.find_init(h, &template)
    })
}

/// C_FindObjects (§5.7.8).
#[no_mangle]
pub unsafe extern "C" fn C_FindObjects(
    h: CK_SESSION_HANDLE,
    ph_object: *mut CK_OBJECT_HANDLE,
    max: CK_ULONG,
    p_count: *mut CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let count = unsafe { ptr::out(p_count) }?;
        if ph_object.is_null() && max > 0 {
            return Err(Error::ArgumentsBad);
        }
        let found = p.find_next(h, max as usize)?;
        if !found.is_empty() {
            // SAFETY: `ph_object` holds `max` >= found.len() handles.
            unsafe { std::ptr::copy_nonoverlapping(found.as_ptr(), ph_object, found.len()) };
        }
        *count = found.len() as CK_ULONG;
        Ok(())
    })
}

/// C_FindObjectsFinal (§5.7.9).
#[no_mangle]
pub unsafe extern "C" fn C_FindObjectsFinal(h: CK_SESSION_HANDLE) -> CK_RV {
    with_provider(|p| p.find_final(h))
}
