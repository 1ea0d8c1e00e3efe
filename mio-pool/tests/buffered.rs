//! `Buffered` in a pool: output queued when the handler closes is still
//! delivered.

mod util;

use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::sync::mpsc;

use mio_pool::{Buffered, PoolBuilder};
use util::{small_buffer, small_client, within_hang, HANG};

const REPLY: usize = 4 << 20;

fn reply_byte(i: usize) -> u8 {
    (i % 253) as u8
}

#[test]
fn a_reply_queued_when_the_handler_closes_arrives_whole_at_a_slow_reader() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let (queued_tx, queued) = mpsc::channel::<usize>();
    let h = PoolBuilder::from(server)
        .unwrap()
        // Small kernel buffers on both sides, so that most of the reply
        // must wait in `Buffered` (loopback would otherwise grow a silent
        // reader's window to `tcp_rmem`'s maximum, 32 MiB on some machines).
        .with_adapter(|stream: mio::net::TcpStream| {
            small_buffer(stream.as_raw_fd(), libc::SO_SNDBUF);
            Buffered::new(stream)
        })
        .with_state(queued_tx)
        .run(
            1,
            |c: &mut Buffered<mio::net::TcpStream>, done: &mut mpsc::Sender<usize>| {
                let mut request = [0u8; 16];
                let n = c.read(&mut request)?;
                if n == 0 {
                    return Ok(true);
                }
                // One request: a 4 MiB reply, then close at once.
                let reply: Vec<u8> = (0..REPLY).map(reply_byte).collect();
                c.write_all(&reply)?;
                let _ = done.send(c.queued().len());
                Ok(true)
            },
        );
    let mut c = small_client(addr);
    c.write_all(b"go").unwrap();
    // The client reads nothing until the handler has returned `Ok(true)`.
    let left = queued.recv_timeout(HANG).expect("handler ran");
    assert!(
        left > 0,
        "the socket took the whole reply: nothing was left to deliver on close"
    );
    let got = within_hang("reply after close", move || {
        let mut got = Vec::new();
        let mut chunk = [0u8; 16 << 10];
        loop {
            match c.read(&mut chunk) {
                Ok(0) => return got,
                Ok(n) => got.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => panic!("read after {} bytes: {e}", got.len()),
            }
        }
    });
    assert_eq!(got.len(), REPLY, "{left} bytes were queued at close");
    assert!(got.iter().enumerate().all(|(i, &b)| b == reply_byte(i)));
    h.terminate();
}
