//! fork() safety for the flusher thread. A child process gets copies of every lock the
//! parent held at the moment of fork() — including SQLite's internal mutexes if the flusher
//! was inside SQLite then — and the child's first SQLite call would wait on them forever.
//! The module registers [`before_fork`] and [`after_fork`] with `pthread_atfork`: fork()
//! then waits until no flusher is inside SQLite, and no flusher enters while it forks.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

static FORKING: AtomicBool = AtomicBool::new(false);
static INSIDE: AtomicUsize = AtomicUsize::new(0);

/// Held by a flusher while it is inside SQLite.
pub(super) struct Inside(());

impl Drop for Inside {
    fn drop(&mut self) {
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Wait until no fork is under way, then mark this thread as inside SQLite.
pub(super) fn enter() -> Inside {
    loop {
        while FORKING.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_micros(50));
        }
        INSIDE.fetch_add(1, Ordering::SeqCst);
        if !FORKING.load(Ordering::SeqCst) {
            return Inside(());
        }
        INSIDE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// pthread_atfork "prepare": stop flushers entering SQLite and wait for those inside.
pub fn before_fork() {
    FORKING.store(true, Ordering::SeqCst);
    while INSIDE.load(Ordering::SeqCst) != 0 {
        std::thread::yield_now();
    }
}

/// pthread_atfork "parent" and "child": let flushers run again.
pub fn after_fork() {
    FORKING.store(false, Ordering::SeqCst);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fork_waits_for_the_flusher_and_holds_it_back() {
        let inside = enter();
        let forker = std::thread::spawn(|| {
            before_fork();
            let blocked = INSIDE.load(Ordering::SeqCst);
            after_fork();
            blocked
        });
        std::thread::sleep(Duration::from_millis(20));
        assert!(
            !forker.is_finished(),
            "fork must wait while a flusher is inside"
        );
        drop(inside);
        assert_eq!(forker.join().unwrap(), 0);
        drop(enter()); // and flushers run again afterwards
    }
}
