//! General-purpose functions (PKCS#11 3.0 §5.4).

use std::ffi::c_void;

use cryptoki_sys::*;

use super::lists::{interface_version, FUNCTION_LIST_2_40, INTERFACES, INTERFACE_NAME};
use super::{guard, ptr, Instance, INSTANCE};
use crate::config::Config;
use crate::error::{Error, Result};
use crate::provider::Provider;

/// Validate CK_C_INITIALIZE_ARGS (§5.4.1): reserved must be NULL; mutex callbacks all set
/// or all NULL. Keyward always locks with OS primitives, so callbacks are accepted unused.
unsafe fn check_init_args(p: *mut c_void) -> Result<()> {
    // SAFETY: a non-NULL argument points to a CK_C_INITIALIZE_ARGS.
    let Some(args) = (unsafe { (p as *const CK_C_INITIALIZE_ARGS).as_ref() }) else {
        return Ok(());
    };
    if !args.pReserved.is_null() {
        return Err(Error::ArgumentsBad);
    }
    let set = [
        args.CreateMutex.is_some(),
        args.DestroyMutex.is_some(),
        args.LockMutex.is_some(),
        args.UnlockMutex.is_some(),
    ];
    if set.iter().any(|s| *s) && !set.iter().all(|s| *s) {
        return Err(Error::ArgumentsBad);
    }
    Ok(())
}

/// C_Initialize (§5.4.1). A child process after fork() starts afresh.
#[no_mangle]
pub unsafe extern "C" fn C_Initialize(p_init_args: *mut c_void) -> CK_RV {
    guard(|| {
        // SAFETY: forwarded from the caller.
        unsafe { check_init_args(p_init_args) }?;
        let mut slot = INSTANCE.write().map_err(|_| Error::GeneralError)?;
        let pid = super::current_pid();
        match slot.take() {
            Some(i) if i.pid == pid => {
                *slot = Some(i);
                return Err(Error::AlreadyInitialized);
            }
            // Inherited from the parent across fork(): never touch its connections or locks.
            Some(inherited) => std::mem::forget(inherited),
            None => {}
        }
        let provider = Provider::new(Config::from_env()?);
        flush_audit_at_exit();
        *slot = Some(Instance {
            pid,
            provider: std::sync::Arc::new(provider),
        });
        Ok(())
    })
}

extern "C" {
    /// The C library's `atexit` (ISO C §7.22.4.2).
    fn atexit(f: extern "C" fn()) -> std::ffi::c_int;
    /// POSIX `pthread_atfork`.
    fn pthread_atfork(
        prepare: Option<extern "C" fn()>,
        parent: Option<extern "C" fn()>,
        child: Option<extern "C" fn()>,
    ) -> std::ffi::c_int;
}

extern "C" fn before_fork() {
    crate::audit::fork_gate::before_fork();
}

extern "C" fn after_fork() {
    crate::audit::fork_gate::after_fork();
}

extern "C" fn in_child_after_fork() {
    super::PID.store(0, std::sync::atomic::Ordering::Relaxed);
    crate::audit::fork_gate::after_fork();
}

/// At process exit, commit the audit records still queued: many applications exit without
/// C_Finalize, and an audit trail must not lose what they did last.
extern "C" fn flush_at_exit() {
    let _ = std::panic::catch_unwind(|| {
        if let Ok(guard) = INSTANCE.try_read() {
            if let Some(i) = guard.as_ref().filter(|i| i.pid == super::current_pid()) {
                i.provider.flush_audit();
            }
        }
    });
}

/// Register [`flush_at_exit`] once per process image.
fn flush_audit_at_exit() {
    static REGISTERED: std::sync::Once = std::sync::Once::new();
    REGISTERED.call_once(|| {
        // SAFETY: registering functions with the C runtime; they never unwind (the exit
        // handler catches panics, the fork handlers only touch atomics) and the module is
        // never unloaded (linked -z nodelete), so the pointers stay valid.
        unsafe {
            atexit(flush_at_exit);
            pthread_atfork(
                Some(before_fork),
                Some(after_fork),
                Some(in_child_after_fork),
            );
        }
    });
}

/// C_Finalize (§5.4.2).
#[no_mangle]
pub unsafe extern "C" fn C_Finalize(p_reserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !p_reserved.is_null() {
            return Err(Error::ArgumentsBad);
        }
        let mut slot = INSTANCE.write().map_err(|_| Error::GeneralError)?;
        match slot.take() {
            Some(i) if i.pid == super::current_pid() => {
                i.provider.shutdown();
                Ok(())
            }
            Some(inherited) => {
                std::mem::forget(inherited);
                Err(Error::NotInitialized)
            }
            None => Err(Error::NotInitialized),
        }
    })
}

/// C_GetInfo (§5.4.3).
#[no_mangle]
pub unsafe extern "C" fn C_GetInfo(p_info: *mut CK_INFO) -> CK_RV {
    guard(|| {
        super::provider()?;
        // SAFETY: forwarded from the caller.
        let info = unsafe { ptr::out(p_info) }?;
        let (major, minor) = crate_version();
        *info = CK_INFO {
            cryptokiVersion: CK_VERSION { major: 3, minor: 0 },
            manufacturerID: ptr::pad("Keyward"),
            flags: 0,
            libraryDescription: ptr::pad("Keyward PKCS#11 module"),
            libraryVersion: CK_VERSION { major, minor },
        };
        Ok(())
    })
}

/// The crate version as a CK_VERSION (major, minor).
pub(super) fn crate_version() -> (u8, u8) {
    let p = |s: &str| s.parse().unwrap_or(0);
    (
        p(env!("CARGO_PKG_VERSION_MAJOR")),
        p(env!("CARGO_PKG_VERSION_MINOR")),
    )
}

/// C_GetFunctionList (§5.4.4): the 2.40 list.
#[no_mangle]
pub unsafe extern "C" fn C_GetFunctionList(pp_list: *mut *mut CK_FUNCTION_LIST) -> CK_RV {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(pp_list) }?;
        *out = &FUNCTION_LIST_2_40 as *const CK_FUNCTION_LIST as *mut CK_FUNCTION_LIST;
        Ok(())
    })
}

/// C_GetInterfaceList (§5.4.5).
#[no_mangle]
pub unsafe extern "C" fn C_GetInterfaceList(
    p_list: *mut CK_INTERFACE,
    p_count: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let count = unsafe { ptr::out(p_count) }?;
        if p_list.is_null() {
            *count = INTERFACES.len() as CK_ULONG;
            return Ok(());
        }
        let cap = *count as usize;
        *count = INTERFACES.len() as CK_ULONG;
        if cap < INTERFACES.len() {
            return Err(Error::BufferTooSmall);
        }
        for (i, iface) in INTERFACES.iter().enumerate() {
            // SAFETY: `p_list` holds `cap` >= INTERFACES.len() entries.
            unsafe { p_list.add(i).write(iface.0) };
        }
        Ok(())
    })
}

/// C_GetInterface (§5.4.6): by name and version; NULL name gives the default (3.0).
#[no_mangle]
pub unsafe extern "C" fn C_GetInterface(
    p_name: *mut CK_UTF8CHAR,
    p_version: *mut CK_VERSION,
    pp_interface: *mut *mut CK_INTERFACE,
    flags: CK_FLAGS,
) -> CK_RV {
    guard(|| {
        // SAFETY: forwarded from the caller.
        let out = unsafe { ptr::out(pp_interface) }?;
        if !p_name.is_null() {
            // SAFETY: a non-NULL name is a NUL-terminated string.
            let name = unsafe { std::ffi::CStr::from_ptr(p_name as *const std::ffi::c_char) };
            if name.to_bytes_with_nul() != INTERFACE_NAME {
                return Err(Error::ArgumentsBad);
            }
        }
        // SAFETY: a non-NULL version points to a CK_VERSION.
        let wanted = unsafe { p_version.as_ref() };
        let found = INTERFACES.iter().find(|i| {
            let v = interface_version(i);
            wanted.is_none_or(|w| w.major == v.major && w.minor == v.minor)
                && i.0.flags & flags == flags
        });
        let iface = found.ok_or(Error::ArgumentsBad)?;
        *out = &iface.0 as *const CK_INTERFACE as *mut CK_INTERFACE;
        Ok(())
    })
}
