//! The servers driven by the stock clients people use: `curl`, `redis-cli`,
//! `redis-benchmark` and `wrk`. Each test prints why it is skipped, and
//! passes, where its client is not installed; CI installs them.

mod util;

use std::io::{BufRead, BufReader, Write};
use std::process::Command;
use std::time::Duration;

use mio_pool_examples::http::HELLO;
use util::{run_with_timeout, stock_client, Server, TIMEOUT};

fn stdout_of(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "client failed: {}\nstdout: {}\nstderr: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn curl_gets_root_stats_and_404_over_one_connection() {
    let Some(curl) = stock_client("curl") else {
        return;
    };
    let s = Server::start(env!("CARGO_BIN_EXE_http"));
    let base = format!("http://{}", s.addr);
    let out = run_with_timeout(
        Command::new(&curl)
            .args(["-sS", "-v", "--max-time", "20"])
            .arg(format!("{base}/"))
            .arg(format!("{base}/"))
            .arg(format!("{base}/stats")),
        TIMEOUT,
    );
    let body = stdout_of(&out);
    assert!(
        body.starts_with(&format!("{HELLO}{HELLO}{{\"accepted\":")),
        "{body}"
    );
    let verbose = String::from_utf8_lossy(&out.stderr);
    // Three requests, one TCP connection: keep-alive works.
    assert_eq!(verbose.matches("Connected to").count(), 1, "{verbose}");

    let out = run_with_timeout(
        Command::new(&curl)
            .args([
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "20",
            ])
            .arg(format!("{base}/missing")),
        TIMEOUT,
    );
    assert_eq!(stdout_of(&out), "404");

    let out = run_with_timeout(
        Command::new(&curl)
            .args(["-sS", "--http1.0", "--max-time", "20"])
            .arg(format!("{base}/")),
        TIMEOUT,
    );
    assert_eq!(stdout_of(&out), HELLO);
}

#[test]
fn wrk_sees_only_successes() {
    let Some(wrk) = stock_client("wrk") else {
        return;
    };
    let s = Server::start(env!("CARGO_BIN_EXE_http"));
    let out = run_with_timeout(
        Command::new(&wrk)
            .args(["-t", "2", "-c", "16", "-d", "2s", "--timeout", "5s"])
            .arg(format!("http://{}/", s.addr)),
        TIMEOUT,
    );
    let report = stdout_of(&out);
    assert!(report.contains("Requests/sec"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
}

fn redis_cli(cli: &std::path::Path, s: &Server, args: &[&str]) -> String {
    let out = run_with_timeout(
        Command::new(cli)
            .args(["-h", "127.0.0.1", "-p", &s.addr.port().to_string()])
            .args(args),
        TIMEOUT,
    );
    stdout_of(&out)
}

#[test]
fn redis_cli_runs_commands() {
    let Some(cli) = stock_client("redis-cli") else {
        return;
    };
    let s = Server::start(env!("CARGO_BIN_EXE_kv"));
    assert_eq!(redis_cli(&cli, &s, &["PING"]), "PONG\n");
    assert_eq!(
        redis_cli(&cli, &s, &["SET", "greeting", "hello world"]),
        "OK\n"
    );
    assert_eq!(redis_cli(&cli, &s, &["GET", "greeting"]), "hello world\n");
    assert_eq!(redis_cli(&cli, &s, &["INCR", "n"]), "1\n");
    assert_eq!(
        redis_cli(&cli, &s, &["MGET", "greeting", "n", "none"]),
        "hello world\n1\n\n"
    );
    assert_eq!(redis_cli(&cli, &s, &["DBSIZE"]), "2\n");
    let err = redis_cli(&cli, &s, &["NOSUCH"]);
    assert!(err.contains("ERR unknown command 'NOSUCH'"), "{err}");
}

#[test]
fn redis_cli_reads_a_batch_from_stdin() {
    let Some(cli) = stock_client("redis-cli") else {
        return;
    };
    let s = Server::start(env!("CARGO_BIN_EXE_kv"));
    let mut child = Command::new(&cli)
        .args(["-h", "127.0.0.1", "-p", &s.addr.port().to_string()])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start redis-cli");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"SET a 1\nINCR a\nGET a\n")
        .unwrap();
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map(Result::unwrap)
        .collect();
    assert!(child.wait().unwrap().success());
    assert_eq!(lines, ["OK", "2", "2"]);
}

#[test]
fn redis_benchmark_completes_and_loses_no_increment() {
    let Some(bench) = stock_client("redis-benchmark") else {
        return;
    };
    const N: usize = 2000;
    let s = Server::start(env!("CARGO_BIN_EXE_kv"));
    let port = s.addr.port().to_string();
    for pipeline in ["1", "16"] {
        let out = run_with_timeout(
            Command::new(&bench)
                .args(["-h", "127.0.0.1", "-p", &port, "-q"])
                .args(["-n", &N.to_string(), "-c", "10", "-P", pipeline])
                .args(["-t", "ping,set,get,incr,mset"]),
            Duration::from_secs(120),
        );
        let report = stdout_of(&out);
        let errors = String::from_utf8_lossy(&out.stderr);
        assert!(
            !report.contains("rror") && !errors.contains("rror"),
            "redis-benchmark saw errors (pipeline {pipeline}):\n{report}\n{errors}"
        );
        for test in ["PING_INLINE", "PING_MBULK", "SET", "GET", "INCR", "MSET"] {
            // Progress updates are separated by carriage returns.
            assert!(
                report
                    .split(['\r', '\n'])
                    .map(str::trim)
                    .any(|l| l.starts_with(test) && l.contains("requests per second")),
                "no result for {test} (pipeline {pipeline}):\n{report}"
            );
        }
    }
    // Both runs incremented the same key, from ten connections at a time.
    let cli = stock_client("redis-cli");
    if let Some(cli) = cli {
        assert_eq!(
            redis_cli(&cli, &s, &["GET", "counter:__rand_int__"]),
            format!("{}\n", 2 * N)
        );
    }
}
