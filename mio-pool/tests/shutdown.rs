//! `terminate`, `finish`, `finish_timeout` and dropping the handle.

mod util;

use std::io::{ErrorKind, Read};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use util::{client, echo_pool, round_trip, total, within_hang, HANG};

/// Connects until the listener refuses: a handshake on "the listener is
/// closed", without sleeping for a guessed time.
fn wait_refused(addr: std::net::SocketAddr) {
    let start = Instant::now();
    loop {
        match TcpStream::connect(addr) {
            Err(e) if e.kind() == ErrorKind::ConnectionRefused => return,
            // The listener closed while this handshake was under way.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Err(e) => panic!("unexpected connect error {e}"),
            Ok(_) => {
                assert!(start.elapsed() < HANG, "the listener was never closed");
                thread::yield_now();
            }
        }
    }
}

#[test]
fn terminate_is_prompt_with_idle_and_busy_workers() {
    let (addr, h) = echo_pool(4);
    let mut c = client(addr);
    round_trip(&mut c, b"warm");
    let start = Instant::now();
    let results = h.terminate();
    let took = start.elapsed();
    // Promptness is a wake-up, not a timer: typically well under a
    // millisecond. The bound leaves room for a thread that waits 2 s for a
    // CPU (measured beside two busy loops), and stays under every timer of
    // the pool's (the close timeout, 5 s): a worker left asleep in `poll`
    // would hang here or wait for one of them.
    assert!(took < Duration::from_secs(4), "terminate took {took:?}");
    assert_eq!(results.len(), 4);
    assert_eq!(total(results), 4);
    // The connection was closed with the pool.
    let mut buf = [0u8; 8];
    assert_eq!(c.read(&mut buf).unwrap_or(0), 0);
}

#[test]
fn finish_with_no_clients_returns_at_once() {
    let (addr, h) = echo_pool(2);
    let results = within_hang("finish", move || h.finish());
    assert_eq!(results.len(), 2);
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn finish_waits_for_one_client() {
    let (addr, h) = echo_pool(2);
    let mut c = client(addr);
    round_trip(&mut c, b"before");
    let finishing = thread::spawn(move || h.finish());
    wait_refused(addr);
    // Still served while finishing.
    assert_eq!(round_trip(&mut c, b"during"), b"during");
    assert!(
        !finishing.is_finished(),
        "finish returned with a client open"
    );
    drop(c);
    let results = within_hang("finish after close", move || finishing.join().unwrap());
    assert_eq!(total(results), 12);
}

#[test]
fn finish_waits_for_many_clients() {
    let (addr, h) = echo_pool(3);
    let mut clients: Vec<_> = (0..20).map(|_| client(addr)).collect();
    for c in &mut clients {
        round_trip(c, b"x");
    }
    let finishing = thread::spawn(move || h.finish());
    wait_refused(addr);
    for (i, mut c) in clients.into_iter().enumerate() {
        assert!(!finishing.is_finished(), "returned with {} open", 20 - i);
        assert_eq!(round_trip(&mut c, b"y"), b"y");
    }
    let results = within_hang("finish", move || finishing.join().unwrap());
    assert_eq!(total(results), 40);
}

#[test]
fn a_long_lived_client_keeps_the_pool_while_a_newcomer_is_refused() {
    let (addr, h) = echo_pool(2);
    let mut old = client(addr);
    round_trip(&mut old, b"old");
    let finishing = thread::spawn(move || h.finish());
    wait_refused(addr);
    // The newcomer is refused, not left hanging in a backlog...
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
    // ...while the old client is still served, and keeps the pool alive.
    for _ in 0..10 {
        assert_eq!(round_trip(&mut old, b"still here"), b"still here");
    }
    assert!(!finishing.is_finished());
    drop(old);
    within_hang("finish", move || finishing.join().unwrap());
}

#[test]
fn finish_timeout_closes_what_is_left() {
    let (addr, h) = echo_pool(2);
    let mut stubborn = client(addr);
    round_trip(&mut stubborn, b"never closes");
    let start = Instant::now();
    let results = within_hang("finish_timeout", move || {
        h.finish_timeout(Duration::from_millis(100))
    });
    assert!(start.elapsed() >= Duration::from_millis(100));
    assert_eq!(results.len(), 2);
    let mut buf = [0u8; 8];
    assert_eq!(stubborn.read(&mut buf).unwrap_or(0), 0, "closed at the end");
}

#[test]
fn dropping_the_handle_terminates_the_workers() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    // Each worker's state holds a sender; it is dropped when the worker
    // returns, which is what we wait for.
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_state(tx)
        .run(
            3,
            |c: &mut mio::net::TcpStream, _tx: &mut std::sync::mpsc::Sender<()>| {
                util::echo(c, &mut Vec::new())
            },
        );
    let mut c = client(addr);
    round_trip(&mut c, b"hi");
    drop(h);
    // Every sender is gone: all workers returned, none was left running.
    assert!(rx.recv_timeout(HANG).is_err());
    assert_eq!(
        TcpStream::connect(addr).unwrap_err().kind(),
        ErrorKind::ConnectionRefused
    );
}

#[test]
fn zero_workers_is_a_clear_error() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let err = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .try_run(0, |_: &mut mio::net::TcpStream, _: &mut ()| Ok(true))
        .unwrap_err();
    assert!(matches!(err, mio_pool::RunError::NoWorkers));
    assert!(err.to_string().contains("at least one worker"));
}

/// A connection type whose `Source::deregister` panics once the client
/// asked for it: user code that runs in a worker outside the code the pool
/// guards, so the panic takes the worker down.
struct DeregisterPanics {
    stream: mio::net::TcpStream,
    doomed: bool,
    /// Set just before the panic.
    dying: Arc<AtomicBool>,
}

delegate_source!(DeregisterPanics, stream, before_deregister = die_if_doomed);
impl mio_pool::Connection for DeregisterPanics {}

impl DeregisterPanics {
    fn die_if_doomed(&mut self) {
        if self.doomed {
            self.dying.store(true, Ordering::Release);
            panic!("a connection whose deregister panics");
        }
    }
}

#[test]
fn finish_returns_when_every_worker_has_died() {
    use std::io::Write;

    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let dying = Arc::new(AtomicBool::new(false));
    let flag = dying.clone();
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_adapter(move |stream| DeregisterPanics {
            stream,
            doomed: false,
            dying: flag.clone(),
        })
        .run_stateless(1, |c: &mut DeregisterPanics| {
            let mut buf = [0u8; 64];
            let n = c.stream.read(&mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            if &buf[..n] == b"close" {
                c.doomed = true;
                return Ok(true); // closing deregisters it: the worker dies
            }
            c.stream.write_all(&buf[..n])?;
            Ok(false)
        });
    let mut bystander = client(addr);
    round_trip(&mut bystander, b"open");
    let mut victim = client(addr);
    victim.write_all(b"close").unwrap();
    // Handshake: the victim was accepted and is being closed, so the
    // worker is dying (not the listener about to close on a victim still
    // in the backlog).
    within_hang("the worker panics", move || {
        while !dying.load(Ordering::Acquire) {
            thread::yield_now();
        }
    });
    // The only worker is gone; the bystander stays open, and nobody is
    // left to close it. Without counting live workers this never returns.
    let results = within_hang("finish with no worker left", move || h.finish());
    assert_eq!(results.len(), 1);
    assert!(results[0].is_err(), "the worker died of the panic");
    drop((bystander, victim));
}
