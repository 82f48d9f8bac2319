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

use crate::audit::Event;
use crate::object::Object;

/// What a key use asks: this key, for this usage, with this mechanism, with the token at this
/// generation (read before the checks ran), on this day (YYYYMMDD, UTC).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Question {
    pub key: CK_OBJECT_HANDLE,
    pub usage: CK_ATTRIBUTE_TYPE,
    pub mechanism: CK_MECHANISM_TYPE,
    pub generation: u64,
    pub day: [u8; 8],
}

/// A granted key use: the question, the key object the operation uses, and the audit record
/// of the use (the same at each reuse: same session, key, mechanism, and, at the same
/// generation, the same user; None when the token keeps no trail).
#[derive(Debug)]
pub struct Grant {
    pub question: Question,
    pub object: Weak<Object>,
    pub event: Option<Arc<Event>>,
}

/// A session's last grant (none at first).
#[derive(Debug, Default)]
pub struct LastGrant(Mutex<Option<Grant>>);

impl LastGrant {
    /// The key object and audit record of the last grant, if it answered this very question
    /// and its object is still alive.
    pub fn reuse(&self, question: &Question) -> Option<(Arc<Object>, Option<Arc<Event>>)> {
        let last = self.0.lock().ok()?;
        let g = last.as_ref().filter(|g| g.question == *question)?;
        Some((g.object.upgrade()?, g.event.clone()))
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

    fn question() -> Question {
        Question {
            key: 5,
            usage: CKA_SIGN,
            mechanism: CKM_SHA256_HMAC,
            generation: 1,
            day: *b"20261207",
        }
    }

    #[test]
    fn reused_only_for_the_same_question_while_the_object_lives() {
        let last = LastGrant::default();
        assert!(last.reuse(&question()).is_none());
        let object = object();
        let event = Event {
            operation: "sign".into(),
            ..Event::default()
        };
        last.remember(Grant {
            question: question(),
            object: Arc::downgrade(&object),
            event: Some(Arc::new(event.clone())),
        });
        let (hit, recorded) = last.reuse(&question()).unwrap();
        assert!(Arc::ptr_eq(&hit, &object));
        assert_eq!(recorded.as_deref(), Some(&event));
        let other = [
            Question {
                key: 6,
                ..question()
            },
            Question {
                usage: CKA_VERIFY,
                ..question()
            },
            Question {
                mechanism: CKM_SHA384_HMAC,
                ..question()
            },
            Question {
                generation: 2,
                ..question()
            },
            Question {
                day: *b"20261208",
                ..question()
            },
        ];
        for q in other {
            assert!(last.reuse(&q).is_none(), "{q:?}");
        }
        drop((hit, object));
        assert!(
            last.reuse(&question()).is_none(),
            "the grant kept its object alive"
        );
    }
}
