//! Lifecycle commands: revoke, suspend, resume, activate, deactivate. They set the vendor
//! state attribute through the provider, so every process sees them at its next operation.

use cryptoki_sys::*;

use super::uri::KeyUri;
use super::Admin;
use crate::error::{Error, Result};
use crate::object::vendor::*;
use crate::object::Attributes;

/// A lifecycle change the CLI asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Change {
    Revoke(CK_ULONG),
    Suspend,
    Resume,
    Activate,
    Deactivate,
}

/// The revocation reason a CLI name stands for (RFC 5280 / KMIP).
pub fn reason(name: &str) -> Option<CK_ULONG> {
    Some(match name {
        "unspecified" => KW_REASON_UNSPECIFIED,
        "key-compromise" => KW_REASON_KEY_COMPROMISE,
        "ca-compromise" => KW_REASON_CA_COMPROMISE,
        "affiliation-changed" => KW_REASON_AFFILIATION_CHANGED,
        "superseded" => KW_REASON_SUPERSEDED,
        "cessation-of-operation" => KW_REASON_CESSATION_OF_OPERATION,
        "privilege-withdrawn" => KW_REASON_PRIVILEGE_WITHDRAWN,
        _ => return None,
    })
}

/// The name of a state, for listings.
pub fn state_name(state: CK_ULONG) -> &'static str {
    match state {
        KW_STATE_PRE_ACTIVE => "pre-active",
        KW_STATE_ACTIVE => "active",
        KW_STATE_SUSPENDED => "suspended",
        KW_STATE_DEACTIVATED => "deactivated",
        KW_STATE_COMPROMISED => "compromised",
        KW_STATE_DESTROYED => "destroyed",
        _ => "unknown",
    }
}

impl Change {
    /// The attributes the change sets: compromise reasons move a key to compromised, any
    /// other reason to deactivated (as KMIP's Revoke does).
    fn template(self) -> Attributes {
        let mut t = Attributes::new();
        let state = match self {
            Change::Revoke(KW_REASON_KEY_COMPROMISE | KW_REASON_CA_COMPROMISE) => {
                KW_STATE_COMPROMISED
            }
            Change::Revoke(_) | Change::Deactivate => KW_STATE_DEACTIVATED,
            Change::Suspend => KW_STATE_SUSPENDED,
            Change::Resume | Change::Activate => KW_STATE_ACTIVE,
        };
        t.set_ulong(CKA_KW_STATE, state);
        if let Change::Revoke(r) = self {
            t.set_ulong(CKA_KW_REVOCATION_REASON, r);
        }
        t
    }
}

impl Admin {
    /// Apply `change` to every key `uri` selects in `slot` (both halves of a key pair when
    /// the URI gives no type); returns the number of key objects changed.
    pub fn change_state(
        &self,
        slot: CK_SLOT_ID,
        uri: &KeyUri,
        change: Change,
        pin: &[u8],
    ) -> Result<usize> {
        self.with_keys(slot, &uri.template(), pin, |h, keys| {
            if keys.is_empty() {
                return Err(Error::KeyHandleInvalid);
            }
            for (o, _) in &keys {
                self.provider.set_attributes(h, *o, &change.template())?;
            }
            Ok(keys.len())
        })
    }
}

/// What `keyward key rotate` made: the new version's number and, for a key pair, its public
/// key (DER SubjectPublicKeyInfo) and the requested CSR (DER PKCS#10).
#[derive(Debug)]
pub struct Rotated {
    pub version: CK_ULONG,
    pub class: &'static str,
    pub public_key: Option<Vec<u8>>,
    pub csr: Option<Vec<u8>>,
}

/// PEM text of `der` under `label` ("PUBLIC KEY", "CERTIFICATE REQUEST").
pub fn pem(label: &'static str, der: &[u8]) -> Result<String> {
    pkcs8::der::pem::encode_string(label, pkcs8::LineEnding::LF, der)
        .map_err(|_| Error::GeneralError)
}

impl Admin {
    /// Rotate the key `uri` selects: its newest active secret or private key gets a next
    /// version (for a pair, with a new public key too). With `csr`, a key pair's new version
    /// also gets a certificate request with the subject of the certificate that shares the
    /// key's CKA_ID (CKR_TEMPLATE_INCOMPLETE if there is none).
    pub fn rotate(&self, slot: CK_SLOT_ID, uri: &KeyUri, pin: &[u8], csr: bool) -> Result<Rotated> {
        let p = &self.provider;
        self.with_keys(slot, &uri.template(), pin, |h, keys| {
            for (o, obj) in &keys {
                let Some((new, new_public)) = self.rotate_object(h, *o, obj)? else {
                    continue;
                };
                let version = p.object(h, new)?.attrs().ulong(CKA_KW_VERSION).unwrap_or(0);
                let class = if new_public.is_none() {
                    "secret key"
                } else {
                    "key pair"
                };
                let public_key = new_public
                    .as_deref()
                    .map(super::csr::public_key_der)
                    .transpose()?;
                let csr = match (&new_public, csr) {
                    (Some(public), true) => {
                        let subject = self.certificate_subject(h, obj.attrs().get(CKA_ID))?;
                        Some(super::csr::request(p, h, public, new, &subject)?)
                    }
                    _ => None,
                };
                return Ok(Rotated {
                    version,
                    class,
                    public_key,
                    csr,
                });
            }
            Err(Error::KeyHandleInvalid)
        })
    }

    /// Rotate `obj` (handle `o`) if it is an active secret key or the private key of a pair:
    /// the new secret or private key and, for a pair, the new public key. None otherwise.
    fn rotate_object(
        &self,
        h: CK_SESSION_HANDLE,
        o: CK_OBJECT_HANDLE,
        obj: &crate::object::Object,
    ) -> Result<
        Option<(
            CK_OBJECT_HANDLE,
            Option<std::sync::Arc<crate::object::Object>>,
        )>,
    > {
        let p = &self.provider;
        if crate::policy::lifecycle::state_of(obj.attrs()) != KW_STATE_ACTIVE {
            return Ok(None);
        }
        let m = crate::mechanism::MechanismRequest::new(
            CKM_KW_ROTATE,
            crate::mechanism::Param::Bytes(o.to_ne_bytes().to_vec()),
        );
        let empty = Attributes::new();
        Ok(match obj.class() {
            CKO_SECRET_KEY => Some((p.generate_key(h, &m, &empty)?, None)),
            CKO_PRIVATE_KEY => {
                let (public, private) = p.generate_key_pair(h, &m, &empty, &empty)?;
                Some((private, Some(p.object(h, public)?)))
            }
            _ => None,
        })
    }
}

impl Admin {
    /// CKA_SUBJECT of the certificate whose CKA_ID is `id`.
    fn certificate_subject(&self, h: CK_SESSION_HANDLE, id: Option<&[u8]>) -> Result<Vec<u8>> {
        let p = &self.provider;
        let mut t = Attributes::new();
        t.set_ulong(CKA_CLASS, CKO_CERTIFICATE);
        t.set(CKA_ID, id.unwrap_or_default().to_vec());
        p.find_init(h, &t)?;
        let found = p.find_next(h, 1);
        p.find_final(h)?;
        let cert = *found?.first().ok_or(Error::TemplateIncomplete)?;
        let subject = p
            .object(h, cert)?
            .attrs()
            .get(CKA_SUBJECT)
            .unwrap_or_default()
            .to_vec();
        if subject.is_empty() {
            return Err(Error::TemplateIncomplete);
        }
        Ok(subject)
    }
}

/// One rotation `keyward rotate --due` made.
#[derive(Debug, serde::Serialize)]
pub struct DueRotation {
    pub label: String,
    pub class: &'static str,
    pub version: CK_ULONG,
}

impl Admin {
    /// Rotate every key in `slot` whose rotation period has passed (secret keys and key
    /// pairs, current versions only). What was rotated, in listing order.
    pub fn rotate_due(&self, slot: CK_SLOT_ID, pin: &[u8]) -> Result<Vec<DueRotation>> {
        let p = &self.provider;
        let now = crate::policy::lifecycle::now_seconds();
        self.with_keys(slot, &Attributes::new(), pin, |h, keys| {
            let mut done = Vec::new();
            for (o, obj) in &keys {
                if !crate::policy::lifecycle::rotation_due(obj.attrs(), now) {
                    continue;
                }
                let Some((new, public)) = self.rotate_object(h, *o, obj)? else {
                    continue;
                };
                done.push(DueRotation {
                    label: String::from_utf8_lossy(obj.attrs().get(CKA_LABEL).unwrap_or_default())
                        .into_owned(),
                    class: if public.is_none() {
                        "secret key"
                    } else {
                        "key pair"
                    },
                    version: p.object(h, new)?.attrs().ulong(CKA_KW_VERSION).unwrap_or(0),
                });
            }
            Ok(done)
        })
    }
}
