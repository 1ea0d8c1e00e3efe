//! The echo scenarios: the load of each, and one measurement of one server
//! under it (load started and warmed up, then one [`Gauge`] window).

use std::thread;
use std::time::Duration;

use super::load::pingpong::{self, Message};
use super::load::{churn, idle::IdleSet, Running, Tally};
use super::perf::{self, Perf};
use super::stats::{self, Metric, Op};
use super::window::{self, Gauge, Measured, Readings};
use crate::process::procfs;
use crate::process::server::RunningServer;

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
    /// Uneven work: `conns` connections in closed-loop ping-pong with
    /// 64-byte requests, one in `every` of which makes the server spin 1 ms
    /// of CPU (the bench request rule); only the cheap ones are timed.
    Uneven {
        /// Connections.
        conns: usize,
        /// One request in this many is a slow one.
        every: u32,
    },
    /// Big transfers: `conns` connections in closed-loop ping-pong, each
    /// 64-byte request answered by `reply` bytes; figures per MiB.
    Large {
        /// Connections.
        conns: usize,
        /// Reply size in bytes.
        reply: usize,
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

/// The echo scenarios: issue 5's, with `idle` idle connections in the
/// last, then issue 12's "how cost grows" points not among them (64-byte
/// ping-pong at each count of `many` connections, 1 KiB at 64).
pub fn echo_scenarios(idle: usize, many: &[usize]) -> Vec<Scenario> {
    let ping = |conns: usize, size: usize, id: &str, what: &str| Scenario {
        id: id.to_owned(),
        title: format!(
            "{what} ping-pong, {conns} connection{}",
            if conns == 1 { "" } else { "s" }
        ),
        op: Op::ROUND_TRIP,
        load: Load::PingPong { conns, size },
    };
    let mut all = vec![
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
    ];
    for &conns in many {
        all.push(ping(conns, 64, &format!("echo-64B-{conns}c"), "64-byte"));
    }
    all.push(ping(64, 1024, "echo-1KiB-64c", "1 KiB"));
    all
}

/// Issue 12's scenarios of the bench request rule, which the servers serve
/// in request mode: uneven work, and big replies.
pub fn request_scenarios() -> Vec<Scenario> {
    let large = |reply: usize, what: &str| Scenario {
        id: format!("large-{what}-16c"),
        title: format!("big transfers: {what} replies to 64-byte requests, 16 connections"),
        op: Op::MIB,
        load: Load::Large { conns: 16, reply },
    };
    vec![
        Scenario {
            id: UNEVEN.into(),
            title: "uneven work: 64-byte ping-pong, 64 connections, 1 request in 100 spins 1 ms of server CPU (latency of the cheap ones)".into(),
            op: Op::ROUND_TRIP,
            load: Load::Uneven {
                conns: 64,
                every: 100,
            },
        },
        large(64 * 1024, "64KiB"),
        large(1024 * 1024, "1MiB"),
    ]
}

/// Id of the uneven-work scenario.
pub const UNEVEN: &str = "uneven-64B-64c";

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
    let mut gauge = Gauge::attach(perf, &pids);
    let addr = server.addr;
    let threads = timing.client_threads;
    let mut idle_set = None;
    let mut alone = None;
    let running = match load {
        Load::PingPong { conns, size } => pingpong::start(addr, conns, &Message::echo(size), threads)?,
        Load::Uneven { conns, every } => pingpong::start(addr, conns, &Message::uneven(every), threads)?,
        Load::Large { conns, reply } => pingpong::start(addr, conns, &Message::large(reply), threads)?,
        Load::Churn { size } => churn::start(addr, size, threads),
        Load::Idle { idle, active, size } => {
            let (tally, r) = run_window(
                pingpong::start(addr, active, &Message::echo(size), threads)?,
                timing,
                &mut Gauge::attach(None, &pids),
            );
            alone = Some(tally.ops as f64 / r.seconds);
            let before = procfs::rss_sum(&pids);
            let set = IdleSet::open(addr, idle, Duration::from_secs(120))
                .map_err(|e| format!("opening {idle} idle connections: {e}"))?;
            let after = procfs::rss_sum(&pids);
            let per_conn = (after as f64 - before as f64) / set.count() as f64 / 1024.0;
            out.figures.insert(Metric::IdleKibPerConn, per_conn);
            idle_set = Some(set);
            pingpong::start(addr, active, &Message::echo(size), threads)?
        }
    };
    let (tally, readings) = run_window(running, timing, &mut gauge);
    let counts = gauge.finish(&mut out.warnings);
    if !server.is_running() {
        return Err("the server exited during the measurement".into());
    }
    figures_from(&mut out, &tally, &readings, counts)?;
    if let Load::Large { reply, .. } = load {
        per_mib(&mut out.figures, reply);
    }
    if let (Some(before), Some(set), Load::Idle { active, size, .. }) = (alone, idle_set, load) {
        // Close the idle connections and measure alone once more: the
        // baseline is the mean of the windows before and after, which
        // cancels a drift or a warm-up effect that favours either order.
        drop(set);
        let (last, r) = run_window(
            pingpong::start(addr, active, &Message::echo(size), threads)?,
            timing,
            &mut Gauge::attach(None, &pids),
        );
        let after = last.ops as f64 / r.seconds;
        let with = tally.ops as f64 / readings.seconds;
        if let Some(slower) = stats::ratio(with, (before + after) / 2.0) {
            out.figures
                .insert(Metric::IdleSlowdownPct, (1.0 - slower) * 100.0);
        }
    }
    Ok(out)
}

/// Measures `server` under the load that `start` starts against its
/// address: perf attached first, then the load, one window.
pub fn measure_load(
    server: &mut RunningServer,
    perf: Option<&Perf>,
    timing: &Timing,
    start: impl FnOnce(std::net::SocketAddr) -> Result<Running, String>,
) -> Result<Measured, String> {
    let mut out = Measured::default();
    let mut gauge = Gauge::attach(perf, &server.pids());
    let running = start(server.addr)?;
    let (tally, readings) = run_window(running, timing, &mut gauge);
    let counts = gauge.finish(&mut out.warnings);
    if !server.is_running() {
        return Err("the server exited during the measurement".into());
    }
    figures_from(&mut out, &tally, &readings, counts)?;
    Ok(out)
}

/// Turns per-reply figures into per-MiB ones for `reply`-byte replies:
/// throughput in MiB/s, CPU, system calls and context switches per MiB
/// (latencies stay per reply).
fn per_mib(f: &mut stats::Figures, reply: usize) {
    let mib_per_reply = reply as f64 / (1024.0 * 1024.0);
    for (metric, value) in f.iter_mut() {
        match metric {
            Metric::Throughput => *value *= mib_per_reply,
            Metric::CpuUsPerOp
            | Metric::UserCpuUsPerOp
            | Metric::SyscallsPerOp
            | Metric::CtxSwitchesPerOp => *value /= mib_per_reply,
            _ => {}
        }
    }
}

/// Warms `running` up, measures one window with `gauge`, and stops the
/// clients; returns what they counted and what the gauge read.
pub fn run_window(running: Running, timing: &Timing, gauge: &mut Gauge) -> (Tally, Readings) {
    thread::sleep(timing.warmup);
    gauge.open();
    running.phase.measure();
    thread::sleep(timing.window);
    let readings = gauge.close(|| running.phase.stop());
    (running.finish(), readings)
}

/// Turns the window's raw readings into figures; a window in which no
/// operation completed is a failure.
pub fn figures_from(
    out: &mut Measured,
    tally: &Tally,
    readings: &Readings,
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
    window::file(
        &mut out.figures,
        tally.ops,
        tally.ops as f64 / readings.seconds,
        stats::percentiles_us(&tally.latency),
        readings,
        counts,
    );
    if !tally.late.is_empty() {
        out.figures.insert(
            Metric::LateP99Us,
            tally.late.value_at_quantile(0.99) as f64 / 1000.0,
        );
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
        let readings = Readings {
            seconds: 2.0,
            cpu,
            rss: 8 << 20,
        };
        figures_from(&mut out, &tally, &readings, Some(counts)).unwrap();
        let f = &out.figures;
        assert_eq!(f[&Metric::Throughput], 100_000.0);
        assert!((f[&Metric::CpuUsPerOp] - 9.0).abs() < 1e-9);
        assert!((f[&Metric::UserCpuUsPerOp] - 1.0).abs() < 1e-9);
        assert_eq!(f[&Metric::SyscallsPerOp], 3.0);
        assert_eq!(f[&Metric::CtxSwitchesPerOp], 0.01);
        assert_eq!(f[&Metric::RssMib], 8.0);
        assert!((f[&Metric::P99Us] - 1500.0).abs() < 2.0);
        assert!(out.warnings.is_empty());
        // A closed loop has no due times: no lateness column.
        assert!(!f.contains_key(&Metric::LateP99Us));

        // An open loop's lateness shows as its p99.
        for _ in 0..100 {
            tally.late.record(20_000).unwrap(); // 20 µs
        }
        tally.late.record(900_000).unwrap();
        tally.late.record(900_000).unwrap();
        let mut out = Measured::default();
        figures_from(&mut out, &tally, &readings, None).unwrap();
        assert!((out.figures[&Metric::LateP99Us] - 900.0).abs() < 1.0);
    }

    #[test]
    fn nothing_completed_is_a_failure() {
        let mut tally = Tally::default();
        tally.error("connection refused");
        let readings = Readings {
            seconds: 1.0,
            ..Readings::default()
        };
        let err = figures_from(&mut Measured::default(), &tally, &readings, None).unwrap_err();
        assert!(err.contains("connection refused"), "{err}");
    }

    #[test]
    fn large_reply_figures_are_per_mib() {
        let mut f = stats::Figures::from([
            (Metric::Throughput, 1000.0),
            (Metric::CpuUsPerOp, 50.0),
            (Metric::SyscallsPerOp, 4.0),
            (Metric::P99Us, 300.0),
        ]);
        per_mib(&mut f, 64 * 1024);
        assert_eq!(f[&Metric::Throughput], 62.5);
        assert_eq!(f[&Metric::CpuUsPerOp], 800.0);
        assert_eq!(f[&Metric::SyscallsPerOp], 64.0);
        assert_eq!(f[&Metric::P99Us], 300.0);
    }

    #[test]
    fn scenario_ids_are_unique() {
        let mut scenarios = echo_scenarios(10_000, &[4096, 16_000]);
        scenarios.extend(request_scenarios());
        let mut ids: Vec<&str> = scenarios.iter().map(|s| s.id.as_str()).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), scenarios.len());
    }
}
