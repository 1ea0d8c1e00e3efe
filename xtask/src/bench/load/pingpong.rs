//! Closed-loop ping-pong: each connection sends a fixed message, waits for
//! a reply of a known length (the echo of the message, or an HTTP response
//! whose length was probed once), and sends the next one at once.
//!
//! Connections are spread over a few client threads, each running its own
//! `mio::Poll`, so one thread drives many connections.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Poll};

use super::{split, Phase, Running, Tally};

/// How long connecting all clients may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Byte pattern of echo messages (any value; echo servers do not look).
const FILL: u8 = 0xa5;

/// What each connection sends, and how long the reply to it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The request.
    pub request: Vec<u8>,
    /// The length of its reply, in bytes.
    pub reply_len: usize,
}

impl Message {
    /// A `size`-byte message that an echo server sends back.
    pub fn echo(size: usize) -> Message {
        Message {
            request: vec![FILL; size],
            reply_len: size,
        }
    }
}

/// Opens `conns` connections over up to `threads` client threads and starts
/// ping-pong with `msg` (the run starts in warm-up). Returns once every
/// connection is open.
pub fn start(
    addr: SocketAddr,
    conns: usize,
    msg: &Message,
    threads: usize,
) -> Result<Running, String> {
    let phase = Phase::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    let handles: Vec<_> = split(conns, threads)
        .into_iter()
        .map(|n| {
            let phase = phase.clone();
            let ready = ready_tx.clone();
            let msg = msg.clone();
            thread::spawn(move || client(addr, n, &msg, &phase, &ready))
        })
        .collect();
    let running = Running {
        phase,
        threads: handles,
    };
    let deadline = Instant::now() + CONNECT_TIMEOUT;
    for _ in 0..running.threads.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let result = ready_rx
            .recv_timeout(left)
            .unwrap_or_else(|_| Err(format!("clients not connected within {CONNECT_TIMEOUT:?}")));
        if let Err(e) = result {
            running.finish();
            return Err(e);
        }
    }
    Ok(running)
}

/// One client connection.
struct Conn {
    /// The socket.
    stream: TcpStream,
    /// Bytes of the current request written so far.
    sent: usize,
    /// Bytes of its reply read so far.
    received: usize,
    /// When the current message started.
    started: Instant,
    /// Whether the connection failed and is out of the run.
    dead: bool,
}

/// A client thread: connect `n` clients, report readiness, then ping-pong
/// until the phase says stop.
fn client(
    addr: SocketAddr,
    n: usize,
    msg: &Message,
    phase: &Phase,
    ready: &mpsc::Sender<Result<(), String>>,
) -> Tally {
    let mut tally = Tally::default();
    let (mut poll, mut conns) = match connect(addr, n) {
        Ok(setup) => {
            let _ = ready.send(Ok(()));
            setup
        }
        Err(e) => {
            let _ = ready.send(Err(format!("connecting to {addr}: {e}")));
            return tally;
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut open = conns.len();
    let now = Instant::now();
    for conn in &mut conns {
        conn.started = now;
        if let Err(e) = conn.drive(false, msg, &mut buf, phase, &mut tally) {
            conn.fail(e, &mut tally, &mut open);
        }
    }
    let mut events = Events::with_capacity(1024);
    while open > 0 && !phase.is_stopped() {
        // A short timeout bounds how long a stop request can go unseen.
        if let Err(e) = poll.poll(&mut events, Some(Duration::from_millis(20))) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tally.error(format!("poll: {e}"));
            break;
        }
        for event in events.iter() {
            let Some(conn) = conns.get_mut(event.token().0) else {
                continue;
            };
            if conn.dead {
                continue;
            }
            if let Err(e) = conn.drive(true, msg, &mut buf, phase, &mut tally) {
                conn.fail(e, &mut tally, &mut open);
            }
        }
    }
    // Deregistration is implicit: dropping `conns` closes the sockets.
    drop(poll);
    tally
}

/// Opens `n` registered connections ([`super::connect`]).
fn connect(addr: SocketAddr, n: usize) -> io::Result<(Poll, Vec<Conn>)> {
    let (poll, streams) = super::connect(addr, n)?;
    let conns = streams
        .into_iter()
        .map(|stream| Conn {
            stream,
            sent: 0,
            received: 0,
            started: Instant::now(),
            dead: false,
        })
        .collect();
    Ok((poll, conns))
}

impl Conn {
    /// Makes as much progress as the socket allows: writes the rest of the
    /// message, reads what came back, and starts the next message whenever
    /// one completes.
    ///
    /// `readable` says whether data may be waiting. Right after a message is
    /// written in full, nothing can have come back yet, so the read (which
    /// would only return `WouldBlock`) is skipped and the next edge awaited;
    /// a read that stops at `received == reply_len` leaves the socket
    /// empty, since the server answers only the one request outstanding, so
    /// the next arrival raises a new edge. (An echo server may send part of
    /// the reply back before the request is all written; that is read when
    /// the write blocks.)
    fn drive(
        &mut self,
        mut readable: bool,
        msg: &Message,
        buf: &mut [u8],
        phase: &Phase,
        tally: &mut Tally,
    ) -> io::Result<()> {
        loop {
            let mut blocked = false;
            let request = &msg.request;
            while self.sent < request.len() {
                match self.stream.write(&request[self.sent..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => self.sent += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        blocked = true;
                        break;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
            }
            if readable || blocked {
                while self.received < msg.reply_len {
                    match self.stream.read(buf) {
                        Ok(0) => {
                            return Err(io::Error::new(
                                io::ErrorKind::UnexpectedEof,
                                "server closed the connection",
                            ))
                        }
                        Ok(n) => self.received += n,
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => return Err(e),
                    }
                }
            }
            if self.received > msg.reply_len {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "reply longer than the {} bytes expected",
                        msg.reply_len
                    ),
                ));
            }
            if self.received < msg.reply_len || self.sent < request.len() {
                return Ok(());
            }
            tally.complete(phase, self.started);
            self.sent = 0;
            self.received = 0;
            self.started = Instant::now();
            readable = false;
        }
    }

    /// Takes a failed connection out of the run.
    fn fail(&mut self, error: io::Error, tally: &mut Tally, open: &mut usize) {
        self.dead = true;
        *open -= 1;
        tally.error(error);
    }
}
