//! Slowloris: connections that trickle a request head one byte per second
//! and never finish it, held open until the server closes them.
//!
//! One thread serves them all: each second it visits every connection
//! once, spread evenly over the second, and writes the next byte of a
//! head that never ends (a header line that grows forever). On each visit
//! it first tries a read: end of file, a reset, or any reply (such as a
//! `408`) means the server has given up on the connection, which is then
//! counted as closed and dropped.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The start of every trickled head; after it, `a` forever.
const PREFIX: &[u8] = b"GET / HTTP/1.1\r\nHost: bench\r\nX-Trickle: ";

/// Bound on each connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Trickling connections; they stop and close when dropped.
#[derive(Debug)]
pub struct Trickle {
    /// How many were opened.
    opened: usize,
    /// How many the server has closed so far.
    closed: Arc<AtomicUsize>,
    /// Tells the thread to stop.
    stop: Arc<AtomicBool>,
    /// The thread.
    thread: Option<JoinHandle<()>>,
}

impl Trickle {
    /// Opens `n` connections to `addr` (each has sent its first byte when
    /// this returns) and starts trickling.
    pub fn open(addr: SocketAddr, n: usize) -> io::Result<Trickle> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            let mut s = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT)?;
            s.write_all(&PREFIX[..1])?;
            s.set_nonblocking(true)?;
            conns.push((s, 1));
        }
        let closed = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (closed, stop) = (Arc::clone(&closed), Arc::clone(&stop));
            thread::spawn(move || trickle(conns, &closed, &stop))
        };
        Ok(Trickle {
            opened: n,
            closed,
            stop,
            thread: Some(thread),
        })
    }

    /// How many connections were opened.
    pub fn opened(&self) -> usize {
        self.opened
    }

    /// How many the server has closed (or answered) so far.
    pub fn closed(&self) -> usize {
        self.closed.load(Ordering::Relaxed)
    }

    /// Waits until the server has closed `want` connections, or `limit`
    /// has passed; returns how many it closed.
    pub fn wait_closed(&self, want: usize, limit: Duration) -> usize {
        let until = Instant::now() + limit;
        while self.closed() < want && Instant::now() < until {
            thread::sleep(Duration::from_millis(50));
        }
        self.closed()
    }
}

impl Drop for Trickle {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The trickling thread: a byte per connection per second until `stop`.
/// The second is cut into [`SLICES`] slices, and slice `k` visits the
/// connections at indices `len * k / SLICES .. len * (k + 1) / SLICES`.
/// (A connection dropped mid-second moves the last one into its place,
/// which may then be visited twice or not at all in that second.)
fn trickle(mut conns: Vec<(TcpStream, usize)>, closed: &AtomicUsize, stop: &AtomicBool) {
    let mut slice = 0;
    // Every connection sent its first byte when it was opened: the next
    // ones start a second later.
    let mut tick = Instant::now() + Duration::from_secs(1);
    while !stop.load(Ordering::Relaxed) && !conns.is_empty() {
        if Instant::now() < tick {
            thread::sleep(Duration::from_millis(10).min(tick.saturating_duration_since(Instant::now())));
            continue;
        }
        let len = conns.len();
        for at in (len * slice / SLICES..len * (slice + 1) / SLICES).rev() {
            if !visit(&mut conns[at]) {
                closed.fetch_add(1, Ordering::Relaxed);
                conns.swap_remove(at);
            }
        }
        slice = (slice + 1) % SLICES;
        tick += Duration::from_secs(1) / SLICES as u32;
    }
}

/// Slices of a second over which the visits are spread.
const SLICES: usize = 100;

/// One visit: false if the server has given up on the connection, else
/// the next byte written.
fn visit((s, at): &mut (TcpStream, usize)) -> bool {
    let mut buf = [0u8; 256];
    match s.read(&mut buf) {
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
        _ => return false,
    }
    let byte = PREFIX.get(*at).copied().unwrap_or(b'a');
    match s.write(&[byte]) {
        Ok(n) => {
            *at += n;
            true
        }
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn trickles_a_byte_a_second_and_counts_closes() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let trickle = Trickle::open(listener.local_addr().unwrap(), 3).unwrap();
        let mut accepted: Vec<TcpStream> = (0..3).map(|_| listener.accept().unwrap().0).collect();
        // The first byte arrives at once, the next ones a second apart.
        let mut byte = [0u8; 1];
        accepted[0].read_exact(&mut byte).unwrap();
        let first = Instant::now();
        accepted[0].read_exact(&mut byte).unwrap();
        assert_eq!(&byte, b"E");
        assert!(first.elapsed() >= Duration::from_millis(500), "{:?}", first.elapsed());
        assert_eq!(trickle.closed(), 0);
        // The server closes two of them: they are counted, the third is not.
        accepted.truncate(1);
        assert_eq!(trickle.wait_closed(2, Duration::from_secs(20)), 2);
        assert_eq!(trickle.opened(), 3);
    }
}
