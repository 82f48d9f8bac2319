//! Every C_* export called before C_Initialize and after C_Finalize (PKCS#11 3.0 §5.4:
//! CKR_CRYPTOKI_NOT_INITIALIZED; C_GetFunctionList, C_GetInterfaceList and C_GetInterface
//! work at any time). The module's initialisation is process-wide, so this binary has one
//! test, which drives the whole life cycle in order: never initialised, initialised,
//! finalised, initialised again.

mod common;

use std::ffi::c_void;
use std::ptr::null_mut;
use std::sync::OnceLock;

use cryptoki_sys::*;

/// A function pointer that can be called with every argument zero (0 handles, NULL pointers,
/// no callback).
trait ZeroCall {
    fn call_zeroed(self) -> CK_RV;
}

macro_rules! zero_call {
    ($($arg:ident),*) => {
        impl<$($arg),*> ZeroCall for unsafe extern "C" fn($($arg),*) -> CK_RV {
            #[allow(non_snake_case)]
            fn call_zeroed(self) -> CK_RV {
                // SAFETY: PKCS#11 arguments are integers, raw pointers and optional function
                // pointers, for all of which all-zero bits are a valid value (0, NULL, None);
                // the module must not dereference a NULL pointer it is given.
                unsafe { self($(std::mem::zeroed::<$arg>()),*) }
            }
        }
    };
}
zero_call!(A);
zero_call!(A, B);
zero_call!(A, B, C);
zero_call!(A, B, C, D);
zero_call!(A, B, C, D, E);
zero_call!(A, B, C, D, E, F);
zero_call!(A, B, C, D, E, F, G);
zero_call!(A, B, C, D, E, F, G, H);
zero_call!(A, B, C, D, E, F, G, H, I);

/// The module's 3.0 function list, loaded without initialising it.
fn fl() -> &'static CK_FUNCTION_LIST_3_0 {
    static LIST: OnceLock<usize> = OnceLock::new();
    let addr = *LIST.get_or_init(|| {
        std::env::set_var("KEYWARD_CONF", common::root_dir().join("keyward.toml"));
        // SAFETY: loading the module runs no initialiser with preconditions.
        let lib = unsafe { libloading::Library::new(common::module_path()) }.expect("dlopen");
        // SAFETY: C_GetInterface has the CK_C_GetInterface prototype (§5.4.6).
        let get = *unsafe { lib.get::<CK_C_GetInterface>(b"C_GetInterface") }.expect("symbol");
        let get = get.expect("C_GetInterface");
        let mut iface: *mut CK_INTERFACE = null_mut();
        // SAFETY: NULL name and version ask for the default; `iface` is writable.
        let rv = unsafe { get(null_mut(), null_mut(), &mut iface, 0) };
        assert_eq!(rv, CKR_OK, "C_GetInterface before C_Initialize");
        std::mem::forget(lib); // the list lives in the module: keep it mapped
                               // SAFETY: on CKR_OK `iface` points to the module's static CK_INTERFACE.
        unsafe { (*iface).pFunctionList as usize }
    });
    // SAFETY: the default interface's list is the module's static 3.0 function list.
    unsafe { &*(addr as *const CK_FUNCTION_LIST_3_0) }
}

/// `(name, code)` of every export but C_Initialize, each called with all-zero arguments.
macro_rules! every_function {
    ($($name:ident),* $(,)?) => {
        vec![$((stringify!($name), fl().$name.expect(stringify!($name)).call_zeroed())),*]
    };
}

fn call_everything() -> Vec<(&'static str, CK_RV)> {
    every_function![
        C_Finalize,
        C_GetInfo,
        C_GetFunctionList,
        C_GetSlotList,
        C_GetSlotInfo,
        C_GetTokenInfo,
        C_GetMechanismList,
        C_GetMechanismInfo,
        C_InitToken,
        C_InitPIN,
        C_SetPIN,
        C_OpenSession,
        C_CloseSession,
        C_CloseAllSessions,
        C_GetSessionInfo,
        C_GetOperationState,
        C_SetOperationState,
        C_Login,
        C_Logout,
        C_CreateObject,
        C_CopyObject,
        C_DestroyObject,
        C_GetObjectSize,
        C_GetAttributeValue,
        C_SetAttributeValue,
        C_FindObjectsInit,
        C_FindObjects,
        C_FindObjectsFinal,
        C_EncryptInit,
        C_Encrypt,
        C_EncryptUpdate,
        C_EncryptFinal,
        C_DecryptInit,
        C_Decrypt,
        C_DecryptUpdate,
        C_DecryptFinal,
        C_DigestInit,
        C_Digest,
        C_DigestUpdate,
        C_DigestKey,
        C_DigestFinal,
        C_SignInit,
        C_Sign,
        C_SignUpdate,
        C_SignFinal,
        C_SignRecoverInit,
        C_SignRecover,
        C_VerifyInit,
        C_Verify,
        C_VerifyUpdate,
        C_VerifyFinal,
        C_VerifyRecoverInit,
        C_VerifyRecover,
        C_DigestEncryptUpdate,
        C_DecryptDigestUpdate,
        C_SignEncryptUpdate,
        C_DecryptVerifyUpdate,
        C_GenerateKey,
        C_GenerateKeyPair,
        C_WrapKey,
        C_UnwrapKey,
        C_DeriveKey,
        C_SeedRandom,
        C_GenerateRandom,
        C_GetFunctionStatus,
        C_CancelFunction,
        C_WaitForSlotEvent,
        C_GetInterfaceList,
        C_GetInterface,
        C_LoginUser,
        C_SessionCancel,
        C_MessageEncryptInit,
        C_EncryptMessage,
        C_EncryptMessageBegin,
        C_EncryptMessageNext,
        C_MessageEncryptFinal,
        C_MessageDecryptInit,
        C_DecryptMessage,
        C_DecryptMessageBegin,
        C_DecryptMessageNext,
        C_MessageDecryptFinal,
        C_MessageSignInit,
        C_SignMessage,
        C_SignMessageBegin,
        C_SignMessageNext,
        C_MessageSignFinal,
        C_MessageVerifyInit,
        C_VerifyMessage,
        C_VerifyMessageBegin,
        C_VerifyMessageNext,
        C_MessageVerifyFinal,
    ]
}

/// The codes each export may give while the module is not initialised.
fn allowed(name: &str) -> &'static [CK_RV] {
    match name {
        // These work at any time; with NULL output pointers that is CKR_ARGUMENTS_BAD.
        "C_GetFunctionList" | "C_GetInterfaceList" | "C_GetInterface" => &[CKR_ARGUMENTS_BAD],
        // §5.16: legacy functions answer this fixed code.
        "C_GetFunctionStatus" | "C_CancelFunction" => {
            &[CKR_FUNCTION_NOT_PARALLEL, CKR_CRYPTOKI_NOT_INITIALIZED]
        }
        // Functions Keyward does not offer may say so first.
        "C_SignRecoverInit"
        | "C_SignRecover"
        | "C_VerifyRecoverInit"
        | "C_VerifyRecover"
        | "C_DigestEncryptUpdate"
        | "C_DecryptDigestUpdate"
        | "C_SignEncryptUpdate"
        | "C_DecryptVerifyUpdate"
        | "C_WaitForSlotEvent"
        | "C_MessageSignInit"
        | "C_SignMessage"
        | "C_SignMessageBegin"
        | "C_SignMessageNext"
        | "C_MessageSignFinal"
        | "C_MessageVerifyInit"
        | "C_VerifyMessage"
        | "C_VerifyMessageBegin"
        | "C_VerifyMessageNext"
        | "C_MessageVerifyFinal" => &[CKR_FUNCTION_NOT_SUPPORTED, CKR_CRYPTOKI_NOT_INITIALIZED],
        _ => &[CKR_CRYPTOKI_NOT_INITIALIZED],
    }
}

fn name(rv: CK_RV) -> String {
    format!("{rv:#x} {:?}", cryptoki::error::Rv::from(rv))
}

/// Check one phase; returns the number of checks made and appends mismatches to `wrong`.
fn check_phase(phase: &str, wrong: &mut Vec<String>) -> usize {
    let rows = call_everything();
    for (f, rv) in &rows {
        if !allowed(f).contains(rv) {
            wrong.push(format!("{phase}: {f}: got {}", name(*rv)));
        }
    }
    // With valid arguments too: the state, not the arguments, decides.
    let mut info = CK_INFO::default();
    let mut count: CK_ULONG = 0;
    let mut h: CK_SESSION_HANDLE = 0;
    let f = fl();
    // SAFETY: valid output locations, NULL list (a size query), no callback.
    let valid = unsafe {
        [
            ("C_GetInfo(&info)", f.C_GetInfo.unwrap()(&mut info)),
            (
                "C_GetSlotList(NULL, &count)",
                f.C_GetSlotList.unwrap()(CK_TRUE, null_mut(), &mut count),
            ),
            (
                "C_OpenSession(slot 0, &h)",
                f.C_OpenSession.unwrap()(0, CKF_SERIAL_SESSION, null_mut(), None, &mut h),
            ),
            ("C_Finalize(NULL)", f.C_Finalize.unwrap()(null_mut())),
        ]
    };
    for (what, rv) in valid {
        if rv != CKR_CRYPTOKI_NOT_INITIALIZED {
            wrong.push(format!("{phase}: {what}: got {}", name(rv)));
        }
    }
    // And the calls that work at any time do work.
    let mut list: *mut CK_FUNCTION_LIST = null_mut();
    let mut iface: *mut CK_INTERFACE = null_mut();
    let mut n: CK_ULONG = 0;
    // SAFETY: valid output locations; NULL name/version ask for the default interface.
    let always = unsafe {
        [
            (
                "C_GetFunctionList(&list)",
                f.C_GetFunctionList.unwrap()(&mut list),
            ),
            (
                "C_GetInterfaceList(NULL, &n)",
                f.C_GetInterfaceList.unwrap()(null_mut(), &mut n),
            ),
            (
                "C_GetInterface(NULL, NULL, &iface, 0)",
                f.C_GetInterface.unwrap()(null_mut(), null_mut(), &mut iface, 0),
            ),
        ]
    };
    for (what, rv) in always {
        if rv != CKR_OK {
            wrong.push(format!("{phase}: {what}: got {}", name(rv)));
        }
    }
    rows.len() + 4 + 3
}

#[test]
fn every_export_before_initialize_and_after_finalize() {
    let f = fl();
    let mut wrong = Vec::new();
    let mut checks = check_phase("before C_Initialize", &mut wrong);

    // Initialise, open a session, finalise: the session is gone with the instance.
    // SAFETY: NULL arguments (no locking callbacks) are valid for C_Initialize.
    let rv = unsafe { f.C_Initialize.unwrap()(null_mut()) };
    assert_eq!(rv, CKR_OK, "C_Initialize");
    let mut slots = [0; 64];
    let mut n: CK_ULONG = 64;
    // SAFETY: a list of 64 slot ids and its count.
    let rv = unsafe { f.C_GetSlotList.unwrap()(CK_FALSE, slots.as_mut_ptr(), &mut n) };
    assert_eq!(rv, CKR_OK, "C_GetSlotList");
    let so_pin = common::SO_PIN.as_bytes();
    let label = [b' '; 32];
    // SAFETY: the PIN and the 32-byte label are live for their lengths.
    let rv = unsafe {
        f.C_InitToken.unwrap()(
            slots[0],
            so_pin.as_ptr() as *mut u8,
            so_pin.len() as CK_ULONG,
            label.as_ptr() as *mut u8,
        )
    };
    assert_eq!(rv, CKR_OK, "C_InitToken");
    let mut h: CK_SESSION_HANDLE = 0;
    // SAFETY: a writable session handle; no callback.
    let rv =
        unsafe { f.C_OpenSession.unwrap()(slots[0], CKF_SERIAL_SESSION, null_mut(), None, &mut h) };
    assert_eq!(rv, CKR_OK, "C_OpenSession");
    // SAFETY: NULL is the only valid pReserved.
    let rv = unsafe { f.C_Finalize.unwrap()(null_mut()) };
    assert_eq!(rv, CKR_OK, "C_Finalize");

    checks += check_phase("after C_Finalize", &mut wrong);
    let mut info = CK_SESSION_INFO::default();
    // SAFETY: a writable CK_SESSION_INFO.
    let rv = unsafe { f.C_GetSessionInfo.unwrap()(h, &mut info) };
    checks += 1;
    if rv != CKR_CRYPTOKI_NOT_INITIALIZED {
        wrong.push(format!(
            "after C_Finalize: the old session: got {}",
            name(rv)
        ));
    }

    // Initialised again: a new instance where the old session handle means nothing.
    // SAFETY: as above.
    let rv = unsafe { f.C_Initialize.unwrap()(null_mut()) };
    assert_eq!(rv, CKR_OK, "C_Initialize again");
    // SAFETY: a writable CK_SESSION_INFO.
    let rv = unsafe { f.C_GetSessionInfo.unwrap()(h, &mut info) };
    checks += 1;
    if rv != CKR_SESSION_HANDLE_INVALID {
        wrong.push(format!(
            "initialised again: the old session: got {}",
            name(rv)
        ));
    }
    // SAFETY: a second C_Initialize with NULL arguments.
    let rv = unsafe { f.C_Initialize.unwrap()(null_mut()) };
    checks += 1;
    if rv != CKR_CRYPTOKI_ALREADY_INITIALIZED {
        wrong.push(format!("C_Initialize twice: got {}", name(rv)));
    }
    // SAFETY: a non-NULL pReserved is an argument error and must not finalise.
    let rv = unsafe { f.C_Finalize.unwrap()(&mut info as *mut CK_SESSION_INFO as *mut c_void) };
    checks += 1;
    if rv != CKR_ARGUMENTS_BAD {
        wrong.push(format!("C_Finalize(non-NULL): got {}", name(rv)));
    }
    // SAFETY: NULL pReserved.
    let rv = unsafe { f.C_Finalize.unwrap()(null_mut()) };
    assert_eq!(rv, CKR_OK, "C_Finalize at the end");
    checks += check_phase("after the second C_Finalize", &mut wrong);

    println!("every_export_before_initialize_and_after_finalize: {checks} checks");
    assert!(
        wrong.is_empty(),
        "{} of {checks} checks failed:\n  {}",
        wrong.len(),
        wrong.join("\n  ")
    );
}
