//! [`Poll`]: one poller, many polling threads. The threads share the work
//! in `handoff.rs`; per-token oneshot state is in `token_table.rs`.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::event::{Event, Events};
use crate::handoff::{Handoff, Notify, WAKE_TOKEN};
use crate::sys;
use crate::token_table::TokenTable;
use mio::event::Source;
use mio::{Interest, Token};

/// A poller that any number of threads may call at once.
///
/// Each readiness event is returned by exactly one [`poll`] call, and a token
/// whose event was returned is *disarmed*: it yields no further event until
/// its owner re-arms it with [`reregister`] (or [`rearm`]). Readiness that
/// arrives while a token is disarmed is kept and handed out at re-arming,
/// without new I/O.
///
/// See the [crate docs](crate) for the design, the guarantees and the
/// differences from `mio::Poll`.
///
/// # The contract
///
/// 1. Any number of threads may call [`poll`] at once through `&self`; each
///    readiness event is returned by exactly one call.
/// 2. Oneshot: once an event for a token has been returned, no further event
///    for it is returned until it is re-armed.
/// 3. No lost wake-ups: readiness that arrives while a token is disarmed is
///    kept, and is returned promptly after re-arming, with no new I/O.
/// 4. Re-arming with an unchanged interest makes no system call: mio's
///    registration is edge-triggered and stays in place; "armed" is a flag in
///    this poller's token table. [`PollStats::registry_calls`] counts the
///    calls that do reach the OS.
/// 5. [`wake`] makes every thread blocked in [`poll`] return promptly,
///    possibly with no events.
/// 6. `poll(Some(d))` returns after about `d` if nothing happens, `poll(None)`
///    blocks until something does. One call returns at most
///    [`Events::capacity`] events; the rest stay for the next caller.
/// 7. No call busy-waits: threads with nothing to do sleep in the OS (one in
///    `epoll_wait`/`kevent`, the others on a condition variable).
///
/// # Not guaranteed
///
/// * Events may be spurious, as with mio: always do the I/O and handle
///   `WouldBlock`.
/// * Which thread gets an event. The leader keeps as many events as its
///   `Events` holds and leaves the rest to followers.
/// * Fairness between threads: a thread that keeps calling `poll` may do most
///   of the work while others sleep. That is on purpose: waking a thread
///   costs more than the work it would take over.
///
/// [`poll`]: Poll::poll
/// [`reregister`]: Poll::reregister
/// [`rearm`]: Poll::rearm
/// [`wake`]: Poll::wake
pub struct Poll {
    registry: sys::Registry,
    table: TokenTable,
    handoff: Handoff,
    registry_calls: AtomicU64,
}

/// Counters of a [`Poll`], for tests, benchmarks and tuning.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct PollStats {
    /// Calls that reached the OS registry: `register`, `reregister` with a
    /// changed interest, `deregister`.
    pub registry_calls: u64,
    /// Times a waiting follower was woken by another thread.
    pub follower_wakeups: u64,
    /// Times the leader was woken out of the OS poll by another thread.
    pub leader_wakeups: u64,
    /// Times a follower took over the leader's role after waiting
    /// [`HANDOFF`](crate::HANDOFF) for the leader to come back.
    pub takeovers: u64,
    /// Threads inside [`Poll::poll`] when the snapshot was taken. Once it
    /// counts a thread, a [`Poll::wake`] makes that call return.
    pub polling_threads: usize,
}

impl Poll {
    /// Makes a new poller (an epoll or kqueue instance, through mio).
    ///
    /// # Errors
    ///
    /// The OS refused to create the poller or its waker (for example, the
    /// process is out of file descriptors).
    pub fn new() -> io::Result<Poll> {
        let poll = sys::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        Ok(Poll {
            registry,
            table: TokenTable::new(),
            handoff: Handoff::new(poll)?,
            registry_calls: AtomicU64::new(0),
        })
    }

    /// Registers `source` for `interests`, armed: its first readiness event
    /// will be returned by some `poll` call.
    ///
    /// Like mio, the registration is edge-triggered; unlike mio, delivery is
    /// oneshot (see the contract on [`Poll`]).
    ///
    /// # Errors
    ///
    /// `InvalidInput` for `Token(usize::MAX)`, which this poller keeps for
    /// its own waker; otherwise whatever the OS says (e.g. the source is
    /// already registered).
    pub fn register<S>(&self, source: &mut S, token: Token, interests: Interest) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        check_token(token)?;
        // The state goes in first: the OS may report readiness the moment
        // the source is registered, and an event for an unknown token is
        // dropped.
        let previous = self.table.insert(token, interests);
        self.registry_calls.fetch_add(1, Ordering::Relaxed);
        if let Err(e) = self.registry.register(source, token, interests) {
            self.table.restore(token, previous);
            return Err(e);
        }
        Ok(())
    }

    /// Re-arms `token` for `interests`; readiness that arrived while it was
    /// disarmed is returned by a `poll` call at once, and a waiting thread is
    /// woken for it if needed.
    ///
    /// With the same interest as before, this makes no system call.
    ///
    /// A token that is armed (no event of it is out) may be given a new
    /// interest as well. If the source is already ready for the new
    /// interest, that readiness is returned once, and the token is then
    /// disarmed as after any event. Changing the interest of a token whose
    /// event another thread may be receiving at that moment is a race that
    /// this poller cannot settle: re-arm only tokens that you hold or that
    /// cannot have fired.
    ///
    /// # Errors
    ///
    /// `NotFound` if `token` is not registered with this poller;
    /// `InvalidInput` for the reserved token; otherwise what the OS says when
    /// the interest changes (the token then keeps its old interest, and is
    /// armed again if it was).
    pub fn reregister<S>(&self, source: &mut S, token: Token, interests: Interest) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        if let Some(event) = self.rearm(source, token, interests)? {
            self.handoff.push(event, Notify::Prompt);
        }
        Ok(())
    }

    /// Like [`reregister`](Poll::reregister), but readiness that arrived
    /// while `token` was disarmed is returned to the caller instead of being
    /// queued: `Ok(Some(event))` means "handle it again now", and the token
    /// stays disarmed. `Ok(None)` means the token is armed.
    ///
    /// This keeps a busy source on the thread that already has it in cache,
    /// with no hand-off at all.
    ///
    /// # Errors
    ///
    /// As for [`reregister`](Poll::reregister).
    pub fn rearm<S>(
        &self,
        source: &mut S,
        token: Token,
        interests: Interest,
    ) -> io::Result<Option<Event>>
    where
        S: Source + ?Sized,
    {
        check_token(token)?;
        match self.table.rearm_same(token, interests) {
            Ok(ready) => Ok(ready),
            Err(None) => Err(not_registered()),
            Err(Some(change)) => {
                // The token is disarmed now (the table's "held for the
                // change"), so an edge the OS raises for the new interest
                // is kept for the re-arm below, not handed to a polling
                // thread.
                self.registry_calls.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = self.registry.reregister(source, token, interests) {
                    if let Some(event) = change.undo(&self.table) {
                        self.handoff.push(event, Notify::Prompt);
                    }
                    return Err(e);
                }
                self.table
                    .rearm(token, interests)
                    .map_err(|()| not_registered())
            }
        }
    }

    /// Puts `event` at the back of the ready queue; the token stays
    /// disarmed and the event is returned by a later `poll` call.
    ///
    /// Use it for fairness: a source that still has data after many
    /// operations in a row goes behind the other ready sources (it will raise
    /// no new edge, so it must be queued, not re-armed). "The other ready
    /// sources" includes those the OS has not reported yet: the next call
    /// that would serve the queue first asks the OS, without blocking.
    ///
    /// This wakes no thread: the caller should call [`poll`](Poll::poll)
    /// next, and that call (or any other that comes first) returns the
    /// event. Use [`reregister`](Poll::reregister) where a sleeping thread
    /// must be woken.
    pub fn requeue(&self, event: Event) {
        self.handoff.push(event, Notify::Caller);
    }

    /// Deregisters `source`. Events for its token that were already taken
    /// from the OS may still be returned; to drop them too, and to forget the
    /// token, use [`remove`](Poll::remove).
    ///
    /// The token's bookkeeping stays until the token is registered again or
    /// removed: with an unbounded supply of tokens, prefer `remove`.
    ///
    /// # Errors
    ///
    /// What the OS says (e.g. the source is not registered).
    pub fn deregister<S>(&self, source: &mut S) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        self.registry_calls.fetch_add(1, Ordering::Relaxed);
        self.registry.deregister(source)
    }

    /// Deregisters `source` and forgets `token`: from now on no event for
    /// `token` is returned, including one the OS reported just before but
    /// that no `poll` call had processed yet, until the token is registered
    /// again. Re-arming it fails with `NotFound`.
    ///
    /// An event for `token` already handed out, or queued by
    /// [`requeue`](Poll::requeue), is not taken back. If the same token is
    /// registered again for a new source at once, an OS event of the old
    /// source that was in flight may still surface under it (as a spurious
    /// event); give new sources new tokens (for example, tag a slab index
    /// with a generation) where that matters.
    ///
    /// # Errors
    ///
    /// What the OS says; the token is forgotten in any case.
    pub fn remove<S>(&self, source: &mut S, token: Token) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        self.table.remove(token);
        self.deregister(source)
    }

    /// Waits for readiness events and puts at most `events.capacity()` of
    /// them in `events` (which is cleared first).
    ///
    /// Returns when it has events, when `timeout` has passed (`None`: no
    /// limit), or when [`wake`](Poll::wake) was called during the call or
    /// since the last call with the same `events` buffer, in the last two
    /// cases possibly with no events. Each returned event's token
    /// is disarmed until it is re-armed.
    ///
    /// Many threads may call this at once; see "Hand-off" in the crate docs
    /// for how they share the work.
    ///
    /// # Errors
    ///
    /// What the OS poll returns, other than `Interrupted` (a signal), which
    /// is treated as a spurious wake-up.
    pub fn poll(&self, events: &mut Events, timeout: Option<Duration>) -> io::Result<()> {
        self.handoff.poll(&self.table, events, timeout)
    }

    /// Makes every thread that is blocked in [`poll`](Poll::poll) return
    /// promptly, possibly with no events.
    ///
    /// It also reaches threads that are *between* two calls: each [`Events`]
    /// buffer remembers the wake-ups it has seen, and a call with a buffer
    /// that has not seen this one returns at once. So the usual loop, "check
    /// a stop flag, then poll", cannot miss a `wake` that comes between the
    /// check and the call. (A buffer's first call may return at once, empty,
    /// if `wake` was ever called before: a spurious wake-up.)
    ///
    /// # Errors
    ///
    /// The OS refused to signal the waker.
    pub fn wake(&self) -> io::Result<()> {
        self.handoff.wake()
    }

    /// A snapshot of this poller's counters.
    pub fn stats(&self) -> PollStats {
        PollStats {
            registry_calls: self.registry_calls.load(Ordering::Relaxed),
            ..self.handoff.stats()
        }
    }

    /// The model OS under this poller, for the loom models to report
    /// readiness on.
    #[cfg(all(test, loom))]
    pub(crate) fn model_os(&self) -> &sys::model::Os {
        self.registry.os()
    }
}

impl fmt::Debug for Poll {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Poll")
            .field("registry", &self.registry)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

fn check_token(token: Token) -> io::Result<()> {
    if token == WAKE_TOKEN {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "Token(usize::MAX) is reserved for the poller's own waker; use another token",
        ));
    }
    Ok(())
}

fn not_registered() -> io::Error {
    io::Error::new(
        io::ErrorKind::NotFound,
        "token is not registered with this poller; register it first",
    )
}
