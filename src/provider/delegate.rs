//! A delegate slot's keys at work (docs/delegation.md): key generation on the device, the
//! device's mechanisms, and operations with device keys forwarded to it. Keyward keeps its
//! own checks in front (sessions, login, roles and ACLs, lifecycle, dates, usage limits,
//! audit); only the cryptography runs on the device.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::Provider;
use crate::backend::delegate::Device;
use crate::error::{Error, Result};
use crate::mechanism::{self, Cipher, Info, Mechanism, MechanismRequest, Signer, Verifier};
use crate::object::key::{DeviceKey, KeyMaterial};
use crate::object::vendor::{CKA_KW_DEVICE_ID, CKM_KW_ROTATE};
use crate::object::Attributes;
use crate::token::Token;

/// A fresh device object id: 16 random bytes.
fn new_device_id() -> Result<Vec<u8>> {
    let mut id = vec![0u8; 16];
    crate::crypto::rng::fill(&mut id).map_err(|_| Error::GeneralError)?;
    Ok(id)
}

/// The key of a device-backed operation, checked against the slot it is used in.
fn device_key(key: &KeyMaterial) -> Result<&DeviceKey> {
    match key {
        KeyMaterial::Device(d) => Ok(d),
        _ => Err(Error::KeyTypeInconsistent),
    }
}

/// The "mechanism" every operation with a device key goes through: input is collected and
/// the device runs the whole operation at the end (C_Sign, C_Encrypt … on a pooled device
/// session), so no device session is held between a caller's calls.
pub(super) struct DeviceOps {
    device: Arc<Device>,
}

struct Op {
    device: Arc<Device>,
    /// A device key (checked when the operation starts).
    key: Arc<KeyMaterial>,
    m: MechanismRequest,
    /// Input of a multi-part operation, collected for the device's one-shot call.
    data: Zeroizing<Vec<u8>>,
}

impl Op {
    fn new(device: &Arc<Device>, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Self> {
        device_key(key)?;
        Ok(Self {
            device: Arc::clone(device),
            key: Arc::clone(key),
            m: m.clone(),
            data: Zeroizing::new(Vec::new()),
        })
    }

    /// Run `call` on the device with the whole input: `data` after what was collected. A
    /// single-part call's `data` goes to the device as it is, without a copy.
    fn run<T>(
        &mut self,
        data: &[u8],
        call: impl FnOnce(&Device, &DeviceKey, &MechanismRequest, &[u8]) -> Result<T>,
    ) -> Result<T> {
        let mut all = std::mem::take(&mut self.data);
        let input = if all.is_empty() {
            data
        } else {
            all.extend_from_slice(data);
            &all[..]
        };
        call(&self.device, device_key(&self.key)?, &self.m, input)
    }
}

impl Signer for Op {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.data.extend_from_slice(data);
        Ok(())
    }
    fn finish(&mut self) -> Result<Vec<u8>> {
        Signer::one_shot(self, &[])
    }
    fn one_shot(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        self.run(data, |device, key, m, input| {
            device.sign(&key.id, key.class, m, input)
        })
    }
}

impl Verifier for Op {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        self.data.extend_from_slice(data);
        Ok(())
    }
    fn finish(&mut self, signature: &[u8]) -> Result<()> {
        Verifier::one_shot(self, &[], signature)
    }
    fn one_shot(&mut self, data: &[u8], signature: &[u8]) -> Result<()> {
        self.run(data, |device, key, m, input| {
            device.verify(&key.id, key.class, m, input, signature)
        })
    }
}

/// Encryption or decryption: nothing comes out before the end.
struct CipherOp {
    op: Op,
    encrypt: bool,
}

impl Cipher for CipherOp {
    fn update(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        self.op.data.extend_from_slice(data);
        Ok(Zeroizing::new(Vec::new()))
    }
    fn finish(&mut self) -> Result<Zeroizing<Vec<u8>>> {
        self.one_shot(&[])
    }
    fn one_shot(&mut self, data: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
        let encrypt = self.encrypt;
        self.op.run(data, |device, key, m, input| {
            if encrypt {
                device
                    .encrypt(&key.id, key.class, m, input)
                    .map(Zeroizing::new)
            } else {
                device.decrypt(&key.id, key.class, m, input)
            }
        })
    }
}

impl Mechanism for DeviceOps {
    fn info(&self, _ty: CK_MECHANISM_TYPE) -> Info {
        Info {
            min_key: 0,
            max_key: 0,
            flags: 0,
        }
    }
    fn sign(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Signer>> {
        Ok(Box::new(Op::new(&self.device, m, key)?))
    }
    fn verify(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Verifier>> {
        Ok(Box::new(Op::new(&self.device, m, key)?))
    }
    fn encrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        let op = Op::new(&self.device, m, key)?;
        Ok(Box::new(CipherOp { op, encrypt: true }))
    }
    fn decrypt(&self, m: &MechanismRequest, key: &Arc<KeyMaterial>) -> Result<Box<dyn Cipher>> {
        let op = Op::new(&self.device, m, key)?;
        Ok(Box::new(CipherOp { op, encrypt: false }))
    }
}

impl DeviceOps {
    /// The operations for `key` used in `token`: None for a key that is not on a device. A
    /// device key in a slot without a device (its configuration changed) is CKR_DEVICE_ERROR.
    /// Whether the device offers the mechanism was decided at the key's gate
    /// (`operation_object_unaudited`), so that the audit record says so.
    pub(super) fn for_key(token: &Token, key: &KeyMaterial) -> Result<Option<Self>> {
        if !matches!(key, KeyMaterial::Device(_)) {
            return Ok(None);
        }
        let device = token.device().ok_or(Error::DeviceError)?;
        Ok(Some(Self {
            device: Arc::clone(device),
        }))
    }
}

/// Generated attributes for a key made on `device`: its own plus the device id.
fn with_device_id(mut generated: Attributes, id: &[u8]) -> Attributes {
    generated.set(CKA_KW_DEVICE_ID, id.to_vec());
    generated
}

/// C_GenerateKey on the device: the attributes Keyward stores (CKA_VALUE_LEN, the device id).
pub(super) fn generate_key(
    device: &Device,
    m: &MechanismRequest,
    template: &Attributes,
) -> Result<Attributes> {
    let id = new_device_id()?;
    Ok(with_device_id(device.generate_key(m, template, &id)?, &id))
}

/// C_GenerateKeyPair on the device: the public values and the device id of each half.
pub(super) fn generate_key_pair(
    device: &Device,
    m: &MechanismRequest,
    public: &Attributes,
    private: &Attributes,
) -> Result<(Attributes, Attributes)> {
    let id = new_device_id()?;
    let (public, private) = device.generate_key_pair(m, public, private, &id)?;
    Ok((with_device_id(public, &id), with_device_id(private, &id)))
}

impl Provider {
    /// C_GetMechanismList: Keyward's mechanisms; in a delegate slot only those the device
    /// offers too (CKR_DEVICE_ERROR while the device cannot be reached).
    pub fn mechanisms(&self, slot: CK_SLOT_ID) -> Result<Vec<CK_MECHANISM_TYPE>> {
        let token = self.token(slot)?;
        let mut list = mechanism::list();
        if token.device().is_some() {
            let mut kept = Vec::with_capacity(list.len());
            for ty in list {
                if ty == CKM_KW_ROTATE || token.device_offers(ty)? {
                    kept.push(ty);
                }
            }
            list = kept;
        }
        Ok(list)
    }

    /// C_GetMechanismInfo: in a delegate slot the device's key sizes, and the flags both
    /// Keyward and the device have.
    pub fn mechanism_info(&self, slot: CK_SLOT_ID, ty: CK_MECHANISM_TYPE) -> Result<Info> {
        let token = self.token(slot)?;
        let ours = mechanism::info(ty)?;
        if ty == CKM_KW_ROTATE {
            return Ok(ours);
        }
        match token.device_mechanism(ty)? {
            None if token.device().is_some() => Err(Error::MechanismInvalid),
            None => Ok(ours),
            Some(device) => Ok(Info {
                min_key: device.min_key,
                max_key: device.max_key,
                flags: ours.flags & device.flags,
            }),
        }
    }
}

/// What a Keyward object of an adopted device key takes from the device's description:
/// the caller-settable part (a creation template) and the rest (set as a generator would).
fn split_adopted(
    found: &Attributes,
    class: CK_OBJECT_CLASS,
    label: Option<&str>,
) -> (Attributes, Attributes) {
    // A public half made from a private key's description takes the reverse usages.
    const PUBLIC: [(CK_ATTRIBUTE_TYPE, CK_ATTRIBUTE_TYPE); 3] = [
        (CKA_VERIFY, CKA_SIGN),
        (CKA_ENCRYPT, CKA_DECRYPT),
        (CKA_WRAP, CKA_UNWRAP),
    ];
    let mut template = Attributes::new();
    template.set_ulong(CKA_CLASS, class);
    for ty in [CKA_KEY_TYPE, CKA_ID, CKA_LABEL] {
        if let Some(v) = found.get(ty) {
            template.set(ty, v.to_vec());
        }
    }
    if let Some(label) = label {
        template.set(CKA_LABEL, label.as_bytes().to_vec());
    }
    template.set_bool(CKA_TOKEN, true);
    match class {
        CKO_PUBLIC_KEY => {
            for (ty, reverse) in PUBLIC {
                template.set_bool(ty, found.flag(ty) || found.flag(reverse));
            }
        }
        CKO_SECRET_KEY => {
            for ty in [
                CKA_SIGN,
                CKA_VERIFY,
                CKA_ENCRYPT,
                CKA_DECRYPT,
                CKA_WRAP,
                CKA_UNWRAP,
            ] {
                template.set_bool(ty, found.flag(ty));
            }
        }
        _ => {
            for ty in [CKA_SIGN, CKA_DECRYPT, CKA_UNWRAP, CKA_DERIVE] {
                template.set_bool(ty, found.flag(ty));
            }
        }
    }
    if class != CKO_PUBLIC_KEY {
        template.set_bool(CKA_PRIVATE, true);
    }
    let mut material = Attributes::new();
    let public_values: &[CK_ATTRIBUTE_TYPE] = match class {
        CKO_PUBLIC_KEY => &[
            CKA_MODULUS,
            CKA_PUBLIC_EXPONENT,
            CKA_EC_PARAMS,
            CKA_EC_POINT,
        ],
        CKO_SECRET_KEY => &[CKA_VALUE_LEN],
        _ => &[CKA_MODULUS, CKA_PUBLIC_EXPONENT, CKA_EC_PARAMS],
    };
    for &ty in public_values {
        if let Some(v) = found.get(ty) {
            material.set(ty, v.to_vec());
        }
    }
    if let Some(id) = found.get(CKA_ID) {
        material.set(CKA_KW_DEVICE_ID, id.to_vec());
    }
    (template, material)
}

impl Provider {
    /// `keyward adopt`: bring the device keys matching `uri` under Keyward's management in
    /// session `h`'s (delegate) token: a Keyward object for each private or secret key, and
    /// for a private key with a public value also its public key, sharing the logical key id.
    /// Returns the new handles. CKR_FUNCTION_NOT_SUPPORTED in a soft slot; a key already
    /// adopted is skipped.
    pub fn adopt(
        &self,
        h: CK_SESSION_HANDLE,
        uri: &str,
        label: Option<&str>,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let r = self.adopt_unaudited(h, uri, label);
        let detail = match &r {
            Ok(made) => format!("objects={}", made.len()),
            Err(_) => String::new(),
        };
        self.audited(h, "adopt", None, None, detail, r)
    }

    fn adopt_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        uri: &str,
        label: Option<&str>,
    ) -> Result<Vec<CK_OBJECT_HANDLE>> {
        let (s, token) = self.session_token(h)?;
        let device = token.device().ok_or(Error::FunctionNotSupported)?;
        let login = token.login_state()?;
        let mut made = Vec::new();
        for found in device.find_keys(uri)? {
            let id = found.get(CKA_ID).ok_or(Error::KeyHandleInvalid)?;
            let mut known = Attributes::new();
            known.set(CKA_KW_DEVICE_ID, id.to_vec());
            if !token.find(&known, Self::visibility(token)?)?.is_empty() {
                continue;
            }
            let class = found.ulong(CKA_CLASS).ok_or(Error::KeyHandleInvalid)?;
            let mut halves = vec![class];
            if class == CKO_PRIVATE_KEY
                && (found.contains(CKA_MODULUS) || found.contains(CKA_EC_POINT))
            {
                halves.push(CKO_PUBLIC_KEY);
            }
            let mut key_id: Option<Vec<u8>> = None;
            for half in halves {
                let (template, material) = split_adopted(&found, half, label);
                let shape = crate::object::template::shape_of(&template, None, None)?;
                let mut attrs = crate::object::template::new_object(
                    shape,
                    &template,
                    crate::object::template::Origin::Unwrap,
                    login == crate::token::Login::So,
                )?;
                super::objects::check_write(&s, token, &attrs, super::access::Write::Create)?;
                attrs.extend(&material);
                match &key_id {
                    Some(k) => attrs.set(crate::object::vendor::CKA_KW_KEY_ID, k.clone()),
                    None => {
                        key_id = attrs
                            .get(crate::object::vendor::CKA_KW_KEY_ID)
                            .map(<[u8]>::to_vec)
                    }
                }
                made.push(token.add_object(attrs, s.handle)?.0);
            }
        }
        Ok(made)
    }
}
