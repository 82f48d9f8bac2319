//! ECDSA on the NIST prime curves P-256, P-384 and P-521 over raw hashes.

use aws_lc_rs::agreement;
use zeroize::Zeroizing;

use super::ffi::EcKey;
use super::{CryptoError, Result};

/// Supported named curves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Curve {
    /// NIST P-256 (secp256r1 / prime256v1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
}

const P256_PARAMS: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const P384_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const P521_PARAMS: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];

impl Curve {
    /// DER of the namedCurve OID (what `CKA_EC_PARAMS` holds),
    /// e.g. P-256: `06 08 2a 86 48 ce 3d 03 01 07`.
    pub fn ec_params(self) -> &'static [u8] {
        match self {
            Curve::P256 => P256_PARAMS,
            Curve::P384 => P384_PARAMS,
            Curve::P521 => P521_PARAMS,
        }
    }

    /// Parses `CKA_EC_PARAMS` (namedCurve OID DER only). Unknown → `None`.
    pub fn from_ec_params(der: &[u8]) -> Option<Curve> {
        [Curve::P256, Curve::P384, Curve::P521]
            .into_iter()
            .find(|c| c.ec_params() == der)
    }

    /// Field element length in bytes: 32, 48, 66.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Curve size in bits: 256, 384, 521.
    pub fn bits(self) -> u32 {
        match self {
            Curve::P256 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// Length of an uncompressed point (04||X||Y).
    fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }
}

/// A freshly generated key pair. `Debug` is redacted.
pub struct EcKeyPair {
    /// Private scalar d, `field_len` bytes big-endian.
    pub private: Zeroizing<Vec<u8>>,
    /// Public point, uncompressed 04||X||Y.
    pub public_point: Vec<u8>,
}

impl core::fmt::Debug for EcKeyPair {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EcKeyPair")
            .field("private", &"[redacted]")
            .field("public_point", &self.public_point)
            .finish()
    }
}

/// Generates a key pair on `curve`.
pub fn generate(curve: Curve) -> Result<EcKeyPair> {
    let key = EcKey::generate(curve)?;
    Ok(EcKeyPair {
        private: key.private_scalar(curve.field_len())?,
        public_point: key.public_point(curve.point_len())?,
    })
}

/// An ECDSA private key. Send + Sync; `Debug` is redacted.
pub struct EcPrivateKey {
    key: EcKey,
    curve: Curve,
    public_point: Vec<u8>,
    /// The scalar, left-padded to the field length (for ECDH through aws-lc-rs).
    scalar: Zeroizing<Vec<u8>>,
}

/// An ECDSA public key. Send + Sync.
pub struct EcPublicKey {
    key: EcKey,
    curve: Curve,
}

impl core::fmt::Debug for EcPrivateKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "EcPrivateKey({:?}, [redacted])", self.curve)
    }
}

impl core::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EcPublicKey")
            .field("curve", &self.curve)
            .finish()
    }
}

impl EcPrivateKey {
    /// Imports scalar `d` (big-endian, leading zeros optional). Zero, >= order or
    /// longer than the field → `BadKey`.
    pub fn from_scalar(curve: Curve, d: &[u8]) -> Result<Self> {
        let start = d.iter().position(|&b| b != 0).unwrap_or(d.len());
        let d = &d[start..];
        if d.is_empty() || d.len() > curve.field_len() {
            return Err(CryptoError::BadKey);
        }
        let key = EcKey::from_private(curve, d)?;
        let public_point = key.public_point(curve.point_len())?;
        let mut scalar = Zeroizing::new(vec![0u8; curve.field_len() - d.len()]);
        scalar.extend_from_slice(d);
        Ok(EcPrivateKey {
            key,
            curve,
            public_point,
            scalar,
        })
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// ECDSA over `hash` of any length (truncated per FIPS 186 as aws-lc does);
    /// returns r||s, each `field_len` bytes, zero-padded.
    pub fn sign_hash(&self, hash: &[u8]) -> Result<Vec<u8>> {
        self.key.sign_hash(hash, self.curve.field_len())
    }

    /// The public point, uncompressed (04||X||Y).
    pub fn public_point(&self) -> Vec<u8> {
        self.public_point.clone()
    }

    /// The raw ECDH shared secret (the x-coordinate, `field_len` bytes) with the peer's
    /// uncompressed point. A point not on the curve is `InvalidData`.
    pub fn ecdh(&self, peer_point: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let alg = match self.curve {
            Curve::P256 => &agreement::ECDH_P256,
            Curve::P384 => &agreement::ECDH_P384,
            Curve::P521 => &agreement::ECDH_P521,
        };
        let key = agreement::PrivateKey::from_private_key(alg, &self.scalar)
            .map_err(|_| CryptoError::BadKey)?;
        super::raw_agreement(&key, alg, peer_point)
    }
}

/// Extracts the point from a DER OCTET STRING wrapper (`04 len point`), if `der` is one.
pub fn unwrap_octet_string(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    let (&first, rest) = rest.split_first()?;
    if tag != 0x04 {
        return None;
    }
    let (len, body) = match first {
        0..=0x7f => (usize::from(first), rest),
        0x81 => {
            let (&l, body) = rest.split_first()?;
            if l < 0x80 {
                return None; // not minimal DER
            }
            (usize::from(l), body)
        }
        _ => return None,
    };
    (body.len() == len).then_some(body)
}

impl EcPublicKey {
    /// Imports an uncompressed point 04||X||Y, bare or wrapped in a DER OCTET STRING
    /// (`04 len 04||X||Y`, the usual `CKA_EC_POINT` encoding). Malformed or not on
    /// the curve → `BadKey`.
    pub fn from_point(curve: Curve, point: &[u8]) -> Result<Self> {
        let raw = if point.len() == curve.point_len() {
            point
        } else {
            unwrap_octet_string(point).ok_or(CryptoError::BadKey)?
        };
        if raw.len() != curve.point_len() || raw[0] != 0x04 {
            return Err(CryptoError::BadKey);
        }
        let key = EcKey::from_public_point(curve, raw)?;
        Ok(EcPublicKey { key, curve })
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// Verifies r||s over `hash`. Length != 2*field_len → `BadSignatureLength`;
    /// mismatch → `BadSignature`.
    pub fn verify_hash(&self, hash: &[u8], sig: &[u8]) -> Result<()> {
        let fl = self.curve.field_len();
        if sig.len() != 2 * fl {
            return Err(CryptoError::BadSignatureLength);
        }
        let (r, s) = sig.split_at(fl);
        self.key.verify_hash(hash, r, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::digest::{digest, DigestAlg};
    use crate::crypto::test_hex as hex;
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, KeyPair, UnparsedPublicKey};

    const ALL: [Curve; 3] = [Curve::P256, Curve::P384, Curve::P521];

    #[test]
    fn ecdh_both_sides_agree_and_bad_points_are_rejected() {
        for c in ALL {
            let a = generate(c).unwrap();
            let b = generate(c).unwrap();
            let a_key = EcPrivateKey::from_scalar(c, &a.private).unwrap();
            let b_key = EcPrivateKey::from_scalar(c, &b.private).unwrap();
            let ab = a_key.ecdh(&b.public_point).unwrap();
            assert_eq!(ab.len(), c.field_len());
            assert_eq!(ab, b_key.ecdh(&a.public_point).unwrap());
            let mut off_curve = b.public_point.clone();
            *off_curve.last_mut().unwrap() ^= 1;
            assert_eq!(
                a_key.ecdh(&off_curve).unwrap_err(),
                CryptoError::InvalidData
            );
        }
    }

    #[test]
    fn params_round_trip() {
        for c in ALL {
            assert_eq!(Curve::from_ec_params(c.ec_params()), Some(c));
        }
        assert_eq!(Curve::P256.ec_params(), &hex("06082a8648ce3d030107")[..]);
        assert_eq!(
            Curve::from_ec_params(&[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x21]),
            None
        );
        assert_eq!(Curve::from_ec_params(b""), None);
        assert_eq!((Curve::P521.field_len(), Curve::P521.bits()), (66, 521));
    }

    #[test]
    fn rfc6979_p256_public_point_kat() {
        let d = hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");
        let mut want = vec![4u8];
        want.extend(hex(
            "60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6",
        ));
        want.extend(hex(
            "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299",
        ));
        let k = EcPrivateKey::from_scalar(Curve::P256, &d).unwrap();
        assert_eq!(k.public_point(), want);
        assert_eq!(k.curve(), Curve::P256);
        // Leading zeros are accepted.
        let mut d0 = vec![0, 0];
        d0.extend_from_slice(&d);
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &d0)
                .unwrap()
                .public_point(),
            want
        );
    }

    #[test]
    fn generate_and_sign_all_curves() {
        fn send_sync<T: Send + Sync>() {}
        send_sync::<EcPrivateKey>();
        send_sync::<EcPublicKey>();
        for c in ALL {
            let kp = generate(c).unwrap();
            assert_eq!(kp.private.len(), c.field_len());
            assert_eq!(kp.public_point.len(), 1 + 2 * c.field_len());
            let k = EcPrivateKey::from_scalar(c, &kp.private).unwrap();
            assert_eq!(k.public_point(), kp.public_point);
            let p = EcPublicKey::from_point(c, &kp.public_point).unwrap();
            assert_eq!(p.curve(), c);
            for h in [DigestAlg::Sha1, DigestAlg::Sha256, DigestAlg::Sha512] {
                let hash = digest(h, b"msg");
                let sig = k.sign_hash(&hash).unwrap();
                assert_eq!(sig.len(), 2 * c.field_len());
                p.verify_hash(&hash, &sig).unwrap();
            }
            assert!(format!("{k:?} {kp:?}").contains("[redacted]"));
        }
    }

    #[test]
    fn signatures_verified_by_aws_lc_rs() {
        let cases = [
            (
                Curve::P256,
                DigestAlg::Sha256,
                &signature::ECDSA_P256_SHA256_FIXED,
            ),
            (
                Curve::P384,
                DigestAlg::Sha384,
                &signature::ECDSA_P384_SHA384_FIXED,
            ),
            (
                Curve::P521,
                DigestAlg::Sha512,
                &signature::ECDSA_P521_SHA512_FIXED,
            ),
        ];
        let msg = b"keyward ecdsa";
        for (curve, h, alg) in cases {
            let kp = generate(curve).unwrap();
            let k = EcPrivateKey::from_scalar(curve, &kp.private).unwrap();
            let sig = k.sign_hash(&digest(h, msg)).unwrap();
            UnparsedPublicKey::new(alg, &kp.public_point)
                .verify(msg, &sig)
                .unwrap();
        }
    }

    #[test]
    fn verifies_aws_lc_rs_signature() {
        let rng = SystemRandom::new();
        let alg = &signature::ECDSA_P256_SHA256_FIXED_SIGNING;
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
        let kp = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
        let msg = b"from aws-lc-rs";
        let sig = kp.sign(&rng, msg).unwrap();
        // DER OCTET STRING wrapped form, as in CKA_EC_POINT.
        let point = kp.public_key().as_ref();
        let mut wrapped = vec![0x04, point.len() as u8];
        wrapped.extend_from_slice(point);
        let p = EcPublicKey::from_point(Curve::P256, &wrapped).unwrap();
        p.verify_hash(&digest(DigestAlg::Sha256, msg), sig.as_ref())
            .unwrap();
    }

    #[test]
    fn p521_wrapped_point_long_form() {
        let kp = generate(Curve::P521).unwrap();
        let mut wrapped = vec![0x04, 0x81, 133];
        wrapped.extend_from_slice(&kp.public_point);
        EcPublicKey::from_point(Curve::P521, &wrapped).unwrap();
    }

    #[test]
    fn verify_negatives() {
        let kp = generate(Curve::P256).unwrap();
        let k = EcPrivateKey::from_scalar(Curve::P256, &kp.private).unwrap();
        let p = EcPublicKey::from_point(Curve::P256, &kp.public_point).unwrap();
        let hash = digest(DigestAlg::Sha256, b"m");
        let mut sig = k.sign_hash(&hash).unwrap();
        assert_eq!(
            p.verify_hash(&hash, &sig[1..]),
            Err(CryptoError::BadSignatureLength)
        );
        assert_eq!(
            p.verify_hash(&hash, &[0u8; 64]),
            Err(CryptoError::BadSignature)
        );
        assert_eq!(
            p.verify_hash(&digest(DigestAlg::Sha256, b"n"), &sig),
            Err(CryptoError::BadSignature)
        );
        sig[40] ^= 1;
        assert_eq!(p.verify_hash(&hash, &sig), Err(CryptoError::BadSignature));
    }

    #[test]
    fn bad_keys() {
        let kp = generate(Curve::P256).unwrap();
        let mut off = kp.public_point.clone();
        off[64] ^= 1;
        assert_eq!(
            EcPublicKey::from_point(Curve::P256, &off).err(),
            Some(CryptoError::BadKey)
        );
        assert_eq!(
            EcPublicKey::from_point(Curve::P384, &kp.public_point).err(),
            Some(CryptoError::BadKey)
        );
        assert_eq!(
            EcPublicKey::from_point(Curve::P256, &kp.public_point[1..]).err(),
            Some(CryptoError::BadKey)
        );
        let mut compressed = kp.public_point[..33].to_vec();
        compressed[0] = 2;
        assert_eq!(
            EcPublicKey::from_point(Curve::P256, &compressed).err(),
            Some(CryptoError::BadKey)
        );
        let order = hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &order).err(),
            Some(CryptoError::BadKey)
        );
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &[0; 32]).err(),
            Some(CryptoError::BadKey)
        );
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &[1; 33]).err(),
            Some(CryptoError::BadKey)
        );
        assert_eq!(
            EcPrivateKey::from_scalar(Curve::P256, &[]).err(),
            Some(CryptoError::BadKey)
        );
    }
}
