//! The caller's side of the appender: an in-memory queue that `record` pushes onto, and the
//! waits (strict mode, `flush`, a full queue) on the writer's progress. The writer is a
//! background thread, or (`Writer::Caller`) the recording threads themselves, one at a time.

use std::borrow::Cow;
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Instant, SystemTime};

use zeroize::Zeroizing;

use super::anchor::AnchorStore;
use super::db::{self, Pending};
use super::flusher::{Flusher, BATCH_NOW};
use super::record::{Event, Origin};
use super::syslog::{Forwarder, SyslogTarget};
use super::writer::{Callers, Resolved, Writer};
use crate::error::{Error, Result};

/// At most this many events wait in memory; `record` blocks beyond it until the flusher has
/// taken the queue (back-pressure instead of unbounded memory when the disk stalls).
pub(super) const MAX_QUEUE: usize = 1 << 16;

/// The checkpoint key.
pub(super) type Key = Zeroizing<[u8; 32]>;

/// State shared between the callers and the flusher thread.
pub(super) struct Shared {
    pub(super) state: Mutex<State>,
    /// The flusher sleeps here when there is nothing to do.
    pub(super) work: Condvar,
    /// Callers sleep here for the flusher's progress.
    pub(super) progress: Condvar,
    /// Strict mode: failed tickets are kept until their callers collect them.
    pub(super) strict: bool,
}

/// Everything behind the one mutex. Tickets number this process's events 1, 2, 3, ...
#[derive(Default)]
pub(super) struct State {
    pub(super) queue: Vec<Pending>,
    /// An emptied batch vector handed back by the flusher, to reuse its capacity.
    pub(super) spare: Vec<Pending>,
    /// Tickets handed out.
    pub(super) queued: u64,
    /// Tickets taken by the flusher.
    pub(super) taken: u64,
    /// Every ticket up to this one has been written or lost.
    pub(super) settled: u64,
    /// Highest ticket lost to a failed write.
    pub(super) last_lost: u64,
    /// Strict mode: lost ticket ranges not yet collected by all their callers.
    pub(super) failed: Vec<FailedRange>,
    /// `flush` generations: requested by callers, taken and served by the flusher.
    pub(super) flush_requested: u64,
    pub(super) flush_taken: u64,
    pub(super) flush_served: u64,
    /// Highest flush generation whose work failed to write.
    pub(super) flush_failed: u64,
    /// Tickets already reported on by an earlier `flush`.
    pub(super) flush_checked: u64,
    pub(super) key: Option<Key>,
    /// The key just removed by `set_key(None)`: used once to checkpoint what it covered.
    pub(super) retiring: Option<Key>,
    /// The flusher is waiting (for work, a poll tick or a deferred checkpoint).
    pub(super) flusher_waiting: bool,
    /// ...and only a notification will wake it: new work must notify.
    pub(super) flusher_asleep: bool,
    pub(super) flusher_gone: bool,
    /// Callers sleeping on `progress` (notify only when someone listens).
    pub(super) waiting: usize,
    pub(super) stop: bool,
    /// Test hook: the flusher takes no work (except on stop).
    pub(super) paused: bool,
    /// Callers write: the next event from this time on writes the queue (None: at once).
    pub(super) next_write: Option<Instant>,
}

/// A run of lost tickets, with how many strict callers have not yet been told.
pub(super) struct FailedRange {
    pub(super) first: u64,
    pub(super) last: u64,
    pub(super) unclaimed: u64,
}

impl Shared {
    /// Lock the state. A panic never leaves it half-updated, so a poisoned lock is used as is.
    pub(super) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleep on `progress` until `done` holds.
    fn wait_until<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        done: impl Fn(&State) -> bool,
    ) -> MutexGuard<'a, State> {
        while !done(&st) {
            st.waiting += 1;
            st = self
                .progress
                .wait(st)
                .unwrap_or_else(PoisonError::into_inner);
            st.waiting -= 1;
        }
        st
    }

    /// Wake the flusher for new work. A futex wake costs a system call, so a plain event
    /// leaves a polling flusher to find it on its next tick; `urgent` work (someone waits for
    /// it) wakes a waiting flusher at once.
    pub(super) fn wake_flusher(&self, st: &mut State, urgent: bool) {
        if st.flusher_asleep || (urgent && st.flusher_waiting) {
            st.flusher_asleep = false;
            st.flusher_waiting = false;
            self.work.notify_one();
        }
    }

    /// Wake callers waiting on `progress`, if any.
    pub(super) fn wake_callers(&self, st: &State) {
        if st.waiting > 0 {
            self.progress.notify_all();
        }
    }
}

/// An append-only audit trail in its own SQLite file, written by a background thread or by
/// the threads that record into it ([`Writer`]).
pub struct AuditLog {
    shared: Arc<Shared>,
    /// Coalesce identical events waiting in the queue (non-strict logs only).
    coalesce: bool,
    /// The process that opened the log: only it may write, stop and join the flusher.
    owner: u32,
    writing: Writing,
}

/// The writer of a log: its thread, or the recording threads in turn.
enum Writing {
    Thread(Option<JoinHandle<()>>),
    Callers(Box<Callers>),
}

/// How many of the newest waiting events `record` compares a new one with.
const COALESCE_WINDOW: usize = 4;

impl AuditLog {
    /// Open (creating) the audit database at `path` (a separate SQLite file, WAL mode,
    /// synchronous=FULL, 0600), written by `writer` (a thread is started for
    /// `Writer::Thread`). `strict`: see [`record`](Self::record). `syslog`: forward each
    /// committed record.
    ///
    /// `CKR_DEVICE_ERROR` if the file cannot be created or opened; `CKR_GENERAL_ERROR` if the
    /// thread cannot be started.
    pub fn open(
        path: &Path,
        strict: bool,
        syslog: Option<SyslogTarget>,
        writer: Writer,
    ) -> Result<AuditLog> {
        Self::open_anchored(path, strict, syslog, None, writer)
    }

    /// [`open`](Self::open), with the store of the anchor kept outside the trail: after each
    /// checkpoint it commits, the writer advances the anchor to it (docs/audit.md).
    pub fn open_anchored(
        path: &Path,
        strict: bool,
        syslog: Option<SyslogTarget>,
        anchor: Option<Box<dyn AnchorStore>>,
        writer: Writer,
    ) -> Result<AuditLog> {
        Self::open_resolved(path, strict, syslog, anchor, writer.resolve())
    }

    /// [`open_anchored`](Self::open_anchored) with the writer decided.
    pub(super) fn open_resolved(
        path: &Path,
        strict: bool,
        syslog: Option<SyslogTarget>,
        anchor: Option<Box<dyn AnchorStore>>,
        writer: Resolved,
    ) -> Result<AuditLog> {
        let conn = db::open_writer(path)?;
        let forwarder = syslog.map(Forwarder::new).transpose()?;
        let origin = Origin::current();
        let owner = origin.pid;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            work: Condvar::new(),
            progress: Condvar::new(),
            strict,
        });
        let flusher = Flusher::new(conn, origin, path.to_owned(), forwarder, anchor);
        let writing = match writer {
            Resolved::Callers { adaptive } => {
                Writing::Callers(Box::new(Callers::new(flusher, adaptive)))
            }
            Resolved::Thread => {
                let for_thread = Arc::clone(&shared);
                let handle = std::thread::Builder::new()
                    .name("keyward-audit".into())
                    .spawn(move || flusher.run(&for_thread))
                    .map_err(|_| Error::GeneralError)?;
                Writing::Thread(Some(handle))
            }
        };
        Ok(AuditLog {
            shared,
            coalesce: false,
            owner,
            writing,
        })
    }

    /// Whether the recording threads write this log (no thread of its own).
    pub(super) fn callers_write(&self) -> bool {
        matches!(&self.writing, Writing::Callers(c) if c.writing())
    }

    /// Callers write: write what is queued now on this thread (see [`Callers::write`]).
    /// Nothing in a process other than the opener: a `fork()` child's copy of the
    /// connection must not be used.
    fn write_here(&self, wait: bool, window: bool) {
        let Writing::Callers(callers) = &self.writing else {
            return;
        };
        if std::process::id() != self.owner {
            return;
        }
        callers.write(&self.shared, wait, window);
    }

    /// Coalesce identical events: an event equal in every field to one of the last few still
    /// waiting for the flusher is counted into it (its record then says `count=N last=TIME`)
    /// instead of queued again. A hot loop of the same operation on the same key then costs a
    /// record per flush, not per operation. Never in strict mode (each caller waits for its
    /// own commit there). Off by default.
    pub fn coalescing(mut self, on: bool) -> Self {
        self.coalesce = on;
        self
    }

    /// Append an event: queue it and wake the flusher, then return `Ok` at once; when the
    /// callers write, first write the queue on this thread if the last write is 100 ms old
    /// or the queue is long (and no other thread is writing). In strict mode, wait until it
    /// is committed (concurrent waiters share one transaction) and return
    /// `CKR_DEVICE_ERROR` if it could not be written.
    ///
    /// Blocks while `MAX_QUEUE` events are waiting. `CKR_GENERAL_ERROR` if the flusher thread
    /// is gone, or in strict mode when called in a process other than the one that opened
    /// the log (after `fork()`, where nothing would ever write it).
    pub fn record(&self, e: Event) -> Result<()> {
        self.append(Cow::Owned(e))
    }

    /// [`record`](Self::record) an event kept by the caller: it is copied only if it is
    /// queued rather than counted into an equal one waiting (a session's repeated key use).
    pub fn record_again(&self, e: &Event) -> Result<()> {
        self.append(Cow::Borrowed(e))
    }

    fn append(&self, e: Cow<'_, Event>) -> Result<()> {
        let at = SystemTime::now();
        if self.shared.strict && std::process::id() != self.owner {
            return Err(Error::GeneralError);
        }
        let mut st = self.shared.lock();
        if st.queue.len() >= MAX_QUEUE {
            if self.callers_write() {
                drop(st);
                self.write_here(true, false);
                st = self.shared.lock();
            }
            st = self
                .shared
                .wait_until(st, |s| s.queue.len() < MAX_QUEUE || s.flusher_gone);
        }
        if st.flusher_gone {
            return Err(Error::GeneralError);
        }
        st.queued += 1;
        let ticket = st.queued;
        let coalesced = self.coalesce && !self.shared.strict && coalesce(&mut st.queue, &e, at);
        if !coalesced {
            st.queue.push(Pending::new(at, e.into_owned()));
            self.shared.wake_flusher(&mut st, self.shared.strict);
        }
        if self.callers_write() {
            let due = self.shared.strict
                || st.queue.len() >= BATCH_NOW
                || st.next_write.is_none_or(|t| Instant::now() >= t);
            if !due {
                return Ok(());
            }
            drop(st);
            self.write_here(self.shared.strict, !self.shared.strict);
            if !self.shared.strict {
                return Ok(());
            }
            st = self.shared.lock();
        } else if !self.shared.strict {
            return Ok(());
        }
        let st = self
            .shared
            .wait_until(st, |s| s.settled >= ticket || s.flusher_gone);
        claim(st, ticket)
    }

    /// The checkpoint key (derived by the caller from the token master key) while someone is
    /// logged in; None after logout. The old key is zeroized when replaced; on `None` it is
    /// used once more by the flusher to checkpoint what was recorded under it.
    pub fn set_key(&self, key: Option<Key>) {
        let mut st = self.shared.lock();
        let old = std::mem::replace(&mut st.key, key);
        if st.key.is_none() && old.is_some() {
            st.retiring = old;
            self.shared.wake_flusher(&mut st, true);
            drop(st);
            self.write_here(true, false);
        }
    }

    /// Commit every queued record and checkpoint the trail with `key` now, whoever is logged
    /// in (C_InitToken: the new master key's checkpoint key, before anyone has logged in
    /// with it). Errors as [`flush`](Self::flush).
    pub fn checkpoint_with(&self, key: Key) -> Result<()> {
        let _ = self.flush(); // a departing key's checkpoint first
        self.shared.lock().retiring = Some(key);
        self.flush()
    }

    /// Block until every record queued so far is committed (and checkpointed, when a key is
    /// set). `CKR_DEVICE_ERROR` if a record queued since the previous `flush` could not be
    /// written, or the final checkpoint failed; `CKR_GENERAL_ERROR` if the flusher is gone or
    /// this is not the process that opened the log.
    pub fn flush(&self) -> Result<()> {
        if std::process::id() != self.owner {
            return Err(Error::GeneralError);
        }
        let mut st = self.shared.lock();
        st.flush_requested += 1;
        let generation = st.flush_requested;
        let through = st.queued;
        self.shared.wake_flusher(&mut st, true);
        if self.callers_write() {
            drop(st);
            self.write_here(true, false);
            st = self.shared.lock();
        }
        let mut st = self
            .shared
            .wait_until(st, |s| s.flush_served >= generation || s.flusher_gone);
        if st.flush_served < generation {
            return Err(Error::GeneralError);
        }
        let lost = st.last_lost > st.flush_checked || st.flush_failed >= generation;
        st.flush_checked = st.flush_checked.max(through);
        if lost {
            Err(Error::DeviceError)
        } else {
            Ok(())
        }
    }

    /// Test hook: stop (or let) the writer take work, so a test can hold events in the queue.
    #[cfg(test)]
    pub(super) fn pause(&self, paused: bool) {
        let mut st = self.shared.lock();
        st.paused = paused;
        self.shared.wake_flusher(&mut st, true);
        self.shared.wake_callers(&st);
    }

    /// Test hook: behave as a copy of this log inherited by a child after `fork()`.
    #[cfg(test)]
    pub(super) fn pretend_forked(&mut self) {
        self.owner = self.owner.wrapping_add(1);
    }
}

/// Count `e` into one of the newest events waiting in `queue` that it equals; false if none.
fn coalesce(queue: &mut [Pending], e: &Event, at: SystemTime) -> bool {
    let same = queue
        .iter_mut()
        .rev()
        .take(COALESCE_WINDOW)
        .find(|p| p.event == *e);
    match same {
        Some(p) => {
            p.count += 1;
            p.last_at = at;
            true
        }
        None => false,
    }
}

/// A strict caller collects its ticket's outcome once it is settled.
fn claim(mut st: MutexGuard<'_, State>, ticket: u64) -> Result<()> {
    if st.settled < ticket {
        return Err(Error::GeneralError);
    }
    let Some(i) = st
        .failed
        .iter()
        .position(|f| (f.first..=f.last).contains(&ticket))
    else {
        return Ok(());
    };
    st.failed[i].unclaimed = st.failed[i].unclaimed.saturating_sub(1);
    if st.failed[i].unclaimed == 0 {
        st.failed.swap_remove(i);
    }
    Err(Error::DeviceError)
}

impl Drop for AuditLog {
    /// Flush (with a final checkpoint when a key is set) and stop the writer — only in the
    /// process that opened the log. A copy inherited through `fork()` must not write the
    /// parent's queued records, nor close the parent's connection: it is dropped without
    /// touching the lock, the queue or the database.
    fn drop(&mut self) {
        let writing = std::mem::replace(&mut self.writing, Writing::Thread(None));
        if std::process::id() != self.owner {
            // A thread exists only in the parent: joining (or detaching) it here is
            // meaningless. This copy's memory is simply never reclaimed.
            std::mem::forget(writing);
            return;
        }
        self.shared.lock().stop = true;
        match writing {
            Writing::Callers(callers) => callers.close(&self.shared),
            Writing::Thread(Some(handle)) => super::flusher::join(&self.shared, handle),
            Writing::Thread(None) => {}
        }
    }
}
