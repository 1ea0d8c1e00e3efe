//! The tokio peer: multi-thread runtime with N workers, one task per connection.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Builds a runtime with `workers` worker threads and serves forever on it
/// (echo, or the bench request rule with `requests`).
pub fn serve(addr: SocketAddr, workers: usize, requests: bool) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_io()
        .build()?;
    runtime.block_on(accept_loop(addr, requests))
}

/// Accepts connections and spawns one echo task for each.
async fn accept_loop(addr: SocketAddr, requests: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr).await?;
    super::announce(listener.local_addr()?)?;
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                tokio::spawn(echo(stream, requests));
            }
            Err(e) => eprintln!("tokio peer: accept: {e}"),
        }
    }
}

/// Echoes one connection (or answers its requests, with `requests`) until
/// the client closes it or an error occurs.
async fn echo(mut stream: TcpStream, requests: bool) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; super::BUF_SIZE];
    let mut answerer = requests.then(super::requests::Answerer::default);
    loop {
        match stream.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if stream
                    .write_all(super::reply(&mut answerer, &buf[..n]))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        }
    }
}
