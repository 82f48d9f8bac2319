//! Key generation on the device, and finding existing device keys for `keyward adopt`.

use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::Session;
use cryptoki_sys::*;

use super::attrs::{self, USAGE};
use super::errors::{DeviceResult, Failure};
use super::mech::{self, Scratch};
use super::uri::KeyQuery;
use super::{check_id, probe, Device};
use crate::error::{Error, Result};
use crate::mechanism::param::MechanismRequest;
use crate::object::Attributes;

const RSA_PUBLIC: &[AttributeType] = &[AttributeType::Modulus, AttributeType::PublicExponent];
const EC_PUBLIC: &[AttributeType] = &[AttributeType::EcParams, AttributeType::EcPoint];

impl Device {
    /// C_GenerateKeyPair on the device. `public`/`private` are Keyward's full templates: only
    /// what the device needs is passed on, with CKA_TOKEN=true, CKA_ID=`id`,
    /// CKA_LABEL="keyward:"+hex(id), and on the private key CKA_PRIVATE=true,
    /// CKA_SENSITIVE=true and CKA_EXTRACTABLE=false unless Keyward's template explicitly says
    /// CKA_SENSITIVE=false / CKA_EXTRACTABLE=true. Returns what Keyward stores for (public,
    /// private): RSA: CKA_MODULUS, CKA_PUBLIC_EXPONENT (both); EC/EdDSA: CKA_EC_PARAMS (both),
    /// CKA_EC_POINT (public only, as the device returns it). Errors: CKR_MECHANISM_INVALID for
    /// a mechanism other than CKM_RSA_PKCS_KEY_PAIR_GEN / CKM_EC_KEY_PAIR_GEN /
    /// CKM_EC_EDWARDS_KEY_PAIR_GEN, CKR_ARGUMENTS_BAD for an empty `id`, the device's codes,
    /// CKR_DEVICE_ERROR / CKR_DEVICE_REMOVED when it is unavailable.
    pub fn generate_key_pair(
        &self,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
        id: &[u8],
    ) -> Result<(Attributes, Attributes)> {
        check_id(id)?;
        let (read_back, private_keeps): (&[AttributeType], &[CK_ATTRIBUTE_TYPE]) = match m.ty {
            CKM_RSA_PKCS_KEY_PAIR_GEN => (RSA_PUBLIC, &[CKA_MODULUS, CKA_PUBLIC_EXPONENT]),
            CKM_EC_KEY_PAIR_GEN | CKM_EC_EDWARDS_KEY_PAIR_GEN => (EC_PUBLIC, &[CKA_EC_PARAMS]),
            _ => return Err(Error::MechanismInvalid),
        };
        let public_t = attrs::device_template(public, id, false)?;
        let private_t = attrs::device_template(private, id, true)?;
        self.run(|s, conn| {
            let mut scratch = Scratch::default();
            let mech = mech::translate(m, &mut scratch)?;
            let (pub_h, priv_h) = s.generate_key_pair(&mech, &public_t, &private_t)?;
            let values = complete(attrs::read(s, pub_h, read_back), read_back.len())
                .inspect_err(|_| destroy_quietly(s, &[pub_h, priv_h]))?;
            conn.remember(id, CKO_PUBLIC_KEY, pub_h);
            conn.remember(id, CKO_PRIVATE_KEY, priv_h);
            Ok((values.clone(), attrs::only(&values, private_keeps)))
        })
    }

    /// C_GenerateKey (CKM_AES_KEY_GEN, CKM_GENERIC_SECRET_KEY_GEN) on the device, with the
    /// rules of [`Device::generate_key_pair`]'s private key. Returns CKA_VALUE_LEN. Errors as
    /// there (CKR_MECHANISM_INVALID for any other mechanism).
    pub fn generate_key(
        &self,
        m: &MechanismRequest,
        template: &Attributes,
        id: &[u8],
    ) -> Result<Attributes> {
        check_id(id)?;
        if !matches!(m.ty, CKM_AES_KEY_GEN | CKM_GENERIC_SECRET_KEY_GEN) {
            return Err(Error::MechanismInvalid);
        }
        let device_t = attrs::device_template(template, id, true)?;
        self.run(|s, conn| {
            let mut scratch = Scratch::default();
            let mech = mech::translate(m, &mut scratch)?;
            let key = s.generate_key(&mech, &device_t)?;
            let values = complete(attrs::read(s, key, &[AttributeType::ValueLen]), 1)
                .inspect_err(|_| destroy_quietly(s, &[key]))?;
            conn.remember(id, CKO_SECRET_KEY, key);
            Ok(values)
        })
    }

    /// The device's private and secret key objects matching an RFC 7512 URI's `object=`,
    /// `id=` and `type=private|secret-key` (other attributes ignored), each as its non-secret
    /// attributes: CKA_CLASS, CKA_KEY_TYPE, CKA_ID, CKA_LABEL, the usage flags the object has,
    /// and CKA_MODULUS/CKA_PUBLIC_EXPONENT (RSA), CKA_EC_PARAMS/CKA_EC_POINT (EC, EdDSA; the
    /// point from the public key object with the same CKA_ID when the private one lacks it),
    /// CKA_VALUE_LEN (secret keys). Errors: CKR_ARGUMENTS_BAD (malformed URI, other type),
    /// CKR_KEY_HANDLE_INVALID (a matching key has no CKA_ID), the device's codes.
    pub fn find_keys(&self, uri: &str) -> Result<Vec<Attributes>> {
        let query = KeyQuery::parse(uri)?;
        self.run(|s, conn| {
            let mut found = Vec::new();
            for &class in &query.classes {
                let mut template = vec![Attribute::Class(object_class(class)?)];
                if let Some(label) = &query.label {
                    template.push(Attribute::Label(label.clone()));
                }
                if let Some(id) = &query.id {
                    template.push(Attribute::Id(id.clone()));
                }
                for key in s.find_objects(&template)? {
                    found.push(describe(s, key, class)?);
                }
            }
            if found.is_empty() {
                probe(s, conn)?;
            }
            Ok(found)
        })
    }
}

fn object_class(class: CK_OBJECT_CLASS) -> DeviceResult<ObjectClass> {
    ObjectClass::try_from(class).map_err(|_| Failure::from(Error::ArgumentsBad))
}

/// `read`, CKR_DEVICE_ERROR unless it returned all `want` attributes.
fn complete(read: DeviceResult<Attributes>, want: usize) -> DeviceResult<Attributes> {
    let values = read?;
    if values.len() != want {
        return Err(Error::DeviceError.into());
    }
    Ok(values)
}

/// Remove objects just made whose values could not be read (errors change nothing).
fn destroy_quietly(s: &Session, objects: &[ObjectHandle]) {
    for o in objects {
        let _ = s.destroy_object(*o);
    }
}

/// The non-secret attributes of a key found for adoption (see [`Device::find_keys`]).
fn describe(s: &Session, key: ObjectHandle, class: CK_OBJECT_CLASS) -> DeviceResult<Attributes> {
    let mut types = vec![
        AttributeType::Class,
        AttributeType::KeyType,
        AttributeType::Id,
        AttributeType::Label,
    ];
    types.extend_from_slice(USAGE);
    let mut a = attrs::read(s, key, &types)?;
    let id = match a.get(CKA_ID) {
        Some(id) if !id.is_empty() => id.to_vec(),
        _ => return Err(Error::KeyHandleInvalid.into()),
    };
    match a.ulong(CKA_KEY_TYPE) {
        _ if class == CKO_SECRET_KEY => a.extend(&attrs::read(s, key, &[AttributeType::ValueLen])?),
        Some(CKK_RSA) => a.extend(&attrs::read(s, key, RSA_PUBLIC)?),
        Some(CKK_EC | CKK_EC_EDWARDS | CKK_EC_MONTGOMERY) => {
            a.extend(&attrs::read(s, key, EC_PUBLIC)?);
            if !a.contains(CKA_EC_POINT) {
                if let Some(point) = public_point(s, &id)? {
                    a.set(CKA_EC_POINT, point);
                }
            }
        }
        _ => {}
    }
    Ok(a)
}

/// CKA_EC_POINT of the public key object with CKA_ID `id`, if there is one.
fn public_point(s: &Session, id: &[u8]) -> DeviceResult<Option<Vec<u8>>> {
    let template = [
        Attribute::Class(ObjectClass::PUBLIC_KEY),
        Attribute::Id(id.to_vec()),
    ];
    for public in s.find_objects(&template)? {
        let got = attrs::read(s, public, &[AttributeType::EcPoint])?;
        if let Some(point) = got.get(CKA_EC_POINT) {
            return Ok(Some(point.to_vec()));
        }
    }
    Ok(None)
}
