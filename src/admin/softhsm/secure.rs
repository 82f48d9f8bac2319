//! SoftHSMv2's token key: how a PIN opens it and how it encrypts private attributes.
//!
//! - The token key is 32 random bytes (AES-256). `token.object` holds it twice, under the SO
//!   PIN and under the user PIN, each as `salt (8) ‖ IV (16) ‖ AES-256-CBC-PKCS#7(K, "RJR" ‖
//!   token key)`.
//! - K is SoftHSM's "RFC 4880 iterated and salted" derivation: SHA-256(salt ‖ PIN), then
//!   SHA-256 of the previous digest, 1500 + (last salt byte) digests in all.
//! - A wrong PIN shows as bad padding or a missing "RJR" magic.
//! - Each non-empty byte string of a private object is `IV (16) ‖ AES-256-CBC-PKCS#7(token
//!   key, value)`.

use aws_lc_rs::cipher::{DecryptionContext, PaddedBlockDecryptingKey, UnboundCipherKey, AES_256};
use aws_lc_rs::digest::{digest, SHA256};
use aws_lc_rs::iv::FixedLength;
use zeroize::Zeroizing;

const MAGIC: &[u8] = b"RJR";
const BASE_ITERATIONS: usize = 1500;
const SALT_LEN: usize = 8;
const IV_LEN: usize = 16;
const KEY_LEN: usize = 32;

/// The token key of an opened SoftHSM token.
pub(super) struct TokenKey(Zeroizing<[u8; KEY_LEN]>);

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey([redacted])")
    }
}

impl TokenKey {
    /// Open `blob` (from `token.object`) with `pin`; None for a wrong PIN or a damaged blob.
    pub(super) fn unlock(blob: &[u8], pin: &[u8]) -> Option<Self> {
        if pin.is_empty() || blob.len() < SALT_LEN + IV_LEN + 16 {
            return None;
        }
        let (salt, rest) = blob.split_at(SALT_LEN);
        let (iv, ciphertext) = rest.split_at(IV_LEN);
        let kek = derive(pin, salt);
        let plain = cbc_decrypt(&kek[..], iv, ciphertext)?;
        if plain.len() != MAGIC.len() + KEY_LEN || !plain.starts_with(MAGIC) {
            return None;
        }
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        key.copy_from_slice(&plain[MAGIC.len()..]);
        Some(Self(key))
    }

    /// Decrypt one stored attribute value of a private object (empty stays empty).
    /// None when it does not decrypt: not encrypted under this key, or damaged.
    pub(super) fn decrypt(&self, stored: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
        if stored.is_empty() {
            return Some(Zeroizing::new(Vec::new()));
        }
        if stored.len() < IV_LEN + 16 {
            return None;
        }
        let (iv, ciphertext) = stored.split_at(IV_LEN);
        cbc_decrypt(&self.0[..], iv, ciphertext)
    }
}

/// SoftHSM's PIN-to-key derivation (see the module comment).
fn derive(pin: &[u8], salt: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let iterations = BASE_ITERATIONS + usize::from(salt[salt.len() - 1]);
    let mut input = Zeroizing::new([salt, pin].concat());
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    for _ in 0..iterations {
        // aws-lc's Digest value itself is not zeroized; our copies of it are.
        out.copy_from_slice(digest(&SHA256, &input).as_ref());
        input = Zeroizing::new(out.to_vec());
    }
    out
}

/// AES-256-CBC with PKCS#7 padding; None for a wrong key (bad padding) or a bad length.
fn cbc_decrypt(key: &[u8], iv: &[u8], ciphertext: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if ciphertext.is_empty() || !ciphertext.len().is_multiple_of(16) {
        return None;
    }
    let iv: [u8; IV_LEN] = iv.try_into().ok()?;
    let key = UnboundCipherKey::new(&AES_256, key).ok()?;
    let key = PaddedBlockDecryptingKey::cbc_pkcs7(key).ok()?;
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = key
        .decrypt(&mut buf, DecryptionContext::Iv128(FixedLength::from(iv)))
        .ok()?
        .len();
    buf.truncate(len);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::cipher::{EncryptionContext, PaddedBlockEncryptingKey};

    fn cbc_encrypt(key: &[u8], iv: [u8; 16], plain: &[u8]) -> Vec<u8> {
        let key = UnboundCipherKey::new(&AES_256, key).unwrap();
        let key = PaddedBlockEncryptingKey::cbc_pkcs7(key).unwrap();
        let mut buf = plain.to_vec();
        key.less_safe_encrypt(&mut buf, EncryptionContext::Iv128(FixedLength::from(iv)))
            .unwrap();
        [iv.to_vec(), buf].concat()
    }

    /// A blob made the way SoftHSM makes one.
    fn blob(pin: &[u8], salt: [u8; 8], token_key: &[u8; 32]) -> Vec<u8> {
        let kek = derive(pin, &salt);
        let plain = [MAGIC, &token_key[..]].concat();
        [salt.to_vec(), cbc_encrypt(&kek[..], [9; 16], &plain)].concat()
    }

    #[test]
    fn the_right_pin_opens_the_blob_and_the_key_decrypts_attributes() {
        let token_key = [0x42u8; 32];
        let blob = blob(b"user-pin", [1, 2, 3, 4, 5, 6, 7, 0xff], &token_key);
        let key = TokenKey::unlock(&blob, b"user-pin").expect("right PIN");
        assert_eq!(*key.0, token_key);
        assert!(TokenKey::unlock(&blob, b"wrong-pin").is_none());
        assert!(TokenKey::unlock(&blob, b"").is_none());
        assert!(TokenKey::unlock(&blob[..20], b"user-pin").is_none());
        let stored = cbc_encrypt(&token_key, [3; 16], b"label");
        assert_eq!(key.decrypt(&stored).unwrap().as_slice(), b"label");
        assert_eq!(key.decrypt(&[]).unwrap().as_slice(), b"");
        assert!(key.decrypt(b"label in the clear").is_none());
    }

    #[test]
    fn derivation_runs_1500_plus_the_last_salt_byte_digests() {
        let salt = [0u8, 0, 0, 0, 0, 0, 0, 2];
        let mut expected = digest(&SHA256, &[&salt[..], b"pin"].concat())
            .as_ref()
            .to_vec();
        for _ in 1..1502 {
            expected = digest(&SHA256, &expected).as_ref().to_vec();
        }
        assert_eq!(derive(b"pin", &salt).to_vec(), expected);
    }

    /// token.object and a private data object (value "hello data\n") from a SoftHSM 2.6.1
    /// token whose user PIN is 5678us.
    #[test]
    fn a_real_softhsm_token_opens() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/softhsm");
        let token = super::super::files::read_token(&dir).unwrap();
        assert_eq!(token.label, "src");
        let key = TokenKey::unlock(token.user_blob.as_deref().unwrap(), b"5678us").unwrap();
        assert!(TokenKey::unlock(token.so_blob.as_deref().unwrap(), b"5678us").is_none());
        let data = std::fs::read(dir.join("data.object")).unwrap();
        let stored = super::super::files::parse(&data).unwrap();
        let value = |ty| match &stored[&ty] {
            super::super::files::Value::Bytes(b) => key.decrypt(b).unwrap(),
            other => panic!("{other:?}"),
        };
        assert_eq!(value(cryptoki_sys::CKA_VALUE).as_slice(), b"hello data\n");
        assert_eq!(value(cryptoki_sys::CKA_LABEL).as_slice(), b"data2");
    }
}
