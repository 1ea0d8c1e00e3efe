//! A `mio::Poll` that many threads poll at once.
//!
//! [`mio::Poll::poll`](mio::Poll::poll) takes `&mut self`, so one thread waits
//! at a time, and [`polling`](https://docs.rs/polling) lets a second waiter
//! return at once with nothing. This crate's [`Poll`] is `Send + Sync`: any
//! number of threads call [`Poll::poll`] through `&self`, and each readiness
//! event goes to exactly one of them. Delivery is *oneshot*: a token whose
//! event was handed out stays quiet until its owner re-arms it, so two threads
//! never work on one source at once. It is backed by mio (epoll on Linux,
//! kqueue on macOS and the BSDs) and is the engine of the `mio-pool` crate,
//! but works alone for custom reactors.
//!
//! # Example
//!
//! Four threads serve eight echo connections from one poller.
//!
//! ```
//! use std::io::{ErrorKind, Read, Write};
//! use std::sync::atomic::{AtomicBool, Ordering};
//! use std::sync::Arc;
//! use mio_pool_poll::{Events, Interest, Poll, Token};
//!
//! let poll = Arc::new(Poll::new()?);
//! let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! let mut clients = Vec::new();
//! let mut servers = Vec::new();
//! for i in 0..8 {
//!     clients.push(std::net::TcpStream::connect(listener.local_addr()?)?);
//!     let (stream, _) = listener.accept()?;
//!     stream.set_nonblocking(true)?;
//!     let mut stream = mio::net::TcpStream::from_std(stream);
//!     poll.register(&mut stream, Token(i), Interest::READABLE)?;
//!     // Oneshot delivery means one thread at a time has a token: the lock
//!     // below is never contended; it only proves that to the compiler.
//!     servers.push(std::sync::Mutex::new(stream));
//! }
//! let servers = Arc::new(servers);
//! let stop = Arc::new(AtomicBool::new(false));
//!
//! let workers: Vec<_> = (0..4).map(|_| {
//!     let (poll, servers, stop) = (poll.clone(), servers.clone(), stop.clone());
//!     std::thread::spawn(move || -> std::io::Result<()> {
//!         let mut events = Events::with_capacity(16);
//!         while !stop.load(Ordering::Acquire) {
//!             poll.poll(&mut events, None)?;
//!             for event in &events {
//!                 let mut stream = servers[event.token().0].lock().unwrap();
//!                 let mut buf = [0; 512];
//!                 loop {
//!                     match stream.read(&mut buf) {
//!                         Ok(0) => break,
//!                         Ok(n) => stream.write_all(&buf[..n])?,
//!                         Err(e) if e.kind() == ErrorKind::WouldBlock => break,
//!                         Err(e) => return Err(e),
//!                     }
//!                 }
//!                 // Drained: hand the token back. No system call is made.
//!                 poll.reregister(&mut *stream, event.token(), Interest::READABLE)?;
//!             }
//!         }
//!         Ok(())
//!     })
//! }).collect();
//!
//! for (i, client) in clients.iter_mut().enumerate() {
//!     let msg = format!("hello {i}");
//!     client.write_all(msg.as_bytes())?;
//!     let mut reply = vec![0; msg.len()];
//!     client.read_exact(&mut reply)?;
//!     assert_eq!(reply, msg.as_bytes());
//! }
//!
//! stop.store(true, Ordering::Release);
//! poll.wake()?; // every blocked `poll` returns
//! for w in workers {
//!     w.join().unwrap()?;
//! }
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # Design
//!
//! **Leader/followers.** One thread at a time, the *leader*, waits in the
//! mio poll; the others, *followers*, wait on a condition variable. When the
//! OS returns, the leader turns OS events into deliverable events, keeps as
//! many as its [`Events`] holds (straight into it, without a trip through
//! the shared queue), queues the rest and gives up the role. If events are
//! left over it wakes *one* follower, which takes its share and wakes the
//! next if still more are left. Wake-ups are what a shared poller costs (a
//! futex wake and a context switch each), so they follow the work, not the
//! number of threads. `src/handoff.rs` has the state table.
//!
//! **Hand-off.** A leader that returns with work does not promote a follower:
//! usually it finishes its events and is back in `poll` before anyone would
//! have woken up, and leads again. A follower that arrived while a leader was
//! polling waits at most [`HANDOFF`] on a timer; if by then nobody leads it
//! takes over the role, so a thread that leaves `poll` for long (a slow
//! handler) holds up other sources by at most that long. A follower whose
//! timer ran out while a leader *was* polling (an idle poller) sleeps with
//! no timer, and whoever next leaves the leader's role wakes one such
//! follower. So an idle poller uses no CPU, and a busy one hands over without
//! a wake-up in the common case.
//!
//! **Oneshot without system calls.** mio registers sources edge-triggered
//! and leaves them registered. Oneshot delivery is emulated in a table of
//! per-token state (armed or not, interest, readiness seen while disarmed)
//! kept under sharded locks. An OS event for a disarmed token is remembered;
//! re-arming with pending readiness delivers it at once instead of arming.
//! Both happen under the token's lock, so readiness is either seen at
//! re-arm time or finds the token armed: no wake-up is lost. Re-arming with
//! the same interest is a table update, not an `epoll_ctl`; a change of
//! interest disarms the token while the OS is told, so an edge the change
//! itself raises is handed out once. `src/token_table.rs` has the table.
//!
//! **Stale events.** [`Poll::remove`] forgets a token; an OS event for a
//! token that is not in the table is dropped. A token that is registered
//! again at once may still see one in-flight event of its old source, as a
//! spurious event; callers that reuse tokens tag them with a generation
//! (`mio-pool` does) so that the old source's events never match.
//!
//! # How the design is checked
//!
//! Both state machines, the token table and the hand-off, are modelled with
//! [loom](https://docs.rs/loom), which runs the real code in every
//! interleaving of a few threads (bounded preemptions): the hand-off over a
//! model OS poller that loom schedules too, with every timer firing at once
//! so that the timer-only paths (a follower taking over, a follower turning
//! patient) are explored. The models check that each event is returned
//! exactly once, that readiness kept while a token was disarmed reaches a
//! thread already asleep, that a batch's surplus and the leader's role pass
//! on, that a requeued event and one queued while the leader reads are
//! returned once, that an edge raised by a change of interest makes one
//! holder, and that `wake` returns every poller; a wake-up that no thread
//! sends shows up as a deadlock. What they cannot see is time: that
//! a follower on the timer gets a batch's surplus at once rather than
//! within [`HANDOFF`] is measured, not modelled. Run them with
//! `RUSTFLAGS="--cfg loom" cargo test -p mio-pool-poll --lib --release loom`.
//!
//! # Differences from `mio::Poll`
//!
//! * `poll`, `register`, `reregister`, `deregister` and `wake` take `&self`;
//!   [`Poll`] is `Send + Sync`. There is no separate `Registry`.
//! * Delivery is oneshot; re-arm with [`Poll::reregister`] (or
//!   [`Poll::rearm`], which hands pending readiness straight back to the
//!   caller).
//! * [`Events::with_capacity`] caps one call; the rest stays for other
//!   callers instead of being reported by the next call on the same thread.
//! * [`Event`] is a small `Copy` value, not a view into the OS buffer.
//! * The poller has its own waker: [`Poll::wake`]. `Token(usize::MAX)` is
//!   reserved for it.
//! * `Interrupted` from the OS is not returned; it is a spurious wake-up.

#![deny(missing_docs, missing_debug_implementations)]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod event;
mod handoff;
mod poll;
mod sync;
mod sys;
mod token_table;

pub use event::{Event, Events, Iter};
pub use handoff::HANDOFF;
pub use mio::{Interest, Token};
pub use poll::{Poll, PollStats};

/// The README's example, run as a doctest so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
