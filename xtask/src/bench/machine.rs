//! The machine a run happened on, and how busy it was.

use std::fs;

use serde::{Deserialize, Serialize};

/// Facts about the machine, for the report (a field missing from a saved
/// report reads as empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Machine {
    /// Online CPUs.
    pub cpus: usize,
    /// CPU model from `/proc/cpuinfo`.
    pub cpu_model: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// 1-minute load average when the run started. (Not at the end: the
    /// benchmark's own threads, 10,000 of them for the thread-per-connection
    /// peer's idle scenario, drive it to 20 and more.)
    pub load_before: f64,
    /// Other heavy processes (compilers, builds) seen before some
    /// measurement, which make the figures noisier.
    pub busy: Vec<String>,
}

impl Machine {
    /// Reads the machine's facts now.
    pub fn probe() -> Machine {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let cpu_model = fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|t| parse_cpu_model(&t))
            .unwrap_or_else(|| "unknown CPU".into());
        let kernel = fs::read_to_string("/proc/sys/kernel/osrelease")
            .map(|s| s.trim().to_owned())
            .unwrap_or_else(|_| "unknown".into());
        let load = load_average();
        Machine {
            cpus,
            cpu_model,
            kernel,
            load_before: load,
            busy: busy_processes(),
        }
    }

    /// Adds heavy processes running now; called before every measurement.
    pub fn sample(&mut self) {
        for name in busy_processes() {
            if !self.busy.contains(&name) {
                self.busy.push(name);
            }
        }
    }
}

/// The `model name` of the first CPU in `/proc/cpuinfo` text.
pub fn parse_cpu_model(cpuinfo: &str) -> Option<String> {
    cpuinfo
        .lines()
        .find(|l| l.starts_with("model name"))
        .and_then(|l| l.split_once(':'))
        .map(|(_, v)| v.trim().to_owned())
}

/// The 1-minute load average, or 0 if unreadable.
fn load_average() -> f64 {
    fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0)
}

/// Names of compiler and build processes running now (other than our own
/// ancestors' cargo, which sleeps while we run).
fn busy_processes() -> Vec<String> {
    const HEAVY: [&str; 5] = ["rustc", "cc1", "cc1plus", "ld", "clippy-driver"];
    let mut found: Vec<String> = Vec::new();
    let Ok(dir) = fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(comm) = fs::read_to_string(entry.path().join("comm")) else {
            continue;
        };
        let comm = comm.trim();
        if HEAVY.contains(&comm) && !found.iter().any(|f| f == comm) {
            found.push(comm.to_owned());
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_model_from_cpuinfo() {
        let text = "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) Processor\nflags\t: fpu\n";
        assert_eq!(
            parse_cpu_model(text).as_deref(),
            Some("Intel(R) Xeon(R) Processor")
        );
        assert_eq!(parse_cpu_model("processor : 0\n"), None);
    }
}
