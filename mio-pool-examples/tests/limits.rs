//! The examples' `--idle-timeout` and `--max-connections` reach the pool.

mod util;

use std::io::{self, Read, Write};
use std::time::{Duration, Instant};

use util::{Server, TIMEOUT};

#[test]
fn idle_timeout_closes_an_idle_connection() {
    let s = Server::start_with(
        env!("CARGO_BIN_EXE_kv"),
        &["--workers", "1", "--idle-timeout", "0.5"],
    );
    let mut c = s.connect();
    c.write_all(b"PING\r\n").unwrap();
    let mut pong = [0u8; 7];
    c.read_exact(&mut pong).unwrap();
    let idle_since = Instant::now();
    // The server closes; the read returns end of stream (within TIMEOUT).
    assert_eq!(c.read(&mut [0u8; 1]).unwrap(), 0);
    let idle = idle_since.elapsed();
    assert!(idle >= Duration::from_millis(500), "closed after {idle:?}");
}

#[test]
fn max_connections_holds_new_clients_in_the_backlog_until_one_closes() {
    let s = Server::start_with(
        env!("CARGO_BIN_EXE_echo"),
        &["--workers", "1", "--max-connections", "1"],
    );
    let mut first = s.connect();
    first.write_all(b"a").unwrap();
    first.read_exact(&mut [0u8; 1]).unwrap();
    // Connected (the kernel's backlog), but not accepted while `first` is
    // open: no echo.
    let mut second = s.connect();
    second.write_all(b"b").unwrap();
    second
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let waited = second.read(&mut [0u8; 1]);
    assert!(
        matches!(&waited, Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut)),
        "the second client was served while the first was open: {waited:?}"
    );
    drop(first);
    second.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut echoed = [0u8; 1];
    second.read_exact(&mut echoed).unwrap();
    assert_eq!(&echoed, b"b");
}
