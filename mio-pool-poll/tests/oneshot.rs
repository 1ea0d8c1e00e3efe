//! Oneshot delivery and re-arming: the token is quiet while disarmed, and
//! readiness that arrived meanwhile comes out at re-arm, with no new I/O.

mod util;

use std::io::Write;
use std::time::Duration;

use mio_pool_poll::{Events, Interest, Poll, Token};
use util::{drain, pair, HANG};

const QUIET: Duration = Duration::from_millis(100);

#[test]
fn readiness_while_disarmed_is_returned_after_rearm_without_new_io() {
    let poll = Poll::new().unwrap();
    let (mut server, mut client) = pair();
    poll.register(&mut server, Token(1), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(8);

    client.write_all(b"one").unwrap();
    poll.poll(&mut events, Some(HANG)).unwrap();
    assert_eq!(
        events.iter().map(|e| e.token()).collect::<Vec<_>>(),
        [Token(1)]
    );
    assert!(events.iter().next().unwrap().is_readable());
    assert_eq!(drain(&mut server).unwrap(), b"one");

    // Disarmed: new data raises an edge, but no event is returned.
    client.write_all(b"two").unwrap();
    poll.poll(&mut events, Some(QUIET)).unwrap();
    assert!(events.is_empty(), "oneshot: got {events:?}");

    // Re-arm: the edge seen while disarmed comes out, with no new data.
    poll.reregister(&mut server, Token(1), Interest::READABLE)
        .unwrap();
    poll.poll(&mut events, Some(HANG)).unwrap();
    assert_eq!(
        events.iter().map(|e| e.token()).collect::<Vec<_>>(),
        [Token(1)]
    );
    assert_eq!(drain(&mut server).unwrap(), b"two");
}

#[test]
fn rearm_hands_pending_readiness_to_the_caller() {
    let poll = Poll::new().unwrap();
    let (mut server, mut client) = pair();
    poll.register(&mut server, Token(5), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(8);
    client.write_all(b"x").unwrap();
    poll.poll(&mut events, Some(HANG)).unwrap();
    assert_eq!(events.len(), 1);

    // Nothing arrived since: rearm arms.
    drain(&mut server).unwrap();
    assert_eq!(
        poll.rearm(&mut server, Token(5), Interest::READABLE)
            .unwrap(),
        None
    );
    client.write_all(b"y").unwrap();
    poll.poll(&mut events, Some(HANG)).unwrap();
    assert_eq!(events.len(), 1);

    // More data while disarmed: rearm returns it instead of arming, and no
    // other poll call sees it.
    client.write_all(b"z").unwrap();
    // Make sure the OS edge has been taken in by a poll call first.
    poll.poll(&mut events, Some(QUIET)).unwrap();
    assert!(events.is_empty());
    let again = poll
        .rearm(&mut server, Token(5), Interest::READABLE)
        .unwrap();
    assert_eq!(again.map(|e| e.token()), Some(Token(5)));
    poll.poll(&mut events, Some(QUIET)).unwrap();
    assert!(events.is_empty(), "the caller has the token: {events:?}");
}

#[test]
fn rearm_with_unchanged_interest_makes_no_system_call() {
    let poll = Poll::new().unwrap();
    let (mut server, mut client) = pair();
    poll.register(&mut server, Token(2), Interest::READABLE)
        .unwrap();
    let after_register = poll.stats().registry_calls;
    assert_eq!(after_register, 1);
    let mut events = Events::with_capacity(8);
    for round in 0..100u8 {
        client.write_all(&[round]).unwrap();
        poll.poll(&mut events, Some(HANG)).unwrap();
        assert_eq!(events.len(), 1, "round {round}");
        drain(&mut server).unwrap();
        poll.reregister(&mut server, Token(2), Interest::READABLE)
            .unwrap();
    }
    assert_eq!(
        poll.stats().registry_calls,
        after_register,
        "re-arming reached the OS"
    );

    // A changed interest does need the OS.
    poll.reregister(
        &mut server,
        Token(2),
        Interest::READABLE | Interest::WRITABLE,
    )
    .unwrap();
    assert_eq!(poll.stats().registry_calls, after_register + 1);
    // ...and the socket is writable, so an event follows.
    poll.poll(&mut events, Some(HANG)).unwrap();
    assert!(events
        .iter()
        .any(|e| e.token() == Token(2) && e.is_writable()));
}

#[test]
fn remove_forgets_the_token_and_its_pending_readiness() {
    let poll = Poll::new().unwrap();
    let (mut a, mut a_client) = pair();
    poll.register(&mut a, Token(9), Interest::READABLE).unwrap();
    let mut events = Events::with_capacity(8);
    a_client.write_all(b"a").unwrap();
    poll.poll(&mut events, Some(HANG)).unwrap();
    assert_eq!(events.len(), 1);
    // Disarmed; the OS reports another edge, which is kept as pending.
    a_client.write_all(b"b").unwrap();
    poll.poll(&mut events, Some(QUIET)).unwrap();
    assert!(events.is_empty());

    poll.remove(&mut a, Token(9)).unwrap();
    let err = poll
        .reregister(&mut a, Token(9), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    a_client.write_all(b"c").unwrap();
    poll.poll(&mut events, Some(QUIET)).unwrap();
    assert!(events.is_empty(), "a removed token produced {events:?}");

    // Reused for a new, idle source, the token starts clean.
    let (mut b, _b_client) = pair();
    poll.register(&mut b, Token(9), Interest::READABLE).unwrap();
    poll.poll(&mut events, Some(QUIET)).unwrap();
    assert!(
        events.is_empty(),
        "stale readiness reached the new source: {events:?}"
    );
}

#[test]
fn deregistered_sources_produce_no_events() {
    let poll = Poll::new().unwrap();
    let (mut a, mut a_client) = pair();
    poll.register(&mut a, Token(3), Interest::READABLE).unwrap();
    poll.deregister(&mut a).unwrap();
    a_client.write_all(b"a").unwrap();
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(QUIET)).unwrap();
    assert!(events.is_empty());
}

#[test]
fn read_closed_is_reported() {
    let poll = Poll::new().unwrap();
    let (mut server, client) = pair();
    poll.register(&mut server, Token(4), Interest::READABLE)
        .unwrap();
    drop(client);
    let mut events = Events::with_capacity(8);
    poll.poll(&mut events, Some(HANG)).unwrap();
    let e = events.iter().next().expect("an event for the hang-up");
    assert!(e.is_read_closed() || e.is_readable());
}

#[test]
fn bad_tokens_are_clear_errors() {
    let poll = Poll::new().unwrap();
    let (mut server, _client) = pair();
    let err = poll
        .register(&mut server, Token(usize::MAX), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = poll
        .reregister(&mut server, Token(3), Interest::READABLE)
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    // A failed registration leaves no trace: the token is still unknown.
    poll.register(&mut server, Token(3), Interest::READABLE)
        .unwrap();
    assert!(poll
        .register(&mut server, Token(3), Interest::READABLE)
        .is_err());
    poll.reregister(&mut server, Token(3), Interest::READABLE)
        .unwrap();
}

#[test]
fn a_requeued_source_does_not_starve_sources_the_os_has_not_reported() {
    let poll = Poll::new().unwrap();
    let (mut busy, mut busy_client) = pair();
    let (mut other, mut other_client) = pair();
    poll.register(&mut busy, Token(1), Interest::READABLE)
        .unwrap();
    poll.register(&mut other, Token(2), Interest::READABLE)
        .unwrap();
    let mut events = Events::with_capacity(1);
    busy_client.write_all(b"always more").unwrap();
    poll.poll(&mut events, Some(HANG)).unwrap();
    let busy_event = *events.iter().next().unwrap();
    assert_eq!(busy_event.token(), Token(1));

    // `other` becomes ready while `busy` keeps going back in line.
    other_client.write_all(b"me too").unwrap();
    for _ in 0..100 {
        poll.requeue(busy_event);
        poll.poll(&mut events, Some(HANG)).unwrap();
        if events.iter().any(|e| e.token() == Token(2)) {
            return;
        }
    }
    panic!("the requeued source starved the other one");
}
