//! [`PoolHandle`]: stop a running pool, read its counters.

use std::fmt;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::stats::{Counters, PoolStats, StatsHandle};

/// How a [`PoolHandle`] steers the pool's workers, whatever the pool's
/// connection and handler types.
pub(crate) trait Control: Send + Sync {
    /// Stops accepting and closes the listener; new clients are refused.
    fn stop_accepting(&self);
    /// Waits until no connection is open, or until `deadline`; returns
    /// whether none is open.
    fn wait_drained(&self, deadline: Option<Instant>) -> bool;
    /// Makes every worker return promptly.
    fn terminate(&self);
}

/// A handle to a running pool.
///
/// Each way to end the pool returns one `std::thread::Result` per worker:
/// `Ok` with the worker's final state mapped through
/// [`and_return`](crate::PoolBuilder::and_return), or `Err` with the panic
/// of a worker that died. Panics in the handler, the adapter,
/// `Listener::accept` and a connection's `Drop` are caught (they close or
/// drop one connection, or pause accepting); what is left to kill a worker
/// is a panic in user code the pool does not guard (a connection's `Source`
/// methods, the `and_return` function) or a bug in the pool.
///
/// # Dropping
///
/// Dropping the handle without calling one of its methods *terminates* the
/// pool: the workers are stopped and joined (and their results dropped),
/// open connections are closed. No thread is left running unseen. To keep a
/// pool running for the life of the program, keep its handle, or call
/// [`wait`](PoolHandle::wait).
#[must_use = "dropping a PoolHandle terminates the pool"]
pub struct PoolHandle<R> {
    pub(crate) control: Arc<dyn Control>,
    pub(crate) workers: Vec<JoinHandle<R>>,
    pub(crate) counters: Arc<Counters>,
}

impl<R> PoolHandle<R> {
    /// Stops every worker promptly and returns their results.
    ///
    /// Workers finish the handler call they are in, then return; a worker
    /// blocked waiting for events is woken at once (no timer tick). Open
    /// connections are closed when the pool is dropped, after the workers
    /// have returned.
    pub fn terminate(mut self) -> Vec<thread::Result<R>> {
        self.control.terminate();
        self.join()
    }

    /// Stops accepting at once and closes the listener, so that new clients
    /// are refused rather than left waiting; then returns when every open
    /// connection has closed (the handler returned `Ok(true)` or an error,
    /// or the client went away), and stops the workers.
    ///
    /// A client that never closes keeps this waiting; see
    /// [`finish_timeout`](PoolHandle::finish_timeout). If every worker has
    /// died (of a panic outside the code the pool guards, such as a
    /// connection's `Source::deregister`), nobody is left to close the
    /// rest, and this returns at once with their results.
    pub fn finish(self) -> Vec<thread::Result<R>> {
        self.finish_until(None)
    }

    /// Like [`finish`](PoolHandle::finish), but gives open connections at
    /// most `grace` to close; then terminates the pool, closing the rest.
    pub fn finish_timeout(self, grace: Duration) -> Vec<thread::Result<R>> {
        self.finish_until(Instant::now().checked_add(grace))
    }

    fn finish_until(self, deadline: Option<Instant>) -> Vec<thread::Result<R>> {
        self.control.stop_accepting();
        if !self.control.wait_drained(deadline) {
            log::info!(
                "mio-pool: grace period over with {} connection(s) open; closing them",
                self.counters.open()
            );
        }
        self.terminate()
    }

    /// Waits for the workers to return, without asking them to. Since only
    /// this handle can stop them, this waits forever unless every worker
    /// dies of a panic outside the handler.
    pub fn wait(mut self) -> Vec<thread::Result<R>> {
        self.join()
    }

    /// The pool's counters now.
    pub fn stats(&self) -> PoolStats {
        self.counters.snapshot()
    }

    /// A cloneable view of the counters that outlives `self`.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle::new(self.counters.clone())
    }

    fn join(&mut self) -> Vec<thread::Result<R>> {
        std::mem::take(&mut self.workers)
            .into_iter()
            .map(JoinHandle::join)
            .collect()
    }
}

impl<R> Drop for PoolHandle<R> {
    fn drop(&mut self) {
        if !self.workers.is_empty() {
            self.control.terminate();
            drop(self.join());
        }
    }
}

impl<R> fmt::Debug for PoolHandle<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolHandle")
            .field("workers", &self.workers.len())
            .field("stats", &self.stats())
            .finish()
    }
}
