//! `with_adapter`: the handler works on the user's own connection type, which
//! only delegates `mio::event::Source`.

mod util;

use std::io::{Read, Write};

use util::{client, round_trip};

/// A connection with a per-connection counter: a session object.
struct Session {
    stream: mio::net::TcpStream,
    id: u64,
    requests: u64,
}

delegate_source!(Session, stream);
impl mio_pool::Connection for Session {}

#[test]
fn the_handler_sees_the_adapted_type() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let next_id = std::sync::atomic::AtomicU64::new(1);
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_adapter(move |stream| Session {
            stream,
            id: next_id.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            requests: 0,
        })
        .run_stateless(2, |s: &mut Session| {
            let mut buf = [0u8; 256];
            let n = s.stream.read(&mut buf)?;
            if n == 0 {
                return Ok(true);
            }
            s.requests += 1;
            let reply = format!("session {} request {}", s.id, s.requests);
            s.stream.write_all(reply.as_bytes())?;
            Ok(false)
        });
    let mut a = client(addr);
    assert_eq!(round_trip(&mut a, &[b'.'; 19]), b"session 1 request 1");
    assert_eq!(round_trip(&mut a, &[b'.'; 19]), b"session 1 request 2");
    let mut b = client(addr);
    assert_eq!(round_trip(&mut b, &[b'.'; 19]), b"session 2 request 1");
    assert_eq!(round_trip(&mut a, &[b'.'; 19]), b"session 1 request 3");
    h.terminate();
}
