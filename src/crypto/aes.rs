//! Streaming AES (ECB, CBC, CBC-PAD, CTR, GCM) backed by `EVP_CIPHER_CTX`.

use zeroize::Zeroizing;

use super::ffi::{AesKind, CipherCtx};
use super::{CryptoError, Result};

const BLOCK: usize = 16;
/// GCM tag lengths PKCS#11 allows (up to 128 bits) that a byte-oriented API can carry: whole
/// bytes, 8 to 128 bits. A zero-length tag (no authentication at all) is refused.
fn gcm_tag_bits_ok(bits: u32) -> bool {
    bits.is_multiple_of(8) && (8..=128).contains(&bits)
}

/// AES mode and its parameters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AesMode {
    /// ECB, no padding (input must be a block multiple).
    Ecb,
    /// CBC, no padding (input must be a block multiple).
    Cbc {
        /// Initialisation vector.
        iv: [u8; 16],
    },
    /// CBC with PKCS#7 padding.
    CbcPad {
        /// Initialisation vector.
        iv: [u8; 16],
    },
    /// CTR. The low `counter_bits` (1..=128, PKCS#11 `ulCounterBits`, else
    /// `BadParameter`) of the big-endian counter block are incremented and wrap
    /// modulo 2^counter_bits, leaving the other bits alone. Processing more than
    /// 2^counter_bits blocks (which would reuse a counter) → `InvalidLength`.
    Ctr {
        /// Initial counter block.
        counter_block: [u8; 16],
        /// Number of low-order counter bits.
        counter_bits: u32,
    },
    /// GCM. `iv` 1..=256 bytes (the PKCS#11 bound); `tag_bits` a multiple of 8 in 8..=128;
    /// otherwise `BadParameter`.
    Gcm {
        /// Initialisation vector.
        iv: Vec<u8>,
        /// Additional authenticated data.
        aad: Vec<u8>,
        /// Tag length in bits.
        tag_bits: u32,
    },
}

/// CTR counter bookkeeping (all in bytes of keystream).
struct CtrState {
    counter_block: [u8; 16],
    mask: u128,
    done: u128,
    /// Offset at which the low counter bits wrap to zero (`None`: beyond u128).
    wrap_at: Option<u128>,
    /// Maximum total length (`None`: beyond u128).
    limit: Option<u128>,
}

enum State {
    /// ECB / CBC / CBC-PAD; `pending` bytes are held inside the EVP context.
    Block {
        padded: bool,
        pending: usize,
    },
    Ctr(CtrState),
    /// GCM; `buffered` collects the whole input on decrypt.
    Gcm {
        tag_len: usize,
        buffered: Zeroizing<Vec<u8>>,
    },
}

/// A streaming AES operation. Send; key length 16/24/32 else `BadKey`.
pub struct AesCipher {
    ctx: CipherCtx,
    encrypt: bool,
    state: State,
}

impl core::fmt::Debug for AesCipher {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AesCipher([redacted])")
    }
}

fn ctr_state(counter_block: [u8; 16], counter_bits: u32) -> Result<CtrState> {
    if !(1..=128).contains(&counter_bits) {
        return Err(CryptoError::BadParameter);
    }
    let mask = u128::MAX >> (128 - counter_bits);
    let low = u128::from_be_bytes(counter_block) & mask;
    let blocks_to_wrap = (mask - low).checked_add(1);
    Ok(CtrState {
        counter_block,
        mask,
        done: 0,
        wrap_at: blocks_to_wrap.and_then(|b| b.checked_mul(BLOCK as u128)),
        limit: mask
            .checked_add(1)
            .and_then(|b| b.checked_mul(BLOCK as u128)),
    })
}

fn check_key_len(key: &[u8]) -> Result<()> {
    match key.len() {
        16 | 24 | 32 => Ok(()),
        _ => Err(CryptoError::BadKey),
    }
}

impl AesCipher {
    /// Starts an encryption (`encrypt`) or decryption with `key` in `mode`.
    pub fn new(key: &[u8], mode: &AesMode, encrypt: bool) -> Result<Self> {
        check_key_len(key)?;
        let block = |padded| State::Block { padded, pending: 0 };
        let (ctx, state) = match mode {
            AesMode::Ecb => (
                CipherCtx::new(AesKind::Ecb, key, &[], encrypt, false)?,
                block(false),
            ),
            AesMode::Cbc { iv } => (
                CipherCtx::new(AesKind::Cbc, key, iv, encrypt, false)?,
                block(false),
            ),
            AesMode::CbcPad { iv } => (
                CipherCtx::new(AesKind::Cbc, key, iv, encrypt, true)?,
                block(true),
            ),
            AesMode::Ctr {
                counter_block,
                counter_bits,
            } => {
                let st = ctr_state(*counter_block, *counter_bits)?;
                (
                    CipherCtx::new(AesKind::Ctr, key, counter_block, encrypt, false)?,
                    State::Ctr(st),
                )
            }
            AesMode::Gcm { iv, aad, tag_bits } => {
                if !gcm_tag_bits_ok(*tag_bits) || !(1..=256).contains(&iv.len()) {
                    return Err(CryptoError::BadParameter);
                }
                let mut ctx = CipherCtx::new(AesKind::Gcm, key, iv, encrypt, false)?;
                ctx.aad(aad)?;
                let tag_len = (*tag_bits / 8) as usize;
                (
                    ctx,
                    State::Gcm {
                        tag_len,
                        buffered: Zeroizing::new(Vec::new()),
                    },
                )
            }
        };
        Ok(AesCipher {
            ctx,
            encrypt,
            state,
        })
    }

    /// Processes `input`, returning the output available so far. Block modes hold
    /// back partial blocks; CBC-PAD decrypt holds back the last block; GCM decrypt
    /// returns nothing until `finish` (it buffers). CTR beyond its counter space →
    /// `InvalidLength`.
    pub fn update(&mut self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        match &mut self.state {
            State::Block { pending, .. } => {
                let out = self.ctx.update(input)?;
                *pending = (*pending + input.len())
                    .checked_sub(out.len())
                    .ok_or(CryptoError::Internal)?;
                Ok(out)
            }
            State::Ctr(st) => ctr_update(&mut self.ctx, st, input),
            State::Gcm { buffered, .. } if !self.encrypt => {
                buffered.extend_from_slice(input);
                Ok(Zeroizing::new(Vec::new()))
            }
            State::Gcm { .. } => self.ctx.update(input),
        }
    }

    /// Finishes the operation.
    ///
    /// ECB/CBC with a partial block left → `InvalidLength`. CBC-PAD decrypt: bad
    /// padding → `InvalidData`, total length not a (non-zero) multiple of 16 →
    /// `InvalidLength`. GCM encrypt returns remaining ciphertext || tag; GCM decrypt
    /// needs total input >= tag length (else `InvalidLength`), tag mismatch →
    /// `InvalidData`, and returns the whole plaintext.
    pub fn finish(mut self) -> Result<Zeroizing<Vec<u8>>> {
        let encrypt = self.encrypt;
        let ctx = &mut self.ctx;
        match &self.state {
            State::Block { padded, pending } => match (*padded, encrypt) {
                (false, _) if *pending != 0 => Err(CryptoError::InvalidLength),
                (true, false) if *pending != BLOCK => Err(CryptoError::InvalidLength),
                (true, false) => ctx.finish().map_err(|_| CryptoError::InvalidData),
                _ => ctx.finish(),
            },
            State::Ctr(_) => ctx.finish(),
            State::Gcm { tag_len, buffered } if !encrypt => {
                let split = buffered
                    .len()
                    .checked_sub(*tag_len)
                    .ok_or(CryptoError::InvalidLength)?;
                let (ct, tag) = buffered.split_at(split);
                ctx.set_gcm_tag(tag)?;
                let mut out = ctx.update(ct)?;
                let last = ctx.finish().map_err(|_| CryptoError::InvalidData)?;
                out.extend_from_slice(&last);
                Ok(out)
            }
            State::Gcm { tag_len, .. } => {
                let mut out = ctx.finish()?;
                out.extend_from_slice(&ctx.gcm_tag(*tag_len)?);
                Ok(out)
            }
        }
    }

    /// Exact length `update(input_len)` would return given the bytes fed so far.
    pub fn update_len(&self, input_len: usize) -> usize {
        match &self.state {
            State::Block { padded, pending } => {
                let t = pending.saturating_add(input_len);
                if *padded && !self.encrypt && t % BLOCK == 0 {
                    t.saturating_sub(BLOCK)
                } else {
                    t - t % BLOCK
                }
            }
            State::Ctr(_) => input_len,
            State::Gcm { .. } if self.encrypt => input_len,
            State::Gcm { .. } => 0,
        }
    }

    /// Length `finish()` would return (exact, except CBC-PAD decrypt: an upper bound, 16).
    pub fn finish_len(&self) -> usize {
        match &self.state {
            State::Block { padded: true, .. } => BLOCK,
            State::Block { padded: false, .. } | State::Ctr(_) => 0,
            State::Gcm { tag_len, .. } if self.encrypt => *tag_len,
            State::Gcm { tag_len, buffered } => buffered.len().saturating_sub(*tag_len),
        }
    }
}

/// CTR update honouring `counter_bits`: when the low bits wrap, the EVP context
/// (which increments all 128 bits) is re-armed with the low bits cleared.
fn ctr_update(ctx: &mut CipherCtx, st: &mut CtrState, input: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    let end = st
        .done
        .checked_add(input.len() as u128)
        .ok_or(CryptoError::InvalidLength)?;
    if st.limit.is_some_and(|limit| end > limit) {
        return Err(CryptoError::InvalidLength);
    }
    let out = match st.wrap_at {
        Some(w) if st.done <= w && end > w => {
            let first = usize::try_from(w - st.done).map_err(|_| CryptoError::Internal)?;
            let mut out = ctx.update(&input[..first])?;
            let base = u128::from_be_bytes(st.counter_block) & !st.mask;
            ctx.reset_ctr(&base.to_be_bytes())?;
            out.extend_from_slice(&ctx.update(&input[first..])?);
            out
        }
        _ => ctx.update(input)?,
    };
    st.done = end;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::test_hex as hex;

    fn arr(s: &str) -> [u8; 16] {
        hex(s).try_into().unwrap()
    }

    /// Feeds `input` in `chunk`-sized pieces, checking update_len/finish_len.
    fn run(key: &[u8], mode: &AesMode, enc: bool, input: &[u8], chunk: usize) -> Result<Vec<u8>> {
        let mut c = AesCipher::new(key, mode, enc)?;
        let mut out = Vec::new();
        for piece in input.chunks(chunk.max(1)) {
            let want = c.update_len(piece.len());
            let got = c.update(piece)?;
            assert_eq!(got.len(), want, "update_len {mode:?} enc={enc}");
            out.extend_from_slice(&got);
        }
        let bound = c.finish_len();
        let last = c.finish()?;
        if matches!(mode, AesMode::CbcPad { .. }) && !enc {
            assert!(last.len() <= bound);
        } else {
            assert_eq!(last.len(), bound, "finish_len {mode:?} enc={enc}");
        }
        out.extend_from_slice(&last);
        Ok(out)
    }

    fn one_shot(key: &[u8], mode: &AesMode, enc: bool, input: &[u8]) -> Result<Vec<u8>> {
        run(key, mode, enc, input, input.len())
    }

    const KEY_38A: &str = "2b7e151628aed2a6abf7158809cf4f3c";
    const PT_38A: &str = concat!(
        "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51",
        "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710"
    );

    #[test]
    fn fips197_c1_ecb() {
        let key = hex("000102030405060708090a0b0c0d0e0f");
        let pt = hex("00112233445566778899aabbccddeeff");
        let ct = hex("69c4e0d86a7b0430d8cdb78070b4c55a");
        assert_eq!(one_shot(&key, &AesMode::Ecb, true, &pt).unwrap(), ct);
        assert_eq!(one_shot(&key, &AesMode::Ecb, false, &ct).unwrap(), pt);
    }

    #[test]
    fn sp800_38a_f21_cbc() {
        let (key, pt) = (hex(KEY_38A), hex(PT_38A));
        let ct = hex(concat!(
            "7649abac8119b246cee98e9b12e9197d5086cb9b507219ee95db113a917678b2",
            "73bed6b8e3c1743b7116e69e222295163ff1caa1681fac09120eca307586e1a7"
        ));
        let mode = AesMode::Cbc {
            iv: arr("000102030405060708090a0b0c0d0e0f"),
        };
        for chunk in [1, 5, 16, 17, 64] {
            assert_eq!(run(&key, &mode, true, &pt, chunk).unwrap(), ct);
            assert_eq!(run(&key, &mode, false, &ct, chunk).unwrap(), pt);
        }
    }

    #[test]
    fn sp800_38a_f51_ctr() {
        let (key, pt) = (hex(KEY_38A), hex(PT_38A));
        let ct = hex(concat!(
            "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff",
            "5ae4df3edbd5d35e5b4f09020db03eab1e031dda2fbe03d1792170a0f3009cee"
        ));
        for bits in [128, 64, 32, 16] {
            let mode = AesMode::Ctr {
                counter_block: arr("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"),
                counter_bits: bits,
            };
            for chunk in [1, 7, 16, 33, 64] {
                assert_eq!(run(&key, &mode, true, &pt, chunk).unwrap(), ct);
                assert_eq!(run(&key, &mode, false, &ct, chunk).unwrap(), pt);
            }
        }
    }

    /// Keystream block for a given counter block, via ECB.
    fn ks(key: &[u8], cb: &str) -> Vec<u8> {
        one_shot(key, &AesMode::Ecb, true, &hex(cb)).unwrap()
    }

    #[test]
    fn ctr_counter_bits_wrap_and_limit() {
        let key = hex(KEY_38A);
        // 8-bit counter starting at 0xfe: fe, ff, then wraps to 00 (upper bits kept).
        let mode = AesMode::Ctr {
            counter_block: arr("f0f1f2f3f4f5f6f7f8f9fafbfcfdfefe"),
            counter_bits: 8,
        };
        let mut want = ks(&key, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfefe");
        want.extend(ks(&key, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff"));
        want.extend(ks(&key, "f0f1f2f3f4f5f6f7f8f9fafbfcfdfe00"));
        for chunk in [1, 5, 16, 31, 40, 48] {
            assert_eq!(
                run(&key, &mode, true, &[0u8; 40], chunk).unwrap(),
                want[..40]
            );
        }
        // 1-bit counter: exactly two blocks available.
        let mode = AesMode::Ctr {
            counter_block: arr("00000000000000000000000000000001"),
            counter_bits: 1,
        };
        let mut want = ks(&key, "00000000000000000000000000000001");
        want.extend(ks(&key, "00000000000000000000000000000000"));
        assert_eq!(run(&key, &mode, true, &[0u8; 32], 3).unwrap(), want);
        assert_eq!(
            run(&key, &mode, true, &[0u8; 33], 3).err(),
            Some(CryptoError::InvalidLength)
        );
        for bad in [0, 129] {
            let mode = AesMode::Ctr {
                counter_block: [0; 16],
                counter_bits: bad,
            };
            assert_eq!(
                AesCipher::new(&key, &mode, true).err(),
                Some(CryptoError::BadParameter)
            );
        }
    }

    const GCM_KEY: &str = "feffe9928665731c6d6a8f9467308308";
    const GCM_PT: &str = concat!(
        "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72",
        "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39"
    );
    const GCM_AAD: &str = "feedfacedeadbeeffeedfacedeadbeefabaddad2";

    fn gcm(iv: &str, tag_bits: u32) -> AesMode {
        AesMode::Gcm {
            iv: hex(iv),
            aad: hex(GCM_AAD),
            tag_bits,
        }
    }

    #[test]
    fn gcm_spec_test_case_4() {
        let (key, pt) = (hex(GCM_KEY), hex(GCM_PT));
        let mut ct = hex(concat!(
            "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e",
            "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091"
        ));
        ct.extend(hex("5bc94fbc3221a5db94fae95ae7121a47"));
        let mode = gcm("cafebabefacedbaddecaf888", 128);
        for chunk in [1, 13, 16, 60, 76] {
            assert_eq!(run(&key, &mode, true, &pt, chunk).unwrap(), ct);
            assert_eq!(run(&key, &mode, false, &ct, chunk).unwrap(), pt);
        }
        // Truncated 96-bit tag.
        let mode96 = gcm("cafebabefacedbaddecaf888", 96);
        assert_eq!(one_shot(&key, &mode96, true, &pt).unwrap(), ct[..72]);
        assert_eq!(one_shot(&key, &mode96, false, &ct[..72]).unwrap(), pt);
    }

    #[test]
    fn gcm_spec_test_case_6_long_iv() {
        let iv = concat!(
            "9313225df88406e555909c5aff5269aa6a7a9538534f7da1e4c303d2a318a728",
            "c3c0c95156809539fcf0e2429a6b525416aedbf5a0de6a57a637b39b"
        );
        let mut ct = hex(concat!(
            "8ce24998625615b603a033aca13fb894be9112a5c3a211a8ba262a3cca7e2ca7",
            "01e4a9a4fba43c90ccdcb281d48c7c6fd62875d2aca417034c34aee5"
        ));
        ct.extend(hex("619cc5aefffe0bfa462af43c1699d050"));
        let (key, pt) = (hex(GCM_KEY), hex(GCM_PT));
        assert_eq!(one_shot(&key, &gcm(iv, 128), true, &pt).unwrap(), ct);
        assert_eq!(run(&key, &gcm(iv, 128), false, &ct, 7).unwrap(), pt);
    }

    #[test]
    fn gcm_negatives() {
        let key = hex(GCM_KEY);
        let mode = gcm("cafebabefacedbaddecaf888", 128);
        let mut ct = one_shot(&key, &mode, true, b"hello gcm").unwrap();
        let last = ct.len() - 1;
        ct[last] ^= 1;
        assert_eq!(
            one_shot(&key, &mode, false, &ct).err(),
            Some(CryptoError::InvalidData)
        );
        ct[last] ^= 1;
        ct[0] ^= 1;
        assert_eq!(
            one_shot(&key, &mode, false, &ct).err(),
            Some(CryptoError::InvalidData)
        );
        assert_eq!(
            one_shot(&key, &mode, false, &ct[..15]).err(),
            Some(CryptoError::InvalidLength)
        );
        // Empty plaintext: just the tag.
        let tag_only = one_shot(&key, &mode, true, b"").unwrap();
        assert_eq!(tag_only.len(), 16);
        assert!(one_shot(&key, &mode, false, &tag_only).unwrap().is_empty());
        for (iv, bits) in [
            (vec![], 128),
            (vec![0; 257], 128),
            (vec![0; 12], 100),
            (vec![0; 12], 136),
        ] {
            let m = AesMode::Gcm {
                iv,
                aad: vec![],
                tag_bits: bits,
            };
            assert_eq!(
                AesCipher::new(&key, &m, true).err(),
                Some(CryptoError::BadParameter)
            );
        }
    }

    #[test]
    fn cbc_pad_round_trips_and_negatives() {
        let key = [7u8; 32];
        let mode = AesMode::CbcPad { iv: [9; 16] };
        for len in 0..=40 {
            let pt: Vec<u8> = (0..len as u8).collect();
            let ct = one_shot(&key, &mode, true, &pt).unwrap();
            assert_eq!(ct.len(), (len / 16 + 1) * 16);
            for chunk in [1, 3, 16, 17] {
                assert_eq!(run(&key, &mode, true, &pt, chunk).unwrap(), ct);
                assert_eq!(run(&key, &mode, false, &ct, chunk).unwrap(), pt);
            }
        }
        // Bad padding: decrypt a raw CBC block whose plaintext ends in 0x00.
        let raw = one_shot(&key, &AesMode::Cbc { iv: [9; 16] }, true, &[0u8; 16]).unwrap();
        assert_eq!(
            one_shot(&key, &mode, false, &raw).err(),
            Some(CryptoError::InvalidData)
        );
        assert_eq!(
            one_shot(&key, &mode, false, &raw[..15]).err(),
            Some(CryptoError::InvalidLength)
        );
        assert_eq!(
            one_shot(&key, &mode, false, b"").err(),
            Some(CryptoError::InvalidLength)
        );
    }

    #[test]
    fn block_modes_reject_partial_blocks_and_bad_keys() {
        let key = [1u8; 24];
        for mode in [AesMode::Ecb, AesMode::Cbc { iv: [0; 16] }] {
            for enc in [true, false] {
                assert_eq!(
                    one_shot(&key, &mode, enc, &[0; 17]).err(),
                    Some(CryptoError::InvalidLength)
                );
                assert!(one_shot(&key, &mode, enc, &[]).unwrap().is_empty());
                let out = run(&key, &mode, enc, &[0; 48], 5).unwrap();
                assert_eq!(out, one_shot(&key, &mode, enc, &[0; 48]).unwrap());
            }
        }
        for bad in [0usize, 15, 17, 33] {
            assert_eq!(
                AesCipher::new(&vec![0; bad], &AesMode::Ecb, true).err(),
                Some(CryptoError::BadKey)
            );
        }
        fn send<T: Send>() {}
        send::<AesCipher>();
        let c = AesCipher::new(&key, &AesMode::Ecb, true).unwrap();
        assert_eq!(format!("{c:?}"), "AesCipher([redacted])");
    }
}
