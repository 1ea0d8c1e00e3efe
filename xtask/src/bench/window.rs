//! A measurement window: what a server spent between two instants, and the
//! figures made from it. Every scenario and every anchor measures through
//! [`Gauge`], so they all take the same readings in the same order.
//!
//! The order: perf attached with counting off (before any client connects:
//! threads the server creates later inherit its counters, whereas attaching
//! to thousands of existing threads would cost a descriptor and a wait per
//! thread); then [`Gauge::open`]: perf on, server CPU read; the load runs;
//! then [`Gauge::close`]: RSS read, the load's own end of the window, CPU
//! read, perf off. Every per-operation figure divides a quantity taken over
//! that window by the operations completed in it.

use std::time::Instant;

use super::perf::{self, Perf};
use super::stats::{self, Figures, Metric};
use crate::process::procfs::{self, CpuTime};

/// A measurement's figures and anything odd about it.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// The figures.
    pub figures: Figures,
    /// Problems that did not void the measurement (a few failed
    /// operations, perf trouble).
    pub warnings: Vec<String>,
}

/// Reads a server's resources over one window.
#[derive(Debug)]
pub struct Gauge {
    /// The server's processes.
    pids: Vec<u32>,
    /// perf, while it works.
    session: Option<perf::Session>,
    /// Whether perf counted from `open` to `close` without trouble.
    counted: bool,
    /// CPU time at `open`.
    cpu_before: CpuTime,
    /// When the window opened.
    opened: Option<Instant>,
    /// perf trouble.
    warnings: Vec<String>,
}

/// What a window read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Readings {
    /// Its length.
    pub seconds: f64,
    /// Server CPU time in it.
    pub cpu: CpuTime,
    /// Server RSS at its end, bytes.
    pub rss: u64,
}

impl Gauge {
    /// Attaches perf (if any) to `pids` with counting off.
    pub fn attach(perf: Option<&Perf>, pids: &[u32]) -> Gauge {
        let mut warnings = Vec::new();
        let session = perf::Session::attach_or_warn(perf, pids, &mut warnings);
        Gauge {
            pids: pids.to_vec(),
            session,
            counted: false,
            cpu_before: CpuTime::default(),
            opened: None,
            warnings,
        }
    }

    /// Opens the window: perf counting on, then the server's CPU time read.
    pub fn open(&mut self) {
        if let Some(s) = self.session.as_mut() {
            match s.enable() {
                Ok(()) => self.counted = true,
                Err(e) => {
                    self.warnings.push(format!("perf: {e}"));
                    self.session = None;
                }
            }
        }
        self.cpu_before = procfs::cpu_time(&self.pids);
        self.opened = Some(Instant::now());
    }

    /// Closes the window: RSS read, `stop` (the load's end of the window),
    /// then CPU read and perf off.
    pub fn close(&mut self, stop: impl FnOnce()) -> Readings {
        let rss = procfs::rss_sum(&self.pids);
        stop();
        let seconds = self
            .opened
            .map_or(0.0, |opened| opened.elapsed().as_secs_f64());
        let cpu = procfs::cpu_time(&self.pids) - self.cpu_before;
        if let Some(s) = self.session.as_mut() {
            if let Err(e) = s.disable() {
                self.warnings.push(format!("perf: {e}"));
                self.counted = false;
            }
        }
        Readings { seconds, cpu, rss }
    }

    /// Ends perf; its counts if it counted exactly the window. Warnings
    /// go to `warnings`.
    pub fn finish(mut self, warnings: &mut Vec<String>) -> Option<perf::Counts> {
        warnings.append(&mut self.warnings);
        let session = self.session.take()?;
        match session.finish() {
            Ok(c) if self.counted => Some(c),
            Ok(_) => None,
            Err(e) => {
                warnings.push(format!("perf: {e}"));
                None
            }
        }
    }
}

/// Files a window's figures: `ops` operations at `throughput` per second,
/// the load's latency percentiles, and the server's readings divided by `ops`.
pub fn file(
    f: &mut Figures,
    ops: u64,
    throughput: f64,
    latencies: Vec<(Metric, f64)>,
    readings: &Readings,
    counts: Option<perf::Counts>,
) {
    f.insert(Metric::Throughput, throughput);
    f.extend(latencies);
    stats::insert_cpu(f, readings.cpu, ops);
    if let Some(c) = counts {
        f.insert(Metric::SyscallsPerOp, c.syscalls as f64 / ops as f64);
        f.insert(
            Metric::CtxSwitchesPerOp,
            c.context_switches as f64 / ops as f64,
        );
    }
    if readings.rss > 0 {
        f.insert(Metric::RssMib, readings.rss as f64 / (1024.0 * 1024.0));
    }
}
