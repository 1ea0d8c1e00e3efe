//! The example servers over TLS (`--tls-cert`, `--tls-key`), driven by
//! stock clients (`curl`, `wrk`, `redis-cli`, `redis-benchmark`, Python's
//! `ssl` module) and by a rustls client. Certificates are made per test.

mod util;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::sync::Arc;

use mio_pool::tls::rustls::{self, pki_types};
use mio_pool_examples::http::HELLO;
use util::{run_with_timeout, stock_client, Server, TestCerts, TIMEOUT};

type Client = rustls::StreamOwned<rustls::ClientConnection, TcpStream>;

fn start(bin: &str, certs: &TestCerts) -> Server {
    let mut args = vec!["--workers".to_string(), "2".to_string()];
    args.extend(certs.server_args());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Server::start_with(bin, &args)
}

/// A blocking rustls client that trusts the test CA.
fn client(server: &Server, certs: &TestCerts, alpn: &[&[u8]]) -> Client {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(pki_types::CertificateDer::from(certs.ca_der.clone()))
        .unwrap();
    let mut config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    let name = pki_types::ServerName::try_from("localhost").unwrap();
    let conn = rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    rustls::StreamOwned::new(conn, server.connect())
}

/// Reads until `done` says the bytes so far are complete.
fn read_until(c: &mut impl Read, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    while !done(&got) {
        let n = c.read(&mut buf).expect("read");
        assert!(
            n > 0,
            "closed early after {:?}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    got
}

fn count(haystack: &[u8], needle: &str) -> usize {
    String::from_utf8_lossy(haystack).matches(needle).count()
}

fn stats(server: &Server, certs: &TestCerts) -> String {
    let mut c = client(server, certs, &[]);
    c.write_all(b"GET /stats HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut out = String::new();
    // The server closes with close_notify: a clean end of stream.
    c.read_to_string(&mut out).expect("a clean TLS close");
    out
}

fn output_ok(out: &std::process::Output) -> (String, String) {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        out.status.success(),
        "client failed: {}\nstdout: {stdout}\nstderr: {stderr}",
        out.status
    );
    (stdout, stderr)
}

#[test]
fn curl_over_https_keep_alive_alpn_tls12_and_tls13() {
    let Some(curl) = stock_client("curl") else {
        return;
    };
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_http"), &certs);
    let url = format!("https://127.0.0.1:{}/", s.addr.port());
    for version in [
        ["--tlsv1.3", "--tls-max", "1.3"],
        ["--tlsv1.2", "--tls-max", "1.2"],
    ] {
        let out = run_with_timeout(
            Command::new(&curl)
                .args(["-sS", "-v", "--max-time", "20", "--cacert"])
                .arg(&certs.ca)
                .args(version)
                .args([&url, &url, &url]),
            TIMEOUT,
        );
        let (body, verbose) = output_ok(&out);
        assert_eq!(body, HELLO.repeat(3));
        // Three requests, one connection and one handshake: keep-alive.
        assert_eq!(verbose.matches("Connected to").count(), 1, "{verbose}");
        assert!(
            verbose.contains("ALPN: server accepted http/1.1"),
            "{verbose}"
        );
        let expected = if version[0] == "--tlsv1.3" {
            "TLSv1.3"
        } else {
            "TLSv1.2"
        };
        assert!(
            verbose.contains(&format!("SSL connection using {expected}")),
            "{verbose}"
        );
    }
}

#[test]
fn pipelined_https_requests_are_all_answered_in_order() {
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_http"), &certs);
    let mut c = client(&s, &certs, &[b"http/1.1"]);
    let mut requests = Vec::new();
    for _ in 0..20 {
        requests.extend_from_slice(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    requests.extend_from_slice(b"GET /missing HTTP/1.1\r\nHost: x\r\n\r\n");
    c.write_all(&requests).unwrap();
    let got = read_until(&mut c, |got| count(got, "HTTP/1.1 404") == 1);
    assert_eq!(count(&got, "HTTP/1.1 200"), 20);
    assert_eq!(count(&got, HELLO), 20);
    assert_eq!(c.conn.alpn_protocol(), Some(&b"http/1.1"[..]));
}

#[test]
fn echo_over_tls_returns_every_byte_of_a_large_message() {
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_echo"), &certs);
    let mut c = client(&s, &certs, &[]);
    // Larger than rustls' send queue (64 KiB) and the socket buffers: the
    // server's writes meet backpressure, and nothing may be dropped.
    let sent: Vec<u8> = (0..768 * 1024u32).map(|i| (i % 253) as u8).collect();
    c.write_all(&sent).unwrap();
    let got = read_until(&mut c, |got| got.len() >= sent.len());
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "echoed bytes differ");
}

#[test]
fn replies_still_queued_in_tls_are_sent_before_the_connection_closes() {
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_echo"), &certs);
    let mut c = client(&s, &certs, &[]);
    let sent: Vec<u8> = (0..768 * 1024u32).map(|i| (i % 249) as u8).collect();
    c.write_all(&sent).unwrap();
    // The client is done: the server sees the end of stream while most of
    // the echo is still queued, part of it as ciphertext inside rustls.
    // Closing once its own buffer is empty would drop that part.
    c.conn.send_close_notify();
    c.flush().unwrap();
    let got = read_until(&mut c, |got| got.len() >= sent.len());
    assert!(got == sent, "echoed bytes differ");
}

#[test]
fn a_close_notify_sent_with_the_last_request_closes_the_connection() {
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_echo"), &certs);
    let mut c = client(&s, &certs, &[]);
    // A round trip first: the handshake is done.
    c.write_all(b"hi").unwrap();
    assert_eq!(read_until(&mut c, |got| got.len() >= 2), b"hi");
    // Data and close_notify in one packet, and the TCP connection stays
    // open: no readiness event follows the data.
    c.conn.writer().write_all(b"goodbye").unwrap();
    c.conn.send_close_notify();
    c.flush().unwrap();
    let got = read_until(&mut c, |got| got.len() >= 7);
    assert_eq!(got, b"goodbye");
    // Then the server closes (within the read timeout, not at it).
    let mut rest = [0u8; 16];
    match c.read(&mut rest) {
        Ok(0) => {}
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {}
        other => panic!("expected the end of the connection, got {other:?}"),
    }
}

#[test]
fn wrk_over_https() {
    let Some(wrk) = stock_client("wrk") else {
        return;
    };
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_http"), &certs);
    // wrk does not verify the certificate; the handshake and the requests
    // are what is tested here.
    let out = run_with_timeout(
        Command::new(&wrk)
            .args(["-t1", "-c8", "-d1s", "--timeout", "10s"])
            .arg(format!("https://127.0.0.1:{}/", s.addr.port())),
        TIMEOUT,
    );
    let (report, _) = output_ok(&out);
    assert!(!report.contains("Socket errors"), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    let requests: u64 = report
        .lines()
        .find(|l| l.contains("requests in"))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no request count in {report}"));
    assert!(requests > 0, "{report}");
    let stats = stats(&s, &certs);
    assert!(stats.contains("\"handler_errors\":0"), "{stats}");
}

#[test]
fn redis_cli_and_redis_benchmark_over_tls() {
    let Some(cli) = stock_client("redis-cli") else {
        return;
    };
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_kv"), &certs);
    let port = s.addr.port().to_string();
    let redis = |args: &[&str]| {
        let out = run_with_timeout(
            Command::new(&cli)
                .args(["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert"])
                .arg(&certs.ca)
                .args(args),
            TIMEOUT,
        );
        output_ok(&out).0
    };
    assert_eq!(redis(&["SET", "greeting", "hello"]).trim(), "OK");
    assert_eq!(redis(&["GET", "greeting"]).trim(), "hello");
    assert_eq!(redis(&["PING"]).trim(), "PONG");

    let Some(bench) = stock_client("redis-benchmark") else {
        return;
    };
    let help = Command::new(&bench).arg("--help").output().unwrap();
    let help =
        String::from_utf8_lossy(&help.stdout).into_owned() + &String::from_utf8_lossy(&help.stderr);
    if !help.contains("--tls") {
        println!("skipped: this redis-benchmark is built without TLS");
        return;
    }
    let out = run_with_timeout(
        Command::new(&bench)
            .args(["-h", "127.0.0.1", "-p", &port, "--tls", "--cacert"])
            .arg(&certs.ca)
            .args(["-t", "set,get", "-n", "2000", "-c", "8", "-q"]),
        TIMEOUT,
    );
    let (report, _) = output_ok(&out);
    assert!(report.contains("SET:"), "{report}");
    assert!(report.contains("GET:"), "{report}");
    // redis-benchmark's SET wrote its 3-byte value under this literal key.
    assert_eq!(redis(&["GET", "key:__rand_int__"]).trim().len(), 3);
}

/// Python's `ssl` module, restricted to TLS 1.0 (OpenSSL needs security
/// level 0 to offer it): the handshake must fail with an alert from the
/// server (rustls answers a hello it has nothing in common with by
/// `handshake_failure`).
const PYTHON_TLS10: &str = r#"
import socket, ssl, sys
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
ctx.minimum_version = ssl.TLSVersion.TLSv1
ctx.maximum_version = ssl.TLSVersion.TLSv1
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
try:
    ctx.wrap_socket(s).do_handshake()
    print("handshake succeeded")
except ssl.SSLError as e:
    print("refused:", e)
"#;

#[test]
fn bad_input_closes_only_its_own_connection() {
    let certs = TestCerts::new();
    let s = start(env!("CARGO_BIN_EXE_http"), &certs);
    // A client in the middle of a keep-alive session throughout.
    let mut good = client(&s, &certs, &[]);
    let one = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n";
    good.write_all(one).unwrap();
    read_until(&mut good, |got| count(got, HELLO) == 1);

    let mut bad = 0;
    for input in [&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..], &[0xff; 300][..]] {
        let mut raw = s.connect();
        raw.write_all(input).unwrap();
        let mut reply = Vec::new();
        raw.read_to_end(&mut reply).expect("closed, not reset");
        // A TLS alert record (content type 21), then the end.
        assert!(reply.len() >= 7 && reply[0] == 21, "{reply:?}");
        bad += 1;
        good.write_all(one).unwrap();
        read_until(&mut good, |got| count(got, HELLO) == 1);
    }

    if let Some(python) = stock_client("python3") {
        let out = run_with_timeout(
            Command::new(python)
                .args(["-c", PYTHON_TLS10])
                .arg(s.addr.port().to_string()),
            TIMEOUT,
        );
        let (said, _) = output_ok(&out);
        assert!(said.starts_with("refused:"), "{said}");
        assert!(said.contains("ALERT"), "not refused with an alert: {said}");
        bad += 1;
        good.write_all(one).unwrap();
        read_until(&mut good, |got| count(got, HELLO) == 1);
    }

    // Each bad client was closed and counted; the good one never noticed.
    let stats = stats(&s, &certs);
    assert!(
        stats.contains(&format!("\"handler_errors\":{bad}")),
        "{bad} bad clients: {stats}"
    );
}

#[test]
fn a_bad_certificate_file_stops_the_server_with_its_name() {
    let certs = TestCerts::new();
    let missing = certs.cert.with_file_name("missing.pem");
    let out = run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_http"))
            .args(["--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(&missing)
            .arg("--tls-key")
            .arg(&certs.key),
        TIMEOUT,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("missing.pem"), "{stderr}");

    // A key that is not the certificate's.
    let other = TestCerts::new();
    let out = run_with_timeout(
        Command::new(env!("CARGO_BIN_EXE_http"))
            .args(["--addr", "127.0.0.1:0", "--tls-cert"])
            .arg(&certs.cert)
            .arg("--tls-key")
            .arg(&other.key),
        TIMEOUT,
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("key.pem"), "{stderr}");
}
