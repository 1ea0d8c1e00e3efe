//! loom models of the token table: every interleaving of an OS event, a
//! re-arm, an interest change and a removal racing on one token. Run with
//! `RUSTFLAGS="--cfg loom" cargo test -p mio-pool-poll --lib --release loom`.

use loom::sync::Arc;
use loom::thread;
use mio::{Interest, Token};

use super::TokenTable;
use crate::event::Ready;

const T: Token = Token(7);

/// A table holding `T`, already delivered once: its owner has it.
fn taken_table() -> Arc<TokenTable> {
    let table = Arc::new(TokenTable::new());
    table.insert(T, Interest::READABLE);
    assert!(table.on_event(T, Ready::READABLE).is_some());
    table
}

#[test]
fn event_racing_rearm_is_delivered_exactly_once() {
    loom::model(|| {
        let table = taken_table();
        let os = {
            let table = table.clone();
            thread::spawn(move || table.on_event(T, Ready::READABLE).is_some())
        };
        let by_rearm = table.rearm(T, Interest::READABLE).unwrap().is_some();
        let by_os = os.join().unwrap();
        // Either the re-arm saw the readiness or the event found the
        // token armed: exactly one delivery, never zero (lost wake-up),
        // never two (a second holder).
        assert_eq!(u8::from(by_rearm) + u8::from(by_os), 1);
        let state = table.get(T).unwrap();
        assert!(!state.armed && state.pending.is_empty());
    });
}

#[test]
fn two_events_and_a_rearm_never_make_two_holders() {
    loom::model(|| {
        let table = taken_table();
        let spawn_os = |table: Arc<TokenTable>| {
            thread::spawn(move || table.on_event(T, Ready::READABLE).is_some())
        };
        let a = spawn_os(table.clone());
        let b = spawn_os(table.clone());
        let by_rearm = table.rearm(T, Interest::READABLE).unwrap().is_some();
        let delivered =
            u8::from(by_rearm) + u8::from(a.join().unwrap()) + u8::from(b.join().unwrap());
        // One re-arm hands the token out at most once more.
        assert_eq!(delivered, 1);
    });
}

/// The OS call of an interest change raises an edge (the source is
/// ready for the new interest) while the token is armed and nobody
/// holds it: it is delivered exactly once, and the token ends held by
/// whoever got it, never armed behind that holder's back.
#[test]
fn an_edge_raised_by_an_interest_change_makes_one_holder() {
    loom::model(|| {
        let table = Arc::new(TokenTable::new());
        table.insert(T, Interest::READABLE);
        let rw = Interest::READABLE.add(Interest::WRITABLE);
        let change = table.rearm_same(T, rw).unwrap_err().unwrap();
        assert!(change.was_armed);
        // The OS is told now; its edge races the end of the change.
        let os = {
            let table = table.clone();
            thread::spawn(move || table.on_event(T, Ready::WRITABLE).is_some())
        };
        let by_rearm = table.rearm(T, rw).unwrap().is_some();
        let by_os = os.join().unwrap();
        assert_eq!(u8::from(by_rearm) + u8::from(by_os), 1);
        assert!(!table.get(T).unwrap().armed, "armed while held");
    });
}

#[test]
fn events_after_remove_are_dropped() {
    loom::model(|| {
        let table = Arc::new(TokenTable::new());
        table.insert(T, Interest::READABLE);
        let os = {
            let table = table.clone();
            thread::spawn(move || table.on_event(T, Ready::READABLE).is_some())
        };
        let removed = table.remove(T);
        let delivered = os.join().unwrap();
        assert!(removed);
        // Delivered only if the event came first; never after removal.
        assert!(table.get(T).is_none());
        let _ = delivered;
        assert!(table.on_event(T, Ready::READABLE).is_none());
    });
}
