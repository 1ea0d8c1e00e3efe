//! The echo scenarios and the measurement protocol they share.
//!
//! One measurement of one server: (idle connections opened, RSS read before
//! and after), perf attached with counting off, load started and warmed up;
//! then the window: perf on, CPU read, phase to measure, sleep, RSS read,
//! phase to stop, CPU read, perf off. Every per-operation figure divides a
//! quantity taken over that window by the operations completed in it.

use std::thread;
use std::time::{Duration, Instant};

use super::load::{churn, idle::IdleSet, pingpong, Running, Tally};
use super::perf::{self, Perf};
use super::procfs;
use super::server::RunningServer;
use super::stats::{self, Figures, Metric, Op};

/// What the clients do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// `conns` connections in closed-loop ping-pong with `size`-byte messages.
    PingPong {
        /// Connections.
        conns: usize,
        /// Message size in bytes.
        size: usize,
    },
    /// Connect, one round trip of `size` bytes, close; per client thread.
    Churn {
        /// Message size in bytes.
        size: usize,
    },
    /// `idle` silent connections held open while `active` ones ping-pong.
    Idle {
        /// Idle connections.
        idle: usize,
        /// Active connections.
        active: usize,
        /// Message size of the active ones.
        size: usize,
    },
}

/// One echo scenario.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// Stable id (for `--only` and the JSON).
    pub id: String,
    /// Heading in the report.
    pub title: String,
    /// What one operation is.
    pub op: Op,
    /// The load.
    pub load: Load,
}

/// The echo scenarios of the issue, with `idle` idle connections in the last.
pub fn echo_scenarios(idle: usize) -> Vec<Scenario> {
    let ping = |conns: usize, size: usize, id: &str, what: &str| Scenario {
        id: id.to_owned(),
        title: format!(
            "{what} ping-pong, {conns} connection{}",
            if conns == 1 { "" } else { "s" }
        ),
        op: Op::ROUND_TRIP,
        load: Load::PingPong { conns, size },
    };
    vec![
        ping(1, 64, "echo-64B-1c", "64-byte"),
        ping(64, 64, "echo-64B-64c", "64-byte"),
        ping(512, 64, "echo-64B-512c", "64-byte"),
        ping(64, 16 * 1024, "echo-16KiB-64c", "16 KiB"),
        Scenario {
            id: "churn".into(),
            title: "connection churn: connect, one 64-byte round trip, close".into(),
            op: Op::CONNECTION,
            load: Load::Churn { size: 64 },
        },
        Scenario {
            id: "idle".into(),
            title: format!("{idle} idle connections held open, 64 active in 64-byte ping-pong"),
            op: Op::ROUND_TRIP,
            load: Load::Idle {
                idle,
                active: 64,
                size: 64,
            },
        },
    ]
}

/// Durations and client threads of one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Load before the window opens.
    pub warmup: Duration,
    /// The window.
    pub window: Duration,
    /// Client threads.
    pub client_threads: usize,
}

/// A measurement's figures and anything odd about it.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// The figures.
    pub figures: Figures,
    /// Problems that did not void the measurement (a few failed
    /// operations, perf trouble).
    pub warnings: Vec<String>,
}

/// Measures one server under one load.
pub fn measure(
    server: &mut RunningServer,
    load: Load,
    timing: &Timing,
    perf: Option<&Perf>,
) -> Result<Measured, String> {
    let pids = server.pids();
    let mut out = Measured::default();
    let idle = match load {
        Load::Idle { idle, .. } => {
            let before = procfs::rss_sum(&pids);
            let set = IdleSet::open(server.addr, idle, Duration::from_secs(120))
                .map_err(|e| format!("opening {idle} idle connections: {e}"))?;
            let after = procfs::rss_sum(&pids);
            let per_conn = (after as f64 - before as f64) / set.count() as f64 / 1024.0;
            out.figures.insert(Metric::IdleKibPerConn, per_conn);
            Some(set)
        }
        _ => None,
    };
    let mut session = match perf.map(|p| perf::Session::attach(p, &pids)).transpose() {
        Ok(s) => s,
        Err(e) => {
            out.warnings.push(format!("perf: {e}"));
            None
        }
    };
    let running: Running = match load {
        Load::PingPong { conns, size } => {
            pingpong::start(server.addr, conns, size, timing.client_threads)?
        }
        Load::Idle { active, size, .. } => {
            pingpong::start(server.addr, active, size, timing.client_threads)?
        }
        Load::Churn { size } => churn::start(server.addr, size, timing.client_threads),
    };
    thread::sleep(timing.warmup);
    if let Some(s) = session.as_mut() {
        if let Err(e) = s.enable() {
            out.warnings.push(format!("perf: {e}"));
            session = None;
        }
    }
    let cpu_before = procfs::cpu_seconds(&pids);
    running.phase.measure();
    let opened = Instant::now();
    thread::sleep(timing.window);
    let rss = procfs::rss_sum(&pids);
    running.phase.stop();
    let seconds = opened.elapsed().as_secs_f64();
    let cpu = procfs::cpu_seconds(&pids) - cpu_before;
    if let Some(s) = session.as_mut() {
        if let Err(e) = s.disable() {
            out.warnings.push(format!("perf: {e}"));
        }
    }
    let tally = running.finish();
    let counts = match session.map(perf::Session::finish).transpose() {
        Ok(c) => c,
        Err(e) => {
            out.warnings.push(format!("perf: {e}"));
            None
        }
    };
    drop(idle);
    if !server.is_running() {
        return Err("the server exited during the measurement".into());
    }
    figures_from(&mut out, &tally, seconds, cpu, rss, counts)?;
    Ok(out)
}

/// Turns the window's raw readings into figures.
pub fn figures_from(
    out: &mut Measured,
    tally: &Tally,
    seconds: f64,
    cpu: f64,
    rss: u64,
    counts: Option<perf::Counts>,
) -> Result<(), String> {
    if tally.ops == 0 {
        let why = tally
            .first_error
            .as_deref()
            .unwrap_or("the server answered nothing");
        return Err(format!("no operation completed in the window: {why}"));
    }
    if tally.errors > 0 {
        out.warnings.push(format!(
            "{} failed operation(s), first: {}",
            tally.errors,
            tally.first_error.as_deref().unwrap_or("?")
        ));
    }
    let f = &mut out.figures;
    f.insert(Metric::Throughput, tally.ops as f64 / seconds);
    f.extend(stats::percentiles_us(&tally.latency));
    if let Some(cpu) = stats::per_op(cpu * 1e6, tally.ops) {
        f.insert(Metric::CpuUsPerOp, cpu);
    }
    if let Some(c) = counts {
        f.insert(Metric::SyscallsPerOp, c.syscalls as f64 / tally.ops as f64);
        f.insert(
            Metric::CtxSwitchesPerOp,
            c.context_switches as f64 / tally.ops as f64,
        );
    }
    if rss > 0 {
        f.insert(Metric::RssMib, rss as f64 / (1024.0 * 1024.0));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_divide_window_readings_by_operations() {
        let mut tally = Tally {
            ops: 200_000,
            ..Tally::default()
        };
        tally.latency.record(1_500_000).unwrap(); // 1.5 ms
        let mut out = Measured::default();
        let counts = perf::Counts {
            syscalls: 600_000,
            context_switches: 2_000,
        };
        figures_from(&mut out, &tally, 2.0, 1.8, 8 << 20, Some(counts)).unwrap();
        let f = &out.figures;
        assert_eq!(f[&Metric::Throughput], 100_000.0);
        assert!((f[&Metric::CpuUsPerOp] - 9.0).abs() < 1e-9);
        assert_eq!(f[&Metric::SyscallsPerOp], 3.0);
        assert_eq!(f[&Metric::CtxSwitchesPerOp], 0.01);
        assert_eq!(f[&Metric::RssMib], 8.0);
        assert!((f[&Metric::P99Us] - 1500.0).abs() < 2.0);
        assert!(out.warnings.is_empty());
    }

    #[test]
    fn nothing_completed_is_a_failure() {
        let mut tally = Tally::default();
        tally.error("connection refused");
        let err = figures_from(&mut Measured::default(), &tally, 1.0, 0.0, 0, None).unwrap_err();
        assert!(err.contains("connection refused"), "{err}");
    }

    #[test]
    fn scenario_ids_are_unique() {
        let scenarios = echo_scenarios(10_000);
        let mut ids: Vec<&str> = scenarios.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), scenarios.len());
    }
}
