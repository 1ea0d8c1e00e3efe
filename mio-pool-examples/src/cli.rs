//! What every example binary shares outside the pool: command-line options,
//! logging set-up, the `listening on` line, and waiting for a shutdown
//! signal.

use std::io::{self, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::time::Duration;

use clap::{Arg, Command};

/// The options of an example server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// The address to listen on (`--addr HOST:PORT`, resolved).
    pub addr: SocketAddr,
    /// The number of worker threads (`--workers N`; default: the number of
    /// CPUs).
    pub workers: NonZeroUsize,
    /// How long open connections get to finish after SIGINT or SIGTERM
    /// (`--grace-secs N`; default: [`DEFAULT_GRACE_SECS`]).
    pub grace: Duration,
    /// How long a worker runs without sleeping before it yields its CPU
    /// (`--yield-after-us N`, or `off`; default: the pool's, 1 ms). See
    /// `PoolBuilder::set_yield_after`.
    pub yield_after: Option<Duration>,
}

/// The most worker threads `--workers` accepts. The pool's workers are
/// busy only while handlers run, so more threads than a few per CPU only add
/// context switches; far more than this exhausts the process's threads or
/// memory (each thread has its own stack) and used to abort the process.
pub const MAX_WORKERS: usize = 1024;

/// The default of `--grace-secs`.
pub const DEFAULT_GRACE_SECS: u64 = 3;

/// The clap command of a server called `name`, described by `about`,
/// listening on `default_addr` unless told otherwise.
pub fn command(name: &'static str, about: &'static str, default_addr: &'static str) -> Command {
    Command::new(name)
        .about(about)
        .arg(
            Arg::new("addr")
                .long("addr")
                .value_name("HOST:PORT")
                .help("Address to listen on; port 0 picks a free port")
                .default_value(default_addr)
                .value_parser(resolve),
        )
        .arg(
            Arg::new("workers")
                .long("workers")
                .value_name("N")
                .help("Worker threads, 1 to 1024 [default: the number of CPUs]")
                .value_parser(workers),
        )
        .arg(
            Arg::new("grace-secs")
                .long("grace-secs")
                .value_name("N")
                .help("On SIGINT/SIGTERM, seconds to let open connections finish")
                // Kept equal to DEFAULT_GRACE_SECS by a unit test.
                .default_value("3")
                .value_parser(clap::value_parser!(u64)),
        )
        .arg(
            Arg::new("yield-after-us")
                .long("yield-after-us")
                .value_name("N|off")
                .help(
                    "Microseconds a busy worker runs without sleeping before it \
                     yields its CPU; `off` never yields",
                )
                .default_value("1000")
                .value_parser(yield_after),
        )
}

fn workers(s: &str) -> Result<NonZeroUsize, String> {
    let n: NonZeroUsize = s
        .parse()
        .map_err(|_| format!("{s:?} is not a number of threads from 1 to {MAX_WORKERS}"))?;
    if n.get() > MAX_WORKERS {
        return Err(format!(
            "{n} is too many worker threads: at most {MAX_WORKERS} (a few per CPU is plenty)"
        ));
    }
    Ok(n)
}

fn yield_after(s: &str) -> Result<Option<Duration>, String> {
    if s == "off" {
        return Ok(None);
    }
    s.parse::<u64>()
        .map(|us| Some(Duration::from_micros(us)))
        .map_err(|_| format!("{s:?} is neither a number of microseconds nor `off`"))
}

fn resolve(s: &str) -> Result<SocketAddr, String> {
    s.to_socket_addrs()
        .map_err(|e| format!("cannot resolve {s:?}: {e}"))?
        .next()
        .ok_or_else(|| format!("{s:?} resolves to no address"))
}

/// Parses `args` (the program name first) against [`command`]; on `--help`,
/// `--version` or an error, clap prints and exits.
pub fn parse_from<I, T>(
    name: &'static str,
    about: &'static str,
    default_addr: &'static str,
    args: I,
) -> Options
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    options(&command(name, about, default_addr).get_matches_from(args))
}

/// The [`Options`] in matches of [`command`] (or of a command extended with
/// a binary's own arguments).
pub fn options(m: &clap::ArgMatches) -> Options {
    let addr = *m.get_one::<SocketAddr>("addr").expect("addr has a default");
    let workers = m
        .get_one::<NonZeroUsize>("workers")
        .copied()
        .unwrap_or_else(|| std::thread::available_parallelism().unwrap_or(NonZeroUsize::MIN));
    let grace = *m
        .get_one::<u64>("grace-secs")
        .expect("grace-secs has a default");
    let yield_after = *m
        .get_one::<Option<Duration>>("yield-after-us")
        .expect("yield-after-us has a default");
    Options {
        addr,
        workers,
        grace: Duration::from_secs(grace),
        yield_after,
    }
}

/// [`parse_from`] on the process's arguments.
pub fn parse(name: &'static str, about: &'static str, default_addr: &'static str) -> Options {
    parse_from(name, about, default_addr, std::env::args_os())
}

/// Sets up `env_logger`: the level comes from `RUST_LOG`, `info` by default.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// Prints `listening on ADDR` to standard output and flushes it, so that a
/// parent process reading the line learns the real port.
pub fn announce(addr: SocketAddr) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "listening on {addr}")?;
    out.flush()
}

/// SIGINT and SIGTERM, caught from the moment this is created: the default
/// action (dying with a non-zero status) no longer applies.
#[derive(Debug)]
pub struct ShutdownSignals(signal_hook::iterator::Signals);

impl ShutdownSignals {
    /// Starts catching SIGINT and SIGTERM. Create this before announcing the
    /// address, so that a signal sent right after is handled.
    pub fn install() -> io::Result<ShutdownSignals> {
        use signal_hook::consts::{SIGINT, SIGTERM};
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM]).map(ShutdownSignals)
    }

    /// Blocks (without spinning) until one of the signals arrives; returns
    /// its name.
    pub fn wait(mut self) -> &'static str {
        loop {
            // `forever` yields nothing only if the handle is closed, which
            // nobody does; loop to be safe.
            if let Some(sig) = self.0.forever().next() {
                return signal_hook::low_level::signal_name(sig).unwrap_or("signal");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "srv";

    fn opts(args: &[&str]) -> Options {
        parse_from(
            NAME,
            "test",
            "127.0.0.1:7000",
            std::iter::once(NAME).chain(args.iter().copied()),
        )
    }

    #[test]
    fn defaults_and_overrides() {
        let o = opts(&[]);
        assert_eq!(o.addr, "127.0.0.1:7000".parse().unwrap());
        assert!(o.workers.get() >= 1);
        assert_eq!(o.grace, Duration::from_secs(DEFAULT_GRACE_SECS));
        assert_eq!(o.yield_after, Some(Duration::from_millis(1)));
        assert_eq!(opts(&["--yield-after-us", "off"]).yield_after, None);
        assert_eq!(
            opts(&["--yield-after-us", "250"]).yield_after,
            Some(Duration::from_micros(250))
        );
        let o = opts(&[
            "--addr",
            "127.0.0.1:0",
            "--workers",
            "3",
            "--grace-secs",
            "0",
        ]);
        assert_eq!(o.addr.port(), 0);
        assert_eq!(o.workers.get(), 3);
        assert_eq!(o.grace, Duration::ZERO);
        assert_eq!(opts(&["--addr", "localhost:5"]).addr.port(), 5);
    }

    #[test]
    fn bad_values_are_refused() {
        let cmd = || command(NAME, "test", "127.0.0.1:7000");
        assert!(cmd()
            .try_get_matches_from([NAME, "--workers", "0"])
            .is_err());
        assert!(cmd()
            .try_get_matches_from([NAME, "--addr", "nope"])
            .is_err());
        let too_many = cmd()
            .try_get_matches_from([NAME, "--workers", "100000"])
            .unwrap_err()
            .to_string();
        assert!(too_many.contains("at most 1024"), "{too_many}");
        assert_eq!(opts(&["--workers", "1024"]).workers.get(), MAX_WORKERS);
        assert!(cmd()
            .try_get_matches_from([NAME, "--yield-after-us", "soon"])
            .is_err());
    }
}
