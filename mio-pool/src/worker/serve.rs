//! Serving: the handler contract, re-arming, and the one path by which a
//! connection leaves the pool ([`Pool::retire`], then [`Pool::release`]).

use std::io;

use mio::Token;
use mio_pool_poll::Event;

use super::guard::{catch, drop_guarded};
use super::{Pool, CONN_INTEREST, FAIRNESS_LIMIT};
use crate::conns::ConnRef;
use crate::listener::Listener;
use crate::stats::Counters;

impl<L, C, E> Pool<L, C, E>
where
    L: Listener,
    C: mio::event::Source + Send + 'static,
{
    /// Runs the handler for the connection `event` names, following the
    /// handler contract, until it is drained (re-armed), done (closed) or
    /// has had its fair share (queued again).
    pub(super) fn serve<S>(&self, event: Event, state: &mut S)
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
            let outcome = catch(
                &self.counters,
                "the handler (closing its connection)",
                || (self.on_ready)(&mut conn, state),
            );
            match outcome {
                Some(Ok(false)) => {}
                Some(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Some(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => {
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
                            return self.retire(token, &mut conn);
                        }
                    }
                }
                Some(Ok(true)) => return self.retire(token, &mut conn),
                Some(Err(e)) => {
                    log::debug!("mio-pool: handler error, closing the connection: {e}");
                    Counters::bump(&self.counters.handler_errors);
                    return self.retire(token, &mut conn);
                }
                // The panic is counted.
                None => return self.retire(token, &mut conn),
            }
        }
        // Fair share used and there may be more: behind the others. No new
        // edge would come for data already there, so queue, don't re-arm.
        self.poll.requeue(current);
    }

    /// Deregisters and forgets a connection, and counts it closed; it is
    /// dropped (and the socket closed) when the worker lets go of its last
    /// reference ([`release`](Pool::release)). Every way a connection leaves
    /// the pool goes through here.
    pub(super) fn retire(&self, token: Token, conn: &mut C) {
        if let Err(e) = self.poll.remove(conn, token) {
            log::debug!("mio-pool: deregistering a closed connection: {e}");
        }
        self.conns.remove(token);
        self.closed();
    }

    /// Lets go of a worker's reference to a connection. When it is the last
    /// one (the connection was retired), the connection is dropped here, and
    /// its `Drop` is user code: a panic in it is caught and counted, so that
    /// it cannot take the worker down.
    pub(super) fn release(&self, conn: ConnRef<C>) {
        drop_guarded(conn, &self.counters);
    }
}

/// The event reports that the peer hung up or the socket failed: whatever
/// the handler reads next will say so, but no new edge will.
fn hung_up(event: &Event) -> bool {
    event.is_read_closed() || event.is_write_closed() || event.is_error()
}
