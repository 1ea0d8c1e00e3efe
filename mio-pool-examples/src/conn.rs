//! A buffered connection that a pool handler drives: read until the socket is
//! drained, hand the bytes to a protocol, queue its replies, flush.
//!
//! [`Conn`] owns a stream plus a read buffer and a write buffer. Each call of
//! [`Conn::drive`] does, in a loop:
//!
//! 1. flush queued output until it is all sent or the socket would block;
//! 2. read once into the read buffer;
//! 3. give the whole unconsumed read buffer to the protocol closure, which
//!    answers every complete request in it, appends replies to the write
//!    buffer and says how many bytes it consumed and whether the connection
//!    should close once the replies are sent.
//!
//! The result follows the `mio-pool` handler contract, so a handler can
//! simply return it:
//!
//! | result            | meaning                                                        |
//! |-------------------|----------------------------------------------------------------|
//! | `Err(WouldBlock)` | the socket is drained, or output is stuck; call me on the next event |
//! | `Ok(false)`       | there may be more to do; call me again (used to yield after a burst) |
//! | `Ok(true)`        | done: the peer left, or the protocol closed and all output was sent |
//! | other `Err`       | I/O error; close                                               |
//!
//! # Readiness invariant
//!
//! Readiness is edge-triggered, so `drive` returns `Err(WouldBlock)` only when
//! a read or a write *itself* returned `WouldBlock`: a later readable or
//! writable event is then guaranteed, and the next call picks up where this
//! one stopped. In particular, when queued output reaches the connection's
//! [output limit](Conn::output_limit) the connection stops reading
//! (back-pressure on a client that sends without reading replies) and waits
//! for a writable event, after which it flushes and resumes reading.
//!
//! # Pausing on output
//!
//! A protocol checks `output.len() >= limit` before it answers each request
//! and, when over, returns with the rest of the input unconsumed. The
//! driver then flushes; if the flush brought the backlog under the limit,
//! it calls the protocol again *without reading* (the leftover may hold
//! complete requests the protocol paused on); if the write blocked, it
//! returns `Err(WouldBlock)` and a writable event follows. So execution
//! pauses per request, not per read, and a client that sends without
//! reading costs at most about one read of input plus the output limit.
//!
//! # Closing
//!
//! When the peer closes its write side (a read returns 0), requests already
//! received are answered, then the connection closes once its output is sent.
//!
//! When the protocol closes (an error reply, `Connection: close`, `QUIT`),
//! the connection sends its queued output, shuts down its write side, and
//! then *lingers*: it reads and discards input until the peer closes too, or
//! [`MAX_LINGER`] bytes have been discarded. Closing at once would make the
//! kernel answer any unread input with a reset, which can destroy the final
//! reply before the client has read it (nginx's "lingering close" exists for
//! the same reason).
//!
//! A peer that resets the connection is not an error of ours: `drive` returns
//! `Ok(true)` rather than counting a handler error.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;

use mio::event::Source;
use mio::{Interest, Registry, Token};

/// How many bytes one `read` call asks for.
pub const READ_CHUNK: usize = 16 * 1024;

thread_local! {
    /// Each worker thread reads into one buffer of its own and copies only
    /// the bytes it got into the connection: an idle connection holds no
    /// read buffer, and no read pays for zeroing 16 KiB (both showed in
    /// `cargo xtask bench`: memory per idle connection, CPU per round trip).
    static SCRATCH: std::cell::RefCell<Box<[u8]>> =
        std::cell::RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// The default [output limit](Conn::output_limit): queued output at which
/// the connection stops reading new requests until the peer has taken some
/// of its replies.
pub const MAX_OUTPUT_BACKLOG: usize = 1024 * 1024;

/// How many reads one call of [`Conn::drive`] makes before it yields with
/// `Ok(false)`, so that one busy client cannot hold a worker forever.
pub const MAX_READS_PER_CALL: usize = 32;

/// How many bytes a closing connection discards while waiting for the peer
/// to close, before it closes anyway.
pub const MAX_LINGER: usize = 64 * 1024;

/// A stream whose write side can be shut down on its own, so that the peer
/// sees the end of our output while we can still read; see
/// [Closing](self#closing).
pub trait ShutdownWrite {
    /// Shuts down the write side (`shutdown(SHUT_WR)`; for TLS, a
    /// `close_notify` first).
    fn shutdown_write(&mut self) -> io::Result<()>;

    /// Whether the peer's end of stream has already arrived although the
    /// last read still returned data, so that no readiness event will
    /// announce it (TLS: a `close_notify` in the same packet as the last
    /// data). [`Conn::drive`] then reads again after a short read instead of
    /// waiting. The default, `false`, is right for TCP, whose end of stream
    /// raises an event of its own.
    fn end_pending(&self) -> bool {
        false
    }
}

impl ShutdownWrite for mio::net::TcpStream {
    fn shutdown_write(&mut self) -> io::Result<()> {
        self.shutdown(Shutdown::Write)
    }
}

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

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Reading requests and answering them.
    Open,
    /// The peer sent its end of stream: send what is queued, then close.
    PeerDone,
    /// The protocol asked to close: send what is queued, shut down our write
    /// side, then linger.
    Closing,
    /// Our write side is shut down; discarding input until the peer closes.
    Lingering {
        /// Bytes discarded so far.
        discarded: usize,
    },
}

/// What a protocol did with the bytes it was given; see [`Conn::drive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Step {
    /// Bytes at the front of the input that were fully handled and can be
    /// dropped. Incomplete trailing input must not be counted.
    pub consumed: usize,
    /// Close the connection once the queued replies have been sent, and stop
    /// reading requests now.
    pub close: bool,
}

impl Step {
    /// `consumed` bytes handled; keep the connection open.
    pub fn keep(consumed: usize) -> Step {
        Step {
            consumed,
            close: false,
        }
    }

    /// `consumed` bytes handled; close once the replies are sent.
    pub fn close(consumed: usize) -> Step {
        Step {
            consumed,
            close: true,
        }
    }
}

/// A stream with a read buffer and a write buffer; see the [module docs](self).
///
/// `Conn<S>` implements [`mio::event::Source`] by delegating to `S`, so a
/// pool can register it directly (for instance through
/// `PoolBuilder::with_adapter(Conn::new)`).
pub struct Conn<S, P = ()> {
    stream: S,
    /// The protocol's per-connection state (a parser's position, a session's
    /// settings), handed to the protocol on every call.
    proto: P,
    /// Input received and not yet consumed. Reads go through a per-thread
    /// scratch buffer (see [`Conn::fill`]), so this holds only what is
    /// pending: nothing, for an idle connection.
    input: Vec<u8>,
    output: Vec<u8>,
    /// Bytes at the front of `output` that were already sent.
    sent: usize,
    /// See [`Conn::output_limit`].
    output_limit: usize,
    /// The protocol returned with input unconsumed and output at the
    /// limit: once the output is under the limit it is called again
    /// without a read, in this call of `drive` or a later one (the
    /// leftover may hold complete requests, and no readable event may
    /// ever come for bytes already read).
    paused: bool,
    state: State,
}

impl<S, P: Default> Conn<S, P> {
    /// Wraps `stream` with empty buffers and the protocol state's default.
    pub fn new(stream: S) -> Conn<S, P> {
        Conn::with_state(stream, P::default())
    }
}

impl<S, P> Conn<S, P> {
    /// Wraps `stream` with empty buffers and the protocol state `proto`.
    pub fn with_state(stream: S, proto: P) -> Conn<S, P> {
        Conn {
            stream,
            proto,
            input: Vec::new(),
            output: Vec::new(),
            sent: 0,
            output_limit: MAX_OUTPUT_BACKLOG,
            paused: false,
            state: State::Open,
        }
    }

    /// Unsent output at which the connection stops reading and the protocol
    /// is expected to stop answering; see [Pausing on
    /// output](self#pausing-on-output). Default: [`MAX_OUTPUT_BACKLOG`].
    pub fn output_limit(&self) -> usize {
        self.output_limit
    }

    /// Sets the [output limit](Conn::output_limit); at least 1.
    pub fn set_output_limit(&mut self, limit: usize) {
        self.output_limit = limit.max(1);
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// The wrapped stream, mutably. Reading from or writing to it directly
    /// bypasses the buffers.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The protocol's per-connection state.
    pub fn state(&self) -> &P {
        &self.proto
    }

    /// The protocol's per-connection state, mutably.
    pub fn state_mut(&mut self) -> &mut P {
        &mut self.proto
    }

    /// Bytes received but not yet consumed by the protocol.
    pub fn pending_input(&self) -> &[u8] {
        &self.input
    }

    /// Bytes queued but not yet sent.
    pub fn pending_output(&self) -> &[u8] {
        &self.output[self.sent..]
    }

    /// Whether the connection has stopped reading requests and will close
    /// once its output is sent.
    pub fn is_closing(&self) -> bool {
        self.state != State::Open
    }
}

impl<S: Read + Write + ShutdownWrite, P> Conn<S, P> {
    /// Reads, processes and writes until the socket is drained; see the
    /// [module docs](self) for the meaning of the result.
    ///
    /// `protocol(state, input, output)` receives the connection's protocol
    /// state, every byte received and not yet consumed, and the output not
    /// yet sent (so `output.len()` is the connection's output backlog); it
    /// appends its replies to `output` and returns a [`Step`]. It is called
    /// after every read, with the whole unconsumed input: a protocol that
    /// must not re-parse a long request from its start keeps its position
    /// in `state`.
    pub fn drive<F>(&mut self, mut protocol: F) -> io::Result<bool>
    where
        F: FnMut(&mut P, &[u8], &mut Vec<u8>) -> Step,
    {
        match self.drive_inner(&mut protocol) {
            Err(e) if is_peer_gone(&e) => {
                log::debug!("peer went away: {e}");
                Ok(true)
            }
            other => other,
        }
    }

    fn drive_inner<F>(&mut self, protocol: &mut F) -> io::Result<bool>
    where
        F: FnMut(&mut P, &[u8], &mut Vec<u8>) -> Step,
    {
        // The last read was short: the socket is drained.
        let mut drained = false;
        for _ in 0..MAX_READS_PER_CALL {
            let all_sent = self.flush()?;
            match self.state {
                State::Open => {}
                // The write returned WouldBlock: a writable event will come.
                State::PeerDone | State::Closing if !all_sent => return Err(would_block()),
                State::PeerDone => return Ok(true),
                State::Closing => {
                    if let Err(e) = self.stream.shutdown_write() {
                        log::debug!("shutdown: {e}");
                        return Ok(true);
                    }
                    self.state = State::Lingering { discarded: 0 };
                    continue;
                }
                State::Lingering { discarded } => {
                    self.input.clear();
                    let n = self.fill()?;
                    let discarded = discarded + n;
                    if n == 0 || discarded > MAX_LINGER {
                        return Ok(true);
                    }
                    self.state = State::Lingering { discarded };
                    continue;
                }
            }
            if !all_sent && self.pending_output().len() >= self.output_limit {
                // The write returned WouldBlock: a writable event will come.
                return Err(would_block());
            }
            if !self.paused {
                let n = self.fill()?;
                if n == 0 {
                    // The peer will send nothing more. Everything complete
                    // was already answered after the previous reads.
                    self.state = State::PeerDone;
                    continue;
                }
                drained = n < READ_CHUNK;
            }
            if self.sent > 0 {
                // The protocol sees only what is still to send.
                self.output.drain(..self.sent);
                self.sent = 0;
            }
            let step = protocol(&mut self.proto, &self.input, &mut self.output);
            debug_assert!(step.consumed <= self.input.len());
            self.consume(step.consumed.min(self.input.len()));
            if step.close {
                self.state = State::Closing;
                self.input.clear();
                continue;
            }
            self.paused =
                !self.input.is_empty() && self.pending_output().len() >= self.output_limit;
            if !self.paused && drained && !self.stream.end_pending() {
                // A short read drained the socket: the next bytes raise a new
                // edge, so skip the read that would only say WouldBlock (the
                // pool calls once more if the peer hung up meanwhile).
                self.flush()?;
                return Err(would_block());
            }
        }
        // A burst: flush what we have, then let other connections run.
        self.flush()?;
        Ok(false)
    }

    /// Reads once into the input buffer. Returns the number of bytes read,
    /// 0 at end of stream, or `Err(WouldBlock)` when the socket is drained.
    fn fill(&mut self) -> io::Result<usize> {
        SCRATCH.with(|scratch| {
            let mut scratch = scratch.borrow_mut();
            let result = loop {
                match self.stream.read(&mut scratch[..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            if let Ok(n) = result {
                self.input.extend_from_slice(&scratch[..n]);
            }
            result
        })
    }

    /// Drops the first `used` bytes of the input.
    fn consume(&mut self, used: usize) {
        self.input.drain(..used);
        if self.input.is_empty() && self.input.capacity() > READ_CHUNK {
            // A large request passed; do not keep its buffer.
            self.input = Vec::new();
        }
    }

    /// Writes queued output until all of it is sent (`Ok(true)`) or the
    /// socket would block (`Ok(false)`). "Sent" includes the stream's own
    /// queue: `Ok(true)` only once the stream's `flush` succeeded.
    pub fn flush(&mut self) -> io::Result<bool> {
        while self.sent < self.output.len() {
            match self.stream.write(&self.output[self.sent..]) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => self.sent += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    // Drop the sent prefix now and then so the buffer does
                    // not grow with everything ever sent.
                    if self.sent >= READ_CHUNK {
                        self.output.drain(..self.sent);
                        self.sent = 0;
                    }
                    return Ok(false);
                }
                Err(e) => return Err(e),
            }
        }
        // A stream with output of its own (TLS: ciphertext the socket did
        // not take) says WouldBlock here until it is sent; a writable event
        // follows. TCP's flush does nothing.
        let stream_done = loop {
            match self.stream.flush() {
                Ok(()) => break true,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) => return Err(e),
            }
        };
        if self.output.capacity() > 4 * READ_CHUNK {
            // A large reply went out; do not keep its buffer.
            self.output = Vec::new();
        } else {
            self.output.clear();
        }
        self.sent = 0;
        Ok(stream_done)
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

/// Errors that mean the client went away: not a fault of the handler.
fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

impl<S, P> fmt::Debug for Conn<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("pending_input", &self.input.len())
            .field("pending_output", &(self.output.len() - self.sent))
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

impl<S: Source, P> Source for Conn<S, P> {
    fn register(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.stream.register(registry, token, interests)
    }

    fn reregister(
        &mut self,
        registry: &Registry,
        token: Token,
        interests: Interest,
    ) -> io::Result<()> {
        self.stream.reregister(registry, token, interests)
    }

    fn deregister(&mut self, registry: &Registry) -> io::Result<()> {
        self.stream.deregister(registry)
    }
}

/// No hooks of its own: `Conn` lingers on close by itself.
impl<S: Source, P> mio_pool::Connection for Conn<S, P> {}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    /// A scripted stream: each read returns the next chunk (or WouldBlock
    /// when the script says so); writes accept at most `write_room` bytes
    /// before WouldBlock.
    #[derive(Default)]
    struct Script {
        reads: VecDeque<Option<Vec<u8>>>,
        written: Vec<u8>,
        write_room: usize,
        shut: std::cell::Cell<bool>,
        /// Output of the stream's own (a TLS session's ciphertext) that
        /// `flush` has not sent yet.
        holding: bool,
        /// The end of stream arrived with the last data (TLS close_notify).
        ended: bool,
    }

    impl Read for Script {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            match self.reads.pop_front() {
                Some(Some(chunk)) => {
                    assert!(chunk.len() <= buf.len());
                    buf[..chunk.len()].copy_from_slice(&chunk);
                    Ok(chunk.len())
                }
                Some(None) => Err(would_block()),
                None => Ok(0),
            }
        }
    }

    impl ShutdownWrite for Script {
        fn shutdown_write(&mut self) -> io::Result<()> {
            self.shut.set(true);
            Ok(())
        }

        fn end_pending(&self) -> bool {
            self.ended
        }
    }

    impl Write for Script {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.write_room == 0 {
                return Err(would_block());
            }
            let n = buf.len().min(self.write_room);
            self.write_room -= n;
            self.written.extend_from_slice(&buf[..n]);
            Ok(n)
        }
        fn flush(&mut self) -> io::Result<()> {
            if self.holding {
                return Err(would_block());
            }
            Ok(())
        }
    }

    /// A line protocol: answers each complete `\n`-terminated line with
    /// `<line>!`; closes on `bye`.
    fn lines(_: &mut (), input: &[u8], out: &mut Vec<u8>) -> Step {
        let mut used = 0;
        while let Some(i) = input[used..].iter().position(|&b| b == b'\n') {
            let line = &input[used..used + i];
            used += i + 1;
            out.extend_from_slice(line);
            out.extend_from_slice(b"!\n");
            if line == b"bye" {
                return Step::close(used);
            }
        }
        Step::keep(used)
    }

    fn script(reads: &[Option<&[u8]>], write_room: usize) -> Conn<Script> {
        Conn::new(Script {
            reads: reads.iter().map(|r| r.map(|c| c.to_vec())).collect(),
            written: Vec::new(),
            write_room,
            shut: Default::default(),
            holding: false,
            ended: false,
        })
    }

    #[test]
    fn an_end_that_came_with_the_data_is_read_without_waiting() {
        // The last read returned data and the stream already knows the
        // peer is done (TLS: close_notify in the same packet); no event
        // will announce it, so drive must not stop at the short read.
        let mut c = script(&[Some(b"last\n")], 1 << 20);
        c.get_mut().ended = true;
        assert!(c.drive(lines).unwrap());
        assert_eq!(c.get_ref().written, b"last!\n");
    }

    #[test]
    fn output_the_stream_still_holds_keeps_the_connection_open() {
        // The peer sends a line and leaves; the reply is written, but the
        // stream (TLS) has not sent all of it yet.
        let mut c = script(&[Some(b"last\n")], 1 << 20);
        c.get_mut().holding = true;
        // The short read ends the first call; the second reads the end of
        // stream and must wait for the stream, not close.
        for _ in 0..2 {
            assert_eq!(
                c.drive(lines).unwrap_err().kind(),
                io::ErrorKind::WouldBlock
            );
        }
        c.get_mut().holding = false;
        assert!(c.drive(lines).unwrap());
        assert_eq!(c.get_ref().written, b"last!\n");
    }

    #[test]
    fn split_and_pipelined_input_is_answered_in_order() {
        let mut c = script(&[Some(b"a\nb"), Some(b"c\nd\n"), None], 1 << 20);
        // Each short read ends a call; the pool calls again on the next edge.
        for _ in 0..2 {
            let r = c.drive(lines);
            assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        }
        assert_eq!(c.get_ref().written, b"a!\nbc!\nd!\n");
        assert!(c.pending_input().is_empty());
    }

    #[test]
    fn close_sends_replies_then_finishes_and_ignores_the_rest() {
        let mut c = script(&[Some(b"x\nbye\ny\n")], 1 << 20);
        assert!(c.drive(lines).unwrap());
        assert_eq!(c.get_ref().written, b"x!\nbye!\n");
    }

    #[test]
    fn a_closing_connection_shuts_down_then_lingers_until_the_peer_closes() {
        let mut c = script(&[Some(b"bye\n"), Some(b"more"), None], 1 << 20);
        assert_eq!(
            c.drive(lines).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(c.get_ref().shut.get());
        assert_eq!(c.get_ref().written, b"bye!\n");
        // The peer closes: done.
        assert!(c.drive(lines).unwrap());
    }

    #[test]
    fn lingering_is_bounded() {
        let chunk = vec![b'x'; READ_CHUNK];
        let mut reads: Vec<Option<&[u8]>> = vec![Some(b"bye\n")];
        reads.extend(std::iter::repeat(Some(&chunk[..])).take(MAX_LINGER / READ_CHUNK + 1));
        reads.push(None);
        let mut c = script(&reads, 1 << 20);
        assert!(c.drive(lines).unwrap());
        assert_eq!(
            c.get_ref().reads.len(),
            1,
            "stopped discarding at the limit"
        );
    }

    #[test]
    fn end_of_stream_answers_what_came_then_closes() {
        let mut c = script(&[Some(b"x\npartial")], 1 << 20);
        assert_eq!(
            c.drive(lines).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        // The pool calls again (new edge, or the hang-up recheck): EOF.
        assert!(c.drive(lines).unwrap());
        assert_eq!(c.get_ref().written, b"x!\n");
    }

    #[test]
    fn blocked_output_is_kept_and_sent_on_the_next_call() {
        let mut c = script(&[Some(b"hello\n"), None], 3);
        assert_eq!(
            c.drive(lines).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(c.get_ref().written, b"hel");
        assert_eq!(c.pending_output(), b"lo!\n");
        c.get_mut().write_room = 100;
        c.get_mut().reads.push_back(None);
        assert_eq!(
            c.drive(lines).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(c.get_ref().written, b"hello!\n");
    }

    #[test]
    fn closing_with_blocked_output_waits_for_writable() {
        let mut c = script(&[Some(b"bye\n")], 2);
        assert_eq!(
            c.drive(lines).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert!(c.is_closing());
        c.get_mut().write_room = 100;
        assert!(c.drive(lines).unwrap());
        assert_eq!(c.get_ref().written, b"bye!\n");
    }

    #[test]
    fn large_backlog_stops_reading_until_writable() {
        let mut line = vec![b'z'; READ_CHUNK - 1];
        line.push(b'\n');
        let reads: Vec<Option<&[u8]>> = vec![Some(&line[..]); 4 * MAX_READS_PER_CALL];
        let mut c = script(&reads, 0);
        let mut calls = 0;
        let r = loop {
            calls += 1;
            match c.drive(lines) {
                Ok(false) => continue,
                other => break other,
            }
        };
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        // It stopped once the backlog passed the limit, not at the end.
        assert!(
            !c.get_ref().reads.is_empty(),
            "kept reading despite the backlog"
        );
        assert!(c.pending_output().len() >= MAX_OUTPUT_BACKLOG);
        assert!(calls < 4);
        // Once the peer reads, the rest is processed.
        c.get_mut().write_room = usize::MAX;
        while !c.drive(lines).unwrap() {}
        assert_eq!(
            c.get_ref().written.len(),
            (READ_CHUNK + 1) * 4 * MAX_READS_PER_CALL
        );
    }

    /// [`lines`], answering a line only while the backlog is under `limit`.
    fn lines_paused(limit: usize) -> impl FnMut(&mut (), &[u8], &mut Vec<u8>) -> Step {
        move |_, input, out| {
            let mut used = 0;
            while out.len() < limit {
                let Some(i) = input[used..].iter().position(|&b| b == b'\n') else {
                    break;
                };
                out.extend_from_slice(&input[used..used + i]);
                out.extend_from_slice(b"!\n");
                used += i + 1;
            }
            Step::keep(used)
        }
    }

    #[test]
    fn a_protocol_paused_on_output_is_called_again_without_reading() {
        // Ten requests in one short read; the protocol answers one at a
        // time because each answer fills the backlog.
        let mut c = script(&[Some(b"0\n1\n2\n3\n4\n5\n6\n7\n8\n9\n"), None], 1 << 20);
        c.set_output_limit(2);
        let r = c.drive(lines_paused(2));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(
            c.get_ref().written,
            b"0!\n1!\n2!\n3!\n4!\n5!\n6!\n7!\n8!\n9!\n"
        );
        assert_eq!(c.get_ref().reads.len(), 1, "read after the short read");
    }

    #[test]
    fn a_protocol_paused_on_blocked_output_neither_reads_nor_spins() {
        let mut c = script(&[Some(b"a\nb\nc\n"), Some(b"d\n"), None], 3);
        c.set_output_limit(3);
        let r = c.drive(lines_paused(3));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        // "a!\n" went out, "b!\n" is queued, "c\n" waits unread by the
        // protocol, and the socket was not read again.
        assert_eq!(c.get_ref().written, b"a!\n");
        assert_eq!(c.pending_output(), b"b!\n");
        assert_eq!(c.pending_input(), b"c\n");
        assert_eq!(c.get_ref().reads.len(), 2);
        // The peer reads: the rest is answered, in order.
        c.get_mut().write_room = 100;
        let r = c.drive(lines_paused(3));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(c.get_ref().written, b"a!\nb!\nc!\nd!\n");
    }

    #[test]
    fn a_pause_outlives_the_call_that_blocked() {
        // All input arrives at once; the output blocks while the protocol
        // is paused; the peer then reads but sends nothing more.
        let mut c = script(&[Some(b"a\nb\nc\n"), None, None], 0);
        c.set_output_limit(3);
        let r = c.drive(lines_paused(3));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(c.pending_input(), b"b\nc\n");
        // The writable event: the leftover is answered though no read
        // returns anything.
        c.get_mut().write_room = 100;
        let r = c.drive(lines_paused(3));
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::WouldBlock);
        assert_eq!(c.get_ref().written, b"a!\nb!\nc!\n");
    }

    #[test]
    fn a_busy_peer_makes_drive_yield() {
        // Full reads: the socket may hold more, so drive keeps reading
        // until its per-call limit.
        let mut line = vec![b'a'; READ_CHUNK - 1];
        line.push(b'\n');
        let reads: Vec<Option<&[u8]>> = vec![Some(&line[..]); MAX_READS_PER_CALL + 1];
        let mut c = script(&reads, 1 << 20);
        assert!(!c.drive(lines).unwrap());
        assert_eq!(
            c.get_ref().written.len(),
            (READ_CHUNK + 1) * MAX_READS_PER_CALL
        );
    }

    #[test]
    fn a_short_read_ends_the_call_without_another_read() {
        let mut c = script(&[Some(b"x\n"), Some(b"y\n")], 1 << 20);
        assert_eq!(
            c.drive(lines).unwrap_err().kind(),
            io::ErrorKind::WouldBlock
        );
        assert_eq!(c.get_ref().written, b"x!\n");
        assert_eq!(c.get_ref().reads.len(), 1, "read again after a short read");
    }

    #[test]
    fn reset_by_peer_is_a_normal_close() {
        struct Reset;
        impl Read for Reset {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::ErrorKind::ConnectionReset.into())
            }
        }
        impl ShutdownWrite for Reset {
            fn shutdown_write(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl Write for Reset {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        assert!(Conn::new(Reset).drive(lines).unwrap());
    }
}
