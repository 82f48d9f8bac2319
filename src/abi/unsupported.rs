//! Functions in the lists that Keyward does not implement yet: each exists, takes the
//! exact C signature, and returns CKR_FUNCTION_NOT_SUPPORTED (or what the spec fixes).

use std::ffi::c_void;

use cryptoki_sys::*;

macro_rules! answer {
    ($rv:expr; $($name:ident($($arg:ty),*);)*) => {$(
        #[doc = concat!("`", stringify!($name), "`: returns a fixed code; not implemented yet.")]
        #[no_mangle]
        pub unsafe extern "C" fn $name($(_: $arg),*) -> CK_RV {
            $rv
        }
    )*};
}

type H = CK_SESSION_HANDLE;
type O = CK_OBJECT_HANDLE;
type B = *mut CK_BYTE;
type L = *mut CK_ULONG;
type M = *mut CK_MECHANISM;
type P = *mut c_void;

answer! { CKR_FUNCTION_NOT_SUPPORTED;
    C_SignRecoverInit(H, M, O);
    C_SignRecover(H, B, CK_ULONG, B, L);
    C_VerifyRecoverInit(H, M, O);
    C_VerifyRecover(H, B, CK_ULONG, B, L);
    C_DigestEncryptUpdate(H, B, CK_ULONG, B, L);
    C_DecryptDigestUpdate(H, B, CK_ULONG, B, L);
    C_SignEncryptUpdate(H, B, CK_ULONG, B, L);
    C_DecryptVerifyUpdate(H, B, CK_ULONG, B, L);
    C_WaitForSlotEvent(CK_FLAGS, *mut CK_SLOT_ID, P);
    C_MessageSignInit(H, M, O);
    C_SignMessage(H, P, CK_ULONG, B, CK_ULONG, B, L);
    C_SignMessageBegin(H, P, CK_ULONG);
    C_SignMessageNext(H, P, CK_ULONG, B, CK_ULONG, B, L);
    C_MessageSignFinal(H);
    C_MessageVerifyInit(H, M, O);
    C_VerifyMessage(H, P, CK_ULONG, B, CK_ULONG, B, CK_ULONG);
    C_VerifyMessageBegin(H, P, CK_ULONG);
    C_VerifyMessageNext(H, P, CK_ULONG, B, CK_ULONG, B, CK_ULONG);
    C_MessageVerifyFinal(H);
}

// Legacy parallel-function calls: §5.16 fixes their answer.
answer! { CKR_FUNCTION_NOT_PARALLEL;
    C_GetFunctionStatus(H);
    C_CancelFunction(H);
}
