//! Clients that pipeline requests without reading the replies: the server
//! stops reading once its output reaches the driver's limit, its memory
//! stays bounded, and every reply arrives once the client reads.

mod util;

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use util::{Server, TIMEOUT};

/// The driver's default output limit (1 MiB) plus slack for the server's
/// own growth (allocator, a read's worth of input, thread stacks).
const MEMORY_BOUND: usize = (1 << 20) + (8 << 20);

/// A write that makes no progress this long means the server stopped
/// reading.
const STALL: Duration = Duration::from_millis(300);

enum Writer {
    Stalled { sent: usize },
    Done,
}

/// Writes `requests` (`count` copies of `one`) on a clone of `c` from a
/// thread; reports the first stall, then goes on to the end.
fn pipeline(
    c: &TcpStream,
    one: Vec<u8>,
    count: usize,
) -> (mpsc::Receiver<Writer>, thread::JoinHandle<()>) {
    let mut w = c.try_clone().unwrap();
    w.set_write_timeout(Some(STALL)).unwrap();
    let (tx, rx) = mpsc::channel();
    let writing = thread::spawn(move || {
        let batch: Vec<u8> = one.repeat(256);
        let total = one.len() * count;
        let mut sent = 0;
        let mut stalled = false;
        while sent < total {
            let at = sent % batch.len();
            let end = (batch.len() - at).min(total - sent);
            match w.write(&batch[at..at + end]) {
                Ok(n) => sent += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    if !stalled {
                        stalled = true;
                        let _ = tx.send(Writer::Stalled { sent });
                    }
                }
                Err(e) => panic!("write after {sent} bytes: {e}"),
            }
        }
        let _ = tx.send(Writer::Done);
    });
    (rx, writing)
}

/// Reads until `count` occurrences of `marker` have arrived.
fn count_replies(c: &mut TcpStream, marker: &[u8], count: usize) {
    let mut seen = 0;
    let mut buf = vec![0u8; 64 << 10];
    let mut carry: Vec<u8> = Vec::new();
    while seen < count {
        let n = c.read(&mut buf).expect("read replies");
        assert!(n > 0, "server closed after {seen} of {count} replies");
        carry.extend_from_slice(&buf[..n]);
        let mut at = 0;
        while let Some(i) = carry[at..].windows(marker.len()).position(|w| w == marker) {
            seen += 1;
            at += i + marker.len();
        }
        // Keep a tail that may hold the start of a marker.
        let keep_from = at.max(carry.len().saturating_sub(marker.len() - 1));
        carry.drain(..keep_from);
    }
}

/// Pipelines `count` copies of `request` to `s` without reading; checks
/// that the server stopped reading with bounded memory, then that every
/// reply (recognised by `marker`) arrives.
fn pipelining_without_reading(s: &Server, request: Vec<u8>, count: usize, marker: &[u8]) {
    let baseline = s.status_kib("VmRSS:") << 10;
    let mut c = TcpStream::connect(s.addr).unwrap();
    c.set_read_timeout(Some(TIMEOUT)).unwrap();
    let total = request.len() * count;
    let (progress, writing) = pipeline(&c, request, count);
    match progress.recv_timeout(TIMEOUT).expect("the writer reports") {
        Writer::Stalled { sent } => {
            assert!(sent < total);
            println!(
                "server stopped reading after {} KiB of requests",
                sent >> 10
            );
        }
        Writer::Done => {
            panic!("the server read all {total} bytes of requests: it never stopped reading")
        }
    }
    let grown = (s.status_kib("VmHWM:") << 10).saturating_sub(baseline);
    println!("server resident memory grew by {} KiB", grown >> 10);
    assert!(
        grown < MEMORY_BOUND,
        "the server grew by {grown} bytes, over {MEMORY_BOUND}"
    );
    count_replies(&mut c, marker, count);
    writing.join().unwrap();
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc")]
fn http_pipelining_without_reading_is_bounded_and_fully_answered() {
    let s = Server::start_with(env!("CARGO_BIN_EXE_http"), &["--workers", "1"]);
    let pad = "p".repeat(100);
    let request = format!("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n").into_bytes();
    pipelining_without_reading(&s, request, 120_000, b"HTTP/1.1 200 OK\r\n");
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc")]
fn resp_pipelining_without_reading_is_bounded_and_fully_answered() {
    let s = Server::start_with(env!("CARGO_BIN_EXE_kv"), &["--workers", "1"]);
    let key = "k".repeat(1000);
    let value = "v".repeat(1000);
    let mut c = s.connect();
    let set = format!(
        "*3\r\n$3\r\nSET\r\n${}\r\n{key}\r\n${}\r\n{value}\r\n",
        key.len(),
        value.len()
    );
    c.write_all(set.as_bytes()).unwrap();
    let mut ok = [0u8; 5];
    c.read_exact(&mut ok).unwrap();
    assert_eq!(&ok, b"+OK\r\n");
    let get = format!("*2\r\n$3\r\nGET\r\n${}\r\n{key}\r\n", key.len()).into_bytes();
    let marker = format!("${}\r\n", value.len()).into_bytes();
    pipelining_without_reading(&s, get, 25_000, &marker);
}
