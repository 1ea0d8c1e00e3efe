//! [`PoolBuilder`]: configure a pool, then run it.

use std::fmt;
use std::io;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use mio::Interest;
use mio_pool_poll::Poll;

use crate::connection::Connection;
use crate::conns::LISTENER;
use crate::handle::{Control, PoolHandle};
use crate::listener::Listener;
use crate::stats::{Counters, StatsHandle};
use crate::worker::{Adapter, Alive, Limits, Pool, Tuning};

/// Why a pool could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// `run` was asked for zero workers; a pool needs at least one.
    #[error("a pool needs at least one worker thread, got 0")]
    NoWorkers,
    /// The OS refused to start a worker thread; the workers started before
    /// it have been stopped again.
    #[error("could not spawn worker thread {index}: {source}")]
    Spawn {
        /// Index of the worker that failed to start.
        index: usize,
        /// What the OS said.
        #[source]
        source: io::Error,
    },
}

/// Used to configure a pool before launching it.
///
/// `L` is the listener, `C` the connection type the handler sees (the
/// listener's own, or what [`with_adapter`](PoolBuilder::with_adapter)
/// makes of it), `S` each worker's state and `R` what each worker returns
/// at the end. See the [crate docs](crate) for an example.
pub struct PoolBuilder<L: Listener, C, S, R> {
    base: Base<L>,
    state: S,
    finalize: Arc<dyn Fn(S) -> R + Send + Sync>,
    adapter: Adapter<L::Connection, C>,
}

/// The parts of a [`PoolBuilder`] whose types do not change as it is
/// configured, moved whole from one builder type to the next.
struct Base<L> {
    listener: L,
    poll: Poll,
    thread_name_prefix: String,
    tuning: Tuning,
    limits: Limits,
    counters: Arc<Counters>,
}

impl<L: Listener> PoolBuilder<L, L::Connection, (), ()> {
    /// Prepares a pool that will accept connections from `listener`.
    ///
    /// The listener should be non-blocking, as mio's listeners are.
    ///
    /// # Errors
    ///
    /// The OS refused to create the poller or to register the listener with
    /// it (for example, the process is out of file descriptors).
    #[allow(clippy::should_implement_trait)] // the name the original crate used
    pub fn from(mut listener: L) -> io::Result<Self> {
        let poll = Poll::new()?;
        poll.register(&mut listener, LISTENER, Interest::READABLE)?;
        Ok(PoolBuilder {
            base: Base {
                listener,
                poll,
                thread_name_prefix: "pool-".to_owned(),
                tuning: Tuning::default(),
                limits: Limits::default(),
                counters: Arc::default(),
            },
            state: (),
            finalize: Arc::new(|()| ()),
            adapter: Arc::new(|c| c),
        })
    }
}

impl<L: Listener, C, S, R> PoolBuilder<L, C, S, R> {
    /// Gives each worker a clone of `state`; the handler gets the worker's
    /// own clone as its second argument, mutable and never shared.
    pub fn with_state<S2>(self, state: S2) -> PoolBuilder<L, C, S2, ()>
    where
        S2: Clone + Send + 'static,
    {
        PoolBuilder {
            base: self.base,
            state,
            finalize: Arc::new(|_| ()),
            adapter: self.adapter,
        }
    }

    /// Maps each worker's final state to what the [`PoolHandle`] returns
    /// for that worker when the pool ends.
    pub fn and_return<R2, F>(self, finalize: F) -> PoolBuilder<L, C, S, R2>
    where
        F: Fn(S) -> R2 + Send + Sync + 'static,
    {
        PoolBuilder {
            base: self.base,
            state: self.state,
            finalize: Arc::new(finalize),
            adapter: self.adapter,
        }
    }

    /// Turns each accepted connection into the type the handler works on
    /// (a buffered wrapper, a protocol session, ...) before it is
    /// registered. The new type needs [`Connection`] (for a type that
    /// holds no output of its own and has no deadline, delegate
    /// `mio::event::Source` to the inner stream and write
    /// `impl mio_pool::Connection for MyType {}`), `Send` and `'static`.
    ///
    /// The adapter is also the place for socket options. A
    /// request/response protocol that writes each reply whole wants
    /// `TCP_NODELAY` (`tcp.set_nodelay(true)`), as nginx and redis-server
    /// set it: with Nagle's algorithm a reply waits while the previous one
    /// is unacknowledged, and the client's ACK may wait for its next
    /// request. The pool leaves the accepted socket as the listener gave it.
    ///
    /// If the adapter panics, that connection is dropped and the panic is
    /// logged and counted in [`PoolStats::panics`](crate::PoolStats::panics);
    /// the worker lives on and accepting goes on.
    pub fn with_adapter<NC, F>(self, adapter: F) -> PoolBuilder<L, NC, S, R>
    where
        F: Fn(L::Connection) -> NC + Send + Sync + 'static,
        NC: Connection + Send + 'static,
    {
        PoolBuilder {
            base: self.base,
            state: self.state,
            finalize: self.finalize,
            adapter: Arc::new(adapter),
        }
    }

    /// Names the worker threads `prefix` followed by their index (default:
    /// `pool-0`, `pool-1`, ...).
    pub fn set_thread_name_prefix(mut self, prefix: &str) -> Self {
        prefix.clone_into(&mut self.base.thread_name_prefix);
        self
    }

    /// How many ready connections a worker takes from the poller at a time
    /// (default 32, at least 1). When more are ready at once, the surplus
    /// wakes another worker. Smaller values spread bursts over the workers
    /// sooner, which can shorten the latency tail on machines with many
    /// cores, at the price of more thread wake-ups; larger values keep work
    /// on the threads that are already awake.
    pub fn set_events_per_poll(mut self, n: usize) -> Self {
        self.base.tuning.events_per_poll = n.max(1);
        self
    }

    /// How long a worker may run without sleeping before it yields its CPU
    /// (`sched_yield`) ahead of its next poll; `None` switches yielding off.
    /// Default: 100 µs.
    ///
    /// A worker that always finds work never sleeps, so another runnable
    /// thread on its CPU (a client on the same host, another part of the
    /// application) could otherwise wait for the scheduler's tick, 4 ms at
    /// 250 Hz. Yielding bounds that wait, at the price of more context
    /// switches. In the benchmark (2 cores shared with the load generator),
    /// against no yield at 64 connections: p99 0.2x, round trips and CPU
    /// within 5%, context switches per round trip 0.13 instead of 0.02; and
    /// 64 KiB replies moved 1.4x the MiB/s, because the reader of a reply
    /// gets to run while its data is still in the cache. The default was
    /// 1 ms until 0.6's benchmarks on an AMD EPYC: 100 µs halved the p99 at
    /// 64 connections and closed a 64 KiB gap to tokio, for more context
    /// switches and perhaps a few percent of round trips at 512
    /// connections and more (`BENCHMARKS.md`).
    ///
    /// Who gains depends on what the other threads on the workers' CPUs
    /// do. If they wait on the pool (clients on the same host, threads the
    /// handlers hand work to), a yield lets them take their replies sooner,
    /// which is where the figures above come from. If they are busy with
    /// work of their own, a yield hands them the CPU for up to their
    /// scheduler slice while the pool's ready connections wait: against a
    /// load generator that sends on a timer whatever the replies do, at
    /// 50% of tokio's peak on the same 2 cores, p99 was 1.04-3.2x and p50
    /// 1.4-1.8x what they were with the yield off (six runs), and with it
    /// off mio-pool's p99 was 0.8-1.2x tokio's. So switch it off when the
    /// workers share their cores with busy, independent work, when they
    /// have cores to themselves (it then only costs the system call), or
    /// when context switches matter more than the latency tail; measure with
    /// [`PoolStats::cpu_yields`](crate::PoolStats::cpu_yields), which counts
    /// the yields.
    pub fn set_yield_after(mut self, after: Option<Duration>) -> Self {
        self.base.tuning.yield_after = after;
        self
    }

    /// Closes a connection that has had neither a readiness event nor a
    /// handler call for `timeout`, and counts it in
    /// [`PoolStats::timed_out`](crate::PoolStats::timed_out). The
    /// connection is closed as after `Ok(true)`: its
    /// [`on_deadline`](Connection::on_deadline) runs first, then
    /// [`poll_close`](Connection::poll_close) may deliver what it still
    /// holds. Default: none; `Duration::ZERO` switches it off again.
    ///
    /// It closes no earlier than `timeout` after the last event, and at most
    /// an eighth of `timeout` later (plus however late a busy worker gets
    /// to it): the pool keeps deadlines in a timer wheel whose tick is a
    /// sixteenth of the shortest pool-wide timeout (between 1 and 50 ms).
    /// An idle connection costs no CPU; an active one a store per event.
    /// See "Deadlines, the cap and closing" in the [crate docs](crate).
    pub fn set_idle_timeout(mut self, timeout: Duration) -> Self {
        self.base.limits.idle_timeout = (!timeout.is_zero()).then_some(timeout);
        self
    }

    /// How long a connection may take to close once its handler returned
    /// `Ok(true)` or a deadline passed: while its
    /// [`poll_close`](Connection::poll_close) returns `WouldBlock` (output
    /// still queued for a slow reader, say), the pool calls it again on
    /// each event, and drops the connection when this runs out (counted in
    /// [`PoolStats::timed_out`](crate::PoolStats::timed_out)). Default: 5 s,
    /// or the idle timeout if that is shorter. `Duration::ZERO`: one try.
    pub fn set_close_timeout(mut self, timeout: Duration) -> Self {
        self.base.limits.close_timeout = Some(timeout);
        self
    }

    /// At most `n` connections open at once: with `n` open, the pool stops
    /// accepting, and new clients wait in the kernel's listen backlog
    /// (neither refused nor accepted and closed) until a connection closes;
    /// then they are accepted in order. [`PoolStats::open`](crate::PoolStats::open)
    /// never exceeds `n`. Connections that are closing count as open.
    /// Default: no cap; `0` switches it off again.
    ///
    /// What waits in the backlog is up to the OS: the listener's backlog
    /// size bounds it (Linux: `somaxconn`, 4096 by default), and beyond
    /// it new clients' handshakes are dropped and retried by their TCP.
    pub fn set_max_connections(mut self, n: usize) -> Self {
        self.base.limits.max_connections = (n > 0).then_some(n);
        self
    }

    /// A view of the pool's counters, available before the pool runs so
    /// that the handler can capture it.
    pub fn stats_handle(&self) -> StatsHandle {
        StatsHandle::new(self.base.counters.clone())
    }

    /// Starts `workers` threads that accept connections and call `on_ready`
    /// whenever a connection may have data (or room to write).
    ///
    /// What the handler returns decides what happens next:
    ///
    /// | returns              | the pool                                                  |
    /// |----------------------|-----------------------------------------------------------|
    /// | `Ok(false)`          | calls it again: there may be more                          |
    /// | `Err(WouldBlock)`    | re-arms the connection; calls it again when it is ready    |
    /// | `Err(Interrupted)`   | calls it again                                             |
    /// | `Ok(true)`           | closes it: `poll_close`, then deregisters and drops it     |
    /// | any other `Err`      | counts a handler error, closes the connection             |
    /// | panics               | counts a panic, closes the connection; the worker lives on |
    ///
    /// Connections are registered readable *and* writable, and readiness is
    /// edge-triggered: a handler must keep going (return `Ok(false)`) until
    /// an operation returns `WouldBlock`, or data already received may sit
    /// unread. One shortcut is allowed: after a read that returned fewer
    /// bytes than the buffer held, a handler of a stream socket may return
    /// `Err(WouldBlock)` itself, skipping the read that would say so (the
    /// next bytes to arrive raise a new edge). That saves a system call per
    /// event; the pool calls once more if the event also reported a hang-up,
    /// so an end of stream that came with the data is not missed. After 32 calls in a row for one connection, it goes back
    /// behind the other ready connections, so one busy client cannot starve
    /// the rest.
    ///
    /// A connection is never handed to two workers at once.
    ///
    /// # Panics
    ///
    /// If `workers` is 0 or a thread cannot be spawned; see
    /// [`try_run`](PoolBuilder::try_run) to get those as errors.
    pub fn run<E>(self, workers: usize, on_ready: E) -> PoolHandle<R>
    where
        E: Fn(&mut C, &mut S) -> io::Result<bool> + Send + Sync + 'static,
        C: Connection + Send + 'static,
        S: Clone + Send + 'static,
        R: Send + 'static,
    {
        self.try_run(workers, on_ready)
            .unwrap_or_else(|e| panic!("mio-pool: {e}"))
    }

    /// Like [`run`](PoolBuilder::run), for handlers without per-worker state.
    ///
    /// # Panics
    ///
    /// As [`run`](PoolBuilder::run).
    pub fn run_stateless<E>(self, workers: usize, on_ready: E) -> PoolHandle<R>
    where
        E: Fn(&mut C) -> io::Result<bool> + Send + Sync + 'static,
        C: Connection + Send + 'static,
        S: Clone + Send + 'static,
        R: Send + 'static,
    {
        self.run(workers, move |c: &mut C, _: &mut S| on_ready(c))
    }

    /// Like [`run`](PoolBuilder::run), but returns an error instead of
    /// panicking.
    ///
    /// # Errors
    ///
    /// [`RunError::NoWorkers`] for `workers == 0`; [`RunError::Spawn`] if
    /// the OS refused a thread.
    pub fn try_run<E>(self, workers: usize, on_ready: E) -> Result<PoolHandle<R>, RunError>
    where
        E: Fn(&mut C, &mut S) -> io::Result<bool> + Send + Sync + 'static,
        C: Connection + Send + 'static,
        S: Clone + Send + 'static,
        R: Send + 'static,
    {
        if workers == 0 {
            return Err(RunError::NoWorkers);
        }
        let Base {
            listener,
            poll,
            thread_name_prefix,
            tuning,
            limits,
            counters,
        } = self.base;
        let pool = Arc::new(Pool::new(
            poll,
            listener,
            self.adapter,
            on_ready,
            counters.clone(),
            tuning,
            limits,
        ));
        let control: Arc<dyn Control> = pool.clone();
        let mut handle = PoolHandle {
            control,
            workers: Vec::with_capacity(workers),
            counters,
        };
        for index in 0..workers {
            let pool = pool.clone();
            let mut state = self.state.clone();
            let finalize = self.finalize.clone();
            let alive = Alive::new(&pool);
            let spawned = thread::Builder::new()
                .name(format!("{thread_name_prefix}{index}"))
                .spawn(move || {
                    let _alive = alive;
                    pool.work(&mut state);
                    finalize(state)
                });
            match spawned {
                Ok(worker) => handle.workers.push(worker),
                // Dropping `handle` stops the workers already started.
                Err(source) => return Err(RunError::Spawn { index, source }),
            }
        }
        Ok(handle)
    }
}

impl<L: Listener, C, S, R> fmt::Debug for PoolBuilder<L, C, S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("poll", &self.base.poll)
            .field("thread_name_prefix", &self.base.thread_name_prefix)
            .field("events_per_poll", &self.base.tuning.events_per_poll)
            .field("yield_after", &self.base.tuning.yield_after)
            .field("limits", &self.base.limits)
            .finish_non_exhaustive()
    }
}
