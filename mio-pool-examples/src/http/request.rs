//! Incremental HTTP/1.x request parsing on top of `httparse`; see [`parse`].

use std::fmt;

use super::Status;

/// The largest request head (request line plus headers) accepted; a larger
/// one is answered with `431 Request Header Fields Too Large`.
pub const MAX_HEAD: usize = 8 * 1024;

/// The largest request body accepted; a larger one is answered with
/// `413 Content Too Large`. For chunked bodies this bounds the encoded size.
pub const MAX_BODY: usize = 1024 * 1024;

/// The most header fields a request may carry (then `431`).
pub const MAX_HEADERS: usize = 64;

/// A parsed request, borrowing from the read buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
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
    /// The body.
    pub body: Body<'a>,
}

impl Request<'_> {
    /// The target without its query string.
    pub fn path(&self) -> &str {
        match self.target.find('?') {
            Some(i) => &self.target[..i],
            None => self.target,
        }
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

/// Parses the request at the front of `buf`, a connection's read buffer.
///
/// Returns a complete [`Request`] with its length, [`Parsed::Partial`] when
/// more bytes are needed, or a [`RequestError`] that maps to the status to
/// answer with before closing. It keeps no state between calls: a request
/// split over many reads is parsed again from its start when more bytes
/// arrive, which is cheap because the head is bounded by [`MAX_HEAD`].
///
/// An HTTP/1.1 request must carry exactly one `Host` (RFC 9112); one with
/// both `Content-Length` and `Transfer-Encoding`, or with conflicting
/// lengths, is refused rather than guessed at (request smuggling).
pub fn parse(buf: &[u8]) -> Result<Parsed<'_>, RequestError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let head_len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) if n > MAX_HEAD => {
            return Err(RequestError::HeadTooLarge)
        }
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
            return Err(RequestError::HeadTooLarge)
        }
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(e) => return Err(from_httparse(e)),
    };
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        unreachable!("httparse fills method, path and version of a complete request")
    };

    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut close = false;
    let mut keep_alive = false;
    let mut host = false;
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

    let rest = &buf[head_len..];
    let (body, body_len) = if chunked {
        match chunked_len(rest)? {
            Some(n) => (Body::Chunked(&rest[..n]), n),
            None => return Ok(Parsed::Partial),
        }
    } else {
        match content_length {
            None | Some(0) => (Body::Empty, 0),
            Some(n) if n > MAX_BODY => return Err(RequestError::BodyTooLarge),
            Some(n) if rest.len() < n => return Ok(Parsed::Partial),
            Some(n) => (Body::Full(&rest[..n]), n),
        }
    };

    let keep_alive = !close && (minor_version == 1 || keep_alive);
    Ok(Parsed::Complete {
        request: Request {
            method,
            target,
            minor_version,
            keep_alive,
            body,
        },
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

fn parse_content_length(value: &[u8]) -> Result<usize, RequestError> {
    const BAD: RequestError = RequestError::Malformed("invalid Content-Length");
    let v = trim(value);
    if v.is_empty() || !v.iter().all(u8::is_ascii_digit) {
        return Err(BAD);
    }
    // Too many digits for usize means far too large anyway.
    std::str::from_utf8(v)
        .ok()
        .and_then(|s| s.parse::<usize>().ok())
        .ok_or(RequestError::BodyTooLarge)
}

/// The encoded length of the chunked body at the front of `buf`, including
/// the last chunk and trailers, or `None` if it is not all there yet.
fn chunked_len(buf: &[u8]) -> Result<Option<usize>, RequestError> {
    /// A chunk-size line, extensions included, longer than this is refused.
    const MAX_CHUNK_LINE: usize = 1024;
    const BAD: RequestError = RequestError::Malformed("invalid chunked body");
    let mut pos = 0;
    loop {
        if pos > MAX_BODY {
            return Err(RequestError::BodyTooLarge);
        }
        let (size_line, size) = match httparse::parse_chunk_size(&buf[pos..]) {
            Ok(httparse::Status::Complete(x)) => x,
            Ok(httparse::Status::Partial) if buf.len() - pos > MAX_CHUNK_LINE => return Err(BAD),
            Ok(httparse::Status::Partial) => return Ok(None),
            Err(_) => return Err(BAD),
        };
        pos += size_line;
        if size == 0 {
            // Trailer fields (usually none), then the empty line.
            let mut trailers = [httparse::EMPTY_HEADER; MAX_HEADERS];
            return match httparse::parse_headers(&buf[pos..], &mut trailers) {
                Ok(httparse::Status::Complete((n, _))) => Ok(Some(pos + n)),
                Ok(httparse::Status::Partial) if buf.len() - pos > MAX_HEAD => {
                    Err(RequestError::HeadTooLarge)
                }
                Ok(httparse::Status::Partial) => Ok(None),
                Err(httparse::Error::TooManyHeaders) => Err(RequestError::HeadTooLarge),
                Err(_) => Err(BAD),
            };
        }
        let size = usize::try_from(size)
            .ok()
            .filter(|&s| s <= MAX_BODY)
            .ok_or(RequestError::BodyTooLarge)?;
        let end = pos + size;
        if buf.len() < end + 2 {
            if end > MAX_BODY {
                return Err(RequestError::BodyTooLarge);
            }
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(BAD);
        }
        pos = end + 2;
    }
}
