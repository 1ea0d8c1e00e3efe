//! What every example binary shares outside the pool: command-line options,
//! logging set-up, the `listening on` line, and waiting for a shutdown
//! signal.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::num::NonZeroUsize;
use std::os::fd::RawFd;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Arg, Command};

use crate::limits::{self, Limits};

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
    /// (`--yield-after-us N`, or `off`; default: the pool's, 100 µs). See
    /// `PoolBuilder::set_yield_after`.
    pub yield_after: Option<Duration>,
    /// How many ready connections a worker takes from the poller at a time
    /// (`--events-per-poll N`; default: the pool's, 32). See
    /// `PoolBuilder::set_events_per_poll`.
    pub events_per_poll: Option<NonZeroUsize>,
    /// Where the listening socket comes from, the pid file, restarts.
    pub deploy: Deploy,
    /// Serve TLS instead of plain text (`--tls-cert PEM --tls-key PEM`).
    pub tls: Option<TlsOptions>,
    /// Idle and header timeouts and the connection cap (see [`limits`]).
    pub limits: Limits,
}

impl Options {
    /// Offers `protocols` through ALPN when serving TLS.
    pub fn with_alpn(mut self, protocols: &[&[u8]]) -> Options {
        if let Some(tls) = &mut self.tls {
            tls.alpn = protocols.iter().map(|p| p.to_vec()).collect();
        }
        self
    }
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
    let cmd = Command::new(name)
        .about(about)
        .version(env!("CARGO_PKG_VERSION"))
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
                .default_value("100")
                .value_parser(yield_after),
        )
        .arg(
            Arg::new("events-per-poll")
                .long("events-per-poll")
                .value_name("N")
                .help(
                    "Ready connections a worker takes from the poller at a time; \
                     fewer spreads slow requests over the workers sooner [default: 32]",
                )
                .value_parser(clap::value_parser!(NonZeroUsize)),
        );
    limits::args(TlsOptions::args(Deploy::args(cmd)), name)
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

/// [`parse`] with `after_help` printed after the options by `--help`.
pub fn parse_with_help(
    name: &'static str,
    about: &'static str,
    after_help: &'static str,
    default_addr: &'static str,
) -> Options {
    options(
        &command(name, about, default_addr)
            .after_help(after_help)
            .get_matches(),
    )
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
        events_per_poll: m.get_one::<NonZeroUsize>("events-per-poll").copied(),
        deploy: Deploy::from_matches(m),
        tls: TlsOptions::from_matches(m),
        limits: limits::from_matches(m),
    }
}

/// [`parse_from`] on the process's arguments.
pub fn parse(name: &'static str, about: &'static str, default_addr: &'static str) -> Options {
    parse_from(name, about, default_addr, std::env::args_os())
}

// --- running it for real: inherited listeners, restarts, SO_REUSEPORT ---

/// The options about where the listening socket comes from and how the
/// process is replaced; see [`crate::listen`] and [`crate::restart`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Deploy {
    /// `--listen-fd N`: use the listening socket (TCP or Unix) open as fd N
    /// instead of binding `--addr`.
    pub listen_fd: Option<RawFd>,
    /// `--ready-fd N` (set by a restarting predecessor): write one byte to
    /// fd N once serving.
    pub ready_fd: Option<RawFd>,
    /// `--pid-file PATH`: write the process id there once serving; each
    /// successor rewrites it.
    pub pid_file: Option<PathBuf>,
    /// `--reuse-port`: bind `--addr` with `SO_REUSEPORT`.
    pub reuse_port: bool,
}

impl Deploy {
    fn args(cmd: Command) -> Command {
        cmd.arg(
            Arg::new("listen-fd")
                .long("listen-fd")
                .value_name("N")
                .help(
                    "Serve the listening socket (TCP or Unix) open as file descriptor N \
                     instead of binding --addr. Without it, a socket passed by systemd \
                     (LISTEN_FDS, LISTEN_PID) is used if there is one",
                )
                .value_parser(clap::value_parser!(RawFd).range(3..)),
        )
        .arg(
            Arg::new("ready-fd")
                .long("ready-fd")
                .value_name("N")
                .hide(true)
                .help("Write one byte to fd N once serving (set by a restarting predecessor)")
                .value_parser(clap::value_parser!(RawFd).range(3..)),
        )
        .arg(
            Arg::new("pid-file")
                .long("pid-file")
                .value_name("PATH")
                .help("Write the process id to PATH once serving; a restart rewrites it")
                .value_parser(clap::value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("reuse-port")
                .long("reuse-port")
                .action(clap::ArgAction::SetTrue)
                .help(
                    "Bind --addr with SO_REUSEPORT, so several processes share the port; \
                     connections queued on one that stops are reset (restart with SIGHUP instead)",
                ),
        )
        .after_help(
            "On SIGHUP the server starts its successor (same executable path and arguments), \
             hands it the listening socket, and once it is ready stops accepting, finishes \
             open connections within --grace-secs and exits 0. If the successor fails to \
             start, the server logs why and keeps serving.",
        )
    }

    fn from_matches(m: &clap::ArgMatches) -> Deploy {
        Deploy {
            listen_fd: m.get_one::<RawFd>("listen-fd").copied(),
            ready_fd: m.get_one::<RawFd>("ready-fd").copied(),
            pid_file: m.get_one::<PathBuf>("pid-file").cloned(),
            reuse_port: m.get_flag("reuse-port"),
        }
    }
}

/// "1 worker", "4 workers".
///
/// ```
/// assert_eq!(mio_pool_examples::cli::workers_phrase(1), "1 worker");
/// assert_eq!(mio_pool_examples::cli::workers_phrase(4), "4 workers");
/// ```
pub fn workers_phrase(n: usize) -> String {
    if n == 1 {
        "1 worker".to_string()
    } else {
        format!("{n} workers")
    }
}

// --- end of the deploy options ---

/// Sets up `env_logger`: the level comes from `RUST_LOG`, `info` by default.
pub fn init_logging() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
}

/// Prints `listening on ADDR` to standard output and flushes it, so that a
/// parent process reading the line learns the real port. `ADDR` is
/// `HOST:PORT`, or `unix:PATH` for a Unix-domain socket; see
/// [`crate::listening`] for the line's format and its parser.
pub fn announce(addr: impl std::fmt::Display) -> io::Result<()> {
    crate::listening::write_listening_line(&mut io::stdout().lock(), addr)
}

/// SIGINT, SIGTERM and SIGHUP, caught from the moment this is created: the
/// default action (dying with a non-zero status) no longer applies.
#[derive(Debug)]
pub struct ShutdownSignals(signal_hook::iterator::Signals);

impl ShutdownSignals {
    /// Starts catching SIGINT, SIGTERM and SIGHUP. Create this before
    /// announcing the address, so that a signal sent right after is handled.
    pub fn install() -> io::Result<ShutdownSignals> {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).map(ShutdownSignals)
    }

    /// Blocks (without spinning) until one of the signals arrives; returns
    /// its name (`"SIGHUP"`, ...).
    pub fn wait(&mut self) -> &'static str {
        loop {
            // `forever` yields nothing only if the handle is closed, which
            // nobody does; loop to be safe.
            if let Some(sig) = self.0.forever().next() {
                return signal_hook::low_level::signal_name(sig).unwrap_or("signal");
            }
        }
    }
}

/// Where the TLS certificate and key come from, and the ALPN protocols to
/// offer; see [`crate::stream`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsOptions {
    /// PEM file with the certificate chain, leaf first (`--tls-cert`).
    pub cert: PathBuf,
    /// PEM file with the private key: PKCS#8, PKCS#1 or SEC1 (`--tls-key`).
    pub key: PathBuf,
    /// ALPN protocol names the server accepts (the `http` example:
    /// `http/1.1`); empty for none. Set by the binary, not on the command
    /// line.
    pub alpn: Vec<Vec<u8>>,
}

impl TlsOptions {
    /// `--tls-cert` and `--tls-key`: both or neither.
    fn args(cmd: Command) -> Command {
        cmd.arg(
            Arg::new("tls-cert")
                .long("tls-cert")
                .value_name("PEM")
                .help("Serve TLS 1.2 and 1.3 with this certificate chain (PEM, leaf first)")
                .requires("tls-key")
                .value_parser(clap::value_parser!(PathBuf)),
        )
        .arg(
            Arg::new("tls-key")
                .long("tls-key")
                .value_name("PEM")
                .help("The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1)")
                .requires("tls-cert")
                .value_parser(clap::value_parser!(PathBuf)),
        )
    }

    fn from_matches(m: &clap::ArgMatches) -> Option<TlsOptions> {
        Some(TlsOptions {
            cert: m.get_one::<PathBuf>("tls-cert")?.clone(),
            key: m.get_one::<PathBuf>("tls-key")?.clone(),
            alpn: Vec::new(),
        })
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
        assert_eq!(o.yield_after, Some(Duration::from_micros(100)));
        assert_eq!(opts(&["--yield-after-us", "off"]).yield_after, None);
        assert_eq!(
            opts(&["--yield-after-us", "250"]).yield_after,
            Some(Duration::from_micros(250))
        );
        assert_eq!(o.events_per_poll, None, "the pool's default");
        assert_eq!(
            opts(&["--events-per-poll", "4"]).events_per_poll,
            NonZeroUsize::new(4)
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
    fn deploy_options() {
        assert_eq!(opts(&[]).deploy, Deploy::default());
        let d = opts(&[
            "--listen-fd",
            "3",
            "--ready-fd",
            "4",
            "--pid-file",
            "/run/srv.pid",
            "--reuse-port",
        ])
        .deploy;
        assert_eq!(
            d,
            Deploy {
                listen_fd: Some(3),
                ready_fd: Some(4),
                pid_file: Some("/run/srv.pid".into()),
                reuse_port: true,
            }
        );
    }

    #[test]
    fn tls_takes_a_cert_and_a_key() {
        assert_eq!(opts(&[]).tls, None);
        let o = opts(&["--tls-cert", "c.pem", "--tls-key", "k.pem"]).with_alpn(&[b"http/1.1"]);
        let tls = o.tls.expect("TLS options");
        assert_eq!(tls.cert, PathBuf::from("c.pem"));
        assert_eq!(tls.key, PathBuf::from("k.pem"));
        assert_eq!(tls.alpn, vec![b"http/1.1".to_vec()]);
        // One without the other is refused.
        for args in [[NAME, "--tls-cert", "c.pem"], [NAME, "--tls-key", "k.pem"]] {
            let r = command(NAME, "test", "127.0.0.1:7000").try_get_matches_from(args);
            assert!(r.is_err(), "{args:?} was accepted");
        }
    }

    #[test]
    fn bad_values_are_refused() {
        let bad = [
            ["--workers", "0"],
            ["--workers", "100000"],
            ["--addr", "nope"],
            ["--yield-after-us", "soon"],
            ["--events-per-poll", "0"],
            // The standard streams are never a listening socket.
            ["--listen-fd", "2"],
            ["--ready-fd", "x"],
        ];
        for [flag, value] in bad {
            let r =
                command(NAME, "test", "127.0.0.1:7000").try_get_matches_from([NAME, flag, value]);
            assert!(r.is_err(), "{flag} {value} was accepted");
        }
        let too_many = command(NAME, "test", "127.0.0.1:7000")
            .try_get_matches_from([NAME, "--workers", "100000"])
            .unwrap_err()
            .to_string();
        assert!(too_many.contains("at most 1024"), "{too_many}");
        assert_eq!(opts(&["--workers", "1024"]).workers.get(), MAX_WORKERS);
    }
}
