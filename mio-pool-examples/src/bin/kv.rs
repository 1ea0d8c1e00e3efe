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
//!
//! Over TLS (see the README for making a test certificate):
//!
//! ```text
//! cargo run --release -p mio-pool-examples --bin kv -- --tls-cert cert.pem --tls-key key.pem
//! redis-cli -p 6380 --tls --cacert cert.pem PING
//! ```

use std::sync::Arc;

use mio_pool_examples::kv::{self, Store};
use mio_pool_examples::{cli, server};

fn main() -> std::process::ExitCode {
    let opts = cli::parse(
        "kv",
        "Key-value server on mio-pool speaking the Redis protocol: redis-cli and redis-benchmark work against it. \
         The data is kept in memory only (like redis-server without persistence): a restart, SIGHUP's included, empties it.",
        "127.0.0.1:6380",
    );
    cli::init_logging();
    let store = Arc::new(Store::new());
    let result = server::run(
        "kv",
        &opts,
        |_stats, _draining| store,
        |conn, store: &mut Arc<Store>| {
            conn.drive(|_: &mut (), input, out| kv::serve(store, input, out))
        },
    );
    server::exit_code("kv", result)
}
