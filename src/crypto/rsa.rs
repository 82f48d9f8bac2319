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
mod tests {
    use super::*;
    use crate::crypto::digest::digest;
    use aws_lc_rs::signature::{self, RsaPublicKeyComponents};
    use std::sync::OnceLock;

    fn comps() -> &'static RsaComponents {
        static C: OnceLock<RsaComponents> = OnceLock::new();
        C.get_or_init(|| generate(2048, &[1, 0, 1]).unwrap())
    }

    fn key() -> &'static RsaPrivateKey {
        static K: OnceLock<RsaPrivateKey> = OnceLock::new();
        K.get_or_init(|| RsaPrivateKey::from_components(comps()).unwrap())
    }

    fn lc_pub() -> RsaPublicKeyComponents<Vec<u8>> {
        RsaPublicKeyComponents {
            n: comps().n.clone(),
            e: comps().e.clone(),
        }
    }

    fn clone_comps(c: &RsaComponents) -> RsaComponents {
        RsaComponents {
            n: c.n.clone(),
            e: c.e.clone(),
            d: c.d.clone(),
            p: c.p.clone(),
            q: c.q.clone(),
            dp: c.dp.clone(),
            dq: c.dq.clone(),
            qinv: c.qinv.clone(),
        }
    }

    const SHA256_DIGEST_INFO: [u8; 19] = [
        0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01,
        0x05, 0x00, 0x04, 0x20,
    ];

    #[test]
    fn generated_shape_and_traits() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<RsaPrivateKey>();
        send_sync::<RsaPublicKey>();
        let c = comps();
        assert_eq!(c.n.len(), 256);
        assert_eq!(c.e, vec![1, 0, 1]);
        assert_eq!(key().modulus_len(), 256);
        assert_eq!(key().public_key().modulus_bits(), 2048);
        assert_eq!(format!("{:?}", key()), "RsaPrivateKey([redacted])");
        assert!(format!("{c:?}").contains("[redacted]"));
    }

    #[test]
    fn generate_rejects_bad_params() {
        assert_eq!(generate(1000, &[1, 0, 1]).err(), Some(CryptoError::BadKey));
        assert_eq!(generate(512, &[1, 0, 1]).err(), Some(CryptoError::BadKey));
        assert_eq!(generate(2048, &[1, 0, 0]).err(), Some(CryptoError::BadKey));
        assert_eq!(generate(2048, &[1]).err(), Some(CryptoError::BadKey));
    }

    #[test]
    fn pkcs1_sha256_verified_by_aws_lc_rs() {
        let msg = b"keyward pkcs1";
        let h = digest(DigestAlg::Sha256, msg);
        let pad = SignPadding::Pkcs1 {
            digest: Some(DigestAlg::Sha256),
        };
        let sig = key().sign(&pad, &h).unwrap();
        assert_eq!(sig.len(), 256);
        lc_pub()
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &sig)
            .unwrap();
        key().public_key().verify(&pad, &h, &sig).unwrap();
        // Raw DigestInfo input gives the identical (deterministic) signature.
        let mut di = SHA256_DIGEST_INFO.to_vec();
        di.extend_from_slice(&h);
        let raw_pad = SignPadding::Pkcs1 { digest: None };
        assert_eq!(key().sign(&raw_pad, &di).unwrap(), sig);
        key().public_key().verify(&raw_pad, &di, &sig).unwrap();
    }

    #[test]
    fn raw_x509_matches_pkcs1() {
        let h = digest(DigestAlg::Sha256, b"raw");
        let sig = key()
            .sign(
                &SignPadding::Pkcs1 {
                    digest: Some(DigestAlg::Sha256),
                },
                &h,
            )
            .unwrap();
        // EMSA-PKCS1-v1_5 encoding: 00 01 FF.. 00 DigestInfo hash
        let mut em = vec![0x00, 0x01];
        em.resize(256 - 19 - 32 - 1, 0xff);
        em.push(0);
        em.extend_from_slice(&SHA256_DIGEST_INFO);
        em.extend_from_slice(&h);
        assert_eq!(key().sign(&SignPadding::Raw, &em).unwrap(), sig);
        key()
            .public_key()
            .verify(&SignPadding::Raw, &em, &sig)
            .unwrap();
        // Raw encrypt/decrypt round trip, with a short (left-padded) input.
        let ct = key()
            .public_key()
            .encrypt(&EncPadding::Raw, b"short")
            .unwrap();
        let pt = key().decrypt(&EncPadding::Raw, &ct).unwrap();
        assert_eq!(&pt[..251], &[0u8; 251][..]);
        assert_eq!(&pt[251..], b"short");
        assert_eq!(
            key().sign(&SignPadding::Raw, &em[1..]).err(),
            Some(CryptoError::InvalidLength)
        );
        assert_eq!(
            key().sign(&SignPadding::Raw, &[0xff; 256]).err(),
            Some(CryptoError::InvalidData)
        );
        assert_eq!(
            key()
                .public_key()
                .encrypt(&EncPadding::Raw, &[0xff; 256])
                .err(),
            Some(CryptoError::InvalidData)
        );
    }

    #[test]
    fn pss_verified_by_aws_lc_rs() {
        let msg = b"keyward pss";
        let h = digest(DigestAlg::Sha256, msg);
        let pad = SignPadding::Pss {
            digest: DigestAlg::Sha256,
            mgf1: DigestAlg::Sha256,
            salt_len: 32,
        };
        let sig = key().sign(&pad, &h).unwrap();
        lc_pub()
            .verify(&signature::RSA_PSS_2048_8192_SHA256, msg, &sig)
            .unwrap();
        key().public_key().verify(&pad, &h, &sig).unwrap();
        // Different hash/MGF1/salt combination round trips too.
        let h1 = digest(DigestAlg::Sha384, msg);
        let pad2 = SignPadding::Pss {
            digest: DigestAlg::Sha384,
            mgf1: DigestAlg::Sha1,
            salt_len: 0,
        };
        let sig2 = key().sign(&pad2, &h1).unwrap();
        key().public_key().verify(&pad2, &h1, &sig2).unwrap();
        assert_eq!(
            key().public_key().verify(&pad, &h, &sig2).err(),
            Some(CryptoError::BadSignature)
        );
        let too_much_salt = SignPadding::Pss {
            digest: DigestAlg::Sha256,
            mgf1: DigestAlg::Sha256,
            salt_len: 223,
        };
        assert_eq!(
            key().sign(&too_much_salt, &h).err(),
            Some(CryptoError::BadParameter)
        );
    }

    #[test]
    fn verify_negatives() {
        let pub_key = key().public_key();
        let h = digest(DigestAlg::Sha256, b"neg");
        let pad = SignPadding::Pkcs1 {
            digest: Some(DigestAlg::Sha256),
        };
        let mut sig = key().sign(&pad, &h).unwrap();
        assert_eq!(
            pub_key.verify(&pad, &h, &sig[1..]),
            Err(CryptoError::BadSignatureLength)
        );
        assert_eq!(
            pub_key.verify(&pad, &h[1..], &sig),
            Err(CryptoError::InvalidLength)
        );
        assert_eq!(
            key().sign(&pad, &h[1..]).err(),
            Some(CryptoError::InvalidLength)
        );
        let other = digest(DigestAlg::Sha256, b"other");
        assert_eq!(
            pub_key.verify(&pad, &other, &sig),
            Err(CryptoError::BadSignature)
        );
        sig[10] ^= 0x40;
        assert_eq!(
            pub_key.verify(&pad, &h, &sig),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            pub_key.verify(&SignPadding::Raw, &h, &sig),
            Err(CryptoError::BadSignature)
        );
        let too_long = vec![0u8; 246];
        let raw = SignPadding::Pkcs1 { digest: None };
        assert_eq!(
            key().sign(&raw, &too_long).err(),
            Some(CryptoError::InvalidLength)
        );
    }

    fn oaep(digest: DigestAlg, label: &[u8]) -> EncPadding {
        EncPadding::Oaep {
            digest,
            mgf1: digest,
            label: label.to_vec(),
        }
    }

    #[test]
    fn oaep_round_trips() {
        let pub_key = key().public_key();
        for alg in [DigestAlg::Sha1, DigestAlg::Sha256] {
            for label in [&b""[..], b"label"] {
                let pad = oaep(alg, label);
                let max = 256 - 2 * alg.output_len() - 2;
                let msg = vec![0x5a; max];
                let ct = pub_key.encrypt(&pad, &msg).unwrap();
                assert_eq!(ct.len(), 256);
                assert_eq!(&key().decrypt(&pad, &ct).unwrap()[..], &msg[..]);
                let empty_ct = pub_key.encrypt(&pad, b"").unwrap();
                assert!(key().decrypt(&pad, &empty_ct).unwrap().is_empty());
                assert_eq!(
                    pub_key.encrypt(&pad, &vec![0; max + 1]).err(),
                    Some(CryptoError::InvalidLength)
                );
            }
        }
    }

    #[test]
    fn oaep_negatives() {
        let pub_key = key().public_key();
        let pad = oaep(DigestAlg::Sha256, b"L");
        let mut ct = pub_key.encrypt(&pad, b"secret").unwrap();
        assert_eq!(
            key().decrypt(&oaep(DigestAlg::Sha256, b"M"), &ct).err(),
            Some(CryptoError::InvalidData)
        );
        assert_eq!(
            key().decrypt(&oaep(DigestAlg::Sha1, b"L"), &ct).err(),
            Some(CryptoError::InvalidData)
        );
        assert_eq!(
            key().decrypt(&pad, &ct[1..]).err(),
            Some(CryptoError::InvalidLength)
        );
        ct[100] ^= 1;
        assert_eq!(
            key().decrypt(&pad, &ct).err(),
            Some(CryptoError::InvalidData)
        );
        assert_eq!(
            key().decrypt(&pad, &[0xff; 256]).err(),
            Some(CryptoError::InvalidData)
        );
    }

    #[test]
    fn pkcs1_encryption_round_trip() {
        let pub_key = key().public_key();
        let msg = vec![7u8; 245];
        let ct = pub_key.encrypt(&EncPadding::Pkcs1, &msg).unwrap();
        assert_eq!(
            &key().decrypt(&EncPadding::Pkcs1, &ct).unwrap()[..],
            &msg[..]
        );
        assert_eq!(
            pub_key.encrypt(&EncPadding::Pkcs1, &[0; 246]).err(),
            Some(CryptoError::InvalidLength)
        );
        // c = 0 is below n: a synthetic message, not an error; c >= n is refused.
        assert!(key().decrypt(&EncPadding::Pkcs1, &[0; 256]).is_ok());
        assert_eq!(
            key().decrypt(&EncPadding::Pkcs1, &[0xff; 256]).err(),
            Some(CryptoError::InvalidData)
        );
        assert_eq!(
            key().decrypt(&EncPadding::Pkcs1, &[0; 255]).err(),
            Some(CryptoError::InvalidLength)
        );
        // Implicit rejection: a damaged ciphertext gives a stable synthetic message, no error.
        let mut bad = ct.clone();
        bad[100] ^= 1;
        let first = key().decrypt(&EncPadding::Pkcs1, &bad).unwrap();
        assert_eq!(first, key().decrypt(&EncPadding::Pkcs1, &bad).unwrap());
        assert_ne!(first.as_slice(), msg.as_slice());
    }

    #[test]
    fn from_components_variants() {
        let c = comps();
        // Without CRT values: uses n, e, d only and still works.
        let mut no_crt = clone_comps(c);
        no_crt.p.clear();
        no_crt.dq.clear();
        let k = RsaPrivateKey::from_components(&no_crt).unwrap();
        let h = digest(DigestAlg::Sha256, b"x");
        let pad = SignPadding::Pkcs1 {
            digest: Some(DigestAlg::Sha256),
        };
        assert_eq!(k.sign(&pad, &h).unwrap(), key().sign(&pad, &h).unwrap());
        // Wrong d, with and without CRT → BadKey.
        let mut bad = clone_comps(c);
        let last = bad.d.len() - 1;
        bad.d[last] ^= 2;
        assert_eq!(
            RsaPrivateKey::from_components(&bad).err(),
            Some(CryptoError::BadKey)
        );
        bad.p.clear();
        assert_eq!(
            RsaPrivateKey::from_components(&bad).err(),
            Some(CryptoError::BadKey)
        );
        // Wrong CRT coefficient → BadKey.
        let mut bad = clone_comps(c);
        bad.qinv[0] ^= 1;
        assert_eq!(
            RsaPrivateKey::from_components(&bad).err(),
            Some(CryptoError::BadKey)
        );
        let mut bad = clone_comps(c);
        bad.e.clear();
        assert_eq!(
            RsaPrivateKey::from_components(&bad).err(),
            Some(CryptoError::BadKey)
        );
    }

    #[test]
    fn public_from_components() {
        let c = comps();
        let p = RsaPublicKey::from_components(&c.n, &c.e).unwrap();
        assert_eq!(p.modulus_len(), 256);
        assert_eq!(
            RsaPublicKey::from_components(&c.n, &[1, 0, 0]).err(),
            Some(CryptoError::BadKey)
        );
        let mut even = c.n.clone();
        even[255] &= 0xfe;
        assert_eq!(
            RsaPublicKey::from_components(&even, &c.e).err(),
            Some(CryptoError::BadKey)
        );
        // Leading zeros are accepted.
        let mut n0 = vec![0u8];
        n0.extend_from_slice(&c.n);
        assert_eq!(
            RsaPublicKey::from_components(&n0, &c.e)
                .unwrap()
                .modulus_bits(),
            2048
        );
    }

    #[test]
    fn concurrent_signing() {
        let k = Arc::new(RsaPrivateKey::from_components(comps()).unwrap());
        let pad = SignPadding::Pss {
            digest: DigestAlg::Sha256,
            mgf1: DigestAlg::Sha256,
            salt_len: 32,
        };
        let threads: Vec<_> = (0..4)
            .map(|i| {
                let k = Arc::clone(&k);
                let pad = pad.clone();
                std::thread::spawn(move || {
                    let h = digest(DigestAlg::Sha256, &[i]);
                    for _ in 0..5 {
                        let sig = k.sign(&pad, &h).unwrap();
                        k.public_key().verify(&pad, &h, &sig).unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}

#[cfg(test)]
mod exponent_tests {
    #[test]
    fn exponent_ok() {
        use super::exponent_ok as ok;
        assert!(
            ok(&[3]) && ok(&[1, 0, 1]) && ok(&[0, 0, 1, 0, 1]) && ok(&[1, 0xff, 0xff, 0xff, 0xff])
        );
        assert!(!ok(&[]) && !ok(&[0]) && !ok(&[1]) && !ok(&[2]) && !ok(&[3, 0, 0, 0, 1]));
    }
}
