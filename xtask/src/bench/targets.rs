//! The performance targets (issue 12's restatement for the 64-byte echo,
//! issue 5's for churn and idle connections, issue 10's for TLS, and the
//! anchors to report), as a table of data, checked against a run's medians.

use serde::{Deserialize, Serialize};

use super::args::{PER_WORKER, POOL};
use super::scenario::UNEVEN;
use super::slowloris;
use super::tls;
use super::stats::{self, Metric};
use super::table::Table;

/// One target and where this run stands.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Target {
    /// What is aimed at.
    pub goal: String,
    /// What this run measured.
    pub measured: String,
    /// Whether it was met; `None` when not measured or when the target is
    /// only to report the figure.
    pub met: Option<bool>,
}

/// What a target compares.
#[derive(Debug, Clone, Copy)]
enum Compare {
    /// `ours`'s figure divided by this server's.
    Ratio(&'static str),
    /// `ours`'s figure itself.
    Value,
}

/// When a target is met.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// The compared figure is at least this.
    AtLeast(f64),
    /// The compared figure is at most this.
    AtMost(f64),
    /// Never: the figure is reported, not judged.
    Report,
}

/// A target as data: the figure `.3` of server `.2` in the table `.1`,
/// compared as `.4` says, met when `.5` holds; `.0` is the goal as the
/// report says it.
#[derive(Debug, Clone, Copy)]
struct Spec(
    &'static str,
    &'static str,
    &'static str,
    Metric,
    Compare,
    Rule,
);

/// The async runtime peer.
const TOKIO: &str = "tokio";

use Compare::{Ratio, Value};
use Metric::{CpuUsPerOp, CtxSwitchesPerOp, IdleKibPerConn, IdleSlowdownPct, P99Us};
use Metric::{SyscallsPerOp, Throughput, TrickleClosedPct};
use Rule::{AtLeast, AtMost, Report};

/// Every target, in report order.
#[rustfmt::skip]
const TARGETS: [Spec; 28] = [
    Spec("64 B, 64 conns: round trips/s ≥ tokio's", "echo-64B-64c", POOL, Throughput, Ratio(TOKIO), AtLeast(1.0)),
    Spec("64 B, 512 conns: round trips/s ≥ tokio's", "echo-64B-512c", POOL, Throughput, Ratio(TOKIO), AtLeast(1.0)),
    Spec("64 B, 64 conns: p99 ≤ 0.6x tokio's", "echo-64B-64c", POOL, P99Us, Ratio(TOKIO), AtMost(0.6)),
    Spec("64 B, 512 conns: p99 ≤ 0.6x tokio's", "echo-64B-512c", POOL, P99Us, Ratio(TOKIO), AtMost(0.6)),
    Spec("64 B, 64 conns: CPU per round trip ≤ tokio's", "echo-64B-64c", POOL, CpuUsPerOp, Ratio(TOKIO), AtMost(1.0)),
    Spec("64 B, 64 conns: system calls per round trip ≤ 2.1", "echo-64B-64c", POOL, SyscallsPerOp, Value, AtMost(2.1)),
    Spec("64 B, 64 conns, CPU yield off (`--variant no-yield=...`): context switches per round trip ≤ tokio's", "echo-64B-64c", "no-yield", CtxSwitchesPerOp, Ratio(TOKIO), AtMost(1.0)),
    Spec("open loop at 25% of tokio's peak: p99 ≤ tokio's", "open-64B-25pct", POOL, P99Us, Ratio(TOKIO), AtMost(1.0)),
    Spec("open loop at 50% of tokio's peak: p99 ≤ tokio's", "open-64B-50pct", POOL, P99Us, Ratio(TOKIO), AtMost(1.0)),
    Spec("open loop at 75% of tokio's peak: p99 ≤ tokio's", "open-64B-75pct", POOL, P99Us, Ratio(TOKIO), AtMost(1.0)),
    Spec("open loop at 90% of tokio's peak: p99 ≤ tokio's", "open-64B-90pct", POOL, P99Us, Ratio(TOKIO), AtMost(1.0)),
    Spec("uneven work: cheap requests' p99 ≤ tokio's", UNEVEN, POOL, P99Us, Ratio(TOKIO), AtMost(1.0)),
    Spec("uneven work: cheap requests' p99 ≤ 0.5x the per-worker loops'", UNEVEN, POOL, P99Us, Ratio(PER_WORKER), AtMost(0.5)),
    Spec("big transfers, 64 KiB replies: MiB/s ≥ tokio's", "large-64KiB-16c", POOL, Throughput, Ratio(TOKIO), AtLeast(1.0)),
    Spec("big transfers, 1 MiB replies: MiB/s ≥ tokio's", "large-1MiB-16c", POOL, Throughput, Ratio(TOKIO), AtLeast(1.0)),
    Spec("churn: connections/s ≥ tokio's", "churn", POOL, Throughput, Ratio(TOKIO), AtLeast(1.0)),
    Spec("idle connections slow the 64 active ones by < 5%", "idle", POOL, IdleSlowdownPct, Value, AtMost(5.0)),
    Spec("memory per idle connection ≤ tokio's", "idle", POOL, IdleKibPerConn, Ratio(TOKIO), AtMost(1.0)),
    Spec("slowloris: round trips/s with the trickle ≥ 0.9x without", "slowloris", slowloris::TRICKLED, Throughput, Ratio(slowloris::PLAIN), AtLeast(0.9)),
    Spec("slowloris: p99 with the trickle ≤ 1.1x without", "slowloris", slowloris::TRICKLED, P99Us, Ratio(slowloris::PLAIN), AtMost(1.1)),
    Spec("slowloris: the header deadline closes every trickling connection", "slowloris", slowloris::TRICKLED, TrickleClosedPct, Value, AtLeast(100.0)),
    Spec("TLS echo, 64 B, 64 conns: round trips/s ≥ tokio-rustls's", tls::ECHO, POOL, Throughput, Ratio(tls::PEER), AtLeast(1.0)),
    Spec("TLS handshakes/s ≥ tokio-rustls's", tls::HANDSHAKE, POOL, Throughput, Ratio(tls::PEER), AtLeast(1.0)),
    Spec("memory per idle TLS connection ≤ half of tokio-rustls's", tls::IDLE, POOL, IdleKibPerConn, Ratio(tls::PEER), AtMost(0.5)),
    Spec("https-wrk: requests/s ≥ nginx's (same certificate and cipher)", "https-wrk", "mio-pool http", Throughput, Ratio("nginx"), AtLeast(1.0)),
    Spec("http-wrk: requests/s against nginx (report; aim ≥ 1.0x)", "http-wrk", "mio-pool http", Throughput, Ratio("nginx"), Report),
    Spec("redis-get: requests/s against redis-server (report; aim ≥ 1.0x)", "redis-get", "mio-pool kv", Throughput, Ratio("redis-server"), Report),
    Spec("redis-get-P16: requests/s against redis-server (report; aim ≥ 1.0x)", "redis-get-P16", "mio-pool kv", Throughput, Ratio("redis-server"), Report),
];

/// Evaluates every target on the tables of one run.
pub fn evaluate(tables: &[Table]) -> Vec<Target> {
    TARGETS.iter().map(|s| judge(s, tables)).collect()
}

/// Where one target stands.
fn judge(&Spec(goal, id, ours, metric, compare, rule): &Spec, tables: &[Table]) -> Target {
    let table = tables.iter().find(|t| t.id == id);
    let figure = |server: &str| table.and_then(|t| t.get(server, metric));
    let compared = match compare {
        Ratio(theirs) => figure(ours)
            .zip(figure(theirs))
            .and_then(|(a, b)| stats::ratio(a, b))
            .map(|r| (r, format!("{ours} / {theirs} = {}", stats::format_ratio(r)))),
        Value => figure(ours).map(|v| (v, format!("{ours} = {}", metric.format(v)))),
    };
    let Some((value, measured)) = compared else {
        return Target {
            goal: goal.into(),
            measured: "not measured".into(),
            met: None,
        };
    };
    Target {
        goal: goal.into(),
        measured,
        met: match rule {
            AtLeast(min) => Some(value >= min),
            AtMost(max) => Some(value <= max),
            Report => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::{Figures, Op};

    fn table(id: &str, rows: &[(&str, Metric, f64)]) -> Table {
        let mut t = Table::new(id, id, Op::ROUND_TRIP, POOL);
        for &(server, metric, value) in rows {
            t.row_mut(server).samples = vec![Figures::from([(metric, value)])];
        }
        t.summarize();
        t
    }

    fn find<'a>(targets: &'a [Target], goal: &str) -> &'a Target {
        targets.iter().find(|t| t.goal.starts_with(goal)).unwrap()
    }

    fn one(tables: &[Table], goal: &str) -> Target {
        find(&evaluate(tables), goal).clone()
    }

    #[test]
    fn throughput_target_uses_the_ratio_to_tokio() {
        let tables = [table(
            "echo-64B-64c",
            &[(POOL, Throughput, 120.0), (TOKIO, Throughput, 100.0)],
        )];
        let targets = evaluate(&tables);
        let t = find(&targets, "64 B, 64 conns: round trips/s");
        assert_eq!(t.met, Some(true));
        assert_eq!(t.measured, "mio-pool / tokio = 1.20x");
        // 512 connections were not measured.
        assert_eq!(find(&targets, "64 B, 512 conns: round trips/s").met, None);
    }

    #[test]
    fn absolute_targets_judge_the_figure_itself() {
        let tables = [table("echo-64B-64c", &[(POOL, SyscallsPerOp, 2.3)])];
        let t = one(&tables, "64 B, 64 conns: system calls");
        assert_eq!(t.met, Some(false));
        assert_eq!(t.measured, "mio-pool = 2.30");
    }

    #[test]
    fn anchors_are_reported_not_judged() {
        let tables = [table(
            "http-wrk",
            &[
                ("mio-pool http", Throughput, 90.0),
                ("nginx", Throughput, 100.0),
            ],
        )];
        let t = one(&tables, "http-wrk");
        assert_eq!(t.met, None);
        assert_eq!(t.measured, "mio-pool http / nginx = 0.90x");
    }

    #[test]
    fn every_target_names_a_scenario_that_exists() {
        let mut ids: Vec<String> = crate::bench::scenario::echo_scenarios(1, &[])
            .into_iter()
            .chain(crate::bench::scenario::request_scenarios())
            .map(|s| s.id)
            .collect();
        ids.extend(["http-wrk", "https-wrk", "redis-get", "redis-get-P16", slowloris::ID].map(String::from));
        ids.extend([tls::ECHO, tls::HANDSHAKE, tls::IDLE].map(String::from));
        ids.extend(crate::bench::latency::LEVELS.map(crate::bench::latency::id));
        for t in &TARGETS {
            assert!(
                ids.iter().any(|id| id == t.1),
                "{}: no table {}",
                t.0,
                t.1
            );
        }
    }
}
