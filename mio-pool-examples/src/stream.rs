//! The examples' connection stream: the accepted socket (TCP or Unix), plain
//! or in TLS when the server was started with `--tls-cert` and `--tls-key`
//! (chosen at run time, so one type covers both), and loading the TLS
//! config from PEM files.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::Instant;

use mio::event::Source;
use mio::{Interest, Registry, Token};
use mio_pool::tls::rustls::pki_types::pem::PemObject;
use mio_pool::tls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use mio_pool::tls::rustls::{self, ServerConfig};
use mio_pool::tls::{TlsAcceptor, TlsStream};
use mio_pool::Connection;

use crate::cli::TlsOptions;
use crate::listen::ServerStream;
use mio_pool::ShutdownWrite;

/// An accepted connection, plain or TLS.
///
/// The TLS session is boxed: a plain connection stays as small as the
/// socket (idle connections are what the benchmark counts).
pub enum Stream {
    /// Plain text.
    Plain(ServerStream),
    /// TLS over the socket.
    Tls(Box<TlsStream<ServerStream>>),
}

impl Stream {
    /// Wraps an accepted socket, in TLS if `tls` is given, and switches
    /// Nagle's algorithm off (`TCP_NODELAY`) on a TCP socket, as nginx
    /// (`tcp_nodelay on`) and redis-server do. These servers write each
    /// reply whole, so Nagle has nothing to coalesce; what it does instead
    /// is hold back a reply, or the short last segment of a large one,
    /// while the previous one is unacknowledged, and the client's ACK may
    /// wait for its delayed-ACK timer or ride on its next request:
    ///
    /// * plain TCP: in the benchmark's open loop at 25% load, one
    ///   connection in 64 fell into sending each reply only when the next
    ///   request brought the ACK (2 ms late, two thirds of its requests in
    ///   some rounds: the whole p99 at that load);
    /// * TLS 1.3: a server sends its session tickets once the client's
    ///   `Finished` arrives, and the reply to the client's first request
    ///   moments later, in a second write, which waited 40 ms for the
    ///   delayed ACK of the tickets (`cargo xtask bench --only
    ///   tls-handshake`: 120 handshakes/s with Nagle).
    pub fn accept(socket: ServerStream, tls: Option<&TlsAcceptor>) -> Stream {
        if let ServerStream::Tcp(tcp) = &socket {
            if let Err(e) = tcp.set_nodelay(true) {
                log::debug!("TCP_NODELAY on an accepted connection: {e}");
            }
        }
        match tls {
            Some(acceptor) => Stream::Tls(Box::new(acceptor.accept(socket))),
            None => Stream::Plain(socket),
        }
    }

    /// The socket, which is what registers in both cases.
    fn socket(&mut self) -> &mut ServerStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => s.get_mut(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

impl ShutdownWrite for Stream {
    /// For TLS: queues `close_notify` and sends it; the socket's write side
    /// is shut down too if all of it went out. If the socket is full, the
    /// alert goes out with the lingering reads that follow (they send what
    /// rustls queued first), and a TLS client takes it as the end.
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(s) => s.shutdown_write(),
            Stream::Tls(s) => {
                if s.queue_close_notify()? {
                    s.get_mut().shutdown_write()?;
                }
                Ok(())
            }
        }
    }

    fn end_pending(&self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(s) => s.peer_closed(),
        }
    }
}

impl Source for Stream {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.socket().register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.socket().reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.socket().deregister(registry)
    }
}

/// TCP holds nothing back and has no deadline of its own; TLS sends its
/// queue and `close_notify` on close, and has a handshake deadline.
impl Connection for Stream {
    fn poll_close(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(_) => Ok(()),
            Stream::Tls(s) => s.poll_close(),
        }
    }

    fn deadline(&self) -> Option<Instant> {
        match self {
            Stream::Plain(_) => None,
            Stream::Tls(s) => s.deadline(),
        }
    }

    fn on_deadline(&mut self) {
        if let Stream::Tls(s) = self {
            s.on_deadline();
        }
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Stream::Plain(s) => f.debug_tuple("Plain").field(s).finish(),
            Stream::Tls(s) => f.debug_tuple("Tls").field(s).finish(),
        }
    }
}

/// A TLS acceptor for `opts`: TLS 1.3 and 1.2 on rustls' ring provider,
/// the certificate chain and key from their PEM files, the ALPN protocols
/// offered.
///
/// # Errors
///
/// A file cannot be read or holds no certificate or key, the key does not
/// match the certificate, or rustls refuses the key type; the message names
/// the file.
pub fn acceptor(opts: &TlsOptions) -> io::Result<TlsAcceptor> {
    let certs = CertificateDer::pem_file_iter(&opts.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| bad_input(format!("{}: {e}", opts.cert.display())))?;
    if certs.is_empty() {
        return Err(bad_input(format!(
            "{}: no CERTIFICATE in the file",
            opts.cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(&opts.key)
        .map_err(|e| bad_input(format!("{}: {e}", opts.key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| bad_input(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            bad_input(format!(
                "{} and {}: {e}",
                opts.cert.display(),
                opts.key.display()
            ))
        })?;
    config.alpn_protocols = opts.alpn.clone();
    TlsAcceptor::new(Arc::new(config)).map_err(|e| bad_input(e.to_string()))
}

fn bad_input(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn acceptor() -> TlsAcceptor {
        let made = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
        // One directory per call: the tests that call this run in parallel,
        // and one's clean-up must not remove the other's files.
        static CALLS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let call = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("mio-pool-stream-{}-{call}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        std::fs::write(&cert, made.cert.pem()).unwrap();
        std::fs::write(&key, made.signing_key.serialize_pem()).unwrap();
        let acceptor = super::acceptor(&TlsOptions {
            cert,
            key,
            alpn: vec![b"http/1.1".to_vec()],
        });
        std::fs::remove_dir_all(&dir).unwrap();
        let acceptor = acceptor.unwrap();
        assert_eq!(acceptor.config().alpn_protocols, vec![b"http/1.1".to_vec()]);
        acceptor
    }

    fn socket() -> (ServerStream, std::net::TcpStream) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let server = mio::net::TcpStream::from_std(server);
        (ServerStream::Tcp(server), client)
    }

    #[test]
    fn connections_do_without_nagle() {
        let nodelay = |stream: &mut Stream| match stream.socket() {
            ServerStream::Tcp(s) => s.nodelay().unwrap(),
            ServerStream::Unix(_) => unreachable!("a TCP socket"),
        };
        let (tcp, _c1) = socket();
        let mut tls = Stream::accept(tcp, Some(&acceptor()));
        assert!(nodelay(&mut tls), "TLS needs TCP_NODELAY");
        let (tcp, _c2) = socket();
        let mut plain = Stream::accept(tcp, None);
        assert!(
            nodelay(&mut plain),
            "plain TCP too: replies are written whole"
        );
    }

    #[test]
    fn the_connection_hooks_reach_the_tls_session() {
        let (tcp, _c1) = socket();
        let mut plain = Stream::accept(tcp, None);
        assert_eq!(plain.deadline(), None);
        assert!(plain.poll_close().is_ok());

        let (tcp, _c2) = socket();
        let tls = Stream::accept(tcp, Some(&acceptor()));
        // A fresh TLS session is handshaking, against the default deadline.
        assert!(tls.deadline().is_some());
    }

    #[test]
    fn missing_files_are_named_in_the_error() {
        let e = super::acceptor(&TlsOptions {
            cert: PathBuf::from("/nonexistent/cert.pem"),
            key: PathBuf::from("/nonexistent/key.pem"),
            alpn: Vec::new(),
        })
        .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        assert!(e.to_string().contains("/nonexistent/cert.pem"), "{e}");
    }
}
