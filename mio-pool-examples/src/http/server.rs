//! The example HTTP server's routes, and the protocol function that answers
//! every complete request in a read buffer.

use std::time::SystemTime;

use super::request::{self, Parsed, Request};
use super::response::{http_date, Persistence, Response, Status};
use mio_pool::PoolStats;
use mio_pool::Step;

/// The body of `GET /`.
pub const HELLO: &str = "Hello from mio-pool!\n";

/// The pool's counters as a one-line JSON object (with a trailing newline),
/// as served at `GET /stats`.
///
/// ```
/// let json = mio_pool_examples::http::stats_json(&mio_pool::PoolStats::default());
/// assert_eq!(
///     json,
///     "{\"accepted\":0,\"open\":0,\"closed\":0,\"handler_errors\":0,\"panics\":0,\"accept_errors\":0,\"cpu_yields\":0,\"timed_out\":0}\n"
/// );
/// ```
pub fn stats_json(s: &PoolStats) -> String {
    format!(
        "{{\"accepted\":{},\"open\":{},\"closed\":{},\"handler_errors\":{},\"panics\":{},\"accept_errors\":{},\"cpu_yields\":{},\"timed_out\":{}}}\n",
        s.accepted,
        s.open,
        s.closed,
        s.handler_errors,
        s.panics,
        s.accept_errors,
        s.cpu_yields,
        s.timed_out
    )
}

/// Answers every complete request at the front of `input`, in order,
/// appending the responses to `out`; `stats` is asked for the counters when
/// `/stats` is requested.
///
/// Stops after a response that closes the connection (`Connection: close`,
/// HTTP/1.0 without keep-alive, or an error status), and returns
/// [`Step::close`] then. Trailing incomplete input is left unconsumed.
pub fn serve(input: &[u8], out: &mut Vec<u8>, stats: impl Fn() -> PoolStats) -> Step {
    serve_draining(input, out, stats, false)
}

/// [`serve`], except that when `draining` (the server is shutting down or
/// handing over to a successor) the next response carries
/// `Connection: close` and closes the connection, so that a keep-alive
/// client reconnects (to the successor) instead of being cut off later.
///
/// ```
/// use mio_pool_examples::http::serve_draining;
/// let mut out = Vec::new();
/// let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
/// let step = serve_draining(req, &mut out, Default::default, true);
/// assert!(step.close);
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.matches("HTTP/1.1 200").count(), 1, "one answer, then close");
/// assert!(text.contains("Connection: close\r\n"));
/// ```
pub fn serve_draining(
    input: &[u8],
    out: &mut Vec<u8>,
    stats: impl Fn() -> PoolStats,
    draining: bool,
) -> Step {
    // One Date value per batch of pipelined responses, made only if needed.
    let mut date: Option<String> = None;
    let now = || http_date(SystemTime::now());
    let mut used = 0;
    while used < input.len() {
        let (request, len) = match request::parse(&input[used..]) {
            Ok(Parsed::Partial) => break,
            Ok(Parsed::Complete { request, len }) => (request, len),
            Err(e) => {
                log::debug!("answering {}: {e}", e.status().code());
                let body = format!("{}\n", e.status().reason());
                let mut r = Response::text(e.status(), &body);
                r.persistence = Persistence::Close;
                r.write_to(out, date.get_or_insert_with(now));
                return Step::close(input.len());
            }
        };
        used += len;
        if !respond(
            &request,
            out,
            date.get_or_insert_with(now),
            &stats,
            draining,
        ) {
            return Step::close(used);
        }
    }
    Step::keep(used)
}

/// Writes the response to `req`; returns whether the connection stays open.
fn respond(
    req: &Request<'_>,
    out: &mut Vec<u8>,
    date: &str,
    stats: &impl Fn() -> PoolStats,
    draining: bool,
) -> bool {
    let get_or_head = matches!(req.method, "GET" | "HEAD");
    let json;
    let mut r = match req.path() {
        "/" if get_or_head => Response::text(Status::Ok, HELLO),
        "/stats" if get_or_head => {
            json = stats_json(&stats());
            let mut r = Response::text(Status::Ok, &json);
            r.content_type = "application/json";
            r
        }
        "/" | "/stats" => {
            let mut r = Response::text(Status::MethodNotAllowed, "Method Not Allowed\n");
            r.headers = &[("Allow", "GET, HEAD")];
            r
        }
        _ => Response::text(Status::NotFound, "Not Found\n"),
    };
    r.head_only = req.method == "HEAD";
    let keep_alive = req.keep_alive && !draining;
    r.persistence = match (keep_alive, req.minor_version) {
        (false, _) => Persistence::Close,
        (true, 0) => Persistence::KeepAlive,
        (true, _) => Persistence::Default,
    };
    r.write_to(out, date);
    keep_alive
}
