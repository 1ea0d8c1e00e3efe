//! loom models of the cap's handshake: every interleaving of an accepting
//! worker against closing workers, on the real [`Cap`].

use loom::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use loom::sync::Arc;
use loom::thread;

use super::Cap;

/// `max` connections open; an acceptor tries `tries` accepts while
/// `closers` workers each close one of the open connections.
fn model(max: usize, closers: usize, tries: usize) {
    loom::model(move || {
        let cap = Arc::new(Cap::new(Some(max)));
        for _ in 0..max {
            cap.opened();
        }
        // Connections open, as the acceptor and the closers see them.
        let open = Arc::new(AtomicU64::new(max as u64));
        // How many closers resumed accepting (the pool's "accepting is due").
        let resumes = Arc::new(AtomicU64::new(0));

        let closing: Vec<_> = (0..closers)
            .map(|_| {
                let (cap, open, resumes) = (cap.clone(), open.clone(), resumes.clone());
                thread::spawn(move || {
                    open.fetch_sub(1, Ordering::AcqRel);
                    if cap.closed() {
                        resumes.fetch_add(1, Ordering::AcqRel);
                    }
                })
            })
            .collect();

        let stopped = Arc::new(AtomicBool::new(false));
        for _ in 0..tries {
            if cap.stops() {
                stopped.store(true, Ordering::Release);
                break;
            }
            let now = open.fetch_add(1, Ordering::AcqRel) + 1;
            assert!(now <= max as u64, "open above the cap: {now}");
            cap.opened();
        }
        for c in closing {
            c.join().unwrap();
        }
        let resumes = resumes.load(Ordering::Acquire);
        if stopped.load(Ordering::Acquire) {
            // A stop with room again afterwards was resumed exactly once.
            let room = open.load(Ordering::Acquire) < max as u64;
            assert!(resumes <= 1, "a stop resumed {resumes} times");
            assert!(
                !room || resumes == 1,
                "stopped with room and nobody resumed: open {}, max {max}",
                open.load(Ordering::Acquire)
            );
        } else {
            assert_eq!(resumes, 0, "resumed an acceptor that never stopped");
        }
    })
}

#[test]
fn loom_cap_one_closer_never_loses_the_resume() {
    model(1, 1, 2);
}

#[test]
fn loom_cap_two_closers_never_lose_the_resume_and_open_stays_under_the_cap() {
    model(2, 2, 3);
}
