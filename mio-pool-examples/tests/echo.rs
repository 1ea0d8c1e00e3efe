//! The `echo` binary, driven by a plain `std::net::TcpStream` client.

mod util;

use std::io::{Read, Write};
use std::net::Shutdown;
use std::thread;

use util::Server;

fn server() -> Server {
    Server::start(env!("CARGO_BIN_EXE_echo"))
}

#[test]
fn echoes_line_by_line() {
    let s = server();
    let mut c = s.connect();
    for i in 0..10 {
        let msg = format!("message {i}\n");
        c.write_all(msg.as_bytes()).unwrap();
        let mut back = vec![0; msg.len()];
        c.read_exact(&mut back).unwrap();
        assert_eq!(back, msg.as_bytes());
    }
}

#[test]
fn a_large_stream_comes_back_whole_and_then_closes() {
    // More than the socket buffers hold, so the server must keep unsent
    // output and stop reading while the client is busy writing.
    const LEN: usize = 8 * 1024 * 1024;
    let s = server();
    let mut w = s.connect();
    let mut r = w.try_clone().unwrap();
    let data: Vec<u8> = (0..LEN).map(|i| (i * 7 % 251) as u8).collect();
    let expected = data.clone();
    let writer = thread::spawn(move || {
        w.write_all(&data).unwrap();
        // Half-close: the server answers everything, then closes.
        w.shutdown(Shutdown::Write).unwrap();
    });
    let mut back = Vec::with_capacity(LEN);
    r.read_to_end(&mut back).unwrap();
    writer.join().unwrap();
    assert_eq!(back.len(), LEN);
    assert!(back == expected, "echoed bytes differ");
}

#[test]
fn many_clients_at_once() {
    let s = server();
    let threads: Vec<_> = (0..32)
        .map(|i| {
            let mut c = s.connect();
            thread::spawn(move || {
                for j in 0..100 {
                    let msg = format!("client {i} message {j}");
                    c.write_all(msg.as_bytes()).unwrap();
                    let mut back = vec![0; msg.len()];
                    c.read_exact(&mut back).unwrap();
                    assert_eq!(back, msg.as_bytes());
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}

#[test]
fn sigterm_exits_cleanly() {
    util::sigterm_exits_cleanly(env!("CARGO_BIN_EXE_echo"), |s| {
        let mut c = s.connect();
        c.write_all(b"x").unwrap();
        let mut b = [0];
        c.read_exact(&mut b).unwrap();
    });
}

#[test]
fn bench_requests_spin_or_ask_for_a_large_reply() {
    use mio_pool_examples::echo::REQUEST_LEN;
    let s = Server::start_with(env!("CARGO_BIN_EXE_echo"), &["--bench-requests"]);
    let mut c = s.connect();
    // Larger than the socket buffers: the reply goes out under backpressure.
    const LARGE: u32 = 600_000;
    let mut large = [0u8; REQUEST_LEN];
    large[0] = b'L';
    large[1..5].copy_from_slice(&LARGE.to_le_bytes());
    let mut spin = [3u8; REQUEST_LEN];
    spin[0] = b'S';
    // Sent in pieces: a request is answered only once it is whole.
    c.write_all(&large[..10]).unwrap();
    c.write_all(&large[10..]).unwrap();
    let mut back = vec![0; LARGE as usize];
    c.read_exact(&mut back).unwrap();
    assert!(back.iter().all(|&b| b == b'x'));
    c.write_all(&spin).unwrap();
    let mut echo = [0u8; REQUEST_LEN];
    c.read_exact(&mut echo).unwrap();
    assert_eq!(echo, spin);
}
