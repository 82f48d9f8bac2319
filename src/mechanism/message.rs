//! Message-based AES-GCM (PKCS#11 3.0 §5.9 and §5.11 message functions): one key, many
//! messages, each with its own IV, associated data and tag, in one call or in parts.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::ops::{crypto_error, Context};
use super::param::MechanismRequest;
use crate::crypto::aes::{AesCipher, AesMode};
use crate::crypto::rng;
use crate::error::{Error, Result};
use crate::object::key::KeyMaterial;

/// CK_GCM_MESSAGE_PARAMS in safe form. The token writes back `iv` (when it generates one)
/// and, when encrypting, `tag`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GcmMessage {
    pub iv: Vec<u8>,
    pub iv_fixed_bits: CK_ULONG,
    pub generator: CK_GENERATOR_FUNCTION,
    pub tag: Vec<u8>,
    pub tag_bits: CK_ULONG,
}

/// One message being processed in parts.
struct Running {
    cipher: AesCipher,
    tag_len: usize,
    /// Ciphertext held back while decrypting (released when the tag verifies).
    held: usize,
}

/// An active message-based encryption or decryption.
pub struct MessageCipher {
    key: Zeroizing<Vec<u8>>,
    encrypt: bool,
    /// Messages encrypted so far, for CKG_GENERATE_COUNTER.
    counter: u64,
    current: Option<Running>,
}

impl MessageCipher {
    /// C_MessageEncryptInit / C_MessageDecryptInit with CKM_AES_GCM (no parameter: each
    /// message brings its own).
    pub fn new(m: &MechanismRequest, key: &KeyMaterial, encrypt: bool) -> Result<Self> {
        if m.ty != CKM_AES_GCM {
            return Err(Error::MechanismInvalid);
        }
        m.no_param()?;
        let KeyMaterial::Secret(key) = key else {
            return Err(Error::KeyTypeInconsistent);
        };
        Ok(Self {
            key: (**key).clone(),
            encrypt,
            counter: 0,
            current: None,
        })
    }

    /// Whether a message is in progress (Begin called, END_OF_MESSAGE not yet seen).
    pub fn in_message(&self) -> bool {
        self.current.is_some()
    }

    /// Fill the generated part of the IV: what follows the first `iv_fixed_bits` bits.
    fn generate_iv(&mut self, p: &mut GcmMessage) -> Result<()> {
        if !self.encrypt || p.generator == CKG_NO_GENERATE {
            return Ok(());
        }
        let fixed = usize::try_from(p.iv_fixed_bits).map_err(|_| Error::MechanismParamInvalid)?;
        if !fixed.is_multiple_of(8) || fixed / 8 >= p.iv.len() {
            return Err(Error::MechanismParamInvalid);
        }
        let free = &mut p.iv[fixed / 8..];
        match p.generator {
            CKG_GENERATE | CKG_GENERATE_RANDOM => {
                rng::fill(free).map_err(|_| Error::GeneralError)?
            }
            CKG_GENERATE_COUNTER => {
                let counter = self.counter.to_be_bytes();
                let n = free.len().min(counter.len());
                let too_many = counter[..counter.len() - n].iter().any(|b| *b != 0);
                if too_many {
                    return Err(Error::MechanismParamInvalid);
                }
                free.fill(0);
                let at = free.len() - n;
                free[at..].copy_from_slice(&counter[counter.len() - n..]);
            }
            _ => return Err(Error::MechanismParamInvalid),
        }
        Ok(())
    }

    /// Start one message: check the parameter, make the IV, feed the associated data.
    fn start(&mut self, p: &mut GcmMessage, aad: &[u8]) -> Result<Running> {
        let tag_len = usize::try_from(p.tag_bits / 8).map_err(|_| Error::MechanismParamInvalid)?;
        if !self.encrypt && p.tag.len() != tag_len {
            return Err(Error::MechanismParamInvalid);
        }
        self.generate_iv(p)?;
        let mode = AesMode::Gcm {
            iv: p.iv.clone(),
            aad: aad.to_vec(),
            tag_bits: p.tag_bits as u32,
        };
        let ctx = if self.encrypt {
            Context::Encrypt
        } else {
            Context::Decrypt
        };
        let cipher = AesCipher::new(&self.key, &mode, self.encrypt).map_err(crypto_error(ctx))?;
        if self.encrypt {
            self.counter = self.counter.wrapping_add(1);
        }
        Ok(Running {
            cipher,
            tag_len,
            held: 0,
        })
    }

    /// Output length of the next call given `input_len` bytes (END_OF_MESSAGE: `end`).
    pub fn output_len(&self, input_len: usize, end: bool) -> usize {
        match (&self.current, self.encrypt, end) {
            (_, true, _) => input_len,
            (Some(r), false, true) => r.held + input_len,
            (None, false, _) => input_len,
            (Some(_), false, false) => 0,
        }
    }

    /// C_EncryptMessage / C_DecryptMessage: one whole message.
    pub fn one_shot(
        &mut self,
        p: &mut GcmMessage,
        aad: &[u8],
        input: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if self.current.is_some() {
            return Err(Error::OperationActive);
        }
        let running = self.start(p, aad)?;
        self.finish(running, p, input)
    }

    /// C_*MessageBegin.
    pub fn begin(&mut self, p: &mut GcmMessage, aad: &[u8]) -> Result<()> {
        if self.current.is_some() {
            return Err(Error::OperationActive);
        }
        self.current = Some(self.start(p, aad)?);
        Ok(())
    }

    /// C_*MessageNext; `end` is CKF_END_OF_MESSAGE. A failure ends the message.
    pub fn next(
        &mut self,
        p: &mut GcmMessage,
        part: &[u8],
        end: bool,
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut running = self.current.take().ok_or(Error::OperationNotInitialized)?;
        if end {
            return self.finish(running, p, part);
        }
        let ctx = if self.encrypt {
            Context::Encrypt
        } else {
            Context::Decrypt
        };
        let out = running.cipher.update(part).map_err(crypto_error(ctx))?;
        running.held += part.len() - out.len().min(part.len());
        self.current = Some(running);
        Ok(out)
    }

    /// The last input of a message: the tag comes out (encrypt) or goes in (decrypt).
    fn finish(
        &mut self,
        mut running: Running,
        p: &mut GcmMessage,
        input: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if self.encrypt {
            let mut out = running
                .cipher
                .update(input)
                .map_err(crypto_error(Context::Encrypt))?;
            let rest = running
                .cipher
                .finish()
                .map_err(crypto_error(Context::Encrypt))?;
            let split = rest.len() - running.tag_len;
            out.extend_from_slice(&rest[..split]);
            p.tag = rest[split..].to_vec();
            return Ok(out);
        }
        let mut out = running
            .cipher
            .update(input)
            .map_err(crypto_error(Context::Decrypt))?;
        out.extend_from_slice(
            &running
                .cipher
                .update(&p.tag)
                .map_err(crypto_error(Context::Decrypt))?,
        );
        out.extend_from_slice(
            &running
                .cipher
                .finish()
                .map_err(crypto_error(Context::Decrypt))?,
        );
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mechanism::param::Param;

    fn cipher(encrypt: bool) -> MessageCipher {
        let m = MechanismRequest::new(CKM_AES_GCM, Param::None);
        MessageCipher::new(
            &m,
            &KeyMaterial::Secret(Zeroizing::new(vec![3; 16]).into()),
            encrypt,
        )
        .unwrap()
    }

    fn params(generator: CK_GENERATOR_FUNCTION) -> GcmMessage {
        GcmMessage {
            iv: vec![0xaa; 12],
            iv_fixed_bits: 32,
            generator,
            tag: vec![0; 16],
            tag_bits: 128,
        }
    }

    #[test]
    fn one_shot_and_parts_agree_and_decrypt() {
        let mut enc = cipher(true);
        let mut p = params(CKG_NO_GENERATE);
        let ct = enc
            .one_shot(&mut p, b"aad", b"hello message world")
            .unwrap();
        let mut q = params(CKG_NO_GENERATE);
        enc.begin(&mut q, b"aad").unwrap();
        let mut parts = enc.next(&mut q, b"hello ", false).unwrap();
        parts.extend_from_slice(&enc.next(&mut q, b"message world", true).unwrap());
        assert_eq!((ct.as_slice(), &p.tag), (parts.as_slice(), &q.tag));
        let mut dec = cipher(false);
        assert_eq!(
            dec.one_shot(&mut p, b"aad", &ct).unwrap().as_slice(),
            b"hello message world"
        );
        p.tag[0] ^= 1;
        assert_eq!(
            dec.one_shot(&mut p, b"aad", &ct).unwrap_err(),
            Error::EncryptedDataInvalid
        );
    }

    #[test]
    fn generated_ivs_keep_the_fixed_part_and_differ() {
        let mut enc = cipher(true);
        let mut a = params(CKG_GENERATE_COUNTER);
        enc.one_shot(&mut a, b"", b"x").unwrap();
        let mut b = params(CKG_GENERATE_COUNTER);
        enc.one_shot(&mut b, b"", b"x").unwrap();
        assert_eq!((&a.iv[..4], &b.iv[..4]), (&[0xaa; 4][..], &[0xaa; 4][..]));
        assert_eq!(a.iv[4..], [0, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(b.iv[4..], [0, 0, 0, 0, 0, 0, 0, 1]);
        let mut r = params(CKG_GENERATE_RANDOM);
        enc.one_shot(&mut r, b"", b"x").unwrap();
        assert_eq!(&r.iv[..4], &[0xaa; 4]);
        assert_ne!(r.iv[4..], [0xaa; 8]);
    }

    #[test]
    fn message_rules() {
        let mut enc = cipher(true);
        assert_eq!(
            enc.next(&mut params(0), b"", true).unwrap_err(),
            Error::OperationNotInitialized
        );
        enc.begin(&mut params(0), b"").unwrap();
        assert_eq!(
            enc.begin(&mut params(0), b"").unwrap_err(),
            Error::OperationActive
        );
        assert_eq!(
            enc.one_shot(&mut params(0), b"", b"").unwrap_err(),
            Error::OperationActive
        );
        let mut bad = params(0);
        bad.tag_bits = 0;
        let mut other = cipher(true);
        assert_eq!(
            other.one_shot(&mut bad, b"", b"").unwrap_err(),
            Error::MechanismParamInvalid
        );
    }
}
