//! The slowloris scenario: 64 connections in closed-loop `GET /` round
//! trips against the `http` example, with and without thousands of other
//! connections trickling a request head one byte per second.
//!
//! The trickle must hit the server whose clients it would hurt, so the
//! active load is the echo scenarios' 64-connection ping-pong spoken as
//! HTTP (a `GET /` and its whole response are one round trip; the
//! response's length is probed once), not echo bytes against the `echo`
//! example. Two rows, measured in alternating rounds, each in a fresh
//! server process: the load alone, and the load with the trickle. The
//! ratio of the second to the first is the cost of the trickle. After the
//! window, the trickle goes on until the server has closed every
//! trickling connection or [`DEADLINE_WAIT`] has passed (`--quick`: at
//! once), and the share it closed is reported: a header deadline (10 s by
//! default in the `http` example, issue 9) should close them all.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use super::args::BenchArgs;
use super::load::pingpong::{self, Message};
use super::load::trickle::Trickle;
use super::run::Bench;
use super::scenario;
use super::stats::{Metric, Op};
use super::window::Measured;
use crate::process::server::{RunningServer, ServerSpec};

/// Table id.
pub const ID: &str = "slowloris";
/// The row without the trickle (the baseline).
pub const PLAIN: &str = "http";
/// The row with it.
pub const TRICKLED: &str = "http + trickle";
/// Active connections.
const ACTIVE: usize = 64;
/// How long the trickle may go on after the window for the server to
/// close it: the `http` example's default header deadline, 10 s, plus the
/// quarter that issue 9 allows, plus a margin.
const DEADLINE_WAIT: Duration = Duration::from_secs(15);

/// Trickling connections for `args`.
pub fn trickling(args: &BenchArgs) -> usize {
    args.slowloris
        .unwrap_or(if args.quick { 200 } else { 5000 })
}

/// Runs the scenario, or records why not.
pub fn run(bench: &mut Bench) {
    if !bench.wanted(ID) {
        return;
    }
    let n = trickling(bench.args()).min(bench.room_for_connections());
    let title = format!(
        "slowloris: {ACTIVE} connections in GET / round trips to the http example, alone and with {n} connections trickling a request head at 1 byte/s"
    );
    let t = bench.add_table(ID, &title, Op::ROUND_TRIP, PLAIN);
    let http = bench.release_bin("http");
    if !http.exists() {
        return bench.skip(t, format!("{} is not built", http.display()));
    }
    let workers = bench.args().workers;
    let plain = ServerSpec::announcing(PLAIN, http.clone(), &[], workers);
    let msg = match RunningServer::start(&plain, &bench.log_path(ID, "probe", 0)).and_then(|s| {
        let got = probe(s.addr);
        s.stop();
        got
    }) {
        Ok(m) => m,
        Err(e) => return bench.skip(t, format!("cannot GET / from the http example: {e}")),
    };
    let trickled = ServerSpec::announcing(TRICKLED, http, &[], workers);
    let timing = *bench.timing();
    let wait = if bench.args().quick {
        Duration::ZERO
    } else {
        DEADLINE_WAIT
    };
    bench.in_rounds(ID, &[plain, trickled], &[t], |bench, spec, server, _| {
        vec![measure(server, spec.name == TRICKLED, n, &msg, wait, bench, &timing)]
    });
}

/// One measurement: the active load, with `n` trickling connections
/// (opened first) if `trickle`; then the wait for the server to close them.
fn measure(
    server: &mut RunningServer,
    trickle: bool,
    n: usize,
    msg: &Message,
    wait: Duration,
    bench: &Bench,
    timing: &scenario::Timing,
) -> Result<Measured, String> {
    let trickle = if trickle {
        Some(
            Trickle::open(server.addr, n)
                .map_err(|e| format!("opening {n} trickling connections: {e}"))?,
        )
    } else {
        None
    };
    let mut out = scenario::measure_load(server, bench.perf(), timing, |addr| {
        pingpong::start(addr, ACTIVE, msg, timing.client_threads)
    })?;
    if let Some(trickle) = trickle {
        let closed = trickle.wait_closed(trickle.opened(), wait);
        out.figures.insert(
            Metric::TrickleClosedPct,
            closed as f64 * 100.0 / trickle.opened().max(1) as f64,
        );
    }
    Ok(out)
}

/// GETs `/` once on a keep-alive connection: the request and the length
/// of its response (the same for every `GET /`: the `Date` header has a
/// fixed width).
fn probe(addr: SocketAddr) -> Result<Message, String> {
    let request = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n".to_vec();
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    s.write_all(&request).map_err(|e| e.to_string())?;
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        if let Some(len) = response_len(&got)? {
            return Ok(Message {
                request,
                reply_len: len,
                rare: None,
            });
        }
        match s.read(&mut buf) {
            Ok(0) => return Err("connection closed before the response ended".into()),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// The length of the `200` response at the start of `bytes`, once its head
/// is complete; an error for another status or a response without a
/// `Content-Length`.
pub fn response_len(bytes: &[u8]) -> Result<Option<usize>, String> {
    let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Ok(None);
    };
    let head = String::from_utf8_lossy(&bytes[..end]);
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap_or("");
    if status.split(' ').nth(1) != Some("200") {
        return Err(format!("status line {status:?}"));
    }
    let length = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse::<usize>().ok())
        .ok_or("no Content-Length")?;
    Ok(Some(end + 4 + length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn response_length_counts_head_and_body() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel";
        assert_eq!(response_len(r), Ok(Some(r.len() - 3 + 5)));
        assert_eq!(response_len(b"HTTP/1.1 200 OK\r\nContent-Le"), Ok(None));
        assert!(response_len(b"HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\n").is_err());
        assert!(response_len(b"HTTP/1.1 200 OK\r\n\r\n").is_err());
    }
}
