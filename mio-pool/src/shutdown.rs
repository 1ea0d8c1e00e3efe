//! [`ShutdownWrite`]: what a [`Driver`](crate::Driver) needs to close
//! gracefully.

use std::io;
use std::net::Shutdown;

/// A stream whose write side can be shut down on its own, so that the peer
/// sees the end of our output while we can still read (and discard) what
/// it sends: the driver's lingering close.
pub trait ShutdownWrite {
    /// Shuts down the write side (`shutdown(SHUT_WR)`).
    fn shutdown_write(&self) -> io::Result<()>;
}

impl ShutdownWrite for mio::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl ShutdownWrite for mio::net::UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

impl ShutdownWrite for std::net::TcpStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

#[cfg(unix)]
impl ShutdownWrite for std::os::unix::net::UnixStream {
    fn shutdown_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}
