//! Key lifecycle (NIST SP 800-57 Part 1 §5.3, KMIP §3.22): the states, the transitions
//! between them, and which operations each state allows. `docs/lifecycle.md` draws it.

use cryptoki_sys::*;

use crate::error::{Error, Result};
use crate::object::attr::{parse_ulong, Attributes};
use crate::object::vendor::*;

/// What an operation does with a key: apply protection, or process protected data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// Sign, encrypt, wrap, derive: needs an active key within its dates.
    Protect,
    /// Verify, decrypt, unwrap: also allowed on suspended and deactivated keys.
    Process,
}

impl Use {
    /// The kind of use a usage attribute (CKA_SIGN, CKA_VERIFY …) stands for.
    pub fn of(usage: CK_ATTRIBUTE_TYPE) -> Self {
        match usage {
            CKA_VERIFY | CKA_DECRYPT | CKA_UNWRAP | CKA_VERIFY_RECOVER => Use::Process,
            _ => Use::Protect,
        }
    }
}

/// Whether the lifecycle allows moving from `from` to `to` (a no-op change is allowed).
pub fn transition_allowed(from: CK_ULONG, to: CK_ULONG) -> bool {
    if from == to {
        return true;
    }
    matches!(
        (from, to),
        (
            KW_STATE_PRE_ACTIVE,
            KW_STATE_ACTIVE | KW_STATE_DEACTIVATED | KW_STATE_COMPROMISED
        ) | (
            KW_STATE_ACTIVE,
            KW_STATE_SUSPENDED | KW_STATE_DEACTIVATED | KW_STATE_COMPROMISED
        ) | (
            KW_STATE_SUSPENDED,
            KW_STATE_ACTIVE | KW_STATE_DEACTIVATED | KW_STATE_COMPROMISED
        ) | (KW_STATE_DEACTIVATED, KW_STATE_COMPROMISED)
    )
}

/// The states a key may be created in.
pub fn initial_state_allowed(state: CK_ULONG) -> bool {
    matches!(state, KW_STATE_PRE_ACTIVE | KW_STATE_ACTIVE)
}

/// The revocation reasons a key may record.
pub fn reason_valid(reason: CK_ULONG) -> bool {
    (KW_REASON_NONE..=KW_REASON_PRIVILEGE_WITHDRAWN).contains(&reason)
}

/// The state of a key's attributes (keys made before lifecycle existed count as active).
pub fn state_of(attrs: &Attributes) -> CK_ULONG {
    attrs
        .get(CKA_KW_STATE)
        .and_then(|v| parse_ulong(v).ok())
        .unwrap_or(KW_STATE_ACTIVE)
}

/// Today as a CK_DATE ("YYYYMMDD"), in UTC.
pub fn today() -> [u8; 8] {
    thread_local! {
        /// (days since the epoch, that day as YYYYMMDD): dates change once a day, and this
        /// runs on every protect operation.
        static CACHE: std::cell::Cell<(u64, [u8; 8])> = const { std::cell::Cell::new((u64::MAX, [0; 8])) };
    }
    let day = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() / 86_400);
    CACHE.with(|c| {
        let (cached_day, text) = c.get();
        if cached_day == day {
            return text;
        }
        let d = time::OffsetDateTime::now_utc().date();
        let s = format!("{:04}{:02}{:02}", d.year(), u8::from(d.month()), d.day());
        let text = s.as_bytes().try_into().unwrap_or(*b"00000000");
        c.set((day, text));
        text
    })
}

/// Seconds since the Unix epoch, for CKA_KW_STATE_CHANGED.
pub fn now_seconds() -> CK_ULONG {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as CK_ULONG)
}

/// Whether an active key with a rotation period is past due at `now` (Unix seconds).
pub fn rotation_due(attrs: &Attributes, now: CK_ULONG) -> bool {
    let period = attrs.ulong(CKA_KW_ROTATION_PERIOD).unwrap_or(0);
    let created = attrs.ulong(CKA_KW_CREATED).unwrap_or(now);
    period > 0 && state_of(attrs) == KW_STATE_ACTIVE && now.saturating_sub(created) >= period
}

/// Whether `today` lies within CKA_START_DATE..=CKA_END_DATE (an empty date is no bound).
fn within_dates(attrs: &Attributes, today: &[u8; 8]) -> bool {
    let bound = |ty| attrs.get(ty).filter(|v| v.len() == 8);
    bound(CKA_START_DATE).is_none_or(|start| start <= &today[..])
        && bound(CKA_END_DATE).is_none_or(|end| &today[..] <= end)
}

/// May a key with these attributes be used this way today? CKR_KEY_FUNCTION_NOT_PERMITTED if
/// its state or its validity dates forbid it. `compromised_processing` is the token's policy
/// for processing with a compromised key.
pub fn authorize(
    attrs: &Attributes,
    usage: Use,
    today: &[u8; 8],
    compromised_processing: bool,
) -> Result<()> {
    let allowed = match (state_of(attrs), usage) {
        (KW_STATE_ACTIVE, Use::Protect) => within_dates(attrs, today),
        (KW_STATE_ACTIVE | KW_STATE_SUSPENDED | KW_STATE_DEACTIVATED, Use::Process) => true,
        (KW_STATE_COMPROMISED, Use::Process) => compromised_processing,
        _ => false,
    };
    allowed.then_some(()).ok_or(Error::KeyFunctionNotPermitted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(state: CK_ULONG, start: &[u8], end: &[u8]) -> Attributes {
        let mut a = Attributes::new();
        a.set_ulong(CKA_KW_STATE, state);
        a.set(CKA_START_DATE, start.to_vec());
        a.set(CKA_END_DATE, end.to_vec());
        a
    }

    const ALL: [CK_ULONG; 6] = [
        KW_STATE_PRE_ACTIVE,
        KW_STATE_ACTIVE,
        KW_STATE_SUSPENDED,
        KW_STATE_DEACTIVATED,
        KW_STATE_COMPROMISED,
        KW_STATE_DESTROYED,
    ];

    #[test]
    fn each_state_allows_exactly_its_operations() {
        let today = *b"20261123";
        let expect = [
            (KW_STATE_PRE_ACTIVE, false, false),
            (KW_STATE_ACTIVE, true, true),
            (KW_STATE_SUSPENDED, false, true),
            (KW_STATE_DEACTIVATED, false, true),
            (KW_STATE_COMPROMISED, false, false),
            (KW_STATE_DESTROYED, false, false),
        ];
        for (state, protect, process) in expect {
            let k = key(state, b"", b"");
            assert_eq!(
                authorize(&k, Use::Protect, &today, false).is_ok(),
                protect,
                "{state}"
            );
            assert_eq!(
                authorize(&k, Use::Process, &today, false).is_ok(),
                process,
                "{state}"
            );
        }
        let compromised = key(KW_STATE_COMPROMISED, b"", b"");
        assert!(authorize(&compromised, Use::Process, &today, true).is_ok());
        assert!(authorize(&compromised, Use::Protect, &today, true).is_err());
    }

    #[test]
    fn rotation_is_due_after_the_period_for_active_keys() {
        let mut k = key(KW_STATE_ACTIVE, b"", b"");
        k.set_ulong(CKA_KW_CREATED, 1000);
        assert!(!rotation_due(&k, 5000), "no period: never due");
        k.set_ulong(CKA_KW_ROTATION_PERIOD, 3600);
        assert!(!rotation_due(&k, 4599));
        assert!(rotation_due(&k, 4600));
        k.set_ulong(CKA_KW_STATE, KW_STATE_DEACTIVATED);
        assert!(!rotation_due(&k, 9999), "only the current version rotates");
    }

    #[test]
    fn dates_bound_protection_only() {
        let today = *b"20261123";
        for (start, end, ok) in [
            (&b"20261123"[..], &b"20261123"[..], true),
            (b"20261124", b"", false),
            (b"", b"20261122", false),
            (b"20200101", b"20301231", true),
        ] {
            let k = key(KW_STATE_ACTIVE, start, end);
            assert_eq!(authorize(&k, Use::Protect, &today, false).is_ok(), ok);
            assert!(authorize(&k, Use::Process, &today, false).is_ok());
        }
    }

    #[test]
    fn transitions_follow_the_state_machine() {
        let legal = [
            (KW_STATE_PRE_ACTIVE, KW_STATE_ACTIVE),
            (KW_STATE_ACTIVE, KW_STATE_SUSPENDED),
            (KW_STATE_SUSPENDED, KW_STATE_ACTIVE),
            (KW_STATE_ACTIVE, KW_STATE_DEACTIVATED),
            (KW_STATE_DEACTIVATED, KW_STATE_COMPROMISED),
        ];
        for (a, b) in legal {
            assert!(transition_allowed(a, b), "{a}->{b}");
        }
        let illegal = [
            (KW_STATE_DEACTIVATED, KW_STATE_ACTIVE),
            (KW_STATE_COMPROMISED, KW_STATE_ACTIVE),
            (KW_STATE_COMPROMISED, KW_STATE_DEACTIVATED),
            (KW_STATE_ACTIVE, KW_STATE_PRE_ACTIVE),
            (KW_STATE_PRE_ACTIVE, KW_STATE_SUSPENDED),
        ];
        for (a, b) in illegal {
            assert!(!transition_allowed(a, b), "{a}->{b}");
        }
        // Nothing leaves "destroyed", and no transition leads to it (C_DestroyObject does).
        for s in ALL {
            assert_eq!(
                transition_allowed(KW_STATE_DESTROYED, s),
                s == KW_STATE_DESTROYED
            );
            assert_eq!(
                transition_allowed(s, KW_STATE_DESTROYED),
                s == KW_STATE_DESTROYED
            );
        }
        assert!(today().iter().all(u8::is_ascii_digit));
    }
}
