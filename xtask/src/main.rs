//! Project automation, in the cargo-xtask style: one binary, one module per
//! subcommand, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: what CI runs (format, lints, tests, packaging, ...;
//!   `--help` lists the steps).
//! - `cargo xtask bench [--quick]`: mio-pool against tokio, a thread per
//!   connection and a bare mio loop, side by side (see [`mod@bench`]).
//! - `cargo xtask peer {tokio|threads|bare-mio}`: the peer echo servers that
//!   the benchmark runs (see [`peer`]).

mod bench;
mod ci;
mod peer;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Command line of `cargo xtask`.
#[derive(Debug, Parser)]
#[command(
    name = "cargo xtask",
    about = "Project automation for the mio-pool workspace"
)]
struct Cli {
    /// What to do.
    #[command(subcommand)]
    command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
enum Command {
    /// Run what CI runs (.ci/run's steps after installing tools).
    #[command(after_help = ci::steps_help())]
    Ci,
    /// Benchmark mio-pool against its peers and external anchors.
    Bench(bench::BenchArgs),
    /// Run one of the peer echo servers that the benchmark compares against.
    Peer(peer::PeerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Ci => ci::run(),
        Command::Bench(args) => bench::run(&args),
        Command::Peer(args) => match peer::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask peer {}: {e}", args.kind.name());
                ExitCode::FAILURE
            }
        },
    }
}
