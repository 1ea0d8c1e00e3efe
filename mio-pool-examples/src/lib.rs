//! Shared code of the example servers built on `mio-pool`.
//!
//! * [`conn`]: a buffered connection that a pool handler drives.
//! * [`http`]: HTTP/1.1 parsing, responses and the `http` server's routes.
pub mod conn;
pub mod http;
