//! `cargo xtask peer`: the echo servers that the benchmark holds mio-pool against.
//!
//! Each peer does the same work as the `echo` example (write back every byte
//! it reads) and speaks the same command line: `--addr HOST:PORT --workers N`,
//! then `listening on ADDR` on stdout once it accepts connections, with the
//! real address (so `127.0.0.1:0` works). They live here, not in the examples,
//! so that no example carries a competitor.
//!
//! | peer | design | `--workers` |
//! |---|---|---|
//! | `tokio` | tokio multi-thread runtime, one task per connection | runtime worker threads |
//! | `threads` | one OS thread per connection, blocking std I/O | ignored |
//! | `bare-mio` | one thread, one `mio::Poll`, read until `WouldBlock`, write back | ignored (always 1) |
//! | `tokio-rustls` | `tokio`, each connection in tokio-rustls (`--tls-cert`, `--tls-key`) | runtime worker threads |
//! | `per-worker` | one bare mio loop per worker, each with its own `SO_REUSEPORT` listener (what nginx and thread-per-core runtimes do) | loops |
//!
//! With `--requests`, every peer but `tokio-rustls` answers by the bench request rule of
//! [`requests`] (64-byte requests; `S` spins 1 ms, `L` asks for a large
//! reply) instead of echoing bytes as they come.

#[cfg(feature = "bench")]
mod bare_mio;
#[cfg(feature = "bench")]
mod per_worker;
#[cfg(feature = "bench")]
pub mod requests;
#[cfg(feature = "bench")]
mod threads;
#[cfg(feature = "bench")]
mod tokio_rt;
#[cfg(feature = "bench")]
mod tokio_tls;

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Size of every peer's per-connection read buffer, in bytes.
///
/// The same for all peers so that memory per connection compares designs,
/// not buffer choices; large enough that a 16 KiB message fits in one read.
pub const BUF_SIZE: usize = 16 * 1024;

/// Which peer server to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PeerKind {
    /// tokio's multi-thread runtime with `--workers` threads, one task per connection.
    Tokio,
    /// One OS thread per connection (std, blocking I/O).
    Threads,
    /// A bare single-thread mio 1.x loop: the per-core cost floor.
    BareMio,
    /// `--workers` bare mio loops, each with its own `SO_REUSEPORT` listener.
    PerWorker,
    /// The tokio peer with every connection in tokio-rustls (ring, TLS 1.3
    /// and 1.2); needs `--tls-cert` and `--tls-key`.
    TokioRustls,
}

impl PeerKind {
    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            PeerKind::Tokio => "tokio",
            PeerKind::Threads => "threads",
            PeerKind::BareMio => "bare-mio",
            PeerKind::PerWorker => "per-worker",
            PeerKind::TokioRustls => "tokio-rustls",
        }
    }
}

/// Command line of `cargo xtask peer`.
#[derive(Debug, clap::Args)]
pub struct PeerArgs {
    /// Which server to run.
    #[arg(value_enum)]
    pub kind: PeerKind,
    /// Address to listen on; port 0 picks a free port (printed on stdout).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub addr: SocketAddr,
    /// Worker threads (tokio and per-worker; the others have fixed threading).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Answer by the bench request rule (64-byte requests; see `requests`)
    /// instead of echoing.
    #[arg(long)]
    pub requests: bool,
    /// PEM certificate chain (tokio-rustls only).
    #[arg(long, requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert` (tokio-rustls only).
    #[arg(long, requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
}

/// Runs the chosen peer until the process is killed.
#[cfg(feature = "bench")]
pub fn run(args: &PeerArgs) -> io::Result<()> {
    let requests = args.requests;
    match args.kind {
        PeerKind::Tokio => tokio_rt::serve(args.addr, args.workers.max(1), requests),
        PeerKind::Threads => threads::serve(args.addr, requests),
        PeerKind::BareMio => bare_mio::serve(args.addr, requests),
        PeerKind::PerWorker => per_worker::serve(args.addr, args.workers.max(1), requests),
        PeerKind::TokioRustls => match (&args.tls_cert, &args.tls_key) {
            (Some(cert), Some(key)) => tokio_tls::serve(args.addr, args.workers.max(1), cert, key),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the tokio-rustls peer needs --tls-cert PEM --tls-key PEM",
            )),
        },
    }
}

/// What a peer sends back for `read`, the bytes it just read: those bytes
/// themselves (echo), or with `--requests` the answers to the whole
/// requests they complete.
#[cfg(feature = "bench")]
fn reply<'a>(answerer: &'a mut Option<requests::Answerer>, read: &'a [u8]) -> &'a [u8] {
    match answerer {
        Some(a) => a.reply(read),
        None => read,
    }
}

/// Prints `listening on ADDR` on stdout and flushes it: the readiness line
/// that `cargo xtask bench` waits for.
#[cfg(feature = "bench")]
fn announce(addr: SocketAddr) -> io::Result<()> {
    crate::listening::write_listening_line(&mut io::stdout().lock(), addr)
}
