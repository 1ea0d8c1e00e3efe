//! `mio_pool::tls::TlsStream` driven directly, over a non-blocking socket
//! pair, against a rustls client in the same thread (every step is
//! deterministic, no timing involved), and then through a pool.
#![cfg(feature = "tls")]

mod util;

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::UnixStream;
use mio_pool::tls::rustls::{self, pki_types};
use mio_pool::tls::{TlsAcceptor, TlsStream};
use mio_pool::Connection;
use pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, ClientConnection, ServerConfig};

/// A server config and a client config that trusts it.
fn configs() -> (Arc<ServerConfig>, Arc<ClientConfig>) {
    let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let cert = CertificateDer::from(made.cert.der().to_vec());
    let key = PrivateKeyDer::try_from(made.signing_key.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (Arc::new(server), Arc::new(client))
}

struct Pair {
    server: TlsStream<UnixStream>,
    client: ClientConnection,
    sock: UnixStream,
}

fn pair_with(acceptor: &TlsAcceptor, client: Arc<ClientConfig>) -> Pair {
    let (a, b) = UnixStream::pair().unwrap(); // non-blocking
    let name = ServerName::try_from("localhost").unwrap();
    Pair {
        server: acceptor.accept(a),
        client: ClientConnection::new(client, name).unwrap(),
        sock: b,
    }
}

fn pair() -> Pair {
    let (server, client) = configs();
    pair_with(&TlsAcceptor::new(server).unwrap(), client)
}

fn would_block<T: std::fmt::Debug>(r: io::Result<T>) -> bool {
    match r {
        Err(e) => e.kind() == io::ErrorKind::WouldBlock,
        Ok(v) => panic!("expected WouldBlock, got Ok({v:?})"),
    }
}

impl Pair {
    /// The client sends what it has queued and takes what has arrived.
    fn pump(&mut self) {
        while self.client.wants_write() {
            match self.client.write_tls(&mut self.sock) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("client write: {e}"),
            }
        }
        loop {
            match self.client.read_tls(&mut self.sock) {
                Ok(0) => break,
                Ok(_) => {
                    self.client.process_new_packets().expect("client TLS");
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => panic!("client read: {e}"),
            }
        }
    }

    /// Completes the handshake with the server side only ever reading.
    fn handshake(&mut self) {
        let mut buf = [0u8; 64];
        for _ in 0..20 {
            self.pump();
            assert!(would_block(self.server.read(&mut buf)));
            if !self.client.is_handshaking() && !self.server.is_handshaking() {
                return;
            }
        }
        panic!("the handshake did not complete on reads alone");
    }

    fn client_received(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut buf = [0u8; 16 * 1024];
        loop {
            // One socket read at a time, so that rustls' plaintext buffer
            // is emptied before it fills.
            let more = match self.client.read_tls(&mut self.sock) {
                Ok(0) => false,
                Ok(_) => {
                    self.client.process_new_packets().expect("client TLS");
                    true
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
                Err(e) => panic!("client read: {e}"),
            };
            loop {
                match self.client.reader().read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("client plaintext: {e}"),
                }
            }
            if !more {
                return out;
            }
        }
    }
}

#[test]
fn the_handshake_completes_when_the_handler_only_reads() {
    let mut p = pair();
    // The server never calls write: its handshake flight must go out from
    // inside read, before read reports WouldBlock.
    p.handshake();
    p.client.writer().write_all(b"ping").unwrap();
    p.pump();
    let mut buf = [0u8; 64];
    assert_eq!(p.server.read(&mut buf).unwrap(), 4);
    assert_eq!(&buf[..4], b"ping");
}

#[test]
fn a_half_arrived_record_is_would_block_until_the_rest_comes() {
    let mut p = pair();
    p.handshake();
    p.client.writer().write_all(&[7u8; 1000]).unwrap();
    let mut wire = Vec::new();
    while p.client.wants_write() {
        p.client.write_tls(&mut wire).unwrap();
    }
    let half = wire.len() / 2;
    p.sock.write_all(&wire[..half]).unwrap();
    let mut buf = [0u8; 4096];
    assert!(would_block(p.server.read(&mut buf)));
    p.sock.write_all(&wire[half..]).unwrap();
    assert_eq!(p.server.read(&mut buf).unwrap(), 1000);
    assert!(buf[..1000].iter().all(|&b| b == 7));
}

#[test]
fn a_short_read_means_the_socket_is_drained() {
    let mut p = pair();
    p.handshake();
    // More ciphertext than rustls reads from a socket at once (4 KiB).
    let sent: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
    p.client.writer().write_all(&sent).unwrap();
    p.pump();
    let mut buf = vec![0u8; 64 * 1024];
    let n = p.server.read(&mut buf).unwrap();
    // Fewer bytes than asked: there must be nothing left behind, since a
    // handler may stop here and wait for an edge that would never come.
    assert_eq!(n, sent.len());
    assert_eq!(&buf[..n], &sent[..]);
    assert!(would_block(p.server.read(&mut buf)));
}

#[test]
fn a_peer_that_vanishes_without_close_notify_is_end_of_stream() {
    let mut p = pair();
    p.handshake();
    p.client.writer().write_all(b"last").unwrap();
    p.pump();
    drop(p.sock);
    let mut buf = [0u8; 64];
    assert_eq!(p.server.read(&mut buf).unwrap(), 4);
    assert_eq!(p.server.read(&mut buf).unwrap(), 0);
    assert_eq!(p.server.read(&mut buf).unwrap(), 0);

    // The same in the middle of the handshake.
    let mut p = pair();
    p.pump();
    drop(p.sock);
    assert_eq!(p.server.read(&mut buf).unwrap(), 0);
}

#[test]
fn a_clean_close_notify_is_end_of_stream() {
    let mut p = pair();
    p.handshake();
    p.client.send_close_notify();
    p.pump();
    let mut buf = [0u8; 64];
    assert_eq!(p.server.read(&mut buf).unwrap(), 0);
}

#[test]
fn close_notify_with_the_last_data_is_visible_without_another_event() {
    let mut p = pair();
    p.handshake();
    p.client.writer().write_all(b"last words").unwrap();
    p.client.send_close_notify();
    p.pump();
    let mut buf = [0u8; 64];
    assert_eq!(p.server.read(&mut buf).unwrap(), 10);
    // The socket is still open and drained: no event will come, so the
    // handler must be able to see that the stream ended.
    assert!(p.server.peer_closed());
    assert_eq!(p.server.read(&mut buf).unwrap(), 0);
}

#[test]
fn garbage_gets_an_alert_and_invalid_data_every_time() {
    let mut p = pair();
    p.sock
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let mut buf = [0u8; 64];
    let e = p.server.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
    // A TLS alert record (content type 21) went back to the client.
    let mut wire = [0u8; 64];
    let n = p.sock.read(&mut wire).unwrap();
    assert!(n >= 7 && wire[0] == 21, "no alert: {:?}", &wire[..n]);
    let e = p.server.read(&mut buf).unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    assert!(p.server.write(b"x").is_err());
    assert_eq!(p.server.deadline(), None);
}

#[test]
fn poll_close_sends_close_notify_and_later_writes_fail() {
    let mut p = pair();
    p.handshake();
    p.server.write_all(b"bye").unwrap();
    p.server.poll_close().unwrap();
    assert_eq!(p.client_received(), b"bye");
    // Ok(0) from the client's reader means a close_notify arrived (an
    // unclean close would be UnexpectedEof).
    let mut buf = [0u8; 8];
    assert_eq!(p.client.reader().read(&mut buf).unwrap(), 0);
    assert_eq!(
        p.server.write(b"more").unwrap_err().kind(),
        io::ErrorKind::BrokenPipe
    );
}

#[test]
fn writes_are_never_lost_and_the_queue_is_bounded() {
    let (server, client) = configs();
    let limit = 16 * 1024;
    let acceptor = TlsAcceptor::new(server).unwrap().set_buffer_limit(limit);
    let mut p = pair_with(&acceptor, client);
    p.handshake();
    let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut accepted = 0;
    let mut received = Vec::new();
    let mut blocked = 0;
    while accepted < data.len() {
        match p
            .server
            .write(&data[accepted..(accepted + 10_000).min(data.len())])
        {
            Ok(n) => {
                assert!(n > 0);
                accepted += n;
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                blocked += 1;
                // Backpressure: nothing more fits until the client reads.
                assert!(p.server.has_queued_output());
                received.extend(p.client_received());
            }
            Err(e) => panic!("server write: {e}"),
        }
    }
    assert!(
        blocked > 0,
        "a 4 MiB write into a full socket never blocked"
    );
    // flush reports WouldBlock until everything reached the socket.
    while let Err(e) = p.server.flush() {
        assert_eq!(e.kind(), io::ErrorKind::WouldBlock);
        received.extend(p.client_received());
    }
    received.extend(p.client_received());
    assert_eq!(received.len(), data.len());
    assert!(received == data, "bytes arrived out of order");
}

#[test]
fn the_handshake_has_a_deadline_until_it_completes() {
    let (server, client) = configs();
    let before = Instant::now();
    let acceptor = TlsAcceptor::new(server.clone())
        .unwrap()
        .set_handshake_timeout(Some(Duration::from_secs(5)));
    let mut p = pair_with(&acceptor, client.clone());
    let deadline = p.server.deadline().expect("a deadline while handshaking");
    assert!(deadline >= before + Duration::from_secs(5));
    assert!(deadline <= Instant::now() + Duration::from_secs(5));
    p.handshake();
    assert_eq!(p.server.deadline(), None);

    let acceptor = TlsAcceptor::new(server)
        .unwrap()
        .set_handshake_timeout(None);
    assert_eq!(pair_with(&acceptor, client).server.deadline(), None);
}

/// The crate example's echo handler, on TLS.
fn tls_echo(c: &mut TlsStream<mio::net::TcpStream>) -> io::Result<bool> {
    let mut buf = [0u8; 16 * 1024];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    c.write_all(&buf[..n])?;
    Ok(false)
}

/// A pool of two workers serving TLS with `handler`, and its address.
fn tls_pool(
    acceptor: TlsAcceptor,
    handler: fn(&mut TlsStream<mio::net::TcpStream>) -> io::Result<bool>,
) -> (std::net::SocketAddr, mio_pool::PoolHandle<()>) {
    let listener = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = listener.local_addr().unwrap();
    let pool = mio_pool::PoolBuilder::from(listener)
        .unwrap()
        .with_adapter(move |tcp| acceptor.accept(tcp))
        .run_stateless(2, handler);
    (addr, pool)
}

/// A rustls client connected to `addr`.
fn tls_client(
    config: Arc<ClientConfig>,
    addr: std::net::SocketAddr,
) -> rustls::StreamOwned<ClientConnection, std::net::TcpStream> {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(config, name).unwrap();
    rustls::StreamOwned::new(conn, util::client(addr))
}

#[test]
fn a_pool_serves_tls_clients_while_a_bad_one_is_closed() {
    let (server, client) = configs();
    let acceptor = TlsAcceptor::new(server).unwrap();
    let (addr, pool) = tls_pool(acceptor, tls_echo);

    let clients: Vec<_> = (0..8u8)
        .map(|i| {
            let config = client.clone();
            std::thread::spawn(move || {
                let mut tls = tls_client(config, addr);
                for round in 0..50u8 {
                    let msg = vec![i ^ round; 1000];
                    tls.write_all(&msg).unwrap();
                    let mut back = vec![0u8; msg.len()];
                    tls.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg);
                }
            })
        })
        .collect();

    // Meanwhile, plain text at the TLS port: an alert, then the end.
    let mut bad = util::client(addr);
    bad.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let mut reply = Vec::new();
    bad.read_to_end(&mut reply).unwrap();
    assert!(reply.len() >= 7 && reply[0] == 21, "{reply:?}");

    for c in clients {
        c.join().expect("a good client failed");
    }
    // Eight clients left without close_notify: closed, not errors; the bad
    // one is the only handler error.
    util::wait_stats(&pool, "all nine closed", |s| s.closed == 9);
    let stats = pool.stats();
    assert_eq!(stats.handler_errors, 1, "{stats:?}");
    pool.terminate();
}

/// Answers one request, then asks the pool to close: the reply and a
/// `close_notify` must both reach the client.
fn reply_then_close(c: &mut TlsStream<mio::net::TcpStream>) -> io::Result<bool> {
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    c.write_all(b"bye: ")?;
    c.write_all(&buf[..n])?;
    Ok(true)
}

#[test]
fn a_handler_that_closes_after_its_reply_sends_the_reply_and_close_notify() {
    let (server, client) = configs();
    let acceptor = TlsAcceptor::new(server).unwrap();
    let (addr, pool) = tls_pool(acceptor, reply_then_close);

    for i in 0..4u8 {
        let mut tls = tls_client(client.clone(), addr);
        let msg = [b'a' + i; 100];
        tls.write_all(&msg).unwrap();
        // rustls reads `Ok(0)` only after a close_notify; a socket that
        // closes without one is `UnexpectedEof`.
        let mut reply = Vec::new();
        match tls.read_to_end(&mut reply) {
            Ok(_) => {}
            Err(e) => panic!(
                "client {i}: {e} after {} bytes: no close_notify",
                reply.len()
            ),
        }
        assert_eq!(&reply[..5], b"bye: ");
        assert_eq!(&reply[5..], &msg[..]);
    }
    util::wait_stats(&pool, "all four closed", |s| s.closed == 4);
    let stats = pool.stats();
    assert_eq!((stats.handler_errors, stats.timed_out), (0, 0), "{stats:?}");
    pool.terminate();
}

#[test]
fn a_client_that_never_finishes_its_handshake_is_closed_at_the_deadline() {
    let (server, client) = configs();
    let timeout = Duration::from_millis(1600);
    let acceptor = TlsAcceptor::new(server)
        .unwrap()
        .set_handshake_timeout(Some(timeout));
    let (addr, pool) = tls_pool(acceptor, tls_echo);

    // One client that stops after the first bytes of a ClientHello (a
    // record header promising more), one that sends nothing at all.
    let started = Instant::now();
    let mut partial = util::client(addr);
    partial.write_all(&[22, 3, 1, 0, 200, 1]).unwrap();
    let mut silent = util::client(addr);
    // And a client that completes its handshake: it has no deadline.
    let mut good = tls_client(client, addr);
    good.write_all(b"first").unwrap();
    let mut back = [0u8; 5];
    good.read_exact(&mut back).unwrap();

    for (what, sock) in [("partial", &mut partial), ("silent", &mut silent)] {
        let mut rest = Vec::new();
        // Ends (EOF, or a reset) at the deadline; the client's read timeout
        // (HANG) fires only if the pool never closes it.
        let _ = sock.read_to_end(&mut rest);
        let waited = started.elapsed();
        assert!(waited < util::HANG, "{what}: still open after {waited:?}");
        // Nothing, or the alert that closes the session (close_notify).
        assert!(rest.is_empty() || rest[0] == 21, "{what}: got {rest:?}");
    }
    let waited = started.elapsed();
    assert!(waited >= timeout, "closed early, after {waited:?}");
    util::wait_stats(&pool, "both counted", |s| s.closed == 2);
    let stats = pool.stats();
    assert_eq!((stats.timed_out, stats.open), (2, 1), "{stats:?}");

    // The finished handshake outlives the deadline.
    good.write_all(b"again").unwrap();
    good.read_exact(&mut back).unwrap();
    assert_eq!(&back, b"again");
    pool.terminate();
}
