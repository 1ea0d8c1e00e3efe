//! A small HTTP/1.1 server: an incremental request parser built on
//! `httparse`, a response writer, and the routes of the `http` example.
//!
//! | request        | response                                           |
//! |----------------|----------------------------------------------------|
//! | `GET /`        | `200`, `text/plain`, [`HELLO`]                     |
//! | `GET /stats`   | `200`, `application/json`, the pool's counters ([`stats_json`]) |
//! | other method on those paths | `405` with `Allow: GET, HEAD`         |
//! | any other path | `404`                                              |
//! | malformed      | `400`, then close                                  |
//! | head > 8 KiB   | `431`, then close                                  |
//! | head not whole within `--header-timeout` of its first byte | `408`, then close ([`HeadDeadline`]) |
//!
//! `HEAD` is answered like `GET` without the body. Connections are
//! persistent for HTTP/1.1 unless the request says `Connection: close`, and
//! for HTTP/1.0 only with `Connection: keep-alive`. Pipelined requests are
//! answered in order. Bodies framed by `Content-Length` or chunked encoding
//! are read and ignored.
//!
//! [`serve`] has the shape that [`Driver::drive`](mio_pool::Driver::drive)
//! expects:
//!
//! ```
//! use mio_pool::PoolStats;
//! use mio_pool_examples::http;
//!
//! let mut out = Vec::new();
//! let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET";
//! let step = http::serve(input, &mut out, PoolStats::default);
//! // Two requests answered; the partial third is left for the next read.
//! assert_eq!(step.consumed, input.len() - 3);
//! assert!(!step.close);
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(text.contains("HTTP/1.1 404 Not Found\r\n"));
//! ```

mod deadline;
mod request;
mod response;
mod server;

pub use deadline::HeadDeadline;
pub use request::{parse, Body, Parsed, Request, RequestError, MAX_BODY, MAX_HEAD, MAX_HEADERS};
pub use response::{http_date, Persistence, Response, Status};
pub use server::{serve, serve_draining, stats_json, HELLO};

#[cfg(test)]
mod tests;
