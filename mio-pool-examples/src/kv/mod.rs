//! The `kv` server: a Redis-protocol key-value store shared by all workers.
//!
//! [`Store`] holds the data (sharded locks, lazy expiry); [`execute`] runs
//! one command against it; [`serve`] answers every complete command in a
//! read buffer, in the shape that [`Conn::drive`](crate::conn::Conn::drive)
//! expects:
//!
//! ```
//! use mio_pool_examples::kv::{self, Store};
//! use mio_pool_examples::resp::Parser;
//!
//! let store = Store::new();
//! let mut out = Vec::new();
//! let input = b"SET n 41\r\nINCR n\r\n*2\r\n$3\r\nGET\r\n$1\r\nn\r\n";
//! let step = kv::serve(&store, &mut Parser::new(), input, &mut out, 1 << 20);
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

use crate::conn::Step;
use crate::resp::{self, Parser};

/// The default output limit of a `kv` connection: replies queued at which
/// it stops executing commands until the client reads (Redis closes a
/// normal client only at its hard output limit, unlimited by default, and
/// runs every command it has read first: 9 KB of `GET big` then queues
/// gigabytes). One reply is always queued whole, so a client can make us
/// hold this plus one value.
pub const DEFAULT_OUTPUT_LIMIT: usize = 256 * 1024;

/// Answers every complete command at the front of `input`, in order,
/// appending the replies to `out`. `parser` is the connection's: it keeps
/// its place in a command that has not all arrived.
///
/// Before each command it checks the backlog: once `out` holds
/// `output_limit` bytes or more it stops and leaves the rest of the input
/// unconsumed (see [Pausing on output](crate::conn#pausing-on-output)).
///
/// Returns [`Step::close`] after `QUIT`, and after a protocol error (whose
/// error reply is sent first, since the stream cannot be resynchronised),
/// including a command larger than [`Parser::max_request`].
pub fn serve(
    store: &Store,
    parser: &mut Parser,
    input: &[u8],
    out: &mut Vec<u8>,
    output_limit: usize,
) -> Step {
    let mut used = 0;
    while used < input.len() && out.len() < output_limit {
        match parser.parse(&input[used..]) {
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
