//! Templates for the device and attributes read back from it: which of Keyward's attributes
//! are passed on, which are forced, and the conversion between Keyward's byte values
//! (native CK_ULONG / CK_BBOOL encoding) and `cryptoki`'s typed attributes.

use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki::types::Ulong;
use cryptoki_sys::*;

use super::errors::DeviceResult;
use crate::error::{Error, Result};
use crate::object::attr::{bool_bytes, parse_bool, parse_ulong, ulong_bytes};
use crate::object::Attributes;

/// The attributes of Keyward's templates the device gets; everything else (dates, Keyward's
/// own and vendor attributes, CKA_TOKEN, CKA_ID …) stays in Keyward or is forced below.
const PASSED_ON: &[CK_ATTRIBUTE_TYPE] = &[
    CKA_KEY_TYPE,
    CKA_MODULUS_BITS,
    CKA_PUBLIC_EXPONENT,
    CKA_EC_PARAMS,
    CKA_VALUE_LEN,
    CKA_SIGN,
    CKA_VERIFY,
    CKA_ENCRYPT,
    CKA_DECRYPT,
    CKA_WRAP,
    CKA_UNWRAP,
    CKA_DERIVE,
];

/// The usage flags read from a key found for adoption.
pub(super) const USAGE: &[AttributeType] = &[
    AttributeType::Sign,
    AttributeType::Verify,
    AttributeType::Encrypt,
    AttributeType::Decrypt,
    AttributeType::Wrap,
    AttributeType::Unwrap,
    AttributeType::Derive,
];

/// The CKA_LABEL of a device object Keyward made: "keyward:" and the CKA_ID in hex.
pub(super) fn device_label(id: &[u8]) -> Vec<u8> {
    format!("keyward:{}", data_encoding::HEXLOWER.encode(id)).into_bytes()
}

/// The device template for one object from Keyward's template: the passed-on attributes,
/// CKA_TOKEN=true, CKA_ID=`id`, CKA_LABEL=[`device_label`], and for a private or secret key
/// (`secret`) CKA_PRIVATE=true, CKA_SENSITIVE=true unless Keyward's template says false,
/// CKA_EXTRACTABLE=false unless it says true. CKR_ATTRIBUTE_VALUE_INVALID for a malformed value.
pub(super) fn device_template(
    keyward: &Attributes,
    id: &[u8],
    secret: bool,
) -> Result<Vec<Attribute>> {
    // A private key's template never carries the pair's domain parameters: they belong
    // to the public template (SoftHSM answers CKR_ATTRIBUTE_READ_ONLY), and Keyward's
    // private key objects have them (a rotation regenerates from those objects).
    const PUBLIC_ONLY: [CK_ATTRIBUTE_TYPE; 4] = [
        CKA_EC_PARAMS,
        CKA_MODULUS_BITS,
        CKA_PUBLIC_EXPONENT,
        CKA_MODULUS,
    ];
    let mut out = Vec::new();
    for (ty, value) in keyward.iter().filter(|(t, _)| PASSED_ON.contains(t)) {
        if secret && PUBLIC_ONLY.contains(&ty) {
            continue;
        }
        out.push(to_device(ty, value)?);
    }
    out.push(Attribute::Token(true));
    out.push(Attribute::Id(id.to_vec()));
    out.push(Attribute::Label(device_label(id)));
    if secret {
        let explicit = |ty| keyward.get(ty).map(parse_bool).transpose();
        let sensitive = explicit(CKA_SENSITIVE)? != Some(false);
        let extractable = explicit(CKA_EXTRACTABLE)? == Some(true);
        out.push(Attribute::Private(true));
        out.push(Attribute::Sensitive(sensitive));
        out.push(Attribute::Extractable(extractable));
    }
    Ok(out)
}

/// One Keyward attribute as a `cryptoki` one (only the types the device layer sends).
/// CKR_ATTRIBUTE_VALUE_INVALID for a malformed value, CKR_ATTRIBUTE_TYPE_INVALID otherwise.
pub(super) fn to_device(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Result<Attribute> {
    let ulong = || parse_ulong(v).map(Ulong::from);
    let flag = || parse_bool(v);
    Ok(match ty {
        CKA_CLASS => Attribute::Class(
            ObjectClass::try_from(parse_ulong(v)?).map_err(|_| Error::AttributeValueInvalid)?,
        ),
        CKA_KEY_TYPE => Attribute::KeyType(
            KeyType::try_from(parse_ulong(v)?).map_err(|_| Error::AttributeValueInvalid)?,
        ),
        CKA_MODULUS_BITS => Attribute::ModulusBits(ulong()?),
        CKA_VALUE_LEN => Attribute::ValueLen(ulong()?),
        CKA_PUBLIC_EXPONENT => Attribute::PublicExponent(v.to_vec()),
        CKA_EC_PARAMS => Attribute::EcParams(v.to_vec()),
        CKA_ID => Attribute::Id(v.to_vec()),
        CKA_LABEL => Attribute::Label(v.to_vec()),
        CKA_TOKEN => Attribute::Token(flag()?),
        CKA_PRIVATE => Attribute::Private(flag()?),
        CKA_SENSITIVE => Attribute::Sensitive(flag()?),
        CKA_EXTRACTABLE => Attribute::Extractable(flag()?),
        CKA_SIGN => Attribute::Sign(flag()?),
        CKA_VERIFY => Attribute::Verify(flag()?),
        CKA_ENCRYPT => Attribute::Encrypt(flag()?),
        CKA_DECRYPT => Attribute::Decrypt(flag()?),
        CKA_WRAP => Attribute::Wrap(flag()?),
        CKA_UNWRAP => Attribute::Unwrap(flag()?),
        CKA_DERIVE => Attribute::Derive(flag()?),
        _ => return Err(Error::AttributeTypeInvalid),
    })
}

/// A `cryptoki` attribute read from the device in Keyward's encoding; None for the types the
/// device layer never reads (so nothing else can slip through, secret values included).
pub(super) fn from_device(a: &Attribute) -> Option<(CK_ATTRIBUTE_TYPE, Vec<u8>)> {
    Some(match a {
        Attribute::Class(c) => (CKA_CLASS, ulong_bytes(CK_OBJECT_CLASS::from(*c))),
        Attribute::KeyType(k) => (CKA_KEY_TYPE, ulong_bytes(CK_KEY_TYPE::from(*k))),
        Attribute::ValueLen(n) => (CKA_VALUE_LEN, ulong_bytes(CK_ULONG::from(*n))),
        Attribute::Id(v) => (CKA_ID, v.clone()),
        Attribute::Label(v) => (CKA_LABEL, v.clone()),
        Attribute::Modulus(v) => (CKA_MODULUS, v.clone()),
        Attribute::PublicExponent(v) => (CKA_PUBLIC_EXPONENT, v.clone()),
        Attribute::EcParams(v) => (CKA_EC_PARAMS, v.clone()),
        Attribute::EcPoint(v) => (CKA_EC_POINT, v.clone()),
        Attribute::Sign(b) => (CKA_SIGN, bool_bytes(*b)),
        Attribute::Verify(b) => (CKA_VERIFY, bool_bytes(*b)),
        Attribute::Encrypt(b) => (CKA_ENCRYPT, bool_bytes(*b)),
        Attribute::Decrypt(b) => (CKA_DECRYPT, bool_bytes(*b)),
        Attribute::Wrap(b) => (CKA_WRAP, bool_bytes(*b)),
        Attribute::Unwrap(b) => (CKA_UNWRAP, bool_bytes(*b)),
        Attribute::Derive(b) => (CKA_DERIVE, bool_bytes(*b)),
        _ => return None,
    })
}

/// Read `types` of `object` (those the object has; absent or sensitive ones are skipped).
pub(super) fn read(
    session: &Session,
    object: ObjectHandle,
    types: &[AttributeType],
) -> DeviceResult<Attributes> {
    let mut out = Attributes::new();
    for a in session.get_attributes(object, types)? {
        if let Some((ty, value)) = from_device(&a) {
            out.set(ty, value);
        }
    }
    Ok(out)
}

/// Keep only `types` of `attrs`.
pub(super) fn only(attrs: &Attributes, types: &[CK_ATTRIBUTE_TYPE]) -> Attributes {
    attrs.partition(|t| types.contains(&t)).1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn types(t: &[Attribute]) -> Vec<CK_ATTRIBUTE_TYPE> {
        t.iter().map(|a| a.attribute_type().into()).collect()
    }

    fn keyward_private() -> Attributes {
        let mut a = Attributes::new();
        a.set_ulong(CKA_CLASS, CKO_PRIVATE_KEY);
        a.set_ulong(CKA_KEY_TYPE, CKK_EC);
        a.set_bool(CKA_SIGN, true);
        a.set_bool(CKA_TOKEN, false);
        a.set(CKA_LABEL, b"caller's label".to_vec());
        a.set(CKA_START_DATE, b"20240101".to_vec());
        a
    }

    #[test]
    fn private_template_is_filtered_and_forced_safe() {
        let t = device_template(&keyward_private(), &[1, 0xab], true).unwrap();
        let got = types(&t);
        assert!(!got.contains(&CKA_CLASS) && !got.contains(&CKA_START_DATE));
        assert!(t.contains(&Attribute::Token(true)));
        assert!(t.contains(&Attribute::Id(vec![1, 0xab])));
        assert!(t.contains(&Attribute::Label(b"keyward:01ab".to_vec())));
        assert!(!t.contains(&Attribute::Label(b"caller's label".to_vec())));
        assert!(t.contains(&Attribute::Private(true)));
        assert!(t.contains(&Attribute::Sensitive(true)));
        assert!(t.contains(&Attribute::Extractable(false)));
        assert!(t.contains(&Attribute::Sign(true)));
        assert!(t.contains(&Attribute::KeyType(KeyType::EC)));
    }

    #[test]
    fn only_an_explicit_template_relaxes_sensitivity() {
        let mut k = keyward_private();
        k.set_bool(CKA_SENSITIVE, false);
        k.set_bool(CKA_EXTRACTABLE, true);
        let t = device_template(&k, &[1], true).unwrap();
        assert!(t.contains(&Attribute::Sensitive(false)));
        assert!(t.contains(&Attribute::Extractable(true)));
        k.set(CKA_SENSITIVE, vec![7]);
        assert_eq!(
            device_template(&k, &[1], true).unwrap_err(),
            Error::AttributeValueInvalid
        );
        let public = device_template(&keyward_private(), &[1], false).unwrap();
        assert!(!types(&public).contains(&CKA_SENSITIVE));
    }

    #[test]
    fn values_round_trip_through_cryptoki() {
        for (ty, v) in [
            (CKA_KEY_TYPE, ulong_bytes(CKK_RSA)),
            (CKA_VALUE_LEN, ulong_bytes(32)),
            (CKA_ID, vec![1, 2]),
            (CKA_DECRYPT, bool_bytes(true)),
            (CKA_CLASS, ulong_bytes(CKO_SECRET_KEY)),
        ] {
            let a = to_device(ty, &v).unwrap();
            assert_eq!(from_device(&a), Some((ty, v)));
        }
        assert_eq!(
            to_device(CKA_VALUE, &[1]).unwrap_err(),
            Error::AttributeTypeInvalid
        );
        assert_eq!(from_device(&Attribute::Value(vec![1, 2, 3])), None);
    }
}
