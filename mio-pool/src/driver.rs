//! [`Driver`]: the way to write a request/response server on the pool.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Read, Write};
use std::time::Instant;

use crate::buffered::DEFAULT_HIGH_WATER_MARK;
use crate::{Buffered, Connection, ShutdownWrite};

/// How many bytes one read asks for.
pub const READ_CHUNK: usize = 16 * 1024;

/// How many reads (or calls of a paused protocol) one
/// [`Driver::drive`] makes before it yields with `Ok(false)`, so that one
/// busy client cannot hold a worker.
pub const MAX_READS_PER_CALL: usize = 32;

/// How many bytes a closing connection discards while waiting for the peer
/// to close, before it closes anyway.
pub const MAX_LINGER: usize = 64 * 1024;

/// The default [output limit](Driver::output_limit): 1 MiB.
pub const DEFAULT_OUTPUT_LIMIT: usize = DEFAULT_HIGH_WATER_MARK;

/// An emptied output buffer larger than this is freed, not kept.
const KEEP_OUTPUT: usize = 64 * 1024;

thread_local! {
    /// Each thread reads into a buffer of its own and hands the bytes
    /// straight to the protocol; only an unconsumed remainder is copied
    /// into the connection. So an idle connection holds no read buffer and
    /// no read zeroes 16 KiB. `None` while lent out.
    static SCRATCH: Cell<Option<Box<[u8]>>> = const { Cell::new(None) };
    /// The thread's output buffer, lent to a connection that has nothing
    /// queued for the length of one `drive` and taken back if everything
    /// was sent: answering a request allocates nothing, and an idle
    /// connection holds no output buffer.
    static SPARE_OUTPUT: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// What a protocol did with the bytes it was given; see [`Driver::drive`].
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

/// The per-connection state `P` of a [`Driver`]: besides whatever the
/// protocol keeps there (a parser's position, a session's settings), the
/// connection's own deadline.
///
/// Both methods have defaults (no deadline), so a state without one needs
/// only `impl ProtocolState for MyState {}`; `()` implements it.
///
/// ```
/// use std::time::{Duration, Instant};
/// use mio_pool::{ProtocolState, Step};
///
/// /// The whole request head must arrive within 10 s of its first byte.
/// #[derive(Default)]
/// struct Http { head_deadline: Option<Instant> }
///
/// impl ProtocolState for Http {
///     fn deadline(&self) -> Option<Instant> {
///         self.head_deadline
///     }
///     fn on_deadline(&mut self, output: &mut Vec<u8>) {
///         output.extend_from_slice(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
///     }
/// }
///
/// fn serve(state: &mut Http, input: &[u8], _out: &mut Vec<u8>) -> Step {
///     let consumed = 0; // ... answer each complete request ...
///     if consumed == input.len() {
///         state.head_deadline = None;
///     } else if state.head_deadline.is_none() {
///         // A request has started: its head must be whole in 10 s.
///         state.head_deadline = Some(Instant::now() + Duration::from_secs(10));
///     }
///     Step::keep(consumed)
/// }
///
/// let mut state = Http::default();
/// serve(&mut state, b"GET / HT", &mut Vec::new());
/// assert!(state.deadline().is_some());
/// ```
pub trait ProtocolState {
    /// When this connection must have made progress by, or `None`. The
    /// driver reports it as [`Connection::deadline`] while the connection
    /// is open; the protocol sets and moves it through its `&mut P`.
    fn deadline(&self) -> Option<Instant> {
        None
    }

    /// The deadline passed: a last chance to append a reply to `output`
    /// (which holds only unsent bytes). The driver then closes the
    /// connection gracefully, sending `output` first.
    fn on_deadline(&mut self, output: &mut Vec<u8>) {
        let _ = output;
    }
}

impl ProtocolState for () {}

/// Where a connection is in its life.
///
/// | state | means | left when | to |
/// |-------|-------|-----------|----|
/// | `Open` | reading requests, answering them | the peer sends end of stream | `PeerDone` |
/// | | | the protocol returns `close` (or the deadline passes, or the pool closes) | `Closing` |
/// | | | the protocol leaves input unconsumed with `output_limit` or more queued | `Paused` |
/// | `Paused` | the input may hold complete requests the protocol stopped at | the output drops below the limit: the protocol is called again without reading | `Open` (or as from `Open`) |
/// | `PeerDone` | nothing more will come: send what is queued | all sent | `Closed` |
/// | `Closing` | send what is queued | all sent: shut down our write side | `Lingering` |
/// | `Lingering` | discard input until the peer closes | end of stream, [`MAX_LINGER`] bytes, or an error | `Closed` |
/// | `Closed` | done; `drive` returns `Ok(true)` | never | |
///
/// `drive` returns `Err(WouldBlock)` only when a read or write itself
/// returned it (edge-triggered readiness: the next event is guaranteed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Paused,
    PeerDone,
    Closing,
    Lingering { discarded: u32 },
    Closed,
}

/// A request/response connection: reads, hands every unconsumed byte to a
/// protocol, queues its replies, sends them; the way to write a
/// request/response server on the pool.
///
/// The protocol is a closure `(state, input, output) -> Step`, in the
/// spirit of `tokio_util::codec::Decoder` but answering requests in place:
/// it gets the connection's [`ProtocolState`] `P`, all unconsumed input
/// (starting at a request boundary; it only grows at its end until the
/// protocol consumes a prefix) and the output not yet sent
/// (`output.len()` is the backlog). It appends a reply to `output` for
/// every complete request at the front of `input` and returns a [`Step`]:
/// how many bytes it consumed, and whether to close once the replies are
/// sent.
///
/// ```
/// use std::io::prelude::*;
/// use mio_pool::{Driver, PoolBuilder, Step};
///
/// /// Answers each line with its length.
/// fn lines(_: &mut (), input: &[u8], out: &mut Vec<u8>) -> Step {
///     let mut used = 0;
///     while let Some(end) = input[used..].iter().position(|&b| b == b'\n') {
///         writeln!(out, "{}", end).unwrap();
///         used += end + 1;
///     }
///     Step::keep(used)
/// }
///
/// let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
/// let addr = server.local_addr().unwrap();
/// let h = PoolBuilder::from(server).unwrap()
///     .with_adapter(Driver::<_, ()>::new)
///     .run_stateless(1, |c: &mut Driver<mio::net::TcpStream>| c.drive(lines));
/// let mut c = std::net::TcpStream::connect(addr).unwrap();
/// c.write_all(b"hello\nhi\n").unwrap();
/// let mut reply = [0u8; 4];
/// c.read_exact(&mut reply).unwrap();
/// assert_eq!(&reply, b"5\n2\n");
/// h.terminate();
/// ```
///
/// # What `drive` does
///
/// In a loop of at most [`MAX_READS_PER_CALL`] steps: send queued output;
/// read once (at most [`READ_CHUNK`] bytes); call the protocol. Its result
/// follows the pool's handler contract, so a handler returns it:
///
/// | result | meaning |
/// |--------|---------|
/// | `Err(WouldBlock)` | the socket is drained, or output is stuck; call me on the next event |
/// | `Ok(false)` | a burst: there may be more; call me again after the others |
/// | `Ok(true)` | done: the peer left, or the protocol closed and all output was sent |
/// | other `Err` | I/O error; close |
///
/// A peer that resets the connection is not an error of the handler:
/// `drive` returns `Ok(true)`.
///
/// # Backpressure: the output limit
///
/// A protocol checks `output.len() >= limit` before answering each request
/// and stops there (returning what it consumed so far). When it returns
/// with input unconsumed and at least [`output_limit`](Driver::output_limit)
/// queued, the driver sends output and, once that made room, calls the
/// protocol again *without reading*: the leftover may hold complete
/// requests. While the output stays at the limit the driver reads nothing
/// and returns `WouldBlock` (the socket refused a write, so a writable event
/// follows). So a client that pipelines without reading its replies costs
/// about the limit, and execution pauses per request, not per read.
///
/// A protocol that keeps its parse position in `P` must reset it when it
/// consumes the request it was in.
///
/// # Closing
///
/// When the peer ends its stream, the requests already received are
/// answered and the connection closes once its output is sent. When the
/// protocol closes (an error reply, `Connection: close`, `QUIT`), the driver
/// sends the queued output, shuts down its write side, and then *lingers*:
/// it discards input until the peer closes too, or [`MAX_LINGER`] bytes.
/// Closing at once would make the kernel answer unread input with a reset,
/// which can destroy the last reply before the client reads it (nginx's
/// lingering close exists for the same reason). A handler that returns
/// `Ok(true)` by itself, or a [deadline](ProtocolState::deadline) that
/// passes, closes the same way through [`Connection::poll_close`].
///
/// # Memory
///
/// An idle driver holds no heap memory: reads go through a per-thread
/// buffer and the protocol sees them in place; only an incomplete request is
/// copied into the connection. Replies are written into a per-thread buffer
/// lent to the connection and kept by it only while unsent.
pub struct Driver<S, P = ()> {
    io: Buffered<S>,
    /// Input received and not yet consumed: an incomplete request, or
    /// requests the protocol paused at. Empty (no allocation) otherwise.
    input: Vec<u8>,
    proto: P,
    state: State,
}

impl<S, P: Default> Driver<S, P> {
    /// Wraps `stream`, with the protocol state's default.
    pub fn new(stream: S) -> Driver<S, P> {
        Driver::with_state(stream, P::default())
    }
}

impl<S, P> Driver<S, P> {
    /// Wraps `stream`, with the protocol state `proto`.
    pub fn with_state(stream: S, proto: P) -> Driver<S, P> {
        Driver {
            io: Buffered::new(stream),
            input: Vec::new(),
            proto,
            state: State::Open,
        }
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        self.io.get_ref()
    }

    /// The wrapped stream, mutably. Reading from or writing to it directly
    /// bypasses the buffers.
    pub fn get_mut(&mut self) -> &mut S {
        self.io.get_mut()
    }

    /// Unwraps the stream; unconsumed input and unsent output are dropped.
    pub fn into_inner(self) -> S {
        self.io.into_inner()
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
        self.io.queued()
    }

    /// Whether the connection has stopped reading requests and will close
    /// once its output is sent.
    pub fn is_closing(&self) -> bool {
        !matches!(self.state, State::Open | State::Paused)
    }

    /// Whether the connection holds part of a request: input the protocol
    /// left unconsumed while it had room to answer (not paused on its
    /// output, not closing). A request deadline runs while this holds.
    pub fn is_mid_request(&self) -> bool {
        self.state == State::Open && !self.input.is_empty()
    }

    /// Queued output at or above which the driver stops reading and waits
    /// for the peer to take its replies; see
    /// [Backpressure](Driver#backpressure-the-output-limit).
    /// [`DEFAULT_OUTPUT_LIMIT`] unless set.
    pub fn output_limit(&self) -> usize {
        self.io.high_water_mark()
    }

    /// Sets the [output limit](Driver::output_limit).
    pub fn set_output_limit(&mut self, bytes: usize) {
        self.io.set_high_water_mark(bytes);
    }
}

impl<S: Write, P> Driver<S, P> {
    /// Sends queued output until all of it is sent (`Ok(true)`) or the
    /// socket would block (`Ok(false)`).
    pub fn flush(&mut self) -> io::Result<bool> {
        self.io.send_queued()
    }
}

impl<S: Read + Write + ShutdownWrite, P> Driver<S, P> {
    /// Reads, calls `protocol`, writes, until the socket is drained; see
    /// [What `drive` does](Driver#what-drive-does) for the result.
    ///
    /// `protocol(state, input, output)` gets the protocol state, every byte
    /// received and not yet consumed, and the output not yet sent; it
    /// appends replies to `output` and returns a [`Step`].
    pub fn drive<F>(&mut self, mut protocol: F) -> io::Result<bool>
    where
        F: FnMut(&mut P, &[u8], &mut Vec<u8>) -> Step,
    {
        let mut scratch = SCRATCH
            .take()
            .unwrap_or_else(|| vec![0; READ_CHUNK].into_boxed_slice());
        if self.io.queued().is_empty() {
            self.io.swap_queue(&mut SPARE_OUTPUT.take());
        }
        let result = self.run(&mut protocol, &mut scratch);
        SCRATCH.set(Some(scratch));
        if self.io.queued().is_empty() {
            // Everything was sent: give the buffer back to the thread.
            let mut spare = Vec::new();
            self.io.queue_mut();
            self.io.swap_queue(&mut spare);
            if spare.capacity() <= KEEP_OUTPUT {
                spare.clear();
                SPARE_OUTPUT.set(spare);
            }
        }
        result
    }

    /// The state machine; see [`State`]. Peer resets end it with
    /// `Ok(true)`.
    fn run<F>(&mut self, protocol: &mut F, scratch: &mut [u8]) -> io::Result<bool>
    where
        F: FnMut(&mut P, &[u8], &mut Vec<u8>) -> Step,
    {
        match self.step(protocol, scratch) {
            Err(e) if is_peer_gone(&e) => {
                log::debug!("peer went away: {e}");
                self.close_now();
                Ok(true)
            }
            Ok(true) => {
                self.close_now();
                Ok(true)
            }
            other => other,
        }
    }

    fn step<F>(&mut self, protocol: &mut F, scratch: &mut [u8]) -> io::Result<bool>
    where
        F: FnMut(&mut P, &[u8], &mut Vec<u8>) -> Step,
    {
        // The last read was short: the socket was drained then.
        let mut drained = false;
        for _ in 0..MAX_READS_PER_CALL {
            let all_sent = self.io.send()?;
            match self.state {
                State::Open | State::Paused => {}
                State::Closed => return Ok(true),
                // The write returned WouldBlock: a writable event will come.
                State::PeerDone | State::Closing if !all_sent => return Err(would_block()),
                State::PeerDone => return Ok(true),
                State::Closing => {
                    if let Err(e) = self.io.get_mut().shutdown_write() {
                        log::debug!("shutdown: {e}");
                        return Ok(true);
                    }
                    self.state = State::Lingering { discarded: 0 };
                    continue;
                }
                State::Lingering { discarded } => {
                    let n = read(self.io.get_mut(), scratch)?;
                    let discarded = discarded as usize + n;
                    if n == 0 || discarded > MAX_LINGER {
                        return Ok(true);
                    }
                    self.state = State::Lingering {
                        discarded: discarded as u32,
                    };
                    continue;
                }
            }
            if !all_sent && self.io.queued().len() >= self.output_limit() {
                // The write returned WouldBlock: a writable event will come.
                return Err(would_block());
            }
            let fresh = if self.state == State::Paused {
                // Room again: the input may hold complete requests.
                self.state = State::Open;
                None
            } else {
                let n = read(self.io.get_mut(), scratch)?;
                if n == 0 {
                    // The peer will send nothing more. Everything complete
                    // was already answered after the previous reads.
                    self.state = State::PeerDone;
                    continue;
                }
                drained = n < READ_CHUNK;
                Some(&scratch[..n])
            };
            self.call(protocol, fresh);
            if self.state == State::Open && drained && !self.io.get_ref().end_pending() {
                // A short read drained the socket and nothing is paused:
                // the next bytes raise a new edge, so skip the read that
                // would only say WouldBlock (the pool calls once more if
                // the peer hung up meanwhile). Not if the stream already
                // saw the end (TLS): no event would announce it.
                self.io.send()?;
                return Err(would_block());
            }
        }
        // A burst: send what we have, then let other connections run.
        self.io.send()?;
        Ok(false)
    }

    /// Calls the protocol on the unconsumed input followed by `fresh`, and
    /// moves to the state its [`Step`] asks for.
    fn call<F>(&mut self, protocol: &mut F, fresh: Option<&[u8]>)
    where
        F: FnMut(&mut P, &[u8], &mut Vec<u8>) -> Step,
    {
        let limit = self.output_limit();
        let out = self.io.queue_mut();
        let step = match fresh {
            // Nothing pending: the protocol reads the thread's buffer in
            // place; only what it leaves is copied.
            Some(fresh) if self.input.is_empty() => {
                let step = protocol(&mut self.proto, fresh, out);
                debug_assert!(step.consumed <= fresh.len());
                if !step.close {
                    let used = step.consumed.min(fresh.len());
                    self.input.extend_from_slice(&fresh[used..]);
                }
                step
            }
            fresh => {
                if let Some(fresh) = fresh {
                    self.input.extend_from_slice(fresh);
                }
                let step = protocol(&mut self.proto, &self.input, out);
                debug_assert!(step.consumed <= self.input.len());
                self.input.drain(..step.consumed.min(self.input.len()));
                step
            }
        };
        let backlog = out.len();
        if step.close {
            self.state = State::Closing;
        } else if !self.input.is_empty() && backlog >= limit {
            self.state = State::Paused;
        }
        if step.close || self.input.is_empty() {
            // Idle connections hold no input buffer.
            self.input = Vec::new();
        }
    }

    /// Forgets input and marks the connection closed.
    fn close_now(&mut self) {
        self.state = State::Closed;
        self.input = Vec::new();
    }
}

/// Reads once, retrying on `Interrupted`.
fn read<S: Read>(stream: &mut S, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match stream.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

fn would_block() -> io::Error {
    io::ErrorKind::WouldBlock.into()
}

/// Errors that mean the client went away: not a fault of the handler (nor,
/// in a write, of ours).
pub(crate) fn is_peer_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
    )
}

/// Closing goes through the driver's own close (send, shut down the write
/// side, linger), then the inner stream's; the deadline is the earlier of
/// the protocol state's (while the connection is open) and the stream's.
impl<S, P> Connection for Driver<S, P>
where
    S: Connection + Read + Write + ShutdownWrite,
    P: ProtocolState,
{
    fn poll_close(&mut self) -> io::Result<()> {
        match self.state {
            State::Open | State::Paused => self.state = State::Closing,
            // Nothing more will come in: no need to linger.
            State::PeerDone => {}
            State::Closing | State::Lingering { .. } | State::Closed => {}
        }
        self.input = Vec::new();
        let mut scratch = SCRATCH
            .take()
            .unwrap_or_else(|| vec![0; READ_CHUNK].into_boxed_slice());
        // No protocol call happens in a closing state. A call ends with
        // `Ok(false)` only after reads that each discarded input, which
        // MAX_LINGER bounds: go on until done or an event is due.
        let mut result = Ok(false);
        while let Ok(false) = result {
            result = self.run(
                &mut |_: &mut P, _: &[u8], _: &mut Vec<u8>| Step::close(0),
                &mut scratch,
            );
        }
        SCRATCH.set(Some(scratch));
        result?;
        self.io.get_mut().poll_close()
    }

    /// The earlier of the protocol state's deadline (while the connection
    /// is open) and the stream's own (a TLS handshake's).
    fn deadline(&self) -> Option<Instant> {
        let own = match self.state {
            State::Open | State::Paused => self.proto.deadline(),
            _ => None,
        };
        match (own, self.io.get_ref().deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Whichever deadline passed gets its say (the protocol appends a
    /// last reply, the stream does what it does), then the driver closes.
    fn on_deadline(&mut self) {
        let now = Instant::now();
        if self.io.get_ref().deadline().is_some_and(|d| d <= now) {
            self.io.get_mut().on_deadline();
        }
        if matches!(self.state, State::Open | State::Paused)
            && self.proto.deadline().is_some_and(|d| d <= now)
        {
            self.proto.on_deadline(self.io.queue_mut());
        }
        if matches!(self.state, State::Open | State::Paused) {
            self.state = State::Closing;
        }
    }
}

impl<S, P> fmt::Debug for Driver<S, P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Driver")
            .field("pending_input", &self.input.len())
            .field("pending_output", &self.io.queued().len())
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

delegate_source!([S, P] Driver<S, P> => io);

#[cfg(test)]
mod tests;
