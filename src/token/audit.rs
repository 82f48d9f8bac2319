//! The token's audit trail (docs/audit.md): who did what to which object, with which
//! mechanism and result. Never a PIN, key material or data.

use std::path::PathBuf;

use cryptoki_sys::*;

use super::Token;
use crate::audit::{AuditLog, Event, SyslogTarget, Text};
use crate::config::SlotConfig;
use crate::error::{Error, Result};
use crate::object::vendor::CKA_KW_VERSION;
use crate::object::Object;

/// The object an event is about.
#[derive(Clone, Debug, Default)]
pub struct Subject {
    pub uid: Text,
    pub label: Text,
    pub version: u64,
}

impl Subject {
    pub fn of(obj: &Object) -> Self {
        let a = obj.attrs();
        let names = obj.names();
        Self {
            uid: Text::Shared(names.uid.clone()),
            label: Text::Shared(names.label.clone()),
            #[allow(clippy::unnecessary_cast)] // CK_ULONG is 32 bits on some platforms
            version: a.ulong(CKA_KW_VERSION).unwrap_or(0) as u64,
        }
    }
}

/// Open the slot's audit trail, if it keeps one. A trail that cannot be opened is reported
/// on stderr; the token then works without one unless the slot is strict.
pub(super) fn open(config: &SlotConfig) -> Result<Option<AuditLog>> {
    if !config.audit {
        return Ok(None);
    }
    let syslog = config.audit_syslog.as_deref().map(|s| match s {
        "syslog" => SyslogTarget::Syslog,
        path => SyslogTarget::Socket(PathBuf::from(path)),
    });
    match AuditLog::open(&config.audit_path(), config.audit_strict, syslog) {
        Ok(log) => Ok(Some(log.coalescing(config.audit_coalesce))),
        Err(e) if config.audit_strict => Err(e),
        Err(_) => {
            eprintln!(
                "keyward: cannot open the audit trail {}; continuing without it",
                config.audit_path().display()
            );
            Ok(None)
        }
    }
}

impl Token {
    /// Whether this token keeps an audit trail.
    pub fn audits(&self) -> bool {
        self.audit.is_some()
    }

    /// Record one event. Ok unless the slot is strict and the record could not be written
    /// (then CKR_DEVICE_ERROR: the caller refuses the operation).
    pub fn audit(
        &self,
        session: CK_SESSION_HANDLE,
        operation: &'static str,
        subject: Option<&Subject>,
        mechanism: Option<CK_MECHANISM_TYPE>,
        result: std::result::Result<(), Error>,
        detail: String,
    ) -> Result<()> {
        let Some(log) = &self.audit else {
            return Ok(());
        };
        let (user, role) = match self.read()?.principal.as_ref() {
            Some(p) => (Text::Shared(p.name.clone()), Text::Static(p.role.name())),
            None => (Text::default(), Text::default()),
        };
        let subject = subject.cloned().unwrap_or_default();
        log.record(Event {
            user,
            role,
            token: self.label()?,
            #[allow(clippy::unnecessary_cast)] // CK_ULONG is 32 bits on some platforms
            session: session as u64,
            operation: operation.into(),
            object_uid: subject.uid,
            object_label: subject.label,
            object_version: subject.version,
            mechanism: mechanism
                .map(|m| crate::mechanism::names::name(m).into())
                .unwrap_or_default(),
            result: match result {
                Ok(()) => "CKR_OK",
                Err(e) => e.ckr_name(),
            }
            .into(),
            detail,
        })
    }

    /// Give the trail the checkpoint key of the master key just unlocked (None at logout).
    pub(super) fn audit_key(&self, key: Option<zeroize::Zeroizing<[u8; 32]>>) {
        if let Some(log) = &self.audit {
            log.set_key(key);
        }
    }

    /// Write every queued record now (C_Finalize).
    pub fn audit_flush(&self) -> Result<()> {
        match &self.audit {
            Some(log) => log.flush(),
            None => Ok(()),
        }
    }

    /// The checkpoint key, for a logged-in auditor only: CKR_USER_NOT_LOGGED_IN otherwise.
    pub fn audit_reader_key(&self) -> Result<zeroize::Zeroizing<[u8; 32]>> {
        let st = self.read()?;
        match (&st.principal, &st.tmk) {
            (Some(p), Some(tmk)) if p.role.reads_audit() => tmk.audit_key(),
            _ => Err(Error::UserNotLoggedIn),
        }
    }

    /// The token label, cached (records carry it).
    pub fn label(&self) -> Result<Text> {
        Ok(Text::Shared(
            self.label.read().map_err(|_| Error::GeneralError)?.clone(),
        ))
    }
}
