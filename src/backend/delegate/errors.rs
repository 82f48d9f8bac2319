//! Device errors as Keyward errors: each `CKR_*` the device returns passes through as the
//! matching [`Error`], except the codes that mean the device (or our connection to it) is gone,
//! which become `CKR_DEVICE_REMOVED` / `CKR_DEVICE_ERROR` and drop the connection.

use cryptoki::error::{Error as P11Error, RvError};

use crate::error::Error;

/// A failed device call: the error for Keyward's caller, and whether the connection is lost
/// (its sessions, login and object handles are void; the next call reconnects).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Failure {
    pub(super) error: Error,
    pub(super) lost: bool,
}

/// Result of a step that talks to the device.
pub(super) type DeviceResult<T> = std::result::Result<T, Failure>;

impl Failure {
    /// The connection is gone: `error` is CKR_DEVICE_REMOVED or CKR_DEVICE_ERROR.
    pub(super) fn lost(error: Error) -> Self {
        Failure { error, lost: true }
    }
}

/// A Keyward-side error (bad mechanism, bad template): the connection is fine.
impl From<Error> for Failure {
    fn from(error: Error) -> Self {
        Failure { error, lost: false }
    }
}

impl From<P11Error> for Failure {
    fn from(e: P11Error) -> Self {
        classify(&e)
    }
}

/// What a `cryptoki` error means. A module that cannot be loaded, or lacks a function, is an
/// unavailable device; a value `cryptoki` cannot convert is a device error on a live connection.
pub(super) fn classify(e: &P11Error) -> Failure {
    match e {
        P11Error::Pkcs11(rv, _) => classify_rv(*rv),
        P11Error::LibraryLoading(_)
        | P11Error::MissingSymbol(_)
        | P11Error::NullFunctionPointer => Failure::lost(Error::DeviceError),
        P11Error::PinNotSet => Error::PinIncorrect.into(),
        _ => Error::DeviceError.into(),
    }
}

/// A device return code: lost-connection codes first, every other one passed through.
pub(super) fn classify_rv(rv: RvError) -> Failure {
    match rv {
        RvError::DeviceRemoved | RvError::TokenNotPresent => Failure::lost(Error::DeviceRemoved),
        RvError::DeviceError
        | RvError::SessionHandleInvalid
        | RvError::SessionClosed
        | RvError::UserNotLoggedIn
        | RvError::CryptokiNotInitialized
        | RvError::TokenNotRecognized
        | RvError::SlotIdInvalid => Failure::lost(Error::DeviceError),
        other => pass_through(other).into(),
    }
}

/// The Keyward error with the same `CKR_*` code; codes Keyward has no variant for (or that
/// would mislead its caller, such as CKR_CRYPTOKI_ALREADY_INITIALIZED) are CKR_DEVICE_ERROR.
pub(super) fn pass_through(rv: RvError) -> Error {
    use RvError as R;
    match rv {
        R::HostMemory => Error::HostMemory,
        R::GeneralError => Error::GeneralError,
        R::FunctionFailed => Error::FunctionFailed,
        R::ArgumentsBad => Error::ArgumentsBad,
        R::AttributeReadOnly => Error::AttributeReadOnly,
        R::AttributeSensitive => Error::AttributeSensitive,
        R::AttributeTypeInvalid => Error::AttributeTypeInvalid,
        R::AttributeValueInvalid => Error::AttributeValueInvalid,
        R::ActionProhibited => Error::ActionProhibited,
        R::DataInvalid => Error::DataInvalid,
        R::DataLenRange => Error::DataLenRange,
        R::DeviceMemory => Error::DeviceMemory,
        R::DeviceRemoved => Error::DeviceRemoved,
        R::EncryptedDataInvalid => Error::EncryptedDataInvalid,
        R::EncryptedDataLenRange => Error::EncryptedDataLenRange,
        R::FunctionCanceled => Error::FunctionCanceled,
        R::FunctionNotSupported => Error::FunctionNotSupported,
        R::CurveNotSupported => Error::CurveNotSupported,
        R::KeyHandleInvalid => Error::KeyHandleInvalid,
        R::KeySizeRange => Error::KeySizeRange,
        R::KeyTypeInconsistent => Error::KeyTypeInconsistent,
        R::KeyNotNeeded => Error::KeyNotNeeded,
        R::KeyChanged => Error::KeyChanged,
        R::KeyNeeded => Error::KeyNeeded,
        R::KeyIndigestible => Error::KeyIndigestible,
        R::KeyFunctionNotPermitted => Error::KeyFunctionNotPermitted,
        R::KeyNotWrappable => Error::KeyNotWrappable,
        R::KeyUnextractable => Error::KeyUnextractable,
        R::MechanismInvalid => Error::MechanismInvalid,
        R::MechanismParamInvalid => Error::MechanismParamInvalid,
        R::ObjectHandleInvalid => Error::ObjectHandleInvalid,
        R::OperationActive => Error::OperationActive,
        R::OperationNotInitialized => Error::OperationNotInitialized,
        R::PinIncorrect => Error::PinIncorrect,
        R::PinInvalid => Error::PinInvalid,
        R::PinLenRange => Error::PinLenRange,
        R::PinExpired => Error::PinExpired,
        R::PinLocked => Error::PinLocked,
        R::PinTooWeak => Error::PinTooWeak,
        R::SessionClosed => Error::SessionClosed,
        R::SessionCount => Error::SessionCount,
        R::SessionHandleInvalid => Error::SessionHandleInvalid,
        R::SessionParallelNotSupported => Error::SessionParallelNotSupported,
        R::SessionReadOnly => Error::SessionReadOnly,
        R::SessionExists => Error::SessionExists,
        R::SessionReadOnlyExists => Error::SessionReadOnlyExists,
        R::SessionReadWriteSoExists => Error::SessionReadWriteSoExists,
        R::SignatureInvalid => Error::SignatureInvalid,
        R::SignatureLenRange => Error::SignatureLenRange,
        R::TemplateIncomplete => Error::TemplateIncomplete,
        R::TemplateInconsistent => Error::TemplateInconsistent,
        R::TokenNotPresent => Error::TokenNotPresent,
        R::TokenNotRecognized => Error::TokenNotRecognized,
        R::TokenWriteProtected => Error::TokenWriteProtected,
        R::UnwrappingKeyHandleInvalid => Error::UnwrappingKeyHandleInvalid,
        R::UnwrappingKeySizeRange => Error::UnwrappingKeySizeRange,
        R::UnwrappingKeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
        R::UserAlreadyLoggedIn => Error::UserAlreadyLoggedIn,
        R::UserNotLoggedIn => Error::UserNotLoggedIn,
        R::UserPinNotInitialized => Error::UserPinNotInitialized,
        R::UserTypeInvalid => Error::UserTypeInvalid,
        R::UserAnotherAlreadyLoggedIn => Error::UserAnotherAlreadyLoggedIn,
        R::UserTooManyTypes => Error::UserTooManyTypes,
        R::WrappedKeyInvalid => Error::WrappedKeyInvalid,
        R::WrappedKeyLenRange => Error::WrappedKeyLenRange,
        R::WrappingKeyHandleInvalid => Error::WrappingKeyHandleInvalid,
        R::WrappingKeySizeRange => Error::WrappingKeySizeRange,
        R::WrappingKeyTypeInconsistent => Error::WrappingKeyTypeInconsistent,
        R::RandomSeedNotSupported => Error::RandomSeedNotSupported,
        R::RandomNoRng => Error::RandomNoRng,
        R::DomainParamsInvalid => Error::DomainParamsInvalid,
        R::BufferTooSmall => Error::BufferTooSmall,
        R::SavedStateInvalid => Error::SavedStateInvalid,
        R::InformationSensitive => Error::InformationSensitive,
        R::StateUnsaveable => Error::StateUnsaveable,
        R::PublicKeyInvalid => Error::PublicKeyInvalid,
        R::FunctionRejected => Error::FunctionRejected,
        _ => Error::DeviceError,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cryptoki::context::Function;

    #[test]
    fn lost_device_codes_drop_the_connection() {
        for rv in [RvError::DeviceRemoved, RvError::TokenNotPresent] {
            assert_eq!(classify_rv(rv), Failure::lost(Error::DeviceRemoved));
        }
        for rv in [
            RvError::DeviceError,
            RvError::SessionHandleInvalid,
            RvError::SessionClosed,
            RvError::UserNotLoggedIn,
            RvError::CryptokiNotInitialized,
        ] {
            assert_eq!(classify_rv(rv), Failure::lost(Error::DeviceError));
        }
    }

    #[test]
    fn other_codes_pass_through_with_their_ckr() {
        for (rv, want) in [
            (RvError::PinIncorrect, sys::CKR_PIN_INCORRECT),
            (RvError::SignatureInvalid, sys::CKR_SIGNATURE_INVALID),
            (RvError::KeyHandleInvalid, sys::CKR_KEY_HANDLE_INVALID),
            (RvError::FunctionFailed, sys::CKR_FUNCTION_FAILED),
            (
                RvError::EncryptedDataInvalid,
                sys::CKR_ENCRYPTED_DATA_INVALID,
            ),
            (RvError::TokenWriteProtected, sys::CKR_TOKEN_WRITE_PROTECTED),
        ] {
            let f = classify(&P11Error::Pkcs11(rv, Function::Sign));
            assert!(!f.lost, "{rv:?}");
            assert_eq!(f.error.rv(), want, "{rv:?}");
        }
        assert_eq!(
            pass_through(RvError::CryptokiAlreadyInitialized),
            Error::DeviceError
        );
        assert_eq!(
            pass_through(RvError::VendorDefined(0x8000_0001)),
            Error::DeviceError
        );
    }

    use cryptoki_sys as sys;
}
