//! Objects: typed attribute sets with per-class rules, and the key material they hold.

pub mod attr;
pub mod key;
pub mod pkcs8;
pub mod rules;
pub mod secret;
pub mod template;
pub mod vendor;

use std::sync::{Arc, OnceLock};

use cryptoki_sys::*;

pub use attr::Attributes;
use key::KeyMaterial;
use rules::Shape;

use crate::error::{Error, Result};

/// What C_GetAttributeValue may reveal of one attribute.
#[derive(Debug, PartialEq, Eq)]
pub enum Reveal<'a> {
    Value(&'a [u8]),
    /// CKR_ATTRIBUTE_SENSITIVE for this attribute.
    Sensitive,
    /// CKR_ATTRIBUTE_TYPE_INVALID for this attribute.
    Invalid,
}

/// One object. Immutable: a modification builds a new `Object`, so the cached key material
/// always matches the attributes it came from.
pub struct Object {
    shape: Shape,
    attrs: Attributes,
    key: OnceLock<std::result::Result<Arc<KeyMaterial>, Error>>,
    names: OnceLock<Names>,
}

/// CKA_UNIQUE_ID and CKA_LABEL as text (invalid UTF-8 replaced), decoded once per object:
/// every audit record of an operation with the object carries them.
#[derive(Clone, Debug, Default)]
pub struct Names {
    pub uid: Arc<str>,
    pub label: Arc<str>,
}

impl std::fmt::Debug for Object {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Object")
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

impl Object {
    /// Wrap a complete attribute set. CKR_DEVICE_ERROR if it lacks a class or type.
    pub fn new(attrs: Attributes) -> Result<Self> {
        let shape = template::shape_of(&attrs, None, None).map_err(|_| Error::DeviceError)?;
        Ok(Self {
            shape,
            attrs,
            key: OnceLock::new(),
            names: OnceLock::new(),
        })
    }

    pub fn shape(&self) -> Shape {
        self.shape
    }

    pub fn class(&self) -> CK_OBJECT_CLASS {
        self.shape.class
    }

    pub fn attrs(&self) -> &Attributes {
        &self.attrs
    }

    pub fn is_token(&self) -> bool {
        self.attrs.flag(CKA_TOKEN)
    }

    pub fn is_private(&self) -> bool {
        self.attrs.flag(CKA_PRIVATE)
    }

    pub fn unique_id(&self) -> Option<String> {
        self.attrs
            .get(CKA_UNIQUE_ID)
            .map(|v| String::from_utf8_lossy(v).into_owned())
    }

    /// Its unique id and label as text, decoded on first use and cached with the object.
    pub fn names(&self) -> &Names {
        self.names.get_or_init(|| {
            let text = |t| String::from_utf8_lossy(self.attrs.get(t).unwrap_or_default()).into();
            Names {
                uid: text(CKA_UNIQUE_ID),
                label: text(CKA_LABEL),
            }
        })
    }

    /// Whether a key attribute guarding an operation (CKA_SIGN, CKA_ENCRYPT …) is set.
    pub fn allows(&self, usage: CK_ATTRIBUTE_TYPE) -> bool {
        self.attrs.flag(usage)
    }

    /// Whether `mech` is permitted by CKA_ALLOWED_MECHANISMS (empty or absent: all).
    pub fn allows_mechanism(&self, mech: CK_MECHANISM_TYPE) -> bool {
        match self.attrs.get(CKA_ALLOWED_MECHANISMS) {
            None | Some([]) => true,
            Some(list) => list
                .chunks_exact(std::mem::size_of::<CK_ULONG>())
                .filter_map(|c| attr::parse_ulong(c).ok())
                .any(|m| m == mech),
        }
    }

    /// What may be revealed of attribute `ty` (PKCS#11 3.0 §5.7.5).
    pub fn reveal(&self, ty: CK_ATTRIBUTE_TYPE) -> Reveal<'_> {
        let Some(value) = self.attrs.get(ty) else {
            return Reveal::Invalid;
        };
        let hidden = rules::is_secret(self.shape, ty)
            && (self.attrs.flag(CKA_SENSITIVE) || !self.attrs.flag(CKA_EXTRACTABLE));
        if hidden {
            Reveal::Sensitive
        } else {
            Reveal::Value(value)
        }
    }

    /// An approximate size in bytes (C_GetObjectSize).
    pub fn size(&self) -> usize {
        self.attrs.iter().map(|(_, v)| v.len() + 16).sum()
    }

    /// The key material, built on first use and cached with the object.
    /// CKR_KEY_TYPE_INCONSISTENT for objects that are not keys.
    pub fn key(&self) -> Result<Arc<KeyMaterial>> {
        self.key
            .get_or_init(|| {
                key::KeyMaterial::from_attributes(self.shape, &self.attrs).map(Arc::new)
            })
            .clone()
    }
}
