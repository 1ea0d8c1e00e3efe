//! Open-loop load: requests leave on a fixed schedule whatever the replies
//! do, and each one's latency is counted from when it was *due*, not from
//! when it was sent, so a stalled server is charged for every request it
//! delayed (no coordinated omission, as `wrk2` measures).
//!
//! Each client thread owns a share of the connections and of the rate:
//! every `1 / rate` seconds the next request is due on the next connection
//! (round robin). Requests queue on their connection if the previous ones
//! are unanswered (echo replies come back in order, so the due times of
//! one connection form a queue).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::{Events, Poll};

use super::{split, Phase, Running, Tally};

/// Byte pattern of the requests.
const FILL: u8 = 0x5a;

/// Requests one connection may have outstanding before the run counts
/// the server as fallen behind and stops that connection.
const MAX_OUTSTANDING: usize = 100_000;

/// Opens `conns` connections over up to `threads` client threads and
/// starts sending `size`-byte requests at `rate` per second in all (the
/// run starts in warm-up). Returns once every connection is open.
pub fn start(
    addr: SocketAddr,
    conns: usize,
    size: usize,
    rate: f64,
    threads: usize,
) -> Result<Running, String> {
    if !(rate > 0.0 && rate.is_finite()) {
        return Err(format!("open loop: bad rate {rate}"));
    }
    let phase = Phase::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    let handles: Vec<_> = split(conns, threads)
        .into_iter()
        .map(|n| {
            let phase = phase.clone();
            let ready = ready_tx.clone();
            let share = rate * n as f64 / conns as f64;
            thread::spawn(move || client(addr, n, size, share, &phase, &ready))
        })
        .collect();
    let running = Running {
        phase,
        threads: handles,
    };
    for _ in 0..running.threads.len() {
        let result = ready_rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| Err("clients not connected within 30 s".into()));
        if let Err(e) = result {
            running.finish();
            return Err(e);
        }
    }
    Ok(running)
}

/// One connection of the open loop.
struct Conn {
    /// The socket.
    stream: TcpStream,
    /// Request bytes due but not yet written.
    unsent: usize,
    /// Due times of the requests whose replies have not come back, oldest first.
    due: VecDeque<Instant>,
    /// Bytes of the oldest reply read so far.
    received: usize,
    /// Whether it failed and is out of the run.
    dead: bool,
}

impl Conn {
    /// Writes as much of the due requests as the socket takes.
    fn flush(&mut self, msg: &[u8]) -> io::Result<()> {
        while self.unsent > 0 {
            let from = (msg.len() - self.unsent % msg.len()) % msg.len();
            let n = (msg.len() - from).min(self.unsent);
            match self.stream.write(&msg[from..from + n]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(k) => self.unsent -= k,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Reads every reply that has arrived (until `WouldBlock`, as the
    /// edge-triggered poll requires) and times each against its due time.
    fn read(
        &mut self,
        size: usize,
        buf: &mut [u8],
        phase: &Phase,
        tally: &mut Tally,
    ) -> io::Result<()> {
        loop {
            match self.stream.read(buf) {
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "server closed the connection",
                    ))
                }
                Ok(n) => {
                    self.received += n;
                    while self.received >= size {
                        let Some(due) = self.due.pop_front() else {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "more bytes back than were sent",
                            ));
                        };
                        self.received -= size;
                        tally.complete(phase, due);
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

/// A client thread: `n` connections, `rate` requests per second among them.
fn client(
    addr: SocketAddr,
    n: usize,
    size: usize,
    rate: f64,
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
    let msg = vec![FILL; size.max(1)];
    let size = msg.len();
    let mut buf = vec![0u8; 64 * 1024];
    let interval = Duration::from_secs_f64(1.0 / rate);
    let mut next_due = Instant::now();
    let mut next_conn = 0;
    let mut events = Events::with_capacity(1024);
    let mut open = conns.len();
    while open > 0 && !phase.is_stopped() {
        let now = Instant::now();
        while next_due <= now {
            let i = next_conn % conns.len();
            next_conn += 1;
            let conn = &mut conns[i];
            if !conn.dead {
                conn.due.push_back(next_due);
                conn.unsent += size;
                let result = if conn.due.len() > MAX_OUTSTANDING {
                    Err(io::Error::other("server fell behind the schedule"))
                } else {
                    conn.flush(&msg)
                };
                if let Err(e) = result {
                    conn.dead = true;
                    open -= 1;
                    tally.error(e);
                }
            }
            next_due += interval;
        }
        let wait = next_due
            .saturating_duration_since(Instant::now())
            .min(Duration::from_millis(20));
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
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
            let mut result = Ok(());
            if event.is_writable() {
                result = conn.flush(&msg);
            }
            if result.is_ok() && event.is_readable() {
                result = conn.read(size, &mut buf, phase, &mut tally);
            }
            if let Err(e) = result {
                conn.dead = true;
                open -= 1;
                tally.error(e);
            }
        }
    }
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
            unsent: 0,
            due: VecDeque::new(),
            received: 0,
            dead: false,
        })
        .collect();
    Ok((poll, conns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    /// A server that stalls for `stall`, then echoes: every request due
    /// during the stall is charged for the wait it had, not only the first
    /// (which is all a closed loop would see).
    #[test]
    fn latency_counts_from_the_due_time() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stall = Duration::from_millis(300);
        thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            thread::sleep(stall);
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = s.read(&mut buf) {
                if s.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        let running = start(addr, 1, 8, 200.0, 1).unwrap();
        running.phase.measure();
        thread::sleep(Duration::from_millis(700));
        let tally = running.finish();
        assert_eq!(tally.errors, 0, "{:?}", tally.first_error);
        // About 60 requests fell due during the stall; most waited long.
        let slow = tally
            .latency
            .count_between(100_000_000, u64::MAX / 2);
        assert!(slow >= 20, "only {slow} of {} requests were slow", tally.ops);
        assert!(tally.latency.max() >= 200_000_000);
    }
}
