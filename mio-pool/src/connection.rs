//! [`Connection`]: what the pool asks of a connection besides readiness.

use std::io;
use std::time::Instant;

use mio::event::Source;

/// A connection the pool serves: a [`Source`] plus the hooks the pool calls
/// around the handler to close it without losing output and to enforce
/// deadlines.
///
/// Every method has a default that does nothing, so a stream type that
/// queues nothing of its own needs only `impl Connection for MyStream {}`.
/// The pool implements it for mio's `TcpStream` and `UnixStream`, and the
/// crate's own wrappers (buffered and TLS streams) implement the hooks they
/// need.
///
/// # The hooks, and when the pool calls them
///
/// | hook | called | by |
/// |------|--------|----|
/// | [`deadline`](Connection::deadline) | after every handler call, and when a timer the pool set for the connection comes due | the worker that ran it, or the worker that found the timer due |
/// | [`on_deadline`](Connection::on_deadline) | once, when the deadline has passed and the handler is not running | the worker that saw it expire |
/// | [`poll_close`](Connection::poll_close) | when the handler returned `Ok(true)` (or after `on_deadline`), and again on each later event until it returns `Ok(())` | the worker that has the connection |
///
/// No hook runs while the handler runs on the same connection: the pool
/// hands a connection to one worker at a time.
pub trait Connection: Source {
    /// Finishes closing: sends output the connection still holds (and, for
    /// a protocol such as TLS, its closing message).
    ///
    /// `Ok(())`: done, the pool deregisters and drops the connection.
    /// `Err(WouldBlock)`: not yet; the pool calls again on the next
    /// readiness event of the connection, up to the close timeout
    /// ([`PoolBuilder::set_close_timeout`](crate::PoolBuilder::set_close_timeout)),
    /// after which it drops the connection anyway. So return `WouldBlock`
    /// only where an event will follow (the socket refused a write).
    /// Any other error: the pool drops the connection at once.
    ///
    /// The default returns `Ok(())`: nothing is held back.
    fn poll_close(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// The instant by which this connection must have finished what it is
    /// doing (for example: the whole request head must have arrived), or
    /// `None` for no deadline of its own. The pool asks after every handler
    /// call, so a connection sets or moves its deadline from inside the
    /// handler (and once at accept). The pool's idle timeout
    /// ([`PoolBuilder::set_idle_timeout`](crate::PoolBuilder::set_idle_timeout)),
    /// if set, applies independently. A deadline never fires early, and
    /// fires within a quarter of its length for deadlines of 400 ms or more
    /// (see the [crate docs](crate); not with a pool-wide timeout of more
    /// than 77 days, which makes the pool's ticks coarser). The pool does
    /// not keep the answer: it asks again when a timer it set comes due,
    /// so the answer should depend only on the connection's own state.
    ///
    /// The default is `None`.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// Called once when [`deadline`](Connection::deadline) has passed,
    /// before the pool closes the connection: a last chance to queue a reply
    /// (an HTTP server's `408 Request Timeout`). The pool then closes it as
    /// after `Ok(true)`, through [`poll_close`](Connection::poll_close).
    ///
    /// The default does nothing.
    fn on_deadline(&mut self) {}
}

impl Connection for mio::net::TcpStream {}

#[cfg(unix)]
impl Connection for mio::net::UnixStream {}
