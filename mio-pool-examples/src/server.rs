//! Running an example server on a `mio-pool`: bind, start the workers,
//! announce the address, wait for SIGINT/SIGTERM, let open connections
//! finish, exit.

use std::io;

use mio::net::{TcpListener, TcpStream};
use mio_pool::{Driver, PoolBuilder, ProtocolState, StatsHandle};

use crate::cli::{announce, Options, ShutdownSignals};

/// The connection type every example handler works on, with the protocol's
/// per-connection state `P`.
pub type TcpConn<P = ()> = Driver<TcpStream, P>;

/// Serves `opts.addr` with `opts.workers` workers until SIGINT or SIGTERM.
///
/// `make_state` builds the per-worker state (each worker gets a clone) from
/// the pool's counters; `on_ready` is the pool handler, which usually calls
/// [`Driver::drive`] with a protocol function. Prints `listening on ADDR`
/// (the real address, after binding) once the workers run.
///
/// On a signal the pool stops accepting (new clients are refused), open
/// connections get `opts.grace` to close, then the rest are closed and this
/// returns `Ok`.
///
/// # Errors
///
/// Binding, registering or starting the workers failed, or a worker died
/// of a panic outside the handler (handler panics only close their
/// connection and are counted).
pub fn run<S, H, P>(
    name: &str,
    opts: &Options,
    make_state: impl FnOnce(StatsHandle) -> S,
    on_ready: H,
) -> io::Result<()>
where
    S: Clone + Send + 'static,
    H: Fn(&mut TcpConn<P>, &mut S) -> io::Result<bool> + Send + Sync + 'static,
    P: ProtocolState + Default + Send + 'static,
{
    // Catch signals before announcing: one sent right after the line is seen
    // must shut down cleanly, not kill the process.
    let signals = ShutdownSignals::install()?;
    let listener = TcpListener::bind(opts.addr)?;
    let addr = listener.local_addr()?;
    let builder = PoolBuilder::from(listener)?
        .with_adapter(Driver::new)
        .set_thread_name_prefix(&format!("{name}-"))
        .set_yield_after(opts.yield_after);
    let state = make_state(builder.stats_handle());
    let pool = builder
        .with_state(state)
        .try_run(opts.workers.get(), on_ready)
        .map_err(io::Error::other)?;
    log::info!("{name}: {} workers on {addr}", opts.workers);
    announce(addr)?;

    let signal = signals.wait();
    log::info!(
        "{name}: {signal}; refusing new clients, giving {} open connection(s) {:?}",
        pool.stats().open,
        opts.grace
    );
    let results = pool.finish_timeout(opts.grace);
    let died = results.iter().filter(|r| r.is_err()).count();
    if died > 0 {
        return Err(io::Error::other(format!(
            "{died} worker(s) died of a panic outside the handler"
        )));
    }
    log::info!("{name}: stopped");
    Ok(())
}

/// Runs a binary's `main`: [`run`]'s error, if any, is logged and turned
/// into a failure status.
pub fn exit_code(result: io::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            log::error!("{e}");
            std::process::ExitCode::FAILURE
        }
    }
}
