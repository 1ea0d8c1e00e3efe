//! `http`: an HTTP/1.1 server answering `GET /` and `GET /stats`, and
//! echoing bodies sent to `/`.
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin http
//! curl http://127.0.0.1:8080/
//! curl http://127.0.0.1:8080/stats
//! curl --data-binary @file http://127.0.0.1:8080/
//! ```
//!
//! Over TLS (see the README for making a test certificate):
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin http -- --tls-cert cert.pem --tls-key key.pem
//! curl --cacert cert.pem https://localhost:8080/
//! ```

use mio_pool::StatsHandle;
use mio_pool_examples::server::Draining;
use mio_pool_examples::{bounds, cli, http, server};

fn main() -> std::process::ExitCode {
    let m = bounds::http_args(cli::command(
        "http",
        "HTTP/1.1 server on mio-pool: GET / says hello, a body sent to / comes back, \
         GET /stats shows the pool's counters.",
        "127.0.0.1:8080",
    ))
    .get_matches();
    // Over TLS, clients that negotiate ALPN learn it is HTTP/1.1.
    let opts = cli::options(&m).with_alpn(&[b"http/1.1"]);
    let bounds = bounds::http_limits(&m);
    cli::init_logging();
    let header_timeout = opts.limits.header_timeout;
    let result = server::run(
        "http",
        &opts,
        |stats, draining| (stats, draining),
        move |conn, (stats, draining): &mut (StatsHandle, Draining)| {
            conn.set_output_limit(bounds.max_output);
            let result = conn.drive(|session, input, out| {
                http::serve_draining(
                    session,
                    &bounds,
                    input,
                    out,
                    || stats.snapshot(),
                    draining.get(),
                )
            });
            http::Session::update_deadline(conn, header_timeout);
            result
        },
    );
    server::exit_code("http", result)
}
