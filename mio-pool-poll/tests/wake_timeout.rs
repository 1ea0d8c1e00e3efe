//! `wake`, timeouts, `Events` capacity, and idle threads that use no CPU.

mod util;

use std::collections::HashSet;
use std::io::Write;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use mio_pool_poll::{Events, Interest, Poll, Token};
use util::{pair, wait_polling, within_hang, HANG};

#[test]
fn wake_releases_every_blocked_thread() {
    let poll = Arc::new(Poll::new().unwrap());
    let threads: Vec<_> = (0..3)
        .map(|_| {
            let poll = poll.clone();
            thread::spawn(move || {
                let mut events = Events::with_capacity(4);
                poll.poll(&mut events, None).unwrap();
                events.len()
            })
        })
        .collect();
    wait_polling(&poll, 3);
    poll.wake().unwrap();
    within_hang("woken threads", move || {
        for t in threads {
            assert_eq!(t.join().unwrap(), 0);
        }
    });
    assert_eq!(poll.stats().polling_threads, 0);
}

#[test]
fn a_wake_between_two_calls_is_not_missed() {
    let poll = Poll::new().unwrap();
    let mut events = Events::with_capacity(4);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    // The thread is between calls (checking its stop flag, say) when the
    // wake-up comes: its next call returns at once instead of blocking.
    poll.wake().unwrap();
    within_hang("poll after wake", move || {
        poll.poll(&mut events, None).unwrap();
        assert!(events.is_empty());
        // Seen once: the call after that waits again.
        let start = Instant::now();
        poll.poll(&mut events, Some(Duration::from_millis(50)))
            .unwrap();
        assert!(
            start.elapsed() >= Duration::from_millis(45),
            "returned early"
        );
    });
}

#[test]
fn stop_flag_loops_always_stop() {
    // The pattern that a wake-up racing with the flag check used to hang.
    use std::sync::atomic::{AtomicBool, Ordering};
    for _ in 0..200 {
        let poll = Arc::new(Poll::new().unwrap());
        let stop = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (poll, stop) = (poll.clone(), stop.clone());
                thread::spawn(move || {
                    let mut events = Events::with_capacity(4);
                    while !stop.load(Ordering::Acquire) {
                        poll.poll(&mut events, None).unwrap();
                    }
                })
            })
            .collect();
        stop.store(true, Ordering::Release);
        poll.wake().unwrap();
        within_hang("stop", move || {
            for t in threads {
                t.join().unwrap();
            }
        });
    }
}

#[test]
fn timeout_returns_empty_after_about_the_timeout() {
    let poll = Arc::new(Poll::new().unwrap());
    // Two threads at once: one leads (OS timeout), one follows (condvar).
    let threads: Vec<_> = (0..2)
        .map(|_| {
            let poll = poll.clone();
            thread::spawn(move || {
                let mut events = Events::with_capacity(4);
                let start = Instant::now();
                poll.poll(&mut events, Some(Duration::from_millis(80)))
                    .unwrap();
                (start.elapsed(), events.len())
            })
        })
        .collect();
    for t in threads {
        let (elapsed, n) = t.join().unwrap();
        assert_eq!(n, 0);
        assert!(elapsed >= Duration::from_millis(75), "{elapsed:?}");
        assert!(elapsed < HANG);
    }
    // A zero timeout never blocks.
    let mut events = Events::with_capacity(4);
    poll.poll(&mut events, Some(Duration::ZERO)).unwrap();
    assert!(events.is_empty());
}

#[test]
fn capacity_caps_one_call_and_the_rest_stays_for_the_next() {
    let poll = Poll::new().unwrap();
    let mut pairs = Vec::new();
    for i in 0..10 {
        let (mut server, mut client) = pair();
        poll.register(&mut server, Token(i), Interest::READABLE)
            .unwrap();
        client.write_all(b"!").unwrap();
        pairs.push((server, client));
    }
    let mut seen = HashSet::new();
    let mut events = Events::with_capacity(3);
    while seen.len() < 10 {
        poll.poll(&mut events, Some(HANG)).unwrap();
        assert!(!events.is_empty() && events.len() <= 3, "{}", events.len());
        for e in &events {
            assert!(seen.insert(e.token()), "{:?} returned twice", e.token());
        }
    }
    // Every token is disarmed now: nothing more.
    poll.poll(&mut events, Some(Duration::from_millis(50)))
        .unwrap();
    assert!(events.is_empty());
}

#[test]
fn a_thread_that_keeps_its_events_does_not_stall_the_others() {
    let poll = Arc::new(Poll::new().unwrap());
    let (mut a, mut a_client) = pair();
    let (mut b, mut b_client) = pair();
    poll.register(&mut a, Token(1), Interest::READABLE).unwrap();
    poll.register(&mut b, Token(2), Interest::READABLE).unwrap();
    let spawn = |poll: Arc<Poll>| {
        thread::spawn(move || {
            let mut events = Events::with_capacity(1);
            poll.poll(&mut events, Some(HANG)).unwrap();
            events.iter().map(|e| e.token()).collect::<Vec<_>>()
        })
    };
    let first = spawn(poll.clone());
    let second = spawn(poll.clone());
    wait_polling(&poll, 2);
    a_client.write_all(b"a").unwrap();
    // Whichever thread got token 1 has left `poll` and never comes back.
    // The other one must still return token 2's event.
    let (got_a, waiting) = within_hang("first event", move || loop {
        if first.is_finished() {
            break (first.join().unwrap(), second);
        }
        if second.is_finished() {
            break (second.join().unwrap(), first);
        }
        thread::yield_now();
    });
    assert_eq!(got_a, [Token(1)]);
    b_client.write_all(b"b").unwrap();
    let got_b = within_hang("second event", move || waiting.join().unwrap());
    assert_eq!(got_b, [Token(2)]);
}

#[test]
#[cfg(target_os = "linux")]
fn idle_polling_threads_use_no_cpu() {
    fn cpu_ticks() -> u64 {
        // utime + stime of the whole process, in clock ticks.
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let after_comm = &stat[stat.rfind(')').unwrap() + 2..];
        let fields: Vec<&str> = after_comm.split(' ').collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }
    let poll = Arc::new(Poll::new().unwrap());
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let poll = poll.clone();
            thread::spawn(move || {
                let mut events = Events::with_capacity(4);
                poll.poll(&mut events, None).unwrap();
            })
        })
        .collect();
    wait_polling(&poll, 4);
    // Let the followers' hand-off timers run out (a few milliseconds), then
    // check that nothing happens any more: no wake-ups, no takeovers, no CPU.
    thread::sleep(Duration::from_millis(50));
    let before = poll.stats();
    let ticks = cpu_ticks();
    thread::sleep(Duration::from_millis(500));
    let after = poll.stats();
    assert_eq!(before, after, "idle threads woke up");
    // Clock ticks are 10 ms; a busy-waiting thread would burn about 50.
    assert!(cpu_ticks() - ticks <= 5, "idle threads used CPU");
    poll.wake().unwrap();
    for t in threads {
        t.join().unwrap();
    }
}
