//! How busy the rest of the machine was during a measurement: CPU time the whole machine
//! spent (/proc/stat, steal included) minus what this process spent (/proc/self/stat), in
//! cores. A shared machine skews the numbers; the report flags rows where this was high.

/// Busy and total ticks of the machine, and this process's ticks, at one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CpuSample {
    busy: u64,
    total: u64,
    own: u64,
}

impl CpuSample {
    /// Read /proc now (None where it cannot be read).
    pub(crate) fn now() -> Option<CpuSample> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let own = std::fs::read_to_string("/proc/self/stat").ok()?;
        parse(&stat, &own)
    }

    /// Cores' worth of CPU used by other processes between `self` and `later`.
    pub(crate) fn others_until(&self, later: &CpuSample, cores: usize) -> f64 {
        let total = later.total.saturating_sub(self.total);
        if total == 0 {
            return 0.0;
        }
        let busy = later.busy.saturating_sub(self.busy);
        let own = later.own.saturating_sub(self.own);
        busy.saturating_sub(own) as f64 / total as f64 * cores as f64
    }
}

/// A sample from the texts of /proc/stat and /proc/self/stat.
fn parse(stat: &str, own: &str) -> Option<CpuSample> {
    let cpu: Vec<u64> = stat
        .lines()
        .find(|l| l.starts_with("cpu "))?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal [guest guest_nice, already in user/nice]
    let field = |i: usize| cpu.get(i).copied().unwrap_or(0);
    let total: u64 = (0..8).map(field).sum();
    let busy = total - field(3) - field(4);
    // Fields after the parenthesised command name; utime and stime are the 14th and 15th.
    let after_name = &own[own.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let own = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(CpuSample { busy, total, own })
}

#[cfg(test)]
mod tests {
    use super::*;

    const SELF: &str = "4242 (keyward bench) R 1 2 3 4 5 6 7 8 9 10 150 50 0 0 20 0 3 0";

    #[test]
    fn reads_machine_and_own_ticks() {
        let stat = "cpu  100 0 50 800 10 5 5 30 0 0\ncpu0 50 0 25 400 5 2 3 15 0 0\n";
        let s = parse(stat, SELF).unwrap();
        assert_eq!(
            s,
            CpuSample {
                busy: 190,
                total: 1000,
                own: 200
            }
        );
    }

    #[test]
    fn others_is_busy_minus_own_in_cores() {
        let a = CpuSample {
            busy: 1000,
            total: 10_000,
            own: 400,
        };
        // 400 ticks on 2 cores, 300 busy, 100 of them ours: others kept one core busy.
        let b = CpuSample {
            busy: 1300,
            total: 10_400,
            own: 500,
        };
        assert!((a.others_until(&b, 2) - 1.0).abs() < 1e-9);
        assert_eq!(a.others_until(&a, 2), 0.0);
        assert!(CpuSample::now().is_some());
    }
}
