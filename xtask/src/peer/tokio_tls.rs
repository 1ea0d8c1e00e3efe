//! The tokio-rustls peer: the tokio peer's design (multi-thread runtime,
//! one task per connection, a [`super::BUF_SIZE`] buffer each) with every
//! connection wrapped in a `tokio_rustls::server::TlsStream`.
//!
//! Its TLS configuration is the `echo` example's with `--tls-cert` and
//! `--tls-key`: rustls 0.23, the `ring` provider, TLS 1.3 and 1.2, no
//! client authentication, no ALPN, so the benchmark compares the servers
//! around rustls rather than two TLS set-ups.

use std::io;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

/// Loads the certificate and key, builds a runtime with `workers` worker
/// threads and serves forever on it.
pub fn serve(addr: SocketAddr, workers: usize, cert: &Path, key: &Path) -> io::Result<()> {
    let acceptor = TlsAcceptor::from(Arc::new(config(cert, key)?));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()?;
    runtime.block_on(accept_loop(addr, acceptor))
}

/// The server configuration: see the module docs.
fn config(cert: &Path, key: &Path) -> io::Result<ServerConfig> {
    let invalid = |what: &Path, e: &dyn std::fmt::Display| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{}: {e}", what.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .map_err(|e| invalid(cert, &e))?;
    let key_der = PrivateKeyDer::from_pem_file(key).map_err(|e| invalid(key, &e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| invalid(cert, &e))?
        .with_no_client_auth()
        .with_single_cert(certs, key_der)
        .map_err(|e| invalid(key, &e))
}

/// Accepts connections and spawns one handshake-then-echo task for each.
async fn accept_loop(addr: SocketAddr, acceptor: TlsAcceptor) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    super::announce(listener.local_addr()?)?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream, acceptor.clone()));
            }
            Err(e) => eprintln!("tokio-rustls peer: accept: {e}"),
        }
    }
}

/// Completes the handshake, then echoes until the client closes the
/// connection or an error occurs; a clean end sends `close_notify`.
async fn echo(stream: TcpStream, acceptor: TlsAcceptor) {
    let _ = stream.set_nodelay(true);
    let Ok(mut stream) = acceptor.accept(stream).await else {
        return;
    };
    let mut buf = vec![0u8; super::BUF_SIZE];
    loop {
        match stream.read(&mut buf).await {
            Ok(0) => {
                let _ = stream.shutdown().await;
                return;
            }
            Err(_) => return,
            Ok(n) => {
                if stream.write_all(&buf[..n]).await.is_err() {
                    return;
                }
            }
        }
    }
}
