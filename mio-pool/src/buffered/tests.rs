use super::*;
use crate::script::Script;

fn would_block<T: fmt::Debug>(r: io::Result<T>) -> bool {
    matches!(r, Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[test]
fn write_queues_what_the_socket_does_not_take_and_sends_it_in_order() {
    let mut b = Buffered::new(Script::new(&[], 3));
    b.write_all(b"hello").unwrap();
    b.write_all(b" world").unwrap();
    assert_eq!(b.get_ref().written, b"hel");
    assert_eq!(b.queued(), b"lo world");
    assert!(would_block(b.flush()));
    b.get_mut().write_room = 100;
    b.flush().unwrap();
    assert_eq!(b.get_ref().written, b"hello world");
    assert!(b.queued().is_empty());
}

#[test]
fn read_sends_queued_output_first() {
    let mut b = Buffered::new(Script::new(&[Some(b"x")], 0));
    b.write_all(b"reply").unwrap();
    b.get_mut().write_room = 100;
    let mut buf = [0u8; 8];
    assert_eq!(b.read(&mut buf).unwrap(), 1);
    assert_eq!(b.get_ref().written, b"reply");
}

#[test]
fn above_the_high_water_mark_read_stops_until_the_socket_takes_output() {
    let mut b = Buffered::new(Script::new(&[Some(b"x"), Some(b"y")], 0));
    b.set_high_water_mark(3);
    b.write_all(b"12345").unwrap();
    let mut buf = [0u8; 8];
    assert!(would_block(b.read(&mut buf)), "read past the mark");
    assert_eq!(b.get_ref().reads.len(), 2, "the socket was read");
    // The peer takes one byte: still above the mark.
    b.get_mut().write_room = 1;
    assert!(would_block(b.read(&mut buf)));
    b.get_mut().write_room = 1;
    // Three queued: at the mark, reading resumes (the write blocked, so a
    // writable event is due anyway).
    assert_eq!(b.read(&mut buf).unwrap(), 1);
    assert_eq!(b.queued(), b"345");
}

#[test]
fn at_or_below_the_mark_read_goes_on_even_if_the_socket_is_full() {
    let mut b = Buffered::new(Script::new(&[Some(b"x")], 0));
    b.write_all(b"1234").unwrap();
    let mut buf = [0u8; 8];
    assert_eq!(b.read(&mut buf).unwrap(), 1);
}

#[test]
fn an_idle_buffered_holds_no_heap_memory() {
    let mut b = Buffered::new(Script::new(&[], 0));
    assert_eq!(b.queue.capacity(), 0);
    b.write_all(&[7; 1000]).unwrap();
    b.get_mut().write_room = usize::MAX;
    b.flush().unwrap();
    assert_eq!(b.queue.capacity(), 0, "an emptied queue keeps its buffer");
    // A write the socket takes whole never allocates.
    let mut direct = Buffered::new(Script::new(&[], usize::MAX));
    direct.write_all(&[1; 4096]).unwrap();
    assert_eq!(direct.queue.capacity(), 0);
}

#[test]
fn poll_close_sends_the_queue_then_reports_done() {
    let mut b = Buffered::new(Script::new(&[], 2));
    b.write_all(b"bye!").unwrap();
    assert!(would_block(b.poll_close()));
    b.get_mut().write_room = 10;
    b.poll_close().unwrap();
    assert_eq!(b.get_ref().written, b"bye!");
}
