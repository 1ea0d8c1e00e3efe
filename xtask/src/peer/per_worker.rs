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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::peer::requests::REQUEST_LEN;
    use std::io::{Read, Write};
    use std::time::Duration;

    /// Two loops on one port each answer bench requests, large replies
    /// included (more than a socket buffer: the pending path).
    #[test]
    fn loops_share_a_port_and_answer_requests() {
        let first = bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let addr = first.local_addr().unwrap();
        let second = bind(addr).expect("a second SO_REUSEPORT listener on the same port");
        // The loops serve until the test process exits.
        for listener in [first, second] {
            thread::spawn(move || super::super::bare_mio::serve_on(listener, true));
        }
        const LARGE: u32 = 300_000;
        let mut large = [0u8; REQUEST_LEN];
        large[0] = b'L';
        large[1..5].copy_from_slice(&LARGE.to_le_bytes());
        for _ in 0..8 {
            let mut c = std::net::TcpStream::connect(addr).unwrap();
            c.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
            c.write_all(&large).unwrap();
            let mut back = vec![0u8; LARGE as usize];
            c.read_exact(&mut back).unwrap();
            assert!(back.iter().all(|&b| b == b'x'));
            let plain = [9u8; REQUEST_LEN];
            c.write_all(&plain).unwrap();
            let mut echo = [0u8; REQUEST_LEN];
            c.read_exact(&mut echo).unwrap();
            assert_eq!(echo, plain);
        }
    }
}
