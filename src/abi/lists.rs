//! The 2.40 function list and the 3.0 interface, generated from ONE list of names.

use cryptoki_sys::*;

use super::crypto::*;
use super::general::*;
use super::keys::*;
use super::message::*;
use super::object::*;
use super::session::*;
use super::slot::*;
use super::unsupported::*;

/// Calls `$m!` with the 2.40 function names and the names PKCS#11 3.0 appends, in the
/// order of CK_FUNCTION_LIST / CK_FUNCTION_LIST_3_0.
macro_rules! function_names {
    ($m:ident) => {
        $m! {
            base: [
                C_Initialize, C_Finalize, C_GetInfo, C_GetFunctionList, C_GetSlotList,
                C_GetSlotInfo, C_GetTokenInfo, C_GetMechanismList, C_GetMechanismInfo,
                C_InitToken, C_InitPIN, C_SetPIN, C_OpenSession, C_CloseSession,
                C_CloseAllSessions, C_GetSessionInfo, C_GetOperationState,
                C_SetOperationState, C_Login, C_Logout, C_CreateObject, C_CopyObject,
                C_DestroyObject, C_GetObjectSize, C_GetAttributeValue, C_SetAttributeValue,
                C_FindObjectsInit, C_FindObjects, C_FindObjectsFinal, C_EncryptInit,
                C_Encrypt, C_EncryptUpdate, C_EncryptFinal, C_DecryptInit, C_Decrypt,
                C_DecryptUpdate, C_DecryptFinal, C_DigestInit, C_Digest, C_DigestUpdate,
                C_DigestKey, C_DigestFinal, C_SignInit, C_Sign, C_SignUpdate, C_SignFinal,
                C_SignRecoverInit, C_SignRecover, C_VerifyInit, C_Verify, C_VerifyUpdate,
                C_VerifyFinal, C_VerifyRecoverInit, C_VerifyRecover, C_DigestEncryptUpdate,
                C_DecryptDigestUpdate, C_SignEncryptUpdate, C_DecryptVerifyUpdate,
                C_GenerateKey, C_GenerateKeyPair, C_WrapKey, C_UnwrapKey, C_DeriveKey,
                C_SeedRandom, C_GenerateRandom, C_GetFunctionStatus, C_CancelFunction,
                C_WaitForSlotEvent
            ],
            v3: [
                C_GetInterfaceList, C_GetInterface, C_LoginUser, C_SessionCancel,
                C_MessageEncryptInit, C_EncryptMessage, C_EncryptMessageBegin,
                C_EncryptMessageNext, C_MessageEncryptFinal, C_MessageDecryptInit,
                C_DecryptMessage, C_DecryptMessageBegin, C_DecryptMessageNext,
                C_MessageDecryptFinal, C_MessageSignInit, C_SignMessage, C_SignMessageBegin,
                C_SignMessageNext, C_MessageSignFinal, C_MessageVerifyInit, C_VerifyMessage,
                C_VerifyMessageBegin, C_VerifyMessageNext, C_MessageVerifyFinal
            ]
        }
    };
}

macro_rules! build_lists {
    (base: [$($b:ident),*], v3: [$($v:ident),*]) => {
        /// The PKCS#11 2.40 function list (C_GetFunctionList).
        pub(super) static FUNCTION_LIST_2_40: CK_FUNCTION_LIST = CK_FUNCTION_LIST {
            version: CK_VERSION { major: 2, minor: 40 },
            $($b: Some($b),)*
        };
        /// The PKCS#11 3.0 function list (interface "PKCS 11", version 3.0).
        pub(super) static FUNCTION_LIST_3_0: CK_FUNCTION_LIST_3_0 = CK_FUNCTION_LIST_3_0 {
            version: CK_VERSION { major: 3, minor: 0 },
            $($b: Some($b),)*
            $($v: Some($v),)*
        };
    };
}

function_names!(build_lists);

/// The interface name, NUL-terminated as CK_INTERFACE wants it.
pub(super) static INTERFACE_NAME: &[u8] = b"PKCS 11\0";

/// A CK_INTERFACE in a static: it only points at other statics.
pub(super) struct StaticInterface(pub(super) CK_INTERFACE);

// SAFETY: the pointers inside refer to immutable statics that live for the whole program
// and are never written through, so sharing them between threads is sound.
unsafe impl Sync for StaticInterface {}

/// Interfaces offered, default first: 3.0, then 2.40.
pub(super) static INTERFACES: [StaticInterface; 2] = [
    StaticInterface(CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST_3_0 as *const CK_FUNCTION_LIST_3_0 as *mut std::ffi::c_void,
        flags: 0,
    }),
    StaticInterface(CK_INTERFACE {
        pInterfaceName: INTERFACE_NAME.as_ptr() as *mut CK_UTF8CHAR,
        pFunctionList: &FUNCTION_LIST_2_40 as *const CK_FUNCTION_LIST as *mut std::ffi::c_void,
        flags: 0,
    }),
];

/// The version of the function list behind interface `i`.
pub(super) fn interface_version(i: &StaticInterface) -> CK_VERSION {
    if std::ptr::eq(
        i.0.pFunctionList as *const CK_FUNCTION_LIST_3_0,
        &FUNCTION_LIST_3_0,
    ) {
        FUNCTION_LIST_3_0.version
    } else {
        FUNCTION_LIST_2_40.version
    }
}
