//! Shared code of the example servers built on `mio-pool`.
//!
//! The binaries (`echo`, `http`, `kv`) are thin: they parse arguments, build
//! a pool, and hand each connection's readiness to a protocol function from
//! this crate through [`conn::Conn::drive`].
//!
//! * [`cli`]: options, logging, the `listening on` line, shutdown signals.
//! * [`echo`]: the `echo` server's protocol.
//! * [`conn`]: a buffered connection that a pool handler drives: read until
//!   drained, parse, queue replies, flush, keep unsent output.
//! * [`http`]: HTTP/1.1 request parsing (on `httparse`), responses, and the
//!   `http` server's routes.
//! * [`limits`]: the per-connection bounds as command-line options.
//! * [`listen`]: the listening socket: bound, or inherited from systemd,
//!   `--listen-fd` or a restarting predecessor; TCP or Unix-domain.
//! * [`restart`]: restarts on SIGHUP that drop nothing, and the pid file.
//! * [`server`]: running a protocol on a pool until SIGINT/SIGTERM, or until
//!   a successor takes over.
//! * [`resp`]: the Redis protocol (RESP2): command parsing and reply encoding.
//! * [`kv`]: the `kv` server's store (sharded locks, expiry) and commands.
//!
//! Every protocol function has the same shape, `fn(state, input, output) ->
//! Step`: it answers every complete request at the front of `input`, appends
//! the replies to `output`, and says how much input it consumed and whether
//! to close. What it must remember between reads (a parser's place in a
//! request that has not all arrived) lives in the connection's protocol
//! `state`, so that a request split over many reads costs what it costs in
//! one.

pub mod cli;
pub mod conn;
pub mod echo;
pub mod http;
pub mod kv;
pub mod limits;
pub mod listen;
pub mod resp;
pub mod restart;
pub mod server;
