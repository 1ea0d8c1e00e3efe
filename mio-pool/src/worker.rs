//! What every worker thread runs: dispatch events, accept, serve, retire.

use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Interest, Token};
use mio_pool_poll::{Event, Events, Poll};
use parking_lot::{Condvar, Mutex};

use crate::conns::{ConnRef, Conns, LISTENER};
use crate::handle::{Control, Counters};
use crate::listener::Listener;

/// Connections are registered for both, so that a handler also runs when a
/// full send buffer drains.
pub(crate) const CONN_INTEREST: Interest = Interest::READABLE.add(Interest::WRITABLE);

/// Handler calls in a row for one connection before it goes back behind
/// the other ready connections.
pub(crate) const FAIRNESS_LIMIT: u32 = 32;

/// Events one worker takes per `poll` call by default; more than that in
/// one OS batch wakes another worker. See `PoolBuilder::set_events_per_poll`.
pub(crate) const EVENTS_PER_POLL: usize = 32;

/// How long accepting pauses when the process runs out of file descriptors
/// (or accept fails in a way that retrying at once would not fix).
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// How long a worker may stay on its CPU without sleeping before it yields
/// the CPU (`sched_yield`) ahead of its next `poll`, by default. See `work`
/// and `PoolBuilder::set_yield_after`.
pub(crate) const YIELD_AFTER: Duration = Duration::from_millis(1);

/// A `poll` call that took this long slept or was preempted: either way the
/// worker was off its CPU and other threads had their turn.
const OFF_CPU: Duration = Duration::from_micros(50);

/// Connections one listener event accepts before the listener goes back in
/// the queue behind the connections that are ready, so a connection storm
/// cannot starve them.
const ACCEPTS_PER_EVENT: usize = 256;

/// The pool's life cycle; only ever moves forward.
///
/// | phase       | accepting | workers            | entered by                   |
/// |-------------|-----------|--------------------|------------------------------|
/// | RUNNING     | yes       | serve              | start                        |
/// | FINISHING   | no (listener closed) | serve   | `finish`, `finish_timeout`   |
/// | TERMINATING | no        | return at once     | `terminate`, drop, end of `finish` |
const RUNNING: u8 = 0;
const FINISHING: u8 = 1;
const TERMINATING: u8 = 2;

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
    conns: Conns<C>,
    adapter: Adapter<L::Connection, C>,
    on_ready: E,
    phase: AtomicU8,
    tuning: Tuning,
    pub(crate) counters: Arc<Counters>,
    /// Start of the pool, the origin of `accept_paused_until`.
    epoch: Instant,
    /// Nanoseconds after `epoch` when accepting resumes; 0: not paused.
    accept_paused_until: AtomicU64,
    /// Set while accept fails for lack of file descriptors, so that the
    /// condition is logged once per episode, not once per attempt.
    out_of_fds: AtomicBool,
    /// Signalled when a connection closes while finishing, and when a
    /// worker exits.
    drained: (Mutex<()>, Condvar),
    /// Workers spawned and not yet exited (returned or unwound); see
    /// [`Alive`]. With none left, nobody would close the open connections,
    /// so finishing stops waiting for them.
    live_workers: AtomicUsize,
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

/// Drops a connection (or a reference to one) with a panic in its `Drop`
/// caught, logged and counted.
fn drop_guarded<T>(conn: T, counters: &Counters) {
    if let Err(payload) = panic::catch_unwind(AssertUnwindSafe(move || drop(conn))) {
        log::error!(
            "mio-pool: dropping a closed connection panicked ({})",
            panic_message(&*payload)
        );
        Counters::bump(&counters.panics);
    }
}

impl<L: Listener, C, E> Drop for Pool<L, C, E> {
    /// Connections still open when the pool ends (terminated, or finished
    /// past its grace period) are dropped by whichever thread lets go of
    /// the pool last: a worker, or the one that called `terminate`. Their
    /// `Drop` is user code, guarded as in [`Pool::release`].
    fn drop(&mut self) {
        for conn in self.conns.take_all() {
            drop_guarded(conn, &self.counters);
        }
    }
}

impl<L, C, E> Pool<L, C, E>
where
    L: Listener,
    C: mio::event::Source + Send + 'static,
{
    pub(crate) fn new(
        poll: Poll,
        listener: L,
        adapter: Adapter<L::Connection, C>,
        on_ready: E,
        counters: Arc<Counters>,
        tuning: Tuning,
    ) -> Pool<L, C, E> {
        Pool {
            poll,
            listener: Mutex::new(Some(listener)),
            conns: Conns::new(),
            adapter,
            on_ready,
            phase: AtomicU8::new(RUNNING),
            tuning,
            counters,
            epoch: Instant::now(),
            accept_paused_until: AtomicU64::new(0),
            out_of_fds: AtomicBool::new(false),
            drained: (Mutex::new(()), Condvar::new()),
            live_workers: AtomicUsize::new(0),
        }
    }

    fn terminating(&self) -> bool {
        self.phase.load(Ordering::Acquire) == TERMINATING
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
    /// waiting, `sched_yield` returns at once: at most a thousand cheap
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
            let polled = self.poll.poll(&mut events, self.accept_resumes_in());
            let after = Instant::now();
            if after.duration_since(before) >= OFF_CPU {
                on_cpu_since = after;
            }
            if let Err(e) = polled {
                // Not expected from epoll/kqueue; back off rather than spin.
                log::error!("mio-pool: poll failed: {e}");
                std::thread::sleep(ACCEPT_PAUSE);
                continue;
            }
            for event in &events {
                if self.terminating() {
                    return;
                }
                if event.token() == LISTENER {
                    self.accept(Some(*event));
                } else {
                    self.serve(*event, state);
                }
            }
            self.resume_accepting_if_due();
        }
    }

    // --- accept ---------------------------------------------------------

    /// Accepts until `WouldBlock` (or [`ACCEPTS_PER_EVENT`]), then re-arms
    /// the listener. `event` is the listener's event, if this runs for one.
    fn accept(&self, event: Option<Event>) {
        let mut guard = self.listener.lock();
        let Some(listener) = guard.as_mut() else {
            return; // finishing: the listener is gone
        };
        let mut accepted = 0;
        loop {
            // `Listener::accept` may be user code: a panic in it counts as
            // a panic and as a failed accept (which pauses accepting, so a
            // listener that always panics does not spin a worker).
            let outcome = panic::catch_unwind(AssertUnwindSafe(|| listener.accept()))
                .unwrap_or_else(|payload| {
                    log::error!(
                        "mio-pool: Listener::accept panicked ({})",
                        panic_message(&*payload)
                    );
                    Counters::bump(&self.counters.panics);
                    Err(io::Error::other("Listener::accept panicked"))
                });
            match outcome {
                Ok(conn) => {
                    if self.out_of_fds.swap(false, Ordering::Relaxed) {
                        log::info!("mio-pool: accepting again");
                    }
                    self.admit(conn);
                    accepted += 1;
                    if accepted == ACCEPTS_PER_EVENT {
                        if let Some(event) = event {
                            // Still disarmed; back in line behind the
                            // connections that are ready.
                            self.poll.requeue(event);
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    match self.poll.rearm(listener, LISTENER, Interest::READABLE) {
                        Ok(None) => return,
                        Ok(Some(_)) => continue, // more arrived meanwhile
                        Err(e) => {
                            log::error!("mio-pool: cannot re-arm the listener: {e}; retrying");
                            self.pause_accepting();
                            return;
                        }
                    }
                }
                Err(e) if is_transient(&e) => Counters::bump(&self.counters.accept_errors),
                Err(e) => {
                    // Logged before counted, so whoever sees the counter
                    // move also sees the warning.
                    if is_out_of_fds(&e) {
                        if !self.out_of_fds.swap(true, Ordering::Relaxed) {
                            log::warn!(
                                "mio-pool: out of file descriptors ({e}); open connections \
                                 are still served, accepting pauses for {ACCEPT_PAUSE:?} at a time \
                                 (raise the limit with `ulimit -n`)"
                            );
                        }
                    } else {
                        log::warn!("mio-pool: accept failed: {e}; pausing for {ACCEPT_PAUSE:?}");
                    }
                    Counters::bump(&self.counters.accept_errors);
                    // The listener stays disarmed: the connections in the
                    // backlog raise no new edge, so resuming accepts
                    // directly instead of re-arming.
                    self.pause_accepting();
                    return;
                }
            }
        }
    }

    /// Registers a freshly accepted connection.
    fn admit(&self, conn: L::Connection) {
        // The adapter is user code, like the handler: a panic in it drops
        // this connection (moved into it) and must not take down the
        // worker, which holds the disarmed listener right now.
        let conn = match panic::catch_unwind(AssertUnwindSafe(|| (self.adapter)(conn))) {
            Ok(conn) => conn,
            Err(payload) => {
                log::error!(
                    "mio-pool: the connection adapter panicked ({}); dropping the connection",
                    panic_message(&*payload)
                );
                Counters::bump(&self.counters.panics);
                return;
            }
        };
        Counters::bump(&self.counters.accepted);
        let Some((token, conn)) = self.conns.insert(conn) else {
            log::warn!("mio-pool: connection table full; closing the new connection");
            Counters::bump(&self.counters.accept_errors);
            Counters::bump(&self.counters.closed);
            return;
        };
        // In the table before the poller knows it: its first event may come
        // at once, to another worker, which must find it.
        let mut guard = conn.lock();
        if let Err(e) = self.poll.register(&mut *guard, token, CONN_INTEREST) {
            log::warn!("mio-pool: cannot register a new connection: {e}; closing it");
            self.conns.remove(token);
            self.closed();
        }
        drop(guard);
        self.release(conn);
    }

    fn pause_accepting(&self) {
        let until = self.epoch.elapsed() + ACCEPT_PAUSE;
        let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.accept_paused_until.store(nanos, Ordering::Release);
    }

    /// How long this worker may block in `poll`: until accepting resumes,
    /// if it is paused.
    fn accept_resumes_in(&self) -> Option<Duration> {
        match self.accept_paused_until.load(Ordering::Acquire) {
            0 => None,
            until => Some(Duration::from_nanos(until).saturating_sub(self.epoch.elapsed())),
        }
    }

    fn resume_accepting_if_due(&self) {
        let until = self.accept_paused_until.load(Ordering::Acquire);
        if until == 0 || Duration::from_nanos(until) > self.epoch.elapsed() {
            return;
        }
        // One worker resumes; the others see 0.
        if self
            .accept_paused_until
            .compare_exchange(until, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            self.accept(None);
        }
    }

    // --- serve ----------------------------------------------------------

    /// Runs the handler for the connection `event` names, following the
    /// handler contract, until it is drained (re-armed), done (closed) or
    /// has had its fair share (queued again).
    fn serve<S>(&self, event: Event, state: &mut S)
    where
        E: Fn(&mut C, &mut S) -> io::Result<bool>,
    {
        let Some(conn) = self.conns.get(event.token()) else {
            return; // a stale event of a closed connection: nothing to do
        };
        self.serve_conn(&conn, event, state);
        // If the connection was closed, this is the last reference to it.
        self.release(conn);
    }

    fn serve_conn<S>(&self, conn: &ConnRef<C>, event: Event, state: &mut S)
    where
        E: Fn(&mut C, &mut S) -> io::Result<bool>,
    {
        let token = event.token();
        // The poller hands `token` to one worker at a time, so this lock is
        // uncontended but for a moment right after a re-arm below.
        let mut conn = conn.lock();
        let mut current = event;
        // A handler may stop at a short read and report WouldBlock without
        // reading again (see `run`). If the event also said the peer hung up,
        // that hang-up came with the data and raises no new edge, so such a
        // WouldBlock earns one more call, which reads the end of stream.
        let mut recheck = hung_up(&current);
        for _ in 0..FAIRNESS_LIMIT {
            let outcome =
                panic::catch_unwind(AssertUnwindSafe(|| (self.on_ready)(&mut conn, state)));
            match outcome {
                Ok(Ok(false)) => {}
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if std::mem::take(&mut recheck) {
                        continue;
                    }
                    match self.poll.rearm(&mut *conn, token, CONN_INTEREST) {
                        Ok(None) => return,
                        // Data came while the handler ran: keep going here.
                        Ok(Some(again)) => {
                            current = again;
                            recheck = hung_up(&current);
                        }
                        Err(e) => {
                            log::warn!("mio-pool: cannot re-arm a connection: {e}; closing it");
                            return self.close(token, &mut conn);
                        }
                    }
                }
                Ok(Ok(true)) => return self.close(token, &mut conn),
                Ok(Err(e)) => {
                    log::debug!("mio-pool: handler error, closing the connection: {e}");
                    Counters::bump(&self.counters.handler_errors);
                    return self.close(token, &mut conn);
                }
                Err(payload) => {
                    log::error!(
                        "mio-pool: handler panicked ({}); closing its connection",
                        panic_message(&*payload)
                    );
                    Counters::bump(&self.counters.panics);
                    return self.close(token, &mut conn);
                }
            }
        }
        // Fair share used and there may be more: behind the others. No new
        // edge would come for data already there, so queue, don't re-arm.
        self.poll.requeue(current);
    }

    /// Lets go of a worker's reference to a connection. When it is the last
    /// one (the connection was closed), the connection is dropped here, and
    /// its `Drop` is user code: a panic in it is caught and counted, so that
    /// it cannot take the worker down.
    fn release(&self, conn: ConnRef<C>) {
        drop_guarded(conn, &self.counters);
    }

    /// Deregisters and forgets a connection; it is dropped (and the socket
    /// closed) when the worker lets go of it.
    fn close(&self, token: Token, conn: &mut C) {
        if let Err(e) = self.poll.remove(conn, token) {
            log::debug!("mio-pool: deregistering a closed connection: {e}");
        }
        self.conns.remove(token);
        self.closed();
    }

    fn closed(&self) {
        Counters::bump(&self.counters.closed);
        if self.phase.load(Ordering::Acquire) == FINISHING && self.counters.open() == 0 {
            let _guard = self.drained.0.lock();
            self.drained.1.notify_all();
        }
    }
}

impl<L, C, E> Control for Pool<L, C, E>
where
    L: Listener,
    C: mio::event::Source + Send + 'static,
    E: Send + Sync,
{
    fn stop_accepting(&self) {
        let _ =
            self.phase
                .compare_exchange(RUNNING, FINISHING, Ordering::AcqRel, Ordering::Acquire);
        // Waits for a worker that is accepting right now; after this no
        // connection is accepted.
        if let Some(mut listener) = self.listener.lock().take() {
            if let Err(e) = self.poll.remove(&mut listener, LISTENER) {
                log::debug!("mio-pool: deregistering the listener: {e}");
            }
            // Dropped here: the socket closes and new clients are refused.
        }
        self.accept_paused_until.store(0, Ordering::Release);
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
        self.phase.store(TERMINATING, Ordering::Release);
        if let Err(e) = self.poll.wake() {
            log::error!("mio-pool: cannot wake the workers: {e}");
        }
    }
}

/// The event reports that the peer hung up or the socket failed: whatever
/// the handler reads next will say so, but no new edge will.
fn hung_up(event: &Event) -> bool {
    event.is_read_closed() || event.is_write_closed() || event.is_error()
}

/// Accept errors that concern one connection, not the listener: skip them.
fn is_transient(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::Interrupted
            | io::ErrorKind::TimedOut
            | io::ErrorKind::PermissionDenied
    )
}

/// EMFILE, ENFILE, ENOBUFS, ENOMEM: the process or system is out of
/// resources; retrying at once would spin.
fn is_out_of_fds(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        // The values are the same on Linux, macOS and the BSDs, except
        // ENOBUFS (105 on Linux, 55 elsewhere).
        const EMFILE: i32 = 24;
        const ENFILE: i32 = 23;
        const ENOMEM: i32 = 12;
        #[cfg(target_os = "linux")]
        const ENOBUFS: i32 = 105;
        #[cfg(not(target_os = "linux"))]
        const ENOBUFS: i32 = 55;
        matches!(e.raw_os_error(), Some(EMFILE | ENFILE | ENOMEM | ENOBUFS))
    }
    #[cfg(not(unix))]
    {
        e.kind() == io::ErrorKind::OutOfMemory
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s
    } else {
        "a non-string panic payload"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fd_exhaustion_is_recognised() {
        assert!(is_out_of_fds(&io::Error::from_raw_os_error(24)));
        assert!(is_out_of_fds(&io::Error::from_raw_os_error(23)));
        assert!(!is_out_of_fds(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        assert!(is_transient(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
    }

    #[test]
    fn panic_messages_are_readable() {
        let p = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
        assert_eq!(panic_message(&*p), "boom 1");
        let p = std::panic::catch_unwind(|| panic!("static")).unwrap_err();
        assert_eq!(panic_message(&*p), "static");
    }
}
