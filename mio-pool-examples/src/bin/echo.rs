//! `echo`: sends back every byte it receives.
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin echo -- --addr 127.0.0.1:7000
//! ```
//!
//! Over TLS (see the README for making a test certificate):
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin echo -- --tls-cert cert.pem --tls-key key.pem
//! openssl s_client -connect 127.0.0.1:7000 -CAfile cert.pem -quiet
//! ```
//!
//! For `cargo xtask bench` only, `--bench-requests` (a hidden flag, taken
//! out before the common options are parsed) answers 64-byte requests by the rule of `echo::serve_requests`
//! (`S` spins 1 ms of CPU, `L` asks for a large reply) instead of echoing.

use mio_pool_examples::{cli, echo, server};

/// The bench-only flag; see the module docs.
const BENCH_REQUESTS: &str = "--bench-requests";

fn main() -> std::process::ExitCode {
    let mut args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let flag = args.iter().skip(1).position(|a| a == BENCH_REQUESTS);
    if let Some(i) = flag {
        args.remove(i + 1);
    }
    let bench = flag.is_some();
    let opts = cli::parse_from(
        "echo",
        "Echo server on mio-pool: sends back every byte it receives.",
        "127.0.0.1:7000",
        args,
    );
    cli::init_logging();
    let serve = if bench {
        echo::serve_requests
    } else {
        echo::serve
    };
    let result = server::run(
        "echo",
        &opts,
        |_stats, _draining| (),
        move |conn, _: &mut ()| conn.drive(|_: &mut (), input, out| serve(input, out)),
    );
    server::exit_code("echo", result)
}
