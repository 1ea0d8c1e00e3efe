//! [`Buffered`]: a non-blocking stream whose writes are never lost.

use std::fmt;
use std::io::{self, Read, Write};
use std::time::Instant;

use crate::Connection;

/// The default [high-water mark](Buffered::high_water_mark): 1 MiB.
pub const DEFAULT_HIGH_WATER_MARK: usize = 1024 * 1024;

/// Above this capacity an emptied queue is freed rather than kept.
const KEEP_CAPACITY: usize = 64 * 1024;

/// A stream whose writes are never lost: what the socket does not take now
/// is queued and sent, in order, on later calls.
///
/// On a non-blocking socket, `write_all` stops at the first `WouldBlock`
/// and whatever it had not written yet is gone (the crate example without
/// `Buffered` loses data exactly so). `Buffered<S>` makes the same handler
/// correct: wrap each connection with
/// [`PoolBuilder::with_adapter(Buffered::new)`](crate::PoolBuilder::with_adapter).
///
/// ```
/// use std::io::prelude::*;
/// use mio_pool::{Buffered, PoolBuilder};
///
/// let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let addr = server.local_addr().unwrap();
/// let h = PoolBuilder::from(server).unwrap()
///     .with_adapter(Buffered::new)
///     .run_stateless(1, |c: &mut Buffered<mio::net::TcpStream>| {
///         let mut buf = [0u8; 1024];
///         let n = c.read(&mut buf)?;      // sends queued output first
///         if n == 0 { return Ok(true); }  // queued output still goes out
///         c.write_all(&buf[..n])?;        // never WouldBlock: queued
///         Ok(false)
///     });
/// let mut c = std::net::TcpStream::connect(addr).unwrap();
/// c.write_all(b"hello").unwrap();
/// let mut buf = [0u8; 5];
/// c.read_exact(&mut buf).unwrap();
/// assert_eq!(&buf, b"hello");
/// h.terminate();
/// ```
///
/// # Guarantees
///
/// * [`write`](Write::write) accepts the whole buffer or returns an error
///   that is not `WouldBlock` (the peer is gone): bytes are sent in the
///   order they were written.
/// * [`read`](Read::read) first sends queued output. While more than the
///   [high-water mark](Buffered::high_water_mark) is still queued after
///   that, it returns `WouldBlock` without reading: the pool stops reading a
///   client that does not take its replies (backpressure). It does so only
///   when the socket itself refused a write, so a writable event is
///   guaranteed and the next call resumes: the edge-triggered contract
///   holds.
/// * A handler that returns `Ok(true)` with output queued still gets it
///   delivered: the pool calls [`Connection::poll_close`], which sends the
///   queue before the socket is closed (bounded by the pool's close
///   deadline).
/// * An idle `Buffered` (nothing queued) holds no heap memory.
///
/// # Not guaranteed
///
/// * The queue itself is not bounded: a handler that writes without ever
///   reading can queue as much as it writes. The high-water mark bounds it
///   for handlers that read before they answer, which is every
///   request/response server (see [`Driver`](crate::Driver)).
/// * [`flush`](Write::flush) returns `WouldBlock` when the socket cannot
///   take everything now; the rest stays queued (a writable event follows).
pub struct Buffered<S> {
    stream: S,
    /// Output queued and not yet sent, from `sent` on.
    queue: Vec<u8>,
    /// Bytes at the front of `queue` already sent.
    sent: usize,
    high_water_mark: usize,
}

impl<S> Buffered<S> {
    /// Wraps `stream` with an empty queue and the default high-water mark
    /// ([`DEFAULT_HIGH_WATER_MARK`]).
    pub fn new(stream: S) -> Buffered<S> {
        Buffered {
            stream,
            queue: Vec::new(),
            sent: 0,
            high_water_mark: DEFAULT_HIGH_WATER_MARK,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The wrapped stream, mutably. Writing to it directly jumps the queue.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// Unwraps the stream; output still queued is dropped.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// Output written and not yet sent (`queued().len()` is the backlog).
    pub fn queued(&self) -> &[u8] {
        &self.queue[self.sent..]
    }

    /// Queued output above which [`read`](Read::read) stops reading;
    /// [`DEFAULT_HIGH_WATER_MARK`] unless set. (`tokio_util`'s `FramedWrite`
    /// calls this the backpressure boundary.)
    pub fn high_water_mark(&self) -> usize {
        self.high_water_mark
    }

    /// Sets the [high-water mark](Buffered::high_water_mark).
    pub fn set_high_water_mark(&mut self, bytes: usize) {
        self.high_water_mark = bytes;
    }

    /// The queue holding only unsent bytes, for appending (the driver hands
    /// it to its protocol).
    pub(crate) fn queue_mut(&mut self) -> &mut Vec<u8> {
        if self.sent > 0 {
            self.queue.drain(..self.sent);
            self.sent = 0;
        }
        &mut self.queue
    }

    /// The queue's heap capacity (tests of "idle holds no buffer").
    #[cfg(test)]
    pub(crate) fn queue_capacity(&self) -> usize {
        self.queue.capacity()
    }

    /// Swaps the queue's storage with `other` (both must hold no sent
    /// prefix); the driver lends an empty connection the worker's buffer.
    pub(crate) fn swap_queue(&mut self, other: &mut Vec<u8>) {
        debug_assert_eq!(self.sent, 0);
        std::mem::swap(&mut self.queue, other);
    }
}

impl<S: Write> Buffered<S> {
    /// Sends queued output until all of it is sent, including what the
    /// stream itself holds (its `flush` succeeded: `Ok(true)`), or the
    /// socket would block (`Ok(false)`: a writable event will follow).
    /// Errors other than `WouldBlock` are returned. An emptied queue frees
    /// its buffer.
    pub fn send_queued(&mut self) -> io::Result<bool> {
        let all_sent = self.send()?;
        if all_sent {
            self.queue = Vec::new();
        }
        Ok(all_sent)
    }

    /// [`send_queued`](Buffered::send_queued), but an emptied queue keeps
    /// a buffer of up to [`KEEP_CAPACITY`] (the driver returns it to its
    /// worker).
    pub(crate) fn send(&mut self) -> io::Result<bool> {
        while self.sent < self.queue.len() {
            match self.stream.write(&self.queue[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Drop a long sent prefix so the buffer does not grow
                    // with everything ever sent.
                    if self.sent >= KEEP_CAPACITY / 4 {
                        self.queue.drain(..self.sent);
                        self.sent = 0;
                    }
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        self.sent = 0;
        if self.queue.capacity() > KEEP_CAPACITY {
            // A large reply went out; do not keep its buffer.
            self.queue = Vec::new();
        } else {
            self.queue.clear();
        }
        // A stream with output of its own (TLS: ciphertext the socket did
        // not take) says WouldBlock until it is sent: then the socket
        // refused a write, and a writable event follows. TCP's flush does
        // nothing.
        loop {
            match self.stream.flush() {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) => return Err(e),
            }
        }
    }
}

impl<S: Read + Write> Read for Buffered<S> {
    /// Sends queued output, then reads. `WouldBlock` without reading while
    /// more than the high-water mark is queued; see [`Buffered`].
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        // More than the mark still queued implies the write blocked: a
        // writable event will follow.
        if !self.send_queued()? && self.queued().len() > self.high_water_mark {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.stream.read(buf)
    }
}

impl<S: Write> Write for Buffered<S> {
    /// Accepts all of `buf`: writes what the socket takes now (when nothing
    /// is queued ahead of it) and queues the rest. Never `WouldBlock`.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut done = 0;
        if self.queued().is_empty() || self.send_queued()? {
            while done < buf.len() {
                match self.stream.write(&buf[done..]) {
                    Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                    Ok(n) => done += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
        self.queue.extend_from_slice(&buf[done..]);
        Ok(buf.len())
    }

    /// Sends queued output: `Ok(())` once all is sent, `WouldBlock` when
    /// the socket cannot take it all now (the rest stays queued).
    fn flush(&mut self) -> io::Result<()> {
        if self.send_queued()? {
            Ok(())
        } else {
            Err(io::ErrorKind::WouldBlock.into())
        }
    }
}

delegate_source!([S] Buffered<S> => stream);

/// Closing sends the queue first, then finishes closing the inner stream;
/// deadlines are the inner stream's.
impl<S: Connection + Write> Connection for Buffered<S> {
    fn poll_close(&mut self) -> io::Result<()> {
        if !self.send_queued()? {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        self.stream.poll_close()
    }

    fn deadline(&self) -> Option<Instant> {
        self.stream.deadline()
    }

    fn on_deadline(&mut self) {
        self.stream.on_deadline()
    }
}

impl<S: fmt::Debug> fmt::Debug for Buffered<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Buffered")
            .field("stream", &self.stream)
            .field("queued", &self.queued().len())
            .field("high_water_mark", &self.high_water_mark)
            .finish()
    }
}

#[cfg(test)]
mod tests;
