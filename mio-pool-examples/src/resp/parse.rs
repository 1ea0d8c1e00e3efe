//! Incremental parsing of client commands: RESP2 arrays of bulk strings, and
//! inline commands (`PING\r\n`) as typed into `telnet`.
//!
//! A [`Parser`] looks at the front of a connection's unconsumed input and
//! returns one command with its length, `Ok(None)` when more bytes are
//! needed, or a [`ProtocolError`] after which the connection cannot be
//! resynchronised. Between calls it keeps its position in the unfinished
//! command as Redis does (the argument count, the arguments found so far,
//! the length of the bulk string it waits for, how far it searched for a
//! line end), so a command that arrives one byte at a time costs what it
//! costs in one read: each byte is examined a bounded number of times.
//!
//! # State
//!
//! | field       | meaning (offsets from the front of the input, the command's start) |
//! |-------------|----------------------------------------------------------|
//! | `count`     | `None` before the `*<n>` line is parsed; then `n`         |
//! | `spans`     | where each complete bulk argument lies                   |
//! | `pos`       | where the next unparsed element (a `$` line or payload) starts |
//! | `bulk`      | `Some(len)` once the current `$<len>` line is parsed      |
//! | `scan`      | bytes before this offset hold no line end of the line being searched |
//!
//! Returning a command, or an error, resets every field: the next call sees
//! the next command at the front of its input. Between calls the caller may
//! only *append* to the input (the connection's read buffer grows at its
//! end); a shorter input than the parser has seen means a new command and
//! resets the parser.

use std::borrow::Cow;
use std::fmt;

/// The longest inline command, and the longest `*<n>` / `$<n>` line, that is
/// accepted (as in Redis).
pub const MAX_INLINE: usize = 64 * 1024;

/// The most arguments one command may have (as Redis's `*` limit).
pub const MAX_ARGS: usize = 1024 * 1024;

/// The longest bulk string accepted (Redis allows 512 MiB; an example server
/// need not).
pub const MAX_BULK: usize = 64 * 1024 * 1024;

/// The default of [`Parser::max_request`]: the most bytes one command may
/// take (Redis buffers up to 1 GiB per client, `client-query-buffer-limit`,
/// and 512 MiB per argument, `proto-max-bulk-len`; a value of this server
/// is held in memory whole and copied per worker, so 64 MiB, the largest
/// value, plus its command, is what one client may make us hold).
pub const MAX_REQUEST: usize = MAX_BULK + 1024 * 1024;

/// One command's arguments, the name first. Bulk strings borrow from the
/// read buffer; inline arguments with quotes are owned.
pub type Args<'a> = Vec<Cow<'a, [u8]>>;

/// A violation of the protocol. The reply is `-ERR Protocol error: ...`
/// (see [`ProtocolError::reply`]), after which the connection is closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(String);

impl ProtocolError {
    fn new(what: impl Into<String>) -> ProtocolError {
        ProtocolError(what.into())
    }

    /// The error reply's text, without the leading `-`: the same words as
    /// Redis uses, e.g. `ERR Protocol error: invalid bulk length`.
    pub fn reply(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "protocol error: {}", self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Parses the command at the front of `buf` with a fresh [`Parser`]: for
/// input that is all there. A connection keeps a [`Parser`] instead, so
/// that a command split over many reads is not parsed again from its start.
pub fn parse_command(buf: &[u8]) -> Result<Option<(Args<'_>, usize)>, ProtocolError> {
    Parser::new().parse(buf)
}

/// An incremental command parser, one per connection.
///
/// Between calls it keeps its position in the unfinished command as Redis
/// does: the argument count, where the arguments found so far lie, the
/// length of the bulk string it waits for, and how far it searched for the
/// end of the current line. Returning a command or an error resets it: the
/// next call sees the next command at the front of its input. Between calls
/// the caller may only *append* to the input (a connection's read buffer
/// grows at its end); an input shorter than the last one is taken as a new
/// command.
///
/// ```
/// use mio_pool_examples::resp::Parser;
///
/// let cmd = b"*2\r\n$4\r\nECHO\r\n$5\r\nhello\r\n";
/// let mut p = Parser::new();
/// // The command arrives one byte at a time, in a growing buffer.
/// for end in 1..cmd.len() {
///     assert_eq!(p.parse(&cmd[..end]), Ok(None));
/// }
/// let (args, len) = p.parse(cmd).unwrap().unwrap();
/// assert_eq!(args, [&b"ECHO"[..], b"hello"]);
/// assert_eq!(len, cmd.len());
/// // Each byte was looked at a bounded number of times, not once per call.
/// assert!(p.examined() <= 3 * cmd.len() as u64);
/// ```
#[derive(Debug, Clone)]
pub struct Parser {
    count: Option<usize>,
    spans: Vec<(usize, usize)>,
    pos: usize,
    bulk: Option<usize>,
    scan: usize,
    /// The input length seen by the last call, to detect a new command.
    seen: usize,
    examined: u64,
    max_request: usize,
}

impl Default for Parser {
    fn default() -> Parser {
        Parser::new()
    }
}

/// Why a `*<n>` or `$<n>` line was refused.
enum LineError {
    /// Not an integer, or not ended by CRLF.
    Invalid,
    /// Longer than [`MAX_INLINE`].
    TooLong,
}

impl Parser {
    /// A parser at the start of a command, with [`MAX_REQUEST`] as its
    /// request limit.
    pub fn new() -> Parser {
        Parser {
            count: None,
            spans: Vec::new(),
            pos: 0,
            bulk: None,
            scan: 0,
            seen: 0,
            examined: 0,
            max_request: MAX_REQUEST,
        }
    }

    /// The most bytes one command may take; a command announced or found to
    /// be larger is a [`ProtocolError`] (`request larger than N bytes`)
    /// as soon as that is known, before its bytes are buffered.
    pub fn max_request(&self) -> usize {
        self.max_request
    }

    /// Sets [`Parser::max_request`].
    pub fn set_max_request(&mut self, bytes: usize) {
        self.max_request = bytes;
    }

    /// Input bytes examined so far over the parser's life: what a command's
    /// parse costs, however its bytes were split between calls.
    pub fn examined(&self) -> u64 {
        self.examined
    }

    /// Parses the command at the front of `input`, resuming where the
    /// previous call on the same, longer-grown, command stopped.
    ///
    /// Returns `Ok(Some((args, len)))` for a command occupying `len` bytes;
    /// an empty `args` (a blank inline line or `*0`) is a no-op that needs
    /// no reply. Returns `Ok(None)` if the command is incomplete: call again
    /// with the same input and more bytes after it. A [`ProtocolError`]
    /// means the stream cannot be resynchronised: reply with it and close,
    /// as Redis does.
    pub fn parse<'a>(
        &mut self,
        input: &'a [u8],
    ) -> Result<Option<(Args<'a>, usize)>, ProtocolError> {
        if input.len() < self.seen {
            self.reset();
        }
        self.seen = input.len();
        let result = match input.first() {
            None => Ok(None),
            Some(b'*') => match self.multibulk(input) {
                // Whatever the lines announced, never hold more than the
                // limit of an unfinished command.
                Ok(None) if input.len() > self.max_request => Err(self.too_large()),
                other => other,
            },
            Some(_) => self.inline(input),
        };
        match result {
            Ok(None) => {}
            Ok(Some(_)) | Err(_) => self.reset(),
        }
        result
    }

    /// Forgets the command in progress.
    fn reset(&mut self) {
        self.count = None;
        self.spans.clear();
        if self.spans.capacity() > 1024 {
            self.spans = Vec::new();
        }
        self.pos = 0;
        self.bulk = None;
        self.scan = 0;
        self.seen = 0;
    }

    fn too_large(&self) -> ProtocolError {
        ProtocolError::new(format!("request larger than {} bytes", self.max_request))
    }

    /// The position of the first `byte` at or after `start`, searching only
    /// bytes not searched before (`scan`); `None` if it is not there yet.
    fn find(&mut self, buf: &[u8], start: usize, byte: u8) -> Option<usize> {
        let from = self.scan.max(start);
        match buf[from..].iter().position(|&b| b == byte) {
            Some(i) => {
                self.examined += i as u64 + 1;
                self.scan = from + i;
                Some(from + i)
            }
            None => {
                self.examined += (buf.len() - from) as u64;
                self.scan = buf.len();
                None
            }
        }
    }

    /// The integer on the line starting at `start`, and the offset after its
    /// CRLF; `None` if the line is not complete.
    fn line_int(&mut self, buf: &[u8], start: usize) -> Result<Option<(i64, usize)>, LineError> {
        let Some(cr) = self.find(buf, start, b'\r') else {
            return if buf.len() - start > MAX_INLINE {
                Err(LineError::TooLong)
            } else {
                Ok(None)
            };
        };
        if cr - start > MAX_INLINE {
            return Err(LineError::TooLong);
        }
        match buf.get(cr + 1) {
            None => return Ok(None),
            Some(b'\n') => {}
            Some(_) => return Err(LineError::Invalid),
        }
        self.examined += (cr - start) as u64;
        let n = std::str::from_utf8(&buf[start..cr])
            .ok()
            .filter(|s| !s.starts_with('+'))
            .and_then(|s| s.parse::<i64>().ok())
            .ok_or(LineError::Invalid)?;
        self.scan = cr + 2;
        Ok(Some((n, cr + 2)))
    }

    fn multibulk<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Args<'a>, usize)>, ProtocolError> {
        let count = match self.count {
            Some(n) => n,
            None => {
                let (count, pos) = match self.line_int(buf, 1) {
                    Ok(Some(x)) => x,
                    Ok(None) => return Ok(None),
                    Err(LineError::TooLong) => {
                        return Err(ProtocolError::new("too big mbulk count string"))
                    }
                    Err(LineError::Invalid) => {
                        return Err(ProtocolError::new("invalid multibulk length"))
                    }
                };
                if count <= 0 {
                    return Ok(Some((Vec::new(), pos)));
                }
                let count = usize::try_from(count)
                    .ok()
                    .filter(|&n| n <= MAX_ARGS)
                    .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
                // Each argument takes at least `$0\r\n\r\n`.
                if pos.saturating_add(count.saturating_mul(6)) > self.max_request {
                    return Err(self.too_large());
                }
                self.count = Some(count);
                self.pos = pos;
                count
            }
        };
        while self.spans.len() < count {
            let len = match self.bulk {
                Some(len) => len,
                None => {
                    let pos = self.pos;
                    match buf.get(pos) {
                        None => return Ok(None),
                        Some(b'$') => {}
                        Some(&other) => {
                            return Err(ProtocolError::new(format!(
                                "expected '$', got '{}'",
                                char::from(other).escape_default()
                            )))
                        }
                    }
                    let (len, start) = match self.line_int(buf, pos + 1) {
                        Ok(Some(x)) => x,
                        Ok(None) => return Ok(None),
                        Err(LineError::TooLong) => {
                            return Err(ProtocolError::new("too big bulk count string"))
                        }
                        Err(LineError::Invalid) => {
                            return Err(ProtocolError::new("invalid bulk length"))
                        }
                    };
                    let len = usize::try_from(len)
                        .ok()
                        .filter(|&n| n <= MAX_BULK)
                        .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
                    // This argument, and at least `$0\r\n\r\n` for each one after it.
                    let rest = (count - self.spans.len() - 1).saturating_mul(6);
                    if start.saturating_add(len + 2).saturating_add(rest) > self.max_request {
                        return Err(self.too_large());
                    }
                    self.pos = start;
                    self.bulk = Some(len);
                    len
                }
            };
            let start = self.pos;
            let end = start + len;
            if buf.len() < end + 2 {
                return Ok(None);
            }
            self.examined += 2;
            if &buf[end..end + 2] != b"\r\n" {
                return Err(ProtocolError::new("expected CRLF after bulk string"));
            }
            self.spans.push((start, end));
            self.pos = end + 2;
            self.bulk = None;
        }
        let args = self
            .spans
            .iter()
            .map(|&(start, end)| Cow::Borrowed(&buf[start..end]))
            .collect();
        Ok(Some((args, self.pos)))
    }

    fn inline<'a>(&mut self, buf: &'a [u8]) -> Result<Option<(Args<'a>, usize)>, ProtocolError> {
        let Some(nl) = self.find(buf, 0, b'\n') else {
            return if buf.len() > MAX_INLINE {
                Err(ProtocolError::new("too big inline request"))
            } else {
                Ok(None)
            };
        };
        if nl > MAX_INLINE {
            return Err(ProtocolError::new("too big inline request"));
        }
        self.examined += nl as u64;
        let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
        let args = split_args(line)
            .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?
            .into_iter()
            .map(Cow::Owned)
            .collect();
        Ok(Some((args, nl + 1)))
    }
}

/// Splits an inline command line like Redis's `sdssplitargs`: arguments are
/// separated by white space; `"..."` understands `\n \r \t \b \a \xHH` and
/// `\<c>`; `'...'` understands `\'`; a closing quote must be followed by
/// white space or the end. `None` on unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while line.get(i).is_some_and(u8::is_ascii_whitespace) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let mut arg = Vec::new();
        let mut quote: Option<u8> = None;
        loop {
            let c = line.get(i).copied();
            match (quote, c) {
                (Some(_), None) => return None,
                (None, None) => break,
                (None, Some(c)) if c.is_ascii_whitespace() => break,
                (None, Some(q @ (b'"' | b'\''))) => quote = Some(q),
                (None, Some(c)) => arg.push(c),
                (Some(q), Some(c)) if c == q => {
                    // A closing quote must end the argument.
                    if line.get(i + 1).is_some_and(|b| !b.is_ascii_whitespace()) {
                        return None;
                    }
                    i += 1;
                    break;
                }
                (Some(b'"'), Some(b'\\')) => {
                    let hex = line.get(i + 2..i + 4).and_then(|h| {
                        let h = std::str::from_utf8(h).ok()?;
                        u8::from_str_radix(h, 16).ok()
                    });
                    match (line.get(i + 1), hex) {
                        (Some(b'x'), Some(byte)) => {
                            arg.push(byte);
                            i += 2;
                        }
                        (Some(&e), _) => arg.push(match e {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        }),
                        (None, _) => return None,
                    }
                    i += 1;
                }
                (Some(b'\''), Some(b'\\')) if line.get(i + 1) == Some(&b'\'') => {
                    arg.push(b'\'');
                    i += 1;
                }
                (Some(_), Some(c)) => arg.push(c),
            }
            i += 1;
        }
        args.push(arg);
    }
}
