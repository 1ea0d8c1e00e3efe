//! `set_max_connections`: with the cap reached, new clients wait in the
//! backlog (neither refused nor accepted and closed) and are served once
//! others close; `open` never exceeds the cap.

mod util;

use std::io::{Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio_pool::PoolBuilder;
use util::{client, round_trip, wait_stats, within_hang};

const CAP: usize = 10;
const CLIENTS: usize = 50;

#[test]
fn clients_beyond_the_cap_wait_and_are_all_served() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let builder = PoolBuilder::from(server).unwrap().set_max_connections(CAP);
    let stats = builder.stats_handle();
    let max_open = Arc::new(AtomicU64::new(0));
    let seen = max_open.clone();
    let h = builder.with_state(Vec::new()).run(
        2,
        move |c: &mut mio::net::TcpStream, s: &mut Vec<u8>| {
            seen.fetch_max(stats.snapshot().open, Ordering::Relaxed);
            util::echo(c, s)
        },
    );

    // The first CAP clients are served and stay open.
    let mut first: Vec<_> = (0..CAP)
        .map(|i| {
            let mut c = client(addr);
            let msg = format!("first {i}");
            assert_eq!(round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
            c
        })
        .collect();

    // The rest connect (the kernel completes their handshakes: none is
    // refused) and send; each does one round trip and closes.
    let rest: Vec<_> = (CAP..CLIENTS)
        .map(|i| {
            let mut c = client(addr);
            let msg = format!("client {i}");
            c.write_all(msg.as_bytes()).unwrap();
            thread::spawn(move || {
                let mut reply = vec![0u8; msg.len()];
                c.read_exact(&mut reply).unwrap();
                assert_eq!(reply, msg.as_bytes());
            })
        })
        .collect();

    // While the first ones stay open, none of the rest is accepted. (A
    // check that nothing happens: without the cap they are accepted within
    // a millisecond or so.)
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(200) {
        assert_eq!(h.stats().accepted, CAP as u64, "accepted past the cap");
        thread::sleep(Duration::from_millis(5));
    }

    // Each close lets the next client in.
    for c in first.iter_mut() {
        c.shutdown(std::net::Shutdown::Write).unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(c.read(&mut buf).unwrap(), 0);
    }
    drop(first);
    within_hang("every client beyond the cap is served", move || {
        for t in rest {
            t.join().unwrap();
        }
    });
    wait_stats(&h, "all closed", |s| s.closed == CLIENTS as u64);
    let s = h.stats();
    assert_eq!((s.accepted, s.accept_errors), (CLIENTS as u64, 0), "{s:?}");
    assert_eq!(
        max_open.load(Ordering::Relaxed),
        CAP as u64,
        "open, sampled in the handler, peaks at the cap and never above"
    );
    h.terminate();
}
