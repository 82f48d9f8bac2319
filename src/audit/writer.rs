//! Who writes the trail: a background thread of the log's own, or the threads that record
//! ([`Callers`]), which may hand it to a thread once the process turns out to call rarely.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError};
use std::thread::JoinHandle;

use super::flusher::Flusher;
use super::sink::Shared;

/// Where the audit trail's batches are written (`audit_writer` in keyward.toml).
///
/// A thread writes each batch within 100 ms whatever the application does next, but it
/// makes the application's process multi-threaded, and glibc then takes a lock in every
/// `malloc`, `free` and stdio call the application makes: about 5% of a SoftHSM signature
/// (docs/delegation.md). Written by the callers, no thread is started: a call that finds the
/// last write 100 ms old (or a full queue, a strict record, `flush`, logout, close) writes
/// the batch itself, so while the application keeps calling the trail is as current as
/// with a thread, and what waits after its last call is written at C_Finalize.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Writer {
    /// The callers in a process that has one thread when the log is opened, else `Thread`:
    /// a thread costs a multi-threaded process nothing more. The callers hand the trail to
    /// a thread after ten windows in a row (a second or more) with fewer than 16 events
    /// each: a process that calls that rarely pays for a thread's locks in little work, and
    /// would otherwise pay a commit on nearly every call. Ten, not fewer, so that the slow
    /// start of a busy process (a login, keys generated) does not look rare.
    #[default]
    Auto,
    Thread,
    Caller,
}

impl Writer {
    /// The configuration's name for it.
    pub fn parse(name: &str) -> Option<Writer> {
        match name {
            "auto" => Some(Writer::Auto),
            "thread" => Some(Writer::Thread),
            "caller" => Some(Writer::Caller),
            _ => None,
        }
    }

    /// How this log is written, decided for this process now.
    pub(super) fn resolve(self) -> Resolved {
        self.resolve_for(threads_in_this_process())
    }

    /// How this log is written in a process with `threads` threads (None: unknown).
    fn resolve_for(self, threads: Option<u64>) -> Resolved {
        match self {
            Writer::Auto if threads == Some(1) => Resolved::Callers { adaptive: true },
            Writer::Auto | Writer::Thread => Resolved::Thread,
            Writer::Caller => Resolved::Callers { adaptive: false },
        }
    }
}

/// A [`Writer`] decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Resolved {
    Thread,
    /// `adaptive`: hand the trail to a thread when the process calls rarely.
    Callers {
        adaptive: bool,
    },
}

/// A window's write with fewer events than this is sparse...
pub(super) const SPARSE_EVENTS: u64 = 16;
/// ...and after this many sparse windows in a row the callers hand the trail to a thread.
pub(super) const SPARSE_WRITES: u32 = 10;

/// The callers' writer: the flusher, taken by one recording thread at a time, until it is
/// handed to a thread of its own.
pub(super) struct Callers {
    /// None once a thread has taken it.
    flusher: Arc<Mutex<Option<Flusher>>>,
    adaptive: bool,
    /// Sparse windows in a row (written under the flusher's lock).
    sparse: AtomicU32,
    handed_over: AtomicBool,
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl Callers {
    pub(super) fn new(flusher: Flusher, adaptive: bool) -> Self {
        Self {
            flusher: Arc::new(Mutex::new(Some(flusher))),
            adaptive,
            sparse: AtomicU32::new(0),
            handed_over: AtomicBool::new(false),
            thread: Mutex::new(None),
        }
    }

    /// Whether the callers still write (the trail has not been handed to a thread).
    pub(super) fn writing(&self) -> bool {
        !self.handed_over.load(Ordering::Acquire)
    }

    /// Take and write what is queued now, on this thread. `wait`: wait for a thread writing
    /// already (then write what is left), else leave the work to it. `window`: the write is
    /// due to the window (or a full queue), not to a flush, a strict record or a logout; only
    /// those count towards handing the trail to a thread. Nothing while paused (test hook)
    /// unless stopping, nor once a thread has the flusher.
    pub(super) fn write(&self, shared: &Arc<Shared>, wait: bool, window: bool) {
        let mut slot = match self.flusher.try_lock() {
            Ok(f) => f,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            Err(TryLockError::WouldBlock) if wait => {
                self.flusher.lock().unwrap_or_else(PoisonError::into_inner)
            }
            Err(TryLockError::WouldBlock) => return,
        };
        let Some(flusher) = slot.as_mut().filter(|_| self.writing()) else {
            return;
        };
        let st = shared.lock();
        if st.paused && !st.stop {
            return;
        }
        let events = flusher.serve(shared, st);
        if window && self.adaptive {
            let sparse = if events < SPARSE_EVENTS {
                self.sparse.load(Ordering::Relaxed) + 1
            } else {
                0
            };
            self.sparse.store(sparse, Ordering::Relaxed);
            if sparse >= SPARSE_WRITES {
                self.hand_over(shared, slot);
            }
        }
    }

    /// Start a thread that takes the flusher from its slot and runs it. If the thread
    /// cannot be started the callers simply go on writing. The slot stays locked until the
    /// hand-over is marked, so no other caller writes or hands over in between.
    fn hand_over(&self, shared: &Arc<Shared>, slot: MutexGuard<'_, Option<Flusher>>) {
        let (flusher, shared) = (Arc::clone(&self.flusher), Arc::clone(shared));
        let spawned = std::thread::Builder::new()
            .name("keyward-audit".into())
            .spawn(move || {
                let taken = flusher
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take();
                if let Some(f) = taken {
                    f.run(&shared);
                }
            });
        if let Ok(handle) = spawned {
            *self.thread.lock().unwrap_or_else(PoisonError::into_inner) = Some(handle);
            self.handed_over.store(true, Ordering::Release);
        }
        drop(slot);
    }

    /// At close (the log's `stop` is set): the last write here if the callers still hold
    /// the flusher, else wake the thread and wait for it to finish.
    pub(super) fn close(self, shared: &Arc<Shared>) {
        let slot = Arc::try_unwrap(self.flusher)
            .map(|m| m.into_inner().unwrap_or_else(PoisonError::into_inner))
            .unwrap_or_else(|shared_slot| {
                shared_slot
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .take()
            });
        if let Some(mut f) = slot {
            f.serve(shared, shared.lock());
        }
        let thread = self
            .thread
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = thread {
            super::flusher::join(shared, handle);
        }
    }
}

/// The number of threads in this process (Linux `/proc`); None where it cannot be read.
fn threads_in_this_process() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_is_decided_by_the_threads_of_the_process() {
        // The test harness runs tests on threads of its own.
        assert!(threads_in_this_process().is_some_and(|n| n > 1));
        assert_eq!(Writer::Auto.resolve(), Resolved::Thread);
        assert_eq!(
            Writer::Auto.resolve_for(Some(1)),
            Resolved::Callers { adaptive: true }
        );
        assert_eq!(Writer::Auto.resolve_for(None), Resolved::Thread);
        assert_eq!(
            Writer::Caller.resolve(),
            Resolved::Callers { adaptive: false }
        );
        assert_eq!(Writer::Thread.resolve_for(Some(1)), Resolved::Thread);
        assert_eq!(Writer::parse("caller"), Some(Writer::Caller));
        assert_eq!(Writer::parse("threads"), None);
    }
}
