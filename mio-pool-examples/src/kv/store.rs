//! The in-memory store shared by every worker; see [`Store`].

use std::collections::{BTreeSet, HashMap};
use std::hash::{BuildHasher, RandomState};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use parking_lot::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The number of shards.
pub const SHARDS: usize = 64;

/// The most steps a `SCAN` iteration takes per shard (see [`Store::scan`]).
pub const SCAN_SLICES: usize = 16;

/// A `SCAN` cursor is the shard index above [`POS_BITS`] bits of position
/// within the shard. 6 + 46 bits stay below 2^53, so clients that parse
/// cursors as JavaScript numbers (node-redis) keep them exact.
const POS_BITS: u32 = 46;
const POS_MASK: u64 = (1 << POS_BITS) - 1;

/// Milliseconds since the Unix epoch, the clock of deadlines (as Redis's,
/// so that `EXPIREAT`, `PXAT` and `TTL` mean what they mean there).
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A stored value, its deadline and its version.
#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires: Option<i64>,
    /// The shard's clock when the entry was last written: `WATCH` compares
    /// it (see [`Shard::clock`]).
    version: u64,
}

impl Entry {
    fn is_live(&self, now: i64) -> bool {
        self.expires.map_or(true, |t| t > now)
    }
}

/// One shard: a map, the deadlines of its keys in order, and a clock.
///
/// Invariant (kept by [`Shard::put`], [`Shard::remove`] and
/// [`Shard::set_expires`], the only code that writes `map`): `deadlines`
/// holds `(t, key)` exactly for the entries of `map` whose `expires` is
/// `Some(t)`.
#[derive(Debug, Default)]
struct Shard {
    map: HashMap<Vec<u8>, Entry>,
    deadlines: BTreeSet<(i64, Vec<u8>)>,
    /// Incremented on every write; an entry's `version` is the clock of its
    /// last write, so a version seen by `WATCH` changes whenever the key is
    /// written, removed or expires (removal leaves no version at all).
    clock: u64,
}

impl Shard {
    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.map.remove(key)?;
        if let Some(t) = old.expires {
            self.deadlines.remove(&(t, key.to_vec()));
        }
        self.clock += 1;
        Some(old)
    }

    /// Stores `value` under `key` with the deadline `expires`.
    fn put(&mut self, key: &[u8], value: Vec<u8>, expires: Option<i64>) {
        self.clock += 1;
        let new = Entry {
            value,
            expires,
            version: self.clock,
        };
        if let Some(t) = expires {
            self.deadlines.insert((t, key.to_vec()));
        }
        if let Some(old) = self.map.insert(key.to_vec(), new) {
            if let Some(t) = old.expires {
                if Some(t) != expires {
                    self.deadlines.remove(&(t, key.to_vec()));
                }
            }
        }
    }

    fn set_expires(&mut self, key: &[u8], expires: Option<i64>) -> bool {
        self.clock += 1;
        let clock = self.clock;
        let Some(e) = self.map.get_mut(key) else {
            return false;
        };
        let old = std::mem::replace(&mut e.expires, expires);
        e.version = clock;
        if old != expires {
            if let Some(t) = old {
                self.deadlines.remove(&(t, key.to_vec()));
            }
            if let Some(t) = expires {
                self.deadlines.insert((t, key.to_vec()));
            }
        }
        true
    }

    /// Removes up to `budget` entries whose deadline has passed, earliest
    /// first; returns how many.
    fn expire(&mut self, now: i64, budget: usize) -> usize {
        let mut removed = 0;
        while removed < budget {
            match self.deadlines.first() {
                Some((t, _)) if *t <= now => {}
                _ => break,
            }
            let (_, key) = self.deadlines.pop_first().expect("checked above");
            self.map.remove(&key);
            self.clock += 1;
            removed += 1;
        }
        removed
    }

    /// Removes `key` if its deadline has passed.
    fn expire_key(&mut self, key: &[u8], now: i64) {
        if self.map.get(key).is_some_and(|e| !e.is_live(now)) {
            self.remove(key);
        }
    }

    fn live_len(&mut self, now: i64) -> usize {
        self.expire(now, usize::MAX);
        self.map.len()
    }
}

/// The remaining time to live of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// No such key.
    Missing,
    /// The key has no deadline.
    Forever,
    /// The key expires after this many milliseconds.
    Remaining(i64),
}

/// One key, locked: read and write it through this for as long as the
/// closure given to [`Store::key`] or [`Keys::at`] runs. A key past its
/// deadline was removed before this was made, so it reads as missing.
#[derive(Debug)]
pub struct KeyRef<'a> {
    shard: &'a mut Shard,
    key: &'a [u8],
    now: i64,
}

impl<'a> KeyRef<'a> {
    fn new(shard: &'a mut Shard, key: &'a [u8], now: i64) -> KeyRef<'a> {
        shard.expire_key(key, now);
        KeyRef { shard, key, now }
    }

    /// The time this command runs at: deadlines are measured against it.
    pub fn now(&self) -> i64 {
        self.now
    }

    /// The key's name.
    pub fn name(&self) -> &[u8] {
        self.key
    }

    /// Whether the key exists.
    pub fn exists(&self) -> bool {
        self.shard.map.contains_key(self.key)
    }

    /// The key's value.
    pub fn value(&self) -> Option<&[u8]> {
        self.shard.map.get(self.key).map(|e| &e.value[..])
    }

    /// The key's deadline, `None` if it has none or is missing.
    pub fn expires(&self) -> Option<i64> {
        self.shard.map.get(self.key).and_then(|e| e.expires)
    }

    /// The key's remaining time to live.
    pub fn ttl(&self) -> Ttl {
        match self.shard.map.get(self.key) {
            None => Ttl::Missing,
            Some(Entry { expires: None, .. }) => Ttl::Forever,
            Some(Entry {
                expires: Some(t), ..
            }) => Ttl::Remaining((t - self.now).max(0)),
        }
    }

    /// The key's version (see [`Store::version`]).
    pub fn version(&self) -> Option<u64> {
        self.shard.map.get(self.key).map(|e| e.version)
    }

    /// Stores `value` with the deadline `expires` (`None`: none). A
    /// deadline not after now removes the key instead, as Redis does.
    pub fn set(&mut self, value: Vec<u8>, expires: Option<i64>) {
        if expires.is_some_and(|t| t <= self.now) {
            self.shard.remove(self.key);
        } else {
            self.shard.put(self.key, value, expires);
        }
    }

    /// Changes the value in place, keeping the deadline; `None` if missing.
    pub fn update<R>(&mut self, f: impl FnOnce(&mut Vec<u8>) -> R) -> Option<R> {
        self.shard.clock += 1;
        let clock = self.shard.clock;
        let e = self.shard.map.get_mut(self.key)?;
        e.version = clock;
        Some(f(&mut e.value))
    }

    /// Sets or clears the deadline; a deadline not after now removes the
    /// key. Returns false if the key is missing.
    pub fn set_expires(&mut self, expires: Option<i64>) -> bool {
        if !self.exists() {
            return false;
        }
        if expires.is_some_and(|t| t <= self.now) {
            self.shard.remove(self.key);
            return true;
        }
        self.shard.set_expires(self.key, expires)
    }

    /// Removes the key; returns its value and deadline.
    pub fn remove(&mut self) -> Option<(Vec<u8>, Option<i64>)> {
        self.shard.remove(self.key).map(|e| (e.value, e.expires))
    }
}

/// Several keys locked together (see [`Store::keys`]).
#[derive(Debug)]
pub struct Keys<'a, 'k> {
    guards: Vec<MutexGuard<'a, Shard>>,
    /// For each key, the index of its shard's guard.
    slots: Vec<usize>,
    keys: &'k [&'k [u8]],
    now: i64,
}

impl Keys<'_, '_> {
    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The `i`th key.
    pub fn at(&mut self, i: usize) -> KeyRef<'_> {
        KeyRef::new(&mut self.guards[self.slots[i]], self.keys[i], self.now)
    }
}

/// The key-value store shared by every worker (through an `Arc`).
///
/// # Locking
///
/// Keys are spread over [`SHARDS`] shards by hash, each behind its own
/// `parking_lot::Mutex`, so that workers touching different keys rarely
/// wait for each other. A command on one key holds that key's shard lock
/// for its whole read-modify-write ([`Store::key`]), which is what makes
/// `INCR` lose no update. Commands on many keys ([`Store::keys`]: `MGET`,
/// `MSET`, `RENAME`) lock every shard they need at once, in ascending shard
/// order (so two of them cannot deadlock), and are therefore atomic like in
/// Redis.
///
/// Transactions need more: `EXEC` runs many commands with no other command
/// in between. The store has a gate, a `RwLock<()>` taken before any shard
/// lock: every single command holds it shared ([`Store::shared`]), `EXEC`
/// holds it exclusively ([`Store::exclusive`]) for the whole transaction.
/// Invariants: a thread takes the gate at most once (a command never takes
/// it again inside, which could deadlock behind a waiting writer), and
/// always before any shard lock.
///
/// # Expiry
///
/// A key past its deadline reads as missing and is removed when a command
/// touches it (lazy expiry), and in the background by
/// [`Store::expire_some`] (active expiry), which takes keys from each
/// shard's index of deadlines, earliest first, so that its cost is
/// proportional to the keys it removes and never to the keys it does not.
#[derive(Debug)]
pub struct Store {
    gate: RwLock<()>,
    shards: Box<[Mutex<Shard>]>,
    hasher: RandomState,
}

impl Default for Store {
    fn default() -> Store {
        Store::new()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store {
            gate: RwLock::new(()),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    /// Holds the gate shared: what each command outside a transaction
    /// does, so that no transaction runs meanwhile.
    pub fn shared(&self) -> RwLockReadGuard<'_, ()> {
        self.gate.read()
    }

    /// Holds the gate exclusively: no other command runs until the guard
    /// is dropped (`EXEC`).
    pub fn exclusive(&self) -> RwLockWriteGuard<'_, ()> {
        self.gate.write()
    }

    fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        (self.hash(key) % SHARDS as u64) as usize
    }

    /// The position of `key` in its shard's `SCAN` order.
    fn scan_pos(&self, key: &[u8]) -> u64 {
        self.hash(key) >> (64 - POS_BITS)
    }

    /// Runs `f` on `key`, locked.
    pub fn key<R>(&self, key: &[u8], f: impl FnOnce(&mut KeyRef<'_>) -> R) -> R {
        let mut shard = self.shards[self.shard_of(key)].lock();
        f(&mut KeyRef::new(&mut shard, key, now_ms()))
    }

    /// Runs `f` on `keys`, all locked at once.
    pub fn keys<'k, R>(&self, keys: &'k [&'k [u8]], f: impl FnOnce(&mut Keys<'_, 'k>) -> R) -> R {
        let shard_ids: Vec<usize> = keys.iter().map(|k| self.shard_of(k)).collect();
        let mut order = shard_ids.clone();
        order.sort_unstable();
        order.dedup();
        let guards = order.iter().map(|&i| self.shards[i].lock()).collect();
        let slots = shard_ids
            .iter()
            .map(|i| order.binary_search(i).expect("every shard id is in order"))
            .collect();
        f(&mut Keys {
            guards,
            slots,
            keys,
            now: now_ms(),
        })
    }

    /// The version of `key`: `None` if it does not exist; otherwise a
    /// number that changes whenever the key is written (`WATCH`).
    pub fn version(&self, key: &[u8]) -> Option<u64> {
        self.key(key, |k| k.version())
    }

    /// The number of live keys, and how many of them have a deadline.
    pub fn counts(&self) -> (usize, usize) {
        let now = now_ms();
        self.shards.iter().fold((0, 0), |(keys, volatile), s| {
            let mut s = s.lock();
            (keys + s.live_len(now), volatile + s.deadlines.len())
        })
    }

    /// The number of live keys.
    pub fn dbsize(&self) -> usize {
        self.counts().0
    }

    /// Removes every key, atomically.
    pub fn clear(&self) {
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        for g in &mut guards {
            let clock = g.clock + 1;
            **g = Shard {
                clock,
                ..Shard::default()
            };
        }
    }

    /// Calls `f` with every live key, one shard locked at a time.
    pub fn for_each_key(&self, mut f: impl FnMut(&[u8])) {
        let now = now_ms();
        for s in self.shards.iter() {
            let mut s = s.lock();
            s.expire(now, usize::MAX);
            s.map.keys().for_each(|k| f(k));
        }
    }

    /// One step of `SCAN`: calls `f` with about `count` keys after
    /// `cursor` (0 starts), and returns the cursor of the next step (0 when
    /// done). A key that exists for the whole iteration is returned exactly
    /// once, whatever is written meanwhile: each shard returns its keys in
    /// the order of a hash of the key, and the cursor is the shard and the
    /// hash to go on from.
    ///
    /// A step looks at every key of the shard it is in (there is no index
    /// by hash), so it returns at least 1/[`SCAN_SLICES`] of that shard's
    /// keys even when `count` is smaller: a whole iteration then costs
    /// O(keys × `SCAN_SLICES`), not O(keys² / `count`).
    pub fn scan(&self, cursor: u64, count: usize, mut f: impl FnMut(&[u8])) -> u64 {
        let now = now_ms();
        let mut shard = cursor >> POS_BITS;
        let mut from = cursor & POS_MASK;
        let mut found = 0;
        let mut want = count.max(1);
        while (shard as usize) < SHARDS {
            let mut s = self.shards[shard as usize].lock();
            s.expire(now, usize::MAX);
            want = want.max(s.map.len() / SCAN_SLICES);
            let mut keys: Vec<(u64, &Vec<u8>)> = s
                .map
                .keys()
                .map(|k| (self.scan_pos(k), k))
                .filter(|(pos, _)| *pos >= from)
                .collect();
            keys.sort_unstable();
            let mut last = None;
            for (pos, key) in keys {
                // Keys with the same position go in the same step.
                if found >= want && last != Some(pos) {
                    return shard << POS_BITS | pos;
                }
                f(key);
                found += 1;
                last = Some(pos);
            }
            shard += 1;
            from = 0;
            if found >= want && (shard as usize) < SHARDS {
                return shard << POS_BITS;
            }
        }
        0
    }

    /// A live key picked at random, or `None` if there is none.
    pub fn random_key(&self) -> Option<Vec<u8>> {
        let now = now_ms();
        let seed = RandomState::new().hash_one(now);
        for i in 0..SHARDS {
            let mut s = self.shards[(seed as usize).wrapping_add(i) % SHARDS].lock();
            let n = s.live_len(now);
            if n > 0 {
                let pick = (seed >> 8) as usize % n;
                return s.map.keys().nth(pick).cloned();
            }
        }
        None
    }

    /// Active expiry: removes keys past their deadline, earliest first,
    /// visiting the shards in turn and holding each lock for at most `batch`
    /// removals, until none is left or `until` has passed. Returns the
    /// number of keys removed.
    pub fn expire_some(&self, batch: usize, until: Instant) -> usize {
        let mut removed = 0;
        loop {
            let now = now_ms();
            let mut again = false;
            for s in self.shards.iter() {
                if Instant::now() >= until {
                    return removed;
                }
                let n = s.lock().expire(now, batch);
                removed += n;
                again |= n == batch;
            }
            if !again {
                return removed;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;
    use std::sync::Arc;
    use std::time::Duration;

    fn set(s: &Store, key: &[u8], value: &[u8], ttl: Option<Duration>) {
        s.key(key, |k| {
            let expires = ttl.map(|d| k.now() + d.as_millis() as i64);
            k.set(value.to_vec(), expires)
        });
    }

    fn get(s: &Store, key: &[u8]) -> Option<Vec<u8>> {
        s.key(key, |k| k.value().map(<[u8]>::to_vec))
    }

    #[test]
    fn expired_keys_vanish_and_are_not_counted() {
        let s = Store::new();
        for i in 0..100 {
            set(
                &s,
                format!("t{i}").as_bytes(),
                b"v",
                Some(Duration::from_millis(1)),
            );
        }
        set(&s, b"forever", b"v", None);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.counts(), (1, 0));
        assert_eq!(get(&s, b"t0"), None);
        assert_eq!(s.key(b"t1", |k| k.ttl()), Ttl::Missing);
        assert_eq!(s.key(b"forever", |k| k.ttl()), Ttl::Forever);
    }

    #[test]
    fn active_expiry_removes_keys_nobody_reads_within_its_budget() {
        let s = Store::new();
        for i in 0..1000 {
            set(
                &s,
                format!("t{i}").as_bytes(),
                b"v",
                Some(Duration::from_millis(1)),
            );
        }
        set(&s, b"later", b"v", Some(Duration::from_secs(100)));
        std::thread::sleep(Duration::from_millis(5));
        // A deadline already passed: nothing may be done.
        assert_eq!(s.expire_some(10, Instant::now()), 0);
        assert_eq!(
            s.expire_some(10, Instant::now() + Duration::from_secs(60)),
            1000
        );
        // The index is consistent with the maps: nothing left to expire.
        let volatile: usize = s.shards.iter().map(|x| x.lock().deadlines.len()).sum();
        let stored: usize = s.shards.iter().map(|x| x.lock().map.len()).sum();
        assert_eq!((volatile, stored), (1, 1));
    }

    #[test]
    fn the_deadline_index_follows_every_write() {
        let s = Store::new();
        let long = Some(Duration::from_secs(100));
        set(&s, b"k", b"1", long);
        set(&s, b"k", b"2", long);
        s.key(b"k", |k| assert!(k.set_expires(None)));
        set(&s, b"j", b"1", long);
        s.key(b"j", |k| k.remove());
        set(&s, b"i", b"1", long);
        s.key(b"i", |k| k.set(b"2".to_vec(), None));
        let volatile: usize = s.shards.iter().map(|x| x.lock().deadlines.len()).sum();
        assert_eq!(volatile, 0);
        assert_eq!(s.counts(), (2, 0));
    }

    #[test]
    fn versions_change_on_every_write() {
        let s = Store::new();
        assert_eq!(s.version(b"k"), None);
        set(&s, b"k", b"1", None);
        let v1 = s.version(b"k").unwrap();
        s.key(b"k", |k| k.update(|v| v.push(b'x')));
        let v2 = s.version(b"k").unwrap();
        assert!(v2 > v1);
        s.key(b"other", |k| k.set(b"1".to_vec(), None));
        set(&s, b"k", b"1", None);
        assert!(s.version(b"k").unwrap() > v2);
        s.clear();
        assert_eq!(s.version(b"k"), None);
    }

    #[test]
    fn scan_returns_each_key_once_despite_writes() {
        let s = Store::new();
        for i in 0..2000 {
            set(&s, format!("k{i}").as_bytes(), b"v", None);
        }
        let mut seen = HashSet::new();
        let mut cursor = 0;
        let mut steps = 0;
        loop {
            cursor = s.scan(cursor, 10, |k| {
                assert!(seen.insert(k.to_vec()), "{k:?} twice")
            });
            // Writes between steps, as other clients would.
            set(&s, format!("new{steps}").as_bytes(), b"v", None);
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert!(cursor < 1 << 53);
        for i in 0..2000 {
            assert!(seen.contains(format!("k{i}").as_bytes()), "k{i} missed");
        }
        assert!(steps > 100, "steps of about COUNT keys, not {steps}");
    }

    #[test]
    fn a_scan_with_a_small_count_still_takes_few_steps_per_shard() {
        let s = Store::new();
        for i in 0..20_000 {
            set(&s, format!("k{i}").as_bytes(), b"v", None);
        }
        let (mut cursor, mut steps, mut keys) = (0, 0, 0);
        loop {
            cursor = s.scan(cursor, 1, |_| keys += 1);
            steps += 1;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(keys, 20_000);
        // About SCAN_SLICES steps per shard, not 20,000.
        assert!(steps <= SHARDS * (SCAN_SLICES + 2), "{steps} steps");
    }

    #[test]
    fn concurrent_incr_loses_nothing() {
        let s = Arc::new(Store::new());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        s.key(b"c", |k| {
                            let n: i64 = k
                                .value()
                                .map_or(0, |v| std::str::from_utf8(v).unwrap().parse().unwrap());
                            k.set((n + 1).to_string().into_bytes(), None);
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(get(&s, b"c"), Some(b"8000".to_vec()));
    }

    #[test]
    fn many_key_operations_do_not_deadlock() {
        let s = Arc::new(Store::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    let keys: Vec<Vec<u8>> = (0..32)
                        .map(|i| format!("k{}", (i * (t + 1)) % 97).into_bytes())
                        .collect();
                    let mut keys: Vec<&[u8]> = keys.iter().map(Vec::as_slice).collect();
                    for round in 0..200 {
                        keys.reverse();
                        s.keys(&keys, |ks| {
                            for i in 0..ks.len() {
                                ks.at(i).set(vec![round as u8], None);
                            }
                        });
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert!(s.dbsize() > 0);
        s.clear();
        assert_eq!(s.dbsize(), 0);
    }
}
