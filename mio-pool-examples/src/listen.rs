//! Where an example server's listening socket comes from: bound from
//! `--addr` (optionally with `SO_REUSEPORT`), or inherited from systemd
//! socket activation (`LISTEN_FDS`/`LISTEN_PID`), from `--listen-fd N`, or
//! from the process being replaced on SIGHUP.
//!
//! An inherited socket may be TCP or Unix-domain; [`ServerListener`] and
//! [`ServerStream`] cover both, so one pool type serves either.
//!
//! # File descriptors
//!
//! Every listening socket this module hands out is non-blocking and
//! close-on-exec: a program the server starts does not inherit it by
//! accident. The one deliberate inheritance is the restart hand-off (see
//! [`crate::restart`]), which clears close-on-exec in the child only, between
//! `fork` and `exec`.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::path::PathBuf;
use std::sync::Mutex;

use mio::event::Source;
use mio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use mio::{Interest, Registry, Token};
use socket2::{Domain, Socket, Type};

use mio_pool::ShutdownWrite;

/// The first file descriptor systemd passes (`SD_LISTEN_FDS_START`).
pub const LISTEN_FDS_START: RawFd = 3;

/// The backlog of sockets this module binds itself (the kernel caps it at
/// `net.core.somaxconn`).
const BACKLOG: i32 = 1024;

/// A listening socket: TCP or Unix-domain.
#[derive(Debug)]
pub enum ServerListener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix-domain stream listener.
    Unix(UnixListener),
}

/// What a [`ServerListener`] listens on, as printed in the `listening on`
/// line: `127.0.0.1:8080`, or `unix:/run/kv.sock`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenAddr {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket's path (`None` for an unnamed or abstract socket).
    Unix(Option<PathBuf>),
}

impl fmt::Display for ListenAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ListenAddr::Tcp(a) => write!(f, "{a}"),
            ListenAddr::Unix(Some(p)) => write!(f, "unix:{}", p.display()),
            ListenAddr::Unix(None) => f.write_str("unix:(unnamed)"),
        }
    }
}

impl ServerListener {
    /// Binds `addr`; with `reuse_port`, sets `SO_REUSEPORT` first so that
    /// several processes can listen on the same port (the kernel spreads new
    /// connections between them).
    ///
    /// # Errors
    ///
    /// The error names the address (`cannot listen on 127.0.0.1:80: ...`).
    pub fn bind(addr: SocketAddr, reuse_port: bool) -> io::Result<ServerListener> {
        let bind = || -> io::Result<ServerListener> {
            let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
            // As std and mio do on Unix: a restarted server can bind at once
            // although connections of its predecessor are in TIME_WAIT.
            socket.set_reuse_address(true)?;
            if reuse_port {
                socket.set_reuse_port(true)?;
            }
            socket.bind(&addr.into())?;
            socket.listen(BACKLOG)?;
            ServerListener::from_socket(socket)
        };
        bind().map_err(|e| io::Error::new(e.kind(), format!("cannot listen on {addr}: {e}")))
    }

    /// Takes the listening socket that is open as file descriptor `fd` (from
    /// `--listen-fd`, systemd, or a restart), once per process.
    ///
    /// # Errors
    ///
    /// `fd` is a standard stream (0-2), was taken already, is not open, or
    /// is not a listening stream socket; the message says which.
    pub fn from_fd(fd: RawFd) -> io::Result<ServerListener> {
        let fd = take_fd(fd)?;
        let socket = Socket::from(fd);
        let bad = |why: &str| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("inherited fd {}: {why}", socket.as_raw_fd()),
            )
        };
        if socket.r#type().map_err(|e| bad(&e.to_string()))? != Type::STREAM {
            return Err(bad("not a stream socket"));
        }
        if !socket.is_listener().map_err(|e| bad(&e.to_string()))? {
            return Err(bad("not listening (listen(2) was not called on it)"));
        }
        ServerListener::from_socket(socket)
    }

    /// The listening socket systemd passed, if the environment says it
    /// passed one to this process (`LISTEN_PID` is our pid, `LISTEN_FDS` is
    /// at least 1); the first one (fd 3) is used.
    ///
    /// # Errors
    ///
    /// The variables are malformed, more than one fd was passed, or the fd
    /// is unusable (see [`ServerListener::from_fd`]).
    pub fn from_systemd() -> io::Result<Option<ServerListener>> {
        let var = |name| std::env::var(name).ok();
        match systemd_fds(var("LISTEN_PID"), var("LISTEN_FDS"), std::process::id())? {
            None => Ok(None),
            Some(_) => ServerListener::from_fd(LISTEN_FDS_START).map(Some),
        }
    }

    fn from_socket(socket: Socket) -> io::Result<ServerListener> {
        socket.set_nonblocking(true)?;
        let addr = socket.local_addr()?;
        let fd = OwnedFd::from(socket);
        if addr.is_unix() {
            let std = std::os::unix::net::UnixListener::from(fd);
            Ok(ServerListener::Unix(UnixListener::from_std(std)))
        } else {
            let std = std::net::TcpListener::from(fd);
            Ok(ServerListener::Tcp(TcpListener::from_std(std)))
        }
    }

    /// The address, for the `listening on` line.
    pub fn local_addr(&self) -> io::Result<ListenAddr> {
        match self {
            ServerListener::Tcp(l) => l.local_addr().map(ListenAddr::Tcp),
            ServerListener::Unix(l) => l
                .local_addr()
                .map(|a| ListenAddr::Unix(a.as_pathname().map(PathBuf::from))),
        }
    }
}

impl AsFd for ServerListener {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            ServerListener::Tcp(l) => l.as_fd(),
            ServerListener::Unix(l) => l.as_fd(),
        }
    }
}

/// Checks systemd's socket-activation variables: `Some(n)` when `n >= 1`
/// sockets were passed to the process `own_pid`, `None` when none were
/// passed to it (no variables, or `LISTEN_PID` names another process, as
/// when a child inherited the environment).
///
/// ```
/// use mio_pool_examples::listen::systemd_fds;
/// let s = |v: &str| Some(v.to_string());
/// assert_eq!(systemd_fds(s("42"), s("1"), 42).unwrap(), Some(1));
/// assert_eq!(systemd_fds(s("41"), s("1"), 42).unwrap(), None);
/// assert_eq!(systemd_fds(None, None, 42).unwrap(), None);
/// assert!(systemd_fds(s("42"), s("two"), 42).is_err());
/// assert!(systemd_fds(s("42"), s("2"), 42).is_err());
/// ```
///
/// # Errors
///
/// A malformed variable, or more than one socket (the examples listen on
/// one).
pub fn systemd_fds(
    listen_pid: Option<String>,
    listen_fds: Option<String>,
    own_pid: u32,
) -> io::Result<Option<u32>> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let (Some(pid), Some(fds)) = (listen_pid, listen_fds) else {
        return Ok(None);
    };
    let pid: u32 = pid
        .trim()
        .parse()
        .map_err(|_| invalid(format!("LISTEN_PID={pid:?} is not a process id")))?;
    if pid != own_pid {
        return Ok(None);
    }
    let n: u32 = fds
        .trim()
        .parse()
        .map_err(|_| invalid(format!("LISTEN_FDS={fds:?} is not a number")))?;
    match n {
        0 => Ok(None),
        1 => Ok(Some(1)),
        n => Err(invalid(format!(
            "LISTEN_FDS={n}: this server listens on one socket; pass one"
        ))),
    }
}

/// File descriptors already turned into owned values, so that no fd number
/// is ever owned twice (which would close it twice).
static TAKEN: Mutex<Vec<RawFd>> = Mutex::new(Vec::new());

/// Takes ownership of the inherited file descriptor `fd`, and makes it
/// close-on-exec.
///
/// This is the one place where an fd number becomes an owned value, and the
/// checks here are what make that sound:
///
/// * `fd` is not a standard stream;
/// * no earlier call took it (`TAKEN`, under its lock);
/// * it is open and *not* close-on-exec. Everything this process opens
///   itself (Rust's std, mio, signal-hook, socket2) is close-on-exec, so an
///   fd without the flag was inherited across `exec`: it was passed for us
///   to use, and nothing else in the process owns it. (The examples also
///   adopt their fds first thing, before opening any of their own.)
pub(crate) fn take_fd(fd: RawFd) -> io::Result<OwnedFd> {
    let invalid = |why: &str| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("inherited fd {fd}: {why}"),
        )
    };
    if fd < LISTEN_FDS_START {
        return Err(invalid("0, 1 and 2 are the standard streams"));
    }
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    if taken.contains(&fd) {
        return Err(invalid("already in use"));
    }
    // SAFETY: fcntl(F_GETFD) on any integer only reads the descriptor
    // table; it touches no memory of ours.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFD) };
    if flags == -1 {
        return Err(invalid(&format!(
            "not open ({}); was it passed to this process?",
            io::Error::last_os_error()
        )));
    }
    if flags & libc::FD_CLOEXEC != 0 {
        return Err(invalid(
            "close-on-exec, so opened by this process itself, not inherited",
        ));
    }
    taken.push(fd);
    // SAFETY: `fd` is open and was inherited (it survived an exec, see the
    // checks above), so no value in this process owns it; TAKEN makes this
    // the only conversion of the number. The OwnedFd is its only owner and
    // closes it exactly once.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: fcntl(F_SETFD) on an fd we own; it touches no memory of ours.
    if unsafe { libc::fcntl(owned.as_raw_fd(), libc::F_SETFD, flags | libc::FD_CLOEXEC) } == -1 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned)
}

/// Implements `mio::event::Source` for an enum whose variants `Tcp` and
/// `Unix` each hold a `Source`, by delegating to the variant.
macro_rules! delegate_source_to_variants {
    ($enum:ident) => {
        impl Source for $enum {
            fn register(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
                match self {
                    $enum::Tcp(s) => s.register(r, t, i),
                    $enum::Unix(s) => s.register(r, t, i),
                }
            }

            fn reregister(&mut self, r: &Registry, t: Token, i: Interest) -> io::Result<()> {
                match self {
                    $enum::Tcp(s) => s.reregister(r, t, i),
                    $enum::Unix(s) => s.reregister(r, t, i),
                }
            }

            fn deregister(&mut self, r: &Registry) -> io::Result<()> {
                match self {
                    $enum::Tcp(s) => s.deregister(r),
                    $enum::Unix(s) => s.deregister(r),
                }
            }
        }
    };
}

delegate_source_to_variants!(ServerListener);
delegate_source_to_variants!(ServerStream);

impl mio_pool::Listener for ServerListener {
    type Connection = ServerStream;

    fn accept(&self) -> io::Result<ServerStream> {
        match self {
            ServerListener::Tcp(l) => l.accept().map(|(s, _)| ServerStream::Tcp(s)),
            ServerListener::Unix(l) => l.accept().map(|(s, _)| ServerStream::Unix(s)),
        }
    }
}

/// A connection accepted by a [`ServerListener`].
#[derive(Debug)]
pub enum ServerStream {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix-domain connection.
    Unix(UnixStream),
}

impl Read for ServerStream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            ServerStream::Tcp(s) => s.read(buf),
            ServerStream::Unix(s) => s.read(buf),
        }
    }
}

impl Write for ServerStream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            ServerStream::Tcp(s) => s.write(buf),
            ServerStream::Unix(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Tcp(s) => s.flush(),
            ServerStream::Unix(s) => s.flush(),
        }
    }
}

impl ShutdownWrite for ServerStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        match self {
            ServerStream::Tcp(s) => s.shutdown_write(),
            ServerStream::Unix(s) => s.shutdown_write(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_inherited_fds_are_refused_with_the_reason() {
        let err = ServerListener::from_fd(1).unwrap_err().to_string();
        assert!(err.contains("standard streams"), "{err}");
        // A high number nobody opened.
        let err = ServerListener::from_fd(1_000_000).unwrap_err().to_string();
        assert!(err.contains("not open"), "{err}");
        // One this process opened itself (close-on-exec).
        let own = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let err = ServerListener::from_fd(own.as_raw_fd())
            .unwrap_err()
            .to_string();
        assert!(err.contains("not inherited"), "{err}");
        // An inheritable stream socket that is not listening.
        let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
        s.set_cloexec(false).unwrap();
        let raw = s.as_raw_fd();
        let taken = ServerListener::from_fd(raw);
        // from_fd took ownership of `raw`; do not let `s` close it too.
        std::mem::forget(s);
        let err = taken.unwrap_err().to_string();
        assert!(err.contains("not listening"), "{err}");
    }

    #[test]
    fn bind_errors_name_the_address() {
        let l = ServerListener::bind("127.0.0.1:0".parse().unwrap(), false).unwrap();
        let ListenAddr::Tcp(addr) = l.local_addr().unwrap() else {
            panic!("a TCP listener");
        };
        let err = ServerListener::bind(addr, false).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("cannot listen on {addr}: ")),
            "{err}"
        );
        // With SO_REUSEPORT on both, a second socket may share the port.
        let a = ServerListener::bind("127.0.0.1:0".parse().unwrap(), true).unwrap();
        let ListenAddr::Tcp(addr) = a.local_addr().unwrap() else {
            panic!("a TCP listener");
        };
        let b = ServerListener::bind(addr, true).unwrap();
        assert_eq!(b.local_addr().unwrap(), ListenAddr::Tcp(addr));
    }
}
