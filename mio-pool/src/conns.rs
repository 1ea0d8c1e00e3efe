//! The table of open connections, and how tokens name them.
//!
//! # Tokens
//!
//! `Token(0)` is the listener. A connection's token packs a slot index and
//! a generation:
//!
//! | bits                          | meaning                                 |
//! |-------------------------------|-----------------------------------------|
//! | low `usize::BITS / 2`         | slot index + 1 (never 0: that is the listener) |
//! | high `usize::BITS / 2`        | generation of the slot when it was filled |
//!
//! Every insert into a shard takes the shard's next generation, so a slot
//! that is closed and reused gets a token that differs from the old one.
//! An event for the old token (one the OS reported just before the close)
//! finds a generation that does not match and is dropped: it never reaches
//! the new connection's handler. (Generations wrap after `2^(usize::BITS /
//! 2)` inserts into one shard; a stale event would have to stay in flight
//! for all of them.) The poller's `remove` drops most such events before
//! they get this far; the generation check is what makes it airtight.
//!
//! # Sharding
//!
//! Accept and close are O(1): one slab insert or remove under one of
//! [`SHARDS`] locks, chosen round-robin at accept. Looking up a connection
//! for an event takes the same shard lock for a moment (a clone of an
//! `Arc`); the connection's own mutex is then uncontended, since the poller
//! hands a token to one worker at a time. Nothing is copied per accept or
//! close, unlike the crate this one replaces, which cloned its whole table.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use mio::Token;
use parking_lot::Mutex;
use slab::Slab;

/// The listener's token.
pub(crate) const LISTENER: Token = Token(0);

/// Number of independently locked shards (a power of two).
const SHARDS: usize = 16;

const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

/// One open connection, shared by the table and the worker serving it.
pub(crate) type ConnRef<C> = Arc<Mutex<C>>;

struct Entry<C> {
    generation: usize,
    conn: ConnRef<C>,
}

struct Shard<C> {
    slab: Slab<Entry<C>>,
    next_generation: usize,
}

#[repr(align(128))]
struct Padded<T>(T);

/// The open connections; see the module docs.
pub(crate) struct Conns<C> {
    shards: Box<[Padded<Mutex<Shard<C>>>]>,
    next_shard: AtomicUsize,
}

fn encode(index: usize, generation: usize) -> Option<Token> {
    // index + 1 must fit in the low half, and the token must not be
    // usize::MAX (the poller's own waker).
    if index >= INDEX_MASK - 1 {
        return None;
    }
    let generation = generation & (usize::MAX >> INDEX_BITS);
    Some(Token((generation << INDEX_BITS) | (index + 1)))
}

fn decode(token: Token) -> Option<(usize, usize)> {
    let low = token.0 & INDEX_MASK;
    let index = low.checked_sub(1)?;
    Some((index, token.0 >> INDEX_BITS))
}

impl<C> Conns<C> {
    pub(crate) fn new() -> Conns<C> {
        Conns {
            shards: (0..SHARDS)
                .map(|_| {
                    Padded(Mutex::new(Shard {
                        slab: Slab::new(),
                        next_generation: 0,
                    }))
                })
                .collect(),
            next_shard: AtomicUsize::new(0),
        }
    }

    /// Stores `conn`; returns its token and a reference to it. `None` if the
    /// table is full (only possible on 32-bit targets, at 65534 connections).
    pub(crate) fn insert(&self, conn: C) -> Option<(Token, ConnRef<C>)> {
        let s = self.next_shard.fetch_add(1, Ordering::Relaxed) % SHARDS;
        let mut shard = self.shards[s].0.lock();
        let generation = shard.next_generation;
        let entry = shard.slab.vacant_entry();
        let token = encode(entry.key() * SHARDS + s, generation)?;
        let conn = Arc::new(Mutex::new(conn));
        entry.insert(Entry {
            generation,
            conn: conn.clone(),
        });
        shard.next_generation = generation.wrapping_add(1);
        Some((token, conn))
    }

    /// The connection `token` names, if it is still open: `None` for the
    /// listener, a closed connection, or a slot reused since (stale token).
    pub(crate) fn get(&self, token: Token) -> Option<ConnRef<C>> {
        let (index, generation) = decode(token)?;
        let shard = self.shards[index % SHARDS].0.lock();
        let entry = shard.slab.get(index / SHARDS)?;
        (entry.generation & (usize::MAX >> INDEX_BITS) == generation).then(|| entry.conn.clone())
    }

    /// Takes every connection out of the table.
    pub(crate) fn take_all(&self) -> Vec<ConnRef<C>> {
        let mut all = Vec::new();
        for shard in self.shards.iter() {
            let mut shard = shard.0.lock();
            all.extend(shard.slab.drain().map(|entry| entry.conn));
        }
        all
    }

    /// Takes the connection `token` names out of the table.
    pub(crate) fn remove(&self, token: Token) -> Option<ConnRef<C>> {
        let (index, generation) = decode(token)?;
        let mut shard = self.shards[index % SHARDS].0.lock();
        let key = index / SHARDS;
        let entry = shard.slab.get(key)?;
        if entry.generation & (usize::MAX >> INDEX_BITS) != generation {
            return None;
        }
        Some(shard.slab.remove(key).conn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_never_collide_with_the_listener() {
        let conns = Conns::new();
        let mut tokens = Vec::new();
        for i in 0..100u32 {
            let (t, _) = conns.insert(i).unwrap();
            assert_ne!(t, LISTENER);
            assert_eq!(*conns.get(t).unwrap().lock(), i);
            tokens.push(t);
        }
        assert_eq!(conns.get(LISTENER).map(|c| *c.lock()), None);
        for (i, t) in tokens.iter().enumerate().take(50) {
            assert_eq!(*conns.remove(*t).unwrap().lock(), i as u32);
            assert!(conns.get(*t).is_none());
        }
        let mut rest: Vec<u32> = conns.take_all().iter().map(|c| *c.lock()).collect();
        rest.sort_unstable();
        assert_eq!(rest, (50..100).collect::<Vec<_>>());
        assert!(tokens.iter().all(|t| conns.get(*t).is_none()));
    }

    #[test]
    fn a_reused_slot_gets_a_new_token_and_the_old_one_is_stale() {
        let conns = Conns::new();
        // Fill one slot of every shard, then close and refill the first.
        let (old, _) = conns.insert("old").unwrap();
        for _ in 1..SHARDS {
            conns.insert("other").unwrap();
        }
        conns.remove(old).unwrap();
        let (new, _) = conns.insert("new").unwrap();
        assert_eq!(decode(old).unwrap().0, decode(new).unwrap().0, "same slot");
        assert_ne!(old, new, "a new generation");
        assert!(
            conns.get(old).is_none(),
            "a stale token must not find the new connection"
        );
        assert!(conns.remove(old).is_none());
        assert_eq!(*conns.get(new).unwrap().lock(), "new");
    }

    #[test]
    fn the_index_space_is_bounded() {
        assert!(encode(INDEX_MASK - 1, 0).is_none());
        assert_ne!(
            encode(INDEX_MASK - 2, usize::MAX).unwrap(),
            Token(usize::MAX)
        );
    }
}
