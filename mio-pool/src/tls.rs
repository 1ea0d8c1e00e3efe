//! TLS connections on [`rustls`] (cargo feature `tls`).
//!
//! [`TlsAcceptor`] turns each accepted connection into a [`TlsStream`]
//! through [`PoolBuilder::with_adapter`](crate::PoolBuilder::with_adapter);
//! the handler then reads and writes plaintext exactly as it would on TCP,
//! and returns the same `Ok(false)` / `Err(WouldBlock)` / `Ok(true)`.
//!
//! ```
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::io::prelude::*;
//! use std::sync::Arc;
//! use mio_pool::tls::{rustls, TlsAcceptor, TlsStream};
//! use mio_pool::PoolBuilder;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer};
//!
//! // A self-signed certificate for 127.0.0.1 (`rcgen`; load PEM files in a
//! // real server, see `rustls::pki_types::pem::PemObject`).
//! let made = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])?;
//! let cert = CertificateDer::from(made.cert.der().to_vec());
//! let key = PrivateKeyDer::try_from(made.signing_key.serialize_der())?;
//!
//! let provider = Arc::new(rustls::crypto::ring::default_provider());
//! let config = rustls::ServerConfig::builder_with_provider(provider.clone())
//!     .with_safe_default_protocol_versions()?
//!     .with_no_client_auth()
//!     .with_single_cert(vec![cert.clone()], key)?;
//! let acceptor = TlsAcceptor::new(Arc::new(config))?;
//!
//! let server = mio::net::TcpListener::bind("127.0.0.1:0".parse()?)?;
//! let addr = server.local_addr()?;
//! let pool = PoolBuilder::from(server)?
//!     .with_adapter(move |tcp| acceptor.accept(tcp))
//!     .run_stateless(1, |c: &mut TlsStream<mio::net::TcpStream>| {
//!         // The handshake happens inside these calls, driven by readiness.
//!         let mut buf = [0u8; 1024];
//!         let n = c.read(&mut buf)?;
//!         if n == 0 {
//!             return Ok(true); // the client closed
//!         }
//!         c.write_all(&buf[..n])?; // small: rustls queues what TCP won't take
//!         Ok(false)
//!     });
//!
//! // A blocking rustls client that trusts the certificate.
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(cert)?;
//! let client = rustls::ClientConfig::builder_with_provider(provider)
//!     .with_safe_default_protocol_versions()?
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//! let name = rustls::pki_types::ServerName::try_from("127.0.0.1")?;
//! let conn = rustls::ClientConnection::new(Arc::new(client), name)?;
//! let mut tls = rustls::StreamOwned::new(conn, std::net::TcpStream::connect(addr)?);
//! tls.write_all(b"hello over TLS")?;
//! let mut buf = [0u8; 14];
//! tls.read_exact(&mut buf)?;
//! assert_eq!(&buf, b"hello over TLS");
//! pool.terminate();
//! # Ok(())
//! # }
//! ```
//!
//! # The crypto provider
//!
//! The feature builds rustls with its `ring` provider: it needs a C compiler
//! (which cargo's `cc` finds) and nothing else, no cmake, nasm or bindgen,
//! and built in about a third of the time `aws-lc-rs` took on the project's
//! machines. Build your `ServerConfig` with
//! `rustls::crypto::ring::default_provider()` (as above), or with
//! `ServerConfig::builder()` if ring is the only provider in your build.
//!
//! # Guarantees
//!
//! * **Readiness.** `read` returns `Err(WouldBlock)` only when the socket
//!   itself did, so a later readable event is guaranteed, also while a TLS
//!   record has only half arrived. Before it does, it sends what rustls
//!   wants to send (handshake messages, alerts, key updates), so a handler
//!   that only ever reads still completes the handshake. A `read` that
//!   returns fewer bytes than asked means the socket was drained (or the
//!   stream ended), as on TCP: the pool's short-read shortcut stays valid,
//!   except that a `close_notify` that came with the last data raises no
//!   event: see [`TlsStream::peer_closed`].
//! * **Writes are never lost.** `write` hands plaintext to rustls, which
//!   encrypts and queues it (before the handshake completes, it queues the
//!   plaintext). Whatever `write` accepted is sent, in order, by later calls
//!   of `write`, `read` or `flush`, or by [`Connection::poll_close`]. The
//!   queue is bounded by [`TlsAcceptor::set_buffer_limit`] (default
//!   64 KiB, rustls' own default): past it, `write` first tries to send, and
//!   returns `Err(WouldBlock)` only if nothing fits (a writable event follows,
//!   or, before the handshake completes, a readable one). `flush` returns
//!   `Err(WouldBlock)` while ciphertext is still queued.
//! * **Closing.** [`Connection::poll_close`] sends the queued data and a
//!   `close_notify` alert. A peer that closes with `close_notify` reads as
//!   `Ok(0)`, and so does one that just closes the TCP connection (many
//!   clients do; logged at debug): neither is a handler error.
//! * **Bad input** (garbage, plain HTTP, a protocol version or cipher the
//!   config does not allow, a handshake message over 64 KiB): `read` sends
//!   the alert rustls prepared, where there is one, logs at debug and returns
//!   `Err(InvalidData)`; the pool closes that connection and counts a handler
//!   error. Every later call returns the same kind of error.
//! * **Handshake deadline.** [`Connection::deadline`] is the accept time
//!   plus [`TlsAcceptor::set_handshake_timeout`] (default 10 s) while the
//!   handshake is running, and `None` after it.
//!
//! # Not guaranteed
//!
//! * Memory: an idle connection keeps the rustls session (keys and state,
//!   1.2 KiB inline plus what it points to) and rustls' 4 KiB receive
//!   buffer, which rustls shrinks back to that size whenever no record is
//!   pending; the send queues are empty. Measured with the `echo` example:
//!   about 8 KiB of resident memory per idle TLS 1.3 connection (1,000 of
//!   them), against 0.3 KiB on plain TCP. rustls' unbuffered API would let
//!   the receive buffer go between records too; this module does not use it
//!   (yet).
//! * Early data (TLS 1.3 0-RTT) is not read; rustls rejects it unless the
//!   config enables it.
//! * Reads of the socket are at most 4 KiB each (rustls' read size), and
//!   each `write` becomes at least one TLS record: write whole replies, not
//!   bytes.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::event::Source;
use rustls::{ServerConfig, ServerConnection};

use crate::driver::is_peer_gone;
use crate::Connection;

/// The rustls crate this module is built on, so that configs and
/// certificates come from the same version.
pub use rustls;

/// The default of [`TlsAcceptor::set_handshake_timeout`].
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The default of [`TlsAcceptor::set_buffer_limit`]: rustls' own.
pub const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;

/// Makes a [`TlsStream`] of each accepted connection; cheap to clone.
///
/// Use it as the pool's adapter:
/// `.with_adapter(move |tcp| acceptor.accept(tcp))`. See the
/// [module docs](self) for a complete example.
///
/// Set `TCP_NODELAY` on TCP connections before wrapping them
/// (`tcp.set_nodelay(true)` in the adapter): a TLS 1.3 server sends its
/// session tickets in one write and its first reply in the next, and with
/// Nagle's algorithm that reply waits for the client's delayed ACK (about
/// 40 ms on Linux). In the benchmark that held handshakes to 120 a second
/// against 2,610 with it set; the example servers set it.
#[derive(Debug, Clone)]
pub struct TlsAcceptor {
    config: Arc<ServerConfig>,
    handshake_timeout: Option<Duration>,
    buffer_limit: usize,
}

impl TlsAcceptor {
    /// An acceptor serving `config`.
    ///
    /// # Errors
    ///
    /// rustls refuses to start a session with this config (its
    /// `max_fragment_size` is out of range); checked here so that
    /// [`accept`](TlsAcceptor::accept) cannot fail.
    pub fn new(config: Arc<ServerConfig>) -> Result<TlsAcceptor, rustls::Error> {
        ServerConnection::new(config.clone())?;
        Ok(TlsAcceptor {
            config,
            handshake_timeout: Some(DEFAULT_HANDSHAKE_TIMEOUT),
            buffer_limit: DEFAULT_BUFFER_LIMIT,
        })
    }

    /// How long a client has to complete the handshake after it was
    /// accepted ([`DEFAULT_HANDSHAKE_TIMEOUT`]); `None` for no limit. The
    /// stream reports the deadline through [`Connection::deadline`], which
    /// the pool enforces.
    pub fn set_handshake_timeout(mut self, timeout: Option<Duration>) -> TlsAcceptor {
        self.handshake_timeout = timeout;
        self
    }

    /// How many bytes a stream queues for sending ([`DEFAULT_BUFFER_LIMIT`]):
    /// plaintext written before the handshake completed, then ciphertext the
    /// socket has not taken yet. Past it, `write` applies backpressure (see
    /// the [module docs](self#guarantees)). At least 1.
    pub fn set_buffer_limit(mut self, bytes: usize) -> TlsAcceptor {
        self.buffer_limit = bytes.max(1);
        self
    }

    /// The config the acceptor serves.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// Starts a server-side TLS session on `stream`. No I/O happens here:
    /// the handshake runs inside the handler's first reads.
    pub fn accept<S>(&self, stream: S) -> TlsStream<S> {
        // `ServerConnection::new` fails only on the config's
        // max_fragment_size, and `new` made one from this same config.
        let mut tls = ServerConnection::new(self.config.clone())
            .expect("TlsAcceptor::new checked that this config starts sessions");
        tls.set_buffer_limit(Some(self.buffer_limit));
        TlsStream {
            io: stream,
            tls,
            handshake_deadline: self.handshake_timeout.map(|t| Instant::now() + t),
            failed: None,
            close_notify_queued: false,
            peer_closed: false,
        }
    }
}

/// A server-side TLS session over a non-blocking stream `S` (usually
/// `mio::net::TcpStream`): plaintext through `Read` and `Write`, readiness
/// through [`Source`] (delegated to `S`). Made by [`TlsAcceptor::accept`];
/// see the [module docs](self) for what it guarantees.
///
/// # States
///
/// | state | is | reads | writes | next |
/// |-------|----|-------|--------|------|
/// | handshaking | `tls.is_handshaking()` | drive the handshake; `WouldBlock` until data | queued as plaintext | open, failed, ended |
/// | open | handshake done | plaintext | encrypted, queued, sent | closing, failed, ended |
/// | closing | `close_notify_queued` | as open | `BrokenPipe` | (dropped) |
/// | failed | `failed.is_some()` | `InvalidData` | `InvalidData` | (dropped) |
/// | ended | the peer closed (TCP EOF or `close_notify`) | `Ok(0)` | as before | closing |
///
/// In every state the stream sends what rustls has queued before a read
/// returns, and `failed` is entered only after the alert (if any) was given
/// to the socket once.
pub struct TlsStream<S> {
    io: S,
    tls: ServerConnection,
    /// When the handshake must be done by; ignored once it is.
    handshake_deadline: Option<Instant>,
    /// The fatal error that ended the session, repeated to every later call.
    failed: Option<String>,
    /// `close_notify` is queued (by `poll_close` or `queue_close_notify`).
    close_notify_queued: bool,
    /// The peer's `close_notify` (or the socket's end) has been received.
    peer_closed: bool,
}

impl<S> TlsStream<S> {
    /// The underlying stream. Reading or writing it directly breaks the
    /// session.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The underlying stream, mutably (for socket options). Reading or
    /// writing it directly breaks the session.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The rustls session: the negotiated protocol version, cipher suite,
    /// ALPN protocol, SNI name, ...
    pub fn session(&self) -> &ServerConnection {
        &self.tls
    }

    /// Whether the handshake is still running.
    pub fn is_handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }

    /// Whether the peer has ended its side: its `close_notify`, or the
    /// socket's end of stream, has been received. Reads return `Ok(0)` once
    /// the plaintext before it has been read.
    ///
    /// A `close_notify` that came in the same packet as the last data raises
    /// no event of its own (the socket stays open): a handler that stops at
    /// a short read should check this first, and read again if it is set.
    pub fn peer_closed(&self) -> bool {
        self.peer_closed
    }

    /// Whether output is queued that the socket has not taken yet
    /// (ciphertext, or plaintext written before the handshake completed).
    pub fn has_queued_output(&self) -> bool {
        self.tls.wants_write()
    }

    fn check_failed(&self) -> io::Result<()> {
        match &self.failed {
            Some(why) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("the TLS session failed earlier: {why}"),
            )),
            None => Ok(()),
        }
    }
}

impl<S: Read + Write> TlsStream<S> {
    /// Sends what rustls has queued until it is all sent (`Ok(true)`) or
    /// the socket would block (`Ok(false)`).
    fn send_queued(&mut self) -> io::Result<bool> {
        while self.tls.wants_write() {
            match self.tls.write_tls(&mut self.io) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Enters the failed state: gives the socket the alert rustls queued
    /// (once, best effort) and returns the error for the caller.
    fn fail(&mut self, why: String) -> io::Error {
        let _ = self.send_queued();
        log::debug!("mio-pool: TLS session failed, closing the connection: {why}");
        let e = io::Error::new(io::ErrorKind::InvalidData, why.clone());
        self.failed = Some(why);
        e
    }

    /// Reads TLS data from the socket once and processes it. `Ok(None)`:
    /// the socket would block. `Ok(Some(drained))`: something was read (or
    /// the socket ended); `drained` says the socket had no more.
    fn read_socket(&mut self) -> io::Result<Option<bool>> {
        let mut probe = Probe {
            io: &mut self.io,
            drained: false,
        };
        let n = loop {
            match self.tls.read_tls(&mut probe) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(None),
                // rustls' own refusal (a handshake message over 64 KiB).
                Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                    return Err(self.fail(e.to_string()))
                }
                Err(e) => return Err(e),
            }
        };
        let drained = probe.drained;
        if n == 0 {
            self.peer_closed = true;
            return Ok(Some(true)); // end of stream: rustls noted it
        }
        match self.tls.process_new_packets() {
            Ok(state) => self.peer_closed |= state.peer_has_closed(),
            Err(e) => return Err(self.fail(e.to_string())),
        }
        Ok(Some(drained))
    }

    /// Queues a `close_notify` alert (once) and sends what is queued;
    /// `Ok(true)` when all of it reached the socket. Later writes fail with
    /// `BrokenPipe`. For servers that half-close: shut the socket's write
    /// side down after this returns `Ok(true)`.
    pub fn queue_close_notify(&mut self) -> io::Result<bool> {
        if self.failed.is_none() && !self.close_notify_queued {
            self.tls.send_close_notify();
            self.close_notify_queued = true;
        }
        self.send_queued()
    }
}

/// Reads through to the socket and remembers whether it returned less than
/// asked: then the socket is drained, and the next bytes raise a new edge.
struct Probe<'a, S> {
    io: &'a mut S,
    drained: bool,
}

impl<S: Read> Read for Probe<'_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.io.read(buf)?;
        self.drained = n < buf.len();
        Ok(n)
    }
}

impl<S: Read + Write> Read for TlsStream<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.check_failed()?;
        if buf.is_empty() {
            return Ok(0);
        }
        let mut filled = 0;
        // The last socket read returned less than asked: the socket is
        // drained, and new data will raise a new edge.
        let mut drained = false;
        loop {
            // Plaintext already decrypted comes first.
            match self.tls.reader().read(&mut buf[filled..]) {
                Ok(0) => return Ok(filled), // close_notify received
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    if filled == 0 {
                        log::debug!("mio-pool: TLS peer closed without close_notify");
                    }
                    return Ok(filled);
                }
                Err(e) => return Err(e),
            }
            // What rustls wants to send goes out before we return, whatever
            // we return: a handshake flight, an alert, a key update. If the
            // socket blocks, a writable event will come and the next call
            // sends the rest. A peer that is gone cannot take it; the read
            // below tells how it left (end of stream, or the reset).
            match self.send_queued() {
                Err(e) if is_peer_gone(&e) => {}
                other => {
                    other?;
                }
            }
            // A short result only when the socket is drained (or ended), so
            // that a handler may stop at a short read, as on TCP.
            if filled == buf.len() || (drained && filled > 0) {
                return Ok(filled);
            }
            match self.read_socket()? {
                Some(now_drained) => drained = now_drained,
                // The socket said WouldBlock: a readable event will come.
                None if filled == 0 => return Err(io::ErrorKind::WouldBlock.into()),
                None => return Ok(filled),
            }
        }
    }
}

impl<S: Read + Write> Write for TlsStream<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.check_failed()?;
        if self.close_notify_queued {
            return Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the TLS session was closed",
            ));
        }
        if buf.is_empty() {
            return Ok(0);
        }
        let mut n = self.tls.writer().write(buf)?;
        if n == 0 {
            // The queue is at its limit: make room, then try once more.
            self.send_queued()?;
            n = self.tls.writer().write(buf)?;
            if n == 0 {
                // Still full, so either the socket blocked (a writable
                // event follows) or the handshake is not done (it waits for
                // the peer: a readable event follows).
                return Err(io::ErrorKind::WouldBlock.into());
            }
        }
        self.send_queued()?;
        Ok(n)
    }

    /// Sends what is queued; `Err(WouldBlock)` while the socket does not
    /// take all of it (a writable event follows).
    fn flush(&mut self) -> io::Result<()> {
        self.check_failed()?;
        if self.send_queued()? {
            self.io.flush()
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

delegate_source!([S] TlsStream<S> => io);

impl<S: Source + Read + Write> Connection for TlsStream<S> {
    /// Sends what is queued, then `close_notify` (not after a failure: the
    /// alert, if any, went out already).
    fn poll_close(&mut self) -> io::Result<()> {
        if self.failed.is_some() {
            return Ok(());
        }
        if self.queue_close_notify()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }

    /// The handshake deadline while the handshake runs; `None` after it.
    fn deadline(&self) -> Option<Instant> {
        if self.tls.is_handshaking() && self.failed.is_none() {
            self.handshake_deadline
        } else {
            None
        }
    }

    fn on_deadline(&mut self) {
        if self.tls.is_handshaking() {
            log::debug!("mio-pool: TLS handshake timed out; closing the connection");
        }
    }
}

impl<S: fmt::Debug> fmt::Debug for TlsStream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("io", &self.io)
            .field("handshaking", &self.tls.is_handshaking())
            .field("wants_write", &self.tls.wants_write())
            .field("failed", &self.failed)
            .field("close_notify_queued", &self.close_notify_queued)
            .finish_non_exhaustive()
    }
}
