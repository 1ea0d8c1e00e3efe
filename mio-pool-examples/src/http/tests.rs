//! Parser and server tests: partial input, pipelining, garbage.

use super::*;
use mio_pool::PoolStats;

const GET: &[u8] = b"GET /stats?x=1 HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n";

fn complete(buf: &[u8]) -> (Request<'_>, usize) {
    match parse(buf) {
        Ok(Parsed::Complete { request, len }) => (request, len),
        other => panic!("expected a complete request, got {other:?}"),
    }
}

fn responses(text: &str) -> Vec<&str> {
    text.match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect()
}

fn serve_str(input: &[u8]) -> (Step, String) {
    let mut out = Vec::new();
    let step = serve(
        &mut Session::new(),
        &Limits::default(),
        input,
        &mut out,
        || PoolStats {
            accepted: 3,
            open: 1,
            closed: 2,
            ..PoolStats::default()
        },
    );
    (step, String::from_utf8(out).unwrap())
}

use mio_pool::Step;

#[test]
fn a_simple_request_parses() {
    let (r, len) = complete(GET);
    assert_eq!(len, GET.len());
    assert_eq!(r.method, "GET");
    assert_eq!(r.target, "/stats?x=1");
    assert_eq!(r.path(), "/stats");
    assert_eq!(r.minor_version, 1);
    assert!(r.keep_alive);
    assert_eq!(r.body, Body::Empty);
}

#[test]
fn every_prefix_is_partial() {
    for cut in 0..GET.len() {
        assert_eq!(parse(&GET[..cut]), Ok(Parsed::Partial), "cut at {cut}");
    }
}

#[test]
fn every_prefix_of_a_body_is_partial() {
    let req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello";
    for cut in 0..req.len() {
        assert_eq!(parse(&req[..cut]), Ok(Parsed::Partial), "cut at {cut}");
    }
    let (r, len) = complete(req);
    assert_eq!(len, req.len());
    assert_eq!(r.body, Body::Full(b"hello"));
}

#[test]
fn connection_rules() {
    let ka = |req: &[u8]| complete(req).0.keep_alive;
    assert!(ka(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    ));
    assert!(!ka(
        b"GET / HTTP/1.1\r\nHost: x\r\nconnection: Upgrade, CLOSE\r\n\r\n"
    ));
    assert!(!ka(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(ka(b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n"));
}

#[test]
fn chunked_bodies_are_framed() {
    let req = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nRust\r\n0\r\nX-T: 1\r\n\r\nGET";
    let (r, len) = complete(req);
    assert_eq!(len, req.len() - 3);
    assert_eq!(r.body, Body::Chunked(b"4\r\nRust\r\n0\r\nX-T: 1\r\n\r\n"));
    for cut in 0..len {
        assert_eq!(parse(&req[..cut]), Ok(Parsed::Partial), "cut at {cut}");
    }
}

#[test]
fn garbage_is_rejected() {
    let cases: &[&[u8]] = &[
        b"\x00\x01\x02\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n", // no Host
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n",
    ];
    for case in cases {
        match parse(case) {
            Err(e) => assert_eq!(e.status(), Status::BadRequest, "{case:?}: {e}"),
            other => panic!("{case:?} gave {other:?}"),
        }
    }
}

#[test]
fn odd_versions_and_codings_get_their_statuses() {
    let err = |req: &[u8]| parse(req).unwrap_err().status();
    assert_eq!(err(b"GET / HTTP/2.0\r\n\r\n"), Status::VersionNotSupported);
    assert_eq!(
        err(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"),
        Status::NotImplemented
    );
    let big = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        MAX_BODY + 1
    );
    assert_eq!(err(big.as_bytes()), Status::ContentTooLarge);
}

#[test]
fn oversized_heads_get_431_complete_or_not() {
    let mut req = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat(b'a').take(MAX_HEAD));
    // Not even finished: refused as soon as it is too long.
    assert_eq!(parse(&req).unwrap_err(), RequestError::HeadTooLarge);
    req.extend_from_slice(b"\r\n\r\n");
    assert_eq!(parse(&req).unwrap_err(), RequestError::HeadTooLarge);
    // Too many fields.
    let mut many = b"GET / HTTP/1.1\r\nHost: x\r\n".to_vec();
    for i in 0..MAX_HEADERS {
        many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
    }
    many.extend_from_slice(b"\r\n");
    assert_eq!(
        parse(&many).unwrap_err().status(),
        Status::HeaderFieldsTooLarge
    );
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut input = Vec::new();
    input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    input.extend_from_slice(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    input.extend_from_slice(b"GET /stats HTTP/1.1\r\nHost: x\r\n\r\n");
    input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"); // after close: ignored
    let (step, text) = serve_str(&input);
    assert!(step.close);
    assert_eq!(responses(&text), ["200", "404", "200", "200"]);
    assert!(text.contains(HELLO));
    assert!(text.contains(
        "{\"accepted\":3,\"open\":1,\"closed\":2,\"handler_errors\":0,\"panics\":0,\"accept_errors\":0,\"cpu_yields\":0,\"timed_out\":0}\n"
    ));
    assert!(text.ends_with(&format!("Connection: close\r\n\r\n{HELLO}")));
}

#[test]
fn a_request_fed_byte_by_byte_is_answered_once() {
    let (out, closed, _) = trickle(GET, &Limits::default());
    assert!(!closed);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(responses(&text), ["200"]);
    assert!(text.contains("Content-Type: application/json\r\n"));
}

#[test]
fn garbage_gets_400_and_close_after_earlier_answers() {
    let (step, text) = serve_str(b"GET / HTTP/1.1\r\nHost: x\r\n\r\nHELLO THERE\r\n\r\n");
    assert!(step.close);
    assert_eq!(responses(&text), ["200", "400"]);
    assert!(text.ends_with("Connection: close\r\n\r\nBad Request\n"));
}

#[test]
fn http10_gets_close_or_keep_alive() {
    let (step, text) = serve_str(b"GET / HTTP/1.0\r\n\r\n");
    assert!(step.close);
    assert!(text.contains("Connection: close\r\n"));
    let (step, text) = serve_str(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert!(!step.close);
    assert!(text.contains("Connection: keep-alive\r\n"));
}

#[test]
fn methods_and_head() {
    let (_, text) = serve_str(b"DELETE / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(responses(&text), ["405"]);
    assert!(text.contains("Allow: GET, HEAD\r\n"));
    let (_, text) = serve_str(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(responses(&text), ["200"]);
    assert!(text.ends_with("\r\n\r\n"));
    assert!(text.contains(&format!("Content-Length: {}\r\n", HELLO.len())));
}

/// A small deterministic generator, so the randomized tests need no crate
/// and fail the same way every run.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn without_dates(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("Date: "))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Feeds `input` in random pieces, draining what `serve` consumes, as a
/// connection would; returns the output and whether it closed.
fn serve_in_pieces(input: &[u8], rng: &mut XorShift) -> (String, bool) {
    let (mut buf, mut out, mut pos) = (Vec::new(), Vec::new(), 0);
    let mut session = Session::new();
    while pos < input.len() {
        let n = 1 + rng.below(40);
        buf.extend_from_slice(&input[pos..(pos + n).min(input.len())]);
        pos += n;
        let step = serve(
            &mut session,
            &Limits::default(),
            &buf,
            &mut out,
            PoolStats::default,
        );
        assert!(step.consumed <= buf.len());
        buf.drain(..step.consumed);
        if step.close {
            return (String::from_utf8(out).unwrap(), true);
        }
    }
    (String::from_utf8(out).unwrap(), false)
}

#[test]
fn random_splits_of_random_pipelines_give_the_same_answers() {
    let requests: &[&[u8]] = &[
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HEAD /stats HTTP/1.1\r\nHost: a\r\nAccept: */*\r\n\r\n",
        b"GET /x?y HTTP/1.1\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world",
        b"PUT /stats HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    ];
    let enders: &[&[u8]] = &[
        b"",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        b"GET / HTTP/1.0\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost a\r\n\r\n",
    ];
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..300 {
        let mut input = Vec::new();
        for _ in 0..rng.below(8) {
            input.extend_from_slice(requests[rng.below(requests.len())]);
        }
        input.extend_from_slice(enders[rng.below(enders.len())]);
        let mut whole = Vec::new();
        let step = serve(
            &mut Session::new(),
            &Limits::default(),
            &input,
            &mut whole,
            PoolStats::default,
        );
        let whole = String::from_utf8(whole).unwrap();
        let (pieces, closed) = serve_in_pieces(&input, &mut rng);
        assert_eq!(without_dates(&whole), without_dates(&pieces), "{input:?}");
        assert_eq!(step.close, closed);
    }
}

#[test]
fn random_garbage_never_panics_nor_keeps_more_than_a_head() {
    let mut rng = XorShift(42);
    let alphabet = b"GET /HTP1.0\r\n: abcContent-Length9Transfer-Encodingchunked\x00\xff";
    for _ in 0..2000 {
        let len = rng.below(200);
        let input: Vec<u8> = (0..len)
            .map(|_| alphabet[rng.below(alphabet.len())])
            .collect();
        let mut out = Vec::new();
        let step = serve(
            &mut Session::new(),
            &Limits::default(),
            &input,
            &mut out,
            PoolStats::default,
        );
        assert!(step.consumed <= input.len());
        // Whatever is left over is a possible request prefix, bounded by
        // the head limit.
        assert!(step.close || input.len() - step.consumed <= MAX_HEAD);
    }
}

/// Feeds `input` to one session one byte at a time, draining what it
/// consumes, as a connection would; returns the output, whether it closed,
/// and the bytes the session examined.
fn trickle(input: &[u8], limits: &Limits) -> (Vec<u8>, bool, u64) {
    let (mut buf, mut out, mut session) = (Vec::new(), Vec::new(), Session::new());
    for &b in input {
        buf.push(b);
        let step = serve(&mut session, limits, &buf, &mut out, PoolStats::default);
        buf.drain(..step.consumed);
        if step.close {
            return (out, true, session.examined());
        }
    }
    assert!(buf.is_empty(), "{} bytes left", buf.len());
    (out, false, session.examined())
}

#[test]
fn a_request_trickled_byte_by_byte_costs_linear_work() {
    // A head close to the limit, then a chunked body of one-byte chunks:
    // each byte must be examined a bounded number of times, not once per
    // read from the start of the request.
    let mut req = b"POST /discard HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n".to_vec();
    while req.len() < MAX_HEAD - 100 {
        req.extend_from_slice(format!("X-Filler: {}\r\n", "f".repeat(200)).as_bytes());
    }
    req.extend_from_slice(b"\r\n");
    for _ in 0..20_000 {
        req.extend_from_slice(b"1\r\nz\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let (out, closed, examined) = trickle(&req, &Limits::default());
    assert!(!closed);
    assert_eq!(responses(&String::from_utf8(out).unwrap()), ["404"]);
    assert!(
        examined <= 3 * req.len() as u64,
        "{examined} bytes examined for a {}-byte request",
        req.len()
    );
}

#[test]
fn bodies_sent_to_the_root_are_echoed_however_split() {
    let body: Vec<u8> = (0..3000u32).map(|i| (i % 251) as u8).collect();
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    req.extend_from_slice(&body);
    req.extend_from_slice(b"PUT /?q HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
    req.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
    let (out, closed, _) = trickle(&req, &Limits::default());
    assert!(!closed);
    let text = String::from_utf8_lossy(&out);
    assert_eq!(responses(&text), ["200", "200", "200"]);
    let first = format!("Content-Length: {}\r\n\r\n", body.len());
    let at = out
        .windows(first.len())
        .position(|w| w == first.as_bytes())
        .unwrap();
    assert_eq!(
        out[at + first.len()..at + first.len() + body.len()],
        body[..]
    );
    // The chunked body comes back chunked, one chunk per run of data.
    assert!(text.contains("Transfer-Encoding: chunked\r\n\r\n"));
    let chunked_echo = &text[text.find("Transfer-Encoding: chunked\r\n\r\n").unwrap()..];
    let mut decoded = Vec::new();
    let mut d = ChunkDecoder::new(MAX_BODY, MAX_HEAD);
    let mut rest = chunked_echo.split_once("\r\n\r\n").unwrap().1.as_bytes();
    while !d.is_done() {
        let step = d.decode(rest, usize::MAX).unwrap();
        decoded.extend_from_slice(&rest[step.data]);
        rest = &rest[step.consumed..];
    }
    assert_eq!(decoded, b"hello world");
    // GET / with an empty body is a GET.
    assert!(text.ends_with(HELLO));
}

#[test]
fn bodies_elsewhere_are_discarded_as_they_arrive_and_answered_at_their_end() {
    let mut session = Session::new();
    let limits = Limits::default();
    let mut out = Vec::new();
    let head = b"POST /nope HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n";
    let step = serve(&mut session, &limits, head, &mut out, PoolStats::default);
    assert_eq!(step, Step::keep(head.len()));
    assert!(out.is_empty(), "answered before the body was read");
    let chunk = vec![b'b'; 99_999];
    let step = serve(&mut session, &limits, &chunk, &mut out, PoolStats::default);
    // Nothing is kept: every body byte is consumed as it comes.
    assert_eq!(step, Step::keep(chunk.len()));
    assert!(out.is_empty());
    let step = serve(&mut session, &limits, b"bGET", &mut out, PoolStats::default);
    assert_eq!(step, Step::keep(1));
    assert_eq!(responses(&String::from_utf8(out).unwrap()), ["404"]);
}

#[test]
fn expect_100_continue_is_answered_when_the_body_is_wanted() {
    let head = b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n";
    let (step, text) = serve_str(head);
    assert_eq!(step, Step::keep(head.len()));
    assert!(text.starts_with("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n"));
    // Not for a body refused at once, nor for a request without a body.
    let (step, text) = serve_str(
        b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 9999999\r\n\r\n",
    );
    assert!(step.close);
    assert_eq!(responses(&text), ["413"]);
    let (_, text) = serve_str(b"GET / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n");
    assert_eq!(responses(&text), ["200"]);
}

#[test]
fn output_past_the_limit_pauses_answering_per_request() {
    let limits = Limits {
        max_output: 1000,
        ..Limits::default()
    };
    let one = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    let input = one.repeat(100);
    let mut out = Vec::new();
    let step = serve(
        &mut Session::new(),
        &limits,
        &input,
        &mut out,
        PoolStats::default,
    );
    // It stopped at the first response that reached the limit.
    let answered = responses(&String::from_utf8(out.clone()).unwrap()).len();
    assert_eq!(step, Step::keep(answered * one.len()));
    assert!(out.len() >= 1000 && out.len() < 1000 + 200, "{}", out.len());

    // An echo stops at the limit inside the body.
    let mut req = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n".to_vec();
    req.extend_from_slice(&[b'e'; 5000]);
    let mut session = Session::new();
    let mut out = Vec::new();
    let step = serve(&mut session, &limits, &req, &mut out, PoolStats::default);
    assert_eq!(out.len(), 1000);
    let mut used = step.consumed;
    assert!(used < req.len());
    while used < req.len() {
        out.clear();
        let step = serve(
            &mut session,
            &limits,
            &req[used..],
            &mut out,
            PoolStats::default,
        );
        assert!(out.len() <= 1000 && !out.is_empty());
        used += step.consumed;
    }
}
