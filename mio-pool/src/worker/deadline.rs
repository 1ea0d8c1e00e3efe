//! Enforcing deadlines: what a worker does with a connection's timer after
//! the handler ran, and what a sweeper does with the wheel's due entries.
//! The wheel, the tick arithmetic and the invariants are in `timers.rs`;
//! the connection states and the packed timer fields in `slot.rs`.

use std::time::Instant;

use mio::Token;

use super::guard::catch;
use super::slot::{Life, Slot};
use super::timers::FAR;
use super::Pool;
use crate::connection::Connection;
use crate::listener::Listener;
use crate::stats::Counters;

impl<L, C, E> Pool<L, C, E>
where
    L: Listener,
    C: Connection + Send + 'static,
{
    /// After the handler ran (or at admission): takes the connection's own
    /// deadline, and expires it or makes sure the wheel will look at it in
    /// time. With no idle timeout and no deadline this is one call of
    /// `Connection::deadline` and a comparison; an entry the wheel still
    /// holds for a deadline since dropped fires, asks again and finds none.
    pub(super) fn check_deadline(&self, token: Token, slot: &mut Slot<C>, now: Instant) {
        let Some(own) = self.own_deadline(token, slot) else {
            return; // it panicked: retired
        };
        if own.is_none() && self.timers.idle_ticks().is_none() {
            return;
        }
        let tick = self.timers.tick_of(now);
        match self.due_open(slot, own, tick) {
            Some(due) if due <= tick => self.expire(token, slot, now),
            due => self.schedule(token, slot, due, tick),
        }
    }

    /// Asks the connection for its deadline; `None` if that panicked, and
    /// then the connection is retired.
    fn own_deadline(&self, token: Token, slot: &mut Slot<C>) -> Option<Option<Instant>> {
        let own = catch(
            &self.counters,
            "Connection::deadline (dropping the connection)",
            || slot.conn.deadline(),
        );
        if own.is_none() {
            self.retire(token, slot);
        }
        own
    }

    /// The tick at which an open connection is due: its own deadline (no
    /// further than [`FAR`] ahead, so that every kept tick stays near the
    /// current one; the entry then fires early, asks again and is put
    /// back), or its idle deadline, whichever comes first.
    fn due_open(&self, slot: &Slot<C>, own: Option<Instant>, now: u64) -> Option<u64> {
        let own = own.map(|d| self.timers.tick_after(d).min(now + FAR));
        let idle = self
            .timers
            .idle_ticks()
            .map(|idle| slot.stamp(now) + idle + 1);
        match (own, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Inserts a wheel entry for the connection's due tick, unless one at
    /// or before it is there already. `now` is the current tick.
    pub(super) fn schedule(&self, token: Token, slot: &mut Slot<C>, due: Option<u64>, now: u64) {
        if let Some(due) = due {
            if slot.needs_entry(due, now) {
                self.timers.insert(token, due);
            }
        }
    }

    /// Handles the wheel's due entries, if it is time and no other worker
    /// is at it. Called by every worker after each batch of events.
    pub(super) fn sweep(&self, now: Instant) {
        let Some(tick) = self.timers.due_at(now) else {
            return;
        };
        let mut due = Vec::new();
        if !self.timers.take_due(tick, &mut due) {
            return;
        }
        for entry in due {
            let Some(conn) = self.conns.get(entry.token) else {
                continue; // closed since: a stale entry
            };
            // Only a connection nobody is serving: see the invariants in
            // `timers.rs`. A busy one is looked at again next tick.
            match conn.try_lock() {
                Some(mut slot) => {
                    if slot.life() != Life::Closed && slot.fire(entry.tick) {
                        self.look_at(entry.token, &mut slot, tick, now);
                    }
                }
                None => self.timers.insert(entry.token, tick + 1),
            }
            self.release(conn);
        }
    }

    /// A sweeper holds the lock of a connection whose entry fired at tick
    /// `tick`: expires it if due, else puts it back in the wheel.
    fn look_at(&self, token: Token, slot: &mut Slot<C>, tick: u64, now: Instant) {
        let due = match slot.life() {
            Life::Open => {
                let Some(own) = self.own_deadline(token, slot) else {
                    return;
                };
                self.due_open(slot, own, tick)
            }
            Life::Closing { .. } => Some(slot.stamp(tick)),
            Life::Closed => None,
        };
        match due {
            Some(due) if due <= tick => self.expire(token, slot, now),
            due => self.schedule(token, slot, due, tick),
        }
    }

    /// The connection's deadline has passed; its lock is held and no
    /// handler runs on it. See the table on `Life`.
    fn expire(&self, token: Token, slot: &mut Slot<C>, now: Instant) {
        match slot.life() {
            Life::Open => {
                Counters::bump(&self.counters.timed_out);
                log::debug!("mio-pool: a connection's deadline passed; closing it");
                let said = catch(
                    &self.counters,
                    "Connection::on_deadline (dropping the connection)",
                    || slot.conn.on_deadline(),
                );
                if said.is_none() {
                    return self.retire(token, slot);
                }
                self.close(token, slot, None, now);
                if let Life::Closing { .. } = slot.life() {
                    slot.set_life(Life::Closing { timed_out: true });
                }
            }
            Life::Closing { timed_out } => {
                if !timed_out {
                    Counters::bump(&self.counters.timed_out);
                }
                log::debug!("mio-pool: closing a connection took too long; dropping it");
                self.retire(token, slot);
            }
            Life::Closed => {}
        }
    }
}
