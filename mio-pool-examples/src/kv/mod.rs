//! The `kv` server: a Redis-compatible in-memory cache shared by all
//! workers, which the major client libraries use with their default
//! settings (RESP3 through `HELLO 3`, or RESP2).
//!
//! [`Server`] holds what every connection shares: the [`Store`] (sharded
//! locks, versions for `WATCH`, lazy and active expiry) and the counters
//! `INFO` shows. [`Session`] is one connection's state (protocol version,
//! name, id, `MULTI` queue, watched keys); [`Session::serve`] answers every
//! complete command in a read buffer, in the shape that
//! [`Driver::drive`](mio_pool::Driver::drive) expects, with the session as
//! the connection's protocol state:
//!
//! ```
//! use mio_pool_examples::kv::{Server, Session};
//!
//! let server = Server::new(6380);
//! let mut session = Session::default();
//! let mut out = Vec::new();
//! let input = b"SET n 41\r\nINCR n\r\nHELLO 3\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n";
//! let step = session.serve(&server, input, &mut out);
//! assert_eq!(step.consumed, input.len());
//! assert!(out.starts_with(b"+OK\r\n:42\r\n%7\r\n"));
//! assert!(out.ends_with(b"_\r\n")); // RESP3's null
//! ```
//!
//! # What is supported
//!
//! See [`SUPPORTED`], which `kv --help` prints too.
//!
//! # Guarantees and non-guarantees
//!
//! * Replies and errors are byte for byte those of redis-server 7.0 for the
//!   supported commands, in RESP2 and RESP3, except where [`SUPPORTED`]
//!   says otherwise.
//! * A command on one key is atomic; `MGET`, `MSET`, `MSETNX`, `DEL`,
//!   `EXISTS`, `RENAME` are atomic over their keys; `EXEC` is atomic over
//!   its whole transaction with respect to every other connection.
//! * A `WATCH`ed key that is written, deleted or expires before `EXEC`
//!   aborts the transaction. Not detected: a key absent at `WATCH` that is
//!   created and deleted again before `EXEC`.
//! * Expired keys are removed within about [`EXPIRY_PERIOD`] of their
//!   deadline by one background thread that spends at most
//!   [`EXPIRY_BUDGET`] per period (see [`expiry`]).
//! * Nothing is persisted; a restart starts empty.

mod commands;
mod connection;
pub mod expiry;
mod glob;
mod keyspace;
mod long_double;
mod numbers;
mod store;
mod strings;
mod transaction;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use commands::Ctx;
pub use commands::Outcome;
pub use expiry::{EXPIRY_BUDGET, EXPIRY_PERIOD};
pub use numbers::parse_i64;
pub use store::{now_ms, KeyRef, Keys, Store, Ttl, SCAN_SLICES, SHARDS};
pub use strings::MAX_STRING;
pub use transaction::{MAX_QUEUED_BYTES, MAX_WATCHED};

use crate::resp::{self, Proto, Reply};
use mio_pool::{ProtocolState, StatsHandle, Step};

/// The Redis version `kv` answers like (`INFO`'s `redis_version`, `HELLO`'s
/// `version`): its replies are compared with redis-server 7.0's.
pub const REDIS_VERSION: &str = "7.0.15";

/// What `kv` supports and what it does not, as `kv --help` prints it.
pub const SUPPORTED: &str = "\
Supported (Redis 7.0 replies and errors, RESP2 and RESP3):
  connection  HELLO [2|3] [AUTH default <any>] [SETNAME n], CLIENT ID|GETNAME|SETNAME|SETINFO|INFO,
              SELECT 0, PING, ECHO, QUIT, RESET
  server      INFO [server|clients|memory|stats|keyspace|all], DBSIZE, FLUSHDB, FLUSHALL,
              COMMAND [COUNT|LIST|INFO|DOCS], CONFIG GET
  strings     GET, SET [NX|XX] [GET] [EX|PX|EXAT|PXAT|KEEPTTL], SETNX, SETEX, PSETEX, GETSET,
              GETDEL, GETEX, APPEND, STRLEN, GETRANGE, SETRANGE, INCR, INCRBY, DECR, DECRBY,
              INCRBYFLOAT, MGET, MSET, MSETNX
  keys        DEL, UNLINK, EXISTS, TYPE, EXPIRE, PEXPIRE, EXPIREAT, PEXPIREAT [NX|XX|GT|LT],
              TTL, PTTL, PERSIST, KEYS, SCAN [MATCH] [COUNT] [TYPE], RANDOMKEY, RENAME, RENAMENX
  transactions MULTI, EXEC, DISCARD, WATCH, UNWATCH
Not supported: other data types (lists, hashes, sets, sorted sets, streams...), databases
  other than 0, passwords and ACLs, persistence (RDB/AOF), replication, cluster, pub/sub,
  scripting, CONFIG SET, eviction (maxmemory), blocking commands, client tracking.
Differences: INFO holds fewer fields; used_memory is the process's resident memory;
  SCAN cursors and RANDOMKEY differ by nature; COMMAND DOCS carries a summary and
  a syntax line per command (enough for redis-cli's hints), not Redis's argument trees;
  INCRBYFLOAT refuses hexadecimal floats (which Redis's strtold reads);
  CLIENT SETINFO is accepted as in Redis 7.2.";

/// What every connection shares.
#[derive(Debug)]
pub struct Server {
    /// The keys.
    pub store: Store,
    port: u16,
    started: Instant,
    run_id: String,
    stats: Option<StatsHandle>,
    commands: AtomicU64,
    expired: AtomicU64,
}

impl Server {
    /// An empty server that says it listens on `port` (`INFO`, `CONFIG
    /// GET port`).
    pub fn new(port: u16) -> Server {
        let seed = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), port);
        let seed2 = std::hash::BuildHasher::hash_one(&std::hash::RandomState::new(), seed);
        Server {
            store: Store::new(),
            port,
            started: Instant::now(),
            run_id: format!("{seed:016x}{seed2:016x}{:08x}", seed2 >> 32),
            stats: None,
            commands: AtomicU64::new(0),
            expired: AtomicU64::new(0),
        }
    }

    /// Takes `INFO`'s connection counts from the pool's counters.
    pub fn with_stats(mut self, stats: StatsHandle) -> Server {
        self.stats = Some(stats);
        self
    }

    /// Commands run so far.
    pub fn commands(&self) -> u64 {
        self.commands.load(Ordering::Relaxed)
    }

    /// Keys removed by active expiry so far.
    pub fn expired_keys(&self) -> u64 {
        self.expired.load(Ordering::Relaxed)
    }

    /// Counts keys removed by active expiry.
    fn count_expired(&self, n: usize) {
        self.expired.fetch_add(n as u64, Ordering::Relaxed);
    }
}

/// Client ids, as `CLIENT ID` and `HELLO` report them: unique per process.
static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// One connection's state: the `P` of its `mio_pool::Driver<S, P>`.
#[derive(Debug)]
pub struct Session {
    proto: Proto,
    id: u64,
    name: Option<Vec<u8>>,
    /// `CLIENT SETINFO`'s library name and version.
    lib: [Vec<u8>; 2],
    multi: Option<transaction::Multi>,
    /// Each watched key and its version when it was watched.
    watched: HashMap<Vec<u8>, Option<u64>>,
    /// Its place in a command that has not all arrived; its request limit.
    parser: resp::Parser,
    /// Replies queued at which it stops executing commands.
    output_limit: usize,
}

impl Default for Session {
    fn default() -> Session {
        Session::with_id(NEXT_ID.fetch_add(1, Ordering::Relaxed))
    }
}

/// No deadline of its own: the pool's `--idle-timeout` closes idle clients.
impl ProtocolState for Session {}

impl Session {
    fn with_id(id: u64) -> Session {
        Session {
            proto: Proto::Resp2,
            id,
            name: None,
            lib: Default::default(),
            multi: None,
            watched: HashMap::new(),
            parser: resp::Parser::new(),
            output_limit: OUTPUT_LIMIT,
        }
    }
}

/// The default output limit of a session (`kv --max-output`): replies
/// queued at which it stops executing commands until the client reads;
/// checked before each command (see [Pausing on
/// output](mio_pool::Driver#pausing-on-output)). Redis executes every command
/// it has read and closes a normal client only at its hard output limit,
/// unlimited by default: 9 KB of `GET big` (a 1 MiB value) sent without
/// reading then queues gigabytes. One reply is always queued whole, so a
/// client can make us hold this plus one value.
pub const OUTPUT_LIMIT: usize = 256 * 1024;

impl Session {
    /// The protocol version replies are written in.
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// The client id (`CLIENT ID`).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Sets the most bytes one command may take (see
    /// [`resp::Parser::max_request`]; default [`resp::MAX_REQUEST`]) and
    /// the output limit (default [`OUTPUT_LIMIT`]).
    pub fn set_limits(&mut self, max_request: usize, max_output: usize) {
        self.parser.set_max_request(max_request);
        self.output_limit = max_output;
    }

    /// Back to a new connection's state, keeping the id and the limits
    /// (`RESET`).
    fn reset(&mut self) {
        let limits = (self.parser.max_request(), self.output_limit);
        *self = Session::with_id(self.id);
        self.set_limits(limits.0, limits.1);
    }

    /// `CLIENT INFO`'s line.
    fn describe(&self) -> String {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        format!(
            "id={} name={} db=0 multi={} watch={} resp={} lib-name={} lib-ver={}\n",
            self.id,
            self.name.as_deref().map(text).unwrap_or_default(),
            self.multi.as_ref().map_or(-1, |m| m.len() as i64),
            self.watched.len(),
            if self.proto == Proto::Resp3 { 3 } else { 2 },
            text(&self.lib[0]),
            text(&self.lib[1]),
        )
    }

    /// The next command at the front of `input`, resuming where the
    /// parser stopped in it on an earlier call.
    fn next_command<'i>(
        &mut self,
        input: &'i [u8],
    ) -> Result<Option<(resp::Args<'i>, usize)>, resp::ProtocolError> {
        self.parser.parse(input)
    }

    /// Answers every complete command at the front of `input`, in order,
    /// appending the replies to `out` in the session's protocol version.
    ///
    /// Before each command it checks the backlog: once `out` holds the
    /// output limit or more it stops and leaves the rest of the input
    /// unconsumed (see [Pausing on output](mio_pool::Driver#backpressure-the-output-limit)).
    /// A command split over many calls is parsed once: the session keeps
    /// the parser's place in it.
    ///
    /// Returns [`Step::close`] after `QUIT`, and after a protocol error
    /// (whose error reply is sent first, since the stream cannot be
    /// resynchronised), including a command larger than the request limit
    /// ([`Session::set_limits`]).
    pub fn serve(&mut self, server: &Server, input: &[u8], out: &mut Vec<u8>) -> Step {
        let mut used = 0;
        let mut ran = 0;
        let step = loop {
            if used == input.len() || out.len() >= self.output_limit {
                break Step::keep(used);
            }
            match self.next_command(&input[used..]) {
                Ok(None) => break Step::keep(used),
                Ok(Some((args, len))) => {
                    used += len;
                    if args.is_empty() {
                        continue;
                    }
                    ran += 1;
                    let args: Vec<&[u8]> = args.iter().map(|a| &a[..]).collect();
                    if self.execute(server, &args, out) == Outcome::Close {
                        break Step::close(used);
                    }
                }
                Err(e) => {
                    log::debug!("closing after {e}");
                    resp::error(out, &e.reply());
                    break Step::close(input.len());
                }
            }
        };
        server.commands.fetch_add(ran, Ordering::Relaxed);
        step
    }

    /// Runs one command (`args[0]` is its name, in any case; `args` is not
    /// empty), or queues it inside `MULTI`, appending the reply to `out`.
    pub fn execute(&mut self, server: &Server, args: &[&[u8]], out: &mut Vec<u8>) -> Outcome {
        let mut reply = Reply::new(out, self.proto);
        if self.queue(args, &mut reply) {
            return Outcome::Continue;
        }
        let spec = match commands::check(args) {
            Ok(spec) => spec,
            Err(msg) => {
                self.reject(args, &msg, &mut reply);
                return Outcome::Continue;
            }
        };
        // The gate, shared, for commands on keys (see `Store`); `EXEC`
        // takes it exclusively itself.
        let _gate = (spec.flags & commands::KEYS != 0).then(|| server.store.shared());
        let mut ctx = Ctx {
            server,
            session: self,
            out: reply,
        };
        (spec.run)(&mut ctx, args)
    }
}

#[cfg(test)]
mod tests;
