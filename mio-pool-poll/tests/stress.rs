//! Many threads, one poller, many sockets: every message is answered, no
//! token is ever held by two threads at once, and nothing stalls.

mod util;

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;

use mio::net::UnixStream;
use mio_pool_poll::{Event, Events, Interest, Poll, Token};
use parking_lot::Mutex;
use util::{pair, within_hang};

/// One server-side socket and the flag that catches a second holder.
struct Slot {
    busy: AtomicBool,
    stream: Mutex<UnixStream>,
}

const MESSAGE: usize = 8;

/// How the workers give a token back after draining it.
#[derive(Clone, Copy)]
enum Rearm {
    /// `reregister`: pending readiness goes to the shared queue.
    Queue,
    /// `rearm`: pending readiness comes straight back to this thread.
    Local,
}

fn handle(poll: &Poll, slots: &[Slot], event: Event, rearm: Rearm, bytes: &AtomicU64) {
    let slot = &slots[event.token().0];
    assert!(
        !slot.busy.swap(true, Ordering::AcqRel),
        "{:?} handed to two threads at once",
        event.token()
    );
    // The flag above is the check; the lock only lends `&mut` to the code
    // (the next holder may wait for it briefly while this thread re-arms).
    let mut stream = slot.stream.lock();
    let mut buf = [0u8; 256];
    let mut again = true;
    while again {
        loop {
            match stream.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    bytes.fetch_add(n as u64, Ordering::Relaxed);
                    stream.write_all(&buf[..n]).expect("echo");
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("read: {e}"),
            }
        }
        slot.busy.store(false, Ordering::Release);
        again = match rearm {
            Rearm::Queue => {
                poll.reregister(&mut *stream, event.token(), Interest::READABLE)
                    .unwrap();
                false
            }
            Rearm::Local => {
                let ready = poll
                    .rearm(&mut *stream, event.token(), Interest::READABLE)
                    .unwrap();
                if ready.is_some() {
                    assert!(!slot.busy.swap(true, Ordering::AcqRel), "double holder");
                }
                ready.is_some()
            }
        };
    }
}

fn run(threads: usize, sockets: usize, rounds: usize, capacity: usize, rearm: Rearm) {
    let poll = Arc::new(Poll::new().unwrap());
    let mut slots = Vec::new();
    let mut clients: Vec<StdUnixStream> = Vec::new();
    for i in 0..sockets {
        let (mut server, client) = pair();
        poll.register(&mut server, Token(i), Interest::READABLE)
            .unwrap();
        slots.push(Slot {
            busy: AtomicBool::new(false),
            stream: Mutex::new(server),
        });
        clients.push(client);
    }
    let slots = Arc::new(slots);
    let stop = Arc::new(AtomicBool::new(false));
    let bytes = Arc::new(AtomicU64::new(0));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (poll, slots, stop, bytes) =
                (poll.clone(), slots.clone(), stop.clone(), bytes.clone());
            thread::spawn(move || {
                let mut events = Events::with_capacity(capacity);
                while !stop.load(Ordering::Acquire) {
                    poll.poll(&mut events, None).unwrap();
                    for event in &events {
                        handle(&poll, &slots, *event, rearm, &bytes);
                    }
                }
            })
        })
        .collect();

    // Four client threads, each ping-ponging its share of the sockets in a
    // closed loop; every message carries its socket and round so that a
    // wrong or lost answer is caught.
    let per_client = sockets.div_ceil(4);
    let chunks: Vec<Vec<(usize, StdUnixStream)>> = {
        let mut all: Vec<_> = clients.into_iter().enumerate().collect();
        let mut out = Vec::new();
        while !all.is_empty() {
            let rest = all.split_off(per_client.min(all.len()));
            out.push(std::mem::replace(&mut all, rest));
        }
        out
    };
    let total = within_hang("ping-pong", move || {
        let clients: Vec<_> = chunks
            .into_iter()
            .map(|mut mine| {
                thread::spawn(move || {
                    for round in 0..rounds {
                        for (i, c) in mine.iter_mut() {
                            let mut msg = [0u8; MESSAGE];
                            msg[..4].copy_from_slice(&(*i as u32).to_le_bytes());
                            msg[4..].copy_from_slice(&(round as u32).to_le_bytes());
                            c.write_all(&msg).unwrap();
                        }
                        for (i, c) in mine.iter_mut() {
                            let mut reply = [0u8; MESSAGE];
                            c.read_exact(&mut reply).unwrap();
                            assert_eq!(&reply[..4], &(*i as u32).to_le_bytes());
                            assert_eq!(&reply[4..], &(round as u32).to_le_bytes());
                        }
                    }
                    mine.len() * rounds
                })
            })
            .collect();
        clients
            .into_iter()
            .map(|c| c.join().unwrap())
            .sum::<usize>()
    });
    assert_eq!(total, sockets * rounds);
    assert_eq!(
        bytes.load(Ordering::Relaxed),
        (sockets * rounds * MESSAGE) as u64
    );
    stop.store(true, Ordering::Release);
    poll.wake().unwrap();
    for w in workers {
        w.join().unwrap();
    }
}

#[test]
fn eight_threads_64_sockets_shared_queue() {
    run(8, 64, 500, 4, Rearm::Queue);
}

#[test]
fn four_threads_128_sockets_local_rearm() {
    run(4, 128, 250, 16, Rearm::Local);
}

#[test]
fn six_threads_one_event_per_call() {
    run(6, 64, 300, 1, Rearm::Queue);
}
