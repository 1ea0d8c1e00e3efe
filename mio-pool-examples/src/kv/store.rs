//! The in-memory store shared by every worker; see [`Store`].

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::time::{Duration, Instant};

use parking_lot::{Mutex, MutexGuard};

/// The number of shards.
pub const SHARDS: usize = 64;

/// A stored value and its deadline.
#[derive(Debug, Clone)]
struct Entry {
    value: Vec<u8>,
    expires: Option<Instant>,
}

impl Entry {
    fn is_live(&self, now: Instant) -> bool {
        self.expires.map_or(true, |t| t > now)
    }
}

/// One shard: a map plus how many of its entries have a deadline.
#[derive(Debug, Default)]
struct Shard {
    map: HashMap<Vec<u8>, Entry>,
    /// Entries with `expires.is_some()`; when 0 no sweep is needed.
    volatile: usize,
}

impl Shard {
    /// The live entry for `key`, removing it first if it has expired.
    fn live(&mut self, key: &[u8], now: Instant) -> Option<&mut Entry> {
        if self.map.get(key).is_some_and(|e| !e.is_live(now)) {
            self.remove(key);
        }
        self.map.get_mut(key)
    }

    fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let old = self.map.remove(key)?;
        self.volatile -= usize::from(old.expires.is_some());
        Some(old)
    }

    /// Stores `value` under `key` with the deadline `expires`.
    fn put(&mut self, key: &[u8], value: Vec<u8>, expires: Option<Instant>) {
        let new = Entry { value, expires };
        self.volatile += usize::from(expires.is_some());
        if let Some(old) = self.map.insert(key.to_vec(), new) {
            self.volatile -= usize::from(old.expires.is_some());
        }
    }

    /// Removes expired entries; returns the number of live ones.
    fn sweep(&mut self, now: Instant) -> usize {
        if self.volatile > 0 {
            let before = self.map.len();
            self.map.retain(|_, e| e.is_live(now));
            self.volatile -= before - self.map.len();
        }
        self.map.len()
    }
}

/// How `SET` treats the key's deadline and existence.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SetOptions {
    /// The new deadline, measured from now; `None` removes any deadline
    /// unless `keep_ttl`.
    pub ttl: Option<Duration>,
    /// Keep the key's current deadline (`KEEPTTL`).
    pub keep_ttl: bool,
    /// Only set if the key does not exist (`NX`).
    pub only_if_absent: bool,
    /// Only set if the key exists (`XX`).
    pub only_if_present: bool,
}

/// The remaining time to live of a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ttl {
    /// No such key.
    Missing,
    /// The key has no deadline.
    Forever,
    /// The key expires after this long.
    Remaining(Duration),
}

/// Why `INCR` failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IncrError {
    /// The value is not a decimal 64-bit integer.
    NotAnInteger,
    /// The result would not fit in 64 bits.
    Overflow,
}

/// The key-value store shared by every worker (through an `Arc`).
///
/// # Locking
///
/// Keys are spread over [`SHARDS`] shards by hash, each behind its own
/// `parking_lot::Mutex`, so that workers touching different keys rarely
/// wait for each other. A command on one key holds that key's shard lock for
/// its whole read-modify-write, which is what makes `INCR` lose no update.
/// Commands on many keys (`MGET`, `MSET`, `FLUSHALL`) lock every shard they
/// need at once, in ascending shard order (so two of them cannot deadlock),
/// and are therefore atomic like in Redis.
///
/// # Expiry
///
/// A key with a deadline is removed lazily: whenever a command finds it past
/// its deadline, and by [`Store::dbsize`], which sweeps shards that hold any
/// key with a deadline so that the count it returns is exact. A key that
/// expires and is never touched again keeps its memory until then.
#[derive(Debug)]
pub struct Store {
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
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: RandomState::new(),
        }
    }

    fn shard_of(&self, key: &[u8]) -> usize {
        (self.hasher.hash_one(key) % SHARDS as u64) as usize
    }

    fn lock(&self, key: &[u8]) -> MutexGuard<'_, Shard> {
        self.shards[self.shard_of(key)].lock()
    }

    /// Locks the shards of all `keys` in ascending order; returns the
    /// guards and, for each key, the index of its guard.
    fn lock_many<K: AsRef<[u8]>>(
        &self,
        keys: impl Iterator<Item = K>,
    ) -> (Vec<MutexGuard<'_, Shard>>, Vec<usize>) {
        let shard_ids: Vec<usize> = keys.map(|k| self.shard_of(k.as_ref())).collect();
        let mut order = shard_ids.clone();
        order.sort_unstable();
        order.dedup();
        let guards = order.iter().map(|&i| self.shards[i].lock()).collect();
        let slots = shard_ids
            .iter()
            .map(|i| order.binary_search(i).expect("every shard id is in order"))
            .collect();
        (guards, slots)
    }

    /// Calls `f` with the value of `key`, or `None`, under the shard lock.
    pub fn get<R>(&self, key: &[u8], f: impl FnOnce(Option<&[u8]>) -> R) -> R {
        let mut shard = self.lock(key);
        f(shard.live(key, Instant::now()).map(|e| &e.value[..]))
    }

    /// Calls `f` with the values of `keys`, in order, seen atomically.
    pub fn get_many<K: AsRef<[u8]>>(&self, keys: &[K], mut f: impl FnMut(Option<&[u8]>)) {
        let now = Instant::now();
        let (mut guards, slots) = self.lock_many(keys.iter());
        for (key, &slot) in keys.iter().zip(&slots) {
            f(guards[slot].live(key.as_ref(), now).map(|e| &e.value[..]));
        }
    }

    /// `SET`: stores `value` under `key` unless `NX`/`XX` forbid it.
    /// Returns whether it was stored and the previous value (for `GET`).
    pub fn set(&self, key: &[u8], value: &[u8], opts: SetOptions) -> (bool, Option<Vec<u8>>) {
        let now = Instant::now();
        let mut shard = self.lock(key);
        let (old_value, old_expires) = match shard.live(key, now) {
            Some(e) => (Some(e.value.clone()), e.expires),
            None => (None, None),
        };
        let exists = old_value.is_some();
        if (opts.only_if_absent && exists) || (opts.only_if_present && !exists) {
            return (false, old_value);
        }
        let expires = match (opts.ttl, opts.keep_ttl) {
            // A deadline too far to represent is no deadline.
            (Some(ttl), _) => now.checked_add(ttl),
            (None, true) => old_expires,
            (None, false) => None,
        };
        shard.put(key, value.to_vec(), expires);
        (true, old_value)
    }

    /// `MSET`: stores every pair, atomically, removing their deadlines.
    pub fn set_many<K: AsRef<[u8]>>(&self, pairs: &[(K, K)]) {
        let (mut guards, slots) = self.lock_many(pairs.iter().map(|(k, _)| k));
        for ((key, value), &slot) in pairs.iter().zip(&slots) {
            guards[slot].put(key.as_ref(), value.as_ref().to_vec(), None);
        }
    }

    /// `DEL`: removes `key`; returns whether a live key was removed.
    pub fn remove(&self, key: &[u8]) -> bool {
        let now = Instant::now();
        let mut shard = self.lock(key);
        shard.remove(key).is_some_and(|e| e.is_live(now))
    }

    /// Whether `key` exists.
    pub fn contains(&self, key: &[u8]) -> bool {
        self.lock(key).live(key, Instant::now()).is_some()
    }

    /// `INCRBY`: adds `delta` to the integer at `key` (0 if missing), keeping
    /// its deadline; returns the new value. Atomic under the shard lock.
    pub fn incr_by(&self, key: &[u8], delta: i64) -> Result<i64, IncrError> {
        let now = Instant::now();
        let mut shard = self.lock(key);
        let (current, expires) = match shard.live(key, now) {
            Some(e) => (
                parse_i64(&e.value).ok_or(IncrError::NotAnInteger)?,
                e.expires,
            ),
            None => (0, None),
        };
        let new = current.checked_add(delta).ok_or(IncrError::Overflow)?;
        match shard.live(key, now) {
            Some(e) => e.value = new.to_string().into_bytes(),
            None => shard.put(key, new.to_string().into_bytes(), expires),
        }
        Ok(new)
    }

    /// The remaining time to live of `key`.
    pub fn ttl(&self, key: &[u8]) -> Ttl {
        let now = Instant::now();
        match self.lock(key).live(key, now) {
            None => Ttl::Missing,
            Some(Entry { expires: None, .. }) => Ttl::Forever,
            Some(Entry {
                expires: Some(t), ..
            }) => Ttl::Remaining(t.saturating_duration_since(now)),
        }
    }

    /// The number of live keys. Sweeps expired keys out of shards that hold
    /// keys with deadlines, so the count is exact at the time each shard is
    /// visited.
    pub fn dbsize(&self) -> usize {
        let now = Instant::now();
        self.shards.iter().map(|s| s.lock().sweep(now)).sum()
    }

    /// Removes every key, atomically.
    pub fn clear(&self) {
        let mut guards: Vec<_> = self.shards.iter().map(|s| s.lock()).collect();
        for g in &mut guards {
            **g = Shard::default();
        }
    }
}

/// Parses a value as Redis does for `INCR`: an optional `-` and decimal
/// digits, nothing else.
pub fn parse_i64(bytes: &[u8]) -> Option<i64> {
    if bytes.is_empty() || bytes.len() > 20 || bytes[0] == b'+' {
        return None;
    }
    std::str::from_utf8(bytes).ok()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn get(store: &Store, key: &[u8]) -> Option<Vec<u8>> {
        store.get(key, |v| v.map(<[u8]>::to_vec))
    }

    #[test]
    fn set_options() {
        let s = Store::new();
        let nx = SetOptions {
            only_if_absent: true,
            ..SetOptions::default()
        };
        let xx = SetOptions {
            only_if_present: true,
            ..SetOptions::default()
        };
        assert_eq!(s.set(b"k", b"1", xx), (false, None));
        assert_eq!(s.set(b"k", b"1", nx), (true, None));
        assert_eq!(s.set(b"k", b"2", nx), (false, Some(b"1".to_vec())));
        assert_eq!(s.set(b"k", b"3", xx), (true, Some(b"1".to_vec())));
        assert_eq!(get(&s, b"k"), Some(b"3".to_vec()));
    }

    #[test]
    fn expired_keys_vanish_and_are_not_counted() {
        let s = Store::new();
        let short = SetOptions {
            ttl: Some(Duration::from_millis(1)),
            ..SetOptions::default()
        };
        for i in 0..100 {
            s.set(format!("t{i}").as_bytes(), b"v", short);
        }
        s.set(b"forever", b"v", SetOptions::default());
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(s.dbsize(), 1);
        assert_eq!(get(&s, b"t0"), None);
        assert_eq!(s.ttl(b"t1"), Ttl::Missing);
        assert_eq!(s.ttl(b"forever"), Ttl::Forever);
        assert!(!s.remove(b"t2"));
    }

    #[test]
    fn keep_ttl_and_incr_keep_the_deadline() {
        let s = Store::new();
        let long = SetOptions {
            ttl: Some(Duration::from_secs(100)),
            ..SetOptions::default()
        };
        s.set(b"n", b"1", long);
        s.incr_by(b"n", 1).unwrap();
        assert!(matches!(s.ttl(b"n"), Ttl::Remaining(d) if d > Duration::from_secs(90)));
        let keep = SetOptions {
            keep_ttl: true,
            ..SetOptions::default()
        };
        s.set(b"n", b"5", keep);
        assert!(matches!(s.ttl(b"n"), Ttl::Remaining(_)));
        s.set(b"n", b"5", SetOptions::default());
        assert_eq!(s.ttl(b"n"), Ttl::Forever);
    }

    #[test]
    fn incr_errors() {
        let s = Store::new();
        s.set(b"x", b"abc", SetOptions::default());
        assert_eq!(s.incr_by(b"x", 1), Err(IncrError::NotAnInteger));
        s.set(b"x", b"+1", SetOptions::default());
        assert_eq!(s.incr_by(b"x", 1), Err(IncrError::NotAnInteger));
        s.set(b"x", i64::MAX.to_string().as_bytes(), SetOptions::default());
        assert_eq!(s.incr_by(b"x", 1), Err(IncrError::Overflow));
        assert_eq!(s.incr_by(b"new", -3), Ok(-3));
    }

    #[test]
    fn concurrent_incr_loses_nothing() {
        let s = Arc::new(Store::new());
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    for _ in 0..1000 {
                        s.incr_by(b"c", 1).unwrap();
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
                    let pairs: Vec<(Vec<u8>, Vec<u8>)> =
                        keys.iter().rev().map(|k| (k.clone(), k.clone())).collect();
                    for _ in 0..200 {
                        s.set_many(&pairs);
                        s.get_many(&keys, |_| {});
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
