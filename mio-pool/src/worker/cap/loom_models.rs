//! loom models of the cap's handshake: every interleaving (and every
//! memory ordering loom allows) of an accepting worker against closing
//! workers. The counters are modelled with the orderings of
//! `stats::Counters` (`bump`: `Release`; `open`: `closed` then `accepted`,
//! both `Acquire`).

use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::Cap;

struct Counters {
    accepted: AtomicU64,
    closed: AtomicU64,
}

impl Counters {
    fn open(&self) -> u64 {
        let closed = self.closed.load(Ordering::Acquire);
        self.accepted.load(Ordering::Acquire).saturating_sub(closed)
    }
}

/// `max` connections open; an acceptor tries `tries` accepts while
/// `closers` workers each close one connection.
fn model(max: usize, closers: usize, tries: usize) {
    loom::model(move || {
        let cap = Arc::new(Cap::new(Some(max)));
        let counters = Arc::new(Counters {
            accepted: AtomicU64::new(max as u64),
            closed: AtomicU64::new(0),
        });
        let resumed = Arc::new(AtomicBool::new(false));

        let closing: Vec<_> = (0..closers)
            .map(|_| {
                let (cap, counters, resumed) = (cap.clone(), counters.clone(), resumed.clone());
                thread::spawn(move || {
                    counters.closed.fetch_add(1, Ordering::Release);
                    if cap.closed(|| counters.open()) {
                        assert!(!resumed.swap(true, Ordering::AcqRel), "two closers resumed");
                    }
                })
            })
            .collect();

        let mut stopped = false;
        for _ in 0..tries {
            stopped = cap.stops(|| counters.open());
            if stopped {
                break;
            }
            counters.accepted.fetch_add(1, Ordering::Release);
            assert!(counters.open() <= max as u64, "open above the cap");
        }
        for c in closing {
            c.join().unwrap();
        }
        if stopped {
            // No lost resume: a stopped acceptor with room again was
            // resumed by a closer.
            let room = counters.open() < max as u64;
            assert!(
                !room || resumed.load(Ordering::Acquire),
                "stopped with room and nobody resumed"
            );
        }
    })
}

#[test]
fn loom_cap_one_closer_never_loses_the_resume() {
    model(1, 1, 2);
}

#[test]
fn loom_cap_two_closers_resume_once_and_open_stays_under_the_cap() {
    model(2, 2, 3);
}
