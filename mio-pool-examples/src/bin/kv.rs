//! `kv`: an in-memory key-value server speaking the Redis protocol (RESP2).
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin kv
//! redis-cli -p 6380 SET greeting hello
//! redis-benchmark -p 6380 -t set,get,incr -q
//! ```
//!
//! The data lives in memory only, like `redis-server` without persistence:
//! a restart (SIGHUP included) empties it.

use std::sync::Arc;

use mio_pool_examples::kv::{self, Store};
use mio_pool_examples::{cli, limits, resp, server};

fn main() -> std::process::ExitCode {
    let m = limits::kv_args(cli::command(
        "kv",
        "Key-value server on mio-pool speaking the Redis protocol: redis-cli and redis-benchmark work against it. \
         The data is kept in memory only (like redis-server without persistence): a restart, SIGHUP's included, empties it.",
        "127.0.0.1:6380",
    ))
    .get_matches();
    let opts = cli::options(&m);
    let limits = limits::kv_limits(&m);
    cli::init_logging();
    let store = Arc::new(Store::new());
    let result = server::run(
        "kv",
        &opts,
        |_stats, _draining| store,
        move |conn, store: &mut Arc<Store>| {
            conn.set_output_limit(limits.max_output);
            conn.drive(|parser: &mut resp::Parser, input, out| {
                parser.set_max_request(limits.max_request);
                kv::serve(store, parser, input, out, limits.max_output)
            })
        },
    );
    server::exit_code("kv", result)
}
