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

/// CPU time (user + system, in clock ticks) of one thread of this process,
/// named by its `/proc/thread-self` link (`PID/task/TID`).
#[cfg(target_os = "linux")]
fn thread_cpu_ticks(task: &std::path::Path) -> u64 {
    let stat = std::fs::read_to_string(std::path::Path::new("/proc").join(task).join("stat"))
        .expect("the thread's /proc stat");
    // Fields after the command name (which may hold spaces), from field 3:
    // utime and stime are fields 14 and 15.
    let after_comm = &stat[stat.rfind(')').expect("stat has (comm)") + 2..];
    let fields: Vec<&str> = after_comm.split(' ').collect();
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

/// How many times one thread of this process went to sleep (its voluntary
/// context switches): a thread that sleeps throughout adds none.
#[cfg(target_os = "linux")]
fn thread_sleeps(task: &std::path::Path) -> u64 {
    let status = std::fs::read_to_string(std::path::Path::new("/proc").join(task).join("status"))
        .expect("the thread's /proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
        .expect("voluntary_ctxt_switches")
        .trim()
        .parse()
        .expect("a count")
}

#[test]
#[cfg(target_os = "linux")]
fn idle_polling_threads_use_no_cpu() {
    // Only the polling threads are measured: the other tests of this binary
    // run beside this one, and the machine may be busy.
    let poll = Arc::new(Poll::new().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (poll, tx) = (poll.clone(), tx.clone());
            thread::spawn(move || {
                tx.send(std::fs::read_link("/proc/thread-self").expect("/proc/thread-self"))
                    .unwrap();
                let mut events = Events::with_capacity(4);
                poll.poll(&mut events, None).unwrap();
            })
        })
        .collect();
    let tasks: Vec<std::path::PathBuf> = rx.iter().take(4).collect();
    let cpu = || tasks.iter().map(|t| thread_cpu_ticks(t)).sum::<u64>();
    let sleeps = || tasks.iter().map(|t| thread_sleeps(t)).sum::<u64>();
    wait_polling(&poll, 4);
    // Let the followers' hand-off timers run out (a few milliseconds), then
    // check that nothing happens any more: no wake-ups, no takeovers, no CPU.
    thread::sleep(Duration::from_millis(50));
    let before = poll.stats();
    let (ticks, slept) = (cpu(), sleeps());
    thread::sleep(Duration::from_millis(500));
    let after = poll.stats();
    let (used, woke) = (cpu() - ticks, sleeps() - slept);
    assert_eq!(before, after, "idle threads woke up");
    // A follower whose hand-off timer ran out late, on a busy machine,
    // wakes once in the window; one woken by a timer every millisecond
    // would wake about 500 times.
    assert!(woke <= 4, "idle polling threads woke {woke} times");
    // Clock ticks are 10 ms; a thread that busy-waits for 500 ms burns 50
    // of them, or about 16 on a machine whose two cores are both busy.
    assert!(used <= 3, "idle polling threads used {used} ticks of CPU");
    poll.wake().unwrap();
    for t in threads {
        t.join().unwrap();
    }
}
