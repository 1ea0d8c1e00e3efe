//! Registering, changing and removing sources while other threads are
//! inside `poll`: smol-rs/polling's `concurrent_modification`, with several
//! polling threads at once, and each case many times over.
//!
//! Negative checks ("no event for X") need no sleep: after X's last chance
//! of an edge the test makes a *canary* source ready. The OS reports ready
//! sources in the order they became ready, and a polling thread records a
//! whole call's events at once, so once the canary is recorded anything
//! the OS had for X is recorded too.

mod util;

use std::collections::HashMap;
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Instant;

use mio_pool_poll::{Event, Events, Interest, Poll, Token};
use parking_lot::{Condvar, Mutex};
use util::{pair, wait_polling, HANG};

/// Every event returned so far, by token, and a signal for each call.
type Seen = (Mutex<HashMap<Token, Vec<Event>>>, Condvar);

/// Threads that poll until stopped and record every event; they never
/// re-arm, so each token stays with the test once it was delivered.
struct Pollers {
    poll: Arc<Poll>,
    seen: Arc<Seen>,
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
}

impl Pollers {
    const THREADS: usize = 3;

    fn start(poll: &Arc<Poll>) -> Pollers {
        let seen: Arc<Seen> = Arc::new((Mutex::new(HashMap::new()), Condvar::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..Self::THREADS)
            .map(|_| {
                let (poll, seen, stop) = (poll.clone(), seen.clone(), stop.clone());
                thread::spawn(move || {
                    let mut events = Events::with_capacity(64);
                    while !stop.load(Ordering::Acquire) {
                        poll.poll(&mut events, None).unwrap();
                        // One lock for the whole call: see the module docs.
                        let mut map = seen.0.lock();
                        for e in &events {
                            map.entry(e.token()).or_insert_with(Vec::new).push(*e);
                        }
                        seen.1.notify_all();
                    }
                })
            })
            .collect();
        Pollers {
            poll: poll.clone(),
            seen,
            stop,
            threads,
        }
    }

    /// Waits until every polling thread is inside `poll` (a handshake).
    fn all_polling(&self) {
        wait_polling(&self.poll, Self::THREADS);
    }

    /// Waits until `token` was returned; returns every event it had.
    fn wait_for(&self, token: Token) -> Vec<Event> {
        let deadline = Instant::now() + HANG;
        let mut map = self.seen.0.lock();
        while !map.contains_key(&token) {
            let timed_out = self.seen.1.wait_until(&mut map, deadline).timed_out();
            assert!(!timed_out, "{token:?} was never returned (a lost event?)");
        }
        map[&token].clone()
    }

    /// The events returned for `token` so far.
    fn events(&self, token: Token) -> Vec<Event> {
        self.seen.0.lock().get(&token).cloned().unwrap_or_default()
    }

    fn stop(mut self) -> HashMap<Token, Vec<Event>> {
        self.stop.store(true, Ordering::Release);
        self.poll.wake().unwrap();
        for t in self.threads.drain(..) {
            t.join().unwrap();
        }
        std::mem::take(&mut *self.seen.0.lock())
    }
}

/// A fresh source made ready at once: once it is returned, every edge the
/// OS had before is returned too.
fn canary(poll: &Poll, pollers: &Pollers, token: Token) {
    let (mut server, mut client) = pair();
    poll.register(&mut server, token, Interest::READABLE)
        .unwrap();
    client.write_all(b"c").unwrap();
    pollers.wait_for(token);
    poll.remove(&mut server, token).unwrap();
}

const ROUNDS: usize = 300;

#[test]
fn a_source_registered_while_threads_poll_is_returned_once() {
    let poll = Arc::new(Poll::new().unwrap());
    let pollers = Pollers::start(&poll);
    for round in 0..ROUNDS {
        pollers.all_polling();
        let token = Token(round);
        let (mut server, mut client) = pair();
        poll.register(&mut server, token, Interest::READABLE)
            .unwrap();
        client.write_all(b"x").unwrap();
        assert_eq!(pollers.wait_for(token).len(), 1);
        poll.remove(&mut server, token).unwrap();
    }
    let seen = pollers.stop();
    assert_eq!(seen.len(), ROUNDS);
    assert!(seen.values().all(|v| v.len() == 1), "{seen:?}");
}

#[test]
fn interest_changed_while_threads_poll_is_returned_once() {
    let poll = Arc::new(Poll::new().unwrap());
    let pollers = Pollers::start(&poll);
    for round in 0..ROUNDS {
        // An armed token (one that nobody holds) and a token that the test
        // holds, after its event was returned, both get WRITABLE added.
        let token = Token(3 * round);
        let (mut server, mut client) = pair();
        poll.register(&mut server, token, Interest::READABLE)
            .unwrap();
        let held = round % 2 == 1;
        if held {
            client.write_all(b"x").unwrap();
            assert!(pollers.wait_for(token)[0].is_readable());
            let mut byte = [0];
            server.read_exact(&mut byte).unwrap();
        }
        pollers.all_polling();
        let both = Interest::READABLE.add(Interest::WRITABLE);
        poll.reregister(&mut server, token, both).unwrap();
        // The socket is writable, so the new interest is met at once.
        let events = loop {
            let events = pollers.wait_for(token);
            if events.len() == 1 + usize::from(held) {
                break events;
            }
            thread::yield_now();
        };
        assert!(events.last().unwrap().is_writable(), "{events:?}");
        // Nobody re-armed the token: a new edge must not be returned.
        client.write_all(b"y").unwrap();
        canary(&poll, &pollers, Token(3 * round + 1));
        assert_eq!(
            pollers.events(token).len(),
            1 + usize::from(held),
            "{token:?} returned again without a re-arm"
        );
        poll.remove(&mut server, token).unwrap();
    }
    pollers.stop();
}

#[test]
fn a_source_removed_while_threads_poll_is_never_returned() {
    let poll = Arc::new(Poll::new().unwrap());
    let pollers = Pollers::start(&poll);
    for round in 0..ROUNDS {
        let token = Token(2 * round);
        let (mut server, mut client) = pair();
        poll.register(&mut server, token, Interest::READABLE)
            .unwrap();
        pollers.all_polling();
        poll.remove(&mut server, token).unwrap();
        client.write_all(b"x").unwrap();
        canary(&poll, &pollers, Token(2 * round + 1));
        assert!(pollers.events(token).is_empty());
        let err = poll
            .reregister(&mut server, token, Interest::READABLE)
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    }
    pollers.stop();
}

/// Two threads register, make ready and remove sources of their own at
/// once, in every order, while three threads poll: every source made
/// ready before its removal began is returned exactly once, one removed
/// first never, and no token is returned twice.
#[test]
fn churn_while_threads_poll() {
    const CHURNERS: usize = 2;
    let poll = Arc::new(Poll::new().unwrap());
    let pollers = Arc::new(Pollers::start(&poll));
    let churners: Vec<_> = (0..CHURNERS)
        .map(|c| {
            let (poll, pollers) = (poll.clone(), pollers.clone());
            thread::spawn(move || {
                for round in 0..ROUNDS {
                    let token = Token(c * 10 * ROUNDS + round);
                    let (mut server, mut client) = pair();
                    poll.register(&mut server, token, Interest::READABLE)
                        .unwrap();
                    match round % 3 {
                        // Ready, returned, then removed.
                        0 => {
                            client.write_all(b"x").unwrap();
                            assert_eq!(pollers.wait_for(token).len(), 1);
                            poll.remove(&mut server, token).unwrap();
                        }
                        // Ready and removed at once: racing the pollers.
                        1 => {
                            client.write_all(b"x").unwrap();
                            poll.remove(&mut server, token).unwrap();
                        }
                        // Removed, then ready: never returned.
                        _ => {
                            poll.remove(&mut server, token).unwrap();
                            client.write_all(b"x").unwrap();
                        }
                    }
                }
            })
        })
        .collect();
    for t in churners {
        t.join().unwrap();
    }
    canary(&poll, &pollers, Token(usize::MAX - 1));
    let pollers = Arc::into_inner(pollers).expect("churners are done");
    let seen = pollers.stop();
    for c in 0..CHURNERS {
        for round in 0..ROUNDS {
            let token = Token(c * 10 * ROUNDS + round);
            let n = seen.get(&token).map_or(0, Vec::len);
            match round % 3 {
                0 => assert_eq!(n, 1, "{token:?}"),
                1 => assert!(n <= 1, "{token:?} returned {n} times"),
                _ => assert_eq!(n, 0, "{token:?} returned after its removal"),
            }
        }
    }
}
