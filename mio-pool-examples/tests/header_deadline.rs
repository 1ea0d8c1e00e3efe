//! `http --header-timeout`: clients that trickle a request head one byte a
//! second get `408` and are closed when the deadline passes, while a normal
//! client (`curl`) is served throughout.

mod util;

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use util::{run_with_timeout, stock_client, Server, TIMEOUT};

const TRICKLERS: usize = 200;
const DEADLINE: Duration = Duration::from_secs(1);
/// The pool closes within a quarter of the deadline; the rest is slack for a
/// loaded 2-core machine, where a thread (a worker, or this test's) can wait
/// 2 s for a CPU (measured beside two busy loops). Still half of the default
/// `--header-timeout` (10 s); without a deadline the clients stay open
/// forever.
const LATEST: Duration = Duration::from_secs(5);
const HEAD: &[u8] = b"GET / HTTP/1.1\r\nHost: slow\r\n\r\n";

struct Trickler {
    stream: TcpStream,
    /// When the first byte was about to be sent.
    started: Instant,
    sent: usize,
    reply: Vec<u8>,
    closed_after: Option<Duration>,
}

/// One normal client's request, with curl when installed (and required
/// under CI), else over plain TCP.
fn served(addr: SocketAddr, curl: Option<&std::path::Path>) {
    match curl {
        Some(curl) => {
            let out = run_with_timeout(
                Command::new(curl).args(["-sS", "--max-time", "10", &format!("http://{addr}/")]),
                TIMEOUT,
            );
            assert!(out.status.success(), "curl failed: {out:?}");
            assert_eq!(out.stdout, b"Hello from mio-pool!\n");
        }
        None => {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(TIMEOUT)).unwrap();
            c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut reply = String::new();
            c.read_to_string(&mut reply).unwrap();
            assert!(reply.starts_with("HTTP/1.1 200 OK\r\n"), "{reply}");
        }
    }
}

#[test]
fn trickling_clients_get_408_and_are_closed_while_curl_is_served() {
    let curl = stock_client("curl");
    let s = Server::start_with(
        env!("CARGO_BIN_EXE_http"),
        &["--workers", "2", "--header-timeout", "1"],
    );
    let mut poll = Poll::new().unwrap();
    let mut clients: Vec<Trickler> = (0..TRICKLERS)
        .map(|i| {
            let mut std = std::net::TcpStream::connect(s.addr).unwrap();
            // Before the write: the server may see the byte (and start its
            // deadline) before this thread runs again.
            let started = Instant::now();
            std.write_all(&HEAD[..1]).unwrap();
            std.set_nonblocking(true).unwrap();
            let mut stream = TcpStream::from_std(std);
            poll.registry()
                .register(&mut stream, Token(i), Interest::READABLE)
                .unwrap();
            Trickler {
                stream,
                started,
                sent: 1,
                reply: Vec::new(),
                closed_after: None,
            }
        })
        .collect();

    // A normal client keeps being served while the trickle goes on.
    let trickling = Arc::new(AtomicBool::new(true));
    let normal = {
        let trickling = Arc::clone(&trickling);
        let addr = s.addr;
        let curl = curl.clone();
        thread::spawn(move || {
            let mut served_count = 0;
            while trickling.load(Ordering::Relaxed) || served_count == 0 {
                served(addr, curl.as_deref());
                served_count += 1;
            }
            served_count
        })
    };

    let begin = Instant::now();
    let mut next_byte = begin + Duration::from_secs(1);
    let mut events = Events::with_capacity(256);
    let mut open = TRICKLERS;
    while open > 0 {
        assert!(
            begin.elapsed() < TIMEOUT,
            "{open} trickling clients still open after {TIMEOUT:?}"
        );
        let wait = next_byte.saturating_duration_since(Instant::now());
        poll.poll(&mut events, Some(wait)).unwrap();
        for event in events.iter() {
            let c = &mut clients[event.token().0];
            let mut buf = [0u8; 512];
            loop {
                match c.stream.read(&mut buf) {
                    Ok(0) => {
                        if c.closed_after.is_none() {
                            c.closed_after = Some(c.started.elapsed());
                            open -= 1;
                        }
                        break;
                    }
                    Ok(n) => c.reply.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                        panic!(
                            "client {} was reset, not closed gracefully",
                            event.token().0
                        )
                    }
                    Err(e) => panic!("read: {e}"),
                }
            }
        }
        if Instant::now() >= next_byte {
            // One more byte a second from every client still open.
            for c in clients.iter_mut().filter(|c| c.closed_after.is_none()) {
                if c.sent < HEAD.len() - 1 && c.stream.write(&HEAD[c.sent..c.sent + 1]).is_ok() {
                    c.sent += 1;
                }
            }
            next_byte += Duration::from_secs(1);
        }
    }
    trickling.store(false, Ordering::Relaxed);
    let normals = normal.join().expect("the normal client was served");
    println!("normal client served {normals} times during the trickle");

    for (i, c) in clients.iter().enumerate() {
        let after = c.closed_after.unwrap();
        assert!(
            after >= DEADLINE && after <= LATEST,
            "client {i} closed {after:?} after its first byte"
        );
        let reply = String::from_utf8_lossy(&c.reply);
        assert!(
            reply.starts_with("HTTP/1.1 408 Request Timeout\r\n"),
            "client {i} got {reply:?}"
        );
    }
    let slowest = clients.iter().filter_map(|c| c.closed_after).max().unwrap();
    println!("all {TRICKLERS} trickling clients closed, the last {slowest:?} after its first byte");
}
