//! [`Poll`]: one poller, many polling threads, leader/followers hand-off.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::event::{Event, Events};
use crate::sync::{unlocked, Condvar, Mutex, MutexGuard};
use crate::sys;
use crate::token_table::TokenTable;
use mio::event::Source;
use mio::{Interest, Token};

/// The token of the internal waker; users may not register it.
const WAKE_TOKEN: Token = Token(usize::MAX);

/// How many OS events the leader takes from mio in one system call.
const OS_BATCH: usize = 1024;

/// How long a follower waits, while no thread is the leader, before it takes
/// over the leader's role itself. See "Hand-off" in the crate docs.
pub const HANDOFF: Duration = Duration::from_millis(1);

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
    waker: sys::Waker,
    table: TokenTable,
    shared: Mutex<Shared>,
    followers: Condvar,
    registry_calls: AtomicU64,
}

/// What the leader owns while it polls, and gives back when it is done.
struct Backend {
    poll: sys::Poll,
    events: sys::Events,
    /// Deliverable events of the last OS batch, before they are queued.
    fresh: Vec<Event>,
}

/// State shared by the polling threads, under one lock that is taken once
/// per `poll` call (not per event) and by re-arms that must queue an event.
struct Shared {
    /// Events that are due to a caller of `poll`, oldest first.
    queue: VecDeque<Event>,
    /// `Some` when no thread is the leader; the leader takes it out.
    backend: Option<Box<Backend>>,
    /// Followers waiting at most [`HANDOFF`] for the leader to come back.
    timed_waiters: usize,
    /// Followers waiting without a time limit (a leader was in place when
    /// their hand-off wait ran out). Whoever leaves the leader's role while
    /// there are some must wake one.
    untimed_waiters: usize,
    /// Set by `requeue`: the queue holds an event that went back in line,
    /// so the OS must be asked for what became ready meanwhile before the
    /// queue is served, or a source that is always ready would starve the
    /// ones the OS has not reported yet.
    requeued: bool,
    /// Bumped by `wake`; a call returns when it differs from the count its
    /// `Events` saw last.
    wake_epoch: u64,
    /// Threads inside `poll` right now.
    polling: usize,
    follower_wakeups: u64,
    leader_wakeups: u64,
    takeovers: u64,
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
    /// [`HANDOFF`] for the leader to come back.
    pub takeovers: u64,
    /// Threads inside [`Poll::poll`] when the snapshot was taken. Once it
    /// counts a thread, a [`Poll::wake`] makes that call return.
    pub polling_threads: usize,
}

/// Whether queueing an event must make sure that a thread sees it soon.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Notify {
    /// Wake a waiting follower, or the leader, if needed.
    Prompt,
    /// The caller will call `poll` itself next.
    Caller,
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
        let waker = sys::Waker::new(&registry, WAKE_TOKEN)?;
        Ok(Poll {
            registry,
            waker,
            table: TokenTable::new(),
            shared: Mutex::new(Shared {
                queue: VecDeque::new(),
                backend: Some(Box::new(Backend {
                    poll,
                    events: sys::Events::with_capacity(OS_BATCH),
                    fresh: Vec::with_capacity(OS_BATCH),
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
    /// # Errors
    ///
    /// `NotFound` if `token` is not registered with this poller;
    /// `InvalidInput` for the reserved token; otherwise what the OS says when
    /// the interest changes.
    pub fn reregister<S>(&self, source: &mut S, token: Token, interests: Interest) -> io::Result<()>
    where
        S: Source + ?Sized,
    {
        if let Some(event) = self.rearm(source, token, interests)? {
            self.push(event, Notify::Prompt);
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
            Err(Some(_old)) => {
                // The owner holds the token (it is disarmed, or armed and
                // only being given a new interest), so nothing else changes
                // its interest between these two steps.
                self.registry_calls.fetch_add(1, Ordering::Relaxed);
                self.registry.reregister(source, token, interests)?;
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
        self.push(event, Notify::Caller);
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
        events.clear();
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        let mut shared = self.shared.lock();
        shared.polling += 1;
        let result = self.poll_locked(&mut shared, events, deadline);
        shared.polling -= 1;
        events.seen_wakes = shared.wake_epoch;
        result
    }

    /// The body of [`Poll::poll`], entered and left with the shared lock held.
    fn poll_locked(
        &self,
        shared: &mut MutexGuard<'_, Shared>,
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
                        // goes behind the requeued event, not after it.
                        shared.requeued = false;
                        return self.lead(shared, backend, events, Some(Instant::now()), epoch);
                    }
                }
                self.take(shared, events);
                return Ok(());
            }
            if shared.wake_epoch != epoch {
                return Ok(());
            }
            if let Some(backend) = shared.backend.take() {
                return self.lead(shared, backend, events, deadline, epoch);
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

    /// The leader's part of `poll`: wait in the OS poll with the shared lock
    /// released, turn OS events into deliverable events through the token
    /// table, queue them, give the backend back and take a share.
    fn lead(
        &self,
        shared: &mut MutexGuard<'_, Shared>,
        mut backend: Box<Backend>,
        events: &mut Events,
        deadline: Option<Instant>,
        epoch: u64,
    ) -> io::Result<()> {
        loop {
            let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let result = unlocked(shared, || {
                let result = backend.poll.poll(&mut backend.events, timeout);
                let Backend {
                    events: os, fresh, ..
                } = &mut *backend;
                for event in os.iter() {
                    let (token, ready) = sys::token_ready(event);
                    if token == WAKE_TOKEN {
                        continue;
                    }
                    if let Some(e) = self.table.on_event(token, ready) {
                        fresh.push(e);
                    }
                }
                result
            });
            shared.queue.extend(backend.fresh.drain(..));
            let failed = matches!(&result, Err(e) if e.kind() != io::ErrorKind::Interrupted);
            let done = failed
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
    /// * events are left over and somebody waits for work, or
    /// * nobody leads and some follower sleeps without a time limit (it
    ///   would otherwise never notice that the role is free).
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
    fn push(&self, event: Event, notify: Notify) {
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

    /// A snapshot of this poller's counters.
    pub fn stats(&self) -> PollStats {
        let shared = self.shared.lock();
        PollStats {
            registry_calls: self.registry_calls.load(Ordering::Relaxed),
            follower_wakeups: shared.follower_wakeups,
            leader_wakeups: shared.leader_wakeups,
            takeovers: shared.takeovers,
            polling_threads: shared.polling,
        }
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

/// loom models of the hand-off: the real `Poll` (leader, followers, queue,
/// token table) over a model OS (`sys.rs`), in every interleaving of up to
/// three threads. A wake-up that nobody sends shows up as a deadlock, which
/// loom reports. In the model every timer fires at once (see `sync.rs`), so
/// the paths only a timer reaches are explored too. Run with
/// `RUSTFLAGS="--cfg loom" cargo test -p mio-pool-poll --lib --release loom`.
#[cfg(all(test, loom))]
mod loom_models {
    use super::*;
    use crate::event::Ready;
    use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    use loom::sync::{Arc, Notify};
    use loom::thread;

    const A: Token = Token(1);
    const B: Token = Token(2);

    /// A source for the model registry, which never touches it.
    struct Nothing;

    impl Source for Nothing {
        fn register(&mut self, _: &mio::Registry, _: Token, _: Interest) -> io::Result<()> {
            Ok(())
        }
        fn reregister(&mut self, _: &mio::Registry, _: Token, _: Interest) -> io::Result<()> {
            Ok(())
        }
        fn deregister(&mut self, _: &mio::Registry) -> io::Result<()> {
            Ok(())
        }
    }

    /// Up to four threads, the hand-off's locks, the token table's shard
    /// lock and the model OS's lock: three preemptions keep each model
    /// within seconds (CI) and already reach every mutation tried (each
    /// wake-up removed in turn deadlocks a model).
    /// `LOOM_MAX_PREEMPTIONS=5` takes about three minutes here, and passes.
    fn model(f: impl Fn() + Sync + Send + 'static) {
        let mut builder = loom::model::Builder::new();
        if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
            builder.preemption_bound = Some(3);
        }
        builder.check(f);
    }

    fn poller(tokens: &[Token]) -> Arc<Poll> {
        let poll = Arc::new(Poll::new().unwrap());
        for &token in tokens {
            poll.register(&mut Nothing, token, Interest::READABLE)
                .unwrap();
        }
        poll
    }

    /// The OS reports an edge for `token`.
    fn report(poll: &Poll, token: Token) {
        poll.registry.os().report(token, Ready::READABLE);
    }

    /// Calls that returned events, and a signal for each.
    #[derive(Default)]
    struct Got {
        calls: AtomicUsize,
        signal: Notify,
    }

    impl Got {
        /// Blocks until some call returned events (loom's `Notify` may wake
        /// spuriously, hence the count).
        fn wait(&self) {
            while self.calls.load(SeqCst) == 0 {
                self.signal.wait();
            }
        }
    }

    /// A thread that makes one `poll(None)` call with room for `room`
    /// events, signals `got` if it returned any, and returns their tokens.
    fn polling_thread(
        poll: &Arc<Poll>,
        room: usize,
        got: &Arc<Got>,
    ) -> thread::JoinHandle<Vec<Token>> {
        let (poll, got) = (poll.clone(), got.clone());
        thread::spawn(move || {
            let mut events = Events::with_capacity(room);
            poll.poll(&mut events, None).unwrap();
            let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
            if !tokens.is_empty() {
                got.calls.fetch_add(1, SeqCst);
                got.signal.notify();
            }
            tokens
        })
    }

    /// `n` of [`polling_thread`].
    fn polling_threads(
        n: usize,
        poll: &Arc<Poll>,
        room: usize,
        got: &Arc<Got>,
    ) -> Vec<thread::JoinHandle<Vec<Token>>> {
        (0..n).map(|_| polling_thread(poll, room, got)).collect()
    }

    fn joined(threads: Vec<thread::JoinHandle<Vec<Token>>>) -> Vec<Token> {
        let mut all: Vec<Token> = threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect();
        all.sort();
        all
    }

    /// Contract 5: `wake` returns every poller, whether it leads, waits on
    /// the hand-off timer or sleeps untimed, or has not started its call.
    /// Three pollers: with two, the leader's return alone would release
    /// the one follower.
    #[test]
    fn wake_returns_every_poller() {
        model(|| {
            let poll = poller(&[]);
            let got = Arc::new(Got::default());
            let threads = polling_threads(3, &poll, 4, &got);
            poll.wake().unwrap();
            assert!(joined(threads).is_empty());
        });
    }

    /// Contracts 1 and 2: two edges for one token while two threads poll:
    /// one event, returned by exactly one of them, never zero.
    #[test]
    fn an_event_is_returned_by_exactly_one_poller() {
        model(|| {
            let poll = poller(&[A]);
            let got = Arc::new(Got::default());
            let threads = polling_threads(2, &poll, 4, &got);
            report(&poll, A);
            report(&poll, A);
            // Deadlock here, in some interleaving, would be a lost event.
            got.wait();
            poll.wake().unwrap(); // releases the other thread
            assert_eq!(joined(threads), [A]);
        });
    }

    /// Contract 3: readiness that arrives while the token is disarmed is
    /// returned after the re-arm to a thread that is already asleep (as
    /// the leader in the OS poll, or as a follower), without new I/O.
    #[test]
    fn rearm_hands_kept_readiness_to_a_sleeping_poller() {
        model(|| {
            let poll = poller(&[A]);
            report(&poll, A);
            let mut events = Events::with_capacity(4);
            poll.poll(&mut events, None).unwrap();
            assert_eq!(events.iter().map(|e| e.token()).collect::<Vec<_>>(), [A]);
            // The owner holds A (disarmed); a new edge comes meanwhile.
            report(&poll, A);
            let got = Arc::new(Got::default());
            let threads = polling_threads(2, &poll, 4, &got);
            poll.reregister(&mut Nothing, A, Interest::READABLE)
                .unwrap();
            got.wait();
            poll.wake().unwrap();
            assert_eq!(joined(threads), [A]);
        });
    }

    /// A leader's batch holds more than it takes: the other thread gets
    /// the rest, with no `wake`, whatever it was doing meanwhile.
    #[test]
    fn the_surplus_of_a_batch_reaches_the_other_poller() {
        model(|| {
            let poll = poller(&[A, B]);
            let got = Arc::new(Got::default());
            let threads = polling_threads(2, &poll, 1, &got);
            report(&poll, A);
            report(&poll, B);
            assert_eq!(joined(threads), [A, B]);
        });
    }

    /// The leader returns and never polls again: the other thread takes
    /// the leader's role and gets what the OS reports next, whether it was
    /// on the hand-off timer or asleep without one.
    #[test]
    fn the_role_passes_on_when_the_leader_leaves() {
        model(|| {
            let poll = poller(&[A, B]);
            let got = Arc::new(Got::default());
            let threads = polling_threads(2, &poll, 1, &got);
            report(&poll, A);
            got.wait(); // one thread returned with A and is gone
            report(&poll, B);
            assert_eq!(joined(threads), [A, B]);
        });
    }

    /// A holder puts its event back in line (`requeue`, which wakes
    /// nobody) while another thread polls and the OS reports a second
    /// token: each of the two is returned exactly once, by the other thread
    /// or by the holder's next calls.
    #[test]
    fn a_requeued_event_is_returned_exactly_once() {
        model(|| {
            let poll = poller(&[A, B]);
            report(&poll, A);
            let mut events = Events::with_capacity(4);
            poll.poll(&mut events, None).unwrap();
            let held = *events.iter().next().unwrap();
            assert_eq!(held.token(), A);
            let got = Arc::new(Got::default());
            let other = polling_thread(&poll, 4, &got);
            report(&poll, B);
            poll.requeue(held);
            // The other thread leads (nobody else polls), so B's report
            // wakes it; then the holder drains what is left, never blocking
            // (every timer fires at once in the model).
            got.wait();
            let mut mine = Vec::new();
            loop {
                poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
                if events.is_empty() {
                    break;
                }
                mine.extend(events.iter().map(|e| e.token()));
            }
            let mut all = joined(vec![other]);
            all.extend(mine);
            all.sort();
            assert_eq!(all, [A, B]);
        });
    }
}
