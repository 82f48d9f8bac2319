//! Attribute values as the C ABI sees them: raw bytes per `CK_ATTRIBUTE_TYPE`.
//!
//! Values are kept in their wire form (CK_BBOOL = 1 byte, CK_ULONG = native 8 bytes) so
//! `C_GetAttributeValue` copies them out unchanged. Every value is zeroized on drop.

use std::collections::BTreeMap;

use cryptoki_sys::{CK_ATTRIBUTE_TYPE, CK_ULONG};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// One attribute value (bytes, zeroized on drop).
pub type Value = Zeroizing<Vec<u8>>;

/// A set of attributes, ordered by type (so encodings are canonical).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Attributes(BTreeMap<CK_ATTRIBUTE_TYPE, Value>);

impl std::fmt::Debug for Attributes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.0.keys().map(|t| format!("0x{t:x}=[redacted]")))
            .finish()
    }
}

/// Encode a CK_BBOOL.
pub fn bool_bytes(v: bool) -> Vec<u8> {
    vec![u8::from(v)]
}

/// Encode a CK_ULONG in native byte order.
pub fn ulong_bytes(v: CK_ULONG) -> Vec<u8> {
    v.to_ne_bytes().to_vec()
}

/// Decode a CK_BBOOL; CKR_ATTRIBUTE_VALUE_INVALID unless exactly one byte 0 or 1.
pub fn parse_bool(v: &[u8]) -> Result<bool> {
    match v {
        [0] => Ok(false),
        [1] => Ok(true),
        _ => Err(Error::AttributeValueInvalid),
    }
}

/// Decode a CK_ULONG; CKR_ATTRIBUTE_VALUE_INVALID on a wrong length.
pub fn parse_ulong(v: &[u8]) -> Result<CK_ULONG> {
    let bytes: [u8; std::mem::size_of::<CK_ULONG>()] =
        v.try_into().map_err(|_| Error::AttributeValueInvalid)?;
    Ok(CK_ULONG::from_ne_bytes(bytes))
}

/// Whether `ty` holds an array of CK_ATTRIBUTE (CKA_WRAP_TEMPLATE, CKA_UNWRAP_TEMPLATE,
/// CKA_DERIVE_TEMPLATE). CKA_ALLOWED_MECHANISMS also carries CKF_ARRAY_ATTRIBUTE, but it is
/// an array of mechanism types, kept as plain bytes.
pub fn is_template(ty: CK_ATTRIBUTE_TYPE) -> bool {
    use cryptoki_sys::{CKA_DERIVE_TEMPLATE, CKA_UNWRAP_TEMPLATE, CKA_WRAP_TEMPLATE};
    matches!(
        ty,
        CKA_WRAP_TEMPLATE | CKA_UNWRAP_TEMPLATE | CKA_DERIVE_TEMPLATE
    )
}

/// Encode an attribute template (the value of CKA_WRAP_TEMPLATE and friends) as stored:
/// per entry the type (8 bytes, big-endian), the value length (4 bytes) and the value.
#[allow(clippy::unnecessary_cast)] // CK_ULONG is 32 bits on some platforms
pub fn encode_template(entries: &[(CK_ATTRIBUTE_TYPE, Vec<u8>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (ty, value) in entries {
        out.extend_from_slice(&(*ty as u64).to_be_bytes());
        out.extend_from_slice(&(value.len() as u32).to_be_bytes());
        out.extend_from_slice(value);
    }
    out
}

/// Decode [`encode_template`]; CKR_ATTRIBUTE_VALUE_INVALID for a malformed encoding.
pub fn decode_template(mut v: &[u8]) -> Result<Vec<(CK_ATTRIBUTE_TYPE, Vec<u8>)>> {
    let bad = Error::AttributeValueInvalid;
    let mut out = Vec::new();
    while !v.is_empty() {
        let (ty, rest) = v.split_first_chunk::<8>().ok_or(bad)?;
        let (len, rest) = rest.split_first_chunk::<4>().ok_or(bad)?;
        let len = u32::from_be_bytes(*len) as usize;
        if rest.len() < len {
            return Err(bad);
        }
        let ty = CK_ATTRIBUTE_TYPE::try_from(u64::from_be_bytes(*ty)).map_err(|_| bad)?;
        out.push((ty, rest[..len].to_vec()));
        v = &rest[len..];
    }
    Ok(out)
}

impl Attributes {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Build from a caller's (type, value) pairs: a type repeated with the same value is
    /// taken once, with a different value it is CKR_TEMPLATE_INCONSISTENT (§4.1.1).
    pub fn from_pairs(
        pairs: impl IntoIterator<Item = (CK_ATTRIBUTE_TYPE, Vec<u8>)>,
    ) -> Result<Self> {
        let mut out = Self::new();
        for (ty, value) in pairs {
            match out.get(ty) {
                Some(seen) if seen != value.as_slice() => return Err(Error::TemplateInconsistent),
                Some(_) => {}
                None => out.set(ty, value),
            }
        }
        Ok(out)
    }

    pub fn get(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&[u8]> {
        self.0.get(&ty).map(|v| v.as_slice())
    }

    pub fn contains(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.0.contains_key(&ty)
    }

    pub fn set(&mut self, ty: CK_ATTRIBUTE_TYPE, value: Vec<u8>) {
        self.0.insert(ty, Zeroizing::new(value));
    }

    pub fn set_bool(&mut self, ty: CK_ATTRIBUTE_TYPE, v: bool) {
        self.set(ty, bool_bytes(v));
    }

    pub fn set_ulong(&mut self, ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) {
        self.set(ty, ulong_bytes(v));
    }

    pub fn remove(&mut self, ty: CK_ATTRIBUTE_TYPE) -> Option<Value> {
        self.0.remove(&ty)
    }

    /// A boolean attribute; absent or malformed reads as `false`.
    pub fn flag(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
        self.get(ty)
            .and_then(|v| parse_bool(v).ok())
            .unwrap_or(false)
    }

    /// A CK_ULONG attribute, if present and well-formed.
    pub fn ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<CK_ULONG> {
        self.get(ty).and_then(|v| parse_ulong(v).ok())
    }

    pub fn iter(&self) -> impl Iterator<Item = (CK_ATTRIBUTE_TYPE, &[u8])> {
        self.0.iter().map(|(t, v)| (*t, v.as_slice()))
    }

    pub fn types(&self) -> impl Iterator<Item = CK_ATTRIBUTE_TYPE> + '_ {
        self.0.keys().copied()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Split into (kept, taken) where `taken` holds the types for which `pred` is true.
    pub fn partition(&self, pred: impl Fn(CK_ATTRIBUTE_TYPE) -> bool) -> (Attributes, Attributes) {
        let mut kept = Attributes::new();
        let mut taken = Attributes::new();
        for (t, v) in &self.0 {
            let target = if pred(*t) { &mut taken } else { &mut kept };
            target.0.insert(*t, v.clone());
        }
        (kept, taken)
    }

    /// Merge `other` into self (other's values win).
    pub fn extend(&mut self, other: &Attributes) {
        for (t, v) in &other.0 {
            self.0.insert(*t, v.clone());
        }
    }

    /// Whether every (type, value) in `template` equals ours (C_FindObjects matching).
    pub fn matches(&self, template: &Attributes) -> bool {
        template.iter().all(|(t, v)| self.get(t) == Some(v))
    }

    /// Canonical CBOR encoding (map of type → byte string), for the store.
    pub fn to_cbor(&self) -> Result<Zeroizing<Vec<u8>>> {
        let map: BTreeMap<u64, serde_bytes_like::Bytes<'_>> = self
            .0
            .iter()
            .map(|(t, v)| (*t, serde_bytes_like::Bytes(v.as_slice())))
            .collect();
        // Sized for the worst case up front (a 9-byte map header, then per entry a key and a
        // byte-string header of at most 9 bytes each) so the buffer never reallocates: a
        // reallocation would free a copy of the values without zeroizing it.
        let bound = 9 + self.0.values().map(|v| 18 + v.len()).sum::<usize>();
        let mut out = Zeroizing::new(Vec::with_capacity(bound));
        ciborium::into_writer(&map, &mut *out).map_err(|_| Error::GeneralError)?;
        debug_assert!(out.capacity() == bound, "to_cbor reallocated");
        Ok(out)
    }

    /// Decode what `to_cbor` wrote; CKR_DEVICE_ERROR on a malformed record.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self> {
        let map: BTreeMap<u64, serde_bytes_like::ByteBuf> =
            ciborium::from_reader(bytes).map_err(|_| Error::DeviceError)?;
        Ok(Self(
            map.into_iter()
                .map(|(t, v)| (t as CK_ATTRIBUTE_TYPE, Zeroizing::new(v.0)))
                .collect(),
        ))
    }
}

/// Minimal byte-string (de)serialisation so CBOR stores values as byte strings, not arrays.
mod serde_bytes_like {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub(super) struct Bytes<'a>(pub(super) &'a [u8]);

    impl Serialize for Bytes<'_> {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_bytes(self.0)
        }
    }

    pub(super) struct ByteBuf(pub(super) Vec<u8>);

    impl<'de> Deserialize<'de> for ByteBuf {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> serde::de::Visitor<'de> for V {
                type Value = ByteBuf;
                fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                    f.write_str("a byte string")
                }
                fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v.to_vec()))
                }
                fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                    Ok(ByteBuf(v))
                }
            }
            d.deserialize_bytes(V)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_round_trip_and_reject_truncation() {
        let entries = vec![(1, vec![1]), (0x100, vec![]), (0x40000211, vec![9; 20])];
        let enc = encode_template(&entries);
        assert_eq!(decode_template(&enc).unwrap(), entries);
        assert_eq!(
            decode_template(&enc[..enc.len() - 1]).unwrap_err(),
            Error::AttributeValueInvalid
        );
        assert!(decode_template(&[]).unwrap().is_empty());
    }
    use cryptoki_sys::*;

    #[test]
    fn cbor_round_trip_keeps_every_value() {
        let mut a = Attributes::new();
        a.set_bool(CKA_TOKEN, true);
        a.set_ulong(CKA_CLASS, CKO_SECRET_KEY);
        a.set(CKA_LABEL, b"k1".to_vec());
        a.set(CKA_ID, Vec::new());
        let back = Attributes::from_cbor(&a.to_cbor().unwrap()).unwrap();
        assert_eq!(back, a);
        assert!(back.flag(CKA_TOKEN));
        assert_eq!(back.ulong(CKA_CLASS), Some(CKO_SECRET_KEY));
    }

    #[test]
    fn malformed_values_are_rejected() {
        assert_eq!(parse_bool(&[2]), Err(Error::AttributeValueInvalid));
        assert_eq!(parse_ulong(&[1, 2]), Err(Error::AttributeValueInvalid));
        assert!(Attributes::from_cbor(&[0xff, 0x00]).is_err());
    }
}
