//! The pool of device sessions of one connection: a caller checks a session out for one
//! operation ([`PooledSession`]) and it goes back to the pool when the guard drops. When every
//! session is busy another one is opened; at most `max_idle` wait in the pool, the rest are
//! closed. The pool's lock is held only to push or pop, never across a device call.
//!
//! Sessions are opened "no drop": cryptoki never closes them behind our back, because closing
//! a session of a finalised load could close a new session that reuses its number. The pool
//! closes them itself while their load is current, and merely forgets them otherwise.

use std::cell::Cell;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, RwLockReadGuard};

use cryptoki::context::Pkcs11;
use cryptoki::session::Session;
use cryptoki::slot::Slot;

use super::errors::{DeviceResult, Failure};
use super::module::{Loaded, Module};
use crate::error::Error;

/// Idle sessions kept per connection unless configured otherwise.
pub(super) const DEFAULT_MAX_IDLE: usize = 8;

/// Open device sessions of one connection (the login session not counted).
pub(super) struct Pool {
    idle: Mutex<Vec<Session>>,
    max_idle: usize,
    /// Sessions open now: idle plus checked out.
    open: AtomicUsize,
    /// Sessions opened over the pool's life.
    opened: AtomicUsize,
}

/// Counts for diagnostics and tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PoolStats {
    /// Sessions open now (idle and checked out), the login session not counted.
    pub open: usize,
    /// Of those, waiting in the pool.
    pub idle: usize,
    /// Sessions opened since the connection was made.
    pub opened: usize,
}

impl Pool {
    pub(super) fn new(max_idle: usize) -> Self {
        Pool {
            idle: Mutex::new(Vec::new()),
            max_idle,
            open: AtomicUsize::new(0),
            opened: AtomicUsize::new(0),
        }
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Session>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn stats(&self) -> PoolStats {
        PoolStats {
            open: self.open.load(Ordering::Relaxed),
            idle: self.idle().len(),
            opened: self.opened.load(Ordering::Relaxed),
        }
    }

    /// Check a session out: an idle one, else a new read/write session on `slot`. `module`
    /// must still be at `epoch` (else the connection is lost: CKR_DEVICE_ERROR).
    pub(super) fn checkout<'a>(
        &'a self,
        module: &'a Module,
        epoch: u64,
        slot: Slot,
    ) -> DeviceResult<PooledSession<'a>> {
        let loaded = module.read();
        let Some(p11) = loaded.context(epoch) else {
            return Err(Failure::lost(Error::DeviceError));
        };
        let popped = self.idle().pop();
        let session = match popped {
            Some(s) => s,
            None => {
                let s = p11.open_rw_session_no_drop(slot)?;
                self.open.fetch_add(1, Ordering::Relaxed);
                self.opened.fetch_add(1, Ordering::Relaxed);
                s
            }
        };
        Ok(PooledSession {
            pool: self,
            session: Some(session),
            discard: Cell::new(false),
            epoch,
            loaded,
        })
    }

    /// Close every idle session (while their load is current: the caller checks).
    pub(super) fn close_idle(&self) {
        let sessions = std::mem::take(&mut *self.idle());
        for s in sessions {
            self.open.fetch_sub(1, Ordering::Relaxed);
            let _ = s.close();
        }
    }
}

/// A session checked out of the pool for one operation. It holds the module's load (so no
/// reload can happen under it) and returns the session to the pool on drop, unless
/// [`discard`](Self::discard)ed or the pool is full, in which case the session is closed.
pub(super) struct PooledSession<'a> {
    pool: &'a Pool,
    session: Option<Session>,
    discard: Cell<bool>,
    /// The load the session belongs to. Its guard is dropped after the session is back in
    /// the pool or closed (fields drop after `drop`).
    epoch: u64,
    loaded: RwLockReadGuard<'a, Loaded>,
}

impl PooledSession<'_> {
    /// Close the session instead of pooling it (it may hold state after an odd failure).
    pub(super) fn discard(&self) {
        self.discard.set(true);
    }

    /// The module context the session belongs to. Checked at checkout and held (read)
    /// since, so it is there; a lost device otherwise.
    pub(super) fn context(&self) -> DeviceResult<&Pkcs11> {
        self.loaded
            .context(self.epoch)
            .ok_or_else(|| Failure::lost(Error::DeviceError))
    }
}

impl Deref for PooledSession<'_> {
    type Target = Session;

    fn deref(&self) -> &Session {
        self.session
            .as_ref()
            .unwrap_or_else(|| unreachable!("the session is taken only on drop"))
    }
}

impl Drop for PooledSession<'_> {
    fn drop(&mut self) {
        let Some(session) = self.session.take() else {
            return;
        };
        if !self.discard.get() {
            let mut idle = self.pool.idle();
            if idle.len() < self.pool.max_idle {
                idle.push(session);
                return;
            }
        }
        self.pool.open.fetch_sub(1, Ordering::Relaxed);
        // The load is still held by `self._loaded`, so this closes our own session.
        let _ = session.close();
    }
}
