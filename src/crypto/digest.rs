//! Message digests: SHA-1, SHA-2 (including SHA-512/224 and SHA-512/256) and SHA-3, over
//! aws-lc's EVP digests ([`super::ffi::MdCtx`]).

use super::ffi::MdCtx;

/// Supported digest algorithms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DigestAlg {
    /// SHA-1 (legacy use only).
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Sha512_224,
    Sha512_256,
    Sha3_224,
    Sha3_256,
    Sha3_384,
    Sha3_512,
}

impl DigestAlg {
    /// Digest output length in bytes.
    pub fn output_len(self) -> usize {
        match self {
            DigestAlg::Sha1 => 20,
            DigestAlg::Sha224 | DigestAlg::Sha512_224 | DigestAlg::Sha3_224 => 28,
            DigestAlg::Sha256 | DigestAlg::Sha512_256 | DigestAlg::Sha3_256 => 32,
            DigestAlg::Sha384 | DigestAlg::Sha3_384 => 48,
            DigestAlg::Sha512 | DigestAlg::Sha3_512 => 64,
        }
    }

    /// Internal block length in bytes (used by HMAC).
    pub fn block_len(self) -> usize {
        match self {
            DigestAlg::Sha1 | DigestAlg::Sha224 | DigestAlg::Sha256 => 64,
            DigestAlg::Sha384 | DigestAlg::Sha512 => 128,
            DigestAlg::Sha512_224 | DigestAlg::Sha512_256 => 128,
            DigestAlg::Sha3_224 => 144,
            DigestAlg::Sha3_256 => 136,
            DigestAlg::Sha3_384 => 104,
            DigestAlg::Sha3_512 => 72,
        }
    }
}

/// Multi-part digest. `Clone` snapshots the running state.
#[derive(Clone)]
pub struct Digest {
    alg: DigestAlg,
    ctx: MdCtx,
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
            ctx: MdCtx::new(alg),
        }
    }

    /// Feeds more data.
    pub fn update(&mut self, d: &[u8]) {
        self.ctx.update(d);
    }

    /// Finishes and returns the digest (`alg().output_len()` bytes).
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish()
    }

    /// The algorithm of this computation.
    pub fn alg(&self) -> DigestAlg {
        self.alg
    }
}

/// One-shot digest of `data`.
pub fn digest(alg: DigestAlg, data: &[u8]) -> Vec<u8> {
    let mut d = Digest::new(alg);
    d.update(data);
    d.finish()
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

    /// FIPS 180-4 and FIPS 202 "abc" vectors for the truncated SHA-512 and SHA-3 digests.
    #[test]
    fn sha512_t_and_sha3_abc() {
        let cases = [
            (
                DigestAlg::Sha512_224,
                "4634270f707b6a54daae7530460842e20e37ed265ceee9a43e8924aa",
            ),
            (
                DigestAlg::Sha512_256,
                "53048e2681941ef99b2e29b76b4c7dabe4c2d0c634fc6d46e0e2f13107e7af23",
            ),
            (
                DigestAlg::Sha3_224,
                "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
            ),
            (
                DigestAlg::Sha3_256,
                "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
            ),
            (
                DigestAlg::Sha3_384,
                concat!(
                    "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2",
                    "98d88cea927ac7f539f1edf228376d25"
                ),
            ),
            (
                DigestAlg::Sha3_512,
                concat!(
                    "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e",
                    "10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0"
                ),
            ),
        ];
        for (alg, want) in cases {
            assert_eq!(digest(alg, b"abc"), hex(want), "{alg:?}");
            assert_eq!(digest(alg, b"").len(), alg.output_len());
        }
    }
}
