//! Project automation, in the cargo-xtask style: one binary, one module per
//! subcommand, run as `cargo xtask <command>`.
//!
//! - `cargo xtask ci`: what CI runs (format, lints, tests).
//! - `cargo xtask peer {tokio|threads|bare-mio}`: the peer echo servers that
//!   the benchmark runs (see [`peer`]).

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
    /// Run what CI runs: fmt --check, clippy -D warnings, test.
    Ci,
    /// Run one of the peer echo servers that the benchmark compares against.
    Peer(peer::PeerArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Ci => ci::run(),
        Command::Peer(args) => match peer::run(&args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("xtask peer {}: {e}", args.kind.name());
                ExitCode::FAILURE
            }
        },
    }
}
