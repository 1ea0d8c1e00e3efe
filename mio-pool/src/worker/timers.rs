//! Deadlines: the idle timeout, each connection's own
//! [`deadline`](crate::Connection::deadline) and the close timeout, kept in
//! one coarse timer wheel ([`Timers`]) plus one word in each connection's
//! slot (its fields are drawn in `slot.rs`).
//!
//! # Time in ticks
//!
//! Time is counted in ticks since the pool started: a
//! sixteenth of the shortest pool-wide timeout (idle or close), between
//! [`MIN_TICK`] and [`MAX_TICK`], and no finer than a 2^27th of the
//! longest pool-wide timeout (so a pool with an idle timeout of more than
//! 77 days has ticks coarser than [`MAX_TICK`]). A deadline is due at the first tick that
//! starts at or after it, so it never fires early; it fires at most two
//! ticks (plus however late a worker wakes) after it, which is within an
//! eighth of the idle timeout, and within a quarter of any deadline of at
//! least eight ticks (400 ms with the coarsest tick).
//!
//! # The wheel
//!
//! [`SLOTS`] buckets; an entry `(token, tick)` lives in bucket
//! `tick % SLOTS` until a sweep reaches `tick`. Entries further than one
//! revolution ahead wait in their bucket for later revolutions. Inserting
//! is O(1) under the wheel's lock. Nothing is ever searched for or removed
//! early: an entry whose connection's deadline has moved is left to fire,
//! and is then dropped (the deadline moved earlier: another entry fired
//! first) or put back at the new deadline (it moved later).
//!
//! A connection's `armed_at` (in its slot) is the tick of the earliest entry the
//! wheel holds for it. Per event, a worker inserts an entry only when the
//! connection's deadline moved *before* `armed_at` (a connection that set a
//! shorter deadline); the idle deadline only moves later, so an active
//! connection costs a store of the current tick per event and one re-insert
//! per idle timeout.
//!
//! # Who sweeps
//!
//! [`Timers::next_due`] is the tick of the nearest non-empty bucket. Every
//! worker blocks in `poll` at most until then, so the first worker whose
//! poll times out (or any worker that passes that tick while busy) sweeps:
//! it takes the due entries out of the wheel under a *try*-lock (the others
//! go back to polling), then handles each connection without the wheel's
//! lock. No extra thread and no extra system call per event.
//!
//! # Expiry and events race for the same connection
//!
//! Invariant: *a connection's slot is changed only by the thread that holds
//! its lock*, and the poller hands a connection's event to one worker at a
//! time, which holds the lock while it serves. A sweeper only `try_lock`s:
//! if the connection is being served, its entry goes back in the wheel for
//! the next tick (the slot's `armed_at` is left as it is, which still
//! satisfies the invariant below). A sweeper that holds the lock may expire
//! the connection even though an event for it is on its way to another
//! worker: that worker then finds it closing or closed (see `Life` in
//! `slot.rs`) and does what that state says.
//!
//! Invariant: *while the connection is `armed`, the wheel holds an entry
//! for it at a tick no later than `max(armed_at, the next tick swept)`*,
//! so every deadline is looked at on time.
//!
//! # Narrow ticks in the slot
//!
//! A slot keeps its ticks modulo 2^30 ([`narrow`]) and [`widen`]s them
//! back to the nearest tick congruent to them around the current tick.
//! That is exact while every kept tick is within 2^29 ticks of the current
//! one. Invariant: *a kept tick is never more than [`FAR`] (2^28) ticks
//! ahead of the tick it was written at, nor more than `FAR` behind any
//! tick it is read at*: the idle and close timeouts are at most 2^27 ticks
//! (the tick rule above), an own deadline further ahead is kept as `FAR`
//! ahead (its entry fires early, asks the connection again and is put
//! back), and a kept tick is due, and looked at, within its timeout plus
//! the sweeps' lateness.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mio::Token;
use parking_lot::Mutex;

/// A tick that never comes: no deadline, no entry.
pub(crate) const NEVER: u64 = u64::MAX;

/// Buckets in the wheel.
const SLOTS: usize = 256;

/// How far ahead of the current tick a slot's ticks may be (see the
/// module docs, "Narrow ticks in the slot").
pub(crate) const FAR: u64 = 1 << 28;

/// The longest pool-wide timeout is at most this many ticks.
const MAX_TIMEOUT_TICKS: u32 = 1 << 27;

/// The finest tick, so that a tiny timeout cannot make the workers spin.
pub(crate) const MIN_TICK: Duration = Duration::from_millis(1);

/// The coarsest tick: per-connection deadlines of at least eight of these
/// (400 ms) are within a quarter of their length whatever the pool-wide
/// timeouts are.
pub(crate) const MAX_TICK: Duration = Duration::from_millis(50);

/// How long closing may take by default, unless the idle timeout is
/// shorter.
pub(crate) const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

/// The deadlines a pool enforces; set on the builder.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Limits {
    /// Close a connection without events for this long.
    pub(crate) idle_timeout: Option<Duration>,
    /// How long closing (`Connection::poll_close`) may take; `None`: the
    /// default.
    pub(crate) close_timeout: Option<Duration>,
    /// Stop accepting with this many open; `None`: no cap.
    pub(crate) max_connections: Option<usize>,
}

impl Limits {
    /// The close timeout in effect: as set, else [`CLOSE_TIMEOUT`] or the
    /// idle timeout, whichever is shorter.
    pub(crate) fn close_timeout(&self) -> Duration {
        self.close_timeout.unwrap_or_else(|| {
            self.idle_timeout
                .map_or(CLOSE_TIMEOUT, |idle| idle.min(CLOSE_TIMEOUT))
        })
    }
}

/// One wheel entry: look at `token` when `tick` comes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub(crate) token: Token,
    pub(crate) tick: u64,
}

struct Wheel {
    buckets: Box<[Vec<Entry>]>,
    /// Every tick before this one has been swept.
    swept_to: u64,
}

/// The pool's timer wheel and clock; see the module docs.
pub(crate) struct Timers {
    epoch: Instant,
    tick_nanos: u64,
    /// The idle timeout in ticks, rounded up.
    idle_ticks: Option<u64>,
    /// The close timeout in ticks, rounded up.
    close_ticks: u64,
    /// Tick of the nearest non-empty bucket, or [`NEVER`]; written under
    /// the wheel's lock, read without it.
    next_due: AtomicU64,
    wheel: Mutex<Wheel>,
}

impl Timers {
    pub(crate) fn new(limits: &Limits) -> Timers {
        let close = limits.close_timeout();
        let shortest = limits.idle_timeout.map_or(close, |idle| idle.min(close));
        let longest = limits.idle_timeout.map_or(close, |idle| idle.max(close));
        let tick = (shortest / 16)
            .clamp(MIN_TICK, MAX_TICK)
            .max(longest / MAX_TIMEOUT_TICKS);
        let tick_nanos = u64::try_from(tick.as_nanos()).unwrap_or(u64::MAX);
        let ticks = |d: Duration| {
            u64::try_from(d.as_nanos().div_ceil(u128::from(tick_nanos))).unwrap_or(NEVER / 2)
        };
        Timers {
            epoch: Instant::now(),
            tick_nanos,
            idle_ticks: limits.idle_timeout.map(ticks),
            close_ticks: ticks(close),
            next_due: AtomicU64::new(NEVER),
            wheel: Mutex::new(Wheel {
                buckets: (0..SLOTS).map(|_| Vec::new()).collect(),
                swept_to: 0,
            }),
        }
    }

    /// The length of a tick.
    #[cfg(test)]
    pub(crate) fn tick(&self) -> Duration {
        Duration::from_nanos(self.tick_nanos)
    }

    /// Nanoseconds from the pool's start to `t` (saturating: 584 years).
    fn nanos(&self, t: Instant) -> u64 {
        u64::try_from(t.saturating_duration_since(self.epoch).as_nanos()).unwrap_or(u64::MAX)
    }

    /// The tick `t` falls in.
    pub(crate) fn tick_of(&self, t: Instant) -> u64 {
        self.nanos(t) / self.tick_nanos
    }

    /// The first tick that starts at or after `t`: a deadline due then
    /// never fires before `t`.
    pub(crate) fn tick_after(&self, t: Instant) -> u64 {
        self.nanos(t).div_ceil(self.tick_nanos)
    }

    /// The idle timeout in ticks, if there is one.
    pub(crate) fn idle_ticks(&self) -> Option<u64> {
        self.idle_ticks
    }

    /// The tick by which a connection that starts closing at `now` must
    /// be done.
    pub(crate) fn close_by(&self, now: u64) -> u64 {
        now.saturating_add(self.close_ticks).saturating_add(1)
    }

    /// How long a worker may block in `poll` for the timers' sake.
    pub(crate) fn timeout(&self, now: Instant) -> Option<Duration> {
        match self.next_due.load(Ordering::Acquire) {
            NEVER => None,
            due => {
                let at = Duration::from_nanos(due.saturating_mul(self.tick_nanos));
                Some(at.saturating_sub(now.saturating_duration_since(self.epoch)))
            }
        }
    }

    /// Whether some entry may be due at tick `now`: one atomic load.
    pub(crate) fn due(&self, now: u64) -> bool {
        self.next_due.load(Ordering::Acquire) <= now
    }

    /// The current tick if some entry may be due at `now`; `None` at the
    /// cost of one atomic load when the wheel is empty.
    pub(crate) fn due_at(&self, now: Instant) -> Option<u64> {
        if self.next_due.load(Ordering::Acquire) == NEVER {
            return None;
        }
        let tick = self.tick_of(now);
        self.due(tick).then_some(tick)
    }

    /// Puts an entry for `token` in the wheel at `tick` (or at the next
    /// tick to be swept, if that is later).
    pub(crate) fn insert(&self, token: Token, tick: u64) {
        let mut wheel = self.wheel.lock();
        let tick = tick.max(wheel.swept_to);
        wheel.buckets[bucket(tick)].push(Entry { token, tick });
        self.next_due.fetch_min(tick, Ordering::AcqRel);
    }

    /// Takes every entry due at tick `now` into `due`. Returns `false`
    /// without waiting if another worker is sweeping.
    pub(crate) fn take_due(&self, now: u64, due: &mut Vec<Entry>) -> bool {
        let Some(mut wheel) = self.wheel.try_lock() else {
            return false;
        };
        if wheel.swept_to <= now {
            let from = wheel.swept_to.max(now.saturating_sub(SLOTS as u64 - 1));
            for tick in from..=now {
                wheel.buckets[bucket(tick)].retain(|entry| {
                    let keep = entry.tick > now;
                    if !keep {
                        due.push(*entry);
                    }
                    keep
                });
            }
            wheel.swept_to = now + 1;
        }
        // The nearest non-empty bucket; its entries may belong to a later
        // revolution, which costs one sweep that finds nothing.
        let next = (1..=SLOTS as u64)
            .map(|ahead| now + ahead)
            .find(|&tick| !wheel.buckets[bucket(tick)].is_empty())
            .unwrap_or(NEVER);
        self.next_due.store(next, Ordering::Release);
        true
    }
}

fn bucket(tick: u64) -> usize {
    (tick % SLOTS as u64) as usize
}

/// A tick as a slot keeps it: its low 30 bits (see the module docs).
pub(crate) fn narrow(tick: u64) -> u64 {
    tick & ((1 << super::slot::TICK_BITS) - 1)
}

/// The tick nearest to `now` (and not before tick 0) whose low 30 bits are
/// `kept`: the inverse of [`narrow`] for ticks within 2^29 of `now`.
pub(crate) fn widen(kept: u64, now: u64) -> u64 {
    let modulus = 1u64 << super::slot::TICK_BITS;
    let behind = narrow(now.wrapping_sub(kept));
    if behind <= modulus / 2 && behind <= now {
        now - behind
    } else {
        now + narrow(kept.wrapping_sub(now))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(idle_ms: Option<u64>) -> Limits {
        Limits {
            idle_timeout: idle_ms.map(Duration::from_millis),
            ..Limits::default()
        }
    }

    #[test]
    fn the_tick_is_a_sixteenth_of_the_shortest_timeout_within_bounds() {
        assert_eq!(
            Timers::new(&limits(Some(400))).tick(),
            Duration::from_millis(25)
        );
        assert_eq!(Timers::new(&limits(Some(1))).tick(), MIN_TICK);
        assert_eq!(Timers::new(&limits(None)).tick(), MAX_TICK);
        let l = Limits {
            close_timeout: Some(Duration::from_millis(160)),
            ..limits(Some(60_000))
        };
        assert_eq!(Timers::new(&l).tick(), Duration::from_millis(10));
        assert_eq!(limits(Some(1000)).close_timeout(), Duration::from_secs(1));
        assert_eq!(limits(None).close_timeout(), CLOSE_TIMEOUT);
    }

    #[test]
    fn deadlines_never_fire_early_and_at_most_two_ticks_late() {
        let t = Timers::new(&limits(Some(400)));
        let g = t.tick();
        let idle = t.idle_ticks().unwrap();
        for offset_us in [0u64, 1, 12_345, 24_999, 25_000, 1_000_001] {
            let event = t.epoch + Duration::from_micros(offset_us);
            let due = t.tick_of(event) + idle + 1;
            let fires = t.epoch + g * u32::try_from(due).unwrap();
            let after = fires - event;
            assert!(after >= Duration::from_millis(400), "early: {after:?}");
            assert!(
                after <= Duration::from_millis(400) + 2 * g,
                "late: {after:?}"
            );
        }
        let d = t.epoch + Duration::from_micros(30_001);
        assert!(t.epoch + g * u32::try_from(t.tick_after(d)).unwrap() >= d);
    }

    #[test]
    fn the_wheel_returns_entries_when_due_and_not_before() {
        let t = Timers::new(&limits(Some(400)));
        let a = Entry {
            token: Token(1),
            tick: 3,
        };
        let far = Entry {
            token: Token(2),
            tick: 3 + SLOTS as u64,
        };
        t.insert(a.token, a.tick);
        t.insert(far.token, far.tick);
        assert!(!t.due(2) && t.due(3));
        let mut due = Vec::new();
        assert!(t.take_due(2, &mut due));
        assert!(due.is_empty());
        assert!(t.take_due(3, &mut due));
        assert_eq!(due, [a]);
        // The far entry shares the bucket: the next sweep is at most one
        // revolution away, and finds it due only at its own tick.
        assert!(t.due(3 + SLOTS as u64));
        due.clear();
        assert!(t.take_due(3 + SLOTS as u64 - 1, &mut due));
        assert!(due.is_empty());
        assert!(t.take_due(3 + SLOTS as u64, &mut due));
        assert_eq!(due, [far]);
        assert!(!t.due(NEVER - 1), "empty wheel: nothing due");
        // An entry for a tick already swept goes to the next sweep.
        t.insert(Token(3), 1);
        due.clear();
        assert!(t.take_due(4 + SLOTS as u64, &mut due));
        assert_eq!(due[0].token, Token(3));
    }

    #[test]
    fn a_sweep_skipping_more_than_a_revolution_misses_nothing() {
        let t = Timers::new(&limits(Some(400)));
        for tick in 0..SLOTS as u64 * 2 {
            t.insert(Token(tick as usize + 1), tick);
        }
        let mut due = Vec::new();
        assert!(t.take_due(SLOTS as u64 * 10, &mut due));
        assert_eq!(due.len(), SLOTS * 2);
    }

    #[test]
    fn narrow_ticks_widen_back_around_any_tick_within_far() {
        for now in [0u64, 5, FAR, (1 << 30) - 1, 1 << 30, (7 << 30) + 12_345] {
            for delta in [0i64, 1, -1, 17, -17, FAR as i64, -(FAR as i64)] {
                let Some(tick) = now.checked_add_signed(delta) else {
                    continue;
                };
                assert_eq!(widen(narrow(tick), now), tick, "{tick} around {now}");
            }
        }
    }

    #[test]
    fn pool_wide_timeouts_fit_the_narrow_ticks() {
        let day = Duration::from_secs(86_400);
        for idle in [day, 100 * day, 100_000 * day] {
            let l = Limits {
                idle_timeout: Some(idle),
                close_timeout: Some(Duration::from_millis(10)),
                ..Limits::default()
            };
            let t = Timers::new(&l);
            assert!(t.idle_ticks().unwrap() <= u64::from(MAX_TIMEOUT_TICKS) + 1);
            assert!(t.close_ticks <= u64::from(MAX_TIMEOUT_TICKS) + 1);
        }
    }
}
