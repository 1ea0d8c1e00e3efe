//! Shared code of the example servers built on `mio-pool`.
//!
//! The binaries (`echo`, `http`, `kv`) are thin: they parse arguments, build
//! a pool, and hand each connection's readiness to a protocol function from
//! this crate through `mio_pool::Driver::drive`.
//!
//! * [`cli`]: options, logging, the `listening on` line, shutdown signals.
//! * [`echo`]: the `echo` server's protocol.
//! * [`http`]: HTTP/1.1 request parsing (on `httparse`), responses, and the
//!   `http` server's routes.
//! * [`limits`]: `--idle-timeout`, `--max-connections`, `--header-timeout`
//!   and why their defaults.
//! * [`listen`]: the listening socket: bound, or inherited from systemd,
//!   `--listen-fd` or a restarting predecessor; TCP or Unix-domain.
//! * [`restart`]: restarts on SIGHUP that drop nothing, and the pid file.
//! * [`server`]: running a protocol on a pool until SIGINT/SIGTERM, or until
//!   a successor takes over.
//! * [`stream`]: the connection's stream, plain TCP or TLS (`--tls-cert`,
//!   `--tls-key`), and loading the TLS certificate and key.
//! * [`resp`]: the Redis protocol (RESP2): command parsing and reply encoding.
//! * [`kv`]: the `kv` server's store (sharded locks, expiry) and commands.
//!
//! Every protocol function has the same shape, `fn(input, output) -> Step`:
//! it answers every complete request at the front of `input`, appends the
//! replies to `output`, and says how much input it consumed and whether to
//! close. It keeps no state between calls, which is what makes requests
//! split over many reads, and many requests in one read, simple to handle.

pub mod cli;
pub mod echo;
pub mod http;
pub mod kv;
pub mod limits;
pub mod listen;
pub mod resp;
pub mod restart;
pub mod server;
pub mod stream;
