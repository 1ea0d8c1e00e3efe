//! [`ShutdownWrite`]: what a [`Driver`](crate::Driver) needs to close
//! gracefully.

use std::io;
use std::net::Shutdown;

/// A stream whose write side can be shut down on its own, so that the peer
/// sees the end of our output while we can still read (and discard) what
/// it sends: the driver's lingering close.
pub trait ShutdownWrite {
    /// Shuts down the write side (`shutdown(SHUT_WR)`; for TLS, a
    /// `close_notify` first).
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Whether the peer's end of stream has already arrived although the
    /// last read still returned data, so that no readiness event will
    /// announce it (TLS: a `close_notify` in the same packet as the last
    /// data). [`Driver::drive`](crate::Driver::drive) then reads again after
    /// a short read instead of waiting. The default, `false`, is right for
    /// TCP, whose end of stream raises an event of its own.
    fn end_pending(&self) -> bool {
        false
    }
}

impl ShutdownWrite for mio::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl ShutdownWrite for mio::net::UnixStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl ShutdownWrite for std::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl ShutdownWrite for std::os::unix::net::UnixStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}
