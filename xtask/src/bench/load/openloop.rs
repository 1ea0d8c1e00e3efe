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
use std::time::{Duration, Instant};

use mio::net::TcpStream;
use mio::event::Event;

use super::{connect_and_report, drive, spawn_clients, Driver, Phase, Ready, Running, Tally};

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
    spawn_clients(conns, threads, move |n, phase, ready| {
        let share = rate * n as f64 / conns as f64;
        client(addr, n, size, share, phase, ready)
    })
}

/// One connection of the open loop.
struct Conn {
    /// The socket.
    stream: TcpStream,
    /// Request bytes due but not yet written.
    unsent: usize,
    /// Due and send times of the requests whose replies have not come
    /// back, oldest first. A request counts as sent when this thread got
    /// round to it (it is written at once unless the socket is full, and a
    /// full socket is the server's doing): the gap is the client's own
    /// lateness.
    due: VecDeque<(Instant, Instant)>,
    /// Bytes of the oldest reply read so far.
    received: usize,
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
                        let Some((due, sent)) = self.due.pop_front() else {
                            return Err(io::Error::new(
                                io::ErrorKind::InvalidData,
                                "more bytes back than were sent",
                            ));
                        };
                        self.received -= size;
                        tally.complete_late(phase, due, sent);
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
    ready: &Ready,
) -> Tally {
    let mut tally = Tally::default();
    let Some((mut poll, streams)) = connect_and_report(addr, n, ready) else {
        return tally;
    };
    let mut driver = OpenLoop {
        conns: streams
            .into_iter()
            .map(|stream| Conn {
                stream,
                unsent: 0,
                due: VecDeque::new(),
                received: 0,
            })
            .collect(),
        msg: vec![FILL; size.max(1)],
        buf: vec![0u8; 64 * 1024],
        interval: Duration::from_secs_f64(1.0 / rate),
        next_due: Instant::now(),
        next_conn: 0,
        phase,
    };
    drive(&mut poll, n, &mut driver, phase, &mut tally);
    tally
}

/// The schedule and connections of one client thread.
struct OpenLoop<'a> {
    /// Its connections, by token.
    conns: Vec<Conn>,
    /// One request.
    msg: Vec<u8>,
    /// Read buffer.
    buf: Vec<u8>,
    /// Time between two requests of this thread.
    interval: Duration,
    /// When the next request is due.
    next_due: Instant,
    /// The connection it is due on (modulo their number).
    next_conn: usize,
    /// The run's phase.
    phase: &'a Phase,
}

impl Driver for OpenLoop<'_> {
    /// Queues every request that has fallen due, each on the next live
    /// connection; returns the time to the next one.
    fn before_poll(
        &mut self,
        dead: &[bool],
        failed: &mut Vec<(usize, io::Error)>,
        _: &mut Tally,
    ) -> Duration {
        let now = Instant::now();
        while self.next_due <= now {
            let i = self.next_conn % self.conns.len();
            self.next_conn += 1;
            let conn = &mut self.conns[i];
            if !dead[i] {
                conn.due.push_back((self.next_due, Instant::now()));
                conn.unsent += self.msg.len();
                let result = if conn.due.len() > MAX_OUTSTANDING {
                    Err(io::Error::other("server fell behind the schedule"))
                } else {
                    conn.flush(&self.msg)
                };
                if let Err(e) = result {
                    failed.push((i, e));
                }
            }
            self.next_due += self.interval;
        }
        self.next_due.saturating_duration_since(Instant::now())
    }

    fn schedule(&self) -> Option<(Instant, Duration)> {
        Some((self.next_due, self.interval))
    }

    fn on_event(&mut self, i: usize, event: &Event, tally: &mut Tally) -> io::Result<()> {
        let conn = &mut self.conns[i];
        if event.is_writable() {
            conn.flush(&self.msg)?;
        }
        if event.is_readable() {
            conn.read(self.msg.len(), &mut self.buf, self.phase, tally)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::thread;

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
        // They were sent on time (the socket took them): the wait was the
        // server's, and the client's own lateness says so.
        assert_eq!(tally.late.len(), tally.ops);
        assert!(
            tally.late.value_at_quantile(0.5) < 50_000_000,
            "the client itself was late by {} ns at the median",
            tally.late.value_at_quantile(0.5)
        );
    }
}
