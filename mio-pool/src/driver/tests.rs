//! The driver's state machine against a scripted stream (moved from the
//! examples' `conn.rs`, plus the library's additions: pausing on output,
//! deadlines, memory).

use super::*;
use crate::script::Script;

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

fn script(reads: &[Option<&[u8]>], write_room: usize) -> Driver<Script> {
    Driver::new(Script::new(reads, write_room))
}

fn is_would_block(r: io::Result<bool>) -> bool {
    matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[test]
fn an_end_that_came_with_the_data_is_read_without_waiting() {
    // The last read returned data and the stream already knows the peer is
    // done (TLS: close_notify in the same packet); no event will announce
    // it, so drive must not stop at the short read.
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
        assert!(is_would_block(c.drive(lines)));
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
        assert!(is_would_block(c.drive(lines)));
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
    assert!(is_would_block(c.drive(lines)));
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
    assert!(is_would_block(c.drive(lines)));
    // The pool calls again (new edge, or the hang-up recheck): EOF.
    assert!(c.drive(lines).unwrap());
    assert_eq!(c.get_ref().written, b"x!\n");
}

#[test]
fn blocked_output_is_kept_and_sent_on_the_next_call() {
    let mut c = script(&[Some(b"hello\n"), None], 3);
    assert!(is_would_block(c.drive(lines)));
    assert_eq!(c.get_ref().written, b"hel");
    assert_eq!(c.pending_output(), b"lo!\n");
    c.get_mut().write_room = 100;
    c.get_mut().reads.push_back(None);
    assert!(is_would_block(c.drive(lines)));
    assert_eq!(c.get_ref().written, b"hello!\n");
}

#[test]
fn closing_with_blocked_output_waits_for_writable() {
    let mut c = script(&[Some(b"bye\n")], 2);
    assert!(is_would_block(c.drive(lines)));
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
    assert!(is_would_block(r));
    // It stopped once the backlog passed the limit, not at the end.
    assert!(
        !c.get_ref().reads.is_empty(),
        "kept reading despite the backlog"
    );
    assert!(c.pending_output().len() >= DEFAULT_OUTPUT_LIMIT);
    assert!(calls < 4);
    // Once the peer reads, the rest is processed.
    c.get_mut().write_room = usize::MAX;
    while !c.drive(lines).unwrap() {}
    assert_eq!(
        c.get_ref().written.len(),
        (READ_CHUNK + 1) * 4 * MAX_READS_PER_CALL
    );
}

#[test]
fn a_busy_peer_makes_drive_yield() {
    // Full reads: the socket may hold more, so drive keeps reading until
    // its per-call limit.
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
    assert!(is_would_block(c.drive(lines)));
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
    assert!(Driver::<_, ()>::new(Reset).drive(lines).unwrap());
}

/// Answers one line per call at most while under `limit`, as the contract
/// asks: check the backlog before each request, stop when over.
fn limited(limit: usize) -> impl FnMut(&mut u32, &[u8], &mut Vec<u8>) -> Step {
    move |calls, input, out| {
        *calls += 1;
        let mut used = 0;
        while let Some(i) = input[used..].iter().position(|&b| b == b'\n') {
            if out.len() >= limit {
                break;
            }
            out.extend_from_slice(&input[used..used + i + 1]);
            used += i + 1;
        }
        Step::keep(used)
    }
}

#[test]
fn a_protocol_paused_on_output_is_called_again_without_reading() {
    // Three complete requests in one read; the limit lets one through at a
    // time. The socket takes all output, so each flush makes room and the
    // driver must answer the rest from the input it has, reading nothing.
    let mut c: Driver<Script, u32> =
        Driver::new(Script::new(&[Some(b"aaaa\nbbbb\ncccc\n"), None], 1 << 20));
    c.set_output_limit(4);
    assert!(is_would_block(c.drive(limited(4))));
    assert_eq!(c.get_ref().written, b"aaaa\nbbbb\ncccc\n");
    assert_eq!(*c.state(), 3, "one call per paused request");
    assert_eq!(
        c.get_ref().reads.len(),
        1,
        "read while requests were pending"
    );
}

#[test]
fn a_paused_protocol_whose_flush_blocks_waits_for_writable_then_resumes() {
    let mut c: Driver<Script, u32> =
        Driver::new(Script::new(&[Some(b"aaaa\nbbbb\n"), Some(b"x")], 0));
    c.set_output_limit(4);
    assert!(is_would_block(c.drive(limited(4))));
    assert_eq!(c.pending_output(), b"aaaa\n");
    assert_eq!(c.pending_input(), b"bbbb\n");
    assert_eq!(c.get_ref().reads.len(), 1, "read while paused");
    // Writable: the paused request is answered before any read.
    c.get_mut().write_room = 5;
    assert!(is_would_block(c.drive(limited(4))));
    assert_eq!(c.get_ref().written, b"aaaa\n");
    assert_eq!(c.pending_output(), b"bbbb\n");
    assert_eq!(c.get_ref().reads.len(), 1);
    c.get_mut().write_room = 100;
    assert!(is_would_block(c.drive(limited(4))));
    assert_eq!(c.get_ref().written, b"aaaa\nbbbb\n");
    assert_eq!(c.pending_input(), b"x", "read once there was room");
}

#[test]
fn an_idle_driver_holds_no_heap_memory() {
    let mut c = script(&[Some(b"one\ntw"), Some(b"o\n"), None], 1 << 20);
    assert!(is_would_block(c.drive(lines)));
    assert_eq!(c.pending_input(), b"tw", "the partial request is kept");
    assert!(is_would_block(c.drive(lines)));
    assert_eq!(c.get_ref().written, b"one!\ntwo!\n");
    assert_eq!(c.input.capacity(), 0, "input buffer kept while idle");
    assert_eq!(c.io.queue_capacity(), 0, "output buffer kept while idle");
}

#[derive(Default)]
struct Timed {
    deadline: Option<Instant>,
}

impl ProtocolState for Timed {
    fn deadline(&self) -> Option<Instant> {
        self.deadline
    }
    fn on_deadline(&mut self, output: &mut Vec<u8>) {
        output.extend_from_slice(b"timeout\n");
    }
}

#[test]
fn the_protocol_sets_the_deadline_and_its_reply_goes_out_before_the_close() {
    // Already passed when the pool asks: it calls on_deadline at once.
    let at = Instant::now();
    let mut c: Driver<Script, Timed> = Driver::new(Script::new(&[Some(b"par"), None], 1 << 20));
    let r = c.drive(|t: &mut Timed, input: &[u8], _: &mut Vec<u8>| {
        // A request started and is incomplete: it must finish by `at`.
        t.deadline = Some(at);
        Step::keep(input.len() - 3)
    });
    assert!(is_would_block(r));
    assert_eq!(Connection::deadline(&c), Some(at));
    c.get_mut().write_room = 3;
    c.on_deadline();
    assert_eq!(
        Connection::deadline(&c),
        None,
        "a closing connection has none"
    );
    assert!(matches!(c.poll_close(), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
    c.get_mut().write_room = 100;
    // Sent, shut down, lingering until the peer's end of stream.
    assert!(matches!(c.poll_close(), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
    assert!(c.get_ref().shut.get());
    c.poll_close().unwrap();
    assert_eq!(c.get_ref().written, b"timeout\n");
}

#[test]
fn poll_close_after_the_handler_closes_sends_what_is_queued() {
    let mut c = script(&[Some(b"a\n"), None], 1);
    assert!(is_would_block(c.drive(lines)));
    assert_eq!(c.pending_output(), b"!\n");
    // The handler decided to close on its own: send, shut down, linger
    // until the peer's end of stream.
    c.get_mut().write_room = 100;
    assert!(matches!(c.poll_close(), Err(e) if e.kind() == io::ErrorKind::WouldBlock));
    assert!(c.get_ref().shut.get());
    c.poll_close().unwrap();
    assert_eq!(c.get_ref().written, b"a!\n");
}

#[test]
fn a_connection_is_no_larger_than_the_examples_conn_was() {
    // The examples' `Conn<TcpStream>` was the stream (padded to 8) plus
    // 72 bytes (80 in a release build); the pool keeps one per open
    // connection, idle or not.
    type S = mio::net::TcpStream;
    let stream = std::mem::size_of::<S>().next_multiple_of(8);
    assert!(std::mem::size_of::<Driver<S>>() <= stream + 72);
    assert!(std::mem::size_of::<Buffered<S>>() <= stream + 40);
}

#[test]
fn poll_close_lingers_through_many_small_reads_in_one_call() {
    // More reads than one drive makes: poll_close must not return
    // WouldBlock while input keeps arriving (no event would follow).
    let mut reads: Vec<Option<&[u8]>> = vec![Some(b"x"); 2 * MAX_READS_PER_CALL];
    reads.insert(0, Some(b"a\n"));
    let mut c = script(&reads, 100);
    assert!(is_would_block(c.drive(lines)));
    // The handler closes; the peer sends on, one byte at a time, then ends.
    c.poll_close().unwrap();
    assert_eq!(c.get_ref().written, b"a!\n");
    assert!(c.get_ref().reads.is_empty());
}
