//! A worker pool collectively handling a set of connections.
//!
//! This crate is written for the use-case where a server is listening for
//! connections, and wants to spread the load of handling accepted
//! connections across multiple threads. Specifically, this crate implements
//! a worker pool that shares a single poller ([`poll::Poll`], a thread-safe
//! `mio::Poll`), and collectively accepts new connections and handles events
//! for existing ones. No async runtime, no futures: one handler,
//! `Fn(&mut Conn, &mut State) -> io::Result<bool>`.
//!
//! Users will want to start with the [`PoolBuilder`] struct, which creates a
//! new pool from anything that can act as a [`Listener`] (anything that can
//! be polled and accept new connections that can themselves be polled; e.g.,
//! `mio::net::TcpListener`).
//!
//! # Examples
//!
//! ```
//! # use mio_pool::PoolBuilder;
//! use std::io::prelude::*;
//!
//! let addr = "127.0.0.1:0".parse().unwrap();
//! let server = mio::net::TcpListener::bind(addr).unwrap();
//! let addr = server.local_addr().unwrap();
//! let pool = PoolBuilder::from(server).unwrap();
//! let h = pool.with_state(Vec::new()).and_return(|v| v)
//!     .run(1 /* # workers */, |c: &mut mio::net::TcpStream, s: &mut Vec<u8>| {
//!         // new data is available on the connection `c`!
//!         let mut buf = [0u8; 1024];
//!
//!         // let's just echo back what we read
//!         let n = c.read(&mut buf)?;
//!         if n == 0 {
//!             return Ok(true);
//!         }
//!         c.write_all(&buf[..n])?;
//!
//!         // keep some internal state
//!         s.extend(&buf[..n]);
//!
//!         // assume there could be more data
//!         Ok(false)
//!     });
//!
//! // new clients can now connect on `addr`
//! use std::net::TcpStream;
//! let mut c = TcpStream::connect(&addr).unwrap();
//! c.write_all(b"hello world").unwrap();
//! let mut buf = [0u8; 1024];
//! let n = c.read(&mut buf).unwrap();
//! assert_eq!(&buf[..n], b"hello world");
//!
//! // we can terminate the pool at any time
//! let results = h.terminate();
//! // results here contains the final state of each worker in the pool.
//! // that is, the final value in each `s` passed to the closure in `run`.
//! let result = results.into_iter().next().unwrap();
//! assert_eq!(&result.unwrap(), b"hello world");
//! ```
//!
//! # How it works
//!
//! Every worker thread loops on one shared [`poll::Poll`]: it waits for
//! events, accepts when the listener is ready (until `WouldBlock`), and
//! calls the handler for each connection that is ready. The poller hands
//! each event to exactly one worker and then keeps that connection quiet
//! until the worker re-arms it, so the handler has the connection to itself
//! (`&mut C`) without any lock being contended. A connection that has more
//! data when it is re-armed stays on the worker that has it; one that uses
//! up its fair share (32 calls in a row) goes back behind the others. See the
//! `mio-pool-poll` crate docs for how threads hand work over without waking
//! each other for every event.
//!
//! A worker that is never short of work never sleeps, and would then keep
//! its CPU until the scheduler's tick (4 ms at 250 Hz) while other runnable
//! threads on that CPU wait: in the benchmark that tick was every event
//! loop's p99 latency. So a worker that has been on its CPU for a
//! millisecond without sleeping yields it (`sched_yield`) before it polls
//! again, which with nobody waiting costs one cheap system call;
//! [`PoolStats::cpu_yields`] counts them, and
//! [`PoolBuilder::set_yield_after`] changes the interval or switches
//! yielding off (it buys the latency tail with context switches).
//!
//! Connections live in a sharded slab: accept and close are O(1), and the
//! cost of an event does not grow with the number of open connections.
//! Tokens carry the slot's generation, so an event of a closed connection
//! never reaches a newer connection that reuses its slot.
//!
//! # Guarantees
//!
//! * A connection is handled by one worker at a time.
//! * A handler that returns `Err(WouldBlock)` is called again when the
//!   connection becomes ready (readable or writable), including for data
//!   that arrived while it ran.
//! * Handler errors and panics close that one connection, never the pool;
//!   they are counted in [`PoolStats`]. So are panics in the adapter, in
//!   `Listener::accept` and in a connection's `Drop`; a panic in a
//!   connection's `Source` methods still ends its worker (see
//!   [`PoolHandle`]). Running out of file descriptors
//!   pauses accepting briefly (logged once per episode through `log`); open
//!   connections are served throughout.
//! * [`PoolHandle::terminate`] stops every worker promptly (they are woken,
//!   not polled on a timer); [`PoolHandle::finish`] refuses new clients at
//!   once and returns when the open connections have closed.
//!
//! # Not guaranteed
//!
//! * Which worker serves a connection, or that work is spread evenly: a
//!   worker keeps what it has while it keeps up, because waking another
//!   thread costs more than most handlers.
//! * Per-worker state after a handler panic is whatever the handler left.
//! * A handler that blocks holds its worker (and, for up to the poller's
//!   hand-off delay of about a millisecond, events that the worker would have
//!   picked up next). Do not block in handlers.

#![deny(missing_docs, missing_debug_implementations)]
#![doc(test(attr(deny(warnings))))]

mod builder;
mod connection;
mod conns;
mod handle;
mod listener;
mod worker;

pub use builder::{PoolBuilder, RunError};
pub use connection::Connection;
pub use handle::{PoolHandle, PoolStats, StatsHandle};
pub use listener::Listener;
/// An implementation of a `Poll` interface very similar to that of
/// `mio::Poll`, that many threads may call at once: the `mio-pool-poll`
/// crate.
pub use mio_pool_poll as poll;

/// The README's example, run as a doctest so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
