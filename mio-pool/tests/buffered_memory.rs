//! The crate example on `Buffered`: 64 MiB written by one client thread
//! while another reads come back whole and in order, and the server holds
//! no more than its high-water mark (plus slack) however far the reader
//! lags. Alone in its file: it measures the process's resident memory,
//! which other tests running in parallel would disturb.

mod util;

use std::io::{self, Read, Write};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mio_pool::{Buffered, PoolBuilder, DEFAULT_HIGH_WATER_MARK};
use util::{client, HANG};

const TOTAL: usize = 64 << 20;
const CHUNK: usize = 64 << 10;
/// How much the reader takes each time the writer stalls.
const READ_PER_STALL: usize = 8 << 20;
/// A write that makes no progress for this long means the server stopped
/// reading (its backpressure), not that it is slow.
const STALL: Duration = Duration::from_millis(100);

/// The stream's byte at offset `i` is `pattern()[i % CHUNK]`.
fn pattern() -> Vec<u8> {
    (0..CHUNK).map(|i| (i % 251) as u8).collect()
}

/// A field of `/proc/self/status`, in KiB.
fn status_kib(field: &str) -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("no {field} in /proc/self/status"));
    line[field.len()..]
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .unwrap()
}

/// The crate example's handler, on `Buffered`.
fn echo(c: &mut Buffered<mio::net::TcpStream>, seen: &mut usize) -> io::Result<bool> {
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    c.write_all(&buf[..n])?;
    *seen += n;
    Ok(false)
}

#[test]
#[cfg_attr(not(target_os = "linux"), ignore = "reads /proc/self")]
fn sixty_four_mib_come_back_in_order_with_bounded_server_memory() {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = PoolBuilder::from(server)
        .unwrap()
        .with_adapter(Buffered::new)
        .with_state(0usize)
        .and_return(|n| n)
        .run(2, echo);
    let writer = client(addr);
    let mut reader = writer.try_clone().unwrap();
    writer.set_write_timeout(Some(STALL)).unwrap();

    // Peak resident memory from here on ("5" resets VmHWM to VmRSS).
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let baseline = status_kib("VmRSS:");

    let (stalled, stalls) = mpsc::channel();
    let writing = thread::spawn(move || {
        let mut w = writer;
        let chunk = pattern();
        let mut sent = 0;
        while sent < TOTAL {
            let at = sent % CHUNK;
            let end = (CHUNK - at).min(TOTAL - sent);
            match w.write(&chunk[at..at + end]) {
                Ok(n) => sent += n,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) =>
                {
                    // No progress for STALL: let the reader take some.
                    let _ = stalled.send(());
                }
                Err(e) => panic!("write: {e}"),
            }
        }
        w
    });
    let chunk = pattern();
    let mut buf = vec![0u8; CHUNK];
    let mut got = 0;
    while got < TOTAL {
        // Lag behind: read only when the writer is stuck (or done).
        if !writing.is_finished() {
            let _ = stalls.recv_timeout(HANG);
        }
        let until = (got + READ_PER_STALL).min(TOTAL);
        while got < until {
            let at = got % CHUNK;
            let want = (CHUNK - at).min(until - got);
            let n = reader.read(&mut buf[..want]).expect("read");
            assert!(n > 0, "server closed after {got} bytes");
            assert_eq!(&buf[..n], &chunk[at..at + n], "wrong bytes at {got}");
            got += n;
        }
    }
    let peak = status_kib("VmHWM:");
    let _writer = writing.join().unwrap();
    let echoed = h.terminate();
    let seen: usize = echoed.into_iter().map(|r| r.unwrap()).sum();
    assert_eq!(seen, TOTAL);
    let grown = (peak.saturating_sub(baseline)) << 10;
    let bound = DEFAULT_HIGH_WATER_MARK + (8 << 20);
    assert!(
        grown < bound,
        "resident memory grew by {grown} bytes, more than the high-water mark + 8 MiB ({bound})"
    );
    println!("resident memory grew by {} KiB", grown >> 10);
}
