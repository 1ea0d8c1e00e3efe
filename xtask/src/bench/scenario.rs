//! The echo scenarios and the measurement protocol they share.
//!
//! One measurement of one server: perf attached with counting off, load
//! started and warmed up; then the window: perf on, CPU read, phase to
//! measure, sleep, RSS read, phase to stop, CPU read, perf off. Every
//! per-operation figure divides a quantity taken over that window by the
//! operations completed in it.

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
///
/// For [`Load::Idle`], the active connections first run one window alone
/// (same server process, moments before), then the idle connections are
/// opened (RSS read before and after) and the measured window runs, then
/// the idle connections are closed and the active ones run alone again;
/// the slowdown compares the middle window with the mean of the other two.
pub fn measure(
    server: &mut RunningServer,
    load: Load,
    timing: &Timing,
    perf: Option<&Perf>,
) -> Result<Measured, String> {
    let pids = server.pids();
    let mut out = Measured::default();
    // perf attaches before any connection exists: threads that the server
    // creates later inherit its counters, whereas attaching to thousands
    // of existing threads would cost a descriptor and a wait per thread.
    let mut session = perf::Session::attach_or_warn(perf, &pids, &mut out.warnings);
    let addr = server.addr;
    let threads = timing.client_threads;
    let mut idle_set = None;
    let mut alone = None;
    let running = match load {
        Load::PingPong { conns, size } => pingpong::start(addr, conns, size, threads)?,
        Load::Churn { size } => churn::start(addr, size, threads),
        Load::Idle { idle, active, size } => {
            let first = window(
                pingpong::start(addr, active, size, threads)?,
                timing,
                &pids,
                None,
            );
            alone = Some(first.tally.ops as f64 / first.seconds);
            let before = procfs::rss_sum(&pids);
            let set = IdleSet::open(addr, idle, Duration::from_secs(120))
                .map_err(|e| format!("opening {idle} idle connections: {e}"))?;
            let after = procfs::rss_sum(&pids);
            let per_conn = (after as f64 - before as f64) / set.count() as f64 / 1024.0;
            out.figures.insert(Metric::IdleKibPerConn, per_conn);
            idle_set = Some(set);
            pingpong::start(addr, active, size, threads)?
        }
    };
    let w = window(running, timing, &pids, session.as_mut());
    out.warnings.extend(w.warnings);
    let counts = match session.map(perf::Session::finish).transpose() {
        Ok(c) if w.perf_ok => c,
        Ok(_) => None,
        Err(e) => {
            out.warnings.push(format!("perf: {e}"));
            None
        }
    };
    if !server.is_running() {
        return Err("the server exited during the measurement".into());
    }
    figures_from(&mut out, &w.tally, w.seconds, w.cpu, w.rss, counts)?;
    if let (Some(before), Some(set), Load::Idle { active, size, .. }) = (alone, idle_set, load) {
        // Close the idle connections and measure alone once more: the
        // baseline is the mean of the windows before and after, which
        // cancels a drift or a warm-up effect that favours either order.
        drop(set);
        let last = window(
            pingpong::start(addr, active, size, threads)?,
            timing,
            &pids,
            None,
        );
        let after = last.tally.ops as f64 / last.seconds;
        let with = w.tally.ops as f64 / w.seconds;
        if let Some(slower) = stats::ratio(with, (before + after) / 2.0) {
            out.figures
                .insert(Metric::IdleSlowdownPct, (1.0 - slower) * 100.0);
        }
    }
    Ok(out)
}

/// The readings of one window.
struct Window {
    /// What the clients counted.
    tally: Tally,
    /// Its length.
    seconds: f64,
    /// Server CPU time in it.
    cpu: procfs::CpuTime,
    /// Server RSS at its end, bytes.
    rss: u64,
    /// Whether perf counted exactly this window.
    perf_ok: bool,
    /// perf trouble.
    warnings: Vec<String>,
}

/// Warms `running` up, then measures one window and stops the clients.
fn window(
    running: Running,
    timing: &Timing,
    pids: &[u32],
    mut perf: Option<&mut perf::Session>,
) -> Window {
    let mut warnings = Vec::new();
    thread::sleep(timing.warmup);
    if let Some(s) = perf.as_mut() {
        if let Err(e) = s.enable() {
            warnings.push(format!("perf: {e}"));
            perf = None;
        }
    }
    let cpu_before = procfs::cpu_time(pids);
    running.phase.measure();
    let opened = Instant::now();
    thread::sleep(timing.window);
    let rss = procfs::rss_sum(pids);
    running.phase.stop();
    let seconds = opened.elapsed().as_secs_f64();
    let cpu = procfs::cpu_time(pids) - cpu_before;
    let mut perf_ok = perf.is_some();
    if let Some(s) = perf {
        if let Err(e) = s.disable() {
            warnings.push(format!("perf: {e}"));
            perf_ok = false;
        }
    }
    Window {
        tally: running.finish(),
        seconds,
        cpu,
        rss,
        perf_ok,
        warnings,
    }
}

/// Turns the window's raw readings into figures.
pub fn figures_from(
    out: &mut Measured,
    tally: &Tally,
    seconds: f64,
    cpu: procfs::CpuTime,
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
    stats::insert_cpu(f, cpu, tally.ops);
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
        let cpu = procfs::CpuTime {
            user: 0.2,
            system: 1.6,
        };
        figures_from(&mut out, &tally, 2.0, cpu, 8 << 20, Some(counts)).unwrap();
        let f = &out.figures;
        assert_eq!(f[&Metric::Throughput], 100_000.0);
        assert!((f[&Metric::CpuUsPerOp] - 9.0).abs() < 1e-9);
        assert!((f[&Metric::UserCpuUsPerOp] - 1.0).abs() < 1e-9);
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
        let err = figures_from(
            &mut Measured::default(),
            &tally,
            1.0,
            procfs::CpuTime::default(),
            0,
            None,
        )
        .unwrap_err();
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
