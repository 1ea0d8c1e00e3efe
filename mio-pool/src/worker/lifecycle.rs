//! The pool's life cycle: its [`Phase`], the workers still [`Alive`], and
//! how a [`PoolHandle`](crate::PoolHandle) finishes or terminates it.

use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;
use std::time::Instant;

use super::Pool;
use crate::connection::Connection;
use crate::conns::LISTENER;
use crate::handle::Control;
use crate::listener::Listener;
use crate::stats::Counters;

/// The pool's life cycle; it only ever moves down this table.
///
/// | phase         | accepting            | workers        | entered by                         |
/// |---------------|----------------------|----------------|------------------------------------|
/// | `Running`     | yes                  | serve          | start                              |
/// | `Finishing`   | no (listener closed) | serve          | `finish`, `finish_timeout`         |
/// | `Terminating` | no                   | return at once | `terminate`, drop, end of `finish` |
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Phase {
    Running = 0,
    Finishing = 1,
    Terminating = 2,
}

/// A [`Phase`] that any thread may read and move forward.
#[derive(Default)]
pub(crate) struct PhaseCell(AtomicU8);

impl PhaseCell {
    pub(crate) fn get(&self) -> Phase {
        match self.0.load(Ordering::Acquire) {
            0 => Phase::Running,
            1 => Phase::Finishing,
            _ => Phase::Terminating,
        }
    }

    /// Moves from `from` to `to`; does nothing in any other phase.
    fn advance(&self, from: Phase, to: Phase) {
        let _ = self
            .0
            .compare_exchange(from as u8, to as u8, Ordering::AcqRel, Ordering::Acquire);
    }

    /// Moves to `Terminating` from any phase.
    fn terminate(&self) {
        self.0.store(Phase::Terminating as u8, Ordering::Release);
    }
}

/// Counts one worker as alive from before it is spawned until it exits,
/// however it exits: dropped when its thread returns or unwinds (or with
/// the thread's closure if spawning fails).
pub(crate) struct Alive<L: Listener, C, E>(Arc<Pool<L, C, E>>);

impl<L: Listener, C, E> Alive<L, C, E> {
    pub(crate) fn new(pool: &Arc<Pool<L, C, E>>) -> Alive<L, C, E> {
        pool.live_workers.fetch_add(1, Ordering::AcqRel);
        Alive(pool.clone())
    }
}

impl<L: Listener, C, E> Drop for Alive<L, C, E> {
    fn drop(&mut self) {
        let pool = &self.0;
        // Under the lock that `wait_drained` checks its condition under:
        // no lost wake-up.
        let _guard = pool.drained.0.lock();
        pool.live_workers.fetch_sub(1, Ordering::AcqRel);
        pool.drained.1.notify_all();
    }
}

impl<L: Listener, C, E> Pool<L, C, E> {
    pub(super) fn terminating(&self) -> bool {
        self.phase.get() == Phase::Terminating
    }

    /// Counts a connection closed; wakes `finish` when it was the last.
    pub(super) fn closed(&self) {
        Counters::bump(&self.counters.closed);
        self.acceptor.on_close();
        if self.phase.get() == Phase::Finishing && self.counters.open() == 0 {
            let _guard = self.drained.0.lock();
            self.drained.1.notify_all();
        }
    }
}

impl<L, C, E> Control for Pool<L, C, E>
where
    L: Listener,
    C: Connection + Send + 'static,
    E: Send + Sync,
{
    fn stop_accepting(&self) {
        self.phase.advance(Phase::Running, Phase::Finishing);
        // Waits for a worker that is accepting right now; after this no
        // connection is accepted.
        if let Some(mut listener) = self.listener.lock().take() {
            if let Err(e) = self.poll.remove(&mut listener, LISTENER) {
                log::debug!("mio-pool: deregistering the listener: {e}");
            }
            // Dropped here: the socket closes and new clients are refused.
        }
        self.acceptor.cancel();
    }

    fn wait_drained(&self, deadline: Option<Instant>) -> bool {
        let mut guard = self.drained.0.lock();
        // No worker left (all died of a panic outside user code's guards):
        // nobody would ever close the rest.
        while self.counters.open() > 0 && self.live_workers.load(Ordering::Acquire) > 0 {
            match deadline {
                Some(d) => {
                    if self.drained.1.wait_until(&mut guard, d).timed_out() {
                        return self.counters.open() == 0;
                    }
                }
                None => self.drained.1.wait(&mut guard),
            }
        }
        true
    }

    fn terminate(&self) {
        self.phase.terminate();
        if let Err(e) = self.poll.wake() {
            log::error!("mio-pool: cannot wake the workers: {e}");
        }
    }
}
