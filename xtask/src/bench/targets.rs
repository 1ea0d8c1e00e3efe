//! The performance targets, checked against a run's medians.

use serde::Serialize;

use super::report::Table;
use super::stats::{self, Metric};

/// One target and where this run stands.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// What is aimed at.
    pub goal: String,
    /// What this run measured.
    pub measured: String,
    /// Whether it was met; `None` when not measured or when the target is
    /// only to report the figure.
    pub met: Option<bool>,
}

/// Server names the targets refer to.
const POOL: &str = "mio-pool";
/// The async runtime peer.
const TOKIO: &str = "tokio";
/// The single-thread floor.
const BARE: &str = "bare-mio";

/// `a / b` for one metric of two servers in the table `id`.
fn versus(tables: &[Table], id: &str, a: &str, b: &str, metric: Metric) -> Option<f64> {
    let table = tables.iter().find(|t| t.id == id)?;
    stats::ratio(table.get(a, metric)?, table.get(b, metric)?)
}

/// A target met when `value` compares as `ok` says.
fn check(goal: String, label: &str, value: Option<f64>, ok: impl Fn(f64) -> bool) -> Target {
    match value {
        Some(v) => Target {
            goal,
            measured: format!("{label} = {}", stats::format_ratio(v)),
            met: Some(ok(v)),
        },
        None => Target {
            goal,
            measured: "not measured".into(),
            met: None,
        },
    }
}

/// Evaluates every target on the tables of one run.
pub fn evaluate(tables: &[Table]) -> Vec<Target> {
    let mut out = Vec::new();
    for conns in [64, 512] {
        let id = format!("echo-64B-{conns}c");
        out.push(check(
            format!("64 B, {conns} conns: round trips/s ≥ 1.15x tokio's"),
            "mio-pool / tokio",
            versus(tables, &id, POOL, TOKIO, Metric::Throughput),
            |r| r >= 1.15,
        ));
        out.push(check(
            format!("64 B, {conns} conns: p99 no worse than tokio's"),
            "mio-pool / tokio",
            versus(tables, &id, POOL, TOKIO, Metric::P99Us),
            |r| r <= 1.0,
        ));
    }
    let id = "echo-64B-64c";
    out.push(check(
        "CPU per round trip ≤ 1.10x the bare mio loop's (64 B, 64 conns)".into(),
        "mio-pool / bare-mio",
        versus(tables, id, POOL, BARE, Metric::CpuUsPerOp),
        |r| r <= 1.10,
    ));
    out.push(check(
        "system calls per round trip ≤ tokio's (64 B, 64 conns)".into(),
        "mio-pool / tokio",
        versus(tables, id, POOL, TOKIO, Metric::SyscallsPerOp),
        |r| r <= 1.0,
    ));
    out.push(check(
        "context switches per round trip ≤ 0.5x tokio's (64 B, 64 conns)".into(),
        "mio-pool / tokio",
        versus(tables, id, POOL, TOKIO, Metric::CtxSwitchesPerOp),
        |r| r <= 0.5,
    ));
    out.push(check(
        "churn: connections/s ≥ tokio's".into(),
        "mio-pool / tokio",
        versus(tables, "churn", POOL, TOKIO, Metric::Throughput),
        |r| r >= 1.0,
    ));
    let idle = tables.iter().find(|t| t.id == "idle");
    out.push(
        match idle.and_then(|t| t.get(POOL, Metric::IdleSlowdownPct)) {
            Some(pct) => Target {
                goal: "idle connections slow the 64 active ones by < 5%".into(),
                measured: format!("{pct:+.1}%"),
                met: Some(pct < 5.0),
            },
            None => Target {
                goal: "idle connections slow the 64 active ones by < 5%".into(),
                measured: "not measured".into(),
                met: None,
            },
        },
    );
    out.push(check(
        "memory per idle connection ≤ tokio's".into(),
        "mio-pool / tokio",
        versus(tables, "idle", POOL, TOKIO, Metric::IdleKibPerConn),
        |r| r <= 1.0,
    ));
    for (id, ours, theirs) in [
        ("http-wrk", "mio-pool http", "nginx"),
        ("redis-get", "mio-pool kv", "redis-server"),
        ("redis-get-P16", "mio-pool kv", "redis-server"),
    ] {
        let measured = versus(tables, id, ours, theirs, Metric::Throughput);
        out.push(Target {
            goal: format!("{id}: requests/s against {theirs} (report; aim ≥ 1.0x)"),
            measured: measured.map_or("not measured".into(), |r| {
                format!("{ours} / {theirs} = {}", stats::format_ratio(r))
            }),
            met: None,
        });
    }
    out
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

    #[test]
    fn throughput_target_uses_the_ratio_to_tokio() {
        let tables = [table(
            "echo-64B-64c",
            &[
                (POOL, Metric::Throughput, 120.0),
                (TOKIO, Metric::Throughput, 100.0),
            ],
        )];
        let targets = evaluate(&tables);
        assert_eq!(targets[0].met, Some(true));
        assert_eq!(targets[0].measured, "mio-pool / tokio = 1.20x");
        // 512 connections were not measured.
        assert_eq!(targets[2].met, None);
    }

    #[test]
    fn cpu_target_against_the_bare_loop() {
        let tables = [table(
            "echo-64B-64c",
            &[
                (POOL, Metric::CpuUsPerOp, 12.0),
                (BARE, Metric::CpuUsPerOp, 10.0),
            ],
        )];
        let cpu = evaluate(&tables)
            .into_iter()
            .find(|t| t.goal.starts_with("CPU"))
            .unwrap();
        assert_eq!(cpu.met, Some(false));
    }
}
