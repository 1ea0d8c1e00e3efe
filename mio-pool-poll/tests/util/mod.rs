//! Helpers shared by the poller's integration tests.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::UnixStream;
use mio_pool_poll::Poll;

/// A timeout that only fires on a real hang, even on a loaded 2-core machine.
pub const HANG: Duration = Duration::from_secs(60);

/// A connected pair: the non-blocking mio end for the poller, and a blocking
/// std end for the test's client.
pub fn pair() -> (UnixStream, StdUnixStream) {
    let (server, client) = StdUnixStream::pair().expect("socketpair");
    server.set_nonblocking(true).expect("nonblocking");
    (UnixStream::from_std(server), client)
}

/// Reads from a non-blocking source until `WouldBlock`; returns the bytes.
pub fn drain(source: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match source.read(&mut buf) {
            Ok(0) => return Ok(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(out),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// Writes all of `data` to a non-blocking socket whose buffer has room.
pub fn send(sink: &mut impl Write, data: &[u8]) {
    sink.write_all(data)
        .expect("write to a socket pair with room");
}

/// Waits until `n` threads are inside `poll` (a handshake, not a sleep).
pub fn wait_polling(poll: &Poll, n: usize) {
    let start = Instant::now();
    while poll.stats().polling_threads < n {
        assert!(start.elapsed() < HANG, "threads never entered poll");
        thread::yield_now();
    }
}

/// Runs `f` on a thread and fails the test if it does not finish in
/// [`HANG`]: a lost wake-up shows up as a stall, not as a hung test run.
pub fn within_hang<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG) {
        Ok(v) => v,
        Err(_) => panic!("{what}: no progress in {HANG:?} (a lost wake-up?)"),
    }
}
