//! Latency at a fixed load (issue 12): 64 connections sending 64-byte
//! requests on an open-loop schedule ([`openloop`]) at 25, 50, 75 and 90%
//! of tokio's peak, every echo server in alternating rounds; p50, p99 and
//! p99.9 counted from when each request was due.
//!
//! tokio's peak is its median round trips/s in the closed-loop
//! `echo-64B-64c` scenario of the same run; when that did not run (`--only`),
//! one closed-loop window against tokio measures it first.

use super::load::openloop;
use super::load::pingpong::{self, Message};
use super::run::Bench;
use super::scenario;
use super::stats::{self, Metric, Op};
use super::window::Gauge;
use crate::process::server::{RunningServer, ServerSpec};

/// The load levels, percent of tokio's peak.
pub const LEVELS: [u32; 4] = [25, 50, 75, 90];

/// Connections.
const CONNS: usize = 64;
/// Request size.
const SIZE: usize = 64;

/// The table id of a level.
pub fn id(level: u32) -> String {
    format!("open-64B-{level}pct")
}

/// The heading of a level's table, offering `rate` requests/s; the charts
/// read the rate back with [`offered_rate`].
fn title(level: u32, rate: f64) -> String {
    format!(
        "open loop: {CONNS} connections, {SIZE}-byte requests at {level}% of tokio's peak ({rate:.0}/s), latency from the due time"
    )
}

/// The offered rate, requests/s, in the heading of a level's table.
pub fn offered_rate(title: &str) -> Option<f64> {
    let (_, rest) = title.split_once("% of tokio's peak (")?;
    rest.split_once("/s)")?.0.parse().ok()
}

/// Runs the levels that `--only` wants.
pub fn run(bench: &mut Bench, servers: &[ServerSpec]) {
    let levels: Vec<u32> = LEVELS
        .into_iter()
        .filter(|&l| bench.wanted(&id(l)))
        .collect();
    if levels.is_empty() {
        return;
    }
    let peak = match bench.figure("echo-64B-64c", "tokio", Metric::Throughput) {
        Some(p) => p,
        None => match tokio_peak(bench, servers) {
            Ok(p) => {
                bench.note(format!(
                    "open loop: tokio's peak measured on its own (median of {PEAK_WINDOWS} windows): {p:.0} round trips/s"
                ));
                p
            }
            Err(e) => {
                for l in levels {
                    let t = bench.add_table(&id(l), &id(l), Op::ROUND_TRIP, super::args::POOL);
                    bench.skip(t, format!("cannot measure tokio's peak: {e}"));
                }
                return;
            }
        },
    };
    let timing = *bench.timing();
    for level in levels {
        let rate = peak * f64::from(level) / 100.0;
        let t = bench.add_table(&id(level), &title(level, rate), Op::ROUND_TRIP, super::args::POOL);
        bench.in_rounds(&id(level), servers, &[t], |bench, _, server, _| {
            vec![scenario::measure_load(server, bench.perf(), &timing, |addr| {
                openloop::start(addr, CONNS, SIZE, rate, timing.client_threads)
            })]
        });
    }
}

/// Closed-loop windows against tokio whose median is its peak: one window
/// moved by a fifth from run to run on this machine (123k-177k round
/// trips/s over one day), and the levels are fractions of it.
const PEAK_WINDOWS: usize = 3;

/// tokio's closed-loop round trips/s with 64 connections: the median of
/// [`PEAK_WINDOWS`] windows against one server process.
fn tokio_peak(bench: &Bench, servers: &[ServerSpec]) -> Result<f64, String> {
    let spec = servers
        .iter()
        .find(|s| s.name == "tokio")
        .ok_or("no tokio server")?;
    let server = RunningServer::start(spec, &bench.log_path("open-peak", "tokio", 0))?;
    let timing = bench.timing();
    let peak = median_of(PEAK_WINDOWS, || {
        let running =
            pingpong::start(server.addr, CONNS, &Message::echo(SIZE), timing.client_threads)?;
        let (tally, readings) = scenario::run_window(running, timing, &mut Gauge::attach(None, &[]));
        if tally.ops == 0 {
            return Err(tally.first_error.unwrap_or_else(|| "no round trip".into()));
        }
        Ok(tally.ops as f64 / readings.seconds)
    });
    server.stop();
    peak
}

/// The median of `n` readings of `read`; the first error if none worked.
fn median_of(n: usize, mut read: impl FnMut() -> Result<f64, String>) -> Result<f64, String> {
    let mut values = Vec::with_capacity(n);
    let mut first_error = None;
    for _ in 0..n {
        match read() {
            Ok(v) => values.push(v),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    stats::median(&mut values).ok_or_else(|| first_error.unwrap_or_else(|| "nothing read".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_peak_is_the_median_of_the_windows_that_worked() {
        let mut readings = vec![Ok(150.0), Err("reset".to_owned()), Ok(120.0), Ok(177.0)].into_iter();
        assert_eq!(median_of(4, || readings.next().unwrap()), Ok(150.0));
        let mut failing = vec![Err("a".to_owned()), Err("b".to_owned())].into_iter();
        assert_eq!(median_of(2, || failing.next().unwrap()), Err("a".to_owned()));
    }

    #[test]
    fn the_offered_rate_reads_back_from_the_title() {
        assert_eq!(offered_rate(&title(75, 61_234.4)), Some(61_234.0));
        assert_eq!(offered_rate("64-byte ping-pong, 64 connections"), None);
    }
}
