//! Active operations, and the generic building blocks the mechanism families share:
//! collect-or-hash input, then one closure that signs, verifies or transforms.

use zeroize::Zeroizing;

use cryptoki_sys::{CKA_VALUE, CKA_VALUE_LEN, CK_ULONG};

use crate::crypto::digest::{Digest, DigestAlg};
use crate::crypto::CryptoError;
use crate::error::{Error, Result};
use crate::object::attr::parse_ulong;
use crate::object::Attributes;

/// An active signing (or MAC) operation.
pub trait Signer: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self) -> Result<Vec<u8>>;
    /// The whole signature of `data` in one call (C_Sign): `update` then `finish`, unless
    /// the signer has a faster way.
    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.update(data)?;
        self.finish()
    }
}

/// An active verification operation.
pub trait Verifier: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    /// CKR_SIGNATURE_INVALID / CKR_SIGNATURE_LEN_RANGE on failure.
    fn finish(&mut self, signature: &[u8]) -> Result<()>;
    /// The whole verification of `data` in one call (C_Verify), as [`Signer::one_shot`].
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        self.update(data)?;
        self.finish(signature)
    }
}

/// An active encryption or decryption operation.
pub trait Cipher: Send {
    fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>>;
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>>;
    /// The whole operation on `data` in one call (C_Encrypt, C_Decrypt): `update` then
    /// `finish`, unless the cipher has a faster way.
    fn one_shot(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = self.update(data)?;
        out.extend_from_slice(&self.finish()?);
        Ok(out)
    }
}

/// An active digest operation.
pub trait Digester: Send {
    fn update(&mut self, data: &[u8]) -> Result<()>;
    fn finish(&mut self) -> Result<Vec<u8>>;
    /// A copy of the running state (C_GetOperationState).
    fn snapshot(&self) -> Result<Box<dyn Digester>>;
}

/// Which operation a crypto failure happened in: decides its CKR code.
#[derive(Clone, Copy, Debug)]
pub enum Context {
    Sign,
    Verify,
    Encrypt,
    Decrypt,
}

/// Map a crypto-layer failure to the CKR code the spec gives it in `ctx`.
pub fn crypto_error(ctx: Context) -> impl Fn(CryptoError) -> Error {
    move |e| match (e, ctx) {
        (CryptoError::InvalidLength, Context::Decrypt) => Error::EncryptedDataLenRange,
        (CryptoError::InvalidData, Context::Decrypt) => Error::EncryptedDataInvalid,
        (CryptoError::InvalidLength, _) => Error::DataLenRange,
        (CryptoError::InvalidData, _) => Error::DataInvalid,
        (CryptoError::BadSignature, _) => Error::SignatureInvalid,
        (CryptoError::BadSignatureLength, _) => Error::SignatureLenRange,
        (CryptoError::BadParameter, _) => Error::MechanismParamInvalid,
        (CryptoError::BadKey, _) => Error::KeyTypeInconsistent,
        (CryptoError::Internal, _) => Error::GeneralError,
    }
}

/// Longest input a raw (single-part) mechanism will collect.
const MAX_RAW_INPUT: usize = 1 << 20;

/// The input of a sign/verify operation: hashed as it arrives, or collected raw.
pub enum Input {
    Hash(Digest),
    Raw(Zeroizing<Vec<u8>>),
}

impl Input {
    pub fn hashed(alg: DigestAlg) -> Self {
        Input::Hash(Digest::new(alg))
    }

    pub fn raw() -> Self {
        Input::Raw(Zeroizing::new(Vec::new()))
    }

    fn update(&mut self, data: &[u8]) -> Result<()> {
        match self {
            Input::Hash(d) => d.update(data),
            Input::Raw(buf) if buf.len() + data.len() > MAX_RAW_INPUT => {
                return Err(Error::DataLenRange)
            }
            Input::Raw(buf) => buf.extend_from_slice(data),
        }
        Ok(())
    }

    fn take(&mut self) -> Zeroizing<Vec<u8>> {
        match self {
            Input::Hash(d) => {
                let fresh = Digest::new(d.alg());
                Zeroizing::new(std::mem::replace(d, fresh).finish())
            }
            Input::Raw(buf) => std::mem::take(buf),
        }
    }
}

type SignFn = Box<dyn Fn(&[u8]) -> Result<Vec<u8>> + Send>;
type VerifyFn = Box<dyn Fn(&[u8], &[u8]) -> Result<()> + Send>;
type CipherFn = Box<dyn Fn(&[u8]) -> Result<Zeroizing<Vec<u8>>> + Send>;

/// A signer made of an input stage and a signing closure.
pub struct SignWith(pub Input, pub SignFn);

impl Signer for SignWith {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0.update(data)
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        let input = self.0.take();
        (self.1)(&input)
    }
}

/// A verifier made of an input stage and a verifying closure `(input, signature)`.
pub struct VerifyWith(pub Input, pub VerifyFn);

impl Verifier for VerifyWith {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0.update(data)
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let input = self.0.take();
        (self.1)(&input, signature)
    }
}

/// A verifier that accepts a signature any of its verifiers accepts (the versions of one
/// logical key); otherwise the first one's verdict, so length errors stay the current key's.
pub struct AnyOf(pub Vec<Box<dyn Verifier>>);

impl Verifier for AnyOf {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.0.iter_mut().try_for_each(|v| v.update(data))
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        let mut first = None;
        for v in &mut self.0 {
            match v.finish(signature) {
                Ok(()) => return Ok(()),
                Err(e) => {
                    first.get_or_insert(e);
                }
            }
        }
        Err(first.unwrap_or(Error::SignatureInvalid))
    }
}

/// A single-shot cipher (RSA): collects the input, transforms it at the end.
pub struct OneShot(pub Zeroizing<Vec<u8>>, pub CipherFn);

impl Cipher for OneShot {
    fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        if self.0.len() + data.len() > MAX_RAW_INPUT {
            return Err(Error::DataLenRange);
        }
        self.0.extend_from_slice(data);
        Ok(Zeroizing::new(Vec::new()))
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        let input = std::mem::take(&mut self.0);
        (self.1)(&input)
    }
}

/// Boxed constructors, to keep the mechanism files short.
pub fn signer(
    input: Input,
    f: impl Fn(&[u8]) -> Result<Vec<u8>> + Send + 'static,
) -> Box<dyn Signer> {
    Box::new(SignWith(input, Box::new(f)))
}

pub fn verifier(
    input: Input,
    f: impl Fn(&[u8], &[u8]) -> Result<()> + Send + 'static,
) -> Box<dyn Verifier> {
    Box::new(VerifyWith(input, Box::new(f)))
}

pub fn one_shot(
    f: impl Fn(&[u8]) -> Result<Zeroizing<Vec<u8>>> + Send + 'static,
) -> Box<dyn Cipher> {
    Box::new(OneShot(Zeroizing::new(Vec::new()), Box::new(f)))
}

/// Key generation for secret keys: a random CKA_VALUE of the CKA_VALUE_LEN the template asks
/// for. CKR_TEMPLATE_INCOMPLETE without it, CKR_KEY_SIZE_RANGE unless `valid(len)`.
pub fn random_secret(
    template: &Attributes,
    valid: impl Fn(CK_ULONG) -> bool,
) -> Result<Attributes> {
    let len = template
        .get(CKA_VALUE_LEN)
        .ok_or(Error::TemplateIncomplete)
        .and_then(parse_ulong)?;
    if !valid(len) {
        return Err(Error::KeySizeRange);
    }
    let mut value = Zeroizing::new(vec![0u8; len as usize]);
    crate::crypto::rng::fill(&mut value).map_err(|_| Error::GeneralError)?;
    let mut out = Attributes::new();
    out.set(CKA_VALUE, value.to_vec());
    Ok(out)
}
