//! Sessions: typed handles, the session state, and the active operations (one per kind).

mod grant;
mod handles;
mod output;

use std::sync::{Mutex, MutexGuard};

use cryptoki_sys::*;

pub use grant::{Grant, LastGrant, Question};
pub use handles::HandleHashing;
pub use output::{produce, Active, Call, Out};

use crate::error::{Error, Result};
use crate::mechanism::message::MessageCipher;
use crate::mechanism::{Cipher, Digester, Signer, Verifier};
use crate::token::{Login, ObjectHandle};

/// A PKCS#11 session handle; never reused while the module is loaded.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SessionHandle(pub CK_SESSION_HANDLE);

/// The remaining results of a C_FindObjects search.
#[derive(Debug, Default)]
pub struct Find {
    pub remaining: std::collections::VecDeque<ObjectHandle>,
}

/// The operations a session can have active, at most one of each kind (§5.2).
#[derive(Default)]
pub struct Ops {
    pub find: Option<Find>,
    pub encrypt: Option<Active<Box<dyn Cipher>>>,
    pub decrypt: Option<Active<Box<dyn Cipher>>>,
    pub digest: Option<Active<Box<dyn Digester>>>,
    pub sign: Option<Active<Box<dyn Signer>>>,
    pub verify: Option<Active<Box<dyn Verifier>>>,
    pub message_encrypt: Option<MessageCipher>,
    pub message_decrypt: Option<MessageCipher>,
    /// The key and mechanism each kind of operation was last started with. Kept after the
    /// operation ends, so that a failing call that ended it can be recorded with them.
    started: [Option<(CK_OBJECT_HANDLE, CK_MECHANISM_TYPE)>; 5],
}

/// The kinds of operation whose start [`Ops`] remembers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Encrypt,
    Decrypt,
    Sign,
    Verify,
    Digest,
}

impl Kind {
    /// The kind a usage attribute starts (CKA_ENCRYPT → Encrypt …); None for the others.
    pub fn of_usage(usage: CK_ATTRIBUTE_TYPE) -> Option<Self> {
        match usage {
            CKA_ENCRYPT => Some(Kind::Encrypt),
            CKA_DECRYPT => Some(Kind::Decrypt),
            CKA_SIGN => Some(Kind::Sign),
            CKA_VERIFY => Some(Kind::Verify),
            _ => None,
        }
    }

    /// The operation's name in audit records.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Encrypt => "encrypt",
            Kind::Decrypt => "decrypt",
            Kind::Sign => "sign",
            Kind::Verify => "verify",
            Kind::Digest => "digest",
        }
    }
}

impl Ops {
    /// Remember that an operation of `kind` started with `key` (0 for none) and `mech`.
    pub fn note_start(&mut self, kind: Kind, key: CK_OBJECT_HANDLE, mech: CK_MECHANISM_TYPE) {
        self.started[kind as usize] = Some((key, mech));
    }

    /// The key and mechanism the last operation of `kind` started with.
    pub fn started(&self, kind: Kind) -> Option<(CK_OBJECT_HANDLE, CK_MECHANISM_TYPE)> {
        self.started[kind as usize]
    }
}

/// One open session.
pub struct Session {
    pub handle: SessionHandle,
    /// Index of the slot in the provider.
    pub slot: usize,
    pub rw: bool,
    ops: Mutex<Ops>,
    /// The last key use granted in this session (see `grant.rs`).
    pub grant: LastGrant,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("handle", &self.handle)
            .field("rw", &self.rw)
            .finish_non_exhaustive()
    }
}

impl Session {
    pub fn new(handle: SessionHandle, slot: usize, rw: bool) -> Self {
        Self {
            handle,
            slot,
            rw,
            ops: Mutex::new(Ops::default()),
            grant: LastGrant::default(),
        }
    }

    /// The session's operations. The spec forbids concurrent use of one session, so this
    /// lock is never contended by a conforming caller.
    pub fn ops(&self) -> Result<MutexGuard<'_, Ops>> {
        self.ops.lock().map_err(|_| Error::GeneralError)
    }

    /// CKS_* for this session given the token's login state (§5.6, table 8).
    pub fn state(&self, login: Login) -> CK_STATE {
        match (login, self.rw) {
            (Login::Public, false) => CKS_RO_PUBLIC_SESSION,
            (Login::Public, true) => CKS_RW_PUBLIC_SESSION,
            (Login::User, false) => CKS_RO_USER_FUNCTIONS,
            (Login::User, true) => CKS_RW_USER_FUNCTIONS,
            (Login::So, _) => CKS_RW_SO_FUNCTIONS,
        }
    }

    /// CKR_SESSION_READ_ONLY unless this is a read/write session.
    pub fn require_rw(&self) -> Result<()> {
        self.rw.then_some(()).ok_or(Error::SessionReadOnly)
    }
}
