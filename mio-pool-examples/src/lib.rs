//! Shared code of the example servers built on `mio-pool`.
//!
//! The binaries (`echo`, `http`, `kv`) are thin: they parse arguments, build
//! a pool, and hand each connection's readiness to a protocol function from
//! this crate through `mio_pool::Driver::drive`.
//!
//! * [`cli`]: options, logging, announcing the address, shutdown signals.
//! * [`listening`]: the `listening on ADDR` line, written and parsed.
//! * [`echo`]: the `echo` server's protocol.
//! * [`http`]: HTTP/1.1 request parsing (on `httparse`), responses, and the
//!   `http` server's routes.
//! * [`limits`]: `--idle-timeout`, `--max-connections`, `--header-timeout`
//!   and why their defaults.
//! * [`bounds`]: the per-connection buffer bounds (`--max-head`, `--max-body`,
//!   `--max-output`, `--max-request`) and why their defaults.
//! * [`listen`]: the listening socket: bound, or inherited from systemd,
//!   `--listen-fd` or a restarting predecessor; TCP or Unix-domain.
//! * [`restart`]: restarts on SIGHUP that drop nothing, and the pid file.
//! * [`server`]: running a protocol on a pool until SIGINT/SIGTERM, or until
//!   a successor takes over.
//! * [`stream`]: the connection's stream, plain TCP or TLS (`--tls-cert`,
//!   `--tls-key`), and loading the TLS certificate and key.
//! * [`resp`]: the Redis protocol: command parsing, RESP2 and RESP3 replies.
//! * [`kv`]: the `kv` server, a Redis-compatible cache: store, sessions, commands.
//!
//! Every protocol function has the same shape, `fn(state, input, output) ->
//! Step`: it answers every complete request at the front of `input`, appends
//! the replies to `output`, and says how much input it consumed and whether
//! to close. State that must outlive one call lives in the connection's
//! protocol state (the `P` of [`mio_pool::Driver`]): a parser's place in a request
//! that has not all arrived (so that a request split over many reads costs
//! what it costs in one), and `kv`'s [`kv::Session`] with the protocol
//! version, client name, `MULTI` queue and watched keys.

pub mod bounds;
pub mod cli;
pub mod echo;
pub mod http;
pub mod kv;
pub mod limits;
pub mod listen;
pub mod listening;
pub mod resp;
pub mod restart;
pub mod server;
pub mod stream;
