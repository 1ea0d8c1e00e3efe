//! `kv`: an in-memory key-value server speaking the Redis protocol (RESP2).
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin kv
//! redis-cli -p 6380 SET greeting hello
//! redis-benchmark -p 6380 -t set,get,incr -q
//! ```

use std::sync::Arc;

use mio_pool_examples::kv::{self, Store};
use mio_pool_examples::{cli, server};

fn main() -> std::process::ExitCode {
    let opts = cli::parse(
        "kv",
        "Key-value server on mio-pool speaking the Redis protocol: redis-cli and redis-benchmark work against it.",
        "127.0.0.1:6380",
    );
    cli::init_logging();
    let store = Arc::new(Store::new());
    server::exit_code(server::run(
        "kv",
        &opts,
        |_stats| store,
        |conn, store: &mut Arc<Store>| {
            let limit = conn.output_limit();
            conn.drive(|parser, input, out| kv::serve(store, parser, input, out, limit))
        },
    ))
}
