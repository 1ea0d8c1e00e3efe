//! What the pool keeps for each connection: the connection, where it is in
//! its life, and its share of the timers, packed in one word.

use super::timers::{narrow, widen};

/// Where a connection is in its life. Changed only under the slot's lock
/// (see the invariants in `timers.rs`); it only ever moves down the table.
///
/// | life                | an event makes the pool          | a due timer makes the pool                       | entered when |
/// |---------------------|----------------------------------|--------------------------------------------------|--------------|
/// | `Open`              | call the handler                 | count `timed_out`, call `on_deadline`, then close as below | admitted |
/// | `Closing`           | call `poll_close` again          | count `timed_out` (unless counted), drop it       | `poll_close` said `WouldBlock` (after the handler's `Ok(true)` or an expiry) |
/// | `Closed`            | nothing (a stale event)          | nothing (a stale entry)                          | retired: deregistered, out of the table, counted closed |
///
/// "Close" means: call `poll_close`; `Ok(())`, another error or a panic
/// retire the connection at once, `WouldBlock` makes it `Closing` with the
/// close deadline as its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Life {
    Open,
    /// `timed_out`: already counted in `PoolStats::timed_out`.
    Closing {
        timed_out: bool,
    },
    Closed,
}

/// The bits of [`Slot`]'s word. Ticks are kept modulo 2^[`TICK_BITS`] and
/// widened back around the current tick (see `narrow` and `widen` in
/// `timers.rs`, and the invariant there that keeps every kept tick within
/// a quarter of that range of the current one).
///
/// | bits    | field    | meaning                                                              | written by |
/// |---------|----------|----------------------------------------------------------------------|------------|
/// | 0..30   | stamp    | open: tick of the last event (only kept with an idle timeout); closing: the close deadline | the worker serving it, or a sweeper holding its lock |
/// | 30..60  | armed_at | tick of the earliest wheel entry for it, if `armed`                   | whoever inserts that entry, or consumes it holding the lock |
/// | 60      | armed    | the wheel holds an entry for it                                       | as `armed_at` |
/// | 61..63  | life     | 0 `Open`, 1 `Closing`, 2 `Closing` (timed out), 3 `Closed`            | the holder of the lock |
///
/// A connection's own deadline ([`Connection::deadline`](crate::Connection::deadline))
/// is not kept: whoever holds the lock asks the connection again. That,
/// and the packing, keep the deadline machinery to 8 bytes per connection.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Word(u64);

pub(crate) const TICK_BITS: u32 = 30;
const TICK_MASK: u64 = (1 << TICK_BITS) - 1;
const ARMED_AT: u32 = 30;
const ARMED: u64 = 1 << 60;
const LIFE: u32 = 61;

/// One connection as the pool keeps it (behind the table's `Arc<Mutex<_>>`).
pub(crate) struct Slot<C> {
    pub(crate) conn: C,
    word: Word,
}

impl<C> Slot<C> {
    pub(crate) fn new(conn: C) -> Slot<C> {
        Slot {
            conn,
            word: Word::default(),
        }
    }

    pub(crate) fn life(&self) -> Life {
        match self.word.0 >> LIFE {
            0 => Life::Open,
            1 => Life::Closing { timed_out: false },
            2 => Life::Closing { timed_out: true },
            _ => Life::Closed,
        }
    }

    pub(crate) fn set_life(&mut self, life: Life) {
        let bits = match life {
            Life::Open => 0,
            Life::Closing { timed_out: false } => 1,
            Life::Closing { timed_out: true } => 2,
            Life::Closed => 3,
        };
        self.word.0 = (self.word.0 & !(3 << LIFE)) | (bits << LIFE);
    }

    /// The stamp (see [`Word`]), widened around tick `now`.
    pub(crate) fn stamp(&self, now: u64) -> u64 {
        widen(self.word.0 & TICK_MASK, now)
    }

    pub(crate) fn set_stamp(&mut self, tick: u64) {
        self.word.0 = (self.word.0 & !TICK_MASK) | narrow(tick);
    }

    /// The tick of the earliest wheel entry for this connection, widened
    /// around tick `now`; `None`: there is none.
    pub(crate) fn armed_at(&self, now: u64) -> Option<u64> {
        (self.word.0 & ARMED != 0).then(|| widen((self.word.0 >> ARMED_AT) & TICK_MASK, now))
    }

    fn set_armed_at(&mut self, tick: Option<u64>) {
        let rest = self.word.0 & !(ARMED | (TICK_MASK << ARMED_AT));
        self.word.0 = match tick {
            Some(tick) => rest | ARMED | (narrow(tick) << ARMED_AT),
            None => rest,
        };
    }

    /// Whether a wheel entry must be inserted for `due`: there is none at
    /// or before it. Records the entry if so. `now` is the current tick.
    pub(crate) fn needs_entry(&mut self, due: u64, now: u64) -> bool {
        if self.armed_at(now).is_some_and(|armed| due >= armed) {
            return false;
        }
        self.set_armed_at(Some(due));
        true
    }

    /// A wheel entry at `tick` fired and this connection is locked: `false`
    /// if the entry is stale (a later one was inserted since, for a deadline
    /// that moved earlier; it is the one that counts), otherwise consumes it.
    pub(crate) fn fire(&mut self, tick: u64) -> bool {
        if self.armed_at(tick).is_some_and(|armed| armed > tick) {
            return false;
        }
        self.set_armed_at(None);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_slot_adds_one_word_to_the_connection() {
        assert_eq!(std::mem::size_of::<Slot<[u64; 12]>>(), 13 * 8);
    }

    #[test]
    fn fields_are_independent() {
        let mut s = Slot::new(());
        let now = 5 << TICK_BITS; // past a wrap of the narrow ticks
        s.set_stamp(now - 3);
        assert!(s.needs_entry(now + 100, now));
        s.set_life(Life::Closing { timed_out: true });
        assert_eq!(s.stamp(now), now - 3);
        assert_eq!(s.armed_at(now), Some(now + 100));
        assert_eq!(s.life(), Life::Closing { timed_out: true });
        s.set_stamp(now + 7);
        s.set_life(Life::Closed);
        assert_eq!(s.stamp(now), now + 7);
        assert_eq!(s.armed_at(now), Some(now + 100));
        assert!(s.fire(now + 100));
        assert_eq!(s.armed_at(now), None);
        assert_eq!((s.stamp(now), s.life()), (now + 7, Life::Closed));
    }

    #[test]
    fn only_a_deadline_before_the_armed_entry_inserts_and_stale_entries_are_dropped() {
        let mut s = Slot::new(());
        let now = 3;
        assert!(s.needs_entry(10, now));
        assert!(!s.needs_entry(12, now), "the entry at 10 will look again");
        assert!(s.needs_entry(5, now), "moved earlier");
        assert!(s.fire(5));
        assert_eq!(s.armed_at(now), None);
        assert!(s.needs_entry(20, now));
        assert!(!s.fire(10), "stale: the entry at 20 counts");
        assert!(s.fire(20));
        // An entry a sweeper put back for a later tick (the connection was
        // busy) still counts.
        assert!(s.needs_entry(30, now));
        assert!(s.fire(31));
    }
}
