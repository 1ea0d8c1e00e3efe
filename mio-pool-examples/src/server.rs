//! Running an example server on a `mio-pool`: take or bind the listening
//! socket, start the workers, announce the address, then wait for signals:
//! SIGINT/SIGTERM let open connections finish and exit; SIGHUP hands the
//! socket to a successor first (see [`crate::restart`]).

use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mio_pool::{Driver, Listener, PoolBuilder, ProtocolState, StatsHandle};

use crate::cli::{announce, workers_phrase, Options, ShutdownSignals};
use crate::limits::Limits;
use crate::listen::ServerListener;
use crate::restart::{self, ReadyChannel, Successor};
use crate::stream::{self, Stream};

/// The connection type every example handler works on (TCP or Unix, plain
/// or TLS: see [`Stream`]), with the protocol's per-connection state `P`.
pub type ServerConn<P = ()> = Driver<Stream, P>;

/// Set once the server has stopped accepting and is finishing its open
/// connections (after SIGINT, SIGTERM, or a restart's successor is ready).
/// A protocol that can tell its clients to go (HTTP's `Connection: close`)
/// asks this, so that keep-alive clients move to the successor instead of
/// being cut off when the grace period ends.
#[derive(Debug, Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    /// Whether the server is draining.
    pub fn get(&self) -> bool {
        // Relaxed: a handler that misses the flag by one request only keeps
        // its connection a little longer.
        self.0.load(Ordering::Relaxed)
    }

    fn set(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// The listening socket `opts` asks for: `--listen-fd`, else one passed by
/// systemd, else `--addr` bound here (with `--reuse-port`, `SO_REUSEPORT`).
///
/// # Errors
///
/// The message names the fd or the address.
pub fn listener(opts: &Options) -> io::Result<ServerListener> {
    if let Some(fd) = opts.deploy.listen_fd {
        return ServerListener::from_fd(fd);
    }
    if let Some(l) = ServerListener::from_systemd()? {
        return Ok(l);
    }
    ServerListener::bind(opts.addr, opts.deploy.reuse_port)
}

/// Serves with `opts.workers` workers until SIGINT or SIGTERM, or until a
/// successor started on SIGHUP is ready; in TLS if `opts.tls` says so.
///
/// `make_state` builds the per-worker state (each worker gets a clone) from
/// the pool's counters and the [`Draining`] flag; `on_ready` is the pool
/// handler, which usually calls [`Driver::drive`] with a protocol function.
/// Once the workers run it writes `--pid-file`, prints `listening on ADDR`
/// (the real address), and tells a restarting predecessor it is ready.
///
/// When it stops, the pool stops accepting (with no successor, new clients
/// are refused), open connections get `opts.grace` to close, then the rest
/// are closed and this returns `Ok`.
///
/// # Errors
///
/// Taking or binding the socket, registering, starting the workers, the
/// pid file or the ready notice failed, or a worker died of a panic outside
/// the handler (handler panics only close their connection and are
/// counted).
pub fn run<S, H, P>(
    name: &str,
    opts: &Options,
    make_state: impl FnOnce(StatsHandle, Draining) -> S,
    on_ready: H,
) -> io::Result<()>
where
    S: Clone + Send + 'static,
    H: Fn(&mut ServerConn<P>, &mut S) -> io::Result<bool> + Send + Sync + 'static,
    P: ProtocolState + Default + Send + 'static,
{
    // Inherited fds first, before this process opens any of its own (see
    // `listen::take_fd`).
    let listener = listener(opts)?;
    let ready = ReadyChannel::adopt(opts.deploy.ready_fd)?;
    // Catch signals before announcing: one sent right after the line is seen
    // must be handled, not kill the process.
    let mut signals = ShutdownSignals::install()?;
    // Captured now: argv and the executable's path as this process began.
    let successor = Successor::of_this_process()?;
    let addr = listener.local_addr()?;
    // A copy kept for handing to a successor (close-on-exec, like the
    // original). It is dropped before the pool finishes, so that without a
    // successor new clients are refused, not left queued.
    let handoff: OwnedFd = listener.as_fd().try_clone_to_owned()?;
    let draining = Draining::default();
    // TLS (--tls-cert, --tls-key): a bad certificate or key fails here, at
    // start-up, with the file's name.
    let tls = opts.tls.as_ref().map(stream::acceptor).transpose()?;
    let builder = PoolBuilder::from(listener)?
        .with_adapter(move |socket| Driver::new(Stream::accept(socket, tls.as_ref())))
        .set_thread_name_prefix(&format!("{name}-"))
        .set_yield_after(opts.yield_after);
    let builder = match opts.events_per_poll {
        Some(n) => builder.set_events_per_poll(n.get()),
        None => builder,
    };
    let builder = apply_limits(builder, &opts.limits);
    let state = make_state(builder.stats_handle(), draining.clone());
    let pool = builder
        .with_state(state)
        .try_run(opts.workers.get(), on_ready)
        .map_err(io::Error::other)?;
    // Log lines name the process: around a restart two of them log at once.
    let name = format!("{name}[{}]", std::process::id());
    log::info!("{name}: {} on {addr}", workers_phrase(opts.workers.get()));
    // The pid file first: whoever sees the `listening on` line finds it
    // current.
    if let Some(path) = &opts.deploy.pid_file {
        restart::write_pid_file(path)?;
    }
    announce(&addr)?;
    ready.notify()?;

    let restarted = loop {
        let signal = signals.wait();
        if signal != "SIGHUP" {
            log::info!("{name}: {signal}");
            break false;
        }
        log::info!("{name}: SIGHUP; starting a successor");
        match successor.start(&handoff) {
            Ok(pid) => {
                log::info!("{name}: successor {pid} is ready");
                break true;
            }
            Err(e) => log::error!("{name}: restart failed, still serving: {e}"),
        }
    };
    drop(handoff);
    draining.set();
    log::info!(
        "{name}: refusing new clients{}, giving {} open connection(s) {:?}",
        if restarted {
            " (the successor takes them)"
        } else {
            ""
        },
        pool.stats().open,
        opts.grace
    );
    let results = pool.finish_timeout(opts.grace);
    if let (false, Some(path)) = (restarted, &opts.deploy.pid_file) {
        restart::remove_pid_file(path);
    }
    let died = results.iter().filter(|r| r.is_err()).count();
    if died > 0 {
        return Err(io::Error::other(format!(
            "{died} worker(s) died of a panic outside the handler"
        )));
    }
    log::info!("{name}: stopped");
    Ok(())
}

/// Applies `--idle-timeout` and `--max-connections` to the pool.
fn apply_limits<L: Listener, C, S, R>(
    mut builder: PoolBuilder<L, C, S, R>,
    limits: &Limits,
) -> PoolBuilder<L, C, S, R> {
    if let Some(idle) = limits.idle_timeout {
        builder = builder.set_idle_timeout(idle);
    }
    if let Some(cap) = limits.max_connections {
        builder = builder.set_max_connections(cap);
    }
    builder
}

/// Runs a binary's `main`: [`run`]'s error, if any, is printed to standard
/// error (whatever `RUST_LOG` says) and turned into a failure status.
pub fn exit_code(name: &str, result: io::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{name}: error: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
