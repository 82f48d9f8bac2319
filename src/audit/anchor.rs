//! The anchor: the last checkpointed `(seq, chain hash)`, authenticated with the checkpoint
//! key and kept OUTSIDE the trail (in the token database), so that dropping the tail of the
//! trail together with the checkpoints that covered it is detected.
//!
//! Checkpoints and anchors name the key that made them by a key identifier: the first eight
//! bytes of `HMAC-SHA256(key, "keyward/v1/audit-key-id")`, which reveals nothing of the key.
//! A re-initialised token has a new master key, so a new checkpoint key: checkpoints made
//! before cannot be checked any more, and verification relies on a later checkpoint (or the
//! anchor) made with the current key, whose chain hash covers everything before it.

use aws_lc_rs::constant_time::verify_slices_are_equal;
use aws_lc_rs::hmac;

use super::chain::{GENESIS, HASH_LEN};
use crate::error::Result;

/// Length of a key identifier.
pub(super) const KEY_ID_LEN: usize = 8;

const KEY_ID_DOMAIN: &[u8] = b"keyward/v1/audit-key-id";
const ANCHOR_DOMAIN: &[u8] = b"keyward/v1/audit-anchor";

/// The non-secret identifier of checkpoint key `key`.
pub fn key_id(key: &[u8; HASH_LEN]) -> [u8; KEY_ID_LEN] {
    let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), KEY_ID_DOMAIN);
    let mut out = [0; KEY_ID_LEN];
    out.copy_from_slice(&tag.as_ref()[..KEY_ID_LEN]);
    out
}

/// HMAC-SHA256 of `parts` under `key`.
pub(super) fn mac(key: &[u8; HASH_LEN], parts: &[&[u8]]) -> [u8; HASH_LEN] {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&key);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0; HASH_LEN];
    out.copy_from_slice(ctx.sign().as_ref());
    out
}

/// The anchor as stored: `mac = HMAC-SHA256(key, "keyward/v1/audit-anchor" || key_id ||
/// seq as 8 bytes big-endian || hash)`. Seq 0 (with the genesis hash) anchors nothing yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Anchor {
    pub key_id: Vec<u8>,
    pub seq: u64,
    pub hash: Vec<u8>,
    pub mac: Vec<u8>,
}

impl Anchor {
    /// The anchor of `(seq, hash)` under `key`.
    pub fn new(key: &[u8; HASH_LEN], seq: u64, hash: &[u8]) -> Self {
        let id = key_id(key);
        Anchor {
            key_id: id.to_vec(),
            seq,
            hash: hash.to_vec(),
            mac: mac(key, &[ANCHOR_DOMAIN, &id, &seq.to_be_bytes(), hash]).to_vec(),
        }
    }

    /// The anchor of an empty trail.
    pub fn genesis(key: &[u8; HASH_LEN]) -> Self {
        Self::new(key, 0, &GENESIS)
    }

    /// Whether this anchor was made with `key` (its identifier and MAC both match).
    pub fn made_with(&self, key: &[u8; HASH_LEN]) -> bool {
        let want = Self::new(key, self.seq, &self.hash);
        self.key_id == want.key_id && verify_slices_are_equal(&want.mac, &self.mac).is_ok()
    }
}

/// Where the anchor is kept, outside the trail (the token database). The flusher advances it
/// after each checkpoint it commits.
pub trait AnchorStore: Send {
    /// The anchor as stored, if there is one. `CKR_DEVICE_ERROR` if it cannot be read.
    fn load(&mut self) -> Result<Option<Anchor>>;
    /// Replace the stored anchor by `new` if the stored one has the same key identifier and
    /// an older seq; false if it was not replaced. `CKR_DEVICE_ERROR` if it cannot be written.
    fn advance(&mut self, new: &Anchor) -> Result<bool>;
}

/// What `verify` is told about the anchor.
#[derive(Clone, Copy, Debug)]
pub enum Anchored<'a> {
    /// The token keeps an anchor: this one, read before the trail (None: it is missing,
    /// which is itself a failure).
    Kept(Option<&'a Anchor>),
    /// No anchor is kept for this trail (a copy of the file verified on its own): then
    /// truncation under the last checkpoint cannot be told from a shorter trail.
    NotKept,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_bound_to_their_key_and_content() {
        let k1 = [1u8; 32];
        let k2 = [2u8; 32];
        assert_ne!(key_id(&k1), key_id(&k2));
        let a = Anchor::new(&k1, 7, &[9; 32]);
        assert!(a.made_with(&k1) && !a.made_with(&k2));
        let moved = Anchor {
            seq: 8,
            ..a.clone()
        };
        assert!(!moved.made_with(&k1), "seq is authenticated");
        let rehashed = Anchor {
            hash: vec![8; 32],
            ..a
        };
        assert!(!rehashed.made_with(&k1), "hash is authenticated");
        assert!(Anchor::genesis(&k1).made_with(&k1));
    }
}
