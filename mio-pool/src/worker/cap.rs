//! The connection cap's handshake between the accepting worker and the
//! workers that close connections, isolated from I/O so that loom can
//! check it (`cap/loom_models.rs`).
//!
//! The accepting worker stops when `open` reaches the cap and leaves the
//! listener disarmed: only a closing worker can start it again. Capping and
//! closing race, so both sides work on *one* atomic word, `state`, by
//! read-modify-write only: all their steps fall in that word's single
//! modification order, and no fence or second location is involved.
//!
//! `state` = `open << 1 | CAPPED`, where `open` counts the connections
//! admitted under the cap and not yet closed (the acceptor adds one after a
//! connection is in the table and before anything can close it; every
//! close takes one off), and `CAPPED` is set while accepting is stopped.
//!
//! | step | who | on `state` | then |
//! |------|-----|------------|------|
//! | check | acceptor, before each accept | `open < max`: nothing | accepts |
//! | stop | acceptor | CAS `open == max, CAPPED clear` → `CAPPED set` (a failed CAS means a close came: check again) | stops, listener disarmed |
//! | admit | acceptor | `+2` (`open + 1`) | — |
//! | close | any worker | `-2`; if `CAPPED` was set: `fetch_and(!CAPPED)` | the one whose `fetch_and` cleared it resumes accepting |
//!
//! Invariants:
//! * *`open` never exceeds `max`*: only the acceptor raises it (one worker
//!   holds the listener at a time), and only after a check saw it below.
//! * *A stop is always followed by exactly one resume*: `CAPPED` is set only
//!   by a successful CAS at `open == max`, so any close after it finds the
//!   flag set in its `fetch_sub`'s result (the CAS came earlier in the same
//!   modification order), and `open` is then below `max`; of the closes
//!   that see it, the first `fetch_and` clears it and resumes, later ones
//!   find it clear. A close that came before the CAS made it fail instead.
//!
//! With no cap (`max == u64::MAX`) nothing here touches `state`.

use crate::sync::atomic::{AtomicU64, Ordering};

/// Set in [`Cap::state`] while the cap has stopped accepting.
const CAPPED: u64 = 1;
/// One connection in [`Cap::state`].
const ONE: u64 = 2;

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Cap {
    /// At most this many connections open; `u64::MAX`: no cap.
    max: u64,
    /// `open << 1 | CAPPED`; see the module docs.
    state: AtomicU64,
}

impl Cap {
    pub(crate) fn new(max_connections: Option<usize>) -> Cap {
        Cap {
            max: max_connections.map_or(u64::MAX, |n| u64::try_from(n).unwrap_or(u64::MAX)),
            state: AtomicU64::new(0),
        }
    }

    fn capped(&self) -> bool {
        self.max != u64::MAX
    }

    /// Whether the cap stops accepting now. Called by the worker that holds
    /// the listener, before each accept.
    pub(crate) fn stops(&self) -> bool {
        if !self.capped() {
            return false;
        }
        let mut state = self.state.load(Ordering::Acquire);
        loop {
            if state >> 1 < self.max {
                return false;
            }
            match self.state.compare_exchange_weak(
                state,
                state | CAPPED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                // A close (or a spurious failure): look again.
                Err(now) => state = now,
            }
        }
    }

    /// The acceptor put a new connection in the table: it counts as open
    /// until [`closed`](Cap::closed) is called for it.
    pub(crate) fn opened(&self) {
        if self.capped() {
            self.state.fetch_add(ONE, Ordering::AcqRel);
        }
    }

    /// A connection that [`opened`](Cap::opened) counted has closed: whether
    /// the caller must resume accepting (true for exactly one caller per
    /// stop).
    pub(crate) fn closed(&self) -> bool {
        if !self.capped() {
            return false;
        }
        let before = self.state.fetch_sub(ONE, Ordering::AcqRel);
        debug_assert!(before >> 1 > 0, "a close the cap did not count");
        before & CAPPED != 0 && self.state.fetch_and(!CAPPED, Ordering::AcqRel) & CAPPED != 0
    }
}

#[cfg(all(test, mio_pool_loom))]
#[path = "cap/loom_models.rs"]
mod loom_models;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_at_the_cap_and_one_close_resumes() {
        let cap = Cap::new(Some(2));
        assert!(!cap.stops());
        cap.opened();
        assert!(!cap.stops());
        cap.opened();
        assert!(cap.stops());
        assert!(cap.closed(), "the first close after a stop resumes");
        assert!(!cap.stops());
        cap.opened();
        assert!(cap.stops());
        assert!(cap.closed());
        assert!(
            !cap.closed(),
            "a second close finds accepting resumed already"
        );
    }

    #[test]
    fn without_a_cap_nothing_stops_or_resumes() {
        let cap = Cap::new(None);
        for _ in 0..3 {
            cap.opened();
            assert!(!cap.stops());
        }
        assert!(!cap.closed());
    }
}
