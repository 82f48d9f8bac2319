//! `keyward bench`: operations per second of any PKCS#11 module, optionally side by side with a
//! second module, against a ceiling of the same crypto straight on aws-lc-rs (issue 8).
//!
//! The caller sets each token up; the bench logs in as the user, creates its own keys (token
//! objects labelled `bench-*`, destroyed at the end, and session keys) and measures every
//! selected operation for [`Config::seconds`] after a short warm-up. With a second module it
//! alternates per operation (A, then B, then the ceiling), so drift during the run affects
//! both. Results go to stdout as a table, and optionally to JSON and an SVG chart.
//!
//! Layout: [`ops`] names the operations, `keys` and `population` set the tokens up, `work`
//! runs one operation on a session, `ceiling` runs it on aws-lc-rs, `runner` times either,
//! `report` and `plot` format the results.

mod ceiling;
mod cpu;
mod keys;
mod machine;
mod module;
pub mod ops;
mod plot;
mod population;
mod progress;
pub mod report;
mod runner;
mod work;

pub use machine::Machine;
pub use runner::Measurement;

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;

use module::Module;
use ops::OpSpec;
use progress::Progress;
use report::{Outcome, Report, Row};
use runner::Timing;

/// What to measure and where to write it (the `keyward bench` options).
#[derive(Debug, Clone)]
pub struct Config {
    /// Module A: the module under test.
    pub module: PathBuf,
    /// Module B, measured alternately with A.
    pub compare: Option<PathBuf>,
    /// Token label in module A (default: the first slot with an initialised token).
    pub token: Option<String>,
    /// Token label in module B (default: the first slot with an initialised token).
    pub compare_token: Option<String>,
    /// File holding the user PIN (else `KEYWARD_BENCH_PIN`, else `KEYWARD_PIN`).
    pub pin_file: Option<PathBuf>,
    /// Threads per operation, each with its own session, sharing the same keys.
    pub threads: usize,
    /// Seconds measured per operation and module (after a warm-up of a tenth of that).
    pub seconds: f64,
    /// Write the results as JSON here.
    pub json: Option<PathBuf>,
    /// Write an SVG bar chart here.
    pub plot: Option<PathBuf>,
    /// Operation ids or id prefixes to run (empty: all).
    pub only: Vec<String>,
}

/// Why the bench could not run or finish (a module that fails one operation does not stop the
/// run: that operation is reported as failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BenchError(pub String);

impl fmt::Display for BenchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BenchError {}

impl From<cryptoki::error::Error> for BenchError {
    fn from(e: cryptoki::error::Error) -> Self {
        BenchError(module::short(&e))
    }
}

impl From<std::io::Error> for BenchError {
    fn from(e: std::io::Error) -> Self {
        BenchError(e.to_string())
    }
}

/// Shorthand for bench results.
pub type Result<T> = std::result::Result<T, BenchError>;

/// Run the benchmark: print the table to stdout, write `--json` and `--plot` if asked, and
/// return the report. Errors: a module that cannot be loaded or logged into, an unknown
/// `--only` name, an output file that cannot be written.
pub fn run(config: &Config) -> Result<Report> {
    let specs = ops::select(&ops::catalogue(), &config.only)?;
    if config.threads == 0 || !config.seconds.is_finite() || config.seconds <= 0.0 {
        return Err(BenchError(
            "--threads and --seconds must be positive".into(),
        ));
    }
    let pin = module::read_pin(config.pin_file.as_deref())?;
    let progress = Progress::on_terminal();
    let timing = Timing::new(config.seconds, config.threads);
    let mut a = Module::open(&config.module, config.token.as_deref(), &pin, &progress)?;
    let mut b = match &config.compare {
        Some(path) => Some(Module::open(
            path,
            config.compare_token.as_deref(),
            &pin,
            &progress,
        )?),
        None => None,
    };
    let mut report = Report::new(config, machine::Machine::probe());
    report.module_a = Some(a.describe());
    report.module_b = b.as_ref().map(Module::describe);
    report.rows = measure_all(&specs, &mut a, b.as_mut(), timing, &progress);
    report.finish();
    progress.clear();
    print!("{}", report::table(&report));
    let written = write_outputs(config, &report);
    a.close(&progress);
    if let Some(b) = b {
        b.close(&progress);
    }
    progress.clear();
    written.map(|()| report)
}

/// Measure each operation on A, then B, then (once per distinct crypto operation) the ceiling.
fn measure_all(
    specs: &[OpSpec],
    a: &mut Module,
    mut b: Option<&mut Module>,
    timing: Timing,
    progress: &Progress,
) -> Vec<Row> {
    let mut ceilings: HashMap<ceiling::Ceiling, Outcome> = HashMap::new();
    let mut rows = Vec::with_capacity(specs.len());
    for (i, spec) in specs.iter().enumerate() {
        let step = format!("[{}/{}] {}", i + 1, specs.len(), spec.id);
        progress.line(&format!("{step}: module A"));
        let out_a = a.measure(spec, timing, progress);
        let out_b = b.as_deref_mut().map(|m| {
            progress.line(&format!("{step}: module B"));
            m.measure(spec, timing, progress)
        });
        let out_c = ceiling::Ceiling::of(&spec.action).map(|c| {
            ceilings
                .entry(c)
                .or_insert_with(|| {
                    progress.line(&format!("{step}: ceiling (aws-lc-rs)"));
                    c.measure(timing)
                })
                .clone()
        });
        rows.push(Row::new(spec, out_a, out_b, out_c));
    }
    rows
}

/// Write the JSON and SVG files the configuration asks for.
fn write_outputs(config: &Config, report: &Report) -> Result<()> {
    if let Some(path) = &config.json {
        std::fs::write(path, report::json(report)?)
            .map_err(|e| BenchError(format!("{}: {e}", path.display())))?;
    }
    if let Some(path) = &config.plot {
        std::fs::write(path, plot::svg(report))
            .map_err(|e| BenchError(format!("{}: {e}", path.display())))?;
    }
    Ok(())
}
