//! Key generation (PKCS#11 3.0 §5.14).

use cryptoki_sys::*;

use super::access::Write;
use super::objects::check_write;
use super::Provider;
use crate::error::{Error, Result};
use crate::mechanism::{self, MechanismRequest};
use crate::object::template::{self, Origin};
use crate::object::vendor::{CKA_KW_DEVICE_ID, CKA_KW_KEY_ID, CKM_KW_ROTATE};
use crate::object::Attributes;
use crate::token::{Login, ObjectHandle};

impl Provider {
    /// Validate a generation template for `class` and fill in defaults and provenance.
    fn generation_template(
        &self,
        login: Login,
        m: &MechanismRequest,
        class: CK_OBJECT_CLASS,
        key_type: CK_KEY_TYPE,
        template: &Attributes,
    ) -> Result<Attributes> {
        let shape = template::shape_of(template, Some(class), Some(key_type))?;
        template::new_object(shape, template, Origin::Generate(m.ty), login == Login::So)
    }

    /// C_GenerateKey.
    pub(super) fn generate_key_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        template: &Attributes,
    ) -> Result<CK_OBJECT_HANDLE> {
        if m.ty == CKM_KW_ROTATE {
            return self.rotate_secret(h, m, template);
        }
        let (s, token) = self.session_token(h)?;
        let mech = mechanism::lookup(m.ty)?;
        if mech.info(m.ty).flags & CKF_GENERATE == 0 {
            return Err(Error::MechanismInvalid);
        }
        // A mechanism that makes one kind of key names it; one that makes any secret
        // (PBKDF2) takes the template's type, by default a generic secret.
        let key_type = match mech.key_type(m.ty) {
            Some(kt) => kt,
            None => template
                .get(CKA_KEY_TYPE)
                .map(crate::object::attr::parse_ulong)
                .transpose()?
                .unwrap_or(CKK_GENERIC_SECRET),
        };
        let login = token.login_state()?;
        let mut attrs = self.generation_template(login, m, CKO_SECRET_KEY, key_type, template)?;
        check_write(&s, token, &attrs, Write::Create)?;
        let generated = match token.device() {
            Some(device) => super::delegate::generate_key(device, m, &attrs)?,
            None => mech.generate_key(m, template)?,
        };
        attrs.extend(&generated);
        let made = token.add_object(attrs, s.handle);
        if made.is_err() {
            forget_on_device(token, &generated);
        }
        Ok(made?.0)
    }

    /// C_GenerateKeyPair: both objects or neither.
    pub(super) fn generate_key_pair_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        m: &MechanismRequest,
        public: &Attributes,
        private: &Attributes,
    ) -> Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        if m.ty == CKM_KW_ROTATE {
            return self.rotate_pair(h, m, public, private);
        }
        let (s, token) = self.session_token(h)?;
        let mech = mechanism::lookup(m.ty)?;
        let key_type = mech
            .key_type(m.ty)
            .filter(|_| mech.info(m.ty).flags & CKF_GENERATE_KEY_PAIR != 0);
        let key_type = key_type.ok_or(Error::MechanismInvalid)?;
        let login = token.login_state()?;
        let mut pub_attrs = self.generation_template(login, m, CKO_PUBLIC_KEY, key_type, public)?;
        let mut priv_attrs =
            self.generation_template(login, m, CKO_PRIVATE_KEY, key_type, private)?;
        check_write(&s, token, &pub_attrs, Write::Create)?;
        check_write(&s, token, &priv_attrs, Write::Create)?;
        let (pub_gen, priv_gen) = match token.device() {
            Some(device) => super::delegate::generate_key_pair(device, m, &pub_attrs, &priv_attrs)?,
            None => mech.generate_key_pair(m, public, private)?,
        };
        pub_attrs.extend(&pub_gen);
        priv_attrs.extend(&priv_gen);
        // Both halves are one logical key (docs/lifecycle.md, versions).
        if let Some(id) = pub_attrs.get(CKA_KW_KEY_ID) {
            priv_attrs.set(CKA_KW_KEY_ID, id.to_vec());
        }
        let pub_h = match token.add_object(pub_attrs, s.handle) {
            Ok(h) => h,
            Err(e) => {
                forget_on_device(token, &priv_gen);
                return Err(e);
            }
        };
        match token.add_object(priv_attrs, s.handle) {
            Ok(priv_h) => Ok((pub_h.0, priv_h.0)),
            Err(e) => {
                // The public half is then the last reference: its destruction takes the
                // device's objects with it.
                let _ = token.discard_object(ObjectHandle(pub_h.0));
                Err(e)
            }
        }
    }
}

/// A key made on the device whose Keyward object could not be stored: remove it there too.
fn forget_on_device(token: &crate::token::Token, generated: &Attributes) {
    if let (Some(device), Some(id)) = (token.device(), generated.get(CKA_KW_DEVICE_ID)) {
        let _ = device.destroy(id);
    }
}
