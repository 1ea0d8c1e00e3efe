//! The pool's counters: [`PoolStats`] and [`StatsHandle`].

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// The pool's counters, updated once per accept, close, error, panic or CPU
/// yield (never per event).
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) accepted: AtomicU64,
    pub(crate) closed: AtomicU64,
    pub(crate) handler_errors: AtomicU64,
    pub(crate) panics: AtomicU64,
    pub(crate) accept_errors: AtomicU64,
    pub(crate) cpu_yields: AtomicU64,
    pub(crate) timed_out: AtomicU64,
}

impl Counters {
    /// Counts one more. Release, paired with the Acquire loads of
    /// [`snapshot`](Self::snapshot): whatever a worker did before counting
    /// (closing the socket, logging a warning) is visible to a thread that
    /// sees the new count. Costs nothing extra on x86, where every
    /// read-modify-write is a full barrier.
    pub(crate) fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Release);
    }

    /// Connections accepted and not yet closed.
    pub(crate) fn open(&self) -> u64 {
        // `closed` first: read the other way round, a close between the two
        // loads could make `open` look one too high; this way it can only
        // look one too low for a moment, never negative.
        let closed = self.closed.load(Ordering::Acquire);
        self.accepted.load(Ordering::Acquire).saturating_sub(closed)
    }

    pub(crate) fn snapshot(&self) -> PoolStats {
        PoolStats {
            accepted: self.accepted.load(Ordering::Acquire),
            open: self.open(),
            closed: self.closed.load(Ordering::Acquire),
            handler_errors: self.handler_errors.load(Ordering::Acquire),
            panics: self.panics.load(Ordering::Acquire),
            accept_errors: self.accept_errors.load(Ordering::Acquire),
            cpu_yields: self.cpu_yields.load(Ordering::Acquire),
            timed_out: self.timed_out.load(Ordering::Acquire),
        }
    }
}

/// A snapshot of a pool's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PoolStats {
    /// Connections accepted since the pool started.
    pub accepted: u64,
    /// Connections open now (accepted and not closed).
    pub open: u64,
    /// Connections closed: the handler returned `Ok(true)` or an error,
    /// panicked, a deadline passed, or the poller failed to (re)register
    /// the connection.
    pub closed: u64,
    /// Handler calls that returned an error other than `WouldBlock` and
    /// `Interrupted` (each closed its connection).
    pub handler_errors: u64,
    /// Calls of user code that panicked: the handler (its connection was
    /// closed), the adapter (its connection was dropped),
    /// `Listener::accept` (accepting paused briefly) or a closed
    /// connection's `Drop`. The worker lived on.
    pub panics: u64,
    /// Failed accepts: transient errors that were skipped, and running out
    /// of file descriptors, which pauses accepting briefly.
    pub accept_errors: u64,
    /// Times a worker that had been busy without sleeping for the interval
    /// of [`PoolBuilder::set_yield_after`](crate::PoolBuilder::set_yield_after)
    /// (100 µs by default)
    /// gave its CPU up (`sched_yield`) before polling again, so that other
    /// runnable threads on that CPU need not wait for the scheduler's tick.
    /// Zero on a pool that is never busy for that long.
    pub cpu_yields: u64,
    /// Connections closed because a deadline passed: the idle timeout
    /// ([`PoolBuilder::set_idle_timeout`](crate::PoolBuilder::set_idle_timeout)),
    /// the connection's own [`deadline`](crate::Connection::deadline), or
    /// the close timeout while it was closing
    /// ([`PoolBuilder::set_close_timeout`](crate::PoolBuilder::set_close_timeout)).
    /// Each connection counts once; each is also counted in `closed`.
    pub timed_out: u64,
}

/// A cheap, cloneable view of a pool's counters, usable from inside the
/// handler (for a `/stats` page, say) or from any other thread. Get one from
/// [`PoolBuilder::stats_handle`](crate::PoolBuilder::stats_handle).
#[derive(Clone)]
pub struct StatsHandle {
    counters: Arc<Counters>,
}

impl StatsHandle {
    pub(crate) fn new(counters: Arc<Counters>) -> StatsHandle {
        StatsHandle { counters }
    }

    /// The counters now.
    pub fn snapshot(&self) -> PoolStats {
        self.counters.snapshot()
    }
}

impl fmt::Debug for StatsHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("StatsHandle")
            .field(&self.snapshot())
            .finish()
    }
}
