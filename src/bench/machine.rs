//! The machine a run happened on, for the report: CPU model, cores, kernel.

use serde::Serialize;

/// Where the numbers were measured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Machine {
    /// `model name` from /proc/cpuinfo (`unknown` elsewhere).
    pub cpu_model: String,
    /// Logical cores available to this process.
    pub cores: usize,
    /// Kernel release from /proc/sys/kernel/osrelease.
    pub kernel: String,
    /// `std::env::consts::ARCH`.
    pub arch: String,
}

impl Machine {
    /// Read this machine's description.
    pub fn probe() -> Machine {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        Machine {
            cpu_model: cpu_model(&cpuinfo).unwrap_or_else(|| "unknown".into()),
            cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_string())
                .unwrap_or_else(|_| "unknown".into()),
            arch: std::env::consts::ARCH.into(),
        }
    }
}

impl Machine {
    /// /proc/loadavg as it reads now (empty where there is none).
    pub fn loadavg() -> String {
        std::fs::read_to_string("/proc/loadavg")
            .map(|s| s.trim().to_string())
            .unwrap_or_default()
    }
}

/// The first `model name` line of a /proc/cpuinfo text.
fn cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(k, _)| k.trim() == "model name")
        .map(|(_, v)| v.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_name_is_read_from_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\
                    processor\t: 1\nmodel name\t: AMD EPYC 7B13\n";
        assert_eq!(cpu_model(text).as_deref(), Some("AMD EPYC 7B13"));
        assert_eq!(cpu_model("processor : 0\n"), None);
    }
}
