//! Project automation, in the cargo-xtask style: one binary, one module per
//! subcommand, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: what CI runs (format, lints, tests, packaging, ...;
//!   `--help` lists the steps).
//! - `cargo xtask bench [--quick]`: mio-pool against tokio, a thread per
//!   connection and a bare mio loop, side by side (see [`mod@bench`]).
//! - `cargo xtask soak [--secs N] [--quick]`: the `http` and `kv` examples
//!   under well-behaved and hostile clients; nothing may be lost (see
//!   [`soak`]).
//! - `cargo xtask peer {tokio|threads|bare-mio}`: the peer echo servers that
//!   the benchmark runs (see [`peer`]).
//!
//! Kept light: the `cargo xtask` alias builds without the `bench` feature,
//! so `ci` and `soak` compile only clap and libc. The benchmark and the peers need
//! tokio, plotters and hdrhistogram: `bench` and `peer` build the release
//! binary with the feature and hand over to it ([`workspace`]).

// The light build compiles the shared helpers without the benchmark that
// uses most of them.
#![cfg_attr(not(feature = "bench"), allow(dead_code, unused_imports))]

mod bench;
mod ci;
// The examples' `listening on ADDR` line, written by the peers and read by
// `process::server`: the examples' own file, compiled here too so that
// xtask needs no dependency on the examples' crate.
#[path = "../../mio-pool-examples/src/listening.rs"]
#[cfg_attr(not(feature = "bench"), allow(dead_code))] // only the peers write it
mod listening;
mod peer;
mod process;
mod soak;
mod workspace;

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
    #[command(after_help = bench::AFTER_HELP)]
    Bench(bench::BenchArgs),
    /// Soak the http and kv examples with good and hostile clients; fails if a reply is lost or wrong.
    Soak(soak::SoakArgs),
    /// Run one of the peer echo servers that the benchmark compares against.
    Peer(peer::PeerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Ci => ci::run(),
        Command::Bench(args) => bench::run(&args),
        Command::Soak(args) => soak::run(&args),
        Command::Peer(args) => run_peer(&args),
    }
}

/// Runs a peer server here, or (light build) in the release xtask.
fn run_peer(args: &peer::PeerArgs) -> ExitCode {
    #[cfg(feature = "bench")]
    {
        match peer::run(args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask peer {}: {e}", args.kind.name());
                ExitCode::FAILURE
            }
        }
    }
    #[cfg(not(feature = "bench"))]
    {
        let _ = args;
        match workspace::Workspace::locate() {
            Ok(ws) => ws.hand_over(false),
            Err(e) => {
                eprintln!("xtask peer: {e}");
                ExitCode::FAILURE
            }
        }
    }
}
