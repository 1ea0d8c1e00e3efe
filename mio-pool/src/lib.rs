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
//! The original crate's example, an echo server:
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
//! It loses data: on a non-blocking socket `write_all` stops at the first
//! `WouldBlock`, and the bytes it had not written yet are dropped (a client
//! that sends 8 MiB before reading gets back a few KiB less). Wrap each
//! connection in a [`Buffered`], which queues what the socket does not
//! take and stops reading a client that does not take its replies; the same
//! handler is then correct, however slowly the client reads:
//!
//! ```
//! # use mio_pool::PoolBuilder;
//! use std::io::prelude::*;
//! use mio_pool::Buffered;
//!
//! let addr = "127.0.0.1:0".parse().unwrap();
//! let server = mio::net::TcpListener::bind(addr).unwrap();
//! let addr = server.local_addr().unwrap();
//! let pool = PoolBuilder::from(server).unwrap().with_adapter(Buffered::new);
//! let h = pool.with_state(Vec::new()).and_return(|v| v)
//!     .run(1, |c: &mut Buffered<mio::net::TcpStream>, s: &mut Vec<u8>| {
//!         let mut buf = [0u8; 1024];
//!         let n = c.read(&mut buf)?;   // sends queued output first
//!         if n == 0 {
//!             return Ok(true);          // queued output is still delivered
//!         }
//!         c.write_all(&buf[..n])?;     // never WouldBlock: the rest is queued
//!         s.extend(&buf[..n]);
//!         Ok(false)
//!     });
//!
//! let mut c = std::net::TcpStream::connect(&addr).unwrap();
//! let big = vec![7u8; 4 << 20];
//! let reader = c.try_clone().unwrap();
//! let echoed = std::thread::spawn(move || {
//!     let mut back = Vec::new();
//!     reader.take(4 << 20).read_to_end(&mut back).unwrap();
//!     back
//! });
//! c.write_all(&big).unwrap();
//! assert_eq!(echoed.join().unwrap(), big);   // every byte, in order
//! h.terminate();
//! ```
//!
//! # Request/response servers
//!
//! A server that answers requests (HTTP, the Redis protocol, a line
//! protocol) is best written on a [`Driver`]: it reads, hands every
//! unconsumed byte to a protocol closure that answers each complete
//! request and says how much it consumed ([`Step`]), sends the replies,
//! stops reading a client that does not take them, bounds the work per
//! call, closes gracefully, and carries a per-connection
//! [deadline](ProtocolState::deadline). The example servers of the
//! `mio-pool-examples` crate are built on it.
//!
//! # TLS
//!
//! With the cargo feature `tls`, [`tls::TlsAcceptor`] makes each accepted
//! connection a [`tls::TlsStream`] on rustls (`.with_adapter(move |tcp|
//! acceptor.accept(tcp))`): the handshake runs inside the handler's reads,
//! driven by readiness, and the handler reads and writes plaintext under the
//! same contract as on TCP. The [`tls`] module docs have a complete example
//! and what it guarantees (writes are not lost, `close_notify` on close, bad
//! input closes only its own connection, a handshake deadline).
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
//! loop's p99 latency. So a worker that has been on its CPU for 100 µs
//! without sleeping yields it (`sched_yield`) before it polls again, which
//! with nobody waiting costs one cheap system call;
//! [`PoolStats::cpu_yields`] counts them, and
//! [`PoolBuilder::set_yield_after`] changes the interval or switches
//! yielding off. It buys the latency tail with context switches, and it
//! helps most when the threads it makes room for are waiting on the pool
//! (clients on the same host); beside busy work of their own, it costs the
//! pool's connections latency instead (figures in `set_yield_after`).
//!
//! Connections live in a sharded slab: accept and close are O(1), and the
//! cost of an event does not grow with the number of open connections.
//! Tokens carry the slot's generation, so an event of a closed connection
//! never reaches a newer connection that reuses its slot.
//!
//! # Deadlines, the cap and closing
//!
//! A server on the pool alone would keep every connection a client holds
//! open, however long and however many. Three settings bound that:
//!
//! * [`PoolBuilder::set_idle_timeout`]: a connection with neither a
//!   readiness event nor a handler call for that long is closed.
//! * [`Connection::deadline`]: a connection sets and moves its own deadline
//!   (a header deadline, say); the pool asks after every handler call (and
//!   at accept). When it passes, [`Connection::on_deadline`] may queue a last
//!   reply (`408`), then the connection is closed.
//! * [`PoolBuilder::set_max_connections`]: with `n` open, the pool stops
//!   accepting; new clients wait in the kernel's listen backlog, neither
//!   refused nor accepted and closed, and are accepted as connections close.
//!
//! Closing (the handler returned `Ok(true)`, or a deadline passed) calls
//! [`Connection::poll_close`], so a connection that still holds output
//! delivers it first: while it returns `WouldBlock`, the connection stays
//! registered and `poll_close` is called again on each of its events, up to
//! the close timeout ([`PoolBuilder::set_close_timeout`], default 5 s or the
//! idle timeout if shorter). Handler errors and panics close at once.
//! Timeouts of all three kinds are counted in [`PoolStats::timed_out`].
//!
//! ```
//! use std::io::{Read, Write};
//! use std::time::{Duration, Instant};
//! use mio_pool::{Connection, PoolBuilder};
//!
//! /// A session that must send a whole line within 200 ms of its first byte.
//! struct Session {
//!     stream: mio::net::TcpStream,
//!     line_due: Option<Instant>,
//! }
//!
//! impl mio::event::Source for Session {
//!     // ... delegates register, reregister and deregister to `stream`
//! #   fn register(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> std::io::Result<()> {
//! #       self.stream.register(r, t, i)
//! #   }
//! #   fn reregister(&mut self, r: &mio::Registry, t: mio::Token, i: mio::Interest) -> std::io::Result<()> {
//! #       self.stream.reregister(r, t, i)
//! #   }
//! #   fn deregister(&mut self, r: &mio::Registry) -> std::io::Result<()> {
//! #       self.stream.deregister(r)
//! #   }
//! }
//!
//! impl Connection for Session {
//!     fn deadline(&self) -> Option<Instant> {
//!         self.line_due
//!     }
//!     fn on_deadline(&mut self) {
//!         let _ = self.stream.write_all(b"too slow\n"); // a few bytes: they fit
//!     }
//! }
//!
//! let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
//! let addr = server.local_addr().unwrap();
//! let pool = PoolBuilder::from(server)
//!     .unwrap()
//!     .set_idle_timeout(Duration::from_secs(60))
//!     .set_max_connections(1000)
//!     .with_adapter(|stream| Session { stream, line_due: None })
//!     .run_stateless(1, |s: &mut Session| {
//!         let mut buf = [0u8; 1024];
//!         let n = s.stream.read(&mut buf)?;
//!         if n == 0 {
//!             return Ok(true);
//!         }
//!         if buf[..n].contains(&b'\n') {
//!             s.line_due = None; // a whole line: no deadline until the next
//!         } else {
//!             s.line_due.get_or_insert(Instant::now() + Duration::from_millis(200));
//!         }
//!         Ok(false)
//!     });
//!
//! let mut slow = std::net::TcpStream::connect(addr).unwrap();
//! slow.write_all(b"half a li").unwrap();
//! let mut reply = String::new();
//! slow.read_to_string(&mut reply).unwrap(); // until the pool closes it
//! assert_eq!(reply, "too slow\n");
//! assert_eq!(pool.stats().timed_out, 1);
//! pool.terminate();
//! ```
//!
//! A connection goes through these states:
//!
//! | state     | an event makes the pool        | its deadline passing makes the pool                  |
//! |-----------|--------------------------------|------------------------------------------------------|
//! | open      | call the handler               | call `on_deadline`, then close                       |
//! | closing   | call `poll_close` again        | drop it                                              |
//! | closed    | nothing                        | nothing                                              |
//!
//! Guaranteed:
//!
//! * A deadline never fires early. The idle timeout fires at most an eighth
//!   of its length late, and a connection's own deadline at most 100 ms
//!   late (two ticks of the pool's timer wheel, whose tick is a sixteenth of
//!   the shortest pool-wide timeout, between 1 and 50 ms), plus however late
//!   a busy worker gets to it: within a quarter of any deadline of 400 ms or
//!   more.
//! * No hook runs while the handler runs on the same connection, and
//!   `on_deadline` runs once.
//! * [`PoolStats::open`] never exceeds the cap; connections that are
//!   closing count as open.
//! * Cost: with no deadline set, nothing per event beyond a call of
//!   `Connection::deadline`; with one, O(1) per event (a store, and a
//!   timer-wheel insert only when a deadline moves earlier), and one word
//!   (8 bytes) per connection for its state and timers. No extra
//!   thread and no extra system call per event: the workers' poll timeout
//!   carries the next expiry, and whichever worker wakes first sweeps.
//!
//! Not guaranteed:
//!
//! * How long clients wait in the backlog, nor how many: the OS bounds the
//!   backlog (`somaxconn`), and beyond it drops handshakes for the client to
//!   retry.
//! * That a closing connection delivers everything: the close timeout cuts
//!   it off, and the peer may see a reset.
//! * Sub-tick precision: deadlines shorter than about 400 ms may fire up to
//!   two ticks late, more than a quarter of their length.
//! * The bounds above with a pool-wide timeout of more than 77 days: the
//!   pool keeps each connection's timers in one 8-byte word, whose ticks
//!   count to 2^27 per timeout, so such a pool's ticks are coarser than
//!   50 ms (a 2^27th of its longest timeout). Deadlines still never fire
//!   early.
//!
//! # Changes from 0.5 in the connection type
//!
//! The handler's connection type (the listener's, or what
//! [`with_adapter`](PoolBuilder::with_adapter) makes) must implement
//! [`Connection`], not just `mio::event::Source`. mio's `TcpStream` and
//! `UnixStream` do; for a type of your own that needs none of the hooks,
//! add `impl mio_pool::Connection for MyType {}`.
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
//! * On a [`Buffered`] or a [`Driver`], nothing written is lost: what the
//!   socket does not take is queued and sent in order, also after the
//!   handler closes the connection (the pool sends it through
//!   [`Connection::poll_close`] before closing). A client that does not
//!   read its replies is not read from either once more than the
//!   high-water mark (1 MiB by default) is queued for it. Neither holds a
//!   heap buffer while idle.
//!
//! # Not guaranteed
//!
//! * Which worker serves a connection, or that work is spread evenly: a
//!   worker keeps what it has while it keeps up, because waking another
//!   thread costs more than most handlers.
//! * Per-worker state after a handler panic is whatever the handler left.
//! * A [`Buffered`] handler that writes without reading can queue without
//!   bound; the high-water mark only stops reading. A [`Driver`] protocol
//!   bounds its output by checking the backlog before each request.
//! * A handler that blocks holds its worker (and, for up to the poller's
//!   hand-off delay of about a millisecond, events that the worker would have
//!   picked up next). Do not block in handlers.
//! * What a slow handler call costs its neighbours (CPU work counts as much
//!   as blocking): the other connections in the batch of events its worker
//!   took from the poller (up to
//!   [`PoolBuilder::set_events_per_poll`], 32 by default) wait for the
//!   whole call; connections that become ready meanwhile go to the other
//!   workers. With every worker in a slow call, everybody waits. That last
//!   part is what a pool buys over one event loop per thread, where a
//!   connection is tied to its loop for life and waits for every slow call
//!   made there. In the benchmark's uneven-work scenario (2 workers, 64
//!   connections, one request in 100 spinning 1 ms of CPU) the cheap
//!   requests' p99 was 0.62-0.65x tokio's and 0.24-0.28x that of one
//!   event loop per worker with `SO_REUSEPORT` listeners, in seven runs on
//!   an idle machine (see `BENCHMARKS.md`). Taking 4 or 1 events per poll
//!   instead of 32 measured the same: what the cheap requests wait for is
//!   mostly CPU (at 80k round trips/s the slow calls take 0.8 of the
//!   machine's 2 cores), not a place in a batch.

#![forbid(unsafe_code)]
#![deny(missing_docs, missing_debug_implementations)]
#![doc(test(attr(deny(warnings))))]

#[macro_use]
mod delegate;
mod buffered;
mod builder;
mod connection;
mod conns;
mod driver;
mod handle;
mod listener;
#[cfg(test)]
mod script;
mod shutdown;
mod stats;
mod sync;
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls;
mod worker;

pub use buffered::{Buffered, DEFAULT_HIGH_WATER_MARK};
pub use builder::{PoolBuilder, RunError};
pub use connection::Connection;
pub use driver::{
    Driver, ProtocolState, Step, DEFAULT_OUTPUT_LIMIT, MAX_LINGER, MAX_READS_PER_CALL, READ_CHUNK,
};
pub use handle::PoolHandle;
pub use listener::Listener;
/// An implementation of a `Poll` interface very similar to that of
/// `mio::Poll`, that many threads may call at once: the `mio-pool-poll`
/// crate.
pub use mio_pool_poll as poll;
pub use shutdown::ShutdownWrite;
pub use stats::{PoolStats, StatsHandle};

/// The README's example, run as a doctest so that it cannot drift.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
