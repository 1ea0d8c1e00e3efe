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

use mio_pool_examples::{cli, echo, server};

fn main() -> std::process::ExitCode {
    let opts = cli::parse(
        "echo",
        "Echo server on mio-pool: sends back every byte it receives.",
        "127.0.0.1:7000",
    );
    cli::init_logging();
    let result = server::run(
        "echo",
        &opts,
        |_stats, _draining| (),
        |conn, _: &mut ()| conn.drive(|_: &mut (), input, out| echo::serve(input, out)),
    );
    server::exit_code("echo", result)
}
