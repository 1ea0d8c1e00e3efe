//! The `kv` server: a Redis-protocol key-value store shared by all workers.
//!
//! [`Store`] holds the data (sharded locks, lazy expiry); [`execute`] runs
//! one command against it; [`serve`] answers every complete command in a
//! read buffer, in the shape that [`Driver::drive`](mio_pool::Driver::drive)
//! expects:
//!
//! ```
//! use mio_pool_examples::kv::{self, Store};
//!
//! let store = Store::new();
//! let mut out = Vec::new();
//! let step = kv::serve(&store, b"SET n 41\r\nINCR n\r\n*2\r\n$3\r\nGET\r\n$1\r\nn\r\n", &mut out);
//! assert!(!step.close);
//! assert_eq!(out, b"+OK\r\n:42\r\n$2\r\n42\r\n");
//! ```
//!
//! Commands: `PING`, `ECHO`, `GET`, `SET` (with `EX`, `PX`, `NX`, `XX`,
//! `KEEPTTL`, `GET`), `DEL`, `EXISTS`, `INCR`, `DECR`, `INCRBY`, `DECRBY`,
//! `MGET`, `MSET`, `TTL`, `PTTL`, `DBSIZE`, `FLUSHALL`, `SELECT 0`,
//! `COMMAND`, `CONFIG GET`, `QUIT`. Values are strings only.

mod commands;
mod store;

pub use commands::{execute, Outcome};
pub use store::{parse_i64, IncrError, SetOptions, Store, Ttl, SHARDS};

use crate::resp;
use mio_pool::Step;

/// Answers every complete command at the front of `input`, in order,
/// appending the replies to `out`.
///
/// Returns [`Step::close`] after `QUIT`, and after a protocol error (whose
/// error reply is sent first, since the stream cannot be resynchronised).
pub fn serve(store: &Store, input: &[u8], out: &mut Vec<u8>) -> Step {
    let mut used = 0;
    while used < input.len() {
        match resp::parse_command(&input[used..]) {
            Ok(None) => break,
            Ok(Some((args, len))) => {
                used += len;
                if !args.is_empty() && execute(store, &args, out) == Outcome::Close {
                    return Step::close(used);
                }
            }
            Err(e) => {
                log::debug!("closing after {e}");
                resp::error(out, &e.reply());
                return Step::close(input.len());
            }
        }
    }
    Step::keep(used)
}

#[cfg(test)]
mod tests;
