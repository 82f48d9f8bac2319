//! The audit record types and their canonical encoding (the bytes that are hashed).

use serde::{Deserialize, Serialize};

use super::Text;
use crate::error::{Error, Result};

/// What a caller reports; the sink adds seq, time, host, pid, process.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Event {
    /// Login name ("" when no one is logged in).
    pub user: Text,
    /// "admin", "key-manager", "operator", "auditor", "user", or "".
    pub role: Text,
    /// Token label.
    pub token: Text,
    /// Session handle, 0 when none.
    pub session: u64,
    /// E.g. "login", "sign", "generate-key", "destroy-object", "state-change", "user-add",
    /// "policy-denied".
    pub operation: Text,
    /// Object unique id, "" when none.
    pub object_uid: Text,
    /// Object label, "" when none.
    pub object_label: Text,
    /// Object (key) version, 0 when none.
    pub object_version: u64,
    /// E.g. "CKM_ECDSA_SHA256", "" when none.
    pub mechanism: Text,
    /// CKR name, e.g. "CKR_OK", "CKR_KEY_FUNCTION_NOT_PERMITTED".
    pub result: Text,
    /// Free text, never secrets (e.g. "reason=superseded", "to=suspended").
    pub detail: String,
}

/// One stored record.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct Record {
    /// 1, 2, 3, ... gapless across all processes appending to the same file.
    pub seq: u64,
    /// RFC 3339 UTC with microseconds, e.g. "2026-11-23T12:00:00.123456Z" (when the event was
    /// reported, not when it was committed).
    pub time: String,
    /// From /proc/sys/kernel/hostname ("" when unreadable).
    pub host: String,
    /// Process id of the process that reported the event.
    pub pid: u32,
    /// /proc/self/comm of that process, trimmed.
    pub process: String,
    /// What the caller reported.
    #[serde(flatten)]
    pub event: Event,
}

/// Where records come from: read once when the log is opened.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct Origin {
    pub(super) host: String,
    pub(super) pid: u32,
    pub(super) process: String,
}

impl Origin {
    /// The current host and process (empty strings where /proc cannot be read).
    pub(super) fn current() -> Origin {
        Origin {
            host: read_trimmed("/proc/sys/kernel/hostname"),
            pid: std::process::id(),
            process: read_trimmed("/proc/self/comm"),
        }
    }

    /// The record for `event`, reported at `time`, to be stored at `seq`.
    pub(super) fn stamp(&self, seq: u64, time: String, event: Event) -> Record {
        Record {
            seq,
            time,
            host: self.host.clone(),
            pid: self.pid,
            process: self.process.clone(),
            event,
        }
    }
}

fn read_trimmed(path: &str) -> String {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_owned())
        .unwrap_or_default()
}

/// The canonical body of `record`: compact serde_json in declaration order (seq, time, host,
/// pid, process, then the event's fields). `GeneralError` if it cannot be encoded.
pub(super) fn encode(record: &Record) -> Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|_| Error::GeneralError)
}

/// Pure parser of one stored record body: never panics.
///
/// Accepts only the canonical encoding (re-encoding the parsed record must give back the same
/// bytes), so unknown or duplicated fields, other whitespace or escapes are rejected.
/// Returns `DeviceError` (stored data is corrupt) for anything else.
pub fn parse_record(body: &[u8]) -> Result<Record> {
    let record: Record = serde_json::from_slice(body).map_err(|_| Error::DeviceError)?;
    if encode(&record)? != body {
        return Err(Error::DeviceError);
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Record {
        Origin {
            host: "h".into(),
            pid: 7,
            process: "p".into(),
        }
        .stamp(
            3,
            "2026-11-23T12:00:00.123456Z".into(),
            Event {
                user: "alice".into(),
                operation: "sign".into(),
                session: 9,
                result: "CKR_OK".into(),
                detail: "quote \" and é".into(),
                ..Event::default()
            },
        )
    }

    #[test]
    fn canonical_order_and_round_trip() {
        let r = sample();
        let body = encode(&r).unwrap();
        let text = std::str::from_utf8(&body).unwrap();
        assert!(text.starts_with(
            r#"{"seq":3,"time":"2026-11-23T12:00:00.123456Z","host":"h","pid":7,"process":"p","user":"alice","role":"""#
        ));
        assert!(text.ends_with(r#""result":"CKR_OK","detail":"quote \" and é"}"#));
        assert_eq!(parse_record(&body).unwrap(), r);
    }

    #[test]
    fn rejects_non_canonical_and_garbage() {
        let body = encode(&sample()).unwrap();
        let spaced = String::from_utf8(body.clone())
            .unwrap()
            .replace(",\"", ", \"");
        assert_eq!(parse_record(spaced.as_bytes()), Err(Error::DeviceError));
        let extra = String::from_utf8(body.clone())
            .unwrap()
            .replacen('{', r#"{"x":1,"#, 1);
        assert_eq!(parse_record(extra.as_bytes()), Err(Error::DeviceError));
        let escaped = String::from_utf8(body).unwrap().replace('é', "\\u00e9");
        assert_eq!(parse_record(escaped.as_bytes()), Err(Error::DeviceError));
        for junk in [
            &b""[..],
            b"{",
            b"[]",
            b"null",
            &[0xff, 0xfe],
            b"{\"seq\":-1}",
        ] {
            assert_eq!(parse_record(junk), Err(Error::DeviceError));
        }
    }
}
