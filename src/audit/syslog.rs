//! Forwarding committed records to syslog, off the machine's disk: the copy that local rollback
//! of the database file cannot reach.

use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;

use super::db::Committed;
use super::record::Origin;
use crate::error::{Error, Result};

/// Where to forward each committed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyslogTarget {
    /// A Unix datagram to `/dev/log`: an RFC 5424 line, facility authpriv, tag "keyward".
    Syslog,
    /// The same lines to another datagram socket path (for tests and for collectors).
    Socket(PathBuf),
}

/// `authpriv` (10), shifted into place for the PRI field.
const FACILITY_AUTHPRIV: u8 = 10 << 3;
const SEVERITY_NOTICE: u8 = 5;
const SEVERITY_INFO: u8 = 6;

/// The structured-data id: private enterprise number 32473 is the one RFC 5612 reserves for
/// documentation, used until the project has its own.
const SD_ID: &str = "keyward@32473";

/// Sends lines without blocking: a stalled syslog daemon must not stall the audit trail.
pub(super) struct Forwarder {
    socket: UnixDatagram,
    dest: PathBuf,
    /// Lines dropped since the last one that went through (reported on stderr once per run).
    dropped: u64,
}

impl Forwarder {
    /// An unbound datagram socket for `target`; `CKR_GENERAL_ERROR` if none can be made.
    pub(super) fn new(target: SyslogTarget) -> Result<Self> {
        let dest = match target {
            SyslogTarget::Syslog => PathBuf::from("/dev/log"),
            SyslogTarget::Socket(p) => p,
        };
        let socket = UnixDatagram::unbound().map_err(|_| Error::GeneralError)?;
        socket
            .set_nonblocking(true)
            .map_err(|_| Error::GeneralError)?;
        Ok(Forwarder {
            socket,
            dest,
            dropped: 0,
        })
    }

    /// Send one committed record; a failure is counted and reported, never returned.
    pub(super) fn send(&mut self, origin: &Origin, record: &Committed) {
        let line = line(origin, record);
        match self.socket.send_to(line.as_bytes(), &self.dest) {
            Ok(_) if self.dropped > 0 => {
                eprintln!(
                    "keyward: audit syslog {} reachable again ({} lines dropped)",
                    self.dest.display(),
                    self.dropped
                );
                self.dropped = 0;
            }
            Ok(_) => {}
            Err(e) => {
                if self.dropped == 0 {
                    eprintln!("keyward: audit syslog {}: {e}", self.dest.display());
                }
                self.dropped += 1;
            }
        }
    }
}

/// The RFC 5424 line for a record:
/// `<PRI>1 TIME HOST keyward PID audit [keyward@32473 seq="N" hash="HEX"] BODY`.
/// Severity is info for `CKR_OK` and notice for anything else; BODY is the canonical record,
/// so a collector can recompute the chain hash.
pub(super) fn line(origin: &Origin, record: &Committed) -> String {
    let severity = if record.ok {
        SEVERITY_INFO
    } else {
        SEVERITY_NOTICE
    };
    format!(
        "<{}>1 {} {} keyward {} audit [{SD_ID} seq=\"{}\" hash=\"{}\"] {}",
        FACILITY_AUTHPRIV | severity,
        record.time,
        header_field(&origin.host, 255),
        origin.pid,
        record.seq,
        hex(&record.hash),
        String::from_utf8_lossy(&record.body)
    )
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, "-" if empty.
fn header_field(value: &str, max: usize) -> String {
    let clean: String = value
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if clean.is_empty() {
        "-".to_owned()
    } else {
        clean
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_is_rfc5424_authpriv() {
        let origin = Origin {
            host: "my host\n".into(),
            pid: 42,
            process: "p".into(),
        };
        let rec = Committed {
            seq: 7,
            time: "2026-11-23T12:00:00.123456Z".into(),
            ok: false,
            body: br#"{"seq":7}"#.to_vec(),
            hash: [0xab; 32],
        };
        let l = line(&origin, &rec);
        let want = format!(
            "<85>1 2026-11-23T12:00:00.123456Z myhost keyward 42 audit \
             [keyward@32473 seq=\"7\" hash=\"{}\"] {{\"seq\":7}}",
            "ab".repeat(32)
        );
        assert_eq!(l, want);
        let ok = Committed { ok: true, ..rec };
        assert!(line(&Origin::default(), &ok)
            .starts_with("<86>1 2026-11-23T12:00:00.123456Z - keyward 0 "));
    }
}
