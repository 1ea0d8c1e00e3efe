//! Faulty clients: each fault is one short, bounded misbehaviour against
//! one server. Nothing they get back is checked (the servers may answer
//! with an error, or close); what is checked is that the well-behaved
//! clients beside them lose nothing and that the servers' descriptors
//! come back to their baseline.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::Ordering;
use std::thread;
use std::time::{Duration, Instant};

use super::good::Proto;
use super::wire::{self, Rng};
use super::Shared;

/// The faults, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Part of a request, then a reset.
    RstMidRequest,
    /// Requests whose replies are large, a first read, then a reset.
    RstMidReply,
    /// A whole request, then `shutdown(Write)`; reads to the end.
    HalfClose,
    /// A request head trickled a byte a second (held by [`slowloris`]).
    Slowloris,
    /// Pipelined requests as fast as the socket takes them, replies read.
    Flood,
    /// A large request written in pieces of 1 to 512 bytes.
    TrickledHuge,
    /// Random bytes.
    Garbage,
    /// A request head (HTTP) or length (RESP) beyond the server's limit.
    OversizedHead,
    /// Megabytes of pipelined requests, no reply ever read, then a reset.
    PipelineNoRead,
    /// Connect, then close at once without a byte.
    ConnectVanish,
}

impl Fault {
    /// Every fault.
    pub const ALL: [Fault; 10] = [
        Fault::RstMidRequest,
        Fault::RstMidReply,
        Fault::HalfClose,
        Fault::Slowloris,
        Fault::Flood,
        Fault::TrickledHuge,
        Fault::Garbage,
        Fault::OversizedHead,
        Fault::PipelineNoRead,
        Fault::ConnectVanish,
    ];

    /// Its name in the report.
    pub fn name(self) -> &'static str {
        match self {
            Fault::RstMidRequest => "reset mid-request",
            Fault::RstMidReply => "reset mid-reply",
            Fault::HalfClose => "half-close",
            Fault::Slowloris => "slowloris (1 byte/s)",
            Fault::Flood => "flood",
            Fault::TrickledHuge => "byte-trickled huge request",
            Fault::Garbage => "garbage",
            Fault::OversizedHead => "oversized head",
            Fault::PipelineNoRead => "pipelining without reading",
            Fault::ConnectVanish => "connect and vanish",
        }
    }
}

/// Bound on every blocking step of a fault.
const STEP: Duration = Duration::from_secs(3);

/// Key of the large kv value that reply-heavy faults ask for.
pub const BIG_KEY: &[u8] = b"soak:big";

/// Size of that value.
pub const BIG_VALUE: usize = 1024 * 1024;

/// A faulty client thread: random faults (all but slowloris, which
/// [`slowloris`] holds) until `shared.stop`.
pub fn client(proto: Proto, addr: SocketAddr, id: usize, shared: &Shared) {
    let mut rng = Rng::new(1000 + id as u64);
    let kinds: Vec<Fault> = Fault::ALL
        .into_iter()
        .filter(|&f| f != Fault::Slowloris)
        .collect();
    while !shared.stopping() {
        let fault = kinds[rng.range(0, kinds.len() - 1)];
        let Ok(stream) = TcpStream::connect_timeout(&addr, STEP) else {
            thread::sleep(Duration::from_millis(20));
            continue;
        };
        let _ = stream.set_read_timeout(Some(STEP));
        let _ = stream.set_write_timeout(Some(STEP));
        // Errors are the point of a fault: the server may reset or close.
        let _ = run(fault, proto, stream, &mut rng);
        shared.count(fault);
    }
}

/// One fault on a fresh connection.
fn run(fault: Fault, proto: Proto, mut s: TcpStream, rng: &mut Rng) -> std::io::Result<()> {
    let http = proto == Proto::Http;
    match fault {
        Fault::RstMidRequest => {
            let part: &[u8] = if http {
                b"GET / HTTP/1.1\r\nHost: soak\r\nX-Half: "
            } else {
                b"*3\r\n$3\r\nSET\r\n$4\r\nsoak\r\n$100\r\nhalf"
            };
            s.write_all(&part[..rng.range(1, part.len())])?;
            wire::reset(s);
        }
        Fault::RstMidReply => {
            s.write_all(&repeat(&one_request(http, true), 64))?;
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf)?;
            wire::reset(s);
        }
        Fault::HalfClose => {
            s.write_all(&one_request(http, false))?;
            s.shutdown(Shutdown::Write)?;
            read_to_end_bounded(&mut s)?;
        }
        Fault::Slowloris => unreachable!("held by the slowloris thread"),
        Fault::Flood => {
            let reader = s.try_clone()?;
            let drain = thread::spawn(move || read_to_end_bounded(&mut { reader }));
            let chunk = repeat(&one_request(http, false), 256);
            let until = Instant::now() + Duration::from_millis(300);
            while Instant::now() < until {
                s.write_all(&chunk)?;
            }
            s.shutdown(Shutdown::Write)?;
            let _ = drain.join();
        }
        Fault::TrickledHuge => {
            let body = rng.range(64 * 1024, 512 * 1024);
            let mut request = if http {
                format!("POST /upload HTTP/1.1\r\nHost: soak\r\nContent-Length: {body}\r\n\r\n")
                    .into_bytes()
            } else {
                format!("*3\r\n$3\r\nSET\r\n$9\r\nsoak:huge\r\n${body}\r\n").into_bytes()
            };
            request.extend(std::iter::repeat(b'x').take(body));
            if !http {
                request.extend_from_slice(b"\r\n");
            }
            let until = Instant::now() + Duration::from_secs(2);
            let mut at = 0;
            while at < request.len() && Instant::now() < until {
                let n = rng.range(1, 512).min(request.len() - at);
                s.write_all(&request[at..at + n])?;
                at += n;
                if rng.range(0, 15) == 0 {
                    thread::sleep(Duration::from_millis(1));
                }
            }
            let mut buf = [0u8; 1024];
            let _ = s.read(&mut buf);
        }
        Fault::Garbage => {
            let n = rng.range(1, 4096);
            s.write_all(&rng.bytes(n))?;
            s.shutdown(Shutdown::Write)?;
            read_to_end_bounded(&mut s)?;
        }
        Fault::OversizedHead => {
            let request = if http {
                let mut r = b"GET / HTTP/1.1\r\nHost: soak\r\nX-Big: ".to_vec();
                r.extend(std::iter::repeat(b'a').take(rng.range(9 * 1024, 128 * 1024)));
                r.extend_from_slice(b"\r\n\r\n");
                r
            } else if rng.range(0, 1) == 0 {
                b"*99999999999\r\n".to_vec()
            } else {
                b"*2\r\n$3\r\nGET\r\n$99999999999\r\n".to_vec()
            };
            s.write_all(&request)?;
            read_to_end_bounded(&mut s)?;
        }
        Fault::PipelineNoRead => {
            let chunk = repeat(&one_request(http, true), 256);
            let until = Instant::now() + Duration::from_secs(1);
            let mut sent = 0;
            // Stops when the server stops reading (the write times out)
            // or after 8 MiB or a second.
            while sent < 8 << 20 && Instant::now() < until {
                s.write_all(&chunk)?;
                sent += chunk.len();
            }
            wire::reset(s);
        }
        Fault::ConnectVanish => drop(s),
    }
    Ok(())
}

/// A valid request; with `big`, one whose reply is large (kv: the 1 MiB
/// value; http has no large reply, so `GET /`).
fn one_request(http: bool, big: bool) -> Vec<u8> {
    if http {
        return b"GET / HTTP/1.1\r\nHost: soak\r\n\r\n".to_vec();
    }
    let mut out = Vec::new();
    if big {
        wire::command(&mut out, &[b"GET", BIG_KEY]);
    } else {
        wire::command(&mut out, &[b"PING"]);
    }
    out
}

/// `n` copies of `bytes`.
fn repeat(bytes: &[u8], n: usize) -> Vec<u8> {
    bytes.repeat(n)
}

/// Reads until EOF, an error, or [`STEP`] in all.
fn read_to_end_bounded(s: &mut TcpStream) -> std::io::Result<()> {
    let until = Instant::now() + STEP;
    let mut buf = [0u8; 16 * 1024];
    while Instant::now() < until {
        if s.read(&mut buf)? == 0 {
            break;
        }
    }
    Ok(())
}

/// Holds up to `conns` slowloris connections: each sends the next byte of
/// an endless request head once a second (a header that never ends for
/// HTTP, a bulk string of a million bytes for RESP). A connection the
/// server closes (a header deadline, say) is counted and replaced.
pub fn slowloris(proto: Proto, addr: SocketAddr, conns: usize, shared: &Shared) {
    let prefix: &[u8] = if proto == Proto::Http {
        b"GET / HTTP/1.1\r\nHost: soak\r\nX-Slow: "
    } else {
        b"*2\r\n$4\r\nECHO\r\n$1000000\r\n"
    };
    let mut held: Vec<(TcpStream, usize)> = Vec::new();
    while !shared.stopping() {
        let tick = Instant::now();
        while held.len() < conns && !shared.stopping() {
            let Ok(s) = TcpStream::connect_timeout(&addr, STEP) else {
                break;
            };
            if s.set_nonblocking(true).is_err() {
                continue;
            }
            held.push((s, 0));
            shared.count(Fault::Slowloris);
        }
        held.retain_mut(|(s, at)| {
            // Anything readable (EOF, a reset, an error reply such as 408)
            // means the server has given up on the connection.
            let mut buf = [0u8; 512];
            let closed = match s.read(&mut buf) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    let byte = prefix.get(*at).copied().unwrap_or(b'a');
                    *at += 1;
                    matches!(s.write(&[byte]), Err(e) if e.kind() != std::io::ErrorKind::WouldBlock)
                }
                _ => true,
            };
            if closed {
                shared.slowloris_closed.fetch_add(1, Ordering::Relaxed);
            }
            !closed
        });
        thread::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed()));
    }
}
