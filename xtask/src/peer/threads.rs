//! The thread-per-connection peer: blocking std I/O, one OS thread per client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::thread;

/// Accepts forever on the calling thread and spawns one echo thread per connection.
pub fn serve(addr: SocketAddr, requests: bool) -> io::Result<()> {
    let listener = TcpListener::bind(addr)?;
    super::announce(listener.local_addr()?)?;
    loop {
        let stream = match listener.accept() {
            Ok((stream, _)) => stream,
            // Out of file descriptors or a connection reset before accept:
            // the server survives, the client sees the failure.
            Err(e) => {
                eprintln!("threads peer: accept: {e}");
                continue;
            }
        };
        if let Err(e) = thread::Builder::new().spawn(move || echo(stream, requests)) {
            eprintln!("threads peer: spawn: {e}");
        }
    }
}

/// Echoes one connection (or answers its requests, with `requests`) until
/// the client closes it or an error occurs.
fn echo(mut stream: TcpStream, requests: bool) {
    let _ = stream.set_nodelay(true);
    let mut buf = vec![0u8; super::BUF_SIZE];
    let mut answerer = requests.then(super::requests::Answerer::default);
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => {
                if stream
                    .write_all(super::reply(&mut answerer, &buf[..n]))
                    .is_err()
                {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return,
        }
    }
}
