//! The idle timeout and a connection's own deadline: an idle connection is
//! closed within `[d, 1.25 d]`; an own deadline no earlier than due and not a
//! wheel revolution later (its exact bound, two ticks, is the timer unit
//! tests'), `on_deadline` heard before the close, counted in `timed_out`; a
//! connection active every `d/2` is left alone for `4 d`.

mod util;

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use mio_pool::{PoolBuilder, PoolHandle};
use util::{client, round_trip, wait_stats};

/// How late a close may come here, past its timeout or deadline. The pool's
/// own bound (two ticks: within a quarter of these timeouts) is checked
/// exactly, without a clock, by the unit tests in `worker/timers.rs`; here
/// a loaded 2-core machine adds however late a thread gets a CPU, and with
/// two busy loops beside the suite that was up to 2 s (a close 2.59 s after
/// a 1.6 s deadline). Still far below a revolution of the wheel (256 ticks
/// of 50 ms), which is how late a deadline swept in the wrong revolution
/// would come.
const SLACK: Duration = Duration::from_secs(4);

fn idle_echo_pool(idle: Duration) -> (SocketAddr, PoolHandle<Vec<u8>>) {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = PoolBuilder::from(server)
        .unwrap()
        .set_idle_timeout(idle)
        .with_state(Vec::new())
        .and_return(|v| v)
        .run(2, util::echo);
    (addr, h)
}

/// Reads until the end of stream; returns what came and when it ended.
fn read_to_close(c: &mut TcpStream) -> (Vec<u8>, Instant) {
    let mut got = Vec::new();
    match c.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection was never closed: {e}"),
    }
    (got, Instant::now())
}

/// The bound, end to end: an idle connection is closed within
/// `[d, 1.25 d]`. `d` is long enough (4 s, ticks of 50 ms) that the quarter
/// leaves most of a second for a loaded machine to give the worker a CPU.
#[test]
fn an_idle_connection_is_closed_within_a_quarter_of_the_timeout() {
    const D: Duration = Duration::from_secs(4);
    let (addr, h) = idle_echo_pool(D);
    let mut c = client(addr);
    // Fails fast, not after HANG, if nothing closes it.
    c.set_read_timeout(Some(D * 10)).unwrap();
    let sent = Instant::now();
    assert_eq!(round_trip(&mut c, b"hello"), b"hello");
    let replied = Instant::now();
    let (rest, closed) = read_to_close(&mut c);
    assert!(rest.is_empty());
    let since_sent = closed - sent;
    let since_reply = closed - replied;
    assert!(
        since_sent >= D,
        "closed early: {since_sent:?} after the request"
    );
    assert!(
        since_reply <= D + D / 4,
        "closed late: {since_reply:?} after the reply, past 1.25 x {D:?}"
    );
    wait_stats(&h, "the timeout is counted", |s| {
        s.timed_out == 1 && s.open == 0
    });
    h.terminate();
}

/// The case, end to end: a connection active every `d/2` stays open
/// for `4 d`. With `d` = 3 s that is a ping every 1.5 s, so a pause of up to
/// 1.5 s for this thread on a loaded machine still leaves it active.
#[test]
fn a_connection_active_every_half_timeout_stays_open_for_four_timeouts() {
    const D: Duration = Duration::from_secs(3);
    let (addr, h) = idle_echo_pool(D);
    let mut c = client(addr);
    let start = Instant::now();
    let mut replied = Instant::now();
    let mut longest_pause = Duration::ZERO;
    while start.elapsed() < D * 4 {
        longest_pause = longest_pause.max(replied.elapsed());
        c.write_all(b"ping").unwrap();
        let mut back = [0u8; 4];
        c.read_exact(&mut back).unwrap_or_else(|e| {
            panic!(
                "closed while active after {:?} (the longest pause was {longest_pause:?}; \
                 stats {:?}): {e}",
                start.elapsed(),
                h.stats()
            )
        });
        assert_eq!(&back, b"ping");
        replied = Instant::now();
        thread::sleep(D / 2);
    }
    let s = h.stats();
    assert_eq!((s.timed_out, s.open), (0, 1), "{s:?}");
    h.terminate();
}

/// A connection that gives itself a deadline when its request starts, and
/// answers `408` when it passes.
struct Deadlined {
    stream: mio::net::TcpStream,
    deadline: Option<Instant>,
}

delegate_source!(Deadlined, stream);

impl mio_pool::Connection for Deadlined {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    fn on_deadline(&mut self) {
        // A few bytes into an empty send buffer: they fit.
        let _ = self.stream.write_all(b"408 too slow\n");
    }
}

/// The deadline a connection gives itself: well over eight ticks of the
/// coarsest wheel, so a quarter of it is within the pool's bound.
const OWN: Duration = Duration::from_millis(1600);

#[test]
fn a_connection_deadline_closes_it_after_on_deadline_replies() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = PoolBuilder::from(server)
        .unwrap()
        .with_adapter(|stream| Deadlined {
            stream,
            deadline: None,
        })
        .run_stateless(2, |c: &mut Deadlined| {
            let mut buf = [0u8; 64];
            loop {
                match c.stream.read(&mut buf)? {
                    0 => return Ok(true),
                    // The request head starts: it must be complete in OWN
                    // (it never is, here).
                    _ => {
                        c.deadline.get_or_insert_with(|| Instant::now() + OWN);
                    }
                }
            }
        });
    let mut c = client(addr);
    c.set_read_timeout(Some(OWN * 10)).unwrap();
    let sent = Instant::now();
    c.write_all(b"GET / HT").unwrap();
    let (got, closed) = read_to_close(&mut c);
    assert_eq!(
        got, b"408 too slow\n",
        "on_deadline's reply, then the close"
    );
    let took = closed - sent;
    assert!(took >= OWN, "closed early: {took:?}");
    assert!(took <= OWN + SLACK, "closed late: {took:?}");
    wait_stats(&h, "the deadline is counted", |s| {
        s.timed_out == 1 && s.open == 0
    });
    h.terminate();
}

/// A connection that checks the pool's promises about its hooks: no
/// handler call once closing began, `on_deadline` at most once. A broken
/// promise panics, which the pool counts.
struct Watched {
    stream: mio::net::TcpStream,
    closing: bool,
    expired: bool,
}

delegate_source!(Watched, stream);

impl mio_pool::Connection for Watched {
    fn poll_close(&mut self) -> io::Result<()> {
        self.closing = true;
        Ok(())
    }

    fn on_deadline(&mut self) {
        assert!(!self.expired, "on_deadline twice");
        assert!(!self.closing, "on_deadline after closing began");
        self.expired = true;
    }
}

/// Expiry and events race for the same connections: a short idle timeout,
/// and clients whose pauses straddle it, on several workers.
#[test]
fn expiry_racing_events_breaks_no_promise() {
    const SHORT: Duration = Duration::from_millis(30);
    const CLIENTS: usize = 16;
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = PoolBuilder::from(server)
        .unwrap()
        .set_idle_timeout(SHORT)
        .with_adapter(|stream| Watched {
            stream,
            closing: false,
            expired: false,
        })
        .run_stateless(3, |c: &mut Watched| {
            assert!(!c.closing, "the handler ran on a closing connection");
            let mut buf = [0u8; 64];
            let n = c.stream.read(&mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            c.stream.write_all(&buf[..n])?;
            Ok(false)
        });
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            thread::spawn(move || {
                let mut c = client(addr);
                for round in 0..10u64 {
                    // Pauses from well under to just over the timeout.
                    let pause = (i as u64 * 7 + round * 3) % 40;
                    thread::sleep(Duration::from_millis(pause));
                    if c.write_all(b"x").is_err() {
                        return; // timed out meanwhile
                    }
                    let mut b = [0u8; 1];
                    match c.read(&mut b) {
                        Ok(1) => {}
                        _ => return, // closed by the timeout
                    }
                }
            })
        })
        .collect();
    for t in clients {
        t.join().unwrap();
    }
    // One more that only idles: at least one timeout, whatever the timing.
    let mut idle = client(addr);
    assert_eq!(idle.read(&mut [0u8; 1]).unwrap_or(0), 0);
    wait_stats(&h, "every connection closed", |s| {
        s.accepted == CLIENTS as u64 + 1 && s.open == 0
    });
    let s = h.stats();
    assert_eq!(s.panics, 0, "a promise was broken: {s:?}");
    assert!(s.timed_out >= 1, "{s:?}");
    h.terminate();
}
