//! The last key use a session was granted. A caller that signs many times with one key asks
//! C_SignInit the same question each time; when nothing the answer depends on has changed,
//! the session reuses it instead of running every check again.
//!
//! The answer depends on the key object and the object it is a copy of (attributes:
//! lifecycle state, dates, ACL, usage flags, allowed mechanisms), on who is logged in, and on
//! the date. Everything but the date lives in the token's state, and every change to that
//! state passes its write lock, which advances the token's generation (`Token::write`); a
//! change made by another process reaches the state through the same lock when the token
//! notices it (`Token::sync_if_written`, which runs before the question is asked). A grant
//! is therefore reused only for the same key, usage and mechanism, at the same generation
//! and on the same day. Keys whose use has effects or depends on the time of day (a usage
//! limit to count, a rotation period to honour) are never reused: see `reusable` in
//! `provider::crypto_ops`.
//!
//! A grant holds its key object weakly: it never keeps a destroyed key, or the keys of a
//! session that logged out, and their cached material, alive.

use std::sync::{Arc, Mutex, Weak};

use cryptoki_sys::*;

use crate::object::Object;

/// What a grant answered, and the question it answered.
#[derive(Clone, Debug)]
pub struct Grant {
    pub key: CK_OBJECT_HANDLE,
    pub usage: CK_ATTRIBUTE_TYPE,
    pub mechanism: CK_MECHANISM_TYPE,
    /// The token generation read before the checks ran.
    pub generation: u64,
    /// The day (YYYYMMDD, UTC) the checks ran.
    pub day: [u8; 8],
    /// The key object the operation uses.
    pub object: Weak<Object>,
}

/// A session's last grant (none at first).
#[derive(Debug, Default)]
pub struct LastGrant(Mutex<Option<Grant>>);

impl LastGrant {
    /// The key object of the last grant if it answered this very question.
    pub fn reuse(
        &self,
        key: CK_OBJECT_HANDLE,
        usage: CK_ATTRIBUTE_TYPE,
        mechanism: CK_MECHANISM_TYPE,
        generation: u64,
        day: &[u8; 8],
    ) -> Option<Arc<Object>> {
        let last = self.0.lock().ok()?;
        let g = last.as_ref()?;
        let same = g.key == key
            && g.usage == usage
            && g.mechanism == mechanism
            && g.generation == generation
            && g.day == *day;
        if same {
            g.object.upgrade()
        } else {
            None
        }
    }

    /// Remember `grant` (replacing the last one).
    pub fn remember(&self, grant: Grant) {
        if let Ok(mut last) = self.0.lock() {
            *last = Some(grant);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::object::Attributes;

    fn object() -> Arc<Object> {
        let mut a = Attributes::new();
        a.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
        a.set_ulong(CKA_KEY_TYPE, CKK_GENERIC_SECRET);
        Arc::new(Object::new(a).unwrap())
    }

    #[test]
    fn reused_only_for_the_same_question_generation_and_day() {
        let last = LastGrant::default();
        let day = *b"20261207";
        assert!(last.reuse(5, CKA_SIGN, CKM_SHA256_HMAC, 1, &day).is_none());
        let object = object();
        last.remember(Grant {
            key: 5,
            usage: CKA_SIGN,
            mechanism: CKM_SHA256_HMAC,
            generation: 1,
            day,
            object: Arc::downgrade(&object),
        });
        let hit = last.reuse(5, CKA_SIGN, CKM_SHA256_HMAC, 1, &day).unwrap();
        assert!(Arc::ptr_eq(&hit, &object));
        assert!(last.reuse(6, CKA_SIGN, CKM_SHA256_HMAC, 1, &day).is_none());
        assert!(last
            .reuse(5, CKA_VERIFY, CKM_SHA256_HMAC, 1, &day)
            .is_none());
        assert!(last.reuse(5, CKA_SIGN, CKM_SHA384_HMAC, 1, &day).is_none());
        assert!(last.reuse(5, CKA_SIGN, CKM_SHA256_HMAC, 2, &day).is_none());
        assert!(last
            .reuse(5, CKA_SIGN, CKM_SHA256_HMAC, 1, b"20261208")
            .is_none());
        drop((hit, object));
        assert!(
            last.reuse(5, CKA_SIGN, CKM_SHA256_HMAC, 1, &day).is_none(),
            "the grant kept its object alive"
        );
    }
}
