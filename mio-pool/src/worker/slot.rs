//! What the pool keeps for each connection: the connection, where it is in
//! its life, and its share of the timers.

use super::timers::Timer;

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

/// One connection as the pool keeps it (behind the table's `Arc<Mutex<_>>`).
pub(crate) struct Slot<C> {
    pub(crate) conn: C,
    pub(crate) life: Life,
    pub(crate) timer: Timer,
}

impl<C> Slot<C> {
    pub(crate) fn new(conn: C) -> Slot<C> {
        Slot {
            conn,
            life: Life::Open,
            timer: Timer::default(),
        }
    }
}
