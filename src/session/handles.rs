//! A hasher for handle-keyed maps. Handles are small integers the module hands out itself, so
//! nobody can choose them to collide; SipHash's flood resistance buys nothing here and costs
//! time on every call (the session map is looked up several times per operation). Also for
//! a delegate slot's device-handle cache, keyed by CKA_ID: random bytes Keyward chose, or an
//! adopted key's id, which only the token's administrator chooses.

use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing of one integer key, or of a short byte string eight bytes at a time.
#[derive(Default)]
pub struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for w in &mut words {
            let mut word = [0u8; 8];
            word.copy_from_slice(w);
            self.write_u64(u64::from_le_bytes(word));
        }
        for b in words.remainder() {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// `HashMap<K, V, HandleHashing>` for handle keys.
pub type HandleHashing = BuildHasherDefault<HandleHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn distinct_handles_stay_distinct() {
        let mut m: HashMap<u64, u64, HandleHashing> = HashMap::default();
        for h in 1..10_000u64 {
            m.insert(h, h * 2);
        }
        assert!((1..10_000u64).all(|h| m[&h] == h * 2));
    }

    #[test]
    fn distinct_ids_stay_distinct() {
        let ids: Vec<Box<[u8]>> = (0..5_000u32)
            .map(|i| {
                let mut id = vec![0u8; 16 + (i % 5) as usize];
                id[..4].copy_from_slice(&i.to_be_bytes());
                id[12..16].copy_from_slice(&i.to_le_bytes());
                id.into()
            })
            .collect();
        let m: HashMap<Box<[u8]>, usize, HandleHashing> = ids.iter().cloned().zip(0..).collect();
        assert_eq!(m.len(), ids.len());
        assert!(ids.iter().enumerate().all(|(i, id)| m[id] == i));
        let hash = |b: &[u8]| {
            let mut h = HandleHasher::default();
            h.write(b);
            h.finish()
        };
        assert_ne!(
            hash(&[1, 0, 0, 0, 0, 0, 0, 0, 0]),
            hash(&[0, 0, 0, 0, 0, 0, 0, 0, 1])
        );
    }
}
