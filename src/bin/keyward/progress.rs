//! A progress bar on stderr for long CLI work (bulk generation, migration, audit
//! verification): `[#####.....] 12/100 what`, redrawn in place at most ten times a second,
//! erased when done. Nothing at all unless stderr is a terminal, so scripts and pipes see
//! only the results.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

const WIDTH: usize = 30;

pub(crate) struct Bar {
    what: String,
    total: usize,
    shown: bool,
    last: Option<Instant>,
}

impl Bar {
    /// A bar for `total` steps of `what`; hidden unless stderr is a terminal.
    pub(crate) fn new(what: &str, total: usize) -> Self {
        Bar {
            what: what.to_owned(),
            total,
            shown: std::io::stderr().is_terminal() && total > 1,
            last: None,
        }
    }

    /// `done` of the steps are finished.
    pub(crate) fn set(&mut self, done: usize) {
        if !self.shown {
            return;
        }
        let now = Instant::now();
        if done < self.total
            && self
                .last
                .is_some_and(|t| now - t < Duration::from_millis(100))
        {
            return;
        }
        self.last = Some(now);
        let filled = WIDTH * done.min(self.total) / self.total.max(1);
        let bar = format!("{}{}", "#".repeat(filled), ".".repeat(WIDTH - filled));
        let mut err = std::io::stderr().lock();
        // Progress is a courtesy: a failed write must not stop the work.
        let _ = write!(err, "\r\x1b[2K[{bar}] {done}/{} {}", self.total, self.what);
        let _ = err.flush();
    }
}

impl Drop for Bar {
    fn drop(&mut self) {
        if self.shown && self.last.is_some() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}
