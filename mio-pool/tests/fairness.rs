//! One client that never stops sending cannot starve another.

mod util;

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use util::{client, within_hang};

/// Reads 1024 bytes a call, answers every `?` with `!`, ignores the rest;
/// `Ok(false)` while it read anything, as the contract asks.
fn sink(c: &mut mio::net::TcpStream) -> io::Result<bool> {
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    let answers = buf[..n].iter().filter(|&&b| b == b'?').count();
    c.write_all(&vec![b'!'; answers])?;
    Ok(false)
}

#[test]
fn a_flooding_client_does_not_starve_another() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    // One worker: without the fairness cap it would serve the flood forever.
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .run_stateless(1, sink);

    let stop = Arc::new(AtomicBool::new(false));
    let mut flooder = client(addr);
    let (flood_on, flood_is_on) = mpsc::channel();
    let flooding = {
        let stop = stop.clone();
        thread::spawn(move || {
            let chunk = vec![b'x'; 64 * 1024];
            let mut sent = 0u64;
            // Bounded: stops when the other client is done, or after 4 GiB.
            while !stop.load(Ordering::Relaxed) && sent < 4 << 30 {
                flooder.write_all(&chunk).unwrap();
                if sent == 0 {
                    flood_on.send(()).unwrap();
                }
                sent += chunk.len() as u64;
            }
            sent
        })
    };
    // Handshake: the flood is on (its first 64 KiB are written) before the
    // other client starts.
    flood_is_on.recv().unwrap();
    let mut pinger = client(addr);
    let pinged = within_hang("round trips next to a flood", move || {
        for _ in 0..200 {
            pinger.write_all(b"?").unwrap();
            let mut reply = [0u8; 1];
            pinger.read_exact(&mut reply).unwrap();
            assert_eq!(&reply, b"!");
        }
        200
    });
    stop.store(true, Ordering::Relaxed);
    let flooded = flooding.join().unwrap();
    assert_eq!(pinged, 200);
    assert!(flooded >= 64 * 1024);
    h.terminate();
}

/// A connection whose handler always has more to do (a huge internal
/// backlog, say): it returns `Ok(false)` forever once told to start.
struct Endless {
    stream: mio::net::TcpStream,
    busy: bool,
}

delegate_source!(Endless, stream);
impl mio_pool::Connection for Endless {}

/// A pool with one worker whose one connection is always ready: it
/// returns `Ok(false)` forever once told to spin, so that worker never
/// sleeps again.
struct Spinning {
    handle: mio_pool::PoolHandle<()>,
    addr: std::net::SocketAddr,
    /// The spinning client; the connection spins while it is open.
    _spinner: std::net::TcpStream,
    /// Handler calls made while spinning.
    spins: Arc<AtomicU64>,
}

type Builder = mio_pool::PoolBuilder<mio::net::TcpListener, Endless, (), ()>;

fn pool_with_a_spinning_connection(configure: impl FnOnce(Builder) -> Builder) -> Spinning {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let spins = Arc::new(AtomicU64::new(0));
    let counted = spins.clone();
    let builder = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_adapter(|stream| Endless {
            stream,
            busy: false,
        });
    let handle = configure(builder).run_stateless(1, move |c: &mut Endless| {
        if c.busy {
            counted.fetch_add(1, Ordering::Relaxed);
            return Ok(false); // never WouldBlock: only the cap stops it
        }
        let mut buf = [0u8; 64];
        let n = c.stream.read(&mut buf)?;
        match &buf[..n] {
            b"" => Ok(true),
            b"spin" => {
                c.busy = true;
                c.stream.write_all(b"spinning")?;
                Ok(false)
            }
            other => {
                c.stream.write_all(other)?;
                Ok(false)
            }
        }
    });
    let mut spinner = client(addr);
    spinner.write_all(b"spin").unwrap();
    let mut reply = [0u8; 8];
    spinner.read_exact(&mut reply).unwrap();
    assert_eq!(&reply, b"spinning");
    Spinning {
        handle,
        addr,
        _spinner: spinner,
        spins,
    }
}

#[test]
fn a_connection_that_is_never_drained_does_not_starve_another() {
    let Spinning {
        handle: h, addr, ..
    } = pool_with_a_spinning_connection(|b| b);
    // The only worker now has a connection that is always ready. Without
    // the fairness cap this never completes.
    within_hang("served next to a spinning connection", move || {
        let mut c = client(addr);
        for i in 0..50 {
            let msg = format!("ping {i}");
            assert_eq!(util::round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
        }
    });
    h.terminate();
}

/// Other threads on the worker's CPU: a worker that never sleeps yields
/// its CPU every millisecond or so instead of holding it until the
/// scheduler's tick. Without that, the counter never moves.
#[test]
fn a_worker_that_never_sleeps_yields_its_cpu() {
    let spinning = pool_with_a_spinning_connection(|b| b);
    let h = spinning.handle;
    util::wait_stats(&h, "a busy worker yields", |s| s.cpu_yields >= 3);
    h.terminate();
}

/// `set_yield_after(None)`: the same worker, spinning for far longer than
/// the default millisecond, never yields.
#[test]
fn a_worker_told_not_to_yield_never_yields() {
    let spinning = pool_with_a_spinning_connection(|b| b.set_yield_after(None));
    let spins = spinning.spins.clone();
    within_hang("spinning a while", move || {
        // Tens of milliseconds of handler calls, and a poll every 32.
        while spins.load(Ordering::Relaxed) < 2_000_000 {
            thread::yield_now();
        }
    });
    assert_eq!(spinning.handle.stats().cpu_yields, 0);
    spinning.handle.terminate();
}

/// `set_yield_after(Some(ZERO))`: a worker yields before every poll, even
/// in a quiet conversation whose worker sleeps between requests (which the
/// default never yields in: its polls block for longer than a moment).
#[test]
fn a_zero_yield_interval_yields_before_every_poll() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .set_yield_after(Some(Duration::ZERO))
        .with_state(Vec::new())
        .run(1, util::echo);
    let mut c = client(addr);
    for i in 0..10 {
        // Read before the request is sent: the worker's next poll, after
        // it has served the request, comes later still.
        let before = h.stats().cpu_yields;
        let msg = format!("ping {i}");
        assert_eq!(util::round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
        util::wait_stats(&h, "a yield before the next poll", |s| {
            s.cpu_yields > before
        });
    }
    h.terminate();
}
