//! Active expiry: removing keys past their deadline that nobody reads.
//!
//! # Why one thread
//!
//! Lazy expiry (a command that touches an expired key removes it) frees
//! nothing for keys that are never touched again, which in a cache is most
//! of them. The pool's workers run only when a connection has an event, so
//! work amortised on them would stop when traffic stops, exactly when
//! nothing else would free the memory; a worker has no timer of its own to
//! wake on. One thread that wakes every [`EXPIRY_PERIOD`] (Redis's `hz 10`)
//! is the honest design: it costs a wake-up per period when idle, and is
//! bounded while busy.
//!
//! # Bounded CPU
//!
//! Each period the thread removes expired keys, earliest deadline first,
//! from each shard's index of deadlines ([`Store::expire_some`](super::Store::expire_some)), and stops
//! after [`EXPIRY_BUDGET`] of work: at most 5% of one core, whatever the
//! number of keys (Redis allows its active expiry 25%). It touches only keys
//! already past their deadline, never scans live ones, and holds each shard
//! lock for at most [`EXPIRY_BATCH`] removals so that commands on that
//! shard wait little. Keys left over when the budget runs out are taken in
//! the next periods; meanwhile they read as missing (lazy expiry).

use std::sync::{Arc, Weak};
use std::thread;
use std::time::{Duration, Instant};

use super::Server;

/// How often the expiry thread wakes.
pub const EXPIRY_PERIOD: Duration = Duration::from_millis(100);

/// The most time the expiry thread works per period.
pub const EXPIRY_BUDGET: Duration = Duration::from_millis(5);

/// The most keys removed under one shard lock.
pub const EXPIRY_BATCH: usize = 64;

/// Starts the expiry thread of `server`; it ends once the last `Arc` of the
/// server is dropped (within one period).
///
/// # Errors
///
/// The thread could not be spawned.
pub fn spawn(server: &Arc<Server>) -> std::io::Result<thread::JoinHandle<()>> {
    let server: Weak<Server> = Arc::downgrade(server);
    thread::Builder::new()
        .name("kv-expiry".into())
        .spawn(move || loop {
            thread::sleep(EXPIRY_PERIOD);
            let Some(server) = server.upgrade() else {
                return;
            };
            let removed = server
                .store
                .expire_some(EXPIRY_BATCH, Instant::now() + EXPIRY_BUDGET);
            server.count_expired(removed);
        })
}
