//! Connections are registered writable too: a handler whose output did not
//! fit in the send buffer runs again when the buffer drains, with no new
//! input from the client.

mod util;

use std::io::{self, Read, Write};

use util::{client, within_hang};

const REPLY: usize = 8 << 20;

/// A connection with output waiting to be sent.
struct Pending {
    stream: mio::net::TcpStream,
    out: Vec<u8>,
    sent: usize,
}

delegate_source!(Pending, stream);
impl mio_pool::Connection for Pending {}

fn big_reply(c: &mut Pending) -> io::Result<bool> {
    let mut buf = [0u8; 64];
    loop {
        match c.stream.read(&mut buf) {
            Ok(0) => return Ok(true),
            // Any request: queue 8 MiB, far more than a socket buffer.
            Ok(_) => c.out = (0..REPLY).map(|i| (i % 253) as u8).collect(),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
            Err(e) => return Err(e),
        }
    }
    while c.sent < c.out.len() {
        // Err(WouldBlock) when the buffer is full: the pool calls again
        // once it drains.
        c.sent += c.stream.write(&c.out[c.sent..])?;
    }
    Err(io::ErrorKind::WouldBlock.into())
}

#[test]
fn output_resumes_when_the_send_buffer_drains() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_adapter(|stream| Pending {
            stream,
            out: Vec::new(),
            sent: 0,
        })
        .run_stateless(1, big_reply);
    let mut c = client(addr);
    c.write_all(b"send me a lot").unwrap();
    let got = within_hang("8 MiB reply", move || {
        let mut got = vec![0u8; REPLY];
        c.read_exact(&mut got).unwrap();
        got
    });
    assert!(got.iter().enumerate().all(|(i, &b)| b == (i % 253) as u8));
    h.terminate();
}
