//! One semantic error type for the whole module, mapped to `CK_RV` in exactly one place.

use cryptoki_sys::*;

/// Every failure a PKCS#11 call can report. Variants carry no secret data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    ArgumentsBad,
    ActionProhibited,
    NotInitialized,
    AlreadyInitialized,
    FunctionNotSupported,
    SlotIdInvalid,
    TokenNotPresent,
    TokenNotRecognized,
    SessionHandleInvalid,
    SessionCount,
    SessionReadOnly,
    SessionExists,
    SessionReadOnlyExists,
    SessionReadWriteSoExists,
    SessionParallelNotSupported,
    ObjectHandleInvalid,
    KeyHandleInvalid,
    KeyTypeInconsistent,
    KeyFunctionNotPermitted,
    KeySizeRange,
    KeyNotNeeded,
    StateUnsaveable,
    SavedStateInvalid,
    KeyUnextractable,
    KeyNotWrappable,
    WrappedKeyInvalid,
    WrappedKeyLenRange,
    MechanismInvalid,
    MechanismParamInvalid,
    OperationActive,
    OperationNotInitialized,
    AttributeTypeInvalid,
    AttributeValueInvalid,
    AttributeReadOnly,
    AttributeSensitive,
    TemplateIncomplete,
    TemplateInconsistent,
    DataInvalid,
    DataLenRange,
    EncryptedDataInvalid,
    EncryptedDataLenRange,
    SignatureInvalid,
    SignatureLenRange,
    BufferTooSmall,
    PinIncorrect,
    PinInvalid,
    PinLenRange,
    PinLocked,
    PinExpired,
    UserNotLoggedIn,
    UserAlreadyLoggedIn,
    UserAnotherAlreadyLoggedIn,
    UserPinNotInitialized,
    UserTypeInvalid,
    UserTooManyTypes,
    RandomSeedNotSupported,
    DomainParamsInvalid,
    CurveNotSupported,
    DeviceError,
    DeviceMemory,
    DeviceRemoved,
    FunctionFailed,
    FunctionCanceled,
    FunctionRejected,
    SessionClosed,
    TokenWriteProtected,
    KeyChanged,
    KeyNeeded,
    KeyIndigestible,
    WrappingKeyHandleInvalid,
    WrappingKeySizeRange,
    WrappingKeyTypeInconsistent,
    UnwrappingKeyHandleInvalid,
    UnwrappingKeySizeRange,
    UnwrappingKeyTypeInconsistent,
    RandomNoRng,
    InformationSensitive,
    PinTooWeak,
    PublicKeyInvalid,
    HostMemory,
    GeneralError,
}

/// Result alias used across the crate.
pub type Result<T> = std::result::Result<T, Error>;

/// One table maps each error to its `CK_RV` and to that code's name.
macro_rules! ckr_table {
    ($($variant:ident => $rv:ident,)*) => {
        impl Error {
            /// The PKCS#11 return value for this error: the one exhaustive mapping.
            pub fn rv(self) -> CK_RV {
                match self {
                    $(Error::$variant => $rv,)*
                }
            }

            /// The name of [`Self::rv`] ("CKR_PIN_INCORRECT"), for audit records and messages.
            pub fn ckr_name(self) -> &'static str {
                match self {
                    $(Error::$variant => stringify!($rv),)*
                }
            }
        }
    };
}

ckr_table! {
    ArgumentsBad => CKR_ARGUMENTS_BAD,
    ActionProhibited => CKR_ACTION_PROHIBITED,
    NotInitialized => CKR_CRYPTOKI_NOT_INITIALIZED,
    AlreadyInitialized => CKR_CRYPTOKI_ALREADY_INITIALIZED,
    FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
    SlotIdInvalid => CKR_SLOT_ID_INVALID,
    TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
    TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
    SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
    SessionCount => CKR_SESSION_COUNT,
    SessionReadOnly => CKR_SESSION_READ_ONLY,
    SessionExists => CKR_SESSION_EXISTS,
    SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
    SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
    SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
    KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
    KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
    KeyFunctionNotPermitted => CKR_KEY_FUNCTION_NOT_PERMITTED,
    KeySizeRange => CKR_KEY_SIZE_RANGE,
    KeyNotNeeded => CKR_KEY_NOT_NEEDED,
    StateUnsaveable => CKR_STATE_UNSAVEABLE,
    SavedStateInvalid => CKR_SAVED_STATE_INVALID,
    KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
    KeyNotWrappable => CKR_KEY_NOT_WRAPPABLE,
    WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
    WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
    MechanismInvalid => CKR_MECHANISM_INVALID,
    MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
    OperationActive => CKR_OPERATION_ACTIVE,
    OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
    AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
    AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
    AttributeReadOnly => CKR_ATTRIBUTE_READ_ONLY,
    AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
    TemplateIncomplete => CKR_TEMPLATE_INCOMPLETE,
    TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
    DataInvalid => CKR_DATA_INVALID,
    DataLenRange => CKR_DATA_LEN_RANGE,
    EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
    EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
    SignatureInvalid => CKR_SIGNATURE_INVALID,
    SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
    BufferTooSmall => CKR_BUFFER_TOO_SMALL,
    PinIncorrect => CKR_PIN_INCORRECT,
    PinInvalid => CKR_PIN_INVALID,
    PinLenRange => CKR_PIN_LEN_RANGE,
    PinLocked => CKR_PIN_LOCKED,
    PinExpired => CKR_PIN_EXPIRED,
    UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
    UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
    UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
    UserTypeInvalid => CKR_USER_TYPE_INVALID,
    UserTooManyTypes => CKR_USER_TOO_MANY_TYPES,
    RandomSeedNotSupported => CKR_RANDOM_SEED_NOT_SUPPORTED,
    DomainParamsInvalid => CKR_DOMAIN_PARAMS_INVALID,
    CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
    DeviceError => CKR_DEVICE_ERROR,
    DeviceMemory => CKR_DEVICE_MEMORY,
    DeviceRemoved => CKR_DEVICE_REMOVED,
    FunctionFailed => CKR_FUNCTION_FAILED,
    FunctionCanceled => CKR_FUNCTION_CANCELED,
    FunctionRejected => CKR_FUNCTION_REJECTED,
    SessionClosed => CKR_SESSION_CLOSED,
    TokenWriteProtected => CKR_TOKEN_WRITE_PROTECTED,
    KeyChanged => CKR_KEY_CHANGED,
    KeyNeeded => CKR_KEY_NEEDED,
    KeyIndigestible => CKR_KEY_INDIGESTIBLE,
    WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
    WrappingKeySizeRange => CKR_WRAPPING_KEY_SIZE_RANGE,
    WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    UnwrappingKeySizeRange => CKR_UNWRAPPING_KEY_SIZE_RANGE,
    UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    RandomNoRng => CKR_RANDOM_NO_RNG,
    InformationSensitive => CKR_INFORMATION_SENSITIVE,
    PinTooWeak => CKR_PIN_TOO_WEAK,
    PublicKeyInvalid => CKR_PUBLIC_KEY_INVALID,
    HostMemory => CKR_HOST_MEMORY,
    GeneralError => CKR_GENERAL_ERROR,
}

impl Error {
    /// Whether a failing C_Encrypt/C_Sign-style call must end the active operation.
    /// Per PKCS#11 3.0 §5.2, every failure except CKR_BUFFER_TOO_SMALL ends it.
    pub fn ends_operation(self) -> bool {
        self != Error::BufferTooSmall
    }

    /// CKR_KEY_HANDLE_INVALID as the code for a key in another role (C_WrapKey's wrapping
    /// key, C_UnwrapKey's unwrapping key have codes of their own, PKCS#11 3.0 §5.18).
    pub fn for_key_role(self, role: Error) -> Error {
        if self == Error::KeyHandleInvalid {
            role
        } else {
            self
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?} (0x{:x})", self.rv())
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(_: rusqlite::Error) -> Self {
        Error::DeviceError
    }
}
