//! Progress on a terminal: one line on stderr, rewritten in place; nothing when stdout is not
//! a terminal (a run whose table goes to a file or pipe stays quiet).

use std::io::{IsTerminal, Write};

/// Where progress goes, if anywhere.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    enabled: bool,
}

impl Progress {
    /// Shown only when both stdout and stderr are terminals.
    pub(crate) fn on_terminal() -> Self {
        Progress {
            enabled: std::io::stdout().is_terminal() && std::io::stderr().is_terminal(),
        }
    }

    /// Replace the progress line with `msg`.
    pub(crate) fn line(&self, msg: &str) {
        if self.enabled {
            let mut err = std::io::stderr().lock();
            // A failed progress write is not worth stopping a benchmark for.
            let _ = write!(err, "\r\x1b[2K{msg}");
            let _ = err.flush();
        }
    }

    /// Erase the progress line.
    pub(crate) fn clear(&self) {
        self.line("");
    }
}
