//! The load generator: closed-loop clients that drive a server and time it.
//!
//! A run has three phases shared by all client threads through [`Phase`]:
//! warm-up (traffic flows, nothing is recorded), measure (every operation
//! that *completes* is counted and its latency recorded) and stop (threads
//! finish and return their [`Tally`]). The caller switches phases, so the
//! window is exactly the time between its two switches, and the same window
//! brackets the server's CPU and `perf` readings.

pub mod churn;
pub mod idle;
pub mod openloop;
pub mod pingpong;
pub mod tls;
pub mod trickle;

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mio::event::Event;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use hdrhistogram::Histogram;

/// The phase of a run, shared between the caller and its client threads.
#[derive(Debug, Clone)]
pub struct Phase(Arc<AtomicU8>);

/// Traffic flows, nothing is recorded.
const WARMUP: u8 = 0;
/// Completed operations are counted and timed.
const MEASURE: u8 = 1;
/// Client threads return.
const STOP: u8 = 2;

impl Phase {
    /// A new run, in warm-up.
    pub fn new() -> Phase {
        Phase(Arc::new(AtomicU8::new(WARMUP)))
    }

    /// Opens the measurement window.
    pub fn measure(&self) {
        self.0.store(MEASURE, Ordering::SeqCst);
    }

    /// Closes the window and tells the client threads to return.
    pub fn stop(&self) {
        self.0.store(STOP, Ordering::SeqCst);
    }

    /// Whether completed operations count now.
    pub fn is_measuring(&self) -> bool {
        self.0.load(Ordering::Relaxed) == MEASURE
    }

    /// Whether client threads should return.
    pub fn is_stopped(&self) -> bool {
        self.0.load(Ordering::Relaxed) == STOP
    }
}

/// What client threads counted in the window.
#[derive(Debug, Clone)]
pub struct Tally {
    /// Operations (round trips, connections) completed inside the window.
    pub ops: u64,
    /// Latency of each of them, in nanoseconds.
    pub latency: Histogram<u64>,
    /// Open loop only: how late each of them was sent against its due
    /// time, in nanoseconds (empty for the closed-loop loads).
    pub late: Histogram<u64>,
    /// Operations that failed (any phase).
    pub errors: u64,
    /// The first failure, to show.
    pub first_error: Option<String>,
}

/// A histogram of 1 ns to 100 s at 3 significant digits.
fn nanos_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, 3).expect("valid histogram bounds")
}

impl Default for Tally {
    fn default() -> Tally {
        Tally {
            ops: 0,
            latency: nanos_histogram(),
            late: nanos_histogram(),
            errors: 0,
            first_error: None,
        }
    }
}

impl Tally {
    /// Records an operation that started at `started` and just completed,
    /// if the window is open.
    pub fn complete(&mut self, phase: &Phase, started: Instant) {
        if phase.is_measuring() {
            self.ops += 1;
            let nanos = started.elapsed().as_nanos().min(u64::MAX as u128) as u64;
            self.latency.saturating_record(nanos.max(1));
        }
    }

    /// Records an open-loop request that fell due at `due`, was sent at
    /// `sent` and was just answered, if the window is open: its latency
    /// from `due`, and how late it went out.
    pub fn complete_late(&mut self, phase: &Phase, due: Instant, sent: Instant) {
        if phase.is_measuring() {
            let late = sent.saturating_duration_since(due).as_nanos();
            self.late
                .saturating_record((late.min(u64::MAX as u128) as u64).max(1));
        }
        self.complete(phase, due);
    }

    /// Records an operation that just completed, if the window is open,
    /// without its latency.
    pub fn complete_untimed(&mut self, phase: &Phase) {
        if phase.is_measuring() {
            self.ops += 1;
        }
    }

    /// Records a failed operation.
    pub fn error(&mut self, error: impl std::fmt::Display) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }

    /// Adds another thread's tally to this one.
    pub fn merge(&mut self, other: Tally) {
        self.ops += other.ops;
        self.errors += other.errors;
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        let _ = self.late.add(&other.late);
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Client threads generating load; stop them with [`Running::finish`].
#[derive(Debug)]
pub struct Running {
    /// The phase they follow.
    pub phase: Phase,
    /// The threads, each returning its tally.
    threads: Vec<JoinHandle<Tally>>,
}

impl Running {
    /// Stops the threads and merges their tallies.
    pub fn finish(self) -> Tally {
        self.phase.stop();
        let mut total = Tally::default();
        for thread in self.threads {
            match thread.join() {
                Ok(tally) => total.merge(tally),
                Err(_) => total.error("a client thread panicked"),
            }
        }
        total
    }
}

/// How long connecting all clients may take: 30 s, plus 5 ms for each
/// connection (16,000 connections took more than 30 s on a busy 2-core
/// machine, where a full accept backlog makes a connect wait for a
/// retransmitted SYN).
fn connect_timeout(conns: usize) -> Duration {
    Duration::from_secs(30) + Duration::from_millis(5) * conns as u32
}

/// Tells the starter whether a client thread's connections are open.
pub type Ready = mpsc::Sender<Result<(), String>>;

/// Starts client threads for `conns` connections split over up to
/// `threads` threads: `client(n, phase, ready)` runs on each with its share
/// `n`, reports on `ready` once its connections are open (or could not
/// be), then generates load until the phase says stop. Returns once every
/// thread is connected (the run starts in warm-up), or the first error.
pub fn spawn_clients<F>(conns: usize, threads: usize, client: F) -> Result<Running, String>
where
    F: Fn(usize, &Phase, &Ready) -> Tally + Clone + Send + 'static,
{
    let phase = Phase::new();
    let (ready_tx, ready_rx) = mpsc::channel();
    let handles: Vec<_> = split(conns, threads)
        .into_iter()
        .map(|n| {
            let phase = phase.clone();
            let ready = ready_tx.clone();
            let client = client.clone();
            thread::spawn(move || client(n, &phase, &ready))
        })
        .collect();
    let running = Running {
        phase,
        threads: handles,
    };
    let limit = connect_timeout(conns);
    let deadline = Instant::now() + limit;
    for _ in 0..running.threads.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        let result = ready_rx
            .recv_timeout(left)
            .unwrap_or_else(|_| Err(format!("clients not connected within {limit:?}")));
        if let Err(e) = result {
            running.finish();
            return Err(e);
        }
    }
    Ok(running)
}

/// What a client thread does with its connections, for [`drive`].
pub trait Driver {
    /// Timed work before each poll (the open loop's schedule). Connections
    /// it fails go into `failed`; `dead` says which failed earlier. Returns
    /// how long the poll may wait.
    fn before_poll(
        &mut self,
        dead: &[bool],
        failed: &mut Vec<(usize, io::Error)>,
        tally: &mut Tally,
    ) -> Duration;

    /// Handles a readiness event of connection `i`; an error takes the
    /// connection out of the run.
    fn on_event(&mut self, i: usize, event: &Event, tally: &mut Tally) -> io::Result<()>;

    /// For timed work at a steady rate (the open loop): when the first
    /// piece falls due, and the interval between two. [`drive`] then wakes
    /// on a timer of nanosecond precision at each, because a poll timeout
    /// is rounded *up* to whole milliseconds (mio, as `epoll_wait`): with
    /// only the timeout, an open-loop client at a low rate sent its
    /// requests in bursts up to 1 ms late, and every server's p50 at 25% of
    /// tokio's peak was about 0.6 ms of the client's own lateness.
    fn schedule(&self) -> Option<(Instant, Duration)> {
        None
    }
}

/// The token of [`drive`]'s alarm; connection tokens are their indices.
const ALARM: Token = Token(usize::MAX);

/// A periodic timer as a pollable file descriptor (Linux's timerfd).
struct Alarm(std::os::fd::OwnedFd);

impl Alarm {
    /// A timer that fires at `first` and every `every` after it,
    /// registered on `poll` as [`ALARM`].
    fn new(poll: &Poll, first: Instant, every: Duration) -> io::Result<Alarm> {
        use rustix::time::{
            timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
            TimerfdTimerFlags, Timespec,
        };
        let spec = |d: Duration| Timespec {
            tv_sec: d.as_secs().try_into().unwrap_or(i64::MAX),
            tv_nsec: d.subsec_nanos().into(),
        };
        let fd = timerfd_create(
            TimerfdClockId::Monotonic,
            TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC,
        )?;
        // A zero value would disarm the timer: fire at once instead.
        let first = first
            .saturating_duration_since(Instant::now())
            .max(Duration::from_nanos(1));
        let new = Itimerspec {
            it_interval: spec(every.max(Duration::from_nanos(1))),
            it_value: spec(first),
        };
        timerfd_settime(&fd, TimerfdTimerFlags::empty(), &new)?;
        poll.registry().register(
            &mut mio::unix::SourceFd(&std::os::fd::AsRawFd::as_raw_fd(&fd)),
            ALARM,
            Interest::READABLE,
        )?;
        Ok(Alarm(fd))
    }

    /// Consumes the expirations so far, so that the next one raises a new
    /// edge.
    fn clear(&self) {
        let mut count = [0u8; 8];
        // WouldBlock: nothing expired since the last read.
        let _ = rustix::io::read(&self.0, &mut count);
    }
}

/// The longest [`drive`] polls: bounds how long a stop can go unseen.
const MAX_WAIT: Duration = Duration::from_millis(20);

/// Runs a client thread's event loop over `n` connections registered on
/// `poll` with their index as token, until every connection has failed or
/// the phase says stop. Each failure counts in `tally` once. The poll waits
/// at most 20 ms, which bounds how long a stop can go unseen.
pub fn drive(poll: &mut Poll, n: usize, driver: &mut impl Driver, phase: &Phase, tally: &mut Tally) {
    let mut dead = vec![false; n];
    let mut open = n;
    let mut failed = Vec::new();
    let mut events = Events::with_capacity(1024);
    let alarm = match driver.schedule() {
        Some((first, every)) => match Alarm::new(poll, first, every) {
            Ok(alarm) => Some(alarm),
            Err(e) => {
                tally.error(format!("timerfd: {e}"));
                return;
            }
        },
        None => None,
    };
    while open > 0 && !phase.is_stopped() {
        let wait = driver.before_poll(&dead, &mut failed, tally);
        for (i, e) in failed.drain(..) {
            if !std::mem::replace(&mut dead[i], true) {
                open -= 1;
                tally.error(e);
            }
        }
        // With an alarm, the timeout is only the 20 ms bound (the alarm
        // is on time); without, a wait that the rounding would stretch.
        let wait = match (&alarm, wait.is_zero()) {
            (Some(_), false) => MAX_WAIT,
            _ => wait.min(MAX_WAIT),
        };
        if let Err(e) = poll.poll(&mut events, Some(wait)) {
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            tally.error(format!("poll: {e}"));
            break;
        }
        for event in events.iter() {
            if event.token() == ALARM {
                if let Some(alarm) = &alarm {
                    alarm.clear();
                }
                continue;
            }
            let i = event.token().0;
            if dead.get(i) != Some(&false) {
                continue;
            }
            if let Err(e) = driver.on_event(i, event, tally) {
                dead[i] = true;
                open -= 1;
                tally.error(e);
            }
        }
    }
}

/// [`connect`]s a client thread's `n` connections and says on `ready`
/// whether that worked; `None` if it did not.
pub fn connect_and_report(
    addr: SocketAddr,
    n: usize,
    ready: &Ready,
) -> Option<(Poll, Vec<TcpStream>)> {
    match connect(addr, n) {
        Ok(setup) => {
            let _ = ready.send(Ok(()));
            Some(setup)
        }
        Err(e) => {
            let _ = ready.send(Err(format!("connecting to {addr}: {e}")));
            None
        }
    }
}

/// Opens `n` non-blocking connections to `addr` with TCP_NODELAY, each
/// registered for reading and writing (edge-triggered) with its index as
/// its token, on a new `Poll`.
pub fn connect(addr: SocketAddr, n: usize) -> io::Result<(Poll, Vec<TcpStream>)> {
    let poll = Poll::new()?;
    let mut streams = Vec::with_capacity(n);
    for i in 0..n {
        let std_stream = std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
        std_stream.set_nodelay(true)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        streams.push(stream);
    }
    Ok((poll, streams))
}

/// Splits `n` connections over `threads` threads as evenly as possible,
/// dropping threads that would get none.
pub fn split(n: usize, threads: usize) -> Vec<usize> {
    let threads = threads.clamp(1, n.max(1));
    (0..threads)
        .map(|i| n / threads + usize::from(i < n % threads))
        .filter(|&k| k > 0)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The alarm fires between poll timeouts, again and again once
    /// cleared: what lets the open loop send on time when no reply wakes
    /// it. (Its precision is the kernel's; the benchmark shows it.)
    #[test]
    fn the_alarm_wakes_the_poll_repeatedly() {
        let mut poll = Poll::new().unwrap();
        let alarm = Alarm::new(&poll, Instant::now(), Duration::from_micros(200)).unwrap();
        let mut events = Events::with_capacity(8);
        for _ in 0..3 {
            // Generous: a missing alarm would leave every poll empty.
            poll.poll(&mut events, Some(Duration::from_secs(10))).unwrap();
            assert!(
                events.iter().any(|e| e.token() == ALARM),
                "the poll returned without the alarm"
            );
            alarm.clear();
        }
    }

    #[test]
    fn split_is_even_and_total() {
        assert_eq!(split(1, 2), vec![1]);
        assert_eq!(split(64, 2), vec![32, 32]);
        assert_eq!(split(7, 3), vec![3, 2, 2]);
        assert_eq!(split(0, 2), Vec::<usize>::new());
        assert_eq!(split(5, 0), vec![5]);
    }

    #[test]
    fn tally_counts_only_inside_the_window() {
        let phase = Phase::new();
        let mut tally = Tally::default();
        let start = Instant::now() - Duration::from_micros(50);
        tally.complete(&phase, start);
        phase.measure();
        tally.complete(&phase, start);
        tally.complete(&phase, start);
        phase.stop();
        tally.complete(&phase, start);
        assert_eq!(tally.ops, 2);
        assert_eq!(tally.latency.len(), 2);
        assert!(tally.latency.value_at_quantile(0.5) >= 50_000);
    }

    #[test]
    fn merge_adds_counts_and_keeps_the_first_error() {
        let mut a = Tally::default();
        a.error("first");
        let mut b = Tally::default();
        b.error("second");
        b.latency.record(10).unwrap();
        b.ops = 1;
        a.merge(b);
        assert_eq!((a.ops, a.errors, a.latency.len()), (1, 2, 1));
        assert_eq!(a.first_error.as_deref(), Some("first"));
    }
}
