//! Parser tests: partial input, pipelined input, garbage.

use super::*;

fn args(buf: &[u8]) -> (Vec<Vec<u8>>, usize) {
    match parse_command(buf) {
        Ok(Some((args, len))) => (args.into_iter().map(|a| a.into_owned()).collect(), len),
        other => panic!("expected a command in {buf:?}, got {other:?}"),
    }
}

fn error_of(buf: &[u8]) -> String {
    parse_command(buf).unwrap_err().reply()
}

const SET: &[u8] = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nva\r\nl\r\n";

#[test]
fn a_multibulk_command_parses() {
    let (a, len) = args(SET);
    assert_eq!(len, SET.len());
    assert_eq!(a, [&b"SET"[..], b"key", b"va\r\nl"]);
}

#[test]
fn every_prefix_is_incomplete() {
    for cut in 0..SET.len() {
        assert_eq!(parse_command(&SET[..cut]), Ok(None), "cut at {cut}");
    }
    let inline = b"SET key \"a b\"\r\n";
    for cut in 0..inline.len() {
        assert_eq!(parse_command(&inline[..cut]), Ok(None), "cut at {cut}");
    }
}

#[test]
fn pipelined_commands_parse_one_after_another() {
    let mut buf = Vec::new();
    for _ in 0..3 {
        buf.extend_from_slice(SET);
        buf.extend_from_slice(b"PING\r\n");
    }
    buf.extend_from_slice(b"*1\r\n$4\r\nPI");
    let mut pos = 0;
    let mut names = Vec::new();
    while let Some((a, len)) = parse_command(&buf[pos..]).unwrap() {
        names.push(a[0].to_vec());
        pos += len;
    }
    assert_eq!(
        names,
        [&b"SET"[..], b"PING", b"SET", b"PING", b"SET", b"PING"]
    );
    assert_eq!(&buf[pos..], b"*1\r\n$4\r\nPI");
}

#[test]
fn inline_commands_split_like_redis() {
    assert_eq!(args(b"PING\r\n"), (vec![b"PING".to_vec()], 6));
    assert_eq!(args(b"PING\n").0, [b"PING"]);
    assert_eq!(args(b"  set  k   v \r\n").0, [&b"set"[..], b"k", b"v"]);
    assert_eq!(
        args(b"SET k \"a b\\n\\x41\" 'it\\'s'\r\n").0,
        [&b"SET"[..], b"k", b"a b\nA", b"it's"]
    );
    // A quote may open mid-argument, but a closing one must end it.
    assert_eq!(args(b"a\"b c\" d\r\n").0, [&b"ab c"[..], b"d"]);
    assert_eq!(args(b"\"\"\r\n").0, [b""]);
}

#[test]
fn blank_lines_and_empty_arrays_are_no_ops() {
    assert_eq!(args(b"\r\n"), (vec![], 2));
    assert_eq!(args(b"   \n"), (vec![], 4));
    assert_eq!(args(b"*0\r\n"), (vec![], 4));
    assert_eq!(args(b"*-1\r\n"), (vec![], 5));
}

#[test]
fn garbage_is_a_protocol_error() {
    let cases: &[(&[u8], &str)] = &[
        (b"*x\r\n", "invalid multibulk length"),
        (b"*+1\r\n", "invalid multibulk length"),
        (b"*1\rX", "invalid multibulk length"),
        (b"*99999999999\r\n", "invalid multibulk length"),
        (b"*1\r\n:5\r\n", "expected '$', got ':'"),
        (b"*1\r\n$-1\r\n", "invalid bulk length"),
        (b"*1\r\n$abc\r\n", "invalid bulk length"),
        (b"*1\r\n$999999999999\r\n", "invalid bulk length"),
        (b"*1\r\n$3\r\nGETX\r\n", "expected CRLF after bulk string"),
        (b"SET k \"v\r\n", "unbalanced quotes in request"),
        (b"SET k \"v\"x\r\n", "unbalanced quotes in request"),
        (b"SET k 'v\r\n", "unbalanced quotes in request"),
    ];
    for (buf, what) in cases {
        assert_eq!(
            error_of(buf),
            format!("ERR Protocol error: {what}"),
            "{buf:?}"
        );
    }
}

#[test]
fn endless_lines_are_refused_not_buffered() {
    let long = vec![b'a'; MAX_INLINE + 1];
    assert_eq!(
        error_of(&long),
        "ERR Protocol error: too big inline request"
    );
    let mut count = b"*".to_vec();
    count.extend(std::iter::repeat(b'1').take(MAX_INLINE + 1));
    assert_eq!(
        error_of(&count),
        "ERR Protocol error: too big mbulk count string"
    );
    let mut bulk = b"*1\r\n$".to_vec();
    bulk.extend(std::iter::repeat(b'1').take(MAX_INLINE + 1));
    assert_eq!(
        error_of(&bulk),
        "ERR Protocol error: too big bulk count string"
    );
}

#[test]
fn binary_payloads_pass_through() {
    let mut buf = b"*2\r\n$4\r\nECHO\r\n$256\r\n".to_vec();
    let payload: Vec<u8> = (0..=255).collect();
    buf.extend_from_slice(&payload);
    buf.extend_from_slice(b"\r\n");
    let (a, len) = args(&buf);
    assert_eq!(len, buf.len());
    assert_eq!(a[1], payload);
}
