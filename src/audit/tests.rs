//! Behaviour of the appender: counts, checkpoints, concurrency (threads and processes),
//! strict mode, fork safety, syslog, export and tail.

use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use zeroize::Zeroizing;

use super::*;
use crate::error::Error;

pub(super) const KEY: [u8; 32] = [0x42; 32];

pub(super) fn key() -> Option<Zeroizing<[u8; 32]>> {
    Some(Zeroizing::new(KEY))
}

pub(super) fn ev(op: &str, i: u64) -> Event {
    Event {
        user: "alice".into(),
        role: "operator".into(),
        token: "tok".into(),
        session: i,
        operation: op.to_owned().into(),
        mechanism: "CKM_ECDSA_SHA256".into(),
        result: "CKR_OK".into(),
        detail: format!("i={i}"),
        ..Event::default()
    }
}

pub(super) fn temp_db() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    (dir, path)
}

fn seqs(records: &[Record]) -> Vec<u64> {
    records.iter().map(|r| r.seq).collect()
}

fn intact(path: &Path) -> VerifyReport {
    let report = verify(path, &KEY, Anchored::NotKept).unwrap();
    assert_eq!(report.first_bad, None, "{report:?}");
    report
}

/// The sequence number the trail's last checkpoint covers, as written so far.
fn checkpointed(path: &Path) -> u64 {
    verify(path, &KEY, Anchored::NotKept)
        .unwrap()
        .last_checkpoint_seq
}

#[test]
fn the_log_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>() {}
    shareable::<AuditLog>();
}

fn append_flush_verify_counts(w: Writer) {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, w).unwrap();
    log.set_key(key());
    for i in 0..500 {
        log.record(ev("sign", i)).unwrap();
    }
    log.flush().unwrap();
    let report = intact(&path);
    assert_eq!(report.records, 500);
    assert!(report.checkpoints >= 1);
    assert_eq!(report.last_checkpoint_seq, 500);
    assert_eq!(report.unauthenticated_tail, 0);
    let all = read_after(&path, 0, usize::MAX).unwrap();
    assert_eq!(seqs(&all), (1..=500).collect::<Vec<_>>());
    assert_eq!(all[7].event, ev("sign", 7));
    assert_eq!(all[0].pid, std::process::id());
    assert!(!all[0].process.is_empty());
    assert_eq!(all[0].time.len(), "2026-11-23T12:00:00.123456Z".len());
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
}

fn without_key_the_tail_is_unauthenticated(w: Writer) {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, w).unwrap();
    for i in 0..20 {
        log.record(ev("sign", i)).unwrap();
    }
    drop(log);
    let report = intact(&path);
    assert_eq!((report.records, report.checkpoints), (20, 0));
    assert_eq!(report.unauthenticated_tail, 20);
}

fn drop_flushes_and_checkpoints(w: Writer) {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, w).unwrap();
    log.set_key(key());
    for i in 0..1000 {
        log.record(ev("sign", i)).unwrap();
    }
    drop(log);
    let report = intact(&path);
    assert_eq!(report.records, 1000);
    assert_eq!(report.last_checkpoint_seq, 1000);
}

fn logout_checkpoints_with_the_departing_key(w: Writer) {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, w).unwrap();
    log.set_key(key());
    for i in 0..3 {
        log.record(ev("sign", i)).unwrap();
    }
    log.set_key(None);
    log.flush().unwrap();
    log.record(ev("logout", 3)).unwrap();
    log.record(ev("login", 4)).unwrap();
    drop(log);
    let report = intact(&path);
    assert_eq!(report.records, 5);
    assert_eq!(report.last_checkpoint_seq, 3);
    assert_eq!(report.unauthenticated_tail, 2);
}

#[test]
fn a_rate_limited_checkpoint_is_written_later() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, true, None, Writer::Thread).unwrap();
    log.set_key(key());
    log.record(ev("login", 0)).unwrap();
    // The first checkpoint is not rate-limited; the next, within 100 ms, is deferred.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while checkpointed(&path) < 1 {
        assert!(std::time::Instant::now() < deadline, "no first checkpoint");
        std::thread::sleep(Duration::from_millis(1));
    }
    log.record(ev("sign", 1)).unwrap();
    // No flush, no further record: the deferred checkpoint comes on its own.
    while checkpointed(&path) < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no deferred checkpoint"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    let report = intact(&path);
    assert_eq!((report.records, report.last_checkpoint_seq), (2, 2));
}

/// Without flush or strict mode, an event still reaches the file on its own: whether the
/// flusher is polling (just after work) or asleep (long idle, so `record` must wake it).
#[test]
fn events_are_committed_without_flush() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, Writer::Thread).unwrap();
    for (i, idle) in [(0u64, 0u64), (1, 0), (2, 300), (3, 5)].into_iter() {
        std::thread::sleep(Duration::from_millis(idle));
        log.record(ev("sign", i)).unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(3);
        while read_after(&path, i, 1).unwrap().is_empty() {
            assert!(
                std::time::Instant::now() < deadline,
                "record {i} never committed"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn a_full_queue_blocks_until_the_flusher_takes_it() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, Writer::Thread).unwrap();
    log.pause(true);
    let done = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            for i in 0..=super::sink::MAX_QUEUE as u64 {
                log.record(ev("sign", i)).unwrap();
            }
            done.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            !done.load(std::sync::atomic::Ordering::SeqCst),
            "did not block"
        );
        log.pause(false);
    });
    log.flush().unwrap();
    assert_eq!(intact(&path).records, super::sink::MAX_QUEUE as u64 + 1);
}

fn empty_and_missing_trails(w: Writer) {
    let (dir, path) = temp_db();
    drop(AuditLog::open(&path, true, None, w).unwrap());
    let report = intact(&path);
    assert_eq!((report.records, report.checkpoints), (0, 0));
    let missing = dir.path().join("missing.db");
    assert_eq!(
        verify(&missing, &KEY, Anchored::NotKept),
        Err(Error::DeviceError)
    );
    assert_eq!(read_after(&missing, 0, 10), Err(Error::DeviceError));
    assert!(!missing.exists());
}

/// Several logs (separate connections, as separate processes would have) on one file.
fn concurrent_logs_keep_one_chain(w: Writer) {
    let (_dir, path) = temp_db();
    let threads: Vec<_> = (0..4u64)
        .map(|t| {
            let path = path.clone();
            std::thread::spawn(move || {
                let log = AuditLog::open(&path, t % 2 == 0, None, w).unwrap();
                if t < 2 {
                    log.set_key(key());
                }
                for i in 0..250 {
                    log.record(ev(&format!("t{t}"), i)).unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let report = intact(&path);
    assert_eq!(report.records, 1000);
    let all = read_after(&path, 0, usize::MAX).unwrap();
    assert_eq!(seqs(&all), (1..=1000).collect::<Vec<_>>());
    for t in 0..4 {
        let mine: Vec<u64> = all
            .iter()
            .filter(|r| r.event.operation == format!("t{t}"))
            .map(|r| r.event.session)
            .collect();
        assert_eq!(mine, (0..250).collect::<Vec<_>>(), "order of t{t}");
    }
}

const CHILD_DB: &str = "KEYWARD_AUDIT_TEST_CHILD_DB";

/// Not a test by itself: the body of each child process of `processes_keep_one_chain`.
#[test]
#[ignore = "run by processes_keep_one_chain in child processes"]
fn child_appender() {
    let Some(path) = std::env::var_os(CHILD_DB) else {
        return;
    };
    let log = AuditLog::open(Path::new(&path), false, None, Writer::Auto).unwrap();
    log.set_key(key());
    for i in 0..200 {
        log.record(ev("child", i)).unwrap();
    }
    log.flush().unwrap();
}

fn processes_keep_one_chain(w: Writer) {
    let (_dir, path) = temp_db();
    let exe = std::env::current_exe().unwrap();
    let children: Vec<_> = (0..3)
        .map(|_| {
            Command::new(&exe)
                .args(["--ignored", "--exact", "audit::tests::child_appender"])
                .args(["--test-threads=1", "--quiet"])
                .env(CHILD_DB, &path)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let log = AuditLog::open(&path, false, None, w).unwrap();
    for i in 0..200 {
        log.record(ev("parent", i)).unwrap();
    }
    drop(log);
    for child in children {
        let out = child.wait_with_output().unwrap();
        let said = String::from_utf8_lossy(&out.stdout) + String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{said}");
        assert!(said.contains("1 passed"), "the child ran no test: {said}");
    }
    let report = intact(&path);
    assert_eq!(report.records, 800);
    let all = read_after(&path, 0, usize::MAX).unwrap();
    let mut pids: Vec<u32> = all.iter().map(|r| r.pid).collect();
    pids.sort_unstable();
    pids.dedup();
    assert_eq!(pids.len(), 4, "records from the parent and three children");
}

/// Make every insert into the trail fail, as a full or read-only disk would (tests run as
/// root, so file modes cannot do it).
fn block_writes(path: &Path, blocked: bool) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let sql = if blocked {
        "CREATE TRIGGER block BEFORE INSERT ON records BEGIN SELECT RAISE(ABORT, 'blocked'); END"
    } else {
        "DROP TRIGGER block"
    };
    conn.execute_batch(sql).unwrap();
}

fn strict_mode_reports_write_failures(w: Writer) {
    let (_dir, path) = temp_db();
    let strict = AuditLog::open(&path, true, None, w).unwrap();
    let lax = AuditLog::open(&path, false, None, w).unwrap();
    strict.record(ev("sign", 0)).unwrap();
    block_writes(&path, true);
    assert_eq!(strict.record(ev("sign", 1)), Err(Error::DeviceError));
    assert_eq!(lax.record(ev("sign", 2)), Ok(()));
    assert_eq!(lax.flush(), Err(Error::DeviceError));
    block_writes(&path, false);
    strict.record(ev("sign", 3)).unwrap();
    lax.record(ev("sign", 4)).unwrap();
    lax.flush().unwrap();
    let all = read_after(&path, 0, usize::MAX).unwrap();
    let ops: Vec<(&str, &str)> = all
        .iter()
        .map(|r| (r.event.operation.as_str(), r.event.detail.as_str()))
        .collect();
    assert_eq!(
        ops,
        [
            ("sign", "i=0"),
            ("audit-lost", "records=1"),
            ("sign", "i=3"),
            ("audit-lost", "records=1"),
            ("sign", "i=4")
        ]
    );
    assert_eq!(intact(&path).records, 5);
}

fn strict_waiters_share_commits(w: Writer) {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, true, None, w).unwrap();
    std::thread::scope(|s| {
        for t in 0..8 {
            let log = &log;
            s.spawn(move || {
                for i in 0..50 {
                    log.record(ev(&format!("t{t}"), i)).unwrap();
                }
            });
        }
    });
    // Every strict record returned only once committed: no flush needed.
    assert_eq!(read_after(&path, 0, usize::MAX).unwrap().len(), 400);
    drop(log);
    assert_eq!(intact(&path).records, 400);
}

fn a_forked_copy_writes_nothing_on_drop(w: Writer) {
    let (_dir, path) = temp_db();
    let mut log = AuditLog::open(&path, false, None, w).unwrap();
    log.pause(true);
    for i in 0..3 {
        log.record(ev("sign", i)).unwrap();
    }
    log.pretend_forked();
    assert_eq!(log.flush(), Err(Error::GeneralError));
    drop(log);
    // Had drop stopped the flusher, it would have written the three queued records.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(read_after(&path, 0, 10).unwrap(), []);

    let strict = AuditLog::open(&path, true, None, w).unwrap();
    let mut copy = AuditLog::open(&path, true, None, w).unwrap();
    copy.pretend_forked();
    assert_eq!(copy.record(ev("sign", 0)), Err(Error::GeneralError));
    strict.record(ev("sign", 1)).unwrap();
    assert_eq!(read_after(&path, 0, 10).unwrap().len(), 1);
}

fn syslog_receives_each_committed_record(w: Writer) {
    let (dir, path) = temp_db();
    let sock_path = dir.path().join("log.sock");
    let sock = UnixDatagram::bind(&sock_path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let log = AuditLog::open(&path, false, Some(SyslogTarget::Socket(sock_path)), w).unwrap();
    log.record(ev("login", 0)).unwrap();
    let mut failed = ev("sign", 1);
    failed.result = "CKR_KEY_FUNCTION_NOT_PERMITTED".into();
    log.record(failed).unwrap();
    log.flush().unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut buf = [0u8; 4096];
    for (seq, pri) in [(1i64, "<86>1 "), (2, "<85>1 ")] {
        let n = sock.recv(&mut buf).unwrap();
        let line = std::str::from_utf8(&buf[..n]).unwrap();
        let (body, hash): (Vec<u8>, Vec<u8>) = conn
            .query_row(
                "SELECT body, hash FROM records WHERE seq = ?1",
                [seq],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        let hex: String = hash.iter().map(|b| format!("{b:02x}")).collect();
        assert!(line.starts_with(pri), "{line}");
        assert!(line.contains(" keyward "), "{line}");
        assert!(
            line.contains(&format!("seq=\"{seq}\" hash=\"{hex}\"]")),
            "{line}"
        );
        assert!(
            line.ends_with(std::str::from_utf8(&body).unwrap()),
            "{line}"
        );
    }
}

/// `t` written with a +02:00 offset: the same instant in another form.
fn plus_two(t: &str) -> String {
    let t = OffsetDateTime::parse(t, &Rfc3339).unwrap();
    let offset = UtcOffset::from_hms(2, 0, 0).unwrap();
    t.to_offset(offset).format(&Rfc3339).unwrap()
}

fn export_filters_by_time(w: Writer) {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, true, None, w).unwrap();
    for i in 0..10 {
        log.record(ev("sign", i)).unwrap();
        std::thread::sleep(Duration::from_millis(3));
    }
    let all = export(&path, None, None).unwrap();
    assert_eq!(seqs(&all), (1..=10).collect::<Vec<_>>());
    let (t3, t7) = (all[3].time.as_str(), all[7].time.as_str());
    assert!(t3 < t7);
    let since = export(&path, Some(t3), None).unwrap();
    assert_eq!(seqs(&since), (4..=10).collect::<Vec<_>>());
    let until = export(&path, None, Some(t7)).unwrap();
    assert_eq!(seqs(&until), (1..=7).collect::<Vec<_>>());
    let both = export(&path, Some(&plus_two(t3)), Some(&plus_two(t7))).unwrap();
    assert_eq!(seqs(&both), (4..=7).collect::<Vec<_>>());
    assert_eq!(export(&path, Some(t7), Some(t3)).unwrap(), []);
    assert_eq!(
        export(&path, Some("last tuesday"), None),
        Err(Error::ArgumentsBad)
    );
}

fn read_after_pages_in_order(w: Writer) {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, w).unwrap();
    for i in 0..10 {
        log.record(ev("sign", i)).unwrap();
    }
    log.flush().unwrap();
    assert_eq!(seqs(&read_after(&path, 3, 4).unwrap()), [4, 5, 6, 7]);
    assert_eq!(seqs(&read_after(&path, 8, 100).unwrap()), [9, 10]);
    assert_eq!(read_after(&path, 10, 100).unwrap(), []);
    assert_eq!(read_after(&path, u64::MAX, 100).unwrap(), []);
    assert_eq!(read_after(&path, 0, 0).unwrap(), []);
}

/// Identical events waiting together become one record that counts them; a different event
/// in between starts a new one; the counts add up to every event reported.
fn coalesced_events_keep_their_count(w: Writer) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.db");
    let log = AuditLog::open(&path, false, None, w)
        .unwrap()
        .coalescing(true);
    let sign = Event {
        user: "op".into(),
        operation: "sign".into(),
        result: "CKR_OK".into(),
        ..Event::default()
    };
    let other = Event {
        operation: "verify".into(),
        ..sign.clone()
    };
    for i in 0..5000 {
        log.record(if i % 1000 == 999 {
            other.clone()
        } else {
            sign.clone()
        })
        .unwrap();
    }
    log.flush().unwrap();
    let records = crate::audit::export(&path, None, None).unwrap();
    let count = |r: &crate::audit::Record| {
        r.event
            .detail
            .split_whitespace()
            .find_map(|w| w.strip_prefix("count="))
            .map_or(1, |n| n.parse::<u64>().unwrap())
    };
    let signs: u64 = records
        .iter()
        .filter(|r| r.event.operation == "sign")
        .map(count)
        .sum();
    let verifies: u64 = records
        .iter()
        .filter(|r| r.event.operation == "verify")
        .map(count)
        .sum();
    assert_eq!((signs, verifies), (4995, 5));
    assert!(records.len() < 5000, "coalesced: {} records", records.len());
    assert!(records
        .iter()
        .any(|r| r.event.detail.contains(" last=") || r.event.detail.starts_with("count=")));
}

/// Each named test, once with a writer thread and once written by its callers.
macro_rules! with_each_writer {
    ($($name:ident),* $(,)?) => {
        mod thread {
            $(#[test] fn $name() { super::$name(super::Writer::Thread) })*
        }
        mod caller {
            $(#[test] fn $name() { super::$name(super::Writer::Caller) })*
        }
    };
}

with_each_writer!(
    append_flush_verify_counts,
    without_key_the_tail_is_unauthenticated,
    drop_flushes_and_checkpoints,
    logout_checkpoints_with_the_departing_key,
    empty_and_missing_trails,
    concurrent_logs_keep_one_chain,
    processes_keep_one_chain,
    strict_mode_reports_write_failures,
    strict_waiters_share_commits,
    a_forked_copy_writes_nothing_on_drop,
    syslog_receives_each_committed_record,
    export_filters_by_time,
    read_after_pages_in_order,
    coalesced_events_keep_their_count,
);

/// Written by its callers, the log starts no thread: an event is written by the call that
/// finds the last write 100 ms old (the first at once), and one that waits is not written
/// until a call comes.
#[test]
fn callers_write_once_the_window_has_passed() {
    let (_dir, path) = temp_db();
    let written = || read_after(&path, 0, usize::MAX).unwrap().len();
    let log = AuditLog::open(&path, false, None, Writer::Caller).unwrap();
    log.record(ev("sign", 0)).unwrap();
    assert_eq!(written(), 1, "the first event is written at once");
    log.record(ev("sign", 1)).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(written(), 1, "written within the window, or by a thread");
    log.record(ev("sign", 2)).unwrap();
    assert_eq!(
        written(),
        3,
        "the window has passed: the call writes the queue"
    );
    log.record(ev("sign", 3)).unwrap();
    drop(log);
    assert_eq!(intact(&path).records, 4);
}

/// Written by its callers, a checkpoint deferred by the rate limit is written by the next
/// call after it is due, and a full queue by the call that fills it.
#[test]
fn callers_write_deferred_checkpoints_and_full_queues() {
    let (_dir, path) = temp_db();
    let log = AuditLog::open(&path, false, None, Writer::Caller).unwrap();
    log.set_key(key());
    log.record(ev("login", 0)).unwrap();
    assert_eq!(checkpointed(&path), 1);
    for i in 1..=super::flusher::BATCH_NOW as u64 {
        log.record(ev("sign", i)).unwrap();
    }
    assert_eq!(
        read_after(&path, 0, usize::MAX).unwrap().len(),
        super::flusher::BATCH_NOW + 1,
        "the queue was not written when it filled"
    );
    std::thread::sleep(Duration::from_millis(150));
    log.record(ev("sign", 0)).unwrap();
    assert_eq!(checkpointed(&path), 2 + super::flusher::BATCH_NOW as u64);
    drop(log);
    assert_eq!(
        intact(&path).last_checkpoint_seq,
        2 + super::flusher::BATCH_NOW as u64
    );
}

/// Written by its callers on `auto`, a log whose windows carry few events hands the trail
/// to a thread of its own (which then writes without any further call); a busy one never.
#[test]
fn sparse_callers_hand_the_trail_to_a_thread() {
    use super::writer::{Resolved, SPARSE_EVENTS, SPARSE_WRITES};
    let adaptive = Resolved::Callers { adaptive: true };
    let (_dir, path) = temp_db();
    let written = || read_after(&path, 0, usize::MAX).unwrap().len();
    let busy = AuditLog::open_resolved(&path, false, None, None, adaptive).unwrap();
    let mut i = 0;
    for _ in 0..SPARSE_WRITES + 1 {
        std::thread::sleep(Duration::from_millis(120));
        for _ in 0..SPARSE_EVENTS {
            busy.record(ev("busy", i)).unwrap();
            i += 1;
        }
    }
    assert!(busy.callers_write(), "a busy log was handed to a thread");
    drop(busy);
    assert_eq!(written() as u64, i);

    let sparse = AuditLog::open_resolved(&path, false, None, None, adaptive).unwrap();
    for j in 0..=SPARSE_WRITES as u64 {
        std::thread::sleep(Duration::from_millis(120));
        sparse.record(ev("sparse", j)).unwrap();
    }
    assert!(
        !sparse.callers_write(),
        "a sparse log stayed with its callers"
    );
    // Within the window: no call will write it, the thread must.
    sparse.record(ev("sparse", 99)).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    while written() as u64 != i + SPARSE_WRITES as u64 + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "the thread wrote nothing"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(sparse);
    assert_eq!(intact(&path).records, i + SPARSE_WRITES as u64 + 2);
}
