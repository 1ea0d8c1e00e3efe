//! Parser tests: partial input, pipelined input, garbage.

use super::*;
use std::borrow::Cow;

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

/// Feeds `cmd` to one parser one byte at a time, as a connection's growing
/// read buffer; returns the parsed arguments and the bytes examined.
fn trickle(cmd: &[u8]) -> (usize, u64) {
    let mut p = Parser::new();
    for end in 1..cmd.len() {
        assert_eq!(p.parse(&cmd[..end]), Ok(None), "complete at {end}");
    }
    let (args, len) = p.parse(cmd).unwrap().unwrap();
    assert_eq!(len, cmd.len());
    (args.len(), p.examined())
}

#[test]
fn a_command_trickled_byte_by_byte_costs_linear_work() {
    // A long multibulk (many `$` lines) and a long inline command: the
    // parser must not search again from the command's start on each byte.
    let n = 20_000;
    let mut cmd = format!("*{}\r\n$4\r\nMSET\r\n", n + 1).into_bytes();
    for i in 0..n {
        let v = format!("v{i}");
        cmd.extend_from_slice(format!("${}\r\n{v}\r\n", v.len()).as_bytes());
    }
    let (args, examined) = trickle(&cmd);
    assert_eq!(args, n + 1);
    assert!(
        examined <= 3 * cmd.len() as u64,
        "{examined} bytes examined for a {}-byte command",
        cmd.len()
    );

    let mut inline = b"MSET".to_vec();
    for i in 0..n / 4 {
        inline.extend_from_slice(format!(" k{i}").as_bytes());
    }
    assert!(inline.len() < MAX_INLINE);
    inline.extend_from_slice(b"\r\n");
    let (args, examined) = trickle(&inline);
    assert_eq!(args, n / 4 + 1);
    assert!(
        examined <= 3 * inline.len() as u64,
        "{examined} for {}",
        inline.len()
    );
}

#[test]
fn a_parser_resumes_across_pipelined_commands() {
    let mut p = Parser::new();
    let two = [SET, b"PING\r\n"].concat();
    let (a, len) = p.parse(&two).unwrap().unwrap();
    assert_eq!((a.len(), len), (3, SET.len()));
    // The next call sees the rest: a new command, not the old one's tail.
    let (a, len) = p.parse(&two[SET.len()..]).unwrap().unwrap();
    assert_eq!((a, len), (vec![Cow::Borrowed(&b"PING"[..])], 6));
    assert_eq!(p.parse(b"*1\r\n$4\r\nPI"), Ok(None));
    // A shorter input than before is a new command.
    assert_eq!(p.parse(b"PI"), Ok(None));
    assert_eq!(p.parse(b"PING\n").unwrap().unwrap().1, 5);
}

#[test]
fn a_command_larger_than_the_limit_is_refused_before_it_is_buffered() {
    let mut p = Parser::new();
    p.set_max_request(1000);
    // Announced by a bulk length: refused at its `$` line.
    let e = p
        .parse(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000\r\n")
        .unwrap_err();
    assert_eq!(
        e.reply(),
        "ERR Protocol error: request larger than 1000 bytes"
    );
    // Announced by many small arguments: refused at the `*` line.
    let e = p.parse(b"*500\r\n").unwrap_err();
    assert_eq!(
        e.reply(),
        "ERR Protocol error: request larger than 1000 bytes"
    );
    // Below the limit, fine.
    assert_eq!(p.parse(b"*2\r\n$3\r\nGET\r\n$900\r\n"), Ok(None));
    // The default allows the largest bulk string in a command.
    let mut p = Parser::new();
    let big = format!("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n${MAX_BULK}\r\n");
    assert_eq!(p.parse(big.as_bytes()), Ok(None));
}
