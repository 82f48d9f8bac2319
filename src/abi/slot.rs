//! Slot and token management (PKCS#11 3.0 §5.5).

use cryptoki_sys::*;

use super::general::crate_version;
use super::{ptr, with_provider};

/// C_GetSlotList (§5.5.1).
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotList(
    token_present: CK_BBOOL,
    p_list: *mut CK_SLOT_ID,
    p_count: *mut CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        let ids = p.slot_ids(token_present != 0);
        // SAFETY: forwarded from the caller.
        unsafe { ptr::deliver_list(&ids, p_list, p_count) }
    })
}

/// C_GetSlotInfo (§5.5.2).
#[no_mangle]
pub unsafe extern "C" fn C_GetSlotInfo(slot: CK_SLOT_ID, p_info: *mut CK_SLOT_INFO) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(p_info) }?;
        let info = p.slot_info(slot)?;
        let (major, minor) = crate_version();
        *out = CK_SLOT_INFO {
            slotDescription: ptr::pad(&info.description),
            manufacturerID: ptr::pad("Keyward"),
            flags: info.flags,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major, minor },
        };
        Ok(())
    })
}

/// C_GetTokenInfo (§5.5.3).
#[no_mangle]
pub unsafe extern "C" fn C_GetTokenInfo(slot: CK_SLOT_ID, p_info: *mut CK_TOKEN_INFO) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(p_info) }?;
        let st = p.token_status(slot)?;
        let (major, minor) = crate_version();
        *out = CK_TOKEN_INFO {
            label: ptr::pad(&st.info.label),
            manufacturerID: ptr::pad("Keyward"),
            model: ptr::pad("soft token"),
            serialNumber: ptr::pad(&st.info.serial),
            flags: st.info.flags,
            ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
            ulSessionCount: st.sessions as CK_ULONG,
            ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
            ulRwSessionCount: st.rw_sessions as CK_ULONG,
            ulMaxPinLen: st.info.max_pin as CK_ULONG,
            ulMinPinLen: st.info.min_pin as CK_ULONG,
            ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
            ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
            ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
            hardwareVersion: CK_VERSION { major: 0, minor: 0 },
            firmwareVersion: CK_VERSION { major, minor },
            utcTime: [b' '; 16],
        };
        Ok(())
    })
}

/// C_GetMechanismList (§5.5.4).
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismList(
    slot: CK_SLOT_ID,
    p_list: *mut CK_MECHANISM_TYPE,
    p_count: *mut CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        let list = p.mechanisms(slot)?;
        // SAFETY: forwarded from the caller.
        unsafe { ptr::deliver_list(&list, p_list, p_count) }
    })
}

/// C_GetMechanismInfo (§5.5.5).
#[no_mangle]
pub unsafe extern "C" fn C_GetMechanismInfo(
    slot: CK_SLOT_ID,
    ty: CK_MECHANISM_TYPE,
    p_info: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    with_provider(|p| {
        p.token(slot)?;
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(p_info) }?;
        let info = p.mechanism_info(slot, ty)?;
        *out = CK_MECHANISM_INFO {
            ulMinKeySize: info.min_key,
            ulMaxKeySize: info.max_key,
            flags: info.flags,
        };
        Ok(())
    })
}

/// C_InitToken (§5.5.6).
#[no_mangle]
pub unsafe extern "C" fn C_InitToken(
    slot: CK_SLOT_ID,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
    p_label: *mut CK_UTF8CHAR,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let pin = unsafe { ptr::bytes(p_pin, pin_len) }?;
        // SAFETY: the label is a 32-byte blank-padded field.
        let label = unsafe { ptr::bytes(p_label, 32) }?;
        p.init_token(slot, pin, &ptr::unpad(label))
    })
}

/// C_InitPIN (§5.5.7).
#[no_mangle]
pub unsafe extern "C" fn C_InitPIN(
    h: CK_SESSION_HANDLE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let pin = unsafe { ptr::bytes(p_pin, pin_len) }?;
        p.init_pin(h, pin)
    })
}

/// C_SetPIN (§5.5.8).
#[no_mangle]
pub unsafe extern "C" fn C_SetPIN(
    h: CK_SESSION_HANDLE,
    p_old: *mut CK_UTF8CHAR,
    old_len: CK_ULONG,
    p_new: *mut CK_UTF8CHAR,
    new_len: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let old = unsafe { ptr::bytes(p_old, old_len) }?;
        // SAFETY: forwarded from the caller.
        let new = unsafe { ptr::bytes(p_new, new_len) }?;
        p.set_pin(h, old, new)
    })
}
