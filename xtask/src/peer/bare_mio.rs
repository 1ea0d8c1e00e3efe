//! The bare mio peer: one thread, one `mio::Poll`, no pool.
//!
//! It reads each ready connection until `WouldBlock` and writes back what it
//! read (or, with `--requests`, its answers). This is the per-core cost floor the pool is held against: no locks,
//! no hand-offs, no wake-ups, one shared read buffer.

use std::io::{self, Read, Write};
use std::net::SocketAddr;

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token};

use super::requests::Answerer;

/// Token of the listening socket; connections use their slot index.
const LISTENER: Token = Token(usize::MAX);

/// One client connection and the reply bytes it could not take yet.
struct Conn {
    /// The socket, registered edge-triggered for reading and writing.
    stream: TcpStream,
    /// Bytes to send back that the socket did not take yet.
    pending: Vec<u8>,
    /// Request state, with `--requests`.
    answerer: Option<Answerer>,
}

/// Serves forever on the calling thread.
pub fn serve(addr: SocketAddr, requests: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    super::announce(listener.local_addr()?)?;
    serve_on(listener, requests)
}

/// Serves `listener` forever on the calling thread, with one `Poll` of its
/// own: the loop of this peer and of each `per-worker` worker.
pub fn serve_on(mut listener: TcpListener, requests: bool) -> io::Result<()> {
    let mut poll = Poll::new()?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;

    let mut events = Events::with_capacity(1024);
    let mut slots: Vec<Option<Conn>> = Vec::new();
    let mut free: Vec<usize> = Vec::new();
    let mut buf = vec![0u8; super::BUF_SIZE];
    loop {
        if let Err(e) = poll.poll(&mut events, None) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        for event in events.iter() {
            if event.token() == LISTENER {
                accept_all(&poll, &listener, &mut slots, &mut free, requests);
                continue;
            }
            let index = event.token().0;
            let Some(conn) = slots.get_mut(index).and_then(Option::as_mut) else {
                continue; // closed earlier in this batch
            };
            if !conn.serve(&mut buf) {
                let mut conn = slots[index].take().expect("slot was just seen occupied");
                let _ = poll.registry().deregister(&mut conn.stream);
                free.push(index);
            }
        }
    }
}

/// Accepts until `WouldBlock`: one accept per event would leave connections
/// waiting in the backlog, since the listener's readiness is edge-triggered.
fn accept_all(
    poll: &Poll,
    listener: &TcpListener,
    slots: &mut Vec<Option<Conn>>,
    free: &mut Vec<usize>,
    requests: bool,
) {
    loop {
        let mut stream = match listener.accept() {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                eprintln!("bare-mio peer: accept: {e}");
                return;
            }
        };
        let _ = stream.set_nodelay(true);
        let index = free.pop().unwrap_or_else(|| {
            slots.push(None);
            slots.len() - 1
        });
        let interest = Interest::READABLE | Interest::WRITABLE;
        if let Err(e) = poll
            .registry()
            .register(&mut stream, Token(index), interest)
        {
            eprintln!("bare-mio peer: register: {e}");
            free.push(index);
            continue;
        }
        slots[index] = Some(Conn {
            stream,
            pending: Vec::new(),
            answerer: requests.then(Answerer::default),
        });
    }
}

impl Conn {
    /// Handles one readiness event; returns `false` once the connection is done.
    fn serve(&mut self, buf: &mut [u8]) -> bool {
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            match write_back(&mut self.stream, &mut self.pending, &pending) {
                Ok(true) => {}
                Ok(false) => return true, // still full: wait for the writable edge
                Err(_) => return false,
            }
        }
        loop {
            match self.stream.read(buf) {
                Ok(0) => return false,
                Ok(n) => match write_back(
                    &mut self.stream,
                    &mut self.pending,
                    super::reply(&mut self.answerer, &buf[..n]),
                ) {
                    Ok(true) => {}
                    // Stop reading until the peer drains its side; the
                    // writable edge brings us back here.
                    Ok(false) => return true,
                    Err(_) => return false,
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return false,
            }
        }
    }
}

/// Writes `data` to `stream`, keeping what it does not take in `pending`.
/// Returns whether everything was written.
fn write_back(stream: &mut TcpStream, pending: &mut Vec<u8>, mut data: &[u8]) -> io::Result<bool> {
    while !data.is_empty() {
        match stream.write(data) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => data = &data[n..],
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                pending.extend_from_slice(data);
                return Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
