//! AES key wrap (RFC 3394 / NIST SP 800-38F KW) and key wrap with padding (RFC 5649, KWP),
//! for every AES key size. The aws-lc calls are in [`super::ffi`].

pub use super::ffi::{aes_unwrap as unwrap, aes_wrap as wrap};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;
    use crate::crypto::CryptoError;

    /// RFC 3394 §4.1 (128-bit KEK) and §4.6 (256-bit data with a 256-bit KEK).
    #[test]
    fn rfc3394_vectors() {
        let cases = [
            (
                "000102030405060708090a0b0c0d0e0f",
                "00112233445566778899aabbccddeeff",
                "1fa68b0a8112b447aef34bd8fb5a7b829d3e862371d2cfe5",
            ),
            (
                "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
                "00112233445566778899aabbccddeeff000102030405060708090a0b0c0d0e0f",
                "28c9f404c4b810f4cbccb35cfb87f8263f5786e2d80ed326cbc7f0e71a99f43bfb988b9b7a02dd21",
            ),
        ];
        for (kek, data, wrapped) in cases {
            assert_eq!(wrap(&hex(kek), &hex(data), false).unwrap(), hex(wrapped));
            assert_eq!(
                unwrap(&hex(kek), &hex(wrapped), false).unwrap().as_slice(),
                hex(data)
            );
        }
    }

    /// RFC 5649 §6: 20-byte and 7-byte keys under a 192-bit KEK.
    #[test]
    fn rfc5649_vectors() {
        let kek = hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8");
        let cases = [
            (
                "c37b7e6492584340bed12207808941155068f738",
                "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
            ),
            ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
        ];
        for (data, wrapped) in cases {
            assert_eq!(wrap(&kek, &hex(data), true).unwrap(), hex(wrapped));
            assert_eq!(
                unwrap(&kek, &hex(wrapped), true).unwrap().as_slice(),
                hex(data)
            );
        }
    }

    #[test]
    fn tampering_and_bad_lengths_are_rejected() {
        let kek = [7u8; 16];
        let mut w = wrap(&kek, &[1u8; 32], false).unwrap();
        w[3] ^= 1;
        assert_eq!(
            unwrap(&kek, &w, false).unwrap_err(),
            CryptoError::InvalidData
        );
        let mut p = wrap(&kek, &[1u8; 5], true).unwrap();
        p[9] ^= 1;
        assert_eq!(
            unwrap(&kek, &p, true).unwrap_err(),
            CryptoError::InvalidData
        );
        assert_eq!(
            wrap(&kek, &[1u8; 12], false).unwrap_err(),
            CryptoError::InvalidLength
        );
        assert_eq!(
            unwrap(&kek, &[1u8; 20], false).unwrap_err(),
            CryptoError::InvalidLength
        );
        assert_eq!(
            wrap(&[0u8; 15], &[1u8; 16], false).unwrap_err(),
            CryptoError::BadKey
        );
    }
}
