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
    /// The state the change moves a key to: compromise reasons make a key compromised, any
    /// other reason deactivated (as KMIP's Revoke does).
    pub fn target(self) -> CK_ULONG {
        match self {
            Change::Revoke(KW_REASON_KEY_COMPROMISE | KW_REASON_CA_COMPROMISE) => {
                KW_STATE_COMPROMISED
            }
            Change::Revoke(_) | Change::Deactivate => KW_STATE_DEACTIVATED,
            Change::Suspend => KW_STATE_SUSPENDED,
            Change::Resume | Change::Activate => KW_STATE_ACTIVE,
        }
    }

    /// The verb for messages: "suspended", "revoked" …
    pub fn done(self) -> &'static str {
        match self {
            Change::Revoke(_) => "revoked",
            Change::Suspend => "suspended",
            Change::Resume => "resumed",
            Change::Activate => "activated",
            Change::Deactivate => "deactivated",
        }
    }

    /// Whether the change applies to a version in `state` whose revocation reason is
    /// `reason`: suspend takes active versions, resume suspended ones, activate pre-active
    /// ones, deactivate pre-active, active and suspended ones. A revocation takes every
    /// version the lifecycle lets move to its target state, and records its reason on a
    /// version already in that state that carries another reason (a deactivated version
    /// revoked with a new non-compromise reason, a compromised one with the other compromise
    /// reason).
    pub fn applies_to(self, state: CK_ULONG, reason: CK_ULONG) -> bool {
        let takes = match self {
            Change::Suspend => state == KW_STATE_ACTIVE,
            Change::Resume => state == KW_STATE_SUSPENDED,
            Change::Activate => state == KW_STATE_PRE_ACTIVE,
            Change::Deactivate => matches!(
                state,
                KW_STATE_PRE_ACTIVE | KW_STATE_ACTIVE | KW_STATE_SUSPENDED
            ),
            Change::Revoke(r) => state != self.target() || reason != r,
        };
        takes && crate::policy::lifecycle::transition_allowed(state, self.target())
    }

    /// The attributes the change sets.
    fn template(self) -> Attributes {
        let mut t = Attributes::new();
        t.set_ulong(CKA_KW_STATE, self.target());
        if let Change::Revoke(r) = self {
            t.set_ulong(CKA_KW_REVOCATION_REASON, r);
        }
        t
    }
}

/// One key object (one version, one half of a pair) in a lifecycle report.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct VersionState {
    pub version: CK_ULONG,
    /// "secret", "private" or "public".
    pub class: &'static str,
    /// Its state before the command.
    pub state: &'static str,
}

impl VersionState {
    pub(super) fn of(obj: &crate::object::Object) -> Self {
        let a = obj.attrs();
        Self {
            version: a.ulong(CKA_KW_VERSION).unwrap_or(1),
            class: super::listing::class_name(obj.class()),
            state: state_name(crate::policy::lifecycle::state_of(a)),
        }
    }
}

/// What a lifecycle command did: the versions it changed and those it left alone because
/// the change does not apply to their state. `changed` is empty only when nothing was done.
#[derive(Debug, Default, serde::Serialize)]
pub struct StateChanges {
    pub changed: Vec<VersionState>,
    pub skipped: Vec<VersionState>,
}

impl Admin {
    /// Apply `change` to every version of the keys `uri` selects in `slot` (both halves of a
    /// key pair when the URI gives no type) for which it applies ([`Change::applies_to`]),
    /// and leave the others as they are. Every version is checked before any is changed: if
    /// the change applies to none, nothing is written and `changed` is empty.
    /// CKR_KEY_HANDLE_INVALID if the URI selects no key.
    pub fn change_state(
        &self,
        slot: CK_SLOT_ID,
        uri: &KeyUri,
        change: Change,
        pin: &[u8],
    ) -> Result<StateChanges> {
        self.with_keys(slot, &uri.template(), pin, |h, keys| {
            if keys.is_empty() {
                return Err(Error::KeyHandleInvalid);
            }
            let mut plan = Vec::new();
            let mut report = StateChanges::default();
            for (o, obj) in &keys {
                let a = obj.attrs();
                let state = crate::policy::lifecycle::state_of(a);
                let reason = a.ulong(CKA_KW_REVOCATION_REASON).unwrap_or(0);
                if change.applies_to(state, reason) {
                    plan.push(*o);
                    report.changed.push(VersionState::of(obj));
                } else {
                    report.skipped.push(VersionState::of(obj));
                }
            }
            for o in plan {
                self.provider.set_attributes(h, o, &change.template())?;
            }
            Ok(report)
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
    /// The logical key (CKA_KW_KEY_ID, hex).
    pub key_id: String,
    pub class: &'static str,
    pub version: CK_ULONG,
    /// For a key pair, the new version's public key (DER SubjectPublicKeyInfo).
    #[serde(skip)]
    pub public_key: Option<Vec<u8>>,
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
                let a = obj.attrs();
                done.push(DueRotation {
                    label: String::from_utf8_lossy(a.get(CKA_LABEL).unwrap_or_default())
                        .into_owned(),
                    key_id: super::listing::hex(a.get(CKA_KW_KEY_ID).unwrap_or_default()),
                    class: if public.is_none() {
                        "secret key"
                    } else {
                        "key pair"
                    },
                    version: p.object(h, new)?.attrs().ulong(CKA_KW_VERSION).unwrap_or(0),
                    public_key: public
                        .as_deref()
                        .map(super::csr::public_key_der)
                        .transpose()?,
                });
            }
            Ok(done)
        })
    }
}
