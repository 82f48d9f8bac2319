//! The provider: one instance of the module with its slots and sessions. The ABI layer
//! holds the single global instance; tests build as many as they like.

mod access;
mod audit;
mod audit_objects;
mod crypto_ops;
mod delegate;
mod derive;
mod keygen;
mod message;
mod objects;
mod outcome;
mod rotate;
mod state;
mod versioned;
mod wrap;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use cryptoki_sys::*;

use crate::config::{Config, SlotConfig};
use crate::error::{Error, Result};
use crate::session::{HandleHashing, Session, SessionHandle};
use crate::token::{Login, Token, TokenInfo, Visibility};

/// What C_GetSlotInfo reports.
#[derive(Clone, Debug)]
pub struct SlotInfo {
    pub description: String,
    pub flags: CK_FLAGS,
}

/// Token information plus the session counts only the provider knows.
#[derive(Clone, Debug)]
pub struct TokenStatus {
    pub info: TokenInfo,
    pub sessions: usize,
    pub rw_sessions: usize,
}

struct Slot {
    config: SlotConfig,
    token: Option<Token>,
}

/// One loaded instance of Keyward.
pub struct Provider {
    slots: Vec<Slot>,
    sessions: RwLock<HashMap<SessionHandle, Arc<Session>, HandleHashing>>,
    next_session: AtomicU64,
    saved: state::Saved,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("slots", &self.slots.len())
            .finish_non_exhaustive()
    }
}

impl Provider {
    /// Open every configured token. A store that cannot be opened leaves its slot empty
    /// (CKF_TOKEN_PRESENT unset) rather than failing the whole module.
    pub fn new(config: Config) -> Self {
        let handles = Arc::new(AtomicU64::new(1));
        let slots = config
            .slots
            .into_iter()
            .map(|c| {
                let token = Token::open(c.clone(), handles.clone()).ok();
                Slot { config: c, token }
            })
            .collect();
        Self {
            slots,
            sessions: RwLock::new(HashMap::default()),
            next_session: AtomicU64::new(1),
            saved: state::Saved::default(),
        }
    }

    /// C_GetSlotList: slot ids are indexes into the configuration and never change.
    pub fn slot_ids(&self, token_present: bool) -> Vec<CK_SLOT_ID> {
        (0..self.slots.len())
            .filter(|i| !token_present || self.slots[*i].token.is_some())
            .map(|i| i as CK_SLOT_ID)
            .collect()
    }

    fn slot(&self, id: CK_SLOT_ID) -> Result<&Slot> {
        usize::try_from(id)
            .ok()
            .and_then(|i| self.slots.get(i))
            .ok_or(Error::SlotIdInvalid)
    }

    /// The token in slot `id`: CKR_SLOT_ID_INVALID, CKR_TOKEN_NOT_PRESENT.
    pub fn token(&self, id: CK_SLOT_ID) -> Result<&Token> {
        self.slot(id)?.token.as_ref().ok_or(Error::TokenNotPresent)
    }

    pub fn slot_info(&self, id: CK_SLOT_ID) -> Result<SlotInfo> {
        let slot = self.slot(id)?;
        let present = if slot.token.is_some() {
            CKF_TOKEN_PRESENT
        } else {
            0
        };
        Ok(SlotInfo {
            description: slot.config.description.clone(),
            flags: present,
        })
    }

    pub fn token_status(&self, id: CK_SLOT_ID) -> Result<TokenStatus> {
        let info = self.token(id)?.info()?;
        let sessions = self.sessions_of(id as usize)?;
        let rw_sessions = sessions.iter().filter(|s| s.rw).count();
        Ok(TokenStatus {
            info,
            sessions: sessions.len(),
            rw_sessions,
        })
    }

    fn sessions_of(&self, slot: usize) -> Result<Vec<Arc<Session>>> {
        let map = self.sessions.read().map_err(|_| Error::GeneralError)?;
        Ok(map.values().filter(|s| s.slot == slot).cloned().collect())
    }

    /// The session behind `h`: CKR_SESSION_HANDLE_INVALID.
    pub fn session(&self, h: CK_SESSION_HANDLE) -> Result<Arc<Session>> {
        let map = self.sessions.read().map_err(|_| Error::GeneralError)?;
        map.get(&SessionHandle(h))
            .cloned()
            .ok_or(Error::SessionHandleInvalid)
    }

    /// The session and its token.
    pub fn session_token(&self, h: CK_SESSION_HANDLE) -> Result<(Arc<Session>, &Token)> {
        let s = self.session(h)?;
        let t = self.token(s.slot as CK_SLOT_ID)?;
        Ok((s, t))
    }

    /// C_InitToken (§5.5.3): CKR_SESSION_EXISTS while any session is open on the slot.
    /// Returns the new master key's audit checkpoint key.
    fn init_token_unaudited(
        &self,
        slot: CK_SLOT_ID,
        so_pin: &[u8],
        label: &str,
    ) -> Result<zeroize::Zeroizing<[u8; 32]>> {
        let token = self.token(slot)?;
        if !self.sessions_of(slot as usize)?.is_empty() {
            return Err(Error::SessionExists);
        }
        token.init_token(so_pin, label)
    }

    /// C_OpenSession (§5.6.1): CKF_SERIAL_SESSION is mandatory; the SO may only hold RW sessions.
    pub fn open_session(&self, slot: CK_SLOT_ID, flags: CK_FLAGS) -> Result<CK_SESSION_HANDLE> {
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        let token = self.token(slot)?;
        if !token.is_initialized()? {
            return Err(Error::TokenNotRecognized);
        }
        let rw = flags & CKF_RW_SESSION != 0;
        if !rw && token.login_state()? == Login::So {
            return Err(Error::SessionReadWriteSoExists);
        }
        token.sync()?;
        let h = SessionHandle(self.next_session.fetch_add(1, Ordering::Relaxed));
        let session = Arc::new(Session::new(h, slot as usize, rw));
        self.sessions
            .write()
            .map_err(|_| Error::GeneralError)?
            .insert(h, session);
        Ok(h.0)
    }

    /// C_CloseSession: destroys the session's objects; the last session logs the token out.
    pub fn close_session(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let session = {
            let mut map = self.sessions.write().map_err(|_| Error::GeneralError)?;
            map.remove(&SessionHandle(h))
                .ok_or(Error::SessionHandleInvalid)?
        };
        self.after_close(&session)
    }

    fn after_close(&self, session: &Session) -> Result<()> {
        let token = self.token(session.slot as CK_SLOT_ID)?;
        token.drop_session_objects(session.handle)?;
        if self.sessions_of(session.slot)?.is_empty() && token.login_state()? != Login::Public {
            let detail = "last session closed".to_owned();
            let _ = token.audit(session.handle.0, "logout", None, None, Ok(()), detail);
            token.logout()?;
        }
        Ok(())
    }

    /// C_CloseAllSessions for one slot.
    pub fn close_all_sessions(&self, slot: CK_SLOT_ID) -> Result<()> {
        self.token(slot)?;
        let closed: Vec<Arc<Session>> = {
            let mut map = self.sessions.write().map_err(|_| Error::GeneralError)?;
            let hs: Vec<SessionHandle> = map
                .values()
                .filter(|s| s.slot == slot as usize)
                .map(|s| s.handle)
                .collect();
            hs.iter().filter_map(|h| map.remove(h)).collect()
        };
        for s in &closed {
            self.after_close(s)?;
        }
        Ok(())
    }

    /// C_GetSessionInfo: (slot, state, flags).
    pub fn session_info(&self, h: CK_SESSION_HANDLE) -> Result<(CK_SLOT_ID, CK_STATE, CK_FLAGS)> {
        let (s, token) = self.session_token(h)?;
        let flags = CKF_SERIAL_SESSION | if s.rw { CKF_RW_SESSION } else { 0 };
        Ok((s.slot as CK_SLOT_ID, s.state(token.login_state()?), flags))
    }

    /// C_Login (§5.6.4) for CKU_SO, CKU_USER and CKU_CONTEXT_SPECIFIC.
    fn login_unaudited(&self, h: CK_SESSION_HANDLE, user: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let (_, token) = self.session_token(h)?;
        match user {
            CKU_CONTEXT_SPECIFIC => {
                // It authorises the key operation just started in this session (§5.6.4).
                let s = self.session(h)?;
                let ops = s.ops()?;
                if ops.sign.is_none() && ops.decrypt.is_none() && ops.encrypt.is_none() {
                    return Err(Error::OperationNotInitialized);
                }
                token.reauthenticate(pin)
            }
            CKU_SO => {
                self.no_read_only_sessions(h)?;
                token.login(true, pin)
            }
            CKU_USER => token.login(false, pin),
            _ => Err(Error::UserTypeInvalid),
        }
    }

    /// The SO (admin) may only log in while the slot has no read-only session.
    fn no_read_only_sessions(&self, h: CK_SESSION_HANDLE) -> Result<()> {
        let ro = self
            .sessions_of(self.session(h)?.slot)?
            .iter()
            .any(|s| !s.rw);
        if ro {
            return Err(Error::SessionReadOnlyExists);
        }
        Ok(())
    }

    /// C_LoginUser (PKCS#11 3.0 §5.6.9): a named user; an empty name is plain C_Login.
    fn login_user_unaudited(
        &self,
        h: CK_SESSION_HANDLE,
        user: CK_USER_TYPE,
        pin: &[u8],
        name: &[u8],
    ) -> Result<()> {
        if name.is_empty() || user == CKU_CONTEXT_SPECIFIC {
            return self.login_unaudited(h, user, pin);
        }
        let name = std::str::from_utf8(name).map_err(|_| Error::ArgumentsBad)?;
        let (_, token) = self.session_token(h)?;
        if user == CKU_SO {
            self.no_read_only_sessions(h)?;
        }
        token.login_named(user, pin, name)
    }

    /// C_InitPIN (§5.5.4): SO only, in a read/write session.
    fn init_pin_unaudited(&self, h: CK_SESSION_HANDLE, pin: &[u8]) -> Result<()> {
        let (s, token) = self.session_token(h)?;
        s.require_rw()?;
        if token.login_state()? != Login::So {
            return Err(Error::UserNotLoggedIn);
        }
        token.init_pin(pin)
    }

    /// C_SetPIN (§5.5.5): in a read/write session.
    fn set_pin_unaudited(&self, h: CK_SESSION_HANDLE, old: &[u8], new: &[u8]) -> Result<()> {
        let (s, token) = self.session_token(h)?;
        s.require_rw()?;
        token.set_pin(old, new)
    }

    /// What the caller of session `s` may see.
    fn visibility(token: &Token) -> Result<Visibility> {
        Ok(Visibility(token.login_state()?))
    }

    /// Commit every token's queued audit records (process exit).
    pub fn flush_audit(&self) {
        for t in self.slots.iter().filter_map(|s| s.token.as_ref()) {
            let _ = t.audit_flush();
        }
    }

    /// Log every token out and drop every session (C_Finalize).
    pub fn shutdown(&self) {
        if let Ok(mut map) = self.sessions.write() {
            map.clear();
        }
        for slot in &self.slots {
            if let Some(t) = &slot.token {
                let _ = t.logout();
                let _ = t.audit_flush();
            }
        }
    }
}
