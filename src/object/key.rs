//! Key material: built from an object's attributes, and turned back into attributes
//! when a key is generated or imported.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::attr::Attributes;
use super::rules::Shape;
use super::vendor::CKA_KW_DEVICE_ID;
use crate::crypto::{curve25519, ec, rsa};
use crate::error::{Error, Result};

/// Usable key material, cached after login.
pub enum KeyMaterial {
    RsaPrivate(rsa::RsaPrivateKey),
    RsaPublic(rsa::RsaPublicKey),
    EcPrivate(ec::EcPrivateKey),
    EcPublic(ec::EcPublicKey),
    /// Ed25519 private key (from its 32-byte seed) and public key (32 bytes).
    EdPrivate(curve25519::Ed25519Private),
    EdPublic(Vec<u8>),
    /// X25519 private scalar (32 bytes); its public key is only ever a derive parameter.
    MontgomeryPrivate(Zeroizing<Vec<u8>>),
    MontgomeryPublic(Vec<u8>),
    /// AES or generic secret key bytes.
    Secret(super::secret::SecretKey),
    /// A key held by a delegate slot's device (docs/delegation.md): no material here.
    Device(DeviceKey),
}

/// Which device object holds a key, and its size as [`KeyMaterial::size`] counts it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DeviceKey {
    /// The device object's CKA_ID (the key's CKA_KW_DEVICE_ID).
    pub id: Vec<u8>,
    pub class: CK_OBJECT_CLASS,
    pub size: usize,
}

impl DeviceKey {
    fn of(shape: Shape, attrs: &Attributes, id: &[u8]) -> Self {
        let size = match shape.subtype {
            CKK_RSA => attrs.get(CKA_MODULUS).map_or(0, significant_bits),
            CKK_EC => curve_of(attrs).map_or(0, |c| c.bits() as usize),
            CKK_EC_EDWARDS | CKK_EC_MONTGOMERY => 255,
            _ => attrs.ulong(CKA_VALUE_LEN).unwrap_or(0) as usize,
        };
        Self {
            id: id.to_vec(),
            class: shape.class,
            size,
        }
    }
}

impl std::fmt::Debug for KeyMaterial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyMaterial([redacted])")
    }
}

fn need(attrs: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    attrs.get(ty).ok_or(Error::TemplateIncomplete)
}

fn opt(attrs: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Vec<u8> {
    attrs.get(ty).map(<[u8]>::to_vec).unwrap_or_default()
}

/// The curve named by CKA_EC_PARAMS; CKR_CURVE_NOT_SUPPORTED for others.
pub fn curve_of(attrs: &Attributes) -> Result<ec::Curve> {
    let params = need(attrs, CKA_EC_PARAMS)?;
    ec::Curve::from_ec_params(params).ok_or(Error::CurveNotSupported)
}

/// Accepted CKA_EC_PARAMS encodings of a Curve25519 key.
pub type CurveParams = [&'static [u8]; 3];
/// Ed25519: the OID 1.3.101.112, the PrintableString "edwards25519", and the GnuPG OID
/// 1.3.6.1.4.1.11591.15.1 that older OpenSC versions send.
pub const ED25519_PARAMS: CurveParams = [
    &[0x06, 0x03, 0x2b, 0x65, 0x70],
    b"\x13\x0cedwards25519",
    &[
        0x06, 0x09, 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01,
    ],
];
/// X25519: the OID 1.3.101.110, the PrintableString "curve25519", and the GnuPG OID
/// 1.3.6.1.4.1.3029.1.5.1 that OpenSC's pkcs11-tool sends.
pub const X25519_PARAMS: CurveParams = [
    &[0x06, 0x03, 0x2b, 0x65, 0x6e],
    b"\x13\x0acurve25519",
    &[
        0x06, 0x0a, 0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01,
    ],
];

/// CKA_EC_PARAMS for a new key pair: required in the public template, and equal in the
/// private one if repeated there.
pub fn pair_ec_params<'a>(public: &'a Attributes, private: &Attributes) -> Result<&'a [u8]> {
    let params = public.get(CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
    if private.get(CKA_EC_PARAMS).is_some_and(|p| p != params) {
        return Err(Error::TemplateInconsistent);
    }
    Ok(params)
}

/// Check CKA_EC_PARAMS of a Curve25519 key against the accepted encodings.
pub fn check_curve25519(attrs: &Attributes, accepted: CurveParams) -> Result<()> {
    let params = need(attrs, CKA_EC_PARAMS)?;
    if accepted.contains(&params) {
        Ok(())
    } else {
        Err(Error::CurveNotSupported)
    }
}

/// A 32-byte Curve25519 public key from CKA_EC_POINT (raw, or in a DER OCTET STRING).
pub fn curve25519_point(v: &[u8]) -> Result<Vec<u8>> {
    let raw = if v.len() == curve25519::KEY_LEN {
        v
    } else {
        ec::unwrap_octet_string(v).ok_or(Error::AttributeValueInvalid)?
    };
    if raw.len() != curve25519::KEY_LEN {
        return Err(Error::AttributeValueInvalid);
    }
    Ok(raw.to_vec())
}

fn rsa_components(attrs: &Attributes) -> Result<rsa::RsaComponents> {
    Ok(rsa::RsaComponents {
        n: need(attrs, CKA_MODULUS)?.to_vec(),
        e: need(attrs, CKA_PUBLIC_EXPONENT)?.to_vec(),
        d: need(attrs, CKA_PRIVATE_EXPONENT)?.to_vec(),
        p: opt(attrs, CKA_PRIME_1),
        q: opt(attrs, CKA_PRIME_2),
        dp: opt(attrs, CKA_EXPONENT_1),
        dq: opt(attrs, CKA_EXPONENT_2),
        qinv: opt(attrs, CKA_COEFFICIENT),
    })
}

impl KeyMaterial {
    /// Build key material from a key object's attributes. CKR_KEY_TYPE_INCONSISTENT for a
    /// non-key object; CKR_ATTRIBUTE_VALUE_INVALID for material the crypto layer rejects.
    pub fn from_attributes(shape: Shape, attrs: &Attributes) -> Result<Self> {
        let bad = |_| Error::AttributeValueInvalid;
        if let Some(id) = attrs.get(CKA_KW_DEVICE_ID) {
            return Ok(Self::Device(DeviceKey::of(shape, attrs, id)));
        }
        Ok(match (shape.class, shape.subtype) {
            (CKO_PRIVATE_KEY, CKK_RSA) => Self::RsaPrivate(
                rsa::RsaPrivateKey::from_components(&rsa_components(attrs)?).map_err(bad)?,
            ),
            (CKO_PUBLIC_KEY, CKK_RSA) => Self::RsaPublic(
                rsa::RsaPublicKey::from_components(
                    need(attrs, CKA_MODULUS)?,
                    need(attrs, CKA_PUBLIC_EXPONENT)?,
                )
                .map_err(bad)?,
            ),
            (CKO_PRIVATE_KEY, CKK_EC) => Self::EcPrivate(
                ec::EcPrivateKey::from_scalar(curve_of(attrs)?, need(attrs, CKA_VALUE)?)
                    .map_err(bad)?,
            ),
            (CKO_PUBLIC_KEY, CKK_EC) => Self::EcPublic(
                ec::EcPublicKey::from_point(curve_of(attrs)?, need(attrs, CKA_EC_POINT)?)
                    .map_err(bad)?,
            ),
            (CKO_PRIVATE_KEY, CKK_EC_EDWARDS) => {
                check_curve25519(attrs, ED25519_PARAMS)?;
                Self::EdPrivate(
                    curve25519::Ed25519Private::from_seed(need(attrs, CKA_VALUE)?).map_err(bad)?,
                )
            }
            (CKO_PUBLIC_KEY, CKK_EC_EDWARDS) => {
                check_curve25519(attrs, ED25519_PARAMS)?;
                Self::EdPublic(curve25519_point(need(attrs, CKA_EC_POINT)?)?)
            }
            (CKO_PRIVATE_KEY, CKK_EC_MONTGOMERY) => {
                check_curve25519(attrs, X25519_PARAMS)?;
                let value = need(attrs, CKA_VALUE)?;
                if value.len() != curve25519::KEY_LEN {
                    return Err(Error::AttributeValueInvalid);
                }
                Self::MontgomeryPrivate(Zeroizing::new(value.to_vec()))
            }
            (CKO_PUBLIC_KEY, CKK_EC_MONTGOMERY) => {
                check_curve25519(attrs, X25519_PARAMS)?;
                Self::MontgomeryPublic(curve25519_point(need(attrs, CKA_EC_POINT)?)?)
            }
            (CKO_SECRET_KEY, CKK_AES | CKK_GENERIC_SECRET) => {
                Self::Secret(Zeroizing::new(need(attrs, CKA_VALUE)?.to_vec()).into())
            }
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }

    /// Key size as CK_MECHANISM_INFO counts it: bits for RSA and EC, bytes for secret keys.
    pub fn size(&self) -> usize {
        match self {
            Self::RsaPrivate(k) => k.modulus_len() * 8,
            Self::RsaPublic(k) => k.modulus_bits() as usize,
            Self::EcPrivate(k) => k.curve().bits() as usize,
            Self::EcPublic(k) => k.curve().bits() as usize,
            Self::EdPrivate(_) | Self::EdPublic(_) => 255,
            Self::MontgomeryPrivate(_) | Self::MontgomeryPublic(_) => 255,
            Self::Secret(v) => v.len(),
            Self::Device(d) => d.size,
        }
    }
}

/// Complete and check a key imported with C_CreateObject: compute CKA_MODULUS_BITS /
/// CKA_VALUE_LEN and prove the material is usable. CKR_ATTRIBUTE_VALUE_INVALID otherwise.
pub fn complete_import(shape: Shape, attrs: &mut Attributes) -> Result<()> {
    match (shape.class, shape.subtype) {
        (CKO_PUBLIC_KEY | CKO_PRIVATE_KEY, CKK_RSA) => {
            let n = need(attrs, CKA_MODULUS)?;
            let bits = significant_bits(n);
            attrs.set_ulong(CKA_MODULUS_BITS, bits as CK_ULONG);
        }
        (CKO_SECRET_KEY, subtype) => {
            let len = need(attrs, CKA_VALUE)?.len();
            let ok = match subtype {
                CKK_AES => matches!(len, 16 | 24 | 32),
                _ => len > 0,
            };
            if !ok {
                return Err(Error::AttributeValueInvalid);
            }
            attrs.set_ulong(CKA_VALUE_LEN, len as CK_ULONG);
        }
        _ => {}
    }
    if shape.class != CKO_DATA && shape.class != CKO_CERTIFICATE {
        KeyMaterial::from_attributes(shape, attrs)?;
    }
    Ok(())
}

fn significant_bits(be: &[u8]) -> usize {
    let skip = be.iter().take_while(|b| **b == 0).count();
    match be.get(skip) {
        Some(first) => (be.len() - skip) * 8 - first.leading_zeros() as usize,
        None => 0,
    }
}

/// Attributes for a generated RSA key pair: (public additions, private additions).
pub fn rsa_pair_attributes(c: &rsa::RsaComponents, bits: CK_ULONG) -> (Attributes, Attributes) {
    let mut public = Attributes::new();
    public.set(CKA_MODULUS, c.n.clone());
    public.set(CKA_PUBLIC_EXPONENT, c.e.clone());
    public.set_ulong(CKA_MODULUS_BITS, bits);
    let mut private = public.clone();
    for (ty, v) in [
        (CKA_PRIVATE_EXPONENT, &c.d),
        (CKA_PRIME_1, &c.p),
        (CKA_PRIME_2, &c.q),
        (CKA_EXPONENT_1, &c.dp),
        (CKA_EXPONENT_2, &c.dq),
        (CKA_COEFFICIENT, &c.qinv),
    ] {
        private.set(ty, v.clone());
    }
    (public, private)
}

/// CKA_EC_POINT as PKCS#11 encodes it: a DER OCTET STRING around the uncompressed point.
pub fn ec_point_der(point: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    let len = point.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        out.extend([0x81, len as u8]);
    }
    out.extend_from_slice(point);
    out
}

/// Attributes for a generated Curve25519 key pair (the caller's CKA_EC_PARAMS are kept).
pub fn curve25519_pair_attributes(pair: &curve25519::RawPair) -> (Attributes, Attributes) {
    let (private_value, public_key) = pair;
    let mut public = Attributes::new();
    public.set(CKA_EC_POINT, ec_point_der(public_key));
    let mut private = Attributes::new();
    private.set(CKA_VALUE, private_value.to_vec());
    (public, private)
}

/// Attributes for a generated EC key pair: (public additions, private additions).
pub fn ec_pair_attributes(curve: ec::Curve, pair: &ec::EcKeyPair) -> (Attributes, Attributes) {
    let mut public = Attributes::new();
    public.set(CKA_EC_PARAMS, curve.ec_params().to_vec());
    public.set(CKA_EC_POINT, ec_point_der(&pair.public_point));
    let mut private = Attributes::new();
    private.set(CKA_EC_PARAMS, curve.ec_params().to_vec());
    private.set(CKA_VALUE, pair.private.to_vec());
    (public, private)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modulus_bits_ignore_leading_zeros() {
        assert_eq!(significant_bits(&[0, 0x80, 0]), 16);
        assert_eq!(significant_bits(&[0x01]), 1);
        assert_eq!(significant_bits(&[]), 0);
    }

    #[test]
    fn ec_point_der_handles_long_form() {
        assert_eq!(&ec_point_der(&[4; 65])[..2], &[0x04, 0x41]);
        assert_eq!(&ec_point_der(&[4; 133])[..3], &[0x04, 0x81, 133]);
    }
}
