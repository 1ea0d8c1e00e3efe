//! Closed-loop ping-pong: each connection sends a fixed message, waits for
//! a reply of a known length (the echo of the message, or an HTTP response
//! whose length was probed once), and sends the next one at once.
//!
//! Connections are spread over a few client threads, each running its own
//! `mio::Poll`, so one thread drives many connections.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::event::Event;

use super::{connect_and_report, drive, spawn_clients, Driver, Phase, Ready, Running, Tally};

/// Byte pattern of echo messages (any value; echo servers do not look).
const FILL: u8 = 0xa5;

/// What each connection sends, and how long the reply to it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The request.
    pub request: Vec<u8>,
    /// The length of its reply, in bytes.
    pub reply_len: usize,
    /// A different request sent instead of `request` now and then, with a
    /// reply of the same length, counted as an operation but left out of
    /// the latency figures.
    pub rare: Option<Rare>,
}

/// The rare request of a [`Message`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rare {
    /// The request.
    pub request: Vec<u8>,
    /// One request in `every` of each connection is this one; connections
    /// are staggered so that they do not all send it at once.
    pub every: u32,
}

impl Message {
    /// A `size`-byte message that an echo server sends back.
    pub fn echo(size: usize) -> Message {
        Message {
            request: vec![FILL; size],
            reply_len: size,
            rare: None,
        }
    }

    /// A request of the bench request rule (`xtask/src/peer/requests.rs`):
    /// 64 bytes starting with `kind`, then `reply_len` as a little-endian
    /// `u32` (read only by `L` requests).
    pub fn bench_request(kind: u8, reply_len: usize) -> Vec<u8> {
        let mut request = vec![FILL; crate::peer::requests::REQUEST_LEN];
        request[0] = kind;
        let len = u32::try_from(reply_len).unwrap_or(u32::MAX);
        request[1..5].copy_from_slice(&len.to_le_bytes());
        request
    }

    /// Uneven work: 64-byte echo requests, of which one in `every` makes
    /// the server spin (an `S` request); the spinning ones are not timed.
    pub fn uneven(every: u32) -> Message {
        let len = crate::peer::requests::REQUEST_LEN;
        Message {
            request: vec![FILL; len],
            reply_len: len,
            rare: Some(Rare {
                request: Message::bench_request(b'S', len),
                every: every.max(1),
            }),
        }
    }

    /// A 64-byte request for a `reply_len`-byte reply (an `L` request).
    pub fn large(reply_len: usize) -> Message {
        Message {
            request: Message::bench_request(b'L', reply_len),
            reply_len,
            rare: None,
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
    let msg = msg.clone();
    spawn_clients(conns, threads, move |n, phase, ready| {
        client(addr, n, &msg, phase, ready)
    })
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
    /// Messages this connection started (staggered by its index).
    count: u32,
    /// Whether the current message is the rare one.
    rare: bool,
}

impl Conn {
    /// Counts the message that starts now and decides whether it is the rare one.
    fn next_message(&mut self, msg: &Message) {
        self.count = self.count.wrapping_add(1);
        self.rare = msg.is_rare(self.count);
    }
}

impl Message {
    /// Whether a connection's `count`-th message is the rare one.
    fn is_rare(&self, count: u32) -> bool {
        self.rare.as_ref().is_some_and(|r| count % r.every == 0)
    }
}


/// A client thread: connect `n` clients, report readiness, then ping-pong
/// until the phase says stop.
fn client(addr: SocketAddr, n: usize, msg: &Message, phase: &Phase, ready: &Ready) -> Tally {
    let mut tally = Tally::default();
    let Some((mut poll, streams)) = connect_and_report(addr, n, ready) else {
        return tally;
    };
    let mut driver = PingPong {
        conns: streams
            .into_iter()
            .enumerate()
            .map(|(i, stream)| Conn {
                stream,
                sent: 0,
                received: 0,
                started: Instant::now(),
                // Counted up to `i + 1` before the first message.
                count: i as u32,
                rare: false,
            })
            .collect(),
        msg,
        buf: vec![0u8; 64 * 1024],
        phase,
        started: false,
    };
    drive(&mut poll, n, &mut driver, phase, &mut tally);
    // Deregistration is implicit: dropping the connections closes them.
    tally
}

/// The ping-pong of one client thread.
struct PingPong<'a> {
    /// Its connections, by token.
    conns: Vec<Conn>,
    /// What they send.
    msg: &'a Message,
    /// Read buffer.
    buf: Vec<u8>,
    /// The run's phase.
    phase: &'a Phase,
    /// Whether the first messages have been sent.
    started: bool,
}

impl Driver for PingPong<'_> {
    fn before_poll(
        &mut self,
        _dead: &[bool],
        failed: &mut Vec<(usize, io::Error)>,
        tally: &mut Tally,
    ) -> Duration {
        if !std::mem::replace(&mut self.started, true) {
            let now = Instant::now();
            for (i, conn) in self.conns.iter_mut().enumerate() {
                conn.started = now;
                conn.next_message(self.msg);
                if let Err(e) = conn.drive(false, self.msg, &mut self.buf, self.phase, tally) {
                    failed.push((i, e));
                }
            }
        }
        Duration::MAX
    }

    fn on_event(&mut self, i: usize, _: &Event, tally: &mut Tally) -> io::Result<()> {
        self.conns[i].drive(true, self.msg, &mut self.buf, self.phase, tally)
    }
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
            let request = match (&msg.rare, self.rare) {
                (Some(rare), true) => &rare.request,
                _ => &msg.request,
            };
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
            if self.rare {
                tally.complete_untimed(phase);
            } else {
                tally.complete(phase, self.started);
            }
            self.sent = 0;
            self.received = 0;
            self.started = Instant::now();
            self.next_message(msg);
            readable = false;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_message_in_every_is_the_rare_one() {
        let msg = Message::uneven(100);
        assert_eq!((1..=1000).filter(|&n| msg.is_rare(n)).count(), 10);
        assert!(!(1..=1000).any(|n| Message::echo(64).is_rare(n)));
        let rare = &msg.rare.as_ref().unwrap().request;
        assert_eq!((rare.len(), rare[0]), (64, b'S'));
        assert_eq!(msg.request.len(), msg.reply_len);
    }

    #[test]
    fn large_requests_say_their_reply_length() {
        let msg = Message::large(65_536);
        assert_eq!(msg.request[0], b'L');
        assert_eq!(msg.request[1..5], 65_536u32.to_le_bytes());
        assert_eq!(msg.reply_len, 65_536);
    }
}
