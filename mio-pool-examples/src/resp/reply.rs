//! Replies in the protocol version a connection asked for: RESP2, or RESP3
//! after `HELLO 3`.
//!
//! [`Reply`] wraps a connection's output buffer and writes each kind of
//! reply as redis-server 7 does in that version. RESP3 adds types; in RESP2
//! each falls back to the RESP2 shape Redis uses for it:
//!
//! | reply            | RESP2                        | RESP3              |
//! |------------------|------------------------------|--------------------|
//! | null             | `$-1` (bulk) or `*-1` (array)| `_`                |
//! | map of n pairs   | array of 2n elements         | `%n`               |
//! | set of n         | array of n                   | `~n`               |
//! | verbatim text    | bulk string                  | `=len` + `txt:`    |
//!
//! ```
//! use mio_pool_examples::resp::{Proto, Reply};
//!
//! let mut buf = Vec::new();
//! let mut r = Reply::new(&mut buf, Proto::Resp3);
//! r.map_len(1);
//! r.bulk(b"proto");
//! r.integer(3);
//! r.null();
//! assert_eq!(buf, b"%1\r\n$5\r\nproto\r\n:3\r\n_\r\n");
//! ```

use std::io::Write;

use super::encode;

/// The protocol version of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Proto {
    /// RESP2, what every connection starts with.
    #[default]
    Resp2,
    /// RESP3, after `HELLO 3`.
    Resp3,
}

/// Writes replies in one protocol version into an output buffer.
#[derive(Debug)]
pub struct Reply<'a> {
    out: &'a mut Vec<u8>,
    proto: Proto,
}

impl<'a> Reply<'a> {
    /// Replies appended to `out`, in `proto`.
    pub fn new(out: &'a mut Vec<u8>, proto: Proto) -> Reply<'a> {
        Reply { out, proto }
    }

    /// The protocol version replies are written in.
    pub fn proto(&self) -> Proto {
        self.proto
    }

    /// Switches the version for the replies that follow (`HELLO`, `RESET`).
    pub fn set_proto(&mut self, proto: Proto) {
        self.proto = proto;
    }

    /// The bytes queued so far (the connection's output backlog).
    pub fn len(&self) -> usize {
        self.out.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.out.is_empty()
    }

    /// The underlying buffer, for replies built elsewhere.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        self.out
    }

    /// A simple string, e.g. `+OK`.
    pub fn simple(&mut self, s: &str) {
        encode::simple(self.out, s);
    }

    /// `+OK`.
    pub fn ok(&mut self) {
        self.simple("OK");
    }

    /// An error; `msg` starts with its code, e.g. `ERR syntax error`.
    pub fn error(&mut self, msg: &str) {
        encode::error(self.out, msg);
    }

    /// An integer.
    pub fn integer(&mut self, n: i64) {
        encode::integer(self.out, n);
    }

    /// A bulk string.
    pub fn bulk(&mut self, bytes: &[u8]) {
        encode::bulk(self.out, bytes);
    }

    /// A bulk string, or null for `None`.
    pub fn bulk_or_null(&mut self, bytes: Option<&[u8]>) {
        match bytes {
            Some(b) => self.bulk(b),
            None => self.null(),
        }
    }

    /// The null that replaces a string: `$-1` in RESP2, `_` in RESP3.
    pub fn null(&mut self) {
        match self.proto {
            Proto::Resp2 => encode::null(self.out),
            Proto::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// The null that replaces an array (`EXEC` after a `WATCH` conflict):
    /// `*-1` in RESP2, `_` in RESP3.
    pub fn null_array(&mut self) {
        match self.proto {
            Proto::Resp2 => self.out.extend_from_slice(b"*-1\r\n"),
            Proto::Resp3 => self.out.extend_from_slice(b"_\r\n"),
        }
    }

    /// The header of an array of `len` elements, which follow.
    pub fn array_len(&mut self, len: usize) {
        encode::array_len(self.out, len);
    }

    /// The header of a map of `pairs` key-value pairs, which follow (key,
    /// value, key, value...): `%n` in RESP3, an array of `2n` in RESP2.
    pub fn map_len(&mut self, pairs: usize) {
        match self.proto {
            Proto::Resp2 => self.array_len(2 * pairs),
            Proto::Resp3 => {
                let _ = write!(self.out, "%{pairs}\r\n");
            }
        }
    }

    /// The header of a set of `len` elements, which follow: `~n` in
    /// RESP3, an array in RESP2.
    pub fn set_len(&mut self, len: usize) {
        match self.proto {
            Proto::Resp2 => self.array_len(len),
            Proto::Resp3 => {
                let _ = write!(self.out, "~{len}\r\n");
            }
        }
    }

    /// Text meant for people (`INFO`, `CLIENT INFO`): a verbatim string of
    /// format `txt` in RESP3, a bulk string in RESP2.
    pub fn verbatim(&mut self, text: &str) {
        match self.proto {
            Proto::Resp2 => self.bulk(text.as_bytes()),
            Proto::Resp3 => {
                let _ = write!(self.out, "={}\r\ntxt:", text.len() + 4);
                self.out.extend_from_slice(text.as_bytes());
                self.out.extend_from_slice(b"\r\n");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(f: impl Fn(&mut Reply<'_>)) -> (String, String) {
        let run = |proto| {
            let mut buf = Vec::new();
            f(&mut Reply::new(&mut buf, proto));
            String::from_utf8(buf).unwrap()
        };
        (run(Proto::Resp2), run(Proto::Resp3))
    }

    #[test]
    fn resp3_types_fall_back_to_resp2_shapes() {
        assert_eq!(both(|r| r.null()), ("$-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.null_array()), ("*-1\r\n".into(), "_\r\n".into()));
        assert_eq!(both(|r| r.map_len(2)), ("*4\r\n".into(), "%2\r\n".into()));
        assert_eq!(both(|r| r.set_len(3)), ("*3\r\n".into(), "~3\r\n".into()));
        assert_eq!(
            both(|r| r.verbatim("a\r\nb")),
            ("$4\r\na\r\nb\r\n".into(), "=8\r\ntxt:a\r\nb\r\n".into())
        );
        assert_eq!(both(|r| r.ok()), ("+OK\r\n".into(), "+OK\r\n".into()));
    }
}
