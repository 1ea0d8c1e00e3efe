//! The connection cap's handshake between the accepting worker and the
//! workers that close connections, isolated from I/O so that loom can
//! check it (`cap/loom_models.rs`).
//!
//! The accepting worker stops when `open` reaches the cap and leaves the
//! listener disarmed: only a closing worker can start it again. Capping
//! and closing race; each side writes, fences, then reads what the other
//! wrote (a Dekker handshake):
//!
//! | side      | writes                        | then reads          | and                                  |
//! |-----------|-------------------------------|---------------------|--------------------------------------|
//! | acceptor  | `capped = true`, `SeqCst` fence | `open`            | `open < max`: clears `capped`, goes on |
//! | closer    | `closed += 1`, `SeqCst` fence | `capped`, `open`    | both say so: swaps `capped` to false; the winner resumes accepting |
//!
//! Invariants: *`open` never exceeds `max`* (only the acceptor raises it,
//! and it checks first; `open` read while connections close can only look
//! too high) and *a stopped acceptor is resumed once `open < max`* (the
//! fences order the two sides, so at least one sees the other's write;
//! the swap makes one closer resume per stop). loom checks both with one
//! closer; with two it reports a lost resume not yet understood (see
//! `loom_models.rs`).

use crate::sync::atomic::{fence, AtomicBool, Ordering};

/// See the module docs.
#[derive(Debug)]
pub(crate) struct Cap {
    /// At most this many connections open; `u64::MAX`: no cap.
    max: u64,
    /// Set while accepting is stopped by the cap.
    capped: AtomicBool,
}

impl Cap {
    pub(crate) fn new(max_connections: Option<usize>) -> Cap {
        Cap {
            max: max_connections.map_or(u64::MAX, |n| u64::try_from(n).unwrap_or(u64::MAX)),
            capped: AtomicBool::new(false),
        }
    }

    /// Whether the cap stops accepting now, `open` being the number of
    /// connections open. Called by the worker that holds the listener,
    /// before each accept.
    pub(crate) fn stops(&self, open: impl Fn() -> u64) -> bool {
        if open() < self.max {
            return false;
        }
        self.capped.store(true, Ordering::SeqCst);
        fence(Ordering::SeqCst);
        if open() < self.max {
            // A connection closed meanwhile, perhaps before it could see
            // the flag: go on. (If it did see it, its resume finds nothing
            // more to accept, or the next client.)
            self.capped.store(false, Ordering::SeqCst);
            return false;
        }
        true
    }

    /// A connection closed and was counted (so `open` is already lower):
    /// whether the caller must resume accepting (true for one caller per
    /// stop; possibly for an acceptor that went on by itself, which then
    /// finds the cap again or nobody waiting).
    pub(crate) fn closed(&self, open: impl Fn() -> u64) -> bool {
        if self.max == u64::MAX {
            return false;
        }
        fence(Ordering::SeqCst);
        self.capped.load(Ordering::SeqCst)
            && open() < self.max
            && self.capped.swap(false, Ordering::SeqCst)
    }
}

#[cfg(all(test, mio_pool_loom))]
#[path = "cap/loom_models.rs"]
mod loom_models;
