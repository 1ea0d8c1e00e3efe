//! `http`: an HTTP/1.1 server answering `GET /` and `GET /stats`.
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin http
//! curl http://127.0.0.1:8080/
//! curl http://127.0.0.1:8080/stats
//! ```

use mio_pool::StatsHandle;
use mio_pool_examples::{cli, http, server};

fn main() -> std::process::ExitCode {
    let opts = cli::parse(
        "http",
        "HTTP/1.1 server on mio-pool: GET / says hello, GET /stats shows the pool's counters.",
        "127.0.0.1:8080",
    );
    cli::init_logging();
    server::exit_code(server::run(
        "http",
        &opts,
        |stats| stats,
        |conn, stats: &mut StatsHandle| {
            let limits = http::Limits::default();
            conn.set_output_limit(limits.max_output);
            conn.drive(|session, input, out| {
                http::serve(session, &limits, input, out, || stats.snapshot())
            })
        },
    ))
}
