//! loom models of the hand-off: the real `Poll` (leader, followers, queue,
//! token table) over the model OS (`sys/model.rs`), in every interleaving of
//! up to three threads. A wake-up that nobody sends shows up as a deadlock,
//! which loom reports. In the model every timer fires at once (see
//! `sync.rs`), so the paths only a timer reaches are explored too. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p mio-pool-poll --lib --release loom`.

use std::io;
use std::time::Duration;

use loom::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use loom::sync::{Arc, Notify};
use loom::thread;
use mio::event::Source;
use mio::{Interest, Token};

use crate::event::Ready;
use crate::{Event, Events, Poll};

const A: Token = Token(1);
const B: Token = Token(2);

/// A source for the model registry, which never touches it.
struct Nothing;

impl Source for Nothing {
    fn register(&mut self, _: &mio::Registry, _: Token, _: Interest) -> io::Result<()> {
        Ok(())
    }
    fn reregister(&mut self, _: &mio::Registry, _: Token, _: Interest) -> io::Result<()> {
        Ok(())
    }
    fn deregister(&mut self, _: &mio::Registry) -> io::Result<()> {
        Ok(())
    }
}

/// Up to four threads, the hand-off's locks, the token table's shard
/// lock and the model OS's lock: three preemptions keep each model
/// within seconds (CI) and already reach every mutation tried (each
/// wake-up removed in turn deadlocks a model).
/// `LOOM_MAX_PREEMPTIONS=5` takes about three minutes here, and passes.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if std::env::var_os("LOOM_MAX_PREEMPTIONS").is_none() {
        builder.preemption_bound = Some(3);
    }
    builder.check(f);
}

fn poller(tokens: &[Token]) -> Arc<Poll> {
    let poll = Arc::new(Poll::new().unwrap());
    for &token in tokens {
        poll.register(&mut Nothing, token, Interest::READABLE)
            .unwrap();
    }
    poll
}

/// The OS reports an edge for `token`.
fn report(poll: &Poll, token: Token) {
    poll.model_os().report(token, Ready::READABLE);
}

/// Calls that returned events, and a signal for each.
#[derive(Default)]
struct Got {
    calls: AtomicUsize,
    signal: Notify,
}

impl Got {
    /// Blocks until some call returned events (loom's `Notify` may wake
    /// spuriously, hence the count).
    fn wait(&self) {
        while self.calls.load(SeqCst) == 0 {
            self.signal.wait();
        }
    }
}

/// A thread that makes one `poll(None)` call with room for `room`
/// events, signals `got` if it returned any, and returns their tokens.
fn polling_thread(poll: &Arc<Poll>, room: usize, got: &Arc<Got>) -> thread::JoinHandle<Vec<Token>> {
    let (poll, got) = (poll.clone(), got.clone());
    thread::spawn(move || {
        let mut events = Events::with_capacity(room);
        poll.poll(&mut events, None).unwrap();
        let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
        if !tokens.is_empty() {
            got.calls.fetch_add(1, SeqCst);
            got.signal.notify();
        }
        tokens
    })
}

/// `n` of [`polling_thread`].
fn polling_threads(
    n: usize,
    poll: &Arc<Poll>,
    room: usize,
    got: &Arc<Got>,
) -> Vec<thread::JoinHandle<Vec<Token>>> {
    (0..n).map(|_| polling_thread(poll, room, got)).collect()
}

fn joined(threads: Vec<thread::JoinHandle<Vec<Token>>>) -> Vec<Token> {
    let mut all: Vec<Token> = threads
        .into_iter()
        .flat_map(|t| t.join().unwrap())
        .collect();
    all.sort();
    all
}

/// The OS reports `token`, and this thread polls and gets its event: it
/// holds the token (disarmed) from here on.
fn hold(poll: &Poll, token: Token) -> Event {
    report(poll, token);
    let mut events = Events::with_capacity(4);
    poll.poll(&mut events, None).unwrap();
    let tokens: Vec<Token> = events.iter().map(|e| e.token()).collect();
    assert_eq!(tokens, [token]);
    *events.iter().next().unwrap()
}

/// Polls without blocking (every timer fires at once in the model) until a
/// call returns nothing; returns the tokens of every event.
fn drain_now(poll: &Poll) -> Vec<Token> {
    let mut events = Events::with_capacity(4);
    let mut tokens = Vec::new();
    loop {
        poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
        if events.is_empty() {
            return tokens;
        }
        tokens.extend(events.iter().map(|e| e.token()));
    }
}

/// Contract 5: `wake` returns every poller, whether it leads, waits on
/// the hand-off timer or sleeps untimed, or has not started its call.
/// Three pollers: with two, the leader's return alone would release
/// the one follower.
#[test]
fn wake_returns_every_poller() {
    model(|| {
        let poll = poller(&[]);
        let got = Arc::new(Got::default());
        let threads = polling_threads(3, &poll, 4, &got);
        poll.wake().unwrap();
        assert!(joined(threads).is_empty());
    });
}

/// Contracts 1 and 2: two edges for one token while two threads poll:
/// one event, returned by exactly one of them, never zero.
#[test]
fn an_event_is_returned_by_exactly_one_poller() {
    model(|| {
        let poll = poller(&[A]);
        let got = Arc::new(Got::default());
        let threads = polling_threads(2, &poll, 4, &got);
        report(&poll, A);
        report(&poll, A);
        // Deadlock here, in some interleaving, would be a lost event.
        got.wait();
        poll.wake().unwrap(); // releases the other thread
        assert_eq!(joined(threads), [A]);
    });
}

/// Contract 3: readiness that arrives while the token is disarmed is
/// returned after the re-arm to a thread that is already asleep (as
/// the leader in the OS poll, or as a follower), without new I/O.
#[test]
fn rearm_hands_kept_readiness_to_a_sleeping_poller() {
    model(|| {
        let poll = poller(&[A]);
        hold(&poll, A);
        // The owner holds A (disarmed); a new edge comes meanwhile.
        report(&poll, A);
        let got = Arc::new(Got::default());
        let threads = polling_threads(2, &poll, 4, &got);
        poll.reregister(&mut Nothing, A, Interest::READABLE)
            .unwrap();
        got.wait();
        poll.wake().unwrap();
        assert_eq!(joined(threads), [A]);
    });
}

/// A leader's batch holds more than it takes: the other thread gets
/// the rest, with no `wake`, whatever it was doing meanwhile.
#[test]
fn the_surplus_of_a_batch_reaches_the_other_poller() {
    model(|| {
        let poll = poller(&[A, B]);
        let got = Arc::new(Got::default());
        let threads = polling_threads(2, &poll, 1, &got);
        report(&poll, A);
        report(&poll, B);
        assert_eq!(joined(threads), [A, B]);
    });
}

/// The leader returns and never polls again: the other thread takes
/// the leader's role and gets what the OS reports next, whether it was
/// on the hand-off timer or asleep without one.
#[test]
fn the_role_passes_on_when_the_leader_leaves() {
    model(|| {
        let poll = poller(&[A, B]);
        let got = Arc::new(Got::default());
        let threads = polling_threads(2, &poll, 1, &got);
        report(&poll, A);
        got.wait(); // one thread returned with A and is gone
        report(&poll, B);
        assert_eq!(joined(threads), [A, B]);
    });
}

/// A holder puts its event back in line (`requeue`, which wakes
/// nobody) while another thread polls and the OS reports a second
/// token: each of the two is returned exactly once, by the other thread
/// or by the holder's next calls.
#[test]
fn a_requeued_event_is_returned_exactly_once() {
    model(|| {
        let poll = poller(&[A, B]);
        let held = hold(&poll, A);
        let got = Arc::new(Got::default());
        let other = polling_thread(&poll, 4, &got);
        report(&poll, B);
        poll.requeue(held);
        // The other thread leads (nobody else polls), so B's report
        // wakes it; then the holder drains what is left, never blocking
        // (every timer fires at once in the model).
        got.wait();
        let mine = drain_now(&poll);
        let mut all = joined(vec![other]);
        all.extend(mine);
        all.sort();
        assert_eq!(all, [A, B]);
    });
}

/// A re-arm queues kept readiness while the leader reads a batch of its
/// own into its `Events` (which skips the queue): the queued event is not
/// lost behind the leader's, and nothing is returned twice.
#[test]
fn an_event_queued_while_the_leader_reads_is_returned_exactly_once() {
    model(|| {
        let poll = poller(&[A, B]);
        hold(&poll, A);
        // The owner holds A; a new edge comes meanwhile.
        report(&poll, A);
        let got = Arc::new(Got::default());
        let other = polling_thread(&poll, 1, &got);
        report(&poll, B);
        poll.reregister(&mut Nothing, A, Interest::READABLE)
            .unwrap();
        let mut all = joined(vec![other]);
        // The other thread returned one event; the rest is still due.
        all.extend(drain_now(&poll));
        all.sort();
        assert_eq!(all, [A, B]);
    });
}
