//! The SVG chart: per operation a horizontal bar for module A and one for module B on a log
//! scale of operations per second, a tick for the ceiling, and the A/B ratio at the right.
//! Hand-written SVG, no dependencies.

use std::fmt::Write as _;

use super::report::{fmt_rate, Outcome, Report, Row};

const WIDTH: f64 = 1090.0;
const LABEL_RIGHT: f64 = 380.0;
const PLOT_LEFT: f64 = 390.0;
const PLOT_RIGHT: f64 = 990.0;
const TOP: f64 = 86.0;
const BAR: f64 = 11.0;
const GAP: f64 = 9.0;
const COLOR_A: &str = "#1f6feb";
const COLOR_B: &str = "#e8710a";

/// `&`, `<`, `>` and `"` escaped for XML text and attributes.
pub(crate) fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A log-10 axis from `lo` to `hi` ops/s mapped onto the plot area.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Axis {
    lo: f64,
    hi: f64,
}

impl Axis {
    /// Whole decades around every rate in the report.
    fn fit(report: &Report) -> Axis {
        let rates = report.rows.iter().flat_map(|r| {
            [Some(&r.a), r.b.as_ref(), r.ceiling.as_ref()]
                .into_iter()
                .flatten()
                .filter_map(Outcome::rate)
        });
        let (min, max) = rates
            .filter(|r| *r > 0.0)
            .fold((f64::MAX, f64::MIN), |(lo, hi), r| (lo.min(r), hi.max(r)));
        if min > max {
            return Axis { lo: 1.0, hi: 10.0 };
        }
        let lo = 10f64.powf(min.log10().floor());
        let hi = 10f64.powf(max.log10().ceil()).max(lo * 10.0);
        Axis { lo, hi }
    }

    /// The x coordinate of `rate`.
    fn x(&self, rate: f64) -> f64 {
        let t = (rate.max(self.lo).log10() - self.lo.log10()) / (self.hi.log10() - self.lo.log10());
        PLOT_LEFT + t * (PLOT_RIGHT - PLOT_LEFT)
    }
}

/// `100`, `10k`, `1M`.
fn decade(v: f64) -> String {
    match v {
        v if v >= 1e6 => format!("{}M", v / 1e6),
        v if v >= 1e3 => format!("{}k", v / 1e3),
        v => format!("{v}"),
    }
}

/// The file name of a module path.
fn short_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The chart of `report`.
pub(crate) fn svg(report: &Report) -> String {
    let axis = Axis::fit(report);
    let compare = report.module_b.is_some();
    let bars = if compare { 2.0 } else { 1.0 };
    let pitch = bars * BAR + GAP;
    let height = TOP + pitch * report.rows.len() as f64 + 40.0;
    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="11">"#
    );
    let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
    header(&mut s, report);
    grid(&mut s, axis, height);
    for (i, row) in report.rows.iter().enumerate() {
        bars_for(&mut s, row, axis, TOP + pitch * i as f64, compare);
    }
    s + "</svg>\n"
}

/// Title, machine and legend.
fn header(s: &mut String, report: &Report) {
    let m = &report.machine;
    let _ = writeln!(
        s,
        r#"<text x="10" y="20" font-size="15" font-weight="bold">keyward bench: operations per second (log scale), {} thread(s), {} s each</text>"#,
        report.settings.threads, report.settings.seconds
    );
    let _ = writeln!(
        s,
        r##"<text x="10" y="38" fill="#555">{} ({} cores), {}</text>"##,
        escape(&m.cpu_model),
        m.cores,
        escape(&report.started)
    );
    let mut x = 10.0;
    let modules = [
        (&report.module_a, COLOR_A, "A"),
        (&report.module_b, COLOR_B, "B"),
    ];
    for (module, color, name) in modules {
        if let Some(module) = module {
            let text = format!("{name}: {}", short_name(&module.path));
            let _ = writeln!(
                s,
                r#"<rect x="{x}" y="48" width="12" height="12" fill="{color}"/><text x="{}" y="58">{}</text>"#,
                x + 16.0,
                escape(&text)
            );
            x += 30.0 + 7.0 * text.len() as f64;
        }
    }
    let _ = writeln!(
        s,
        r#"<line x1="{x}" y1="46" x2="{x}" y2="62" stroke="black" stroke-width="2"/><text x="{}" y="58">ceiling: aws-lc-rs, no PKCS#11</text>"#,
        x + 6.0
    );
    if report.module_b.is_some() {
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="end" font-weight="bold">A/B</text>"#,
            WIDTH - 10.0,
            TOP - 8.0
        );
    }
}

/// Decade grid lines and their labels.
fn grid(s: &mut String, axis: Axis, height: f64) {
    let mut v = axis.lo;
    while v <= axis.hi * 1.0001 {
        let x = axis.x(v);
        let _ = writeln!(
            s,
            r##"<line x1="{x:.1}" y1="{}" x2="{x:.1}" y2="{}" stroke="#ddd"/><text x="{x:.1}" y="{}" text-anchor="middle" fill="#555">{}</text>"##,
            TOP - 4.0,
            height - 30.0,
            height - 16.0,
            decade(v)
        );
        v *= 10.0;
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">operations per second</text>"##,
        (PLOT_LEFT + PLOT_RIGHT) / 2.0,
        height - 3.0
    );
}

/// One operation: its title, its bars (or why there is none), the ceiling and the ratio.
fn bars_for(s: &mut String, row: &Row, axis: Axis, y: f64, compare: bool) {
    let block = if compare { 2.0 * BAR } else { BAR };
    let _ = writeln!(
        s,
        r#"<text x="{LABEL_RIGHT}" y="{:.1}" text-anchor="end">{}</text>"#,
        y + block / 2.0 + 4.0,
        escape(&row.title)
    );
    let mut outcomes = vec![(Some(&row.a), COLOR_A, "a")];
    if compare {
        outcomes.push((row.b.as_ref(), COLOR_B, "b"));
    }
    for (i, (outcome, color, class)) in outcomes.into_iter().enumerate() {
        let top = y + BAR * i as f64;
        let _ = match outcome.and_then(Outcome::rate) {
            Some(rate) => writeln!(
                s,
                r#"<rect class="{class}" x="{PLOT_LEFT}" y="{top:.1}" width="{:.1}" height="{}" fill="{color}"/><text x="{:.1}" y="{:.1}" font-size="9" stroke="white" stroke-width="3" paint-order="stroke">{}</text>"#,
                (axis.x(rate) - PLOT_LEFT).max(1.0),
                BAR - 1.0,
                axis.x(rate) + 3.0,
                top + BAR - 2.5,
                fmt_rate(rate)
            ),
            None => writeln!(
                s,
                r##"<text x="{}" y="{:.1}" font-size="9" fill="#b00">{}</text>"##,
                PLOT_LEFT + 3.0,
                top + BAR - 2.5,
                match outcome {
                    Some(Outcome::Unsupported { .. }) => "unsupported",
                    _ => "failed",
                }
            ),
        };
    }
    if let Some(rate) = row.ceiling.as_ref().and_then(Outcome::rate) {
        let x = axis.x(rate);
        let _ = writeln!(
            s,
            r##"<line class="ceiling" x1="{x:.1}" y1="{:.1}" x2="{x:.1}" y2="{:.1}" stroke="#222" stroke-width="2"/>"##,
            y - 2.0,
            y + block + 1.0
        );
    }
    if let Some(r) = row.ratio_a_b {
        let color = if r >= 1.0 { "#1a7f37" } else { "#b00" };
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{:.1}" text-anchor="end" font-weight="bold" fill="{color}">{r:.2}×</text>"#,
            WIDTH - 10.0,
            y + block / 2.0 + 4.0
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::tests::{at, module, sample};

    #[test]
    fn axis_covers_whole_decades_of_every_rate() {
        let report = sample(vec![
            (at(4000.0), Some(at(35.0)), Some(at(250_000.0))),
            (at(12.0), None, None),
        ]);
        let axis = Axis::fit(&report);
        assert_eq!((axis.lo, axis.hi), (10.0, 1_000_000.0));
        assert_eq!(axis.x(10.0), PLOT_LEFT);
        assert_eq!(axis.x(1e6), PLOT_RIGHT);
        // 1,000 is two of the five decades along.
        let expected = PLOT_LEFT + 0.4 * (PLOT_RIGHT - PLOT_LEFT);
        assert!((axis.x(1000.0) - expected).abs() < 1e-9);
        assert_eq!(decade(10_000.0), "10k");
        assert_eq!(decade(1e6), "1M");
    }

    #[test]
    fn one_bar_per_measured_outcome_and_a_ratio_per_pair() {
        let mut report = sample(vec![
            (at(4000.0), Some(at(1000.0)), Some(at(5000.0))),
            (at(500.0), Some(Outcome::unsupported("CKM_EDDSA")), None),
        ]);
        report.module_a = Some(module("/t/libkeyward.so"));
        report.module_b = Some(module("/usr/lib/softhsm/libsofthsm2.so"));
        let svg = svg(&report);
        assert!(svg.starts_with("<svg ") && svg.ends_with("</svg>\n"));
        assert_eq!(svg.matches(r#"class="a""#).count(), 2);
        assert_eq!(svg.matches(r#"class="b""#).count(), 1);
        assert_eq!(svg.matches(r#"class="ceiling""#).count(), 1);
        assert!(svg.contains("4.00×") && svg.contains("unsupported"));
        assert!(svg.contains("A: libkeyward.so") && svg.contains("B: libsofthsm2.so"));
        assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    }

    #[test]
    fn titles_are_escaped() {
        assert_eq!(escape(r#"a<b & "c">"#), "a&lt;b &amp; &quot;c&quot;&gt;");
        let report = sample(vec![(at(10.0), None, None)]);
        assert!(!svg(&report).contains("& "));
    }
}
