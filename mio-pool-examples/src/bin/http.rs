//! `http`: an HTTP/1.1 server answering `GET /` and `GET /stats`.
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin http
//! curl http://127.0.0.1:8080/
//! curl http://127.0.0.1:8080/stats
//! ```
//!
//! Over TLS (see the README for making a test certificate):
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin http -- --tls-cert cert.pem --tls-key key.pem
//! curl --cacert cert.pem https://localhost:8080/
//! ```

use mio_pool::StatsHandle;
use mio_pool_examples::http::HeadDeadline;
use mio_pool_examples::server::Draining;
use mio_pool_examples::{cli, http, server};

fn main() -> std::process::ExitCode {
    let opts = cli::parse(
        "http",
        "HTTP/1.1 server on mio-pool: GET / says hello, GET /stats shows the pool's counters.",
        "127.0.0.1:8080",
    )
    // Over TLS, clients that negotiate ALPN learn it is HTTP/1.1.
    .with_alpn(&[b"http/1.1"]);
    cli::init_logging();
    let header_timeout = opts.limits.header_timeout;
    let result = server::run(
        "http",
        &opts,
        |stats, draining| (stats, draining),
        move |conn, (stats, draining): &mut (StatsHandle, Draining)| {
            let result = conn.drive(|_: &mut HeadDeadline, input, out| {
                http::serve_draining(input, out, || stats.snapshot(), draining.get())
            });
            HeadDeadline::update(conn, header_timeout);
            result
        },
    );
    server::exit_code("http", result)
}
