//! The [`Listener`] trait: anything pollable that accepts pollable
//! connections.

use std::io;

/// Types that implement `Listener` are mio-pollable and accept new
/// connections that are themselves mio-pollable.
///
/// `accept` is called from whichever worker saw the listener become ready,
/// until it returns `WouldBlock`; one worker at a time, but not always the
/// same one, hence `Sync`.
///
/// Implemented for [`mio::net::TcpListener`] and, on Unix,
/// [`mio::net::UnixListener`]. A wrapper of your own (a TLS acceptor, say)
/// only needs to delegate `mio::event::Source` and `accept`.
pub trait Listener: mio::event::Source + Send + Sync + 'static {
    /// The type of accepted connections. Without an adapter
    /// ([`PoolBuilder::with_adapter`](crate::PoolBuilder::with_adapter)) it
    /// is what the handler sees, and must then implement
    /// [`Connection`](crate::Connection) too.
    type Connection: mio::event::Source + Send + 'static;

    /// Accepts a new connection, without blocking: `WouldBlock` when there
    /// is none.
    ///
    /// # Errors
    ///
    /// `WouldBlock` when no connection is waiting; otherwise what the OS
    /// says. The pool skips transient errors (`ConnectionAborted`,
    /// `Interrupted`, ...) and pauses accepting briefly when the process is
    /// out of file descriptors.
    ///
    /// # Panics
    ///
    /// A panic here is caught: it is counted in
    /// [`PoolStats::panics`](crate::PoolStats::panics), treated as a failed
    /// accept (accepting pauses briefly), and the worker lives on.
    fn accept(&self) -> io::Result<Self::Connection>;
}

impl Listener for mio::net::TcpListener {
    type Connection = mio::net::TcpStream;

    fn accept(&self) -> io::Result<mio::net::TcpStream> {
        mio::net::TcpListener::accept(self).map(|(stream, _addr)| stream)
    }
}

#[cfg(unix)]
impl Listener for mio::net::UnixListener {
    type Connection = mio::net::UnixStream;

    fn accept(&self) -> io::Result<mio::net::UnixStream> {
        mio::net::UnixListener::accept(self).map(|(stream, _addr)| stream)
    }
}
