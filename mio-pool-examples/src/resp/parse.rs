//! Incremental parsing of client commands: RESP2 arrays of bulk strings, and
//! inline commands (`PING\r\n`) as typed into `telnet`.
//!
//! [`parse_command`] looks at the front of a read buffer and returns one
//! command with its length, `Ok(None)` when more bytes are needed, or a
//! [`ProtocolError`] after which the connection cannot be resynchronised.
//! It keeps no state: a command split over many reads is parsed again from
//! its start when more bytes arrive. Bulk payloads are skipped by length, so
//! that re-parse costs only the headers.

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

/// Parses the command at the front of `buf`.
///
/// Returns `Ok(Some((args, len)))` for a command occupying `len` bytes; an
/// empty `args` (a blank inline line or `*0`) is a no-op that needs no reply.
/// Returns `Ok(None)` if the command is incomplete: call again with more
/// bytes; the command is parsed again from its start, which costs only its
/// `*`/`$` lines since bulk payloads are skipped by length. A
/// [`ProtocolError`] means the stream cannot be resynchronised: reply with
/// it and close, as Redis does.
pub fn parse_command(buf: &[u8]) -> Result<Option<(Args<'_>, usize)>, ProtocolError> {
    match buf.first() {
        None => Ok(None),
        Some(b'*') => parse_multibulk(buf),
        Some(_) => parse_inline(buf),
    }
}

/// Why a `*<n>` or `$<n>` line was refused.
enum LineError {
    /// Not an integer, or not ended by CRLF.
    Invalid,
    /// Longer than [`MAX_INLINE`].
    TooLong,
}

/// The integer on the line starting at `start`, and the offset after its
/// CRLF; `None` if the line is not complete.
fn line_int(buf: &[u8], start: usize) -> Result<Option<(i64, usize)>, LineError> {
    let rest = &buf[start..];
    let Some(cr) = rest.iter().position(|&b| b == b'\r') else {
        return if rest.len() > MAX_INLINE {
            Err(LineError::TooLong)
        } else {
            Ok(None)
        };
    };
    if cr > MAX_INLINE {
        return Err(LineError::TooLong);
    }
    match rest.get(cr + 1) {
        None => return Ok(None),
        Some(b'\n') => {}
        Some(_) => return Err(LineError::Invalid),
    }
    let n = std::str::from_utf8(&rest[..cr])
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or(LineError::Invalid)?;
    Ok(Some((n, start + cr + 2)))
}

fn parse_multibulk(buf: &[u8]) -> Result<Option<(Args<'_>, usize)>, ProtocolError> {
    let (count, mut pos) = match line_int(buf, 1) {
        Ok(Some(x)) => x,
        Ok(None) => return Ok(None),
        Err(LineError::TooLong) => return Err(ProtocolError::new("too big mbulk count string")),
        Err(LineError::Invalid) => return Err(ProtocolError::new("invalid multibulk length")),
    };
    if count <= 0 {
        return Ok(Some((Vec::new(), pos)));
    }
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= MAX_ARGS)
        .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
    let mut args = Vec::with_capacity(count.min(64));
    for _ in 0..count {
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
        let (len, start) = match line_int(buf, pos + 1) {
            Ok(Some(x)) => x,
            Ok(None) => return Ok(None),
            Err(LineError::TooLong) => return Err(ProtocolError::new("too big bulk count string")),
            Err(LineError::Invalid) => return Err(ProtocolError::new("invalid bulk length")),
        };
        let len = usize::try_from(len)
            .ok()
            .filter(|&n| n <= MAX_BULK)
            .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
        let end = start + len;
        if buf.len() < end + 2 {
            return Ok(None);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(ProtocolError::new("expected CRLF after bulk string"));
        }
        args.push(Cow::Borrowed(&buf[start..end]));
        pos = end + 2;
    }
    Ok(Some((args, pos)))
}

fn parse_inline(buf: &[u8]) -> Result<Option<(Args<'_>, usize)>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&b| b == b'\n') else {
        return if buf.len() > MAX_INLINE {
            Err(ProtocolError::new("too big inline request"))
        } else {
            Ok(None)
        };
    };
    if nl > MAX_INLINE {
        return Err(ProtocolError::new("too big inline request"));
    }
    let line = buf[..nl].strip_suffix(b"\r").unwrap_or(&buf[..nl]);
    let args = split_args(line)
        .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?
        .into_iter()
        .map(Cow::Owned)
        .collect();
    Ok(Some((args, nl + 1)))
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
