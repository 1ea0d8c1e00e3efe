//! The example HTTP server's routes, and the protocol function that answers
//! every complete request in a read buffer.

use std::time::{Duration, Instant, SystemTime};

use std::io::Write;

use super::chunked::ChunkDecoder;
use super::request::{self, Framing, Head, RequestError, MAX_BODY, MAX_HEAD};
use super::response::{http_date, Persistence, Response, Status};
use mio_pool::{Driver, PoolStats, ProtocolState, Step};

use super::deadline::HeadDeadline;

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

/// The per-connection bounds of the HTTP server, set with the `http`
/// binary's `--max-head`, `--max-body` and `--max-output`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest request head (request line and fields), and the most
    /// trailer bytes of a chunked body; past it: `431`. Default
    /// [`MAX_HEAD`], as nginx's `large_client_header_buffers` (8k).
    pub max_head: usize,
    /// The largest request body; past it: `413`. Default [`MAX_BODY`], as
    /// nginx's `client_max_body_size` (1m). Bodies are never held whole:
    /// this bounds the work of one request, not memory.
    pub max_body: usize,
    /// Unsent output at which the server stops answering requests until
    /// the client reads (see [Pausing on
    /// output](mio_pool::Driver#backpressure-the-output-limit)). Default
    /// [`DEFAULT_OUTPUT_LIMIT`].
    pub max_output: usize,
}

/// The default [`Limits::max_output`]: 8 KiB, about fifty pipelined
/// `GET /` responses. Measured with 200 connections pipelining `GET /`
/// without reading, the server then holds about 19 KB per connection (one
/// read of input plus this), where nginx holds 21-26 KB; at 16 KiB it was
/// 38 KB (buffers grow by doubling).
pub const DEFAULT_OUTPUT_LIMIT: usize = 8 * 1024;

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_head: MAX_HEAD,
            max_body: MAX_BODY,
            max_output: DEFAULT_OUTPUT_LIMIT,
        }
    }
}

/// One connection's place in its stream of requests: the protocol state
/// that [`serve`] keeps between reads.
///
/// | phase  | input at the front       | kept                                   |
/// |--------|--------------------------|----------------------------------------|
/// | `Head` | (part of) a request head | how far the end of the head was searched |
/// | `Body` | the rest of a body       | bytes left, or the chunk decoder; echo or discard; the response still owed |
///
/// `Head` → `Body` when a head with a body is parsed (an echo's response
/// head is written then); `Body` → `Head` when the body ends (a discarded
/// body's response is written then). Each input byte is examined a bounded
/// number of times however the request is split: [`Session::examined`]
/// counts them.
///
/// It also keeps the request-head deadline ([`HeadDeadline`]; see
/// [`Session::update_deadline`]). A body being streamed is consumed as it
/// arrives, so the deadline covers the head only.
#[derive(Debug, Default)]
pub struct Session {
    head_deadline: HeadDeadline,
    phase: Phase,
    /// Bytes at the front of the head (from the request's start) already
    /// searched for its end without finding it.
    head_scan: usize,
    examined: u64,
}

#[derive(Debug, Default)]
enum Phase {
    #[default]
    Head,
    Body(BodyState),
}

#[derive(Debug)]
struct BodyState {
    left: Left,
    /// `Some`: the body is being discarded and this response is owed once
    /// it ends. `None`: the body is echoed (the response head was sent).
    owed: Option<Owed>,
    keep_alive: bool,
}

#[derive(Debug)]
enum Left {
    Length(u64),
    Chunked(ChunkDecoder),
}

/// A response decided from a head, written once its body has been read.
#[derive(Debug, Clone, Copy)]
struct Owed {
    route: Route,
    head_only: bool,
    persistence: Persistence,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Hello,
    Stats,
    NotAllowed,
    NotFound,
}

impl Session {
    /// A connection at the start of its first request.
    pub fn new() -> Session {
        Session::default()
    }

    /// Updates the request-head deadline of `conn` after a `drive`, as
    /// [`HeadDeadline::update`] does: running while the connection holds
    /// part of a request, `timeout` from when it started one.
    pub fn update_deadline<S>(conn: &mut Driver<S, Session>, timeout: Option<Duration>) {
        let mid_request = conn.is_mid_request();
        conn.state_mut().head_deadline.refresh(mid_request, timeout);
    }

    /// Input bytes examined so far: the parse cost of everything served on
    /// this connection, however its bytes were split between reads.
    pub fn examined(&self) -> u64 {
        self.examined
    }

    /// The end of the head at the front of `rest` (the offset after its
    /// empty line), searching only bytes not searched before.
    fn find_head_end(&mut self, rest: &[u8]) -> Option<usize> {
        let mut i = self.head_scan;
        while let Some(nl) = rest[i..].iter().position(|&b| b == b'\n') {
            let at = i + nl;
            self.examined += nl as u64 + 1;
            match (rest.get(at + 1), rest.get(at + 2)) {
                (Some(b'\n'), _) => return Some(at + 2),
                (Some(b'\r'), Some(b'\n')) => return Some(at + 3),
                // Not there yet: look at this line end again next time.
                (None, _) | (Some(b'\r'), None) => {
                    self.head_scan = at;
                    return None;
                }
                _ => i = at + 1,
            }
        }
        self.examined += (rest.len() - i) as u64;
        self.head_scan = rest.len();
        None
    }
}

impl ProtocolState for Session {
    fn deadline(&self) -> Option<Instant> {
        self.head_deadline.deadline()
    }

    /// Appends `408 Request Timeout` (with `Connection: close`).
    fn on_deadline(&mut self, output: &mut Vec<u8>) {
        self.head_deadline.on_deadline(output);
    }
}

/// Answers every request at the front of `input`, in order, appending the
/// responses to `out`, and keeps its place in `session` between calls;
/// `stats` is asked for the counters when `/stats` is requested. `input` is
/// the connection's unconsumed input: the bytes after what earlier calls
/// consumed, grown only at its end.
///
/// Bodies are consumed as they arrive: echoed for `/` (within
/// `limits.max_output`), discarded elsewhere. Before each request it checks
/// the backlog: once `out` holds `limits.max_output` bytes it stops and
/// leaves the rest of the input (see [Pausing on
/// output](mio_pool::Driver#backpressure-the-output-limit)).
///
/// Returns [`Step::close`] after a response that closes the connection
/// (`Connection: close`, HTTP/1.0 without keep-alive, an error status, or
/// a body that turned out malformed).
pub fn serve(
    session: &mut Session,
    limits: &Limits,
    input: &[u8],
    out: &mut Vec<u8>,
    stats: impl Fn() -> PoolStats,
) -> Step {
    serve_draining(session, limits, input, out, stats, false)
}

/// [`serve`], except that when `draining` (the server is shutting down or
/// handing over to a successor) the next response carries
/// `Connection: close` and closes the connection, so that a keep-alive
/// client reconnects (to the successor) instead of being cut off later.
///
/// ```
/// use mio_pool_examples::http::{serve_draining, Limits, Session};
/// let mut out = Vec::new();
/// let req = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n";
/// let limits = Limits::default();
/// let step = serve_draining(&mut Session::new(), &limits, req, &mut out, Default::default, true);
/// assert!(step.close);
/// let text = String::from_utf8(out).unwrap();
/// assert_eq!(text.matches("HTTP/1.1 200").count(), 1, "one answer, then close");
/// assert!(text.contains("Connection: close\r\n"));
/// ```
pub fn serve_draining(
    session: &mut Session,
    limits: &Limits,
    input: &[u8],
    out: &mut Vec<u8>,
    stats: impl Fn() -> PoolStats,
    draining: bool,
) -> Step {
    // One Date value per batch of pipelined responses, made only if needed.
    let mut date_cache: Option<String> = None;
    let mut used = 0;
    loop {
        match &mut session.phase {
            Phase::Head => {
                if session.head_scan == 0 {
                    // RFC 9112 section 2.2: ignore empty lines before a request.
                    while let Some(n) = blank_line(&input[used..]) {
                        used += n;
                    }
                }
                if used == input.len() || out.len() >= limits.max_output {
                    break;
                }
                let rest = &input[used..];
                let head = match session.find_head_end(rest) {
                    Some(end) if end > limits.max_head => Err(RequestError::HeadTooLarge),
                    Some(end) => {
                        session.examined += end as u64;
                        match request::parse_head(&rest[..end]) {
                            Ok(Some((head, n))) => Ok((head, n)),
                            Ok(None) => Err(RequestError::Malformed("incomplete head")),
                            Err(e) => Err(e),
                        }
                    }
                    None if rest.len() > limits.max_head => Err(RequestError::HeadTooLarge),
                    None => break,
                };
                let (mut head, n) = match head {
                    Ok(x) => x,
                    Err(e) => return refuse(e, input, out, date(&mut date_cache)),
                };
                session.head_scan = 0;
                used += n;
                if let Framing::Length(n) = head.framing {
                    if n > limits.max_body as u64 {
                        return refuse(
                            RequestError::BodyTooLarge,
                            input,
                            out,
                            date(&mut date_cache),
                        );
                    }
                }
                head.keep_alive &= !draining;
                let close = !head.keep_alive;
                match begin(&head, limits, out, date(&mut date_cache), &stats) {
                    Some(body) => session.phase = Phase::Body(body),
                    None if close => return Step::close(used),
                    None => {}
                }
            }
            Phase::Body(body) => {
                let room = match body.owed {
                    Some(_) => usize::MAX,
                    None => limits.max_output.saturating_sub(out.len()),
                };
                let done = match &mut body.left {
                    Left::Length(left) => {
                        let n = (*left).min((input.len() - used) as u64).min(room as u64) as usize;
                        if body.owed.is_none() {
                            out.extend_from_slice(&input[used..used + n]);
                        }
                        used += n;
                        session.examined += n as u64;
                        *left -= n as u64;
                        if *left > 0 {
                            break;
                        }
                        true
                    }
                    Left::Chunked(decoder) => {
                        let step = match decoder.decode(&input[used..], room) {
                            Ok(step) => step,
                            Err(e) => {
                                log::debug!("closing: {e}");
                                if body.owed.is_some() {
                                    return refuse(e, input, out, date(&mut date_cache));
                                }
                                // The echo's status went out: just close.
                                return Step::close(input.len());
                            }
                        };
                        session.examined += step.consumed as u64;
                        if body.owed.is_none() && !step.data.is_empty() {
                            let data = &input[used..][step.data];
                            let _ = write!(out, "{:x}\r\n", data.len());
                            out.extend_from_slice(data);
                            out.extend_from_slice(b"\r\n");
                        }
                        used += step.consumed;
                        if decoder.is_done() {
                            if body.owed.is_none() {
                                out.extend_from_slice(b"0\r\n\r\n");
                            }
                            true
                        } else if step.consumed == 0 {
                            break;
                        } else {
                            false
                        }
                    }
                };
                if done {
                    let keep_alive = body.keep_alive;
                    if let Some(owed) = body.owed {
                        owed.write(out, date(&mut date_cache), &stats);
                    }
                    session.phase = Phase::Head;
                    if !keep_alive {
                        return Step::close(used);
                    }
                }
            }
        }
    }
    Step::keep(used)
}

/// The `Date` value of this batch of responses, made on first use.
fn date(cache: &mut Option<String>) -> &str {
    cache.get_or_insert_with(|| http_date(SystemTime::now()))
}

/// The length of the empty line at the front of `buf`, if there is one.
fn blank_line(buf: &[u8]) -> Option<usize> {
    match buf {
        [b'\n', ..] => Some(1),
        [b'\r', b'\n', ..] => Some(2),
        _ => None,
    }
}

/// Answers `e` and closes: where the next request would start is unknown.
fn refuse(e: RequestError, input: &[u8], out: &mut Vec<u8>, date: &str) -> Step {
    log::debug!("answering {}: {e}", e.status().code());
    let body = format!("{}\n", e.status().reason());
    let mut r = Response::text(e.status(), &body);
    r.persistence = Persistence::Close;
    r.write_to(out, date);
    // Nothing after this is read as a request.
    Step::close(input.len())
}

/// Starts answering `head`: writes `100 Continue` if asked and a body is
/// read, then the whole response (no body), the response head (an echo),
/// or nothing yet (a discarded body, answered at its end). Returns the
/// body's state if the request has one.
fn begin(
    head: &Head<'_>,
    limits: &Limits,
    out: &mut Vec<u8>,
    date: &str,
    stats: &impl Fn() -> PoolStats,
) -> Option<BodyState> {
    let left = match head.framing {
        Framing::None => None,
        Framing::Length(n) => Some(Left::Length(n)),
        Framing::Chunked => Some(Left::Chunked(ChunkDecoder::new(
            limits.max_body,
            limits.max_head,
        ))),
    };
    let persistence = match (head.keep_alive, head.minor_version) {
        (false, _) => Persistence::Close,
        (true, 0) => Persistence::KeepAlive,
        (true, _) => Persistence::Default,
    };
    let get_or_head = matches!(head.method, "GET" | "HEAD");
    // A body sent to `/` comes back; `GET /` with an empty body is a GET.
    let echo = head.path() == "/"
        && head.method != "HEAD"
        && (left.is_some() || head.has_length && !get_or_head);
    let route = match head.path() {
        "/" if get_or_head => Route::Hello,
        "/stats" if get_or_head => Route::Stats,
        "/" | "/stats" => Route::NotAllowed,
        _ => Route::NotFound,
    };
    if left.is_some() && head.expect_continue {
        out.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
    }
    let owed = Owed {
        route,
        head_only: head.method == "HEAD",
        persistence,
    };
    if echo {
        let length = match head.framing {
            Framing::Length(n) => Some(n),
            Framing::None => Some(0),
            Framing::Chunked => None,
        };
        let mut r = Response::text(Status::Ok, "");
        r.content_type = "application/octet-stream";
        r.persistence = persistence;
        r.write_head(out, date, length);
        return left.map(|left| BodyState {
            left,
            owed: None,
            keep_alive: head.keep_alive,
        });
    }
    match left {
        None => {
            owed.write(out, date, stats);
            None
        }
        Some(left) => Some(BodyState {
            left,
            owed: Some(owed),
            keep_alive: head.keep_alive,
        }),
    }
}

impl Owed {
    fn write(&self, out: &mut Vec<u8>, date: &str, stats: &impl Fn() -> PoolStats) {
        let json;
        let mut r = match self.route {
            Route::Hello => Response::text(Status::Ok, HELLO),
            Route::Stats => {
                json = stats_json(&stats());
                let mut r = Response::text(Status::Ok, &json);
                r.content_type = "application/json";
                r
            }
            Route::NotAllowed => {
                let mut r = Response::text(Status::MethodNotAllowed, "Method Not Allowed\n");
                r.headers = &[("Allow", "GET, HEAD")];
                r
            }
            Route::NotFound => Response::text(Status::NotFound, "Not Found\n"),
        };
        r.head_only = self.head_only;
        r.persistence = self.persistence;
        r.write_to(out, date);
    }
}
