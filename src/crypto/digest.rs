//! Message digests (SHA-1, SHA-2) backed by `aws-lc-rs`.

use aws_lc_rs::digest as lc;

/// Supported digest algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlg {
    /// SHA-1 (legacy use only).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl DigestAlg {
    /// Digest output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            DigestAlg::Sha1 => 20,
            DigestAlg::Sha224 => 28,
            DigestAlg::Sha256 => 32,
            DigestAlg::Sha384 => 48,
            DigestAlg::Sha512 => 64,
        }
    }

    /// Internal block length in bytes (used by HMAC).
    pub fn block_len(self) -> usize {
        match self {
            DigestAlg::Sha1 | DigestAlg::Sha224 | DigestAlg::Sha256 => 64,
            DigestAlg::Sha384 | DigestAlg::Sha512 => 128,
        }
    }

    /// The matching `aws-lc-rs` algorithm.
    pub(crate) fn lc_alg(self) -> &'static lc::Algorithm {
        match self {
            DigestAlg::Sha1 => &lc::SHA1_FOR_LEGACY_USE_ONLY,
            DigestAlg::Sha224 => &lc::SHA224,
            DigestAlg::Sha256 => &lc::SHA256,
            DigestAlg::Sha384 => &lc::SHA384,
            DigestAlg::Sha512 => &lc::SHA512,
        }
    }
}

/// Multi-part digest. `Clone` snapshots the running state.
#[derive(Clone)]
pub struct Digest {
    alg: DigestAlg,
    ctx: lc::Context,
}

impl core::fmt::Debug for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Digest").field("alg", &self.alg).finish()
    }
}

impl Digest {
    /// Starts a new digest computation.
    pub fn new(alg: DigestAlg) -> Self {
        Digest {
            alg,
            ctx: lc::Context::new(alg.lc_alg()),
        }
    }

    /// Feeds more data.
    pub fn update(&mut self, d: &[u8]) {
        self.ctx.update(d);
    }

    /// Finishes and returns the digest (`alg().output_len()` bytes).
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
    }

    /// The algorithm of this computation.
    pub fn alg(&self) -> DigestAlg {
        self.alg
    }
}

/// One-shot digest of `data`.
pub fn digest(alg: DigestAlg, data: &[u8]) -> Vec<u8> {
    lc::digest(alg.lc_alg(), data).as_ref().to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;

    #[test]
    fn sha256_abc() {
        let want = hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert_eq!(digest(DigestAlg::Sha256, b"abc"), want);
    }

    #[test]
    fn sha1_and_sha512_abc() {
        assert_eq!(
            digest(DigestAlg::Sha1, b"abc"),
            hex("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        let want = hex(concat!(
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a",
            "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
        ));
        assert_eq!(digest(DigestAlg::Sha512, b"abc"), want);
    }

    #[test]
    fn multipart_and_clone() {
        let mut d = Digest::new(DigestAlg::Sha384);
        d.update(b"a");
        let snapshot = d.clone();
        d.update(b"bc");
        assert_eq!(d.alg(), DigestAlg::Sha384);
        assert_eq!(d.finish(), digest(DigestAlg::Sha384, b"abc"));
        assert_eq!(snapshot.finish(), digest(DigestAlg::Sha384, b"a"));
    }

    #[test]
    fn lengths() {
        for alg in [
            DigestAlg::Sha1,
            DigestAlg::Sha224,
            DigestAlg::Sha256,
            DigestAlg::Sha384,
            DigestAlg::Sha512,
        ] {
            assert_eq!(digest(alg, b"").len(), alg.output_len());
            assert_eq!(alg.lc_alg().block_len(), alg.block_len());
        }
    }
}
