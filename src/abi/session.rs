//! Session management and login (PKCS#11 3.0 §5.6).

use std::ffi::c_void;

use cryptoki_sys::*;

use super::{ptr, with_provider};

/// C_OpenSession (§5.6.1). Notification callbacks are accepted and never called.
#[no_mangle]
pub unsafe extern "C" fn C_OpenSession(
    slot: CK_SLOT_ID,
    flags: CK_FLAGS,
    _p_application: *mut c_void,
    _notify: CK_NOTIFY,
    ph_session: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(ph_session) }?;
        *out = p.open_session(slot, flags)?;
        Ok(())
    })
}

/// C_CloseSession (§5.6.2).
#[no_mangle]
pub unsafe extern "C" fn C_CloseSession(h: CK_SESSION_HANDLE) -> CK_RV {
    with_provider(|p| p.close_session(h))
}

/// C_CloseAllSessions (§5.6.3).
#[no_mangle]
pub unsafe extern "C" fn C_CloseAllSessions(slot: CK_SLOT_ID) -> CK_RV {
    with_provider(|p| p.close_all_sessions(slot))
}

/// C_GetSessionInfo (§5.6.4).
#[no_mangle]
pub unsafe extern "C" fn C_GetSessionInfo(
    h: CK_SESSION_HANDLE,
    p_info: *mut CK_SESSION_INFO,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(p_info) }?;
        let (slot, state, flags) = p.session_info(h)?;
        *out = CK_SESSION_INFO {
            slotID: slot,
            state,
            flags,
            ulDeviceError: 0,
        };
        Ok(())
    })
}

/// C_Login (§5.6.8).
#[no_mangle]
pub unsafe extern "C" fn C_Login(
    h: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let pin = unsafe { ptr::bytes(p_pin, pin_len) }?;
        p.login(h, user, pin)
    })
}

/// C_LoginUser (§5.6.9): a named user of the token (docs/access-control.md).
#[no_mangle]
pub unsafe extern "C" fn C_LoginUser(
    h: CK_SESSION_HANDLE,
    user: CK_USER_TYPE,
    p_pin: *mut CK_UTF8CHAR,
    pin_len: CK_ULONG,
    p_name: *mut CK_UTF8CHAR,
    name_len: CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let pin = unsafe { ptr::bytes(p_pin, pin_len) }?;
        // SAFETY: forwarded from the caller.
        let name = unsafe { ptr::bytes(p_name, name_len) }?;
        p.login_user(h, user, pin, name)
    })
}

/// C_Logout (§5.6.10).
#[no_mangle]
pub unsafe extern "C" fn C_Logout(h: CK_SESSION_HANDLE) -> CK_RV {
    with_provider(|p| p.logout(h))
}

/// C_SessionCancel (§5.6.5).
#[no_mangle]
pub unsafe extern "C" fn C_SessionCancel(h: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    with_provider(|p| p.session_cancel(h, flags))
}

/// C_GetOperationState (§5.6.7): running digests only.
#[no_mangle]
pub unsafe extern "C" fn C_GetOperationState(
    h: CK_SESSION_HANDLE,
    p_state: *mut u8,
    p_len: *mut CK_ULONG,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let cap = unsafe { ptr::capacity(p_state, p_len) }?;
        let out = p.get_operation_state(h, cap)?;
        // SAFETY: forwarded from the caller.
        unsafe { ptr::deliver(out, p_state, p_len) }
    })
}

/// C_SetOperationState (§5.6.8).
#[no_mangle]
pub unsafe extern "C" fn C_SetOperationState(
    h: CK_SESSION_HANDLE,
    p_state: *mut u8,
    len: CK_ULONG,
    encryption_key: CK_OBJECT_HANDLE,
    authentication_key: CK_OBJECT_HANDLE,
) -> CK_RV {
    with_provider(|p| {
        // SAFETY: forwarded from the caller.
        let blob = unsafe { ptr::bytes(p_state, len) }?;
        p.set_operation_state(h, blob, encryption_key, authentication_key)
    })
}
