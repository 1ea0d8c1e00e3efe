//! Writing RESP2 replies into a connection's write buffer.
//!
//! Each function appends one reply (or, for [`array_len`], the header of an
//! array whose elements follow).

use std::io::Write;

/// `+<s>\r\n`, e.g. `+OK`. `s` must not contain CR or LF.
pub fn simple(out: &mut Vec<u8>, s: &str) {
    debug_assert!(!s.contains(['\r', '\n']));
    out.push(b'+');
    out.extend_from_slice(s.as_bytes());
    out.extend_from_slice(b"\r\n");
}

/// `-<msg>\r\n`. `msg` starts with the error code, e.g. `ERR syntax error`;
/// CR and LF in it (it may quote client input) are replaced by spaces.
pub fn error(out: &mut Vec<u8>, msg: &str) {
    out.push(b'-');
    out.extend(
        msg.bytes()
            .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
    );
    out.extend_from_slice(b"\r\n");
}

/// `:<n>\r\n`.
pub fn integer(out: &mut Vec<u8>, n: i64) {
    // Writing to a Vec cannot fail.
    let _ = write!(out, ":{n}\r\n");
}

/// `$<len>\r\n<bytes>\r\n`.
pub fn bulk(out: &mut Vec<u8>, bytes: &[u8]) {
    let _ = write!(out, "${}\r\n", bytes.len());
    out.extend_from_slice(bytes);
    out.extend_from_slice(b"\r\n");
}

/// A bulk string, or the null bulk string `$-1\r\n` for `None`.
pub fn bulk_or_null(out: &mut Vec<u8>, bytes: Option<&[u8]>) {
    match bytes {
        Some(b) => bulk(out, b),
        None => null(out),
    }
}

/// The null bulk string `$-1\r\n`.
pub fn null(out: &mut Vec<u8>) {
    out.extend_from_slice(b"$-1\r\n");
}

/// `*<len>\r\n`; the caller then writes `len` elements.
pub fn array_len(out: &mut Vec<u8>, len: usize) {
    let _ = write!(out, "*{len}\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_are_framed() {
        let mut out = Vec::new();
        simple(&mut out, "OK");
        error(&mut out, "ERR bad\r\nthing");
        integer(&mut out, -7);
        bulk(&mut out, b"a\r\nb");
        bulk_or_null(&mut out, None);
        array_len(&mut out, 2);
        assert_eq!(
            out,
            b"+OK\r\n-ERR bad  thing\r\n:-7\r\n$4\r\na\r\nb\r\n$-1\r\n*2\r\n"
        );
    }
}
