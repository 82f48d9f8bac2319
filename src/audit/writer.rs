//! Who writes the trail: a background thread of the log's own, or the threads that record.

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
    /// `Caller` in a process that has one thread when the log is opened, else `Thread`: a
    /// thread costs a multi-threaded process nothing more.
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

    /// `Auto` decided for this process now; `Thread` and `Caller` as they are.
    pub(super) fn resolve(self) -> Writer {
        match self {
            Writer::Auto if threads_in_this_process() == Some(1) => Writer::Caller,
            Writer::Auto => Writer::Thread,
            chosen => chosen,
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
        assert_eq!(Writer::Auto.resolve(), Writer::Thread);
        assert_eq!(Writer::Caller.resolve(), Writer::Caller);
        assert_eq!(Writer::parse("caller"), Some(Writer::Caller));
        assert_eq!(Writer::parse("threads"), None);
    }
}
