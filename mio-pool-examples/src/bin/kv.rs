//! `kv`: a Redis-compatible in-memory cache on mio-pool (RESP2 and RESP3).
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin kv
//! redis-cli -p 6380 SET greeting hello
//! redis-benchmark -p 6380 -q
//! ```
//!
//! The data lives in memory only, like `redis-server` without persistence:
//! a restart (SIGHUP included) empties it.
//!
//! Over TLS (see the README for making a test certificate):
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin kv -- --tls-cert cert.pem --tls-key key.pem
//! redis-cli -p 6380 --tls --cacert cert.pem PING
//! ```

use std::sync::Arc;

use mio_pool_examples::kv::{self, Server, Session};
use mio_pool_examples::server::ServerConn;
use mio_pool_examples::{bounds, cli, server};

/// `--help`'s description: what is supported and what is not.
const ABOUT: &str = "Redis-compatible in-memory cache on mio-pool: redis-cli, redis-benchmark, \
                     redis-py and node-redis work against it with their default settings. The data \
                     is kept in memory only (like redis-server without persistence): a restart, \
                     SIGHUP's included, empties it.";

fn main() -> std::process::ExitCode {
    let m = bounds::kv_args(cli::command("kv", ABOUT, "127.0.0.1:6380").after_help(kv::SUPPORTED))
        .get_matches();
    let opts = cli::options(&m);
    let bounds = bounds::kv_limits(&m);
    cli::init_logging();
    let result = server::run(
        "kv",
        &opts,
        |stats, _draining| {
            let server = Arc::new(Server::new(opts.addr.port()).with_stats(stats));
            if let Err(e) = kv::expiry::spawn(&server) {
                log::error!("no active expiry: {e}");
            }
            server
        },
        move |conn: &mut ServerConn<Session>, server: &mut Arc<Server>| {
            conn.set_output_limit(bounds.max_output);
            conn.drive(|session, input, out| {
                session.set_limits(bounds.max_request, bounds.max_output);
                session.serve(server, input, out)
            })
        },
    );
    server::exit_code("kv", result)
}
