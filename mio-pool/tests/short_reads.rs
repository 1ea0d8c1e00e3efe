//! Handlers that stop at a short read: the saved system call must not cost
//! a missed end of stream.

mod util;

use std::io::{self, Read, Write};
use std::net::Shutdown;

use util::{client, wait_stats};

/// Echoes one read's worth, then reports WouldBlock if the read was short
/// instead of reading again.
fn short_read_echo(c: &mut mio::net::TcpStream) -> io::Result<bool> {
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    c.write_all(&buf[..n])?;
    if n < buf.len() {
        return Err(io::ErrorKind::WouldBlock.into());
    }
    Ok(false)
}

#[test]
fn a_hang_up_that_came_with_the_data_still_closes_the_connection() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let builder = mio_pool::PoolBuilder::from(server).unwrap();
    // Data and the end of stream are both in the socket before the pool
    // ever looks at it: one event reports both, and no edge follows.
    let mut c = client(addr);
    c.write_all(b"last words").unwrap();
    c.shutdown(Shutdown::Write).unwrap();
    let h = builder.run_stateless(1, short_read_echo);
    let mut reply = Vec::new();
    c.read_to_end(&mut reply).unwrap();
    assert_eq!(reply, b"last words", "echoed, then closed by the pool");
    wait_stats(&h, "connection closed", |s| s.closed == 1 && s.open == 0);
    h.terminate();
}

#[test]
fn short_reads_keep_a_conversation_going() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .run_stateless(2, short_read_echo);
    let mut c = client(addr);
    for i in 0..500 {
        let msg = format!("short {i}");
        assert_eq!(util::round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
    }
    h.terminate();
}
