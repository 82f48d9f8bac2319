//! The flusher: takes the whole queue at once (group commit), appends it in one
//! transaction, checkpoints it when a key is set, forwards it to syslog, and reports the
//! outcome to waiting callers. It runs on a background thread of its own ([`Flusher::run`]),
//! or is taken in turn by the recording threads (`Writer::Caller`: [`Flusher::serve`], under
//! the log's lock of it).

use std::path::PathBuf;
use std::sync::{MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use rusqlite::Connection;

use super::anchor::AnchorStore;
use super::db::{self, Pending};
use super::record::{Event, Origin};
use super::sink::{FailedRange, Key, Shared, State};
use super::syslog::Forwarder;

/// At most one checkpoint per this interval per process, except on flush, logout and close.
const CHECKPOINT_INTERVAL: Duration = Duration::from_millis(100);

/// After work, the flusher polls the queue at this interval for `LINGER` before it sleeps
/// until notified: callers then queue events without a wake-up system call. The interval is
/// also the group-commit window of a busy log (one fsync per window, not per event); strict
/// records, `flush` and logout wake the flusher at once.
const POLL: Duration = Duration::from_millis(100);
const LINGER: Duration = Duration::from_millis(1000);
/// A queue this long is written without waiting for the window.
pub(super) const BATCH_NOW: usize = 8192;

/// Batch vectors up to this capacity are handed back for reuse.
const SPARE_CAPACITY: usize = 1024;

/// One unit of work taken from the shared state.
struct Work {
    batch: Vec<Pending>,
    /// Tickets `first..=last` are in `batch` (first > last when it holds none).
    first: u64,
    last: u64,
    /// The flush generation this work serves.
    generation: u64,
    key: Option<Key>,
    /// Checkpoint now, whatever the rate limit (flush, logout, close, deferred checkpoint).
    force_checkpoint: bool,
}

impl Work {
    /// How many events the work holds (a coalesced record counts each of its events).
    fn events(&self) -> u64 {
        (self.last + 1).saturating_sub(self.first)
    }
}

/// The flusher's own state: the connection is used by one thread at a time (its thread, or
/// the recording thread holding it).
pub(super) struct Flusher {
    conn: Connection,
    origin: Origin,
    path: PathBuf,
    forwarder: Option<Forwarder>,
    /// The anchor outside the trail, advanced after each checkpoint.
    anchor: Option<Box<dyn AnchorStore>>,
    /// The trail was seen not to extend its anchor (reported once on stderr).
    diverged: bool,
    /// Events lost to failed writes since the last successful one (reported in the trail).
    lost: u64,
    last_checkpoint: Option<Instant>,
    /// A checkpoint skipped by the rate limit is written by this time.
    checkpoint_due: Option<Instant>,
    /// When the last batch was written: plain events wait for the next group-commit window.
    last_write: Option<Instant>,
}

/// Marks the flusher gone when its thread ends, normally or by a panic, so that no caller
/// waits for it forever.
struct GoneOnExit<'a>(&'a Shared);

impl Drop for GoneOnExit<'_> {
    fn drop(&mut self) {
        let mut st = self.0.lock();
        st.flusher_gone = true;
        self.0.progress.notify_all();
    }
}

impl Flusher {
    pub(super) fn new(
        conn: Connection,
        origin: Origin,
        path: PathBuf,
        forwarder: Option<Forwarder>,
        anchor: Option<Box<dyn AnchorStore>>,
    ) -> Self {
        Flusher {
            conn,
            origin,
            path,
            forwarder,
            anchor,
            diverged: false,
            lost: 0,
            last_checkpoint: None,
            checkpoint_due: None,
            last_write: None,
        }
    }

    /// The thread body: until stopped, take work, write it, report it.
    pub(super) fn run(mut self, shared: &Shared) {
        let _gone = GoneOnExit(shared);
        loop {
            let st = self.wait(shared);
            let stop = st.stop;
            self.serve(shared, st);
            if stop {
                return;
            }
        }
    }

    /// Take the work there is now, write it and report it; returns how many events it held.
    pub(super) fn serve(&mut self, shared: &Shared, st: MutexGuard<'_, State>) -> u64 {
        let mut work = self.take(shared, st);
        let events = work.events();
        let ok = self.write(&mut work);
        self.last_write = Some(Instant::now());
        self.settle(shared, work, ok);
        events
    }

    /// Sleep until there is something to do; return with the state locked.
    fn wait<'a>(&mut self, shared: &'a Shared) -> MutexGuard<'a, State> {
        let mut st = shared.lock();
        let idle_since = Instant::now();
        loop {
            let now = Instant::now();
            let due = self.checkpoint_due.is_some_and(|t| now >= t);
            let flush = st.flush_requested > st.flush_taken;
            let queued = !st.queue.is_empty();
            // Someone waits for this work (strict callers, flush, a full queue, a logout's
            // checkpoint): take it now. Plain events wait for the group-commit window, so a
            // busy log commits (and fsyncs) once per POLL, not once per event.
            let urgent = flush
                || st.retiring.is_some()
                || due
                || (queued && (shared.strict || st.waiting > 0 || st.queue.len() >= BATCH_NOW));
            let window = self.last_write.map(|t| t + POLL).filter(|t| now < *t);
            let wanted = urgent || (queued && window.is_none());
            if st.stop || (wanted && !st.paused) {
                return st;
            }
            let polling = now.duration_since(idle_since) < LINGER;
            let tick = polling.then(|| now + POLL);
            let deadline = tick
                .into_iter()
                .chain(self.checkpoint_due)
                .chain(window.filter(|_| queued))
                .min();
            st.flusher_waiting = true;
            st.flusher_asleep = !polling;
            st = match deadline {
                Some(t) => {
                    let left = t.saturating_duration_since(now);
                    shared
                        .work
                        .wait_timeout(st, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
                None => shared.work.wait(st).unwrap_or_else(PoisonError::into_inner),
            };
            st.flusher_waiting = false;
            st.flusher_asleep = false;
        }
    }

    /// Take the work there is now (the whole queue at once) and unlock the state.
    fn take(&mut self, shared: &Shared, mut st: MutexGuard<'_, State>) -> Work {
        let spare = std::mem::take(&mut st.spare);
        let batch = std::mem::replace(&mut st.queue, spare);
        let first = st.taken + 1;
        // Tickets count events; a coalesced entry stands for `count` of them.
        st.taken += batch.iter().map(|p| p.count).sum::<u64>();
        let flush = st.flush_requested > st.flush_taken;
        st.flush_taken = st.flush_requested;
        let retiring = st.retiring.take();
        let due = self.checkpoint_due.is_some_and(|t| Instant::now() >= t);
        let work = Work {
            batch,
            first,
            last: st.taken,
            generation: st.flush_taken,
            force_checkpoint: flush || st.stop || retiring.is_some() || due,
            key: st.key.clone().or(retiring),
        };
        shared.wake_callers(&st);
        work
    }

    /// Append the work (and a checkpoint when one is due); forward what was committed.
    fn write(&mut self, work: &mut Work) -> bool {
        let key = self.checkpoint_key(work);
        if work.batch.is_empty() && key.is_none() && self.lost == 0 {
            return true;
        }
        let events = work.batch.len() as u64;
        if self.lost > 0 {
            work.batch.insert(0, lost_marker(self.lost));
        }
        // Every SQLite call (the anchor's in the token database too) is inside the fork gate.
        let inside = super::fork_gate::enter();
        // The anchor is read before the trail: it never runs ahead of what is committed.
        let anchor = match (&key, self.anchor.as_mut()) {
            (Some(_), Some(store)) => store.load().unwrap_or(None),
            _ => None,
        };
        let appended = db::append(
            &mut self.conn,
            &self.origin,
            &mut work.batch,
            key.as_deref(),
            anchor.as_ref(),
        );
        if let Ok(a) = &appended {
            self.advance_anchor(a);
        }
        drop(inside);
        match appended {
            Ok(appended) => {
                let committed = appended.records;
                if self.lost > 0 {
                    eprintln!("keyward: audit trail writable again ({} lost)", self.lost);
                    self.lost = 0;
                }
                if key.is_some() {
                    self.last_checkpoint = Some(Instant::now());
                    self.checkpoint_due = None;
                }
                if let Some(f) = self.forwarder.as_mut() {
                    committed.iter().for_each(|c| f.send(&self.origin, c));
                }
                true
            }
            Err(e) => {
                if self.lost == 0 {
                    let _ = db::storage_error(&self.path, &e);
                }
                self.lost += events;
                work.batch.clear();
                if self.checkpoint_due.is_some() {
                    // Retry a deferred checkpoint later, not in a busy loop.
                    self.checkpoint_due = Some(Instant::now() + CHECKPOINT_INTERVAL);
                }
                false
            }
        }
    }

    /// Move the anchor up to the checkpoint just committed; say once on stderr when the
    /// trail no longer extends it (it is then left where it is, for `verify` to report).
    fn advance_anchor(&mut self, appended: &db::Appended) {
        let Some(store) = self.anchor.as_mut() else {
            return;
        };
        if let Some(next) = &appended.next_anchor {
            // A failure leaves the anchor behind, which verification tolerates.
            let _ = store.advance(next);
        }
        if appended.diverged && !self.diverged {
            eprintln!(
                "keyward: audit trail {} no longer has the anchored record: not advancing \
                 the anchor (`keyward audit verify` names the record)",
                self.path.display()
            );
        }
        self.diverged = appended.diverged;
    }

    /// The key to checkpoint this work with, or None (no key, or rate-limited: then a
    /// deferred checkpoint is scheduled so the tail does not stay unauthenticated).
    fn checkpoint_key(&mut self, work: &Work) -> Option<Key> {
        let Some(key) = work.key.as_ref() else {
            self.checkpoint_due = None;
            return None;
        };
        let next_allowed = self.last_checkpoint.map(|t| t + CHECKPOINT_INTERVAL);
        match next_allowed {
            Some(t) if !work.force_checkpoint && Instant::now() < t => {
                if !work.batch.is_empty() {
                    self.checkpoint_due = Some(t);
                }
                None
            }
            _ => Some(key.clone()),
        }
    }

    /// Report the outcome: settle the tickets, record a loss, serve the flush generation.
    fn settle(&mut self, shared: &Shared, work: Work, ok: bool) {
        let mut batch = work.batch;
        let mut st = shared.lock();
        st.settled = work.last;
        if !ok {
            st.flush_failed = st.flush_failed.max(work.generation);
            if work.last >= work.first {
                st.last_lost = work.last;
                if shared.strict {
                    st.failed.push(FailedRange {
                        first: work.first,
                        last: work.last,
                        unclaimed: work.last - work.first + 1,
                    });
                }
            }
        }
        st.flush_served = work.generation;
        st.next_write = self.last_write.map(|t| t + POLL);
        batch.clear();
        if batch.capacity() <= SPARE_CAPACITY && batch.capacity() > st.spare.capacity() {
            st.spare = batch;
        }
        shared.wake_callers(&st);
    }
}

/// Stop a flusher thread (the log's `stop` is set): wake it and wait until it has written
/// its last work.
pub(super) fn join(shared: &Shared, handle: std::thread::JoinHandle<()>) {
    shared.wake_flusher(&mut shared.lock(), true);
    if handle.join().is_err() {
        eprintln!("keyward: audit flusher thread panicked");
    }
}

/// The record that says events were lost, written before the next events that succeed.
fn lost_marker(lost: u64) -> Pending {
    Pending::new(
        SystemTime::now(),
        Event {
            operation: "audit-lost".into(),
            result: "CKR_DEVICE_ERROR".into(),
            detail: format!("records={lost}"),
            ..Event::default()
        },
    )
}
