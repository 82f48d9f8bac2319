//! `keyward key export-public` and `keyward cert list|export`: public keys (PEM
//! SubjectPublicKeyInfo) and certificates (PEM) out of the token. Only public objects are
//! read, so no PIN is needed unless the objects are private.

use cryptoki_sys::*;
use x509_cert::der::Decode;
use x509_cert::Certificate;

use super::listing::hex;
use super::uri::KeyUri;
use super::Admin;
use crate::error::{Error, Result};
use crate::object::{Attributes, Object};

/// One certificate as `keyward cert list` shows it.
#[derive(Debug, serde::Serialize)]
pub struct CertRow {
    pub label: String,
    pub id: String,
    pub subject: String,
    pub issuer: String,
    pub not_after: String,
}

impl Admin {
    /// The public key (SubjectPublicKeyInfo DER) of the newest public key object `uri`
    /// names in `slot`. CKR_KEY_HANDLE_INVALID if there is none.
    pub fn export_public(
        &self,
        slot: CK_SLOT_ID,
        uri: &KeyUri,
        pin: Option<&[u8]>,
    ) -> Result<Vec<u8>> {
        let mut template = uri.template();
        template.set_ulong(CKA_CLASS, CKO_PUBLIC_KEY);
        let found = self.find(slot, &template, pin)?;
        let public = found.first().ok_or(Error::KeyHandleInvalid)?;
        super::csr::public_key_der(public)
    }

    /// The certificates (DER) `uri` names in `slot` (every certificate without a URI).
    pub fn certificates(
        &self,
        slot: CK_SLOT_ID,
        uri: Option<&KeyUri>,
        pin: Option<&[u8]>,
    ) -> Result<Vec<(CertRow, Vec<u8>)>> {
        let mut template = uri.map(KeyUri::template).unwrap_or_default();
        template.set_ulong(CKA_CLASS, CKO_CERTIFICATE);
        let found = self.find(slot, &template, pin)?;
        Ok(found.iter().map(|o| cert_row(o.attrs())).collect())
    }

    /// The objects matching `template` (newest first), as the user if `pin` is given.
    fn find(
        &self,
        slot: CK_SLOT_ID,
        template: &Attributes,
        pin: Option<&[u8]>,
    ) -> Result<Vec<std::sync::Arc<Object>>> {
        let p = &self.provider;
        let h = p.open_session(slot, CKF_SERIAL_SESSION)?;
        let r = (|| {
            if let Some(pin) = pin {
                self.login(h, CKU_USER, pin)?;
            }
            p.find_init(h, template)?;
            let found = p.find_next(h, usize::MAX);
            p.find_final(h)?;
            found?.into_iter().map(|o| p.object(h, o)).collect()
        })();
        p.close_session(h)?;
        r
    }
}

fn cert_row(a: &Attributes) -> (CertRow, Vec<u8>) {
    let der = a.get(CKA_VALUE).unwrap_or_default().to_vec();
    let (subject, issuer, not_after) = match Certificate::from_der(&der) {
        Ok(c) => (
            c.tbs_certificate.subject.to_string(),
            c.tbs_certificate.issuer.to_string(),
            c.tbs_certificate.validity.not_after.to_string(),
        ),
        Err(_) => Default::default(),
    };
    let row = CertRow {
        label: String::from_utf8_lossy(a.get(CKA_LABEL).unwrap_or_default()).into_owned(),
        id: hex(a.get(CKA_ID).unwrap_or_default()),
        subject,
        issuer,
        not_after,
    };
    (row, der)
}
