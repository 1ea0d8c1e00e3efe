//! `redis-benchmark -t set,get` (with and without `-P 16`) against the `kv`
//! example and against redis-server, started here with persistence off in a
//! temporary directory.

use std::process::Command;
use std::time::Duration;

use super::{free_port, measure_tool, which, TempDir, ToolRun};
use crate::bench::run::{Bench, TableId};
use crate::bench::stats::{Metric, Op};
use crate::process::server::{Ready, ServerSpec};

/// Name of our row.
const OURS: &str = "mio-pool kv";
/// Client connections of redis-benchmark.
const CONNS: usize = 64;

/// One redis-benchmark invocation: table id, command, pipeline depth.
const TESTS: [(&str, &str, usize); 4] = [
    ("redis-set", "set", 1),
    ("redis-get", "get", 1),
    ("redis-set-P16", "set", 16),
    ("redis-get-P16", "get", 16),
];

/// Runs the Redis anchor, or records why not.
pub fn run(bench: &mut Bench) {
    let tests: Vec<_> = TESTS.iter().filter(|(id, ..)| bench.wanted(id)).collect();
    if tests.is_empty() {
        return;
    }
    let tables: Vec<TableId> = tests
        .iter()
        .map(|&&(id, command, pipeline)| {
            let title = format!(
                "Redis protocol: redis-benchmark -t {command}, {CONNS} connections{}",
                if pipeline > 1 {
                    format!(", pipeline {pipeline}")
                } else {
                    String::new()
                }
            );
            bench.add_table(id, &title, Op::REQUEST, OURS)
        })
        .collect();
    let skip = |bench: &mut Bench, reason: String| {
        for &t in &tables {
            bench.skip(t, reason.clone());
        }
    };
    let Some(tool) = which("redis-benchmark") else {
        return skip(
            bench,
            "redis-benchmark is not installed (apt-get install redis-tools)".into(),
        );
    };
    let ours = bench.release_bin("kv");
    if !ours.exists() {
        return skip(
            bench,
            format!("{} is not built (no `kv` example yet?)", ours.display()),
        );
    }
    let mut specs = vec![ServerSpec::announcing(
        OURS,
        ours,
        &[],
        bench.args().workers,
    )];
    let temp = match which("redis-server") {
        None => {
            bench.note("redis: redis-server is not installed (apt-get install redis-server); redis-benchmark runs against the kv example only".into());
            None
        }
        Some(program) => match TempDir::new("redis").and_then(|t| Ok((free_port()?, t))) {
            Ok((addr, temp)) => {
                specs.push(ServerSpec {
                    name: "redis-server".into(),
                    program,
                    args: redis_args(addr.port(), &temp.path().display().to_string()),
                    ready: Ready::Connect(addr),
                    stop_signal: libc::SIGTERM,
                    cpu: None,
                });
                Some(temp)
            }
            Err(e) => {
                bench.note(format!("redis: cannot prepare redis-server: {e}"));
                None
            }
        },
    };
    let window = bench.timing().window.as_secs_f64();
    let timeout = Duration::from_secs(if bench.args().quick { 30 } else { 120 });
    bench.in_rounds("redis", &specs, &tables, |bench, _, server, _| {
        tests
            .iter()
            .map(|&&(_, command, pipeline)| {
                // Sized to last about one window at typical loopback rates.
                let per_second = if pipeline > 1 { 500_000.0 } else { 80_000.0 };
                let requests = ((window * per_second) as u64).max(1000);
                let mut cmd = Command::new(&tool);
                cmd.args(["-h", "127.0.0.1", "-p", &server.addr.port().to_string()])
                    .args([
                        "-c",
                        &CONNS.to_string(),
                        "-n",
                        &requests.to_string(),
                        "-r",
                        "10000",
                    ])
                    .args(["-t", command, "-P", &pipeline.to_string()])
                    // Single-threaded client: `--threads 2` measured half the
                    // throughput here (39.7k against 87.7k GET/s on redis-server).
                    .arg("--csv");
                measure_tool(server, bench.perf(), &mut cmd, timeout, |out| {
                    parse_csv(out, requests)
                })
            })
            .collect()
    });
    drop(temp);
}

/// redis-server's command line: loopback, persistence off, files in `dir`.
pub fn redis_args(port: u16, dir: &str) -> Vec<String> {
    [
        "--port",
        &port.to_string(),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
        "--daemonize",
        "no",
        "--protected-mode",
        "no",
        "--logfile",
        "",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

/// Parses `redis-benchmark --csv` output of one test run with `requests` requests.
pub fn parse_csv(text: &str, requests: u64) -> Result<ToolRun, String> {
    let rows: Vec<Vec<String>> = text
        .lines()
        .filter(|l| l.starts_with('"'))
        .map(|l| {
            l.split(',')
                .map(|f| f.trim().trim_matches('"').to_owned())
                .collect()
        })
        .collect();
    let header = rows
        .iter()
        .find(|r| r.first().is_some_and(|f| f == "test"))
        .ok_or("redis-benchmark printed no CSV header")?;
    let data = rows
        .iter()
        .find(|r| r.first().is_some_and(|f| f != "test"))
        .ok_or("redis-benchmark printed no result")?;
    let column = |name: &str| -> Option<f64> {
        let i = header.iter().position(|h| h == name)?;
        data.get(i)?.parse().ok()
    };
    let throughput = column("rps").ok_or("redis-benchmark: no rps column")?;
    let mut latencies = Vec::new();
    for (name, metric) in [
        ("p50_latency_ms", Metric::P50Us),
        ("p99_latency_ms", Metric::P99Us),
    ] {
        if let Some(ms) = column(name) {
            latencies.push((metric, ms * 1000.0));
        }
    }
    Ok(ToolRun {
        requests,
        throughput,
        latencies,
        warnings: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_output() {
        let text = "\"test\",\"rps\",\"avg_latency_ms\",\"min_latency_ms\",\"p50_latency_ms\",\"p95_latency_ms\",\"p99_latency_ms\",\"max_latency_ms\"\n\"SET\",\"95238.10\",\"0.277\",\"0.080\",\"0.271\",\"0.375\",\"0.495\",\"1.127\"\n";
        let run = parse_csv(text, 1000).unwrap();
        assert_eq!(run.throughput, 95238.10);
        assert_eq!(run.requests, 1000);
        assert_eq!(
            run.latencies,
            vec![(Metric::P50Us, 271.0), (Metric::P99Us, 495.0)]
        );
        assert!(parse_csv("WARNING: Could not fetch server CONFIG\n", 1).is_err());
    }

    #[test]
    fn redis_server_has_persistence_off() {
        let args = redis_args(7000, "/tmp/r");
        let at = |flag: &str| {
            args.iter()
                .position(|a| a == flag)
                .map(|i| args[i + 1].as_str())
        };
        assert_eq!(at("--save"), Some(""));
        assert_eq!(at("--appendonly"), Some("no"));
        assert_eq!(at("--bind"), Some("127.0.0.1"));
        assert_eq!(at("--port"), Some("7000"));
    }
}
