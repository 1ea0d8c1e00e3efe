//! TLS clients: rustls 0.23 (ring), one blocking connection per client
//! thread, trusting only the benchmark's own certificate.
//!
//! Blocking threads keep the client simple and identical for every server
//! it drives; the servers, not the client, are what the TLS scenarios
//! compare. Every socket has 10 s read and write timeouts, so a server that
//! stops answering fails the operation instead of hanging the run.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::{spawn_clients, Phase, Ready, Running, Tally};

/// The name in the benchmark's certificate, and the one clients ask for.
pub const SERVER_NAME: &str = "localhost";

/// How long a blocking read or write may wait.
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Byte pattern of the messages.
const FILL: u8 = 0x5a;

/// A client TLS connection.
pub type TlsClient = StreamOwned<ClientConnection, TcpStream>;

/// A client configuration that trusts `cert` only, with the ring provider,
/// TLS 1.3 and 1.2, and no session resumption: every handshake is a full
/// one, which is what the handshake scenario measures.
pub fn client_config(cert: CertificateDer<'static>) -> Result<Arc<ClientConfig>, String> {
    let mut roots = RootCertStore::empty();
    roots
        .add(cert)
        .map_err(|e| format!("the benchmark's certificate: {e}"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.resumption = Resumption::disabled();
    Ok(Arc::new(config))
}

/// Connects to `addr` (TCP_NODELAY, blocking with timeouts) and completes
/// the TLS handshake.
pub fn connect(addr: SocketAddr, config: &Arc<ClientConfig>) -> io::Result<TlsClient> {
    let tcp = TcpStream::connect_timeout(&addr, Duration::from_secs(5))?;
    tcp.set_nodelay(true)?;
    tcp.set_read_timeout(Some(IO_TIMEOUT))?;
    tcp.set_write_timeout(Some(IO_TIMEOUT))?;
    let name = ServerName::try_from(SERVER_NAME).expect("a valid DNS name");
    let conn = ClientConnection::new(Arc::clone(config), name).map_err(io::Error::other)?;
    let mut stream = StreamOwned::new(conn, tcp);
    while stream.conn.is_handshaking() {
        stream.conn.complete_io(&mut stream.sock)?;
    }
    Ok(stream)
}

/// Sends `msg` and reads its echo into `buf` (at least as long).
pub fn round_trip(stream: &mut TlsClient, msg: &[u8], buf: &mut [u8]) -> io::Result<()> {
    stream.write_all(msg)?;
    stream.flush()?;
    stream.read_exact(&mut buf[..msg.len()])
}

/// Sends `close_notify` and closes the connection.
pub fn close(mut stream: TlsClient) -> io::Result<()> {
    stream.conn.send_close_notify();
    stream.flush()
}

/// `conns` TLS connections, one client thread each, in closed-loop
/// ping-pong with `size`-byte messages; returns once all have completed
/// their handshake (the run starts in warm-up).
pub fn pingpong(
    addr: SocketAddr,
    conns: usize,
    size: usize,
    config: &Arc<ClientConfig>,
) -> Result<Running, String> {
    let config = Arc::clone(config);
    spawn_clients(conns, conns, move |_, phase, ready| {
        pingpong_client(addr, size, &config, phase, ready)
    })
}

/// One ping-pong connection's thread.
fn pingpong_client(
    addr: SocketAddr,
    size: usize,
    config: &Arc<ClientConfig>,
    phase: &Phase,
    ready: &Ready,
) -> Tally {
    let mut tally = Tally::default();
    let mut stream = match connect(addr, config) {
        Ok(s) => {
            let _ = ready.send(Ok(()));
            s
        }
        Err(e) => {
            let _ = ready.send(Err(format!("TLS connect to {addr}: {e}")));
            return tally;
        }
    };
    let msg = vec![FILL; size];
    let mut buf = vec![0u8; size];
    while !phase.is_stopped() {
        let started = Instant::now();
        match round_trip(&mut stream, &msg, &mut buf) {
            Ok(()) => tally.complete(phase, started),
            Err(e) => {
                tally.error(format!("TLS round trip: {e}"));
                return tally;
            }
        }
    }
    let _ = close(stream);
    tally
}

/// `threads` client threads, each repeating: connect, full handshake, one
/// `size`-byte round trip, `close_notify`, close. One operation is one
/// such connection.
pub fn handshakes(
    addr: SocketAddr,
    threads: usize,
    size: usize,
    config: &Arc<ClientConfig>,
) -> Result<Running, String> {
    let config = Arc::clone(config);
    spawn_clients(threads, threads, move |_, phase, ready| {
        let _ = ready.send(Ok(()));
        let mut tally = Tally::default();
        let msg = vec![FILL; size];
        let mut buf = vec![0u8; size];
        while !phase.is_stopped() {
            let started = Instant::now();
            let done = connect(addr, &config).and_then(|mut stream| {
                round_trip(&mut stream, &msg, &mut buf)?;
                close(stream)
            });
            match done {
                Ok(()) => tally.complete(phase, started),
                Err(e) => tally.error(format!("TLS connection: {e}")),
            }
        }
        tally
    })
}

/// Opens `n` TLS connections one after the other, each with its handshake
/// done and one `size`-byte round trip (so the server has finished with
/// the handshake too), and leaves them open and silent.
pub fn open_idle(
    addr: SocketAddr,
    n: usize,
    size: usize,
    config: &Arc<ClientConfig>,
) -> io::Result<Vec<TlsClient>> {
    let msg = vec![FILL; size];
    let mut buf = vec![0u8; size];
    (0..n)
        .map(|_| {
            let mut stream = connect(addr, config)?;
            round_trip(&mut stream, &msg, &mut buf)?;
            Ok(stream)
        })
        .collect()
}
