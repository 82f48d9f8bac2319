//! The results: one [`Row`] per operation with module A, module B and the ceiling, the ratios
//! derived from them, and their rendering as a Markdown table and as JSON.

use std::fmt::Write as _;

use serde::Serialize;

use super::machine::Machine;
use super::ops::{thousands, OpSpec};
use super::runner::Measurement;
use super::{BenchError, Config, Result};

/// What measuring one operation on one module (or the ceiling) gave.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
pub enum Outcome {
    /// It ran: the rate.
    Measured(Measurement),
    /// The module does not offer it (a mechanism missing from its list, or refused).
    Unsupported {
        /// Which mechanism or error.
        reason: String,
    },
    /// It failed while running.
    Failed {
        /// The error.
        error: String,
    },
}

impl Outcome {
    /// [`Outcome::Unsupported`] with `reason`.
    pub fn unsupported(reason: impl Into<String>) -> Self {
        Outcome::Unsupported {
            reason: reason.into(),
        }
    }

    /// [`Outcome::Failed`] with `error`.
    pub fn failed(error: impl Into<String>) -> Self {
        Outcome::Failed {
            error: error.into(),
        }
    }

    /// The measurement, if it ran.
    pub fn measured(&self) -> Option<&Measurement> {
        match self {
            Outcome::Measured(m) => Some(m),
            _ => None,
        }
    }

    /// Operations per second, if it ran.
    pub fn rate(&self) -> Option<f64> {
        self.measured().map(|m| m.ops_per_sec)
    }
}

/// A module as the report names it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ModuleInfo {
    /// The path given on the command line.
    pub path: String,
    /// The label of the token measured.
    pub token: String,
    /// Its slot id.
    pub slot: u64,
    /// `C_GetInfo` library description and version.
    pub library: Option<String>,
    /// `C_GetInfo` manufacturer.
    pub manufacturer: Option<String>,
    /// `bench-*` objects of an earlier run removed before measuring.
    pub leftovers_removed: usize,
}

/// One operation's results.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Operation id (`--only` name).
    pub id: String,
    /// Human title.
    pub title: String,
    /// Module A.
    pub a: Outcome,
    /// Module B, with `--compare`.
    pub b: Option<Outcome>,
    /// The same crypto on aws-lc-rs, where there is such a thing.
    pub ceiling: Option<Outcome>,
    /// A ops/s ÷ B ops/s.
    pub ratio_a_b: Option<f64>,
    /// A ops/s as a percentage of the ceiling's.
    pub a_pct_of_ceiling: Option<f64>,
    /// A's mean µs/op minus the ceiling's: the cost of going through the module.
    pub a_overhead_us: Option<f64>,
}

impl Row {
    /// A row with its derived figures.
    pub fn new(spec: &OpSpec, a: Outcome, b: Option<Outcome>, ceiling: Option<Outcome>) -> Row {
        let rate_b = b.as_ref().and_then(Outcome::rate);
        let ceil = ceiling.as_ref().and_then(Outcome::measured);
        Row {
            id: spec.id.clone(),
            title: spec.title.clone(),
            ratio_a_b: ratio(a.rate(), rate_b),
            a_pct_of_ceiling: ratio(a.rate(), ceil.map(|c| c.ops_per_sec)).map(|r| r * 100.0),
            a_overhead_us: a.measured().zip(ceil).map(|(a, c)| a.mean_us - c.mean_us),
            a,
            b,
            ceiling,
        }
    }
}

/// `a / b` when both ran and `b` is positive.
pub fn ratio(a: Option<f64>, b: Option<f64>) -> Option<f64> {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 && a.is_finite() => Some(a / b),
        _ => None,
    }
}

/// How the run was set up.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Settings {
    /// Measured seconds per operation and module.
    pub seconds: f64,
    /// Threads per operation (the login operation always runs on one).
    pub threads: usize,
    /// `--only` names (empty: all).
    pub only: Vec<String>,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// `keyward bench` and its version.
    pub tool: String,
    /// RFC 3339 start and end times (UTC).
    pub started: String,
    /// See `started`.
    pub finished: String,
    /// Where it ran.
    pub machine: Machine,
    /// /proc/loadavg when the run started and when it finished (other work on the machine
    /// skews the numbers).
    pub loadavg_start: String,
    /// See `loadavg_start`.
    pub loadavg_end: String,
    /// How.
    pub settings: Settings,
    /// Module A.
    pub module_a: Option<ModuleInfo>,
    /// Module B (`--compare`).
    pub module_b: Option<ModuleInfo>,
    /// One per operation, in run order.
    pub rows: Vec<Row>,
}

impl Report {
    /// An empty report for `config`, started now.
    pub fn new(config: &Config, machine: Machine) -> Report {
        Report {
            tool: format!("keyward bench {}", env!("CARGO_PKG_VERSION")),
            started: now(),
            finished: String::new(),
            loadavg_start: Machine::loadavg(),
            loadavg_end: String::new(),
            machine,
            settings: Settings {
                seconds: config.seconds,
                threads: config.threads,
                only: config.only.clone(),
            },
            module_a: None,
            module_b: None,
            rows: Vec::new(),
        }
    }

    /// Stamp the end time.
    pub fn finish(&mut self) {
        self.finished = now();
        self.loadavg_end = Machine::loadavg();
    }
}

/// `0.52 0.61 0.70` from a /proc/loadavg line.
fn first_three(loadavg: &str) -> String {
    loadavg
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// UTC now, RFC 3339 to the second.
fn now() -> String {
    let t = time::OffsetDateTime::now_utc();
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// The report as pretty JSON.
pub fn json(report: &Report) -> Result<String> {
    serde_json::to_string_pretty(report).map_err(|e| BenchError(e.to_string()))
}

/// ops/s: `1,234` from 100 up, `12.3` below.
pub fn fmt_rate(rate: f64) -> String {
    if rate >= 100.0 {
        thousands(rate.round() as u64)
    } else {
        format!("{rate:.1}")
    }
}

/// µs: two decimals below 10, one below 1,000, whole numbers above.
pub fn fmt_us(us: f64) -> String {
    match us.abs() {
        a if a < 10.0 => format!("{us:.2}"),
        a if a < 1000.0 => format!("{us:.1}"),
        _ if us < 0.0 => format!("-{}", thousands(us.abs().round() as u64)),
        _ => thousands(us.round() as u64),
    }
}

/// A table cell for an outcome.
fn cell(o: Option<&Outcome>) -> String {
    match o {
        None => "–".into(),
        Some(Outcome::Measured(m)) => fmt_rate(m.ops_per_sec),
        Some(Outcome::Unsupported { .. }) => "unsupported".into(),
        Some(Outcome::Failed { .. }) => "FAILED".into(),
    }
}

/// The report as a Markdown table (aligned, so it reads on a terminal too), preceded by what
/// A and B are, followed by every failure in full.
pub fn table(report: &Report) -> String {
    let mut out = String::new();
    for (name, m) in [("A", &report.module_a), ("B", &report.module_b)] {
        if let Some(m) = m {
            let lib = m.library.as_deref().unwrap_or("?");
            let _ = writeln!(out, "{name}: {} ({lib}), token {:?}", m.path, m.token);
        }
    }
    let _ = writeln!(
        out,
        "{} s per operation, {} thread(s); ceiling: aws-lc-rs without PKCS#11; {}, {} cores; \
         load average {} at start, {} at end\n",
        report.settings.seconds,
        report.settings.threads,
        report.machine.cpu_model,
        report.machine.cores,
        first_three(&report.loadavg_start),
        first_three(&report.loadavg_end),
    );
    let header = [
        "operation",
        "A ops/s",
        "B ops/s",
        "A/B",
        "ceiling ops/s",
        "A % of ceiling",
        "A µs/op",
        "A − ceiling µs",
    ];
    let threads = report.settings.threads;
    let rows: Vec<[String; 8]> = report.rows.iter().map(|r| table_row(r, threads)).collect();
    let mut widths = header.map(|h| h.chars().count());
    for r in &rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let line = |cells: &[String]| {
        let mut s = String::from("|");
        for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w - c.chars().count());
            let _ = if i == 0 {
                write!(s, " {c}{pad} |")
            } else {
                write!(s, " {pad}{c} |")
            };
        }
        s + "\n"
    };
    out += &line(&header.map(String::from));
    let rule: Vec<String> = widths
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 {
                "-".repeat(*w)
            } else {
                format!("{}:", "-".repeat(w - 1))
            }
        })
        .collect();
    out += &line(&rule);
    for r in &rows {
        out += &line(r);
    }
    out + &problems(report)
}

/// One row's cells; a title says so when the operation ran on fewer threads than asked.
fn table_row(r: &Row, threads: usize) -> [String; 8] {
    let opt = |v: Option<f64>, f: fn(f64) -> String| v.map_or_else(|| "–".into(), f);
    let title = match r.a.measured() {
        Some(m) if m.threads != threads => format!("{} ({} thread)", r.title, m.threads),
        _ => r.title.clone(),
    };
    [
        title,
        cell(Some(&r.a)),
        cell(r.b.as_ref()),
        opt(r.ratio_a_b, |x| format!("{x:.2}×")),
        cell(r.ceiling.as_ref()),
        opt(r.a_pct_of_ceiling, |x| format!("{x:.0}%")),
        opt(r.a.measured().map(|m| m.mean_us), fmt_us),
        opt(r.a_overhead_us, fmt_us),
    ]
}

/// Other processes' CPU use (in cores) during a measurement above which the table notes it.
pub const BUSY_NOTE: f64 = 0.25;

/// Every unsupported or failed outcome, and every measurement other processes disturbed, one
/// line each.
fn problems(report: &Report) -> String {
    let mut out = String::new();
    for r in &report.rows {
        let all = [
            ("A", Some(&r.a)),
            ("B", r.b.as_ref()),
            ("ceiling", r.ceiling.as_ref()),
        ];
        for (who, o) in all {
            match o {
                Some(Outcome::Unsupported { reason }) => {
                    let _ = writeln!(out, "{} on {who}: unsupported: {reason}", r.id);
                }
                Some(Outcome::Failed { error }) => {
                    let _ = writeln!(out, "{} on {who}: FAILED: {error}", r.id);
                }
                Some(Outcome::Measured(Measurement {
                    other_cores: Some(busy),
                    ..
                })) if *busy > BUSY_NOTE => {
                    let _ = writeln!(
                        out,
                        "{} on {who}: other processes used {busy:.2} cores meanwhile",
                        r.id
                    );
                }
                _ => {}
            }
        }
    }
    if out.is_empty() {
        out
    } else {
        format!("\n{out}")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::ops::catalogue;

    /// A measurement of `rate` ops/s on one thread.
    pub(crate) fn at(rate: f64) -> Outcome {
        Outcome::Measured(Measurement::from_threads(&[((rate * 2.0) as u64, 2.0)]))
    }

    /// A report of the first operations of the catalogue with the given outcomes.
    pub(crate) fn sample(rows: Vec<(Outcome, Option<Outcome>, Option<Outcome>)>) -> Report {
        let config = Config {
            module: "a.so".into(),
            compare: Some("b.so".into()),
            token: None,
            compare_token: None,
            pin_file: None,
            threads: 1,
            seconds: 2.0,
            json: None,
            plot: None,
            only: Vec::new(),
        };
        let mut report = Report::new(&config, Machine::probe());
        let specs = catalogue();
        report.rows = rows
            .into_iter()
            .zip(&specs)
            .map(|((a, b, c), spec)| Row::new(spec, a, b, c))
            .collect();
        report
    }

    #[test]
    fn ratios_percentages_and_overhead() {
        let r = &sample(vec![(at(4000.0), Some(at(1000.0)), Some(at(5000.0)))]).rows[0];
        assert_eq!(r.ratio_a_b, Some(4.0));
        assert!((r.a_pct_of_ceiling.unwrap() - 80.0).abs() < 1e-9);
        // 250 µs/op against 200 µs/op.
        assert!((r.a_overhead_us.unwrap() - 50.0).abs() < 1e-9);
    }

    #[test]
    fn no_ratio_without_both_rates() {
        let r = &sample(vec![(
            at(10.0),
            Some(Outcome::unsupported("CKM_EDDSA")),
            None,
        )])
        .rows[0];
        assert_eq!(r.ratio_a_b, None);
        assert_eq!(r.a_pct_of_ceiling, None);
        assert_eq!(ratio(Some(1.0), Some(0.0)), None);
        assert_eq!(ratio(None, Some(1.0)), None);
    }

    #[test]
    fn numbers_format_for_people() {
        assert_eq!(fmt_rate(1234.4), "1,234");
        assert_eq!(fmt_rate(12.34), "12.3");
        assert_eq!(fmt_us(0.456), "0.46");
        assert_eq!(fmt_us(-0.456), "-0.46");
        assert_eq!(fmt_us(123.45), "123.5");
        assert_eq!(fmt_us(12_345.0), "12,345");
        assert_eq!(fmt_us(-12_345.0), "-12,345");
    }

    pub(crate) fn module(path: &str) -> ModuleInfo {
        ModuleInfo {
            path: path.into(),
            token: "bench".into(),
            slot: 0,
            library: Some("Test module 1.0".into()),
            manufacturer: None,
            leftovers_removed: 0,
        }
    }

    #[test]
    fn table_is_aligned_markdown_and_lists_problems() {
        let mut report = sample(vec![
            (at(4000.0), Some(at(1000.0)), Some(at(5000.0))),
            (
                at(500.0),
                Some(Outcome::failed("Sign: CKR_GENERAL_ERROR")),
                None,
            ),
        ]);
        report.module_a = Some(module("a.so"));
        let text = table(&report);
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with('|')).collect();
        assert_eq!(lines.len(), 4, "{text}");
        let width = lines[0].chars().count();
        assert!(lines.iter().all(|l| l.chars().count() == width), "{text}");
        assert!(lines[1].contains("---:"));
        assert!(
            lines[2].contains("4,000") && lines[2].contains("4.00×") && lines[2].contains("80%")
        );
        assert!(lines[3].contains("FAILED"));
        assert!(text.contains("on B: FAILED: Sign: CKR_GENERAL_ERROR"));
        assert!(
            text.starts_with("A: a.so (Test module 1.0), token \"bench\""),
            "{text}"
        );
    }

    #[test]
    fn a_disturbed_measurement_is_noted() {
        let busy = |cores| match at(100.0) {
            Outcome::Measured(m) => Outcome::Measured(Measurement {
                other_cores: Some(cores),
                ..m
            }),
            other => other,
        };
        let report = sample(vec![(busy(0.9), Some(busy(0.1)), None)]);
        let text = table(&report);
        assert!(
            text.contains("on A: other processes used 0.90 cores"),
            "{text}"
        );
        assert!(!text.contains("on B: other"), "{text}");
    }

    #[test]
    fn a_row_run_on_fewer_threads_says_so() {
        let mut report = sample(vec![(at(30.0), None, None)]);
        report.settings.threads = 2;
        assert!(table(&report).contains("(1 thread)"));
        report.settings.threads = 1;
        assert!(!table(&report).contains("(1 thread)"));
    }

    #[test]
    fn json_carries_machine_modules_and_statuses() {
        let mut report = sample(vec![(
            at(100.0),
            Some(Outcome::unsupported("CKM_EDDSA")),
            None,
        )]);
        report.module_a = Some(module("/x/libkeyward.so"));
        let v: serde_json::Value = serde_json::from_str(&json(&report).unwrap()).unwrap();
        assert_eq!(v["module_a"]["path"], "/x/libkeyward.so");
        assert!(v["machine"]["cores"].as_u64().unwrap() >= 1);
        assert!(v["machine"]["cpu_model"].is_string());
        let row = &v["rows"][0];
        assert_eq!(row["a"]["status"], "measured");
        assert_eq!(row["a"]["ops_per_sec"], 100.0);
        assert_eq!(row["b"]["status"], "unsupported");
        assert_eq!(row["b"]["reason"], "CKM_EDDSA");
        assert!(row["ratio_a_b"].is_null());
    }
}
