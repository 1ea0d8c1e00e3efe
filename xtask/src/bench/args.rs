//! The command line of `cargo xtask bench`.
//!
//! Compiled in the light build too (it needs only clap): `cargo xtask bench
//! --help` and argument errors answer before any release build starts.

use std::path::PathBuf;

/// Name of the mio-pool row, the baseline of every ratio.
pub const POOL: &str = "mio-pool";

/// Names of the peer servers of `cargo xtask peer`, in run order.
pub const PEERS: [&str; 3] = ["tokio", "threads", "bare-mio"];

/// Name of the per-worker-loops peer, a server of the uneven-work and
/// big-transfer scenarios only.
pub const PER_WORKER: &str = "per-worker";

/// What a run writes and how long it and each scenario take, for `--help`.
pub const AFTER_HELP: &str = "\
Writes into target/bench/: report.md (also on stdout), report.json,
chart.svg (throughput and p99 bars per scenario) and the curves, each when
its tables are there: load.svg (latency against offered load, open-*),
connections.svg (round trips/s, p99, CPU/rt and RSS against connections,
echo-64B-*c) and payload.svg (the same against message size, echo-*-64c).
--charts-from report.json draws them again from saved runs, measuring
nothing.

How long, after the release build, on 2 CPUs (measured on an idle
machine on 2026-11-27 unless said otherwise):
  issue 5's scenarios and the anchors, 3 rounds: about 8 min
  64-byte echo at 1, 64, 512, 4,096 and 16,000 connections and 1 KiB and
    16 KiB at 64 (--only echo-64B --only echo-1KiB --only echo-16KiB),
    5 rounds, 5 servers with one --variant: 30 min, of which 16,000
    connections take 14 (the thread-per-connection server's 16,000 threads)
  open loop, 4 levels, 5 rounds (--only open): 3 min
  uneven work and big transfers, 3 scenarios, 5 servers with the
    per-worker peer, 3 rounds (--only uneven --only large): 1 min 40 s
  --pin --only echo-64B-64c --only echo-64B-512c --only large, 3 rounds:
    2 min 10 s
  slowloris: about 1 min with 3 rounds (up to 15 s of waiting per round)
  TLS (tls-echo-64B-64c, tls-handshake, tls-idle, https-wrk): about 2 min
    with 5 rounds at load average 20; --quick: about 8 s
  --quick, everything: about 75 s
Per scenario, 3 rounds: each measurement is a server start, connecting,
0.5 s warm-up, 1.5 s window and a stop, so about 3 s for up to 512
connections, times 4 servers and 3 rounds (echo, churn, open-loop levels:
about 40 s each); 4,096 and 16,000 connections add the connecting (tens of
seconds each); idle adds two windows and 10,000 connections; slowloris has
2 rows and waits up to 15 s after each trickling window. Each --variant
adds a server to every echo and open-loop scenario.";

/// Command line of `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Smoke test: every scenario for a fraction of a second, one round (figures are not meaningful).
    #[arg(long)]
    pub quick: bool,
    /// Times each server is measured per scenario, taking turns [default: 3; --quick: 1].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Warm-up before each measurement window, seconds [default: 0.5; --quick: 0.05].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Measurement window, seconds [default: 1.5; --quick: 0.2].
    #[arg(long)]
    pub window: Option<f64>,
    /// Worker threads of every server.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Per-core figures: the load generator (and the load tools) on CPU 0,
    /// every server on CPU 1 with one worker (`--workers` is ignored).
    #[arg(long)]
    pub pin: bool,
    /// Client threads of the load generator.
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
    /// Idle connections of the idle scenario [default: 10000; --quick: 1000].
    #[arg(long)]
    pub idle: Option<usize>,
    /// Trickling connections of the slowloris scenario [default: 5000; --quick: 200].
    #[arg(long)]
    pub slowloris: Option<usize>,
    /// Run only the scenarios whose id contains this text (repeatable). Ids:
    /// echo-64B-1c, echo-64B-64c, echo-64B-512c, echo-16KiB-64c, churn, idle,
    /// echo-64B-4096c, echo-64B-16000c (--quick: echo-64B-1024c), echo-1KiB-64c,
    /// open-64B-25pct, open-64B-50pct, open-64B-75pct, open-64B-90pct,
    /// uneven-64B-64c, large-64KiB-16c, large-1MiB-16c,
    /// slowloris, tls-echo-64B-64c, tls-handshake, tls-idle, http-wrk,
    /// https-wrk, redis-set, redis-get, redis-set-P16, redis-get-P16.
    #[arg(long)]
    pub only: Vec<String>,
    /// Skip the external anchors (wrk against nginx in HTTP and HTTPS, redis-benchmark against redis-server).
    #[arg(long)]
    pub no_anchors: bool,
    /// Do not count system calls and context switches with perf.
    #[arg(long)]
    pub no_perf: bool,
    /// Also run the mio-pool echo server with extra options, as a server of
    /// its own named NAME (repeatable), e.g. `--variant "no-yield=--yield-after-us off"`:
    /// an A/B comparison within one interleaved run.
    #[arg(long, value_name = "NAME=OPTIONS", value_parser = parse_variant)]
    pub variant: Vec<Variant>,
    /// Stand-in for the mio-pool echo server: `peer:NAME` (a peer of `cargo xtask peer`)
    /// or the path of a server with the examples' command line.
    #[arg(long, hide = true)]
    pub server: Option<String>,
    /// Measure nothing: draw the charts from this saved `report.json`
    /// (repeatable; a later file's table replaces an earlier one's of the
    /// same scenario): chart.svg, and load.svg, connections.svg and
    /// payload.svg where the tables for two points of their x axis are there.
    #[arg(long, value_name = "FILE")]
    pub charts_from: Vec<PathBuf>,
    /// Where `--charts-from` writes the charts [default: target/bench].
    #[arg(long, value_name = "DIR", requires = "charts_from")]
    pub charts_to: Option<PathBuf>,
    /// Run from this binary without building (set when xtask hands over to its release build).
    #[arg(long, hide = true)]
    pub no_build: bool,
}

/// An extra mio-pool echo server of `--variant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name in the report.
    pub name: String,
    /// Options added to the echo server's command line.
    pub options: Vec<String>,
}

/// Parses `NAME=OPTIONS` of `--variant`.
fn parse_variant(s: &str) -> Result<Variant, String> {
    let (name, options) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=OPTIONS"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{s:?}: the name is empty"));
    }
    if name == POOL || name == PER_WORKER || PEERS.contains(&name) {
        return Err(format!("{name:?} is the name of a server already"));
    }
    Ok(Variant {
        name: name.to_owned(),
        options: options.split_whitespace().map(str::to_owned).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_a_name_and_options() {
        assert_eq!(
            parse_variant("no-yield=--yield-after-us off").unwrap(),
            Variant {
                name: "no-yield".into(),
                options: vec!["--yield-after-us".into(), "off".into()],
            }
        );
        assert_eq!(
            parse_variant("same=").unwrap().options,
            Vec::<String>::new()
        );
        assert!(parse_variant("no equals sign").is_err());
        assert!(parse_variant("=--x").is_err());
        assert!(parse_variant("tokio=--x").is_err());
    }
}
