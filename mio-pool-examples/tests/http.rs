//! The `http` binary, driven by a plain `std::net::TcpStream` client.

mod util;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use mio_pool_examples::http::HELLO;
use util::{Server, TIMEOUT};

fn server() -> Server {
    Server::start(env!("CARGO_BIN_EXE_http"))
}

/// One parsed response.
#[derive(Debug)]
struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Reads one response framed by `Content-Length`.
fn read_response(r: &mut BufReader<TcpStream>) -> Response {
    let mut line = String::new();
    r.read_line(&mut line).expect("status line");
    assert!(line.starts_with("HTTP/1.1 "), "bad status line {line:?}");
    let status = line[9..12].parse().expect("status code");
    let mut headers = Vec::new();
    loop {
        line.clear();
        r.read_line(&mut line).expect("header line");
        let l = line.trim_end();
        if l.is_empty() {
            break;
        }
        let (n, v) = l.split_once(':').expect("header has a colon");
        headers.push((n.to_string(), v.trim().to_string()));
    }
    let mut resp = Response {
        status,
        headers,
        body: Vec::new(),
    };
    let len: usize = resp
        .header("content-length")
        .expect("content-length")
        .parse()
        .unwrap();
    resp.body = vec![0; len];
    r.read_exact(&mut resp.body).expect("body");
    resp
}

/// Asserts the server closed the connection (after any responses read).
fn assert_closed(r: &mut BufReader<TcpStream>) {
    let mut rest = Vec::new();
    let n = r.read_to_end(&mut rest).expect("read to end");
    assert_eq!(n, 0, "unexpected bytes after close: {rest:?}");
}

fn client(s: &Server) -> (TcpStream, BufReader<TcpStream>) {
    let w = s.connect();
    let r = BufReader::new(w.try_clone().unwrap());
    (w, r)
}

const GET_ROOT: &[u8] = b"GET / HTTP/1.1\r\nHost: test\r\n\r\n";

#[test]
fn get_root_and_keep_alive() {
    let s = server();
    let (mut w, mut r) = client(&s);
    for _ in 0..3 {
        w.write_all(GET_ROOT).unwrap();
        let resp = read_response(&mut r);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, HELLO.as_bytes());
        assert!(resp
            .header("content-type")
            .unwrap()
            .starts_with("text/plain"));
        assert_eq!(resp.header("connection"), None);
    }
}

#[test]
fn unknown_paths_get_404() {
    let s = server();
    let (mut w, mut r) = client(&s);
    w.write_all(b"GET /nope HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r).status, 404);
    // And the connection is still usable.
    w.write_all(GET_ROOT).unwrap();
    assert_eq!(read_response(&mut r).status, 200);
}

#[test]
fn stats_are_json_counters() {
    let s = server();
    let (mut w, mut r) = client(&s);
    w.write_all(b"GET /stats HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("content-type"), Some("application/json"));
    let body = String::from_utf8(resp.body).unwrap();
    let field = |name: &str| -> u64 {
        let key = format!("\"{name}\":");
        let at = body
            .find(&key)
            .unwrap_or_else(|| panic!("{name} missing in {body}"))
            + key.len();
        body[at..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    assert!(field("accepted") >= 1, "{body}");
    assert!(field("open") >= 1, "{body}");
    for name in ["closed", "handler_errors", "panics", "accept_errors"] {
        field(name);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let s = server();
    let (mut w, mut r) = client(&s);
    let mut batch = Vec::new();
    for i in 0..20 {
        let path = if i % 2 == 0 { "/" } else { "/missing" };
        batch.extend_from_slice(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
    }
    w.write_all(&batch).unwrap();
    for i in 0..20 {
        let expected = if i % 2 == 0 { 200 } else { 404 };
        assert_eq!(read_response(&mut r).status, expected, "response {i}");
    }
}

#[test]
fn a_request_split_across_many_segments_is_answered() {
    let s = server();
    let (mut w, mut r) = client(&s);
    let req = b"GET /stats HTTP/1.1\r\nHost: test\r\nUser-Agent: slow\r\n\r\n";
    for piece in req.chunks(3) {
        w.write_all(piece).unwrap();
        w.flush().unwrap();
        // Give each piece its own segment (nodelay is on).
        thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(read_response(&mut r).status, 200);
}

#[test]
fn connection_close_is_honoured() {
    let s = server();
    let (mut w, mut r) = client(&s);
    w.write_all(b"GET / HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_closed(&mut r);
}

#[test]
fn http_1_0_closes_unless_keep_alive() {
    let s = server();
    let (mut w, mut r) = client(&s);
    w.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        .unwrap();
    let resp = read_response(&mut r);
    assert_eq!(resp.header("connection"), Some("keep-alive"));
    w.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let resp = read_response(&mut r);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_closed(&mut r);
}

#[test]
fn malformed_requests_get_400_and_close() {
    let s = server();
    for garbage in [
        &b"BLAH\x01 / HTTP/1.1\r\n\r\n"[..],
        b"GET / HTTP/1.1\r\nHost: t\r\nno colon here\r\n\r\n",
        b"GET / HTTP/1.1\r\n\r\n",
    ] {
        let (mut w, mut r) = client(&s);
        w.write_all(garbage).unwrap();
        let resp = read_response(&mut r);
        assert_eq!(resp.status, 400, "{garbage:?}");
        assert_eq!(resp.header("connection"), Some("close"));
        assert_closed(&mut r);
    }
}

#[test]
fn oversized_headers_get_431_and_close() {
    let s = server();
    let (mut w, mut r) = client(&s);
    let mut req = b"GET / HTTP/1.1\r\nHost: t\r\nX-Big: ".to_vec();
    req.resize(req.len() + 9 * 1024, b'a');
    req.extend_from_slice(b"\r\n\r\n");
    w.write_all(&req).unwrap();
    let resp = read_response(&mut r);
    assert_eq!(resp.status, 431);
    assert_closed(&mut r);
}

#[test]
fn request_bodies_are_skipped() {
    let s = server();
    let (mut w, mut r) = client(&s);
    w.write_all(b"POST /nope HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello")
        .unwrap();
    w.write_all(
        b"POST /x HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
    )
    .unwrap();
    w.write_all(GET_ROOT).unwrap();
    assert_eq!(read_response(&mut r).status, 404);
    assert_eq!(read_response(&mut r).status, 404);
    assert_eq!(read_response(&mut r).status, 200);
}

#[test]
fn many_clients_at_once() {
    let s = server();
    let threads: Vec<_> = (0..16)
        .map(|_| {
            let (mut w, mut r) = client(&s);
            thread::spawn(move || {
                for _ in 0..50 {
                    w.write_all(GET_ROOT).unwrap();
                    assert_eq!(read_response(&mut r).status, 200);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn sigterm_exits_cleanly() {
    util::sigterm_exits_cleanly(env!("CARGO_BIN_EXE_http"), |s| {
        let (mut w, mut r) = client(s);
        w.write_all(GET_ROOT).unwrap();
        assert_eq!(read_response(&mut r).status, 200);
    });
}

#[test]
fn sigint_with_an_idle_connection_exits_after_the_grace_period() {
    let mut s = Server::start_with(
        env!("CARGO_BIN_EXE_http"),
        &["--workers", "2", "--grace-secs", "1"],
    );
    let (mut w, mut r) = client(&s);
    w.write_all(GET_ROOT).unwrap();
    assert_eq!(read_response(&mut r).status, 200);
    // The client keeps its connection open and idle: the server waits for
    // it for the grace period, then closes it and exits anyway.
    s.signal(libc::SIGINT);
    assert!(s.wait_exit(TIMEOUT).success());
    assert_closed(&mut r);
}

#[test]
fn sigterm_refuses_new_clients_but_serves_open_ones_until_they_close() {
    let mut s = Server::start_with(
        env!("CARGO_BIN_EXE_http"),
        &["--workers", "2", "--grace-secs", "60"],
    );
    let (mut w, mut r) = client(&s);
    w.write_all(GET_ROOT).unwrap();
    assert_eq!(read_response(&mut r).status, 200);
    s.signal(libc::SIGTERM);
    // Handshake: the server has handled the signal once new clients are
    // refused.
    let deadline = Instant::now() + TIMEOUT;
    while TcpStream::connect(s.addr).is_ok() {
        assert!(Instant::now() < deadline, "still accepting after SIGTERM");
        thread::sleep(Duration::from_millis(10));
    }
    // The open connection is still served, and told to go: while draining,
    // the response says `Connection: close` and the server closes after it
    // (so a keep-alive client reconnects, to a successor if there is one)...
    w.write_all(GET_ROOT).unwrap();
    let resp = read_response(&mut r);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.header("connection"), Some("close"));
    assert_closed(&mut r);
    // ...and once it has closed the server exits, long before its grace
    // period.
    // The server lingers until the client closes too (see `conn`'s docs).
    drop((w, r));
    let start = Instant::now();
    assert!(s.wait_exit(TIMEOUT).success());
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "waited for the grace period"
    );
}

/// Reads the head of a response and returns its status line and headers
/// as text (up to and including the empty line).
fn read_head(r: &mut BufReader<TcpStream>) -> String {
    let mut head = String::new();
    loop {
        let n = r.read_line(&mut head).expect("head line");
        assert!(n > 0, "closed inside a head: {head:?}");
        if head.ends_with("\r\n\r\n") {
            return head;
        }
    }
}

#[test]
fn a_body_posted_to_the_root_is_echoed_as_it_arrives() {
    let s = server();
    let (mut w, mut r) = client(&s);
    let body: Vec<u8> = (0..200_000u32).map(|i| (i % 253) as u8).collect();
    let (first, second) = body.split_at(100_000);
    write!(
        w,
        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .unwrap();
    w.write_all(first).unwrap();
    // The first half comes back before the second is sent: the body is
    // streamed through, not held until complete.
    let head = read_head(&mut r);
    assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{head}");
    assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())));
    let mut echoed = vec![0; first.len()];
    r.read_exact(&mut echoed).unwrap();
    assert!(echoed == first);
    w.write_all(second).unwrap();
    let mut echoed = vec![0; second.len()];
    r.read_exact(&mut echoed).unwrap();
    assert!(echoed == second);
    // A chunked body comes back chunked; the connection stays usable.
    w.write_all(b"PUT / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
        .unwrap();
    let head = read_head(&mut r);
    assert!(head.contains("Transfer-Encoding: chunked\r\n"), "{head}");
    let mut decoded = Vec::new();
    loop {
        let mut size = String::new();
        r.read_line(&mut size).unwrap();
        let n = usize::from_str_radix(size.trim_end(), 16).unwrap();
        let mut chunk = vec![0; n + 2];
        r.read_exact(&mut chunk).unwrap();
        if n == 0 {
            break;
        }
        decoded.extend_from_slice(&chunk[..n]);
    }
    assert_eq!(decoded, b"abcde");
    w.write_all(GET_ROOT).unwrap();
    assert_eq!(read_response(&mut r).body, HELLO.as_bytes());
}

#[test]
fn expect_100_continue_gets_100_before_the_body_is_sent() {
    let s = server();
    let (mut w, mut r) = client(&s);
    w.write_all(b"POST / HTTP/1.1\r\nHost: t\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        .unwrap();
    // The client waits for the interim response before sending the body.
    assert_eq!(read_head(&mut r), "HTTP/1.1 100 Continue\r\n\r\n");
    w.write_all(b"hello").unwrap();
    let resp = read_response(&mut r);
    assert_eq!(resp.status, 200);
    assert_eq!(resp.body, b"hello");
}

#[test]
fn a_client_that_pipelines_without_reading_is_answered_in_full_once_it_reads() {
    let s = server();
    let (mut w, mut r) = client(&s);
    const N: usize = 5000;
    // The writer blocks once the server stops reading (its output is over
    // the limit and we do not read); it finishes once we read.
    let writer = thread::spawn(move || {
        let mut all = Vec::new();
        for i in 0..N {
            all.extend_from_slice(format!("GET /?{i} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        }
        w.write_all(&all).unwrap();
        w
    });
    for _ in 0..N {
        let resp = read_response(&mut r);
        assert_eq!(resp.status, 200);
        assert_eq!(resp.body, HELLO.as_bytes());
    }
    let mut w = writer.join().unwrap();
    w.write_all(b"GET /nope HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert_eq!(read_response(&mut r).status, 404);
    assert_closed(&mut r);
}
