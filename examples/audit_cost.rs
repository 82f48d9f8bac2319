//! What `AuditLog::record` costs on the caller's thread, and what the flusher sustains.
//! Not a benchmark suite: one process, a temporary file, figures printed.
//! Usage: cargo run --release --example audit_cost [records, default 1000000]

use std::time::{Duration, Instant};

use keyward::audit::{verify, Anchored, AuditLog, Event, Writer};
use zeroize::Zeroizing;

/// Events are built (and their strings allocated) outside the timed region, this many at a time.
const CHUNK: usize = 1000;

fn event() -> Event {
    Event {
        user: "alice".into(),
        role: "operator".into(),
        token: "payments".into(),
        session: 7,
        operation: "sign".into(),
        object_uid: "3f1c9a6e0b7d4c2a8e5f1b0d9c7a6e4f".into(),
        object_label: "tls-server".into(),
        object_version: 2,
        mechanism: "CKM_ECDSA_SHA256".into(),
        result: "CKR_OK".into(),
        detail: String::new(),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let total: usize = std::env::args()
        .nth(1)
        .map(|n| n.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("audit.db");
    let log = AuditLog::open(&path, false, None, Writer::Thread).map_err(|e| format!("{e}"))?;
    log.set_key(Some(Zeroizing::new([7; 32])));

    let template = event();
    let (mut timed, mut worst_chunk, mut slow_chunks) = (Duration::ZERO, Duration::ZERO, 0);
    let mut first_60k = None;
    let wall = Instant::now();
    let mut done = 0;
    while done < total {
        let n = CHUNK.min(total - done);
        let events: Vec<Event> = (0..n).map(|_| template.clone()).collect();
        let start = Instant::now();
        for e in events {
            log.record(e).map_err(|e| format!("{e}"))?;
        }
        let took = start.elapsed();
        timed += took;
        worst_chunk = worst_chunk.max(took);
        if took > Duration::from_micros(n as u64) {
            slow_chunks += 1;
        }
        done += n;
        if done >= 60_000 && first_60k.is_none() {
            first_60k = Some(timed.as_nanos() as f64 / done as f64);
        }
    }
    let queued = wall.elapsed();
    log.flush().map_err(|e| format!("{e}"))?;
    let committed = wall.elapsed();

    let per = timed.as_nanos() as f64 / total as f64;
    println!("record() on the caller thread, {total} records (non-strict):");
    println!("  mean              {per:.0} ns/record");
    if let Some(f) = first_60k {
        println!("  first 60,000      {f:.0} ns/record (below the 65,536-event queue bound)");
    }
    println!(
        "  worst chunk of {CHUNK}: {:.0} ns/record; chunks over 1 us/record: {slow_chunks} of {}",
        worst_chunk.as_nanos() as f64 / CHUNK as f64,
        total.div_ceil(CHUNK)
    );
    println!(
        "all queued in {queued:.2?}, all committed in {committed:.2?} ({:.0} records/s sustained)",
        total as f64 / committed.as_secs_f64()
    );

    paced_cost(&log, 100_000, Duration::from_micros(20))?;
    strict_cost(&path, 1, 500)?;
    strict_cost(&path, 8, 500)?;

    drop(log);
    let start = Instant::now();
    let report = verify(&path, &[7; 32], Anchored::NotKept).map_err(|e| format!("{e}"))?;
    println!(
        "verify: {} records, {} checkpoints, first_bad {:?}, in {:.2?}",
        report.records,
        report.checkpoints,
        report.first_bad,
        start.elapsed()
    );
    Ok(())
}

/// Strict mode: each `record` waits for its commit; concurrent callers share transactions.
fn strict_cost(
    path: &std::path::Path,
    threads: usize,
    each: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    let log = AuditLog::open(path, true, None, Writer::Thread).map_err(|e| format!("{e}"))?;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..each {
                    let _ = log.record(event());
                }
            });
        }
    });
    let took = start.elapsed();
    println!(
        "strict, {threads} thread(s) x {each}: {:.0} us per record() call, {:.0} records/s",
        took.as_micros() as f64 * threads as f64 / (threads * each) as f64,
        (threads * each) as f64 / took.as_secs_f64()
    );
    Ok(())
}

/// One `record` per `gap` (about one ECDSA P-256 signature), each call timed on its own
/// (the figures include about 20 ns of `Instant` overhead): the flusher keeps up here.
fn paced_cost(log: &AuditLog, n: usize, gap: Duration) -> Result<(), Box<dyn std::error::Error>> {
    let template = event();
    let mut calls = Vec::with_capacity(n);
    let mut next = Instant::now();
    for _ in 0..n {
        let e = template.clone();
        next += gap;
        while Instant::now() < next {
            std::hint::spin_loop();
        }
        let start = Instant::now();
        log.record(e).map_err(|e| format!("{e}"))?;
        calls.push(start.elapsed());
    }
    log.flush().map_err(|e| format!("{e}"))?;
    calls.sort_unstable();
    let pct = |p: usize| calls[(calls.len() * p / 100).min(calls.len() - 1)].as_nanos();
    let mean = calls.iter().sum::<Duration>().as_nanos() / n as u128;
    println!(
        "paced, one record() per {gap:?}, {n} calls: mean {mean} ns, p50 {} ns, p99 {} ns, \
         p99.9 {} ns, max {} ns",
        pct(50),
        pct(99),
        calls[n * 999 / 1000].as_nanos(),
        pct(100)
    );
    Ok(())
}
