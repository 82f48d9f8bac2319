//! The token's audit trail (docs/audit.md): who did what to which object, with which
//! mechanism and result. Never a PIN, key material or data.

use std::path::PathBuf;
use std::sync::Arc;

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
pub(super) fn open(
    config: &SlotConfig,
    store: &Arc<crate::store::sqlite::SqliteStore>,
) -> Result<Option<AuditLog>> {
    if !config.audit {
        return Ok(None);
    }
    let syslog = config.audit_syslog.as_deref().map(|s| match s {
        "syslog" => SyslogTarget::Syslog,
        path => SyslogTarget::Socket(PathBuf::from(path)),
    });
    let anchor = Box::new(crate::store::anchor::AnchorDb::new(Arc::clone(store)));
    let opened = AuditLog::open_anchored(
        &config.audit_path(),
        config.audit_strict,
        syslog,
        Some(anchor),
        config.audit_writer,
    );
    match opened {
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
        if self.audit.is_none() {
            return Ok(());
        }
        self.audit_by(
            self.who()?,
            session,
            operation,
            subject,
            mechanism,
            result,
            detail,
        )
    }

    /// A failed login: the record names the user tried (`so`, `user` or the named user) with
    /// no role, since nobody is logged in as them.
    pub fn audit_failed_login(
        &self,
        session: CK_SESSION_HANDLE,
        tried: &str,
        result: Error,
        detail: String,
    ) -> Result<()> {
        if self.audit.is_none() {
            return Ok(());
        }
        let who = (Text::Shared(tried.into()), Text::default());
        self.audit_by(who, session, "login", None, None, Err(result), detail)
    }

    /// Record one event for `(user, role)`.
    #[allow(clippy::too_many_arguments)]
    fn audit_by(
        &self,
        who: (Text, Text),
        session: CK_SESSION_HANDLE,
        operation: &'static str,
        subject: Option<&Subject>,
        mechanism: Option<CK_MECHANISM_TYPE>,
        result: std::result::Result<(), Error>,
        detail: String,
    ) -> Result<()> {
        if self.audit.is_none() {
            return Ok(());
        }
        let subject = subject.cloned().unwrap_or_default();
        let event = self.event(who, session, operation, subject, mechanism, result, detail)?;
        self.record(event)
    }

    /// The record of an authorised key use (CKR_OK, no detail) by whoever is logged in, as
    /// [`Token::audit`] would write it; None when the token keeps no trail. A session reuses
    /// it with its grant (`session/grant.rs`).
    pub fn use_event(
        &self,
        session: CK_SESSION_HANDLE,
        operation: &'static str,
        subject: &Subject,
        mechanism: CK_MECHANISM_TYPE,
    ) -> Result<Option<Event>> {
        if self.audit.is_none() {
            return Ok(None);
        }
        let (who, subject) = (self.who()?, subject.clone());
        let ok = Ok(());
        self.event(
            who,
            session,
            operation,
            subject,
            Some(mechanism),
            ok,
            String::new(),
        )
        .map(Some)
    }

    /// Record a prepared event. Errors as [`Token::audit`].
    pub fn record(&self, event: Event) -> Result<()> {
        match &self.audit {
            Some(log) => log.record(event),
            None => Ok(()),
        }
    }

    /// [`Self::record`] an event the caller keeps (copied only if it must be queued).
    pub fn record_again(&self, event: &Event) -> Result<()> {
        match &self.audit {
            Some(log) => log.record_again(event),
            None => Ok(()),
        }
    }

    /// Who is logged in, as records name them (empty texts when nobody is).
    fn who(&self) -> Result<(Text, Text)> {
        Ok(match self.read()?.principal.as_ref() {
            Some(p) => (Text::Shared(p.name.clone()), Text::Static(p.role.name())),
            None => (Text::default(), Text::default()),
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn event(
        &self,
        (user, role): (Text, Text),
        session: CK_SESSION_HANDLE,
        operation: &'static str,
        subject: Subject,
        mechanism: Option<CK_MECHANISM_TYPE>,
        result: std::result::Result<(), Error>,
        detail: String,
    ) -> Result<Event> {
        Ok(Event {
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

    /// Commit the queued records and checkpoint the trail with `key` (C_InitToken's new
    /// checkpoint key), which also moves the anchor up to it. An error only in a strict slot.
    pub fn audit_checkpoint(&self, key: zeroize::Zeroizing<[u8; 32]>) -> Result<()> {
        match &self.audit {
            Some(log) => log.checkpoint_with(key).or_else(|e| {
                if self.config.audit_strict {
                    Err(e)
                } else {
                    Ok(())
                }
            }),
            None => Ok(()),
        }
    }

    /// The trail's anchor as the token database has it now.
    pub fn audit_anchor(&self) -> Result<Option<crate::audit::Anchor>> {
        self.store.audit_anchor()
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

    /// A stored object failed its integrity check and is ignored: say so on stderr and in an
    /// `integrity-failure` record (CKR_DEVICE_ERROR), once per stored version of it.
    pub(super) fn refuse_tampered(&self, uid: &str, generation: i64) {
        let first = self
            .refused
            .lock()
            .map(|mut seen| seen.insert((uid.to_owned(), generation)))
            .unwrap_or(false);
        if !first {
            return;
        }
        eprintln!("keyward: object {uid} failed its integrity check and is ignored");
        let subject = Subject {
            uid: Text::Shared(uid.into()),
            ..Subject::default()
        };
        // The object stays unusable whether or not the record could be written.
        let _ = self.audit(
            0,
            "integrity-failure",
            Some(&subject),
            None,
            Err(Error::DeviceError),
            "the stored object was altered; it is ignored".to_owned(),
        );
    }

    /// The token label, cached (records carry it).
    pub fn label(&self) -> Result<Text> {
        Ok(Text::Shared(
            self.label.read().map_err(|_| Error::GeneralError)?.clone(),
        ))
    }
}

/// A commit of an object write, as a strict slot records it when no audited operation names
/// it (a policy rotation's writes, say).
#[derive(Clone, Copy, Debug)]
pub(super) enum Commit {
    Create,
    Change,
    Destroy,
}

/// The audited object write this thread is inside: what a strict slot's commit records say.
struct WriteScope {
    session: CK_SESSION_HANDLE,
    operation: &'static str,
    mechanism: Option<CK_MECHANISM_TYPE>,
    detail: String,
    /// A commit of this scope was recorded.
    recorded: bool,
}

thread_local! {
    static WRITE: std::cell::RefCell<Option<WriteScope>> = const { std::cell::RefCell::new(None) };
}

/// Run `f`, an object write audited as `operation` in `session`: in a strict slot each
/// object it commits is recorded first ([`Token::before_commit`]). Returns `f`'s result and
/// whether such a record was written (the caller then need not record the success again).
/// Scopes nest: rotation's own key generation is recorded as `generate-key`.
pub fn recording<T>(
    session: CK_SESSION_HANDLE,
    operation: &'static str,
    mechanism: Option<CK_MECHANISM_TYPE>,
    detail: &str,
    f: impl FnOnce() -> T,
) -> (T, bool) {
    struct Restore(Option<WriteScope>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let outer = self.0.take();
            WRITE.with(|w| *w.borrow_mut() = outer);
        }
    }
    let scope = WriteScope {
        session,
        operation,
        mechanism,
        detail: detail.to_owned(),
        recorded: false,
    };
    let outer = WRITE.with(|w| w.borrow_mut().replace(scope));
    let restore = Restore(outer);
    let out = f();
    let recorded = WRITE.with(|w| w.borrow().as_ref().is_some_and(|s| s.recorded));
    drop(restore);
    (out, recorded)
}

impl Token {
    /// In a strict slot, record the commit of `obj` BEFORE it is made (docs/audit.md):
    /// CKR_DEVICE_ERROR, and the write is not made, when the record cannot be written.
    /// The record's result is CKR_OK: every check has passed and the write is next.
    pub(super) fn before_commit(&self, commit: Commit, obj: &Object) -> Result<()> {
        if !self.config.audit_strict || self.audit.is_none() {
            return Ok(());
        }
        let scope = WRITE.with(|w| {
            w.borrow()
                .as_ref()
                .map(|s| (s.session, s.operation, s.mechanism, s.detail.clone()))
        });
        let (session, operation, mechanism, detail) = scope.unwrap_or_else(|| {
            let op = match commit {
                Commit::Create => "create-object",
                Commit::Change => "set-attributes",
                Commit::Destroy => "destroy-object",
            };
            (0, op, None, String::new())
        });
        let subject = Subject::of(obj);
        self.audit(
            session,
            operation,
            Some(&subject),
            mechanism,
            Ok(()),
            detail,
        )?;
        WRITE.with(|w| {
            if let Some(s) = w.borrow_mut().as_mut() {
                s.recorded = true;
            }
        });
        Ok(())
    }
}
