//! What every worker thread runs.
//!
//! | file            | concept                                                     |
//! |-----------------|-------------------------------------------------------------|
//! | `mod.rs`        | the shared `Pool` and the loop every worker runs (`Pool::work`) |
//! | `accept.rs`     | accepting: the `Acceptor` (pauses, the connection cap) and admitting connections |
//! | `cap.rs`        | the cap's lock-free handshake between accepting and closing (loom-checked) |
//! | `slot.rs`       | what the pool keeps per connection, and its `Life` |
//! | `serve.rs`      | serving: the handler contract, re-arming, closing, the one retire path |
//! | `timers.rs`     | the timer wheel, and the narrow ticks a slot keeps |
//! | `deadline.rs`   | enforcing deadlines: after the handler, and sweeping the wheel |
//! | `lifecycle.rs`  | the pool's `Phase`, `Alive`, finishing and terminating |
//! | `guard.rs`      | the panic guards around user code                          |

mod accept;
mod cap;
mod deadline;
mod guard;
mod lifecycle;
mod serve;
mod slot;
mod timers;

use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::Interest;
use mio_pool_poll::{Events, Poll};
use parking_lot::{Condvar, Mutex};

use crate::connection::Connection;
use crate::conns::{Conns, LISTENER};
use crate::listener::Listener;
use crate::stats::Counters;

use accept::Acceptor;
use guard::drop_guarded;
pub(crate) use lifecycle::Alive;
use lifecycle::PhaseCell;
use slot::Slot;
pub(crate) use timers::Limits;
use timers::Timers;

/// Connections are registered for both, so that a handler also runs when a
/// full send buffer drains.
pub(crate) const CONN_INTEREST: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// Handler calls in a row for one connection before it goes back behind
/// the other ready connections.
pub(crate) const FAIRNESS_LIMIT: u32 = 32;

/// Events one worker takes per `poll` call by default; more than that in
/// one OS batch wakes another worker. See `PoolBuilder::set_events_per_poll`.
pub(crate) const EVENTS_PER_POLL: usize = 32;

/// How long a worker may stay on its CPU without sleeping before it yields
/// the CPU (`sched_yield`) ahead of its next `poll`, by default. See `work`
/// and `PoolBuilder::set_yield_after`.
pub(crate) const YIELD_AFTER: Duration = Duration::from_micros(100);

/// A `poll` call that took this long slept or was preempted: either way the
/// worker was off its CPU and other threads had their turn. A call that
/// finds work queued or ready returns in a microsecond or two. At 50 µs,
/// workers at low load, whose polls slept shorter than that, counted as
/// never off their CPU and yielded at every interval of the 100 µs
/// default for nothing (in one run the open loop's p99 at 25% load was
/// 0.7-1.4 ms against tokio's 0.3-0.4; see `BENCHMARKS.md`).
const OFF_CPU: Duration = Duration::from_micros(10);

/// How long a worker backs off after `poll` itself failed.
const POLL_FAILED_PAUSE: Duration = Duration::from_millis(100);

/// How the workers poll; set on the builder.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Tuning {
    /// Events one worker takes from the poller at a time (at least 1).
    pub(crate) events_per_poll: usize,
    /// On-CPU time without sleeping after which a worker yields its CPU;
    /// `None`: never.
    pub(crate) yield_after: Option<Duration>,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            events_per_poll: EVENTS_PER_POLL,
            yield_after: Some(YIELD_AFTER),
        }
    }
}

/// Handler type, for brevity in bounds.
pub(crate) type Adapter<LC, C> = Arc<dyn Fn(LC) -> C + Send + Sync>;

/// Everything the workers share.
pub(crate) struct Pool<L: Listener, C, E> {
    poll: Poll,
    /// `None` once the pool stopped accepting. Locked only by the worker
    /// that holds the listener's event (oneshot makes that one at a time)
    /// and by `stop_accepting`.
    listener: Mutex<Option<L>>,
    acceptor: Acceptor,
    conns: Conns<Slot<C>>,
    timers: Timers,
    adapter: Adapter<L::Connection, C>,
    on_ready: E,
    phase: PhaseCell,
    tuning: Tuning,
    pub(crate) counters: Arc<Counters>,
    /// Signalled when a connection closes while finishing, and when a
    /// worker exits.
    drained: (Mutex<()>, Condvar),
    /// Workers spawned and not yet exited (returned or unwound); see
    /// [`Alive`]. With none left, nobody would close the open connections,
    /// so finishing stops waiting for them.
    live_workers: AtomicUsize,
}

impl<L: Listener, C, E> Drop for Pool<L, C, E> {
    /// Connections still open when the pool ends (terminated, or finished
    /// past its grace period) are dropped by whichever thread lets go of
    /// the pool last: a worker, or the one that called `terminate`. Their
    /// `Drop` is user code, guarded as in `Pool::release`.
    fn drop(&mut self) {
        for conn in self.conns.take_all() {
            drop_guarded(conn, &self.counters);
        }
    }
}

impl<L, C, E> Pool<L, C, E>
where
    L: Listener,
    C: Connection + Send + 'static,
{
    pub(crate) fn new(
        poll: Poll,
        listener: L,
        adapter: Adapter<L::Connection, C>,
        on_ready: E,
        counters: Arc<Counters>,
        tuning: Tuning,
        limits: Limits,
    ) -> Pool<L, C, E> {
        Pool {
            poll,
            listener: Mutex::new(Some(listener)),
            acceptor: Acceptor::new(limits.max_connections),
            conns: Conns::new(),
            timers: Timers::new(&limits),
            adapter,
            on_ready,
            phase: PhaseCell::default(),
            tuning,
            counters,
            drained: (Mutex::new(()), Condvar::new()),
            live_workers: AtomicUsize::new(0),
        }
    }

    /// The worker loop: runs until the pool terminates.
    ///
    /// A worker that always finds work never sleeps, and then only the
    /// scheduler's tick (4 ms at 250 Hz) takes its CPU away, however long
    /// another thread on that CPU (a client on the same host, the
    /// application's other threads) has been runnable: that tick was the
    /// p99 latency of every event loop in the benchmark. So a worker that
    /// has been on its CPU for [`YIELD_AFTER`] (or what the builder set)
    /// without sleeping yields it before polling again. With nobody
    /// waiting, `sched_yield` returns at once: at most ten thousand cheap
    /// system calls a second per busy worker.
    pub(crate) fn work<S>(&self, state: &mut S)
    where
        E: Fn(&mut C, &mut S) -> io::Result<bool>,
    {
        let mut events = Events::with_capacity(self.tuning.events_per_poll);
        let mut on_cpu_since = Instant::now();
        while !self.terminating() {
            let before = Instant::now();
            if self
                .tuning
                .yield_after
                .is_some_and(|after| before.duration_since(on_cpu_since) >= after)
            {
                std::thread::yield_now();
                Counters::bump(&self.counters.cpu_yields);
                on_cpu_since = Instant::now();
            }
            let timeout = match (self.acceptor.timeout(), self.timers.timeout(before)) {
                (Some(a), Some(t)) => Some(a.min(t)),
                (a, t) => a.or(t),
            };
            let polled = self.poll.poll(&mut events, timeout);
            let after = Instant::now();
            if after.duration_since(before) >= OFF_CPU {
                on_cpu_since = after;
            }
            if let Err(e) = polled {
                // Not expected from epoll/kqueue; back off rather than spin.
                log::error!("mio-pool: poll failed: {e}");
                std::thread::sleep(POLL_FAILED_PAUSE);
                continue;
            }
            for event in &events {
                if self.terminating() {
                    return;
                }
                if event.token() == LISTENER {
                    self.accept(Some(*event));
                } else {
                    self.serve(*event, state, after);
                }
            }
            self.sweep(after);
            if self.acceptor.take_due() {
                self.accept(None);
            }
        }
    }
}
