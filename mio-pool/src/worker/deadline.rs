//! Enforcing deadlines: what a worker does with a connection's timer after
//! the handler ran, and what a sweeper does with the wheel's due entries.
//! The wheel, the tick arithmetic and the invariants are in `timers.rs`;
//! the connection states in `slot.rs`.

use std::time::Instant;

use mio::Token;

use super::guard::catch;
use super::slot::{Life, Slot};
use super::timers::NEVER;
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
    /// `Connection::deadline` and a comparison.
    pub(super) fn check_deadline(&self, token: Token, slot: &mut Slot<C>, now: Instant) {
        let own = slot.conn.deadline();
        if own.is_none() && slot.timer.deadline == NEVER && self.timers.idle_ticks().is_none() {
            return;
        }
        slot.timer.deadline = own.map_or(NEVER, |d| self.timers.tick_after(d));
        let due = slot.timer.due(self.timers.idle_ticks());
        if due <= self.timers.tick_of(now) {
            self.expire(token, slot, now);
        } else {
            self.schedule(token, slot);
        }
    }

    /// Inserts a wheel entry for the connection's due tick, unless one at
    /// or before it is there already.
    pub(super) fn schedule(&self, token: Token, slot: &mut Slot<C>) {
        let due = self.due_of(slot);
        if slot.timer.needs_entry(due) {
            self.timers.insert(token, due);
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
                    if slot.life != Life::Closed && slot.timer.fire(entry.tick) {
                        if self.due_of(&slot) <= tick {
                            self.expire(entry.token, &mut slot, now);
                        } else {
                            self.schedule(entry.token, &mut slot);
                        }
                    }
                }
                None => self.timers.insert(entry.token, tick + 1),
            }
            self.release(conn);
        }
    }

    /// The tick at which the connection is due, as its life says.
    fn due_of(&self, slot: &Slot<C>) -> u64 {
        match slot.life {
            Life::Open => slot.timer.due(self.timers.idle_ticks()),
            Life::Closing { .. } => slot.timer.deadline,
            Life::Closed => NEVER,
        }
    }

    /// The connection's deadline has passed; its lock is held and no
    /// handler runs on it. See the table on `Life`.
    fn expire(&self, token: Token, slot: &mut Slot<C>, now: Instant) {
        match slot.life {
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
                if let Life::Closing { timed_out } = &mut slot.life {
                    *timed_out = true;
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
