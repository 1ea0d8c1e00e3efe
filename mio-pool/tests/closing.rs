//! Closing through `Connection::poll_close`: output still queued when the
//! handler returns `Ok(true)` reaches a slow reader whole; a close that
//! never completes is cut off by the close timeout.

#![cfg(unix)]

mod util;

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use mio_pool::{PoolBuilder, PoolHandle};
use util::{client, small_buffer, small_client, wait_stats, within_hang, HANG};

const REPLY: usize = 4 << 20;

fn byte(i: usize) -> u8 {
    (i % 251) as u8
}

/// A connection that queues what the socket does not take, and delivers
/// the queue in `poll_close`.
struct Queued {
    stream: mio::net::TcpStream,
    out: Vec<u8>,
    sent: usize,
    /// Set when `poll_close` first had to wait for the reader.
    waited: Arc<AtomicBool>,
}

delegate_source!(Queued, stream);

impl Queued {
    /// Sends what the socket takes; `WouldBlock` if some is left.
    fn flush(&mut self) -> io::Result<()> {
        while self.sent < self.out.len() {
            match self.stream.write(&self.out[self.sent..]) {
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}

impl mio_pool::Connection for Queued {
    fn poll_close(&mut self) -> io::Result<()> {
        let flushed = self.flush();
        if matches!(&flushed, Err(e) if e.kind() == io::ErrorKind::WouldBlock) {
            self.waited.store(true, Ordering::Release);
        }
        flushed
    }
}

/// Any request is answered with 4 MiB and a close: `Ok(true)` with most of
/// the reply still queued.
fn reply_and_close(c: &mut Queued) -> io::Result<bool> {
    let mut buf = [0u8; 64];
    if c.stream.read(&mut buf)? == 0 {
        return Ok(true);
    }
    c.out = (0..REPLY).map(byte).collect();
    match c.flush() {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(true),
        Err(e) => Err(e),
    }
}

fn queued_pool(close_timeout: Duration) -> (std::net::SocketAddr, Arc<AtomicBool>, PoolHandle<()>) {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let waited = Arc::new(AtomicBool::new(false));
    let flag = waited.clone();
    let h = PoolBuilder::from(server)
        .unwrap()
        .set_close_timeout(close_timeout)
        .with_adapter(move |stream: mio::net::TcpStream| Queued {
            stream: {
                small_buffer(stream.as_raw_fd(), libc::SO_SNDBUF);
                stream
            },
            out: Vec::new(),
            sent: 0,
            waited: flag.clone(),
        })
        .run_stateless(2, reply_and_close);
    (addr, waited, h)
}

/// Handshake: the pool is closing the connection and waiting for the
/// reader (the reply did not fit in the socket buffers).
fn wait_until(flag: Arc<AtomicBool>) {
    within_hang("poll_close waits for the reader", move || {
        while !flag.load(Ordering::Acquire) {
            thread::yield_now();
        }
    });
}

#[test]
fn output_queued_at_close_reaches_a_slow_reader_whole() {
    let (addr, waited, h) = queued_pool(HANG);
    let mut c = small_client(addr);
    c.write_all(b"a lot, then goodbye").unwrap();
    wait_until(waited);
    // Read slowly: 16 KiB at a time, pausing every 256 KiB.
    let mut got = Vec::with_capacity(REPLY);
    let mut buf = [0u8; 16 << 10];
    loop {
        let n = c.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
        if got.len() % (256 << 10) < n {
            thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(got.len(), REPLY, "every byte, then the end of stream");
    assert!(got.iter().enumerate().all(|(i, &b)| b == byte(i)));
    wait_stats(&h, "closed once delivered", |s| {
        s.closed == 1 && s.open == 0
    });
    assert_eq!(h.stats().timed_out, 0);
    h.terminate();
}

#[test]
fn a_close_that_never_completes_is_cut_off_by_the_close_timeout() {
    let (addr, waited, h) = queued_pool(Duration::from_millis(300));
    let mut c = small_client(addr);
    c.write_all(b"a lot, and I will not read it").unwrap();
    wait_until(waited);
    // The client never reads: the pool gives up and drops the connection.
    wait_stats(&h, "the close times out", |s| {
        s.closed == 1 && s.timed_out == 1
    });
    let mut got = Vec::new();
    // What was in the buffers, then the end (or a reset: unsent data).
    let _ = c.read_to_end(&mut got);
    assert!(got.len() < REPLY, "the reply was cut off");
    h.terminate();
}

/// A connection whose close needs two calls: the first says `WouldBlock`.
struct TwoStepClose {
    stream: mio::net::TcpStream,
    calls: Arc<std::sync::atomic::AtomicUsize>,
}

delegate_source!(TwoStepClose, stream);

impl mio_pool::Connection for TwoStepClose {
    fn poll_close(&mut self) -> io::Result<()> {
        match self.calls.fetch_add(1, Ordering::AcqRel) {
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        }
    }
}

/// A connection that timed out and is closing gets `poll_close`, not the
/// handler, for its next event, and closes when that says done.
#[test]
fn an_event_while_closing_calls_poll_close_not_the_handler() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = calls.clone();
    let h = PoolBuilder::from(server)
        .unwrap()
        .set_idle_timeout(Duration::from_millis(100))
        .set_close_timeout(HANG)
        .with_adapter(move |stream| TwoStepClose {
            stream,
            calls: counted.clone(),
        })
        .run_stateless(2, |c: &mut TwoStepClose| {
            assert_eq!(
                c.calls.load(Ordering::Acquire),
                0,
                "the handler ran on a closing connection"
            );
            let mut buf = [0u8; 64];
            match c.stream.read(&mut buf)? {
                0 => Ok(true),
                _ => Ok(false),
            }
        });
    let mut c = client(addr);
    // Handshake: it timed out and its first poll_close said WouldBlock.
    let seen = calls.clone();
    within_hang("the idle timeout starts closing", move || {
        while seen.load(Ordering::Acquire) == 0 {
            thread::yield_now();
        }
    });
    c.write_all(b"an event while closing").unwrap();
    let mut rest = Vec::new();
    let _ = c.read_to_end(&mut rest);
    assert!(rest.is_empty());
    wait_stats(&h, "closed by the second poll_close", |s| s.closed == 1);
    let s = h.stats();
    assert_eq!((s.timed_out, s.panics), (1, 0), "{s:?}");
    assert_eq!(calls.load(Ordering::Acquire), 2);
    h.terminate();
}
