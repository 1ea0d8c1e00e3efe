//! Serving: the handler contract, re-arming, closing through
//! `Connection::poll_close`, and the one path by which a connection leaves
//! the pool ([`Pool::retire`], then [`Pool::release`]).

use std::io;
use std::time::Instant;

use mio::Token;
use mio_pool_poll::Event;

use super::guard::{catch, drop_guarded};
use super::slot::{Life, Slot};
use super::{Pool, CONN_INTEREST, FAIRNESS_LIMIT};
use crate::connection::Connection;
use crate::conns::ConnRef;
use crate::listener::Listener;
use crate::stats::Counters;

/// How a run of handler calls ended.
enum Served {
    /// Drained and re-armed, or queued again for fairness: the connection
    /// stays open and its deadline is looked at.
    Waiting,
    /// The handler returned `Ok(true)`: close it; the worker still holds
    /// its event.
    Done(Event),
    /// An error, a panic or a failed re-arm: drop it at once.
    Failed,
}

impl<L, C, E> Pool<L, C, E>
where
    L: Listener,
    C: Connection + Send + 'static,
{
    /// Serves the connection `event` names, as its [`Life`] says, until it
    /// is drained (re-armed), closed, or has had its fair share (queued
    /// again). `now` is when the worker's poll returned.
    pub(super) fn serve<S>(&self, event: Event, state: &mut S, now: Instant)
    where
        E: Fn(&mut C, &mut S) -> io::Result<bool>,
    {
        let Some(conn) = self.conns.get(event.token()) else {
            return; // a stale event of a closed connection: nothing to do
        };
        {
            // The poller hands the token to one worker at a time, so this
            // lock is uncontended but for a moment right after a re-arm,
            // or while a sweeper looks at the connection's deadline.
            let mut slot = conn.lock();
            let token = event.token();
            match slot.life() {
                Life::Closed => {} // retired by a sweeper meanwhile
                Life::Closing { .. } => self.close(token, &mut slot, Some(event), now),
                Life::Open => {
                    if self.timers.idle_ticks().is_some() {
                        slot.set_stamp(self.timers.tick_of(now));
                    }
                    match self.call_handler(token, &mut slot.conn, event, state) {
                        Served::Waiting => self.check_deadline(token, &mut slot, now),
                        Served::Done(event) => self.close(token, &mut slot, Some(event), now),
                        Served::Failed => self.retire(token, &mut slot),
                    }
                }
            }
        }
        // If the connection was retired, this is the last reference to it.
        self.release(conn);
    }

    /// Calls the handler, following the handler contract (see `run`).
    fn call_handler<S>(&self, token: Token, conn: &mut C, event: Event, state: &mut S) -> Served
    where
        E: Fn(&mut C, &mut S) -> io::Result<bool>,
    {
        let mut current = event;
        // A handler may stop at a short read and report WouldBlock without
        // reading again (see `run`). If the event also said the peer hung up,
        // that hang-up came with the data and raises no new edge, so such a
        // WouldBlock earns one more call, which reads the end of stream.
        let mut recheck = hung_up(&current);
        for _ in 0..FAIRNESS_LIMIT {
            let outcome = catch(
                &self.counters,
                "the handler (closing its connection)",
                || (self.on_ready)(conn, state),
            );
            match outcome {
                Some(Ok(false)) => {}
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if std::mem::take(&mut recheck) {
                        continue;
                    }
                    match self.poll.rearm(conn, token, CONN_INTEREST) {
                        Ok(None) => return Served::Waiting,
                        // Data came while the handler ran: keep going here.
                        Ok(Some(again)) => {
                            current = again;
                            recheck = hung_up(&current);
                        }
                        Err(e) => {
                            log::warn!("mio-pool: cannot re-arm a connection: {e}; closing it");
                            return Served::Failed;
                        }
                    }
                }
                Some(Ok(true)) => return Served::Done(current),
                Some(Err(e)) => {
                    log::debug!("mio-pool: handler error, closing the connection: {e}");
                    Counters::bump(&self.counters.handler_errors);
                    return Served::Failed;
                }
                // The panic is counted.
                None => return Served::Failed,
            }
        }
        // Fair share used and there may be more: behind the others. No new
        // edge would come for data already there, so queue, don't re-arm.
        self.poll.requeue(current);
        Served::Waiting
    }

    /// Closes an open or closing connection through `poll_close`: retires
    /// it when that is done (or fails), otherwise leaves it `Closing` until
    /// its next event or its close deadline. `event` is the connection's
    /// event if this worker holds it (the token is disarmed and must be
    /// re-armed to hear of the connection again); `None` when a timer
    /// closes it, whose token is armed or whose event another worker is
    /// about to serve.
    pub(super) fn close(
        &self,
        token: Token,
        slot: &mut Slot<C>,
        event: Option<Event>,
        now: Instant,
    ) {
        let mut event = event;
        for _ in 0..FAIRNESS_LIMIT {
            let outcome = catch(
                &self.counters,
                "Connection::poll_close (dropping the connection)",
                || slot.conn.poll_close(),
            );
            match outcome {
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
                    if slot.life() == Life::Open {
                        slot.set_life(Life::Closing { timed_out: false });
                        let tick = self.timers.tick_of(now);
                        let close_by = self.timers.close_by(tick);
                        slot.set_stamp(close_by);
                        self.schedule(token, slot, Some(close_by), tick);
                    }
                    if event.is_none() {
                        return; // the event that resumes it goes to whoever gets it
                    }
                    match self.poll.rearm(&mut slot.conn, token, CONN_INTEREST) {
                        Ok(None) => return,
                        Ok(Some(again)) => event = Some(again),
                        Err(e) => {
                            log::debug!("mio-pool: cannot re-arm a closing connection: {e}");
                            return self.retire(token, slot);
                        }
                    }
                }
                Some(Ok(())) => return self.retire(token, slot),
                Some(Err(e)) => {
                    log::debug!("mio-pool: closing a connection failed: {e}");
                    return self.retire(token, slot);
                }
                None => return self.retire(token, slot),
            }
        }
        if let Some(event) = event {
            self.poll.requeue(event);
        }
    }

    /// Deregisters and forgets a connection, and counts it closed; it is
    /// dropped (and the socket closed) when the worker lets go of its last
    /// reference ([`release`](Pool::release)). Every way a connection leaves
    /// the pool goes through here.
    pub(super) fn retire(&self, token: Token, slot: &mut Slot<C>) {
        slot.set_life(Life::Closed);
        if let Err(e) = self.poll.remove(&mut slot.conn, token) {
            log::debug!("mio-pool: deregistering a closed connection: {e}");
        }
        self.conns.remove(token);
        self.closed();
    }

    /// Lets go of a worker's reference to a connection. When it is the last
    /// one (the connection was retired), the connection is dropped here, and
    /// its `Drop` is user code: a panic in it is caught and counted, so that
    /// it cannot take the worker down.
    pub(super) fn release(&self, conn: ConnRef<Slot<C>>) {
        drop_guarded(conn, &self.counters);
    }
}

/// The event reports that the peer hung up or the socket failed: whatever
/// the handler reads next will say so, but no new edge will.
fn hung_up(event: &Event) -> bool {
    event.is_read_closed() || event.is_write_closed() || event.is_error()
}
