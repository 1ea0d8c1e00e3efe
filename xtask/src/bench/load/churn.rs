//! Connection churn: connect, one 64-byte round trip, close; as fast as the
//! server accepts. Each client thread works on one connection at a time
//! with blocking sockets, so every operation is a full connection lifetime.
//!
//! The client closes first, so each connection leaves a TIME_WAIT socket on
//! the client side, and a loopback TIME_WAIT port can be reused only once it
//! is a second old. At 10k-30k connections per second one source address
//! runs out of its ~28k ephemeral ports: `connect` then scans for a free
//! one, and every server measured the same ~10k connections/s with a 2.4 ms
//! p99. So connections come from source addresses spread over 127.0.0.0/8,
//! each with its own port space.

use std::io::{self, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::thread;
use std::time::{Duration, Instant};

use super::{Phase, Running, Tally};

/// Bound on every blocking step, so a stuck server cannot hang the run.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// Consecutive failures after which a client thread gives up.
const MAX_FAILURES_IN_A_ROW: u32 = 50;

/// Starts `threads` churning client threads with `size`-byte messages (in warm-up).
pub fn start(addr: SocketAddr, size: usize, threads: usize) -> Running {
    let phase = Phase::new();
    let handles = (0..threads.max(1))
        .map(|_| {
            let phase = phase.clone();
            thread::spawn(move || client(addr, size, &phase))
        })
        .collect();
    Running {
        phase,
        threads: handles,
    }
}

/// One churning client thread.
fn client(addr: SocketAddr, size: usize, phase: &Phase) -> Tally {
    let mut tally = Tally::default();
    let msg = vec![0x5a; size];
    let mut buf = vec![0u8; size];
    let mut failures = 0;
    let mut next_source = 0u32;
    while !phase.is_stopped() {
        let started = Instant::now();
        next_source = next_source.wrapping_add(1);
        match once(addr, source(next_source), &msg, &mut buf) {
            Ok(()) => {
                failures = 0;
                tally.complete(phase, started);
            }
            Err(e) => {
                tally.error(e);
                failures += 1;
                if failures >= MAX_FAILURES_IN_A_ROW {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
    tally
}

/// The `n`th source address: 127.0.0.2 to 127.0.0.254, then around again.
fn source(n: u32) -> Ipv4Addr {
    Ipv4Addr::new(127, 0, 0, 2 + (n % 253) as u8)
}

/// One connection: connect, send, read the echo back, close.
fn once(addr: SocketAddr, from: Ipv4Addr, msg: &[u8], buf: &mut [u8]) -> io::Result<()> {
    let mut stream = match addr {
        SocketAddr::V4(v4) if v4.ip().is_loopback() => connect_from(from, v4.ip(), v4.port())?,
        _ => TcpStream::connect_timeout(&addr, STEP_TIMEOUT)?,
    };
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(STEP_TIMEOUT))?;
    stream.set_write_timeout(Some(STEP_TIMEOUT))?;
    stream.write_all(msg)?;
    stream.read_exact(buf)?;
    Ok(())
}

/// Connects to `ip:port` from `from`, blocking for at most [`STEP_TIMEOUT`].
fn connect_from(from: Ipv4Addr, ip: &Ipv4Addr, port: u16) -> io::Result<TcpStream> {
    let check = |rc: libc::c_int| {
        if rc < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(rc)
        }
    };
    // SAFETY: socket has no memory-safety preconditions.
    let fd =
        check(unsafe { libc::socket(libc::AF_INET, libc::SOCK_STREAM | libc::SOCK_CLOEXEC, 0) })?;
    // SAFETY: `fd` is a socket we just opened and own; OwnedFd closes it on every path.
    let socket = unsafe { OwnedFd::from_raw_fd(fd) };
    let one: libc::c_int = 1;
    // Let connect pick the port, unique for the whole 4-tuple, instead of bind.
    // SAFETY: the option value is a valid c_int of the length given.
    check(unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            size_of::<libc::c_int>() as libc::socklen_t,
        )
    })?;
    // A blocking connect gives up after the send timeout.
    let timeout = libc::timeval {
        tv_sec: STEP_TIMEOUT.as_secs() as libc::time_t,
        tv_usec: 0,
    };
    // SAFETY: the option value is a valid timeval of the length given.
    check(unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_SNDTIMEO,
            (&timeout as *const libc::timeval).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    })?;
    let local = sockaddr(from, 0);
    // SAFETY: `local` is a valid sockaddr_in of the length given.
    check(unsafe {
        libc::bind(
            socket.as_raw_fd(),
            (&local as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    let remote = sockaddr(*ip, port);
    // SAFETY: `remote` is a valid sockaddr_in of the length given.
    check(unsafe {
        libc::connect(
            socket.as_raw_fd(),
            (&remote as *const libc::sockaddr_in).cast(),
            size_of::<libc::sockaddr_in>() as libc::socklen_t,
        )
    })?;
    Ok(TcpStream::from(socket))
}

/// An IPv4 socket address in the kernel's layout.
fn sockaddr(ip: Ipv4Addr, port: u16) -> libc::sockaddr_in {
    libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr {
            s_addr: u32::from(ip).to_be(),
        },
        sin_zero: [0; 8],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    #[test]
    fn sources_cycle_through_loopback() {
        assert_eq!(source(0), Ipv4Addr::new(127, 0, 0, 2));
        assert_eq!(source(252), Ipv4Addr::new(127, 0, 0, 254));
        assert_eq!(source(253), Ipv4Addr::new(127, 0, 0, 2));
    }

    #[test]
    fn connects_from_the_chosen_source() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let from = Ipv4Addr::new(127, 0, 0, 7);
        let stream = connect_from(from, &Ipv4Addr::LOCALHOST, port).unwrap();
        assert_eq!(stream.local_addr().unwrap().ip(), from);
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), from);
    }
}
