//! A hasher for handle-keyed maps. Handles are small integers the module hands out itself, so
//! nobody can choose them to collide; SipHash's flood resistance buys nothing here and costs
//! time on every call (the session map is looked up several times per operation).

use std::hash::{BuildHasherDefault, Hasher};

/// Fibonacci hashing of one integer key.
#[derive(Default)]
pub struct HandleHasher(u64);

impl Hasher for HandleHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
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
}
