//! Property tests of the RESP and HTTP parsers: any split of valid input
//! parses as the whole does, and arbitrary bytes never panic, never make a
//! connection hold more than its bounds, and end in a reply, an error reply
//! or a wait for more input.

use mio_pool::PoolStats;
use mio_pool_examples::http::{self, ChunkDecoder, Limits, Session, MAX_HEAD};
use mio_pool_examples::kv;
use mio_pool_examples::resp::{Parser, MAX_INLINE};
use proptest::prelude::*;

/// Cuts `input` at `cuts` (positions, any order, taken modulo its length)
/// into the growing buffers a connection would see.
fn pieces(input: &[u8], cuts: &[usize]) -> Vec<usize> {
    let mut ends: Vec<usize> = cuts
        .iter()
        .map(|c| c % (input.len() + 1))
        .chain([input.len()])
        .collect();
    ends.sort_unstable();
    ends.dedup();
    ends
}

/// A RESP multibulk command.
fn multibulk(args: &[Vec<u8>]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        out.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        out.extend_from_slice(a);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// Parses every command in `input` arriving in pieces ending at `ends`,
/// with one parser, as a connection does.
fn parse_in_pieces(input: &[u8], ends: &[usize]) -> Vec<Vec<Vec<u8>>> {
    let (mut parser, mut start, mut commands) = (Parser::new(), 0, Vec::new());
    for &end in ends {
        while let Some((args, len)) = parser.parse(&input[start..end]).unwrap() {
            commands.push(args.into_iter().map(|a| a.into_owned()).collect());
            start += len;
        }
    }
    assert_eq!(start, input.len(), "input left over");
    commands
}

fn arg() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 0..40)
}

fn word() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"abcXYZ019_-".to_vec()), 1..10)
}

/// A command as multibulk (any bytes) or inline (plain words).
fn command() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>)> {
    prop_oneof![
        prop::collection::vec(arg(), 1..6).prop_map(|args| {
            let bytes = multibulk(&args);
            (args, bytes)
        }),
        prop::collection::vec(word(), 1..6).prop_map(|words| {
            let mut bytes = words.join(&b' ');
            bytes.extend_from_slice(b"\r\n");
            (words, bytes)
        }),
    ]
}

/// A complete HTTP request whose answer does not depend on how it is split
/// (echoes only of `Content-Length` bodies; chunked bodies discarded).
fn request() -> impl Strategy<Value = Vec<u8>> {
    let target = prop::sample::select(vec!["/", "/stats", "/x?y=1", "/a/b"]);
    let method = prop::sample::select(vec!["GET", "HEAD", "POST", "PUT", "DELETE"]);
    let body = prop::collection::vec(any::<u8>(), 0..300);
    let chunks = prop::collection::vec(1usize..40, 0..6);
    (method, target, body, chunks, any::<bool>()).prop_map(
        |(method, target, body, chunks, chunked)| {
            let mut req = format!("{method} {target} HTTP/1.1\r\nHost: h\r\n").into_bytes();
            if chunked && target != "/" {
                req.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
                let mut rest = &body[..];
                for size in chunks {
                    let (chunk, tail) = rest.split_at(size.min(rest.len()));
                    if chunk.is_empty() {
                        break;
                    }
                    req.extend_from_slice(format!("{:x};e=1\r\n", chunk.len()).as_bytes());
                    req.extend_from_slice(chunk);
                    req.extend_from_slice(b"\r\n");
                    rest = tail;
                }
                req.extend_from_slice(b"0\r\nT: 1\r\n\r\n");
            } else if !body.is_empty() || method == "POST" {
                req.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
                req.extend_from_slice(&body);
            } else {
                req.extend_from_slice(b"\r\n");
            }
            req
        },
    )
}

fn without_dates(out: &[u8]) -> Vec<u8> {
    let mut kept = Vec::new();
    let mut rest = out;
    while let Some(i) = rest.windows(8).position(|w| w == b"\r\nDate: ") {
        kept.extend_from_slice(&rest[..i]);
        // "\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT" is 37 bytes.
        rest = &rest[i + 37..];
    }
    kept.extend_from_slice(rest);
    kept
}

/// Serves `input` arriving in pieces ending at `ends` with one session,
/// flushing output after each call as a connection does. Returns all output
/// and whether it closed; checks the bounds after every call.
fn serve_in_pieces(input: &[u8], ends: &[usize], limits: &Limits) -> (Vec<u8>, bool) {
    let (mut session, mut start, mut all) = (Session::new(), 0, Vec::new());
    for &end in ends {
        loop {
            let mut out = Vec::new();
            let step = http::serve(
                &mut session,
                limits,
                &input[start..end],
                &mut out,
                PoolStats::default,
            );
            assert!(step.consumed <= end - start);
            // One call queues at most the limit plus one response.
            assert!(
                out.len() <= limits.max_output + 1024,
                "{} bytes queued",
                out.len()
            );
            all.extend_from_slice(&out);
            start += step.consumed;
            if step.close {
                return (all, true);
            }
            // Paused on output: called again without new input.
            if out.len() < limits.max_output || step.consumed == 0 {
                break;
            }
        }
        // Unconsumed input is at most one head (or the bytes of a chunk-size line).
        assert!(
            end - start <= limits.max_head + 1,
            "{} bytes held",
            end - start
        );
    }
    (all, false)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn resp_any_split_parses_as_the_whole(
        cmds in prop::collection::vec(command(), 1..8),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let input: Vec<u8> = cmds.iter().flat_map(|(_, bytes)| bytes.clone()).collect();
        let expected: Vec<Vec<Vec<u8>>> = cmds.into_iter().map(|(args, _)| args).collect();
        prop_assert_eq!(parse_in_pieces(&input, &[input.len()]), expected.clone());
        prop_assert_eq!(parse_in_pieces(&input, &pieces(&input, &cuts)), expected);
    }

    #[test]
    fn resp_arbitrary_bytes_get_a_reply_an_error_or_a_wait_within_bounds(
        input in prop::collection::vec(prop_oneof![
            4 => prop::sample::select(b"*$\r\n0123456789-+ aSETGET\"'\\".to_vec()),
            1 => any::<u8>(),
        ], 0..600),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let server = kv::Server::new(6380);
        let (mut session, mut start) = (kv::Session::default(), 0);
        session.set_limits(64, 1024);
        for end in pieces(&input, &cuts) {
            let mut out = Vec::new();
            let step = session.serve(&server, &input[start..end], &mut out);
            prop_assert!(step.consumed <= end - start);
            if step.close && step.consumed == end - start {
                // A protocol error (or QUIT): answered before closing.
                prop_assert!(out.ends_with(b"\r\n"));
                break;
            }
            start += step.consumed;
            let held = &input[start..end];
            if held.first() == Some(&b'*') {
                prop_assert!(held.len() <= 64, "{} bytes of a multibulk held", held.len());
            } else {
                prop_assert!(held.len() <= MAX_INLINE);
            }
            if step.close {
                break;
            }
        }
    }

    #[test]
    fn http_any_split_gives_the_same_answers(
        reqs in prop::collection::vec(request(), 1..6),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let input = reqs.concat();
        let limits = Limits::default();
        let (whole, whole_closed) = serve_in_pieces(&input, &[input.len()], &limits);
        let (split, split_closed) = serve_in_pieces(&input, &pieces(&input, &cuts), &limits);
        prop_assert_eq!(without_dates(&whole), without_dates(&split));
        prop_assert_eq!(whole_closed, split_closed);
        prop_assert!(!whole_closed);
        prop_assert_eq!(without_dates(&whole).windows(9).filter(|w| w == b"HTTP/1.1 ").count(), reqs.len());
    }

    #[test]
    fn http_chunked_bodies_decode_the_same_however_split(
        body in prop::collection::vec(any::<u8>(), 0..400),
        sizes in prop::collection::vec(1usize..50, 1..20),
        cuts in prop::collection::vec(any::<usize>(), 0..10),
        room in 1usize..64,
    ) {
        let mut encoded = Vec::new();
        let mut rest = &body[..];
        for size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at((*size).min(rest.len()));
            encoded.extend_from_slice(format!("{:X}\r\n", chunk.len()).as_bytes());
            encoded.extend_from_slice(chunk);
            encoded.extend_from_slice(b"\r\n");
            rest = tail;
        }
        encoded.extend_from_slice(b"0\r\n\r\n");
        let mut decoder = ChunkDecoder::new(1 << 20, MAX_HEAD);
        let (mut start, mut data) = (0, Vec::new());
        for end in pieces(&encoded, &cuts) {
            loop {
                let step = decoder.decode(&encoded[start..end], room).unwrap();
                prop_assert!(step.data.len() <= room);
                data.extend_from_slice(&encoded[start..end][step.data]);
                start += step.consumed;
                if step.consumed == 0 || decoder.is_done() {
                    break;
                }
            }
        }
        prop_assert!(decoder.is_done());
        prop_assert_eq!(start, encoded.len());
        prop_assert_eq!(data, body);
    }

    #[test]
    fn http_arbitrary_bytes_never_panic_and_stay_within_bounds(
        input in prop::collection::vec(prop_oneof![
            4 => prop::sample::select(b"GET POST / HTTP/1.1\r\n: Host:x Content-Length: 9 Transfer-Encoding: chunked 0a;\r\n".to_vec()),
            1 => any::<u8>(),
        ], 0..1500),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let limits = Limits { max_head: 256, max_body: 512, max_output: 512 };
        // serve_in_pieces checks the bounds after every call.
        let (out, closed) = serve_in_pieces(&input, &pieces(&input, &cuts), &limits);
        // Any answer starts with a status line; garbage ends in a refusal.
        if !out.is_empty() {
            prop_assert!(out.starts_with(b"HTTP/1.1 "));
        }
        // Nothing closes silently: a refusal is answered first.
        prop_assert!(!closed || !out.is_empty());
    }
}
