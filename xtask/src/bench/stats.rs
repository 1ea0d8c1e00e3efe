//! The figures a measurement yields, and the arithmetic on them: medians
//! over rounds, ratios to mio-pool, percentiles, and how each is printed.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::process::procfs::CpuTime;

/// One kind of figure. Every measurement yields a subset of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Operations per second (round trips, connections or requests).
    Throughput,
    /// Median latency, µs.
    P50Us,
    /// 99th percentile latency, µs.
    P99Us,
    /// 99.9th percentile latency, µs.
    P999Us,
    /// Open loop only: 99th percentile of how late the load generator
    /// sent requests against their due time, µs. Latency counts from the
    /// due time, so this part of it is the client's own delay (its threads
    /// waiting for a CPU); when it is near the p99, the machine, not the
    /// server alone, set the tail.
    LateP99Us,
    /// Server CPU time (user + system) per operation, µs.
    CpuUsPerOp,
    /// The user-mode part of [`Metric::CpuUsPerOp`], µs: what the server's
    /// own code costs, as opposed to the kernel's work in its system calls.
    UserCpuUsPerOp,
    /// Server system calls per operation (`perf`).
    SyscallsPerOp,
    /// Server context switches per operation (`perf`).
    CtxSwitchesPerOp,
    /// Server resident memory at the end of the window, MiB.
    RssMib,
    /// Resident memory per idle connection, KiB.
    IdleKibPerConn,
    /// Throughput lost to the idle connections, percent, against the same
    /// active connections measured alone just before and just after, in the
    /// same server process.
    IdleSlowdownPct,
    /// Share of the slowloris scenario's trickling connections that the
    /// server closed (or answered), percent.
    TrickleClosedPct,
}

impl Metric {
    /// Every metric, in the order of report columns.
    pub const ALL: [Metric; 13] = [
        Metric::Throughput,
        Metric::P50Us,
        Metric::P99Us,
        Metric::P999Us,
        Metric::LateP99Us,
        Metric::CpuUsPerOp,
        Metric::UserCpuUsPerOp,
        Metric::SyscallsPerOp,
        Metric::CtxSwitchesPerOp,
        Metric::RssMib,
        Metric::IdleKibPerConn,
        Metric::IdleSlowdownPct,
        Metric::TrickleClosedPct,
    ];

    /// Column header, given what one operation is.
    pub fn header(self, op: Op) -> String {
        match self {
            Metric::Throughput => format!("{}/s", op.plural),
            Metric::P50Us => "p50 µs".into(),
            Metric::P99Us => "p99 µs".into(),
            Metric::P999Us => "p99.9 µs".into(),
            Metric::LateP99Us => "client late p99 µs".into(),
            Metric::CpuUsPerOp => format!("CPU µs/{}", op.short),
            Metric::UserCpuUsPerOp => format!("user µs/{}", op.short),
            Metric::SyscallsPerOp => format!("syscalls/{}", op.short),
            Metric::CtxSwitchesPerOp => format!("ctx sw/{}", op.short),
            Metric::RssMib => "RSS MiB".into(),
            Metric::IdleKibPerConn => "KiB/idle conn".into(),
            Metric::IdleSlowdownPct => "slowdown by idle".into(),
            Metric::TrickleClosedPct => "trickling closed".into(),
        }
    }

    /// The value as printed in tables.
    pub fn format(self, value: f64) -> String {
        match self {
            Metric::Throughput => format_si(value),
            Metric::SyscallsPerOp => format!("{value:.2}"),
            Metric::CtxSwitchesPerOp => format!("{value:.3}"),
            Metric::RssMib => format!("{value:.1}"),
            Metric::IdleSlowdownPct => format!("{value:+.1}%"),
            Metric::TrickleClosedPct => format!("{value:.0}%"),
            _ => format_sig3(value),
        }
    }

    /// Whether a ratio to mio-pool's value means something (a ratio of two
    /// slowdown percentages does not).
    pub fn has_ratio(self) -> bool {
        !matches!(self, Metric::IdleSlowdownPct | Metric::TrickleClosedPct)
    }
}

/// What one operation of a scenario is, for headers. Read back from a saved
/// report as one of the constants below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Op {
    /// Plural name, e.g. `round trips`.
    pub plural: &'static str,
    /// Short name after a slash, e.g. `rt`.
    pub short: &'static str,
}

impl Op {
    /// A request and its response on an open connection.
    pub const ROUND_TRIP: Op = Op {
        plural: "round trips",
        short: "rt",
    };
    /// A whole connection: connect, one round trip, close.
    pub const CONNECTION: Op = Op {
        plural: "conns",
        short: "conn",
    };
    /// A mebibyte of replies (big transfers).
    pub const MIB: Op = Op {
        plural: "MiB",
        short: "MiB",
    };
    /// An HTTP or Redis request.
    pub const REQUEST: Op = Op {
        plural: "requests",
        short: "req",
    };
    /// Every kind of operation.
    pub const ALL: [Op; 4] = [Op::ROUND_TRIP, Op::CONNECTION, Op::MIB, Op::REQUEST];
}

/// An [`Op`] as saved in a report.
#[derive(Deserialize)]
struct OpNames {
    /// [`Op::plural`].
    plural: String,
    /// [`Op::short`].
    short: String,
}

impl<'de> Deserialize<'de> for Op {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Op, D::Error> {
        let names = OpNames::deserialize(d)?;
        Op::ALL
            .into_iter()
            .find(|op| op.plural == names.plural && op.short == names.short)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown operation {:?}", names.plural)))
    }
}

/// The figures of one measurement (or their medians over rounds).
pub type Figures = BTreeMap<Metric, f64>;

/// The median of `values` (mean of the middle two for an even count).
pub fn median(values: &mut [f64]) -> Option<f64> {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Per metric, the median over the samples that have it.
pub fn summarize(samples: &[Figures]) -> Figures {
    let mut summary = Figures::new();
    for metric in Metric::ALL {
        let mut values: Vec<f64> = samples
            .iter()
            .filter_map(|s| s.get(&metric).copied())
            .collect();
        if let Some(m) = median(&mut values) {
            summary.insert(metric, m);
        }
    }
    summary
}

/// `value / base`, or `None` when that is not a finite number.
pub fn ratio(value: f64, base: f64) -> Option<f64> {
    let r = value / base;
    (base != 0.0 && r.is_finite()).then_some(r)
}

/// `total / ops`, or `None` when nothing was counted.
pub fn per_op(total: f64, ops: u64) -> Option<f64> {
    (ops > 0).then(|| total / ops as f64)
}

/// Inserts the CPU figures of a window in which `ops` operations completed.
pub fn insert_cpu(figures: &mut Figures, cpu: CpuTime, ops: u64) {
    if let Some(total) = per_op(cpu.total() * 1e6, ops) {
        figures.insert(Metric::CpuUsPerOp, total);
    }
    if let Some(user) = per_op(cpu.user * 1e6, ops) {
        figures.insert(Metric::UserCpuUsPerOp, user);
    }
}

/// p50, p99 and p99.9 of a histogram of nanoseconds, in microseconds.
pub fn percentiles_us(latency: &Histogram<u64>) -> Vec<(Metric, f64)> {
    if latency.is_empty() {
        return Vec::new();
    }
    [
        (Metric::P50Us, 0.5),
        (Metric::P99Us, 0.99),
        (Metric::P999Us, 0.999),
    ]
    .into_iter()
    .map(|(m, q)| (m, latency.value_at_quantile(q) as f64 / 1000.0))
    .collect()
}

/// A ratio as printed next to a figure: `1.05x`.
pub fn format_ratio(r: f64) -> String {
    format!("{r:.2}x")
}

/// Three significant digits with a k/M suffix: `812`, `94.1k`, `1.23M`.
pub fn format_si(value: f64) -> String {
    let (scaled, suffix) = match value.abs() {
        v if v >= 1e6 => (value / 1e6, "M"),
        v if v >= 1e3 => (value / 1e3, "k"),
        _ => (value, ""),
    };
    format!("{}{suffix}", format_sig3(scaled))
}

/// Three significant digits, no exponent: `0.123`, `1.23`, `12.3`, `123`, `1234`.
pub fn format_sig3(value: f64) -> String {
    match value.abs() {
        0.0 => "0".into(),
        v if v >= 100.0 => format!("{value:.0}"),
        v if v >= 10.0 => format!("{value:.1}"),
        v if v >= 1.0 => format!("{value:.2}"),
        _ => format!("{value:.3}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_even_and_empty() {
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut [4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median(&mut []), None);
    }

    #[test]
    fn summary_takes_medians_per_metric_and_skips_missing() {
        let a = Figures::from([(Metric::Throughput, 100.0), (Metric::SyscallsPerOp, 3.0)]);
        let b = Figures::from([(Metric::Throughput, 300.0)]);
        let c = Figures::from([(Metric::Throughput, 200.0), (Metric::SyscallsPerOp, 5.0)]);
        let s = summarize(&[a, b, c]);
        assert_eq!(s[&Metric::Throughput], 200.0);
        assert_eq!(s[&Metric::SyscallsPerOp], 4.0);
        assert!(!s.contains_key(&Metric::P99Us));
    }

    #[test]
    fn ratios_and_per_op() {
        assert_eq!(ratio(110.0, 100.0), Some(1.1));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(0.0, 0.0), None);
        assert_eq!(per_op(10.0, 4), Some(2.5));
        assert_eq!(per_op(10.0, 0), None);
    }

    #[test]
    fn percentiles_in_microseconds() {
        let mut h = Histogram::<u64>::new_with_bounds(1, 100_000_000_000, 3).unwrap();
        for i in 1..=1000u64 {
            h.record(i * 1000).unwrap(); // 1..=1000 µs
        }
        let p: Figures = percentiles_us(&h).into_iter().collect();
        assert!((p[&Metric::P50Us] - 500.0).abs() < 1.0);
        assert!((p[&Metric::P99Us] - 990.0).abs() < 1.0);
        assert!((p[&Metric::P999Us] - 999.0).abs() < 1.0);
        assert!(percentiles_us(&Histogram::<u64>::new(3).unwrap()).is_empty());
    }

    #[test]
    fn number_formats() {
        assert_eq!(format_si(812.0), "812");
        assert_eq!(format_si(94_123.0), "94.1k");
        assert_eq!(format_si(1_234_567.0), "1.23M");
        assert_eq!(format_sig3(0.1234), "0.123");
        assert_eq!(format_si(0.0), "0");
        assert_eq!(format_sig3(12.345), "12.3");
        assert_eq!(format_ratio(1.046), "1.05x");
        assert_eq!(Metric::IdleSlowdownPct.format(3.21), "+3.2%");
        assert_eq!(Metric::Throughput.header(Op::CONNECTION), "conns/s");
    }
}
