//! The hand-off between the threads inside [`Poll::poll`](crate::Poll::poll):
//! leader/followers over one OS poller, a shared queue of deliverable
//! events, and the wake-ups that pass work and the leader's role on.
//!
//! # The shared state (one lock, [`Shared`])
//!
//! | field             | meaning                                                              |
//! |-------------------|----------------------------------------------------------------------|
//! | `backend`         | `Some`: nobody leads, the role is free. `None`: one thread, the leader, has it and waits in the OS poll with the lock released |
//! | `queue`           | events due to some caller of `poll`, oldest first                    |
//! | `timed_waiters`   | followers waiting at most [`HANDOFF`] for a leader to come back      |
//! | `untimed_waiters` | *patient* followers: their hand-off wait ran out while a leader was in place, so they sleep with no timer (only the caller's own deadline) |
//! | `requeued`        | an event went back in line by `requeue`: ask the OS before serving the queue |
//! | `wake_epoch`      | count of [`Handoff::wake`] calls; a call returns when it differs from what its `Events` saw last |
//! | `polling`         | threads inside `poll`, for [`PollStats::polling_threads`]            |
//!
//! # The states of one `poll` call
//!
//! A call enters at *check*, under the lock, and is in exactly one of these
//! states; the counters above say how many calls are in each waiting state.
//!
//! | state            | where                                  | lock     |
//! |------------------|----------------------------------------|----------|
//! | check            | top of the loop in [`Handoff::poll_locked`] | held |
//! | leader           | [`Handoff::lead`], in the OS poll       | released |
//! | timed follower   | `followers.wait_until(now + HANDOFF)`   | released |
//! | untimed follower | `followers.wait` (or until the deadline) | released |
//! | returned         | out of `poll`                          | -        |
//!
//! # Transitions
//!
//! Checked in this order at *check*; every row is made under the lock.
//!
//! | from             | on                                                   | to               | made by      | and                                              |
//! |------------------|------------------------------------------------------|------------------|--------------|--------------------------------------------------|
//! | check            | queue non-empty, `requeued`, role free               | leader (no wait) | the caller   | `requeued = false`: the OS's news go in line too  |
//! | check            | queue non-empty                                      | returned         | the caller   | `take` its share (below)                          |
//! | check            | `wake_epoch` moved                                   | returned, empty  | the caller   |                                                  |
//! | check            | role free                                            | leader           | the caller   | takes `backend`                                  |
//! | check            | deadline passed                                      | returned, empty  | the caller   |                                                  |
//! | check            | not patient                                          | timed follower   | the caller   | `timed_waiters += 1`                             |
//! | check            | patient                                              | untimed follower | the caller   | `untimed_waiters += 1`                           |
//! | timed follower   | notified, or the timer with a leader in place        | check            | itself       | `-= 1`; after the timer it is patient            |
//! | timed follower   | the timer, role free                                 | check → leader   | itself       | `-= 1`, `takeovers += 1`                         |
//! | untimed follower | notified, or the caller's deadline                   | check            | itself       | `-= 1`, no longer patient                        |
//! | leader           | OS returns only stale events, the waker or `EINTR`   | leader           | itself       | polls again (unless woken or past the deadline)  |
//! | leader           | OS returns deliverable events, an error, a `wake` or the deadline | returned | itself  | gives `backend` back, keeps what fits, `take`    |
//! | any              | `push(Prompt)` (a re-arm found kept readiness)       | (unchanged)      | the re-armer | queue +1; notify one follower if any waits, else the waker if a leader polls |
//! | any              | `push(Caller)` (`requeue`)                           | (unchanged)      | the holder   | queue +1, `requeued = true`, nobody woken         |
//! | any              | [`Handoff::wake`]                                    | (unchanged)      | anybody      | `wake_epoch += 1`, notify all followers, the waker if a leader polls |
//!
//! `take` moves up to the caller's room from the queue, then notifies **one**
//! follower if events are left and somebody waits (*surplus*), or if the
//! role is free and a patient follower sleeps (*role free*: nobody else would
//! tell it). A woken follower that finds still more does the same, so
//! wake-ups follow the work, not the number of threads.
//!
//! # Invariants
//!
//! 1. `backend` is `None` exactly while one call is in the *leader* state.
//! 2. No lost work: an event in the queue is returned by some call, because
//!    whoever queued it either returns it itself (the leader's `take`, the
//!    holder's next call after `requeue`) or woke a thread that will (a
//!    follower, or the leader through the waker); a call that arrives later
//!    sees it at *check*.
//! 3. The role is never left free with everybody asleep: a timed follower
//!    takes it over when its timer runs out, and whoever gives it back
//!    wakes one patient follower (`take`'s *role free*).
//! 4. No lost `wake`: a call returns when `wake_epoch` differs from its
//!    `Events`' count, which is read and written under the lock, so a wake
//!    between two calls is seen by the next.
//! 5. Order: the queue is served oldest first. What the leader reads goes
//!    into its own `Events` while nothing is queued (no copy through the
//!    queue); if something was queued meanwhile, the leader's events go back
//!    behind it, as if everything had gone through the queue.
//!
//! The loom models (`handoff/loom_models.rs`) run this code over a model OS
//! in every interleaving of up to three threads, with every timer firing at
//! once; a wake-up that nobody sends shows up there as a deadlock.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::time::{Duration, Instant};

use mio::Token;

use crate::event::{Event, Events};
use crate::poll::PollStats;
use crate::sync::{unlocked, Condvar, Mutex, MutexGuard};
use crate::sys;
use crate::token_table::TokenTable;

#[cfg(all(test, loom))]
mod loom_models;

/// The token of the internal waker; users may not register it.
pub(crate) const WAKE_TOKEN: Token = Token(usize::MAX);

/// How many OS events the leader takes from mio in one system call.
const OS_BATCH: usize = 1024;

/// How long a follower waits, while no thread is the leader, before it takes
/// over the leader's role itself. See "Hand-off" in the crate docs.
pub const HANDOFF: Duration = Duration::from_millis(1);

/// The polling threads' meeting point: the shared state, the condition
/// variable followers sleep on, and the waker that gets the leader out of
/// the OS poll.
pub(crate) struct Handoff {
    shared: Mutex<Shared>,
    followers: Condvar,
    waker: sys::Waker,
}

/// What the leader owns while it polls, and gives back when it is done.
struct Backend {
    poll: sys::Poll,
    events: sys::Events,
    /// Deliverable events of the last OS batch beyond the leader's room.
    surplus: Vec<Event>,
}

/// State shared by the polling threads, under one lock that is taken once
/// per `poll` call (not per event) and by re-arms that must queue an event.
/// See the module docs for each field.
struct Shared {
    queue: VecDeque<Event>,
    backend: Option<Box<Backend>>,
    timed_waiters: usize,
    untimed_waiters: usize,
    requeued: bool,
    wake_epoch: u64,
    polling: usize,
    follower_wakeups: u64,
    leader_wakeups: u64,
    takeovers: u64,
}

/// Whether queueing an event must make sure that a thread sees it soon.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Notify {
    /// Wake a waiting follower, or the leader, if needed.
    Prompt,
    /// The caller will call `poll` itself next.
    Caller,
}

impl Handoff {
    /// The hand-off over a new OS poller, whose registry the caller keeps a
    /// clone of.
    pub(crate) fn new(poll: sys::Poll) -> io::Result<Handoff> {
        let waker = sys::Waker::new(poll.registry(), WAKE_TOKEN)?;
        Ok(Handoff {
            shared: Mutex::new(Shared {
                queue: VecDeque::new(),
                backend: Some(Box::new(Backend {
                    poll,
                    events: sys::Events::with_capacity(OS_BATCH),
                    surplus: Vec::with_capacity(OS_BATCH),
                })),
                timed_waiters: 0,
                untimed_waiters: 0,
                requeued: false,
                wake_epoch: 0,
                polling: 0,
                follower_wakeups: 0,
                leader_wakeups: 0,
                takeovers: 0,
            }),
            followers: Condvar::new(),
            waker,
        })
    }

    /// [`Poll::poll`](crate::Poll::poll): OS events become deliverable
    /// events through `table`.
    pub(crate) fn poll(
        &self,
        table: &TokenTable,
        events: &mut Events,
        timeout: Option<Duration>,
    ) -> io::Result<()> {
        events.clear();
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut shared = self.shared.lock();
        shared.polling += 1;
        let result = self.poll_locked(&mut shared, table, events, deadline);
        shared.polling -= 1;
        events.seen_wakes = shared.wake_epoch;
        result
    }

    /// The body of [`Handoff::poll`], entered and left with the shared lock
    /// held: the *check* state of the module docs' table, and the two
    /// follower states.
    fn poll_locked(
        &self,
        shared: &mut MutexGuard<'_, Shared>,
        table: &TokenTable,
        events: &mut Events,
        deadline: Option<Instant>,
    ) -> io::Result<()> {
        // A wake-up since this buffer's last call counts as one during
        // this call: see `wake`.
        let epoch = events.seen_wakes;
        // Set once this call's hand-off wait ran out with a leader in place:
        // it then sleeps until woken, not on a timer.
        let mut patient = false;
        loop {
            if !shared.queue.is_empty() {
                if shared.requeued {
                    if let Some(backend) = shared.backend.take() {
                        // A look at the OS without blocking: what it reports
                        // gets into the queue before the requeued event is
                        // served again.
                        shared.requeued = false;
                        let now = Some(Instant::now());
                        return self.lead(shared, backend, table, events, now, epoch);
                    }
                }
                self.take(shared, events);
                return Ok(());
            }
            if shared.wake_epoch != epoch {
                return Ok(());
            }
            if let Some(backend) = shared.backend.take() {
                return self.lead(shared, backend, table, events, deadline, epoch);
            }
            // A follower: a leader is polling the OS.
            let now = Instant::now();
            if deadline.is_some_and(|d| now >= d) {
                return Ok(());
            }
            if patient {
                shared.untimed_waiters += 1;
                match deadline {
                    Some(d) => {
                        self.followers.wait_until(shared, d);
                    }
                    None => self.followers.wait(shared),
                }
                shared.untimed_waiters -= 1;
                patient = false;
            } else {
                let handoff = now + HANDOFF;
                let until = deadline.map_or(handoff, |d| d.min(handoff));
                shared.timed_waiters += 1;
                let timed_out = self.followers.wait_until(shared, until).timed_out();
                shared.timed_waiters -= 1;
                if timed_out {
                    if shared.backend.is_some() {
                        // Nobody leads and nobody came back in time: take
                        // over (the loop picks the backend up).
                        shared.takeovers += 1;
                    } else {
                        patient = true;
                    }
                }
            }
        }
    }

    /// The *leader* state: wait in the OS poll with the shared lock
    /// released, turn OS events into deliverable events through `table`,
    /// keep what fits in `events`, queue the rest, give the backend back and
    /// take a share.
    fn lead(
        &self,
        shared: &mut MutexGuard<'_, Shared>,
        mut backend: Box<Backend>,
        table: &TokenTable,
        events: &mut Events,
        deadline: Option<Instant>,
        epoch: u64,
    ) -> io::Result<()> {
        // Nothing was handed to this call before it became the leader.
        debug_assert!(events.is_empty());
        loop {
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let result = unlocked(shared, || {
                let result = backend.poll.poll(&mut backend.events, timeout);
                let Backend {
                    events: os,
                    surplus,
                    ..
                } = &mut *backend;
                for event in os.iter() {
                    let (token, ready) = sys::token_ready(event);
                    if token == WAKE_TOKEN {
                        continue;
                    }
                    if let Some(e) = table.on_event(token, ready) {
                        // The leader's own share skips the shared queue.
                        if events.room() > 0 {
                            events.push(e);
                        } else {
                            surplus.push(e);
                        }
                    }
                }
                result
            });
            if !shared.queue.is_empty() && !events.is_empty() {
                // Events were queued while this thread polled: they are
                // older, so they go first (invariant 5).
                shared.queue.extend(events.drain());
            }
            shared.queue.extend(backend.surplus.drain(..));
            let failed = matches!(&result, Err(e) if e.kind() != io::ErrorKind::Interrupted);
            let done = failed
                || !events.is_empty()
                || !shared.queue.is_empty()
                || shared.wake_epoch != epoch
                || deadline.is_some_and(|d| Instant::now() >= d);
            if done {
                shared.backend = Some(backend);
                self.take(shared, events);
                return if failed { result } else { Ok(()) };
            }
            // Only stale events, the waker, or a signal: keep leading.
        }
    }

    /// Moves up to `events.room()` queued events into `events`, then decides
    /// whether one waiting follower must be woken:
    ///
    /// * events are left over and somebody waits for work (*surplus*), or
    /// * nobody leads and some follower sleeps without a time limit (*role
    ///   free*: it would otherwise never notice).
    ///
    /// Never more than one: a woken follower that finds still more work
    /// wakes the next one itself, so wake-ups follow the work, not the
    /// number of threads.
    fn take(&self, shared: &mut Shared, events: &mut Events) {
        let n = events.room().min(shared.queue.len());
        for event in shared.queue.drain(..n) {
            events.push(event);
        }
        let waiting = shared.timed_waiters + shared.untimed_waiters;
        let surplus = !shared.queue.is_empty() && waiting > 0;
        let role_free = shared.backend.is_some() && shared.untimed_waiters > 0;
        if surplus || role_free {
            shared.follower_wakeups += 1;
            self.followers.notify_one();
        }
    }

    /// Queues `event` for some `poll` call. With [`Notify::Prompt`], makes
    /// sure a thread sees it soon: a waiting follower is woken, or else the
    /// leader is woken out of the OS poll.
    pub(crate) fn push(&self, event: Event, notify: Notify) {
        let mut shared = self.shared.lock();
        shared.queue.push_back(event);
        if notify == Notify::Caller {
            shared.requeued = true;
            return;
        }
        if shared.timed_waiters + shared.untimed_waiters > 0 {
            shared.follower_wakeups += 1;
            self.followers.notify_one();
        } else if shared.backend.is_none() {
            shared.leader_wakeups += 1;
            drop(shared);
            // Best effort: if the waker fails, the event is still queued and
            // the next `poll` call returns it.
            let _ = self.waker.wake();
        }
    }

    /// [`Poll::wake`](crate::Poll::wake): every call inside `poll` returns,
    /// and every `Events` that has not seen this wake-up makes its next call
    /// return at once.
    pub(crate) fn wake(&self) -> io::Result<()> {
        let mut shared = self.shared.lock();
        shared.wake_epoch = shared.wake_epoch.wrapping_add(1);
        if shared.timed_waiters + shared.untimed_waiters > 0 {
            self.followers.notify_all();
        }
        let leader = shared.backend.is_none();
        if leader {
            shared.leader_wakeups += 1;
        }
        drop(shared);
        if leader {
            self.waker.wake()?;
        }
        Ok(())
    }

    /// The hand-off's counters; `registry_calls` is left at zero for the
    /// poller to fill in.
    pub(crate) fn stats(&self) -> PollStats {
        let shared = self.shared.lock();
        PollStats {
            registry_calls: 0,
            follower_wakeups: shared.follower_wakeups,
            leader_wakeups: shared.leader_wakeups,
            takeovers: shared.takeovers,
            polling_threads: shared.polling,
        }
    }
}

impl fmt::Debug for Handoff {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handoff")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
