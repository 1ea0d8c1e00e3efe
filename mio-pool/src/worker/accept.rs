//! Accepting: the [`Acceptor`] (when accepting is paused, and why), and
//! admitting accepted connections into the table and the poller.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mio::Interest;
use mio_pool_poll::Event;

use super::cap::Cap;
use super::guard::catch;
use super::slot::Slot;
use super::{Pool, CONN_INTEREST};
use crate::connection::Connection;
use crate::conns::LISTENER;
use crate::listener::Listener;
use crate::stats::Counters;

/// How long accepting pauses when the process runs out of file descriptors
/// (or accept fails in a way that retrying at once would not fix).
pub(crate) const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// Connections one listener event accepts before the listener goes back in
/// the queue behind the connections that are ready, so a connection storm
/// cannot starve them.
const ACCEPTS_PER_EVENT: usize = 256;

/// When accepting is paused, and why: a failed accept (out of file
/// descriptors, say) pauses it for [`ACCEPT_PAUSE`]; the connection cap
/// pauses it until a connection closes.
///
/// While paused the listener stays *disarmed* in the poller: the clients
/// waiting in the backlog raise no new edge (they wait there, neither
/// refused nor accepted), so resuming accepts directly
/// ([`take_due`](Acceptor::take_due), then `Pool::accept(None)`) instead of
/// re-arming. The workers' loop asks for [`timeout`](Acceptor::timeout) (how
/// long it may block in `poll`) and for `take_due` after every batch.
///
/// | state          | listener | leaves it                                                        |
/// |----------------|----------|------------------------------------------------------------------|
/// | accepting      | armed, or held by the accepting worker | a failed accept (paused), `open` reaching the cap (capped) |
/// | paused         | disarmed | `paused_until` passes: the next worker to finish a batch resumes |
/// | capped         | disarmed | a close: the closing worker makes the pause due at once, as above |
///
/// The cap is checked before every accept, by the one worker that holds
/// the listener; only it raises `open`, so `open` never exceeds the cap.
/// Capping and closing race: see [`Cap`] for the handshake that makes sure
/// one of them sees that accepting must go on.
pub(crate) struct Acceptor {
    /// Start of the pool, the origin of `paused_until`.
    epoch: Instant,
    /// Nanoseconds after `epoch` when accepting resumes; 0: not paused.
    paused_until: AtomicU64,
    /// Set while accept fails for lack of file descriptors, so that the
    /// condition is logged once per episode, not once per attempt.
    out_of_fds: AtomicBool,
    cap: Cap,
}

impl Acceptor {
    pub(crate) fn new(max_connections: Option<usize>) -> Acceptor {
        Acceptor {
            epoch: Instant::now(),
            paused_until: AtomicU64::new(0),
            out_of_fds: AtomicBool::new(false),
            cap: Cap::new(max_connections),
        }
    }

    /// Whether the cap stops accepting now. Called by the worker that holds
    /// the listener, before each accept.
    fn capped(&self) -> bool {
        self.cap.stops()
    }

    /// A new connection is in the table: it counts against the cap until
    /// [`on_close`](Acceptor::on_close).
    fn admitted(&self) {
        self.cap.opened();
    }

    /// A connection closed (after `closed` was counted): resume accepting
    /// if the cap had stopped it.
    pub(crate) fn on_close(&self) {
        if self.cap.closed() {
            // Due at once: this worker resumes at the end of its batch.
            self.paused_until.store(1, Ordering::Release);
        }
    }

    /// Pauses accepting for [`ACCEPT_PAUSE`]; the listener is left disarmed.
    fn pause(&self) {
        let until = self.epoch.elapsed() + ACCEPT_PAUSE;
        let nanos = u64::try_from(until.as_nanos()).unwrap_or(u64::MAX).max(1);
        self.paused_until.store(nanos, Ordering::Release);
    }

    /// Ends a pause for good (the listener is gone).
    pub(crate) fn cancel(&self) {
        self.paused_until.store(0, Ordering::Release);
    }

    /// How long a worker may block in `poll`: until accepting resumes, if
    /// it is paused.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        match self.paused_until.load(Ordering::Acquire) {
            0 => None,
            until => Some(Duration::from_nanos(until).saturating_sub(self.epoch.elapsed())),
        }
    }

    /// Whether a pause is over and the caller must resume accepting; true
    /// for one caller only (the others see the pause ended).
    pub(crate) fn take_due(&self) -> bool {
        let until = self.paused_until.load(Ordering::Acquire);
        if until == 0 || Duration::from_nanos(until) > self.epoch.elapsed() {
            return false;
        }
        self.paused_until
            .compare_exchange(until, 0, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    }

    /// An accept succeeded: an out-of-descriptors episode is over.
    fn accepted(&self) {
        if self.out_of_fds.swap(false, Ordering::Relaxed) {
            log::info!("mio-pool: accepting again");
        }
    }

    /// Logs a failed accept that pauses accepting (once per episode when
    /// out of file descriptors).
    fn failed(&self, e: &io::Error) {
        if is_out_of_fds(e) {
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
    }
}

impl<L, C, E> Pool<L, C, E>
where
    L: Listener,
    C: Connection + Send + 'static,
{
    /// Accepts until `WouldBlock` (or [`ACCEPTS_PER_EVENT`]), then re-arms
    /// the listener. `event` is the listener's event, if this runs for one.
    pub(super) fn accept(&self, event: Option<Event>) {
        let mut guard = self.listener.lock();
        let Some(listener) = guard.as_mut() else {
            return; // finishing: the listener is gone
        };
        let mut accepted = 0;
        loop {
            if self.acceptor.capped() {
                // The listener stays disarmed; a close resumes accepting.
                return;
            }
            // `Listener::accept` may be user code: a panic in it counts as
            // a panic and as a failed accept (which pauses accepting, so a
            // listener that always panics does not spin a worker).
            let outcome = catch(&self.counters, "Listener::accept", || listener.accept())
                .unwrap_or_else(|| Err(io::Error::other("Listener::accept panicked")));
            match outcome {
                Ok(conn) => {
                    self.acceptor.accepted();
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
                            self.acceptor.pause();
                            return;
                        }
                    }
                }
                Err(e) if is_transient(&e) => Counters::bump(&self.counters.accept_errors),
                Err(e) => {
                    // Logged before counted, so whoever sees the counter
                    // move also sees the warning.
                    self.acceptor.failed(&e);
                    Counters::bump(&self.counters.accept_errors);
                    self.acceptor.pause();
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
        let Some(conn) = catch(
            &self.counters,
            "the connection adapter (dropping the connection)",
            || (self.adapter)(conn),
        ) else {
            return;
        };
        Counters::bump(&self.counters.accepted);
        let Some((token, conn)) = self.conns.insert(Slot::new(conn)) else {
            log::warn!("mio-pool: connection table full; closing the new connection");
            Counters::bump(&self.counters.accept_errors);
            Counters::bump(&self.counters.closed);
            return;
        };
        // Counted against the cap before anything can close it.
        self.acceptor.admitted();
        // In the table before the poller knows it: its first event may come
        // at once, to another worker, which must find it.
        let mut guard = conn.lock();
        if let Err(e) = self.poll.register(&mut guard.conn, token, CONN_INTEREST) {
            log::warn!("mio-pool: cannot register a new connection: {e}; closing it");
            self.retire(token, &mut guard);
        } else {
            // Its deadlines run from now.
            let now = Instant::now();
            if self.timers.idle_ticks().is_some() {
                guard.set_stamp(self.timers.tick_of(now));
            }
            self.check_deadline(token, &mut guard, now);
        }
        drop(guard);
        self.release(conn);
    }
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
}
