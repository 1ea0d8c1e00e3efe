//! One client, many round trips, large writes: the crate example's handler
//! under the "call until WouldBlock" contract.

mod util;

use std::io::{Read, Write};
use std::thread;

use util::{client, echo_pool, round_trip, total, within_hang};

#[test]
fn one_client() {
    let (addr, h) = echo_pool(1);
    let mut c = client(addr);
    assert_eq!(round_trip(&mut c, b"hello world"), b"hello world");
    drop(c);
    assert_eq!(total(h.terminate()), 11);
}

#[test]
fn many_round_trips_on_one_connection() {
    let (addr, h) = echo_pool(2);
    let mut c = client(addr);
    let mut sent = 0;
    for i in 0..2000u32 {
        let msg = format!("message {i}");
        assert_eq!(round_trip(&mut c, msg.as_bytes()), msg.as_bytes());
        sent += msg.len();
    }
    drop(c);
    assert_eq!(total(h.terminate()), sent);
}

#[test]
fn a_large_single_write_is_echoed_whole() {
    // 100 KiB in one write to a handler that reads 1024 bytes a call: the
    // pool must call it again until WouldBlock, with no new edge.
    let (addr, h) = echo_pool(1);
    let mut c = client(addr);
    let data: Vec<u8> = (0..100 * 1024).map(|i| (i % 251) as u8).collect();
    let mut reader = c.try_clone().unwrap();
    let expected = data.clone();
    let read = thread::spawn(move || {
        let mut got = vec![0u8; expected.len()];
        reader.read_exact(&mut got).unwrap();
        assert!(got == expected, "echo differs");
    });
    c.write_all(&data).unwrap();
    within_hang("large echo", move || read.join().unwrap());
    drop(c);
    assert_eq!(total(h.terminate()), data.len());
}

#[test]
fn ipv6_loopback_works_too() {
    let Ok(server) = mio::net::TcpListener::bind("[::1]:0".parse().unwrap()) else {
        println!("skipped: no IPv6 loopback on this machine");
        return;
    };
    let addr = server.local_addr().unwrap();
    let h = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_state(Vec::new())
        .and_return(|v| v)
        .run(1, util::echo);
    let mut c = client(addr);
    assert_eq!(round_trip(&mut c, b"six"), b"six");
    drop(c);
    assert_eq!(total(h.terminate()), 3);
}
