//! Timing: N threads, each with its own [`Worker`], warm up, start together at a barrier and
//! repeat one step until the measured time is up.

use std::sync::Barrier;
use std::time::{Duration, Instant};

use serde::Serialize;

use super::cpu::CpuSample;
use super::{BenchError, Result};

/// One thread's share of an operation: its own session (or aws-lc key) and buffers.
pub(crate) trait Worker {
    /// Run the operation once.
    fn step(&mut self) -> Result<()>;
    /// Undo what the steps left behind (objects they created); not timed.
    fn finish(self: Box<Self>) -> Result<()> {
        Ok(())
    }
}

/// A worker that is just a closure (nothing to clean up).
pub(crate) struct StepFn<F>(pub(crate) F);

impl<F: FnMut() -> Result<()>> Worker for StepFn<F> {
    fn step(&mut self) -> Result<()> {
        (self.0)()
    }
}

/// Builds thread `i`'s worker (called on that thread, so the worker need not be `Send`).
pub(crate) type Factory<'a> = dyn Fn(usize) -> Result<Box<dyn Worker>> + Sync + 'a;

/// How long to warm up and to measure, on how many threads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Timing {
    /// Measured time per operation.
    pub(crate) seconds: f64,
    /// Untimed run before it (a tenth of `seconds`, between 20 ms and 500 ms).
    pub(crate) warmup: f64,
    /// Worker threads.
    pub(crate) threads: usize,
}

impl Timing {
    /// `seconds` measured after a short warm-up, on `threads` threads.
    pub(crate) fn new(seconds: f64, threads: usize) -> Self {
        Timing {
            seconds,
            warmup: (seconds / 10.0).clamp(0.02, 0.5),
            threads,
        }
    }

    /// The same timing on one thread.
    pub(crate) fn single(self) -> Self {
        Timing { threads: 1, ..self }
    }
}

/// What one operation achieved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Measurement {
    /// Threads that ran it at the same time.
    pub threads: usize,
    /// Operations completed in the measured time, all threads together.
    pub ops: u64,
    /// Measured seconds (mean over threads).
    pub seconds: f64,
    /// Operations per second, all threads together.
    pub ops_per_sec: f64,
    /// Mean time of one operation as one thread sees it: threads / ops_per_sec, in µs.
    pub mean_us: f64,
    /// Cores' worth of CPU other processes used meanwhile (warm-up included), if known.
    pub other_cores: Option<f64>,
}

impl Measurement {
    /// Combine per-thread (operations, seconds) counts.
    pub(crate) fn from_threads(counts: &[(u64, f64)]) -> Self {
        let threads = counts.len();
        let ops = counts.iter().map(|c| c.0).sum();
        let ops_per_sec: f64 = counts
            .iter()
            .map(|&(n, s)| if s > 0.0 { n as f64 / s } else { 0.0 })
            .sum();
        let seconds = counts.iter().map(|c| c.1).sum::<f64>() / threads.max(1) as f64;
        let mean_us = if ops_per_sec > 0.0 {
            threads as f64 * 1e6 / ops_per_sec
        } else {
            f64::INFINITY
        };
        Measurement {
            threads,
            ops,
            seconds,
            ops_per_sec,
            mean_us,
            other_cores: None,
        }
    }
}

/// Run `factory`'s workers on `timing.threads` threads and count their steps.
/// Errors: the first error of any worker (building it, a step, or its clean-up).
pub(crate) fn measure(timing: Timing, factory: &Factory<'_>) -> Result<Measurement> {
    let before = CpuSample::now();
    let barrier = Barrier::new(timing.threads);
    let counts: Vec<Result<(u64, f64)>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..timing.threads)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || one_thread(i, timing, factory, barrier))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(BenchError("a worker thread panicked".into())))
            })
            .collect()
    });
    let counts = counts.into_iter().collect::<Result<Vec<_>>>()?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let other_cores = before
        .zip(CpuSample::now())
        .map(|(a, b)| a.others_until(&b, cores));
    Ok(Measurement {
        other_cores,
        ..Measurement::from_threads(&counts)
    })
}

/// One thread: build, warm up, wait for the others, measure, clean up.
fn one_thread(
    index: usize,
    timing: Timing,
    factory: &Factory<'_>,
    barrier: &Barrier,
) -> Result<(u64, f64)> {
    let ready = factory(index).and_then(|mut w| {
        repeat_for(&mut *w, timing.warmup)?;
        Ok(w)
    });
    // Every thread reaches the barrier, failed or not, so none waits forever.
    barrier.wait();
    let mut worker = ready?;
    let start = Instant::now();
    let counted = repeat_for(&mut *worker, timing.seconds);
    let elapsed = start.elapsed().as_secs_f64();
    let cleaned = worker.finish();
    let ops = counted?;
    cleaned?;
    Ok((ops, elapsed))
}

/// Step until `seconds` have passed (at least once); the number of steps.
fn repeat_for(worker: &mut dyn Worker, seconds: f64) -> Result<u64> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let mut n = 0;
    loop {
        worker.step()?;
        n += 1;
        if Instant::now() >= deadline {
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_add_up_over_threads() {
        let m = Measurement::from_threads(&[(1000, 2.0), (3000, 2.0)]);
        assert_eq!(m.ops, 4000);
        assert!((m.ops_per_sec - 2000.0).abs() < 1e-9);
        // Each thread sees 2 threads / 2000 ops/s = 1 ms per operation.
        assert!((m.mean_us - 1000.0).abs() < 1e-9);
        assert!((m.seconds - 2.0).abs() < 1e-9);
    }

    #[test]
    fn runs_every_thread_and_counts_steps() {
        let factory = |_: usize| -> Result<Box<dyn Worker>> { Ok(Box::new(StepFn(|| Ok(())))) };
        let m = measure(Timing::new(0.05, 2), &factory).unwrap();
        assert_eq!(m.threads, 2);
        assert!(m.ops > 0 && m.ops_per_sec > 0.0);
    }

    #[test]
    fn a_failing_worker_fails_the_measurement_without_hanging() {
        let factory = |i: usize| -> Result<Box<dyn Worker>> {
            if i == 1 {
                return Err(BenchError("no session".into()));
            }
            Ok(Box::new(StepFn(|| Ok(()))))
        };
        let err = measure(Timing::new(0.02, 3), &factory).unwrap_err();
        assert_eq!(err.0, "no session");
    }

    #[test]
    fn warmup_is_a_tenth_within_bounds() {
        assert_eq!(Timing::new(2.0, 1).warmup, 0.2);
        assert_eq!(Timing::new(0.05, 1).warmup, 0.02);
        assert_eq!(Timing::new(60.0, 1).warmup, 0.5);
        assert_eq!(Timing::new(2.0, 4).single().threads, 1);
    }
}
