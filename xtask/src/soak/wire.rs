//! What the soak's clients say and expect on the wire: HTTP/1.1 responses
//! and RESP replies read from a blocking stream, RESP commands written,
//! an abortive close, and a small random generator.

use std::io::{self, BufRead, BufReader, Read};
use std::net::TcpStream;
use std::os::fd::AsRawFd;

/// Longest line a reply may have before it counts as wrong (the servers'
/// replies are short; a runaway line means the stream is out of step).
const MAX_LINE: usize = 64 * 1024;

/// An HTTP/1.1 response, as far as the soak checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body (empty for a HEAD request).
    pub body: Vec<u8>,
    /// Whether the server said `Connection: close`.
    pub close: bool,
}

/// Reads one line ending in CRLF, without it.
fn line(r: &mut BufReader<TcpStream>) -> io::Result<String> {
    let mut buf = Vec::new();
    let n = r
        .by_ref()
        .take(MAX_LINE as u64)
        .read_until(b'\n', &mut buf)?;
    if n == 0 {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    if !buf.ends_with(b"\r\n") {
        return Err(invalid(format!(
            "line without CRLF: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(80)])
        )));
    }
    buf.truncate(buf.len() - 2);
    String::from_utf8(buf).map_err(|_| invalid("line is not UTF-8".into()))
}

/// An `InvalidData` error: the bytes arrived but are not what was expected.
pub fn invalid(what: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Reads one response; `head_only` for the answer to a HEAD request.
pub fn read_http(r: &mut BufReader<TcpStream>, head_only: bool) -> io::Result<HttpResponse> {
    let status_line = line(r)?;
    let mut words = status_line.split(' ');
    let status = match (words.next(), words.next().map(str::parse::<u16>)) {
        (Some("HTTP/1.1" | "HTTP/1.0"), Some(Ok(code))) => code,
        _ => return Err(invalid(format!("status line {status_line:?}"))),
    };
    let mut length = None;
    let mut close = false;
    loop {
        let header = line(r)?;
        if header.is_empty() {
            break;
        }
        let (name, value) = header
            .split_once(':')
            .ok_or_else(|| invalid(format!("header line {header:?}")))?;
        let value = value.trim();
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(
                value
                    .parse::<usize>()
                    .map_err(|_| invalid(format!("Content-Length {value:?}")))?,
            );
        } else if name.eq_ignore_ascii_case("connection") {
            close = value.eq_ignore_ascii_case("close");
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid(format!("unexpected Transfer-Encoding {value:?}")));
        }
    }
    let length = length.ok_or_else(|| invalid("no Content-Length".into()))?;
    let mut body = Vec::new();
    if !head_only {
        body.resize(length.min(MAX_LINE), 0);
        if length > MAX_LINE {
            return Err(invalid(format!("Content-Length {length} is too big")));
        }
        r.read_exact(&mut body)?;
    }
    Ok(HttpResponse {
        status,
        body,
        close,
    })
}

/// A RESP reply, as far as the soak checks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// `+text`.
    Simple(String),
    /// `-text`.
    Error(String),
    /// `:n`.
    Integer(i64),
    /// `$n` and its bytes; `None` for `$-1`.
    Bulk(Option<Vec<u8>>),
    /// `*n` and its elements; `None` for `*-1`.
    Array(Option<Vec<Reply>>),
}

/// Reads one reply. Bulk strings longer than `max_bulk` are an error.
pub fn read_reply(r: &mut BufReader<TcpStream>, max_bulk: usize) -> io::Result<Reply> {
    let l = line(r)?;
    let (kind, rest) = l.split_at(l.len().min(1));
    let number = || {
        rest.parse::<i64>()
            .map_err(|_| invalid(format!("reply {l:?}")))
    };
    Ok(match kind {
        "+" => Reply::Simple(rest.to_owned()),
        "-" => Reply::Error(rest.to_owned()),
        ":" => Reply::Integer(number()?),
        "$" => match number()? {
            -1 => Reply::Bulk(None),
            n if n >= 0 && n as usize <= max_bulk => {
                let mut data = vec![0; n as usize + 2];
                r.read_exact(&mut data)?;
                if !data.ends_with(b"\r\n") {
                    return Err(invalid("bulk string without CRLF".into()));
                }
                data.truncate(n as usize);
                Reply::Bulk(Some(data))
            }
            n => return Err(invalid(format!("bulk length {n}"))),
        },
        "*" => match number()? {
            -1 => Reply::Array(None),
            n if (0..=1024).contains(&n) => Reply::Array(Some(
                (0..n)
                    .map(|_| read_reply(r, max_bulk))
                    .collect::<io::Result<_>>()?,
            )),
            n => return Err(invalid(format!("array length {n}"))),
        },
        _ => return Err(invalid(format!("reply {l:?}"))),
    })
}

/// Appends a RESP multibulk command to `out`.
pub fn command(out: &mut Vec<u8>, args: &[&[u8]]) {
    out.extend_from_slice(format!("*{}\r\n", args.len()).as_bytes());
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
}

/// Closes `stream` with a reset (RST) instead of a FIN: `SO_LINGER` with a
/// zero timeout, then close.
pub fn reset(stream: TcpStream) {
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: the descriptor is open (we own `stream`), and `linger` is a
    // valid `struct linger` whose size is passed with it.
    unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&linger as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
    drop(stream);
}

/// A small xorshift generator: random enough to vary requests, seeded per
/// thread so runs differ.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded from `seed` and the clock.
    pub fn new(seed: u64) -> Rng {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        Rng((seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ nanos) | 1)
    }

    /// The next 64 random bits.
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }

    /// `n` random bytes.
    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::TcpListener;

    /// A reader over what a peer sent: `bytes`, then EOF.
    fn reader(bytes: &[u8]) -> BufReader<TcpStream> {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        client.write_all(bytes).unwrap();
        drop(client);
        BufReader::new(server)
    }

    #[test]
    fn http_responses_with_and_without_body() {
        let mut r = reader(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 404 Not Found\r\nContent-Length: 3\r\nConnection: close\r\n\r\n");
        let ok = read_http(&mut r, false).unwrap();
        assert_eq!(
            (ok.status, ok.body.as_slice(), ok.close),
            (200, &b"hello"[..], false)
        );
        let head = read_http(&mut r, true).unwrap();
        assert_eq!((head.status, head.body.len(), head.close), (404, 0, true));
        assert_eq!(
            read_http(&mut r, false).unwrap_err().kind(),
            io::ErrorKind::UnexpectedEof
        );
        let mut bad = reader(b"SSH-2.0\r\n\r\n");
        assert_eq!(
            read_http(&mut bad, false).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }

    #[test]
    fn resp_replies_round_trip_commands() {
        let mut out = Vec::new();
        command(&mut out, &[b"SET", b"k", b"a\r\nb"]);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\na\r\nb\r\n");
        let mut r =
            reader(b"+OK\r\n-ERR no\r\n:42\r\n$4\r\na\r\nb\r\n$-1\r\n*2\r\n:1\r\n$0\r\n\r\n");
        assert_eq!(read_reply(&mut r, 10).unwrap(), Reply::Simple("OK".into()));
        assert_eq!(
            read_reply(&mut r, 10).unwrap(),
            Reply::Error("ERR no".into())
        );
        assert_eq!(read_reply(&mut r, 10).unwrap(), Reply::Integer(42));
        assert_eq!(
            read_reply(&mut r, 10).unwrap(),
            Reply::Bulk(Some(b"a\r\nb".to_vec()))
        );
        assert_eq!(read_reply(&mut r, 10).unwrap(), Reply::Bulk(None));
        assert_eq!(
            read_reply(&mut r, 10).unwrap(),
            Reply::Array(Some(vec![Reply::Integer(1), Reply::Bulk(Some(vec![]))]))
        );
        let mut long = reader(b"$11\r\nhello world\r\n");
        assert!(read_reply(&mut long, 10).is_err());
    }

    #[test]
    fn rng_ranges_stay_inside() {
        let mut rng = Rng::new(7);
        for _ in 0..1000 {
            let v = rng.range(3, 5);
            assert!((3..=5).contains(&v));
        }
    }
}
