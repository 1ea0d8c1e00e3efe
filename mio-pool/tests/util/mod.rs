//! Helpers shared by the pool's integration tests.
#![allow(dead_code)]

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mio_pool::{PoolBuilder, PoolHandle, PoolStats};

/// A timeout that only fires on a real hang, even on a loaded 2-core machine.
pub const HANG: Duration = Duration::from_secs(60);

/// The handler of the crate's example: echo what was read, remember it.
pub fn echo(c: &mut mio::net::TcpStream, seen: &mut Vec<u8>) -> io::Result<bool> {
    let mut buf = [0u8; 1024];
    let n = c.read(&mut buf)?;
    if n == 0 {
        return Ok(true);
    }
    c.write_all(&buf[..n])?;
    seen.extend(&buf[..n]);
    Ok(false)
}

/// An echo pool on 127.0.0.1; each worker returns the bytes it echoed.
pub fn echo_pool(workers: usize) -> (SocketAddr, PoolHandle<Vec<u8>>) {
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let h = PoolBuilder::from(server)
        .unwrap()
        .with_state(Vec::new())
        .and_return(|v| v)
        .run(workers, echo);
    (addr, h)
}

/// A blocking client with generous timeouts, so a bug fails instead of
/// hanging the test run.
pub fn client(addr: SocketAddr) -> TcpStream {
    let c = TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(HANG)).unwrap();
    c.set_write_timeout(Some(HANG)).unwrap();
    c.set_nodelay(true).unwrap();
    c
}

/// Sends `msg` and reads back exactly as many bytes.
pub fn round_trip(c: &mut TcpStream, msg: &[u8]) -> Vec<u8> {
    c.write_all(msg).unwrap();
    let mut reply = vec![0u8; msg.len()];
    c.read_exact(&mut reply).unwrap();
    reply
}

/// Waits until `cond` holds for the pool's counters (a handshake on what
/// the pool has done, not a sleep).
pub fn wait_stats<R>(h: &PoolHandle<R>, what: &str, cond: impl Fn(&PoolStats) -> bool) {
    let start = Instant::now();
    loop {
        let s = h.stats();
        if cond(&s) {
            return;
        }
        assert!(
            start.elapsed() < HANG,
            "{what}: never happened; stats {s:?}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

/// Runs `f` on a thread; fails the test if it has not finished in [`HANG`].
pub fn within_hang<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what}: no progress in {HANG:?}"))
}

/// Sum of the bytes every worker echoed, from `terminate`'s results.
pub fn total(results: Vec<thread::Result<Vec<u8>>>) -> usize {
    results.into_iter().map(|r| r.unwrap().len()).sum()
}

/// Implements `mio::event::Source` for a wrapper type by delegating to one
/// of its fields: all a connection type needs to be used with
/// `with_adapter` (with `impl mio_pool::Connection for Type {}`).
///
/// `delegate_source!(Type, field, before_deregister = method)` calls
/// `self.method()` first in `deregister` (a test's hook into the pool's
/// closing path).
#[macro_export]
macro_rules! delegate_source {
    ($ty:ty, $field:ident $(, before_deregister = $hook:ident)?) => {
        impl mio::event::Source for $ty {
            fn register(
                &mut self,
                r: &mio::Registry,
                t: mio::Token,
                i: mio::Interest,
            ) -> std::io::Result<()> {
                self.$field.register(r, t, i)
            }
            fn reregister(
                &mut self,
                r: &mio::Registry,
                t: mio::Token,
                i: mio::Interest,
            ) -> std::io::Result<()> {
                self.$field.reregister(r, t, i)
            }
            fn deregister(&mut self, r: &mio::Registry) -> std::io::Result<()> {
                $(self.$hook();)?
                self.$field.deregister(r)
            }
        }
    };
}

/// Shrinks a socket's buffer (`SO_SNDBUF` or `SO_RCVBUF`) to 64 KiB, so
/// that a reply of a few MiB cannot fit in the kernel's buffers whatever
/// their autotuning does (`tcp_rmem`'s maximum is 32 MiB on some machines,
/// and loopback grows a silent reader's window up to it): the pool must
/// keep the rest and wait for the reader.
pub fn small_buffer(fd: std::os::fd::RawFd, option: libc::c_int) {
    let size: libc::c_int = 64 << 10;
    // SAFETY: `fd` is an open socket for the duration of the call, and
    // `size` is a valid c_int whose address and length are passed.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            option,
            std::ptr::addr_of!(size).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    assert_eq!(rc, 0, "setsockopt: {}", io::Error::last_os_error());
}

/// A client whose receive buffer is small (see [`small_buffer`]).
pub fn small_client(addr: std::net::SocketAddr) -> std::net::TcpStream {
    let c = client(addr);
    small_buffer(c.as_raw_fd(), libc::SO_RCVBUF);
    c
}
