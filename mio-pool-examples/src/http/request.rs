//! Incremental HTTP/1.x request parsing on top of `httparse`; see [`parse`].

use std::fmt;

use super::chunked::ChunkDecoder;
use super::Status;

/// The largest request head (request line plus headers) accepted; a larger
/// one is answered with `431 Request Header Fields Too Large`.
pub const MAX_HEAD: usize = 8 * 1024;

/// The largest request body accepted; a larger one is answered with
/// `413 Content Too Large`. For chunked bodies this bounds the encoded size.
pub const MAX_BODY: usize = 1024 * 1024;

/// The most header fields a request may carry (then `431`).
pub const MAX_HEADERS: usize = 64;

/// A parsed request, borrowing from the read buffer: its [`Head`] (whose
/// fields it derefs to: `request.method`, `request.path()`) and its body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The request line and what the fields say.
    pub head: Head<'a>,
    /// The body.
    pub body: Body<'a>,
}

impl<'a> std::ops::Deref for Request<'a> {
    type Target = Head<'a>;

    fn deref(&self) -> &Head<'a> {
        &self.head
    }
}

/// A request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// No body.
    Empty,
    /// A body framed by `Content-Length`.
    Full(&'a [u8]),
    /// A body sent with `Transfer-Encoding: chunked`, still chunk-encoded
    /// (including the last chunk and trailers).
    Chunked(&'a [u8]),
}

/// The outcome of [`parse`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// A complete request that occupies the first `len` bytes of the buffer.
    Complete {
        /// The request.
        request: Request<'a>,
        /// Its length in bytes, head and body.
        len: usize,
    },
    /// The buffer holds the start of a request; read more.
    Partial,
}

/// Why a request cannot be served. Each maps to a status; the connection is
/// closed after answering, since where the next request starts is unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestError {
    /// Not valid HTTP/1.x framing (`400`); the text says what was wrong.
    Malformed(&'static str),
    /// The head exceeds [`MAX_HEAD`] or has more than [`MAX_HEADERS`] fields
    /// (`431`).
    HeadTooLarge,
    /// The body exceeds [`MAX_BODY`] (`413`).
    BodyTooLarge,
    /// A transfer coding other than `chunked` (`501`).
    UnsupportedTransferEncoding,
    /// An HTTP version other than 1.0 or 1.1 (`505`).
    UnsupportedVersion,
}

impl RequestError {
    /// The status to answer with.
    pub fn status(self) -> Status {
        match self {
            RequestError::Malformed(_) => Status::BadRequest,
            RequestError::HeadTooLarge => Status::HeaderFieldsTooLarge,
            RequestError::BodyTooLarge => Status::ContentTooLarge,
            RequestError::UnsupportedTransferEncoding => Status::NotImplemented,
            RequestError::UnsupportedVersion => Status::VersionNotSupported,
        }
    }
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestError::Malformed(what) => write!(f, "malformed request: {what}"),
            RequestError::HeadTooLarge => write!(
                f,
                "request head larger than {MAX_HEAD} bytes or with more than {MAX_HEADERS} fields"
            ),
            RequestError::BodyTooLarge => write!(f, "request body larger than {MAX_BODY} bytes"),
            RequestError::UnsupportedTransferEncoding => {
                write!(f, "transfer coding other than chunked")
            }
            RequestError::UnsupportedVersion => write!(f, "HTTP version other than 1.0 or 1.1"),
        }
    }
}

impl std::error::Error for RequestError {}

/// How a request's body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    None,
    /// `Content-Length: n` bytes (never 0: that is [`Framing::None`]).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// A request head, borrowing from the read buffer; see [`parse_head`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head<'a> {
    /// The method, e.g. `GET`.
    pub method: &'a str,
    /// The request target as sent, e.g. `/stats?pretty`.
    pub target: &'a str,
    /// The minor version: `0` for HTTP/1.0, `1` for HTTP/1.1.
    pub minor_version: u8,
    /// Whether the connection stays open after the response: the HTTP/1.1
    /// default unless `Connection: close`; for HTTP/1.0 only with
    /// `Connection: keep-alive`.
    pub keep_alive: bool,
    /// How the body is delimited.
    pub framing: Framing,
    /// Whether a `Content-Length` header was present (even `0`).
    pub has_length: bool,
    /// `Expect: 100-continue` on an HTTP/1.1 request.
    pub expect_continue: bool,
}

impl Head<'_> {
    /// The target without its query string.
    pub fn path(&self) -> &str {
        match self.target.find('?') {
            Some(i) => &self.target[..i],
            None => self.target,
        }
    }
}

/// Parses the request head at the front of `buf`: `Ok(None)` if it is not
/// complete, else the head and its length. It does not bound the head's
/// size: the caller refuses a head longer than its limit before parsing.
///
/// An HTTP/1.1 request must carry exactly one `Host` (RFC 9112); one with
/// both `Content-Length` and `Transfer-Encoding`, or with conflicting
/// lengths, is refused rather than guessed at (request smuggling).
pub fn parse_head(buf: &[u8]) -> Result<Option<(Head<'_>, usize)>, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(from_httparse(e)),
    };
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        unreachable!("httparse fills method, path and version of a complete request")
    };

    let mut content_length: Option<u64> = None;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut host = false;
    let mut expect_continue = false;
    for h in req.headers.iter() {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            let n = parse_content_length(h.value)?;
            if content_length.is_some_and(|m| m != n) {
                return Err(RequestError::Malformed("conflicting Content-Length"));
            }
            content_length = Some(n);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Only a single `chunked` coding is understood.
            if chunked || !trim(h.value).eq_ignore_ascii_case(b"chunked") {
                return Err(RequestError::UnsupportedTransferEncoding);
            }
            chunked = true;
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',').map(trim) {
                close |= token.eq_ignore_ascii_case(b"close");
                keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            }
        } else if name.eq_ignore_ascii_case("host") {
            if host {
                return Err(RequestError::Malformed("more than one Host"));
            }
            host = true;
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue |= trim(h.value).eq_ignore_ascii_case(b"100-continue");
        }
    }
    if minor_version == 1 && !host {
        // RFC 9112 section 3.2: a 1.1 request without Host gets a 400.
        return Err(RequestError::Malformed("missing Host"));
    }
    if chunked && content_length.is_some() {
        // A classic request-smuggling vector: refuse rather than pick one.
        return Err(RequestError::Malformed(
            "both Content-Length and Transfer-Encoding",
        ));
    }
    if minor_version == 0 && chunked {
        return Err(RequestError::Malformed("chunked HTTP/1.0 request"));
    }
    let framing = match (chunked, content_length) {
        (true, _) => Framing::Chunked,
        (false, None | Some(0)) => Framing::None,
        (false, Some(n)) => Framing::Length(n),
    };
    Ok(Some((
        Head {
            method,
            target,
            minor_version,
            keep_alive: !close && (minor_version == 1 || keep_alive),
            framing,
            has_length: content_length.is_some(),
            // RFC 9110 section 10.1.1: ignored from HTTP/1.0 clients.
            expect_continue: expect_continue && minor_version == 1,
        },
        head_len,
    )))
}

/// Parses the whole request at the front of `buf`, body included, with the
/// default limits ([`MAX_HEAD`], [`MAX_BODY`]).
///
/// Returns a complete [`Request`] with its length, [`Parsed::Partial`] when
/// more bytes are needed, or a [`RequestError`] that maps to the status to
/// answer with before closing. It keeps no state between calls and needs
/// the body whole: it suits requests that are all there. A server keeps a
/// [`Session`](super::Session), which parses as bytes arrive and never
/// holds a body.
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, RequestError> {
    let (head, head_len) = match parse_head(buf) {
        Ok(Some((_, n))) if n > MAX_HEAD => return Err(RequestError::HeadTooLarge),
        Ok(Some(x)) => x,
        Ok(None) | Err(RequestError::HeadTooLarge) if buf.len() > MAX_HEAD => {
            return Err(RequestError::HeadTooLarge)
        }
        Ok(None) => return Ok(Parsed::Partial),
        Err(e) => return Err(e),
    };
    let rest = &buf[head_len..];
    let (body, body_len) = match head.framing {
        Framing::None => (Body::Empty, 0),
        Framing::Length(n) if n > MAX_BODY as u64 => return Err(RequestError::BodyTooLarge),
        Framing::Length(n) if (rest.len() as u64) < n => return Ok(Parsed::Partial),
        Framing::Length(n) => (Body::Full(&rest[..n as usize]), n as usize),
        Framing::Chunked => {
            let mut decoder = ChunkDecoder::new(MAX_BODY, MAX_HEAD);
            let mut used = 0;
            while !decoder.is_done() {
                let step = decoder.decode(&rest[used..], usize::MAX)?;
                if step.consumed == 0 {
                    return Ok(Parsed::Partial);
                }
                used += step.consumed;
            }
            (Body::Chunked(&rest[..used]), used)
        }
    };
    Ok(Parsed::Complete {
        request: Request { head, body },
        len: head_len + body_len,
    })
}

fn from_httparse(e: httparse::Error) -> RequestError {
    use httparse::Error as E;
    match e {
        E::TooManyHeaders => RequestError::HeadTooLarge,
        E::Version => RequestError::UnsupportedVersion,
        E::HeaderName => RequestError::Malformed("invalid header name"),
        E::HeaderValue => RequestError::Malformed("invalid header value"),
        E::NewLine => RequestError::Malformed("invalid line ending"),
        E::Token => RequestError::Malformed("invalid method or target"),
        E::Status => RequestError::Malformed("invalid request line"),
    }
}

fn trim(s: &[u8]) -> &[u8] {
    s.trim_ascii()
}

fn parse_content_length(value: &[u8]) -> Result<u64, RequestError> {
    const BAD: RequestError = RequestError::Malformed("invalid Content-Length");
    let v = trim(value);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    // Too many digits for usize means far too large anyway.
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or(RequestError::BodyTooLarge)
}
