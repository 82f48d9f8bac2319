//! RSA: PKCS#1 v1.5, PSS, OAEP and raw (X.509) operations.
//!
//! All integers are big-endian unsigned byte strings, as in PKCS#11
//! (`CKA_MODULUS`, `CKA_PUBLIC_EXPONENT`, ...).

use std::sync::Arc;

use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::digest::DigestAlg;
use super::ffi::{MdRole, PkeyCtx, PkeyOp, RsaKey, RsaPad};
use super::{rng, rsa_implicit, CryptoError, Result};

/// PKCS#1 v1.5 padding overhead in bytes.
const PKCS1_OVERHEAD: usize = 11;

/// Full RSA key material. Zeroized on drop; `Debug` is redacted.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RsaComponents {
    /// Modulus.
    pub n: Vec<u8>,
    /// Public exponent.
    pub e: Vec<u8>,
    /// Private exponent.
    pub d: Vec<u8>,
    /// First prime.
    pub p: Vec<u8>,
    /// Second prime.
    pub q: Vec<u8>,
    /// d mod (p-1).
    pub dp: Vec<u8>,
    /// d mod (q-1).
    pub dq: Vec<u8>,
    /// q^-1 mod p.
    pub qinv: Vec<u8>,
}

impl core::fmt::Debug for RsaComponents {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RsaComponents([redacted])")
    }
}

/// Generates an RSA key pair.
///
/// `bits` must be in 1024..=8192 **and a multiple of 128** (aws-lc only generates
/// such sizes; anything else would silently yield a shorter modulus) → else `BadKey`.
/// `public_exponent` is big-endian, odd, >= 3 and at most 33 bits (aws-lc's bound)
/// → else `BadKey`.
pub fn generate(bits: u32, public_exponent: &[u8]) -> Result<RsaComponents> {
    if !(1024..=8192).contains(&bits) || !bits.is_multiple_of(128) {
        return Err(CryptoError::BadKey);
    }
    if !exponent_ok(public_exponent) {
        return Err(CryptoError::BadKey);
    }
    let key = RsaKey::generate(bits, public_exponent)?;
    if key.bits() != bits {
        return Err(CryptoError::Internal);
    }
    Ok(key.export())
}

/// Whether a big-endian public exponent is odd, >= 3 and at most 33 bits.
fn exponent_ok(e: &[u8]) -> bool {
    let start = e.iter().position(|&b| b != 0).unwrap_or(e.len());
    let e = &e[start..];
    let (Some(&first), Some(&last)) = (e.first(), e.last()) else {
        return false;
    };
    let bits = (e.len() - 1) * 8 + (8 - first.leading_zeros() as usize);
    last & 1 == 1 && (2..=33).contains(&bits)
}

/// Signature padding schemes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignPadding {
    /// PKCS#1 v1.5. `None`: the input is raw (the caller's DigestInfo).
    Pkcs1 {
        /// Hash whose DigestInfo is built around the input, if any.
        digest: Option<DigestAlg>,
    },
    /// RSASSA-PSS over a pre-computed hash.
    Pss {
        /// Hash algorithm of the input.
        digest: DigestAlg,
        /// MGF1 hash.
        mgf1: DigestAlg,
        /// Exact salt length in bytes.
        salt_len: usize,
    },
    /// X.509 raw RSA, no padding.
    Raw,
}

/// Encryption padding schemes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EncPadding {
    /// RSAES-PKCS1-v1_5.
    Pkcs1,
    /// RSAES-OAEP.
    Oaep {
        /// Label hash.
        digest: DigestAlg,
        /// MGF1 hash.
        mgf1: DigestAlg,
        /// Label (may be empty).
        label: Vec<u8>,
    },
    /// X.509 raw RSA, no padding.
    Raw,
}

/// An RSA private key. Send + Sync; `Debug` is redacted.
pub struct RsaPrivateKey {
    key: RsaKey,
    public: RsaPublicKey,
    /// Seed of the implicit-rejection key for PKCS#1 v1.5 decryption.
    rejection_seed: Zeroizing<Vec<u8>>,
}

/// An RSA public key. Send + Sync; cheap to clone.
#[derive(Clone)]
pub struct RsaPublicKey {
    inner: Arc<PublicInner>,
}

struct PublicInner {
    key: RsaKey,
    /// Modulus, big-endian, exactly k bytes.
    n: Vec<u8>,
}

impl core::fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RsaPrivateKey([redacted])")
    }
}

impl core::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.modulus_bits())
            .finish()
    }
}

/// Checks that a hash input matches its algorithm's length.
fn check_hash_len(alg: DigestAlg, input: &[u8]) -> Result<()> {
    if input.len() == alg.output_len() {
        Ok(())
    } else {
        Err(CryptoError::InvalidLength)
    }
}

/// A PSS context, after checking the input length and that the salt fits.
fn pss_ctx(
    key: &RsaKey,
    op: PkeyOp,
    d: DigestAlg,
    mgf1: DigestAlg,
    salt: usize,
    input: &[u8],
) -> Result<PkeyCtx> {
    check_hash_len(d, input)?;
    // emLen = ceil((modBits - 1) / 8); PSS needs emLen >= hLen + sLen + 2.
    let em_len = (key.bits() as usize).saturating_sub(1).div_ceil(8);
    let needed = salt
        .checked_add(d.output_len() + 2)
        .ok_or(CryptoError::BadParameter)?;
    if needed > em_len {
        return Err(CryptoError::BadParameter);
    }
    let mut c = key.ctx(op, RsaPad::Pss)?;
    c.set_md(MdRole::Signature, d)?;
    c.set_md(MdRole::Mgf1, mgf1)?;
    c.set_pss_saltlen(salt)?;
    Ok(c)
}

/// An OAEP context with digests and label set.
fn oaep_ctx(
    key: &RsaKey,
    op: PkeyOp,
    d: DigestAlg,
    mgf1: DigestAlg,
    label: &[u8],
) -> Result<PkeyCtx> {
    let mut c = key.ctx(op, RsaPad::Oaep)?;
    c.set_md(MdRole::Oaep, d)?;
    c.set_md(MdRole::Mgf1, mgf1)?;
    c.set_oaep_label(label)?;
    Ok(c)
}

/// Left-pads `input` (len <= k) with zeros to exactly `k` bytes.
fn left_pad(input: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>> {
    let pad = k
        .checked_sub(input.len())
        .ok_or(CryptoError::InvalidLength)?;
    let mut v = Zeroizing::new(vec![0u8; k]);
    v[pad..].copy_from_slice(input);
    Ok(v)
}

/// Whether a k-byte big-endian value is below the (k-byte) modulus `n`.
fn below_modulus(n: &[u8], value: &[u8]) -> bool {
    value.len() == n.len() && value < n
}

impl RsaPrivateKey {
    /// Builds a private key. p,q,dp,dq,qinv may be empty (if any is, only n,e,d are
    /// used). Consistency is checked → `BadKey`: with CRT values aws-lc's
    /// `RSA_check_key` (n = pq, ed ≡ 1, CRT values); without, a pairwise
    /// sign/verify test. aws-lc bounds e to 33 bits.
    pub fn from_components(c: &RsaComponents) -> Result<Self> {
        if c.n.is_empty() || c.e.is_empty() || c.d.is_empty() {
            return Err(CryptoError::BadKey);
        }
        let crt_parts = [&c.p, &c.q, &c.dp, &c.dq, &c.qinv];
        let has_crt = crt_parts.iter().all(|v| !v.is_empty());
        let key = RsaKey::new_private(c, has_crt)?;
        let public = RsaPublicKey::from_components(&c.n, &c.e)?;
        let rejection_seed = rsa_implicit::kdk_seed(&c.d, key.size());
        let me = RsaPrivateKey {
            key,
            public,
            rejection_seed,
        };
        if !has_crt {
            me.pairwise_check()?;
        }
        Ok(me)
    }

    /// Raw-signs a random value below n and checks the public operation recovers it.
    fn pairwise_check(&self) -> Result<()> {
        let k = self.modulus_len();
        let mut m = Zeroizing::new(vec![0u8; k]);
        if k < 2 {
            return Err(CryptoError::BadKey);
        }
        // Leading zero byte keeps m < n.
        rng::fill(&mut m[1..])?;
        let sig = self
            .key
            .ctx(PkeyOp::Sign, RsaPad::None)?
            .sign(&m, k)
            .map_err(|_| CryptoError::BadKey)?;
        self.public
            .inner
            .key
            .ctx(PkeyOp::Verify, RsaPad::None)?
            .verify(&sig, &m)
            .map_err(|_| CryptoError::BadKey)
    }

    /// Modulus length in bytes (k).
    pub fn modulus_len(&self) -> usize {
        self.key.size()
    }

    /// The matching public key.
    pub fn public_key(&self) -> RsaPublicKey {
        self.public.clone()
    }

    /// Signs `input` (see [`SignPadding`]); returns k bytes.
    ///
    /// `input` is: for `Pkcs1{digest: Some(h)}` and `Pss`: the hash (length must equal
    /// h's output → else `InvalidLength`; PSS salt too long for the key → `BadParameter`);
    /// for `Pkcs1{digest: None}`: raw bytes (a DigestInfo), len <= k-11 else
    /// `InvalidLength`; for `Raw`: exactly k bytes (`InvalidLength`), numerically < n and
    /// none of the values aws-lc will not exponentiate (0, 1, n-1) (`InvalidData`).
    pub fn sign(&self, padding: &SignPadding, input: &[u8]) -> Result<Vec<u8>> {
        let k = self.modulus_len();
        let mut c = match padding {
            SignPadding::Pkcs1 { digest: Some(h) } => {
                check_hash_len(*h, input)?;
                let mut c = self.key.ctx(PkeyOp::Sign, RsaPad::Pkcs1)?;
                c.set_md(MdRole::Signature, *h)?;
                c
            }
            SignPadding::Pkcs1 { digest: None } => {
                if input.len() > k.saturating_sub(PKCS1_OVERHEAD) {
                    return Err(CryptoError::InvalidLength);
                }
                self.key.ctx(PkeyOp::Sign, RsaPad::Pkcs1)?
            }
            SignPadding::Pss {
                digest,
                mgf1,
                salt_len,
            } => pss_ctx(&self.key, PkeyOp::Sign, *digest, *mgf1, *salt_len, input)?,
            SignPadding::Raw => {
                if input.len() != k {
                    return Err(CryptoError::InvalidLength);
                }
                if !below_modulus(&self.public.inner.n, input) {
                    return Err(CryptoError::InvalidData);
                }
                self.key.ctx(PkeyOp::Sign, RsaPad::None)?
            }
        };
        // aws-lc refuses to exponentiate the trivial values 0, 1 and n-1: for raw RSA that
        // is the caller's data, not an internal failure.
        let raw = *padding == SignPadding::Raw;
        let sig = c
            .sign(input, k)
            .map_err(|e| if raw { CryptoError::InvalidData } else { e })?;
        if sig.len() != k {
            return Err(CryptoError::Internal);
        }
        Ok(sig)
    }

    /// Decrypts (OAEP, PKCS#1 v1.5 or raw). Ciphertext length != k → `InvalidLength`;
    /// ciphertext >= n or an OAEP decode failure → `InvalidData`. PKCS#1 v1.5 never fails on
    /// padding: it uses implicit rejection ([`rsa_implicit`]). Raw returns k bytes.
    pub fn decrypt(&self, padding: &EncPadding, ciphertext: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let k = self.modulus_len();
        if ciphertext.len() != k {
            return Err(CryptoError::InvalidLength);
        }
        let mut c = match padding {
            EncPadding::Pkcs1 => {
                // Raw RSA, then a constant-time decode with implicit rejection. aws-lc
                // refuses the trivial ciphertexts 0, 1 and n-1 outright; they get the
                // synthetic message too (an all-zero block never decodes), so no
                // ciphertext below n is answered with an error.
                let raw = self
                    .key
                    .ctx(PkeyOp::Decrypt, RsaPad::None)?
                    .decrypt(ciphertext, k);
                let em = match raw {
                    Ok(em) => em,
                    Err(_) if below_modulus(&self.public.inner.n, ciphertext) => {
                        Zeroizing::new(vec![0u8; k])
                    }
                    Err(_) => return Err(CryptoError::InvalidData),
                };
                return rsa_implicit::decode(&em, ciphertext, &self.rejection_seed);
            }
            EncPadding::Oaep {
                digest,
                mgf1,
                label,
            } => oaep_ctx(&self.key, PkeyOp::Decrypt, *digest, *mgf1, label)?,
            EncPadding::Raw => self.key.ctx(PkeyOp::Decrypt, RsaPad::None)?,
        };
        c.decrypt(ciphertext, k)
            .map_err(|_| CryptoError::InvalidData)
    }
}

impl RsaPublicKey {
    /// Public key from modulus and exponent → `BadKey` if rejected (even/too small e,
    /// e over 33 bits, even n, n over 16384 bits).
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self> {
        let key = RsaKey::new_public(n, e)?;
        let start = n.iter().position(|&b| b != 0).unwrap_or(n.len());
        let n = left_pad(&n[start..], key.size()).map_err(|_| CryptoError::Internal)?;
        let inner = PublicInner { key, n: n.to_vec() };
        Ok(RsaPublicKey {
            inner: Arc::new(inner),
        })
    }

    /// Modulus length in bytes (k).
    pub fn modulus_len(&self) -> usize {
        self.inner.key.size()
    }

    /// Modulus length in bits.
    pub fn modulus_bits(&self) -> u32 {
        self.inner.key.bits()
    }

    /// Verifies `sig` over `input` (same input rules as [`RsaPrivateKey::sign`], except
    /// that `Raw` accepts input shorter than k, left-padded with zeros).
    /// `sig.len() != k` → `BadSignatureLength`; mismatch → `BadSignature`.
    pub fn verify(&self, padding: &SignPadding, input: &[u8], sig: &[u8]) -> Result<()> {
        let k = self.modulus_len();
        if sig.len() != k {
            return Err(CryptoError::BadSignatureLength);
        }
        let padded;
        let (mut c, input) = match padding {
            SignPadding::Pkcs1 { digest: Some(h) } => {
                check_hash_len(*h, input)?;
                let mut c = self.inner.key.ctx(PkeyOp::Verify, RsaPad::Pkcs1)?;
                c.set_md(MdRole::Signature, *h)?;
                (c, input)
            }
            SignPadding::Pkcs1 { digest: None } => {
                if input.len() > k.saturating_sub(PKCS1_OVERHEAD) {
                    return Err(CryptoError::InvalidLength);
                }
                (self.inner.key.ctx(PkeyOp::Verify, RsaPad::Pkcs1)?, input)
            }
            SignPadding::Pss {
                digest,
                mgf1,
                salt_len,
            } => {
                let c = pss_ctx(
                    &self.inner.key,
                    PkeyOp::Verify,
                    *digest,
                    *mgf1,
                    *salt_len,
                    input,
                )?;
                (c, input)
            }
            SignPadding::Raw => {
                padded = left_pad(input, k)?;
                (
                    self.inner.key.ctx(PkeyOp::Verify, RsaPad::None)?,
                    padded.as_slice(),
                )
            }
        };
        c.verify(sig, input)
    }

    /// Encrypts; returns k bytes. Too long → `InvalidLength` (PKCS#1: > k-11;
    /// OAEP: > k-2h-2; Raw: > k). Raw input is left-padded to k and must be < n
    /// (`InvalidData`).
    pub fn encrypt(&self, padding: &EncPadding, plaintext: &[u8]) -> Result<Vec<u8>> {
        let k = self.modulus_len();
        let padded;
        let (mut c, input) = match padding {
            EncPadding::Pkcs1 => {
                if plaintext.len() > k.saturating_sub(PKCS1_OVERHEAD) {
                    return Err(CryptoError::InvalidLength);
                }
                (
                    self.inner.key.ctx(PkeyOp::Encrypt, RsaPad::Pkcs1)?,
                    plaintext,
                )
            }
            EncPadding::Oaep {
                digest,
                mgf1,
                label,
            } => {
                let max = k.saturating_sub(2 * digest.output_len() + 2);
                if k < 2 * digest.output_len() + 2 || plaintext.len() > max {
                    return Err(CryptoError::InvalidLength);
                }
                let c = oaep_ctx(&self.inner.key, PkeyOp::Encrypt, *digest, *mgf1, label)?;
                (c, plaintext)
            }
            EncPadding::Raw => {
                padded = left_pad(plaintext, k)?;
                if !below_modulus(&self.inner.n, &padded) {
                    return Err(CryptoError::InvalidData);
                }
                (
                    self.inner.key.ctx(PkeyOp::Encrypt, RsaPad::None)?,
                    padded.as_slice(),
                )
            }
        };
        let out = c.encrypt(input, k)?;
        if out.len() != k {
            return Err(CryptoError::Internal);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests;
