//! A panicking handler closes its own connection; the worker and the other
//! connections live on, and the panic is counted.

mod util;

use std::io::{self, Read, Write};

use util::{client, round_trip, wait_stats};

fn touchy(c: &mut mio::net::TcpStream, served: &mut u64) -> io::Result<bool> {
    let mut buf = [0u8; 64];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    if &buf[..n] == b"panic" {
        panic!("the client asked for it");
    }
    c.write_all(&buf[..n])?;
    *served += 1;
    Ok(false)
}

/// On a one-worker pool: a client served before, a victim whose `trigger`
/// makes the pool close it with a panic (seen as EOF or a reset, counted),
/// then the first client and a newcomer are served by that same worker.
fn one_victim_others_served<R>(
    h: &mio_pool::PoolHandle<R>,
    addr: std::net::SocketAddr,
    trigger: &[u8],
) {
    let mut survivor = client(addr);
    round_trip(&mut survivor, b"before");

    let mut victim = client(addr);
    victim.write_all(trigger).unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(victim.read(&mut buf).unwrap_or(0), 0);
    wait_stats(h, "the panic is counted", |s| {
        s.panics == 1 && s.closed == 1
    });

    assert_eq!(round_trip(&mut survivor, b"after"), b"after");
    let mut newcomer = client(addr);
    assert_eq!(round_trip(&mut newcomer, b"new"), b"new");
}

#[test]
fn a_handler_panic_closes_only_its_connection() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    // One worker, so the survivor is served by the very worker that saw
    // the panic.
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_state(0u64)
        .and_return(|n| n)
        .run(1, touchy);
    one_victim_others_served(&h, addr, b"panic");
    let results = h.terminate();
    assert_eq!(results.len(), 1);
    assert_eq!(*results[0].as_ref().expect("the worker survived"), 3);
}

#[test]
fn handler_errors_close_the_connection_and_are_counted() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = mio_pool::PoolBuilder::from(server).unwrap().run_stateless(
        2,
        |c: &mut mio::net::TcpStream| {
            let mut buf = [0u8; 64];
            let n = c.read(&mut buf)?;
            match &buf[..n] {
                b"" => Ok(true),
                b"bad" => Err(io::Error::new(io::ErrorKind::InvalidData, "bad request")),
                b"bye" => {
                    c.write_all(b"ciao")?;
                    Ok(true)
                }
                b"eintr" => {
                    // Interrupted: the pool calls again; the next read
                    // finds nothing and returns WouldBlock.
                    c.write_all(b"again")?;
                    Err(io::ErrorKind::Interrupted.into())
                }
                other => {
                    c.write_all(other)?;
                    Ok(false)
                }
            }
        },
    );
    let mut bad = client(addr);
    bad.write_all(b"bad").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(bad.read(&mut buf).unwrap_or(0), 0, "an error closes");

    let mut done = client(addr);
    done.write_all(b"bye").unwrap();
    let mut reply = Vec::new();
    done.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"ciao", "Ok(true) closes after the reply");

    let mut retry = client(addr);
    assert_eq!(round_trip(&mut retry, b"eintr")[..], b"again"[..]);
    assert_eq!(
        round_trip(&mut retry, b"fine"),
        b"fine",
        "Interrupted keeps it open"
    );

    wait_stats(&h, "errors counted", |s| {
        s.handler_errors == 1 && s.closed == 2
    });
    h.terminate();
}

/// The adapter is user code too: a panic in it drops that one connection;
/// the worker lives on and accepting goes on (the listener was in the
/// panicking worker's hands, disarmed, when it happened).
#[test]
fn an_adapter_panic_drops_only_that_connection() {
    use std::sync::atomic::{AtomicUsize, Ordering};

    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let adapted = AtomicUsize::new(0);
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_adapter(move |stream: mio::net::TcpStream| {
            if adapted.fetch_add(1, Ordering::Relaxed) == 0 {
                panic!("the first connection is refused by panicking");
            }
            stream
        })
        .with_state(Vec::new())
        .run(1, util::echo);
    let mut victim = client(addr);
    let mut buf = [0u8; 8];
    // Dropped by the pool: EOF (or a reset).
    assert_eq!(victim.read(&mut buf).unwrap_or(0), 0);
    wait_stats(&h, "the panic is counted", |s| s.panics == 1);

    let mut newcomer = client(addr);
    assert_eq!(round_trip(&mut newcomer, b"new"), b"new");
    let results = h.terminate();
    assert!(results[0].is_ok(), "the worker survived");
}

/// A listener of one's own whose `accept` panics once.
struct PanicsOnce {
    inner: mio::net::TcpListener,
    panicked: std::sync::atomic::AtomicBool,
}

delegate_source!(PanicsOnce, inner);

impl mio_pool::Listener for PanicsOnce {
    type Connection = mio::net::TcpStream;

    fn accept(&self) -> io::Result<mio::net::TcpStream> {
        if !self
            .panicked
            .swap(true, std::sync::atomic::Ordering::Relaxed)
        {
            panic!("accept panics the first time");
        }
        self.inner.accept().map(|(stream, _)| stream)
    }
}

/// `Listener::accept` can be user code too: its panic is counted, accepting
/// pauses as after a failed accept, and then goes on; the client that was
/// waiting meanwhile is accepted and served.
#[test]
fn a_listener_panic_pauses_accepting_and_loses_no_client() {
    let inner = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = inner.local_addr().unwrap();
    let listener = PanicsOnce {
        inner,
        panicked: std::sync::atomic::AtomicBool::new(false),
    };
    let h = mio_pool::PoolBuilder::from(listener)
        .unwrap()
        .with_state(Vec::new())
        .run(1, util::echo);
    let mut first = client(addr);
    assert_eq!(round_trip(&mut first, b"waited"), b"waited");
    let stats = h.stats();
    assert_eq!((stats.panics, stats.accepted), (1, 1));
    let results = h.terminate();
    assert!(results[0].is_ok(), "the worker survived");
}

/// A connection type whose `Drop` panics once the client asked for it
/// (`close`: and close it; `doom`: and keep it open).
struct DropPanics {
    stream: mio::net::TcpStream,
    doomed: bool,
}

delegate_source!(DropPanics, stream);
impl mio_pool::Connection for DropPanics {}

impl Drop for DropPanics {
    fn drop(&mut self) {
        if self.doomed && !std::thread::panicking() {
            panic!("a connection whose drop panics");
        }
    }
}

/// One worker serving [`DropPanics`] connections, echoing anything else.
fn doomable_pool() -> (mio_pool::PoolHandle<()>, std::net::SocketAddr) {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_adapter(|stream| DropPanics {
            stream,
            doomed: false,
        })
        .run_stateless(1, |c: &mut DropPanics| {
            let mut buf = [0u8; 64];
            let n = c.stream.read(&mut buf)?;
            match &buf[..n] {
                b"" => Ok(true),
                b"close" => {
                    c.doomed = true;
                    Ok(true)
                }
                b"doom" => {
                    c.doomed = true;
                    c.stream.write_all(b"doom")?;
                    Ok(false)
                }
                other => {
                    c.stream.write_all(other)?;
                    Ok(false)
                }
            }
        });
    (h, addr)
}

#[test]
fn a_connection_whose_drop_panics_does_not_kill_its_worker() {
    let (h, addr) = doomable_pool();
    // The only worker dropped the victim; it must still be alive.
    one_victim_others_served(&h, addr, b"close");
    let results = h.terminate();
    assert!(results[0].is_ok(), "the worker survived");
}

#[test]
fn open_connections_whose_drop_panics_are_dropped_safely_when_the_pool_ends() {
    let (h, addr) = doomable_pool();
    let stats = h.stats_handle();
    let mut doomed = client(addr);
    assert_eq!(round_trip(&mut doomed, b"doom"), b"doom");
    // Still open: terminating drops it with the pool, in a worker or in
    // this thread, whichever lets go of the pool last.
    let results = h.terminate();
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(stats.snapshot().panics, 1, "its Drop ran, and panicked");
}
