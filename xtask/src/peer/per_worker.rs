//! The per-worker peer: what nginx and thread-per-core runtimes do. Each of
//! `--workers` threads runs the bare mio loop of [`super::bare_mio`] on a
//! listener of its own, all bound to one port with `SO_REUSEPORT`, so the
//! kernel spreads new connections over the loops and a connection stays on
//! its loop for life: no shared state, but also no way for an idle loop to
//! take work from a busy one.

use std::io;
use std::net::SocketAddr;
use std::thread;

use mio::net::TcpListener;
use socket2::{Domain, Protocol, Socket, Type};

/// Binds `workers` listeners to `addr` (port 0: the port the first one
/// got), announces, and serves each on a thread of its own forever.
pub fn serve(addr: SocketAddr, workers: usize, requests: bool) -> io::Result<()> {
    let first = bind(addr)?;
    let addr = first.local_addr()?;
    let mut listeners = vec![first];
    for _ in 1..workers {
        listeners.push(bind(addr)?);
    }
    super::announce(addr)?;
    let last = listeners.pop().expect("at least one listener");
    for listener in listeners {
        thread::Builder::new()
            .name("per-worker".into())
            .spawn(move || {
                if let Err(e) = super::bare_mio::serve_on(listener, requests) {
                    eprintln!("per-worker peer: {e}");
                    std::process::exit(1);
                }
            })?;
    }
    super::bare_mio::serve_on(last, requests)
}

/// A non-blocking listener on `addr` with `SO_REUSEPORT`.
fn bind(addr: SocketAddr) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(TcpListener::from_std(socket.into()))
}
