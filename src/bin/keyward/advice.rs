//! What an administrator should do about an error the token returned: its CKR name, what it
//! means here and the next step. Used wherever a command has no more specific explanation.

use keyward::error::Error;

/// `CKR_NAME: what happened; what to do` (or only the name, where the name says it all).
pub(crate) fn describe(e: &Error) -> String {
    match advice(e) {
        Some(next) => format!("{}: {next}", e.ckr_name()),
        None => e.ckr_name().to_string(),
    }
}

fn advice(e: &Error) -> Option<&'static str> {
    use Error::*;
    Some(match e {
        TokenNotRecognized | TokenNotPresent => {
            "the token is not initialised: run `keyward init --label NAME` (the store is \
             chosen by KEYWARD_DIR or KEYWARD_CONF; `keyward info` shows it)"
        }
        SlotIdInvalid => "no such slot: `keyward info` lists the slots",
        PinIncorrect => {
            "wrong PIN (from --pin-file, KEYWARD_PIN or the prompt); every failure counts \
             towards the lock"
        }
        PinLocked => {
            "the PIN is locked after too many failures: the SO sets a new user PIN \
             (C_InitPIN, e.g. pkcs11-tool --init-pin), an admin unlocks a named user \
             (`keyward user unlock NAME`)"
        }
        PinLenRange => "the PIN's length is outside the slot's pin_min_len..pin_max_len",
        UserPinNotInitialized => "the token has no user PIN yet: the SO sets one (C_InitPIN)",
        UserNotLoggedIn | UserTypeInvalid => {
            "this needs another role: name a user who has it with --user NAME"
        }
        ActionProhibited => "your role may not do this: `keyward user list` shows the roles",
        KeyHandleInvalid | ObjectHandleInvalid => {
            "no such key: `keyward key list` shows the keys and their URIs"
        }
        KeyFunctionNotPermitted => {
            "the key's state, dates, usage limits or ACL forbid it: `keyward key show URI`"
        }
        KeyUnextractable => "the key is not extractable (only its public part can be exported)",
        AttributeValueInvalid | TemplateInconsistent | TemplateIncomplete => {
            "the key's attributes do not fit: see the command's --help"
        }
        DeviceError | DeviceMemory | GeneralError => {
            "the store could not be used or an object failed its integrity check: run \
             `keyward store verify` and `keyward doctor`"
        }
        DeviceRemoved => {
            "the delegate slot's device is unavailable: check the device module, its token \
             and PIN source (docs/delegation.md); the slot reconnects by itself"
        }
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_the_code_and_the_next_step() {
        let text = describe(&Error::TokenNotRecognized);
        assert!(text.starts_with("CKR_TOKEN_NOT_RECOGNIZED: "), "{text}");
        assert!(text.contains("keyward init"), "{text}");
        assert_eq!(describe(&Error::DataLenRange), "CKR_DATA_LEN_RANGE");
    }
}
