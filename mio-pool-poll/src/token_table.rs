//! Per-token state: what makes oneshot delivery work on top of edge-triggered
//! mio without losing a wake-up.
//!
//! mio registers sources edge-triggered and leaves them registered: the OS
//! reports a new edge whenever a source becomes ready again, whether or not
//! anybody is interested right now. Oneshot delivery is emulated here, in
//! user space, so that re-arming needs no system call.
//!
//! # The state of one token
//!
//! | field      | meaning                                                        |
//! |------------|----------------------------------------------------------------|
//! | `interest` | what the source is registered for with the OS, right now       |
//! | `armed`    | the next event for this token may be returned by `poll`        |
//! | `pending`  | readiness the OS reported while the token was disarmed         |
//!
//! Invariant: `armed` implies `pending` is empty (an armed token has nobody to
//! keep readiness for: it goes straight out).
//!
//! # Transitions (each under the token's shard lock, so each is atomic)
//!
//! | from                 | on                          | to                   | and                                  |
//! |----------------------|-----------------------------|----------------------|--------------------------------------|
//! | (absent)             | `insert` (register)         | armed, pending = ∅    | the OS is told after this            |
//! | armed                | OS event `r`                | disarmed, pending = ∅ | deliver `r` (exactly one `poll` gets it) |
//! | disarmed, pending `p`| OS event `r`                | disarmed, `p ∪ r`     | nothing is delivered: oneshot        |
//! | disarmed, `p` ∩ I ≠ ∅ | `rearm(I)`                  | disarmed, pending = ∅ | deliver `p ∩ I` at once: no wake-up lost |
//! | disarmed, `p` ∩ I = ∅ | `rearm(I)`                  | armed, pending = ∅    | wait for the OS                       |
//! | armed                | `rearm(I)`, same interest   | armed                | nothing changes                      |
//! | armed                | `rearm_same(I')`, new interest | disarmed, pending = ∅ | held for the change: the OS is told next, then `rearm(I')` |
//! | any                  | `remove` (deregister)       | (absent)             | later OS events for it are dropped   |
//! | (absent)             | OS event                    | (absent)             | dropped: a stale event               |
//!
//! Because an OS event and a re-arm for the same token are serialised by one
//! lock, readiness is either seen by `rearm` (as `pending`) or arrives after
//! it (and finds the token armed). There is no third case, which is the
//! "no lost wake-up" guarantee.
//!
//! Readiness that was already consumed by the handler may still be pending
//! when it re-arms: that event is spurious, which mio's contract allows.
//!
//! A change of interest takes two steps with the OS call between them, and
//! the OS call may itself raise an edge (the source is already ready for the
//! new interest). So `rearm_same` disarms an armed token before the change:
//! that edge is kept as `pending` and handed out once by the final
//! `rearm(I')`, instead of going to a polling thread while the token is
//! then armed again behind its back (a second holder).
//!
//! # Why sharded locks
//!
//! Tokens are whatever the user chooses (any `usize`), so the table is a hash
//! map. It is split into [`SHARDS`] independently locked shards on separate
//! cache lines. Every event takes one shard lock, held for a few
//! nanoseconds, and two threads collide only when their tokens hash to the
//! same shard at the same moment; `cargo run --release -p mio-pool-poll
//! --example echo_bench` measures the whole per-event cost against bare mio.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use mio::{Interest, Token};

use crate::event::{Event, Ready};
use crate::sync::Mutex;

#[cfg(all(test, loom))]
mod loom_models;

/// Number of shards: a power of two, a few times the number of threads
/// that usually poll at once.
pub(crate) const SHARDS: usize = 64;

/// State of one registered token; see the module docs for the table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TokenState {
    pub(crate) interest: Interest,
    pub(crate) armed: bool,
    pub(crate) pending: Ready,
}

impl TokenState {
    /// A freshly registered token: armed, nothing pending.
    pub(crate) fn new(interest: Interest) -> TokenState {
        TokenState {
            interest,
            armed: true,
            pending: Ready::EMPTY,
        }
    }

    /// The OS reported `ready` for this token. Returns the readiness to
    /// deliver, if the token was armed.
    pub(crate) fn on_event(&mut self, ready: Ready) -> Option<Ready> {
        if self.armed {
            debug_assert!(self.pending.is_empty());
            self.armed = false;
            Some(ready)
        } else {
            self.pending = self.pending | ready;
            None
        }
    }

    /// The owner of the token re-arms it with `interest`. Returns readiness
    /// that arrived while it was disarmed, which must be delivered now (the
    /// token stays disarmed); otherwise the token is armed.
    pub(crate) fn rearm(&mut self, interest: Interest) -> Option<Ready> {
        self.interest = interest;
        let ready = self.pending.relevant_to(interest);
        self.pending = Ready::EMPTY;
        if ready.is_empty() {
            self.armed = true;
            None
        } else {
            self.armed = false;
            Some(ready)
        }
    }
}

/// A multiplicative hash: tokens are often small dense integers (slab
/// indices), which SipHash would only slow down.
#[derive(Default)]
pub(crate) struct TokenHasher(u64);

impl Hasher for TokenHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

type Shard = HashMap<usize, TokenState, BuildHasherDefault<TokenHasher>>;

/// Keeps a shard on its own cache line(s), so that two threads working on
/// neighbouring shards do not slow each other down.
#[repr(align(128))]
struct Padded(Mutex<Shard>);

/// A change of interest under way: what [`TokenTable::rearm_same`] found
/// before it disarmed the token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    token: Token,
    old: Interest,
    was_armed: bool,
}

impl Change {
    /// The OS refused the new interest: the token gets its old interest
    /// back, and is armed again if it was. Returns readiness that arrived
    /// meanwhile and must be delivered now.
    pub(crate) fn undo(self, table: &TokenTable) -> Option<Event> {
        if self.was_armed {
            table.rearm(self.token, self.old).ok().flatten()
        } else {
            None
        }
    }
}

/// The table of registered tokens; see the module docs.
pub(crate) struct TokenTable {
    shards: Box<[Padded]>,
}

impl TokenTable {
    pub(crate) fn new() -> TokenTable {
        TokenTable {
            shards: (0..SHARDS)
                .map(|_| Padded(Mutex::new(Shard::default())))
                .collect(),
        }
    }

    fn shard(&self, token: Token) -> &Mutex<Shard> {
        // The high bits of a multiplicative hash are the well-mixed ones.
        let h = (token.0 as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        &self.shards[(h >> (64 - SHARDS.trailing_zeros())) as usize].0
    }

    /// Starts tracking `token`, armed. Replaces any earlier state of the
    /// same token (a token reused after `deregister` without `remove`), and
    /// returns it so that a failed registration can [`restore`] it.
    ///
    /// [`restore`]: TokenTable::restore
    pub(crate) fn insert(&self, token: Token, interest: Interest) -> Option<TokenState> {
        self.shard(token)
            .lock()
            .insert(token.0, TokenState::new(interest))
    }

    /// Puts back what [`insert`](TokenTable::insert) replaced.
    pub(crate) fn restore(&self, token: Token, previous: Option<TokenState>) {
        let mut shard = self.shard(token).lock();
        match previous {
            Some(state) => shard.insert(token.0, state),
            None => shard.remove(&token.0),
        };
    }

    /// Stops tracking `token`; returns whether it was tracked.
    pub(crate) fn remove(&self, token: Token) -> bool {
        self.shard(token).lock().remove(&token.0).is_some()
    }

    /// Re-arms `token` if it is registered with `interest` already: the
    /// common case, done under one lock. `Err(Some(change))` if the interest
    /// differs: the token is now disarmed (see the module docs), and the
    /// caller must tell the OS, then [`rearm`] (or, if the OS refused,
    /// [`undo`](Change::undo)). `Err(None)` if the token is not tracked.
    ///
    /// [`rearm`]: TokenTable::rearm
    pub(crate) fn rearm_same(
        &self,
        token: Token,
        interest: Interest,
    ) -> Result<Option<Event>, Option<Change>> {
        let mut shard = self.shard(token).lock();
        let state = shard.get_mut(&token.0).ok_or(None)?;
        if state.interest != interest {
            let change = Change {
                token,
                old: state.interest,
                was_armed: state.armed,
            };
            state.armed = false;
            return Err(Some(change));
        }
        Ok(state.rearm(interest).map(|r| Event::new(token, r)))
    }

    /// The OS reported readiness for `token`: returns the event to deliver,
    /// if any. Events for tokens that are not tracked are dropped.
    pub(crate) fn on_event(&self, token: Token, ready: Ready) -> Option<Event> {
        let mut shard = self.shard(token).lock();
        let state = shard.get_mut(&token.0)?;
        state.on_event(ready).map(|r| Event::new(token, r))
    }

    /// Re-arms `token`. `Err(())` if it is not tracked; `Ok(Some(event))` if
    /// readiness arrived while it was disarmed and must be delivered now.
    pub(crate) fn rearm(&self, token: Token, interest: Interest) -> Result<Option<Event>, ()> {
        let mut shard = self.shard(token).lock();
        let state = shard.get_mut(&token.0).ok_or(())?;
        Ok(state.rearm(interest).map(|r| Event::new(token, r)))
    }

    /// A copy of `token`'s state, for tests.
    #[cfg(test)]
    pub(crate) fn get(&self, token: Token) -> Option<TokenState> {
        self.shard(token).lock().get(&token.0).copied()
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    const RW: Interest = Interest::READABLE.add(Interest::WRITABLE);

    #[test]
    fn armed_token_delivers_once_then_keeps_readiness() {
        let mut s = TokenState::new(Interest::READABLE);
        assert_eq!(s.on_event(Ready::READABLE), Some(Ready::READABLE));
        assert!(!s.armed);
        // Oneshot: the second edge is remembered, not delivered.
        assert_eq!(s.on_event(Ready::READABLE | Ready::READ_CLOSED), None);
        assert_eq!(s.pending, Ready::READABLE | Ready::READ_CLOSED);
    }

    #[test]
    fn rearm_with_pending_delivers_at_once_and_stays_disarmed() {
        let mut s = TokenState::new(Interest::READABLE);
        s.on_event(Ready::READABLE);
        s.on_event(Ready::READABLE);
        assert_eq!(s.rearm(Interest::READABLE), Some(Ready::READABLE));
        assert!(
            !s.armed,
            "the readiness went out, so the token is still taken"
        );
        assert!(s.pending.is_empty());
        // Nothing more arrived: the next re-arm arms.
        assert_eq!(s.rearm(Interest::READABLE), None);
        assert!(s.armed);
    }

    #[test]
    fn rearm_drops_readiness_the_new_interest_excludes() {
        let mut s = TokenState::new(RW);
        s.on_event(Ready::READABLE);
        s.on_event(Ready::WRITABLE);
        assert_eq!(s.rearm(Interest::READABLE), None);
        assert!(s.armed);
    }

    #[test]
    fn errors_survive_any_interest() {
        let mut s = TokenState::new(Interest::READABLE);
        s.on_event(Ready::READABLE);
        s.on_event(Ready::ERROR | Ready::WRITABLE);
        assert_eq!(s.rearm(Interest::READABLE), Some(Ready::ERROR));
    }

    #[test]
    fn table_drops_events_of_unknown_tokens() {
        let t = TokenTable::new();
        assert_eq!(t.on_event(Token(3), Ready::READABLE), None);
        assert_eq!(t.rearm(Token(3), Interest::READABLE), Err(()));
        t.insert(Token(3), Interest::READABLE);
        let e = t.on_event(Token(3), Ready::READABLE).unwrap();
        assert_eq!(e.token(), Token(3));
        assert!(t.remove(Token(3)));
        assert!(!t.remove(Token(3)));
        assert_eq!(t.on_event(Token(3), Ready::READABLE), None);
    }

    #[test]
    fn rearm_same_only_rearms_an_unchanged_interest() {
        let t = TokenTable::new();
        assert_eq!(t.rearm_same(Token(2), RW), Err(None));
        t.insert(Token(2), Interest::READABLE);
        t.on_event(Token(2), Ready::READABLE);
        let change = t.rearm_same(Token(2), RW).unwrap_err().unwrap();
        assert_eq!(change.old, Interest::READABLE);
        assert!(!change.was_armed);
        assert_eq!(
            t.get(Token(2)).unwrap().interest,
            Interest::READABLE,
            "a mismatch leaves the interest to `rearm`"
        );
        assert!(!t.get(Token(2)).unwrap().armed);
        assert_eq!(t.rearm_same(Token(2), Interest::READABLE), Ok(None));
        assert!(t.get(Token(2)).unwrap().armed);
    }

    #[test]
    fn an_armed_token_is_held_while_its_interest_changes() {
        let t = TokenTable::new();
        t.insert(Token(4), Interest::READABLE);
        let change = t.rearm_same(Token(4), RW).unwrap_err().unwrap();
        assert!(change.was_armed);
        // The OS call raises an edge for the new interest: kept, not
        // delivered, and handed out once by the re-arm that ends the change.
        assert_eq!(t.on_event(Token(4), Ready::WRITABLE), None);
        let e = t.rearm(Token(4), RW).unwrap().unwrap();
        assert!(e.is_writable());
        assert!(!t.get(Token(4)).unwrap().armed);
    }

    #[test]
    fn an_undone_change_rearms_only_a_token_that_was_armed() {
        let t = TokenTable::new();
        t.insert(Token(5), Interest::READABLE);
        let change = t.rearm_same(Token(5), RW).unwrap_err().unwrap();
        assert_eq!(change.undo(&t), None);
        assert_eq!(t.get(Token(5)), Some(TokenState::new(Interest::READABLE)));
        // A held token stays held.
        t.on_event(Token(5), Ready::READABLE);
        let change = t.rearm_same(Token(5), RW).unwrap_err().unwrap();
        assert_eq!(change.undo(&t), None);
        assert!(!t.get(Token(5)).unwrap().armed);
    }

    #[test]
    fn insert_resets_a_reused_token() {
        let t = TokenTable::new();
        t.insert(Token(1), Interest::READABLE);
        t.on_event(Token(1), Ready::READABLE);
        t.on_event(Token(1), Ready::READABLE);
        t.insert(Token(1), RW);
        assert_eq!(t.get(Token(1)), Some(TokenState::new(RW)));
    }

    #[test]
    fn many_tokens_spread_over_shards() {
        let t = TokenTable::new();
        let mut used = std::collections::HashSet::new();
        for i in 0..1024usize {
            used.insert(t.shard(Token(i)) as *const _ as usize);
        }
        assert_eq!(used.len(), SHARDS);
    }
}
