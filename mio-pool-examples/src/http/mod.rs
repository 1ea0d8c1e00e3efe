//! A small HTTP/1.1 server: an incremental request parser built on
//! `httparse`, a response writer, and the routes of the `http` example.
//!
//! | request        | response                                           |
//! |----------------|----------------------------------------------------|
//! | `GET /`        | `200`, `text/plain`, [`HELLO`]                     |
//! | a body to `/`  | `200`, the body echoed as it arrives (chunked if it came chunked) |
//! | `GET /stats`   | `200`, `application/json`, the pool's counters ([`stats_json`]) |
//! | other method on those paths | `405` with `Allow: GET, HEAD`         |
//! | any other path | `404`                                              |
//! | malformed      | `400`, then close                                  |
//! | head > 8 KiB   | `431`, then close                                  |
//! | body > 1 MiB   | `413`, then close                                  |
//! | head not whole within `--header-timeout` of its first byte | `408`, then close ([`HeadDeadline`]) |
//!
//! `HEAD` is answered like `GET` without the body. Connections are
//! persistent for HTTP/1.1 unless the request says `Connection: close`, and
//! for HTTP/1.0 only with `Connection: keep-alive`. Pipelined requests are
//! answered in order. Bodies (`Content-Length` or chunked) are consumed as
//! they arrive and never held whole: echoed for `/`, discarded elsewhere
//! (answered once the body has been read). `Expect: 100-continue` gets
//! `100 Continue` when a body will be read. A [`Session`] keeps each
//! connection's place between reads, so a request split over many reads
//! costs what it costs in one. The limits are [`Limits`].
//!
//! [`serve`] has the shape that [`Driver::drive`](mio_pool::Driver::drive)
//! expects:
//!
//! ```
//! use mio_pool::PoolStats;
//! use mio_pool_examples::http::{self, Limits, Session};
//!
//! let mut session = Session::new();
//! let mut out = Vec::new();
//! let input = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\nGET";
//! let step = http::serve(&mut session, &Limits::default(), input, &mut out, PoolStats::default);
//! // Two requests answered; the partial third is left for the next read.
//! assert_eq!(step.consumed, input.len() - 3);
//! assert!(!step.close);
//! let text = String::from_utf8(out).unwrap();
//! assert!(text.starts_with("HTTP/1.1 200 OK\r\n"));
//! assert!(text.contains("HTTP/1.1 404 Not Found\r\n"));
//! ```

mod chunked;
mod deadline;
mod request;
mod response;
mod server;

pub use chunked::{ChunkDecoder, Decoded, MAX_CHUNK_LINE};
pub use deadline::HeadDeadline;
pub use request::{
    parse, parse_head, Body, Framing, Head, Parsed, Request, RequestError, MAX_BODY, MAX_HEAD,
    MAX_HEADERS,
};
pub use response::{http_date, Persistence, Response, Status};
pub use server::{serve, serve_draining, stats_json, Limits, Session, DEFAULT_OUTPUT_LIMIT, HELLO};

#[cfg(test)]
mod tests;
