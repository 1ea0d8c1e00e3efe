//! Echo over socket pairs: the shared poller against a bare single-thread
//! `mio::Poll` loop, on the same work.
//!
//! ```sh
//! cargo run --release -p mio-pool-poll --example echo_bench -- [SECONDS] [SOCKETS]
//! ```
//!
//! Prints round trips per second, events per second and server CPU time per
//! event (user + system, of the server threads only) for the bare loop and
//! for the shared poller with 1, 2 and 4 threads, and each as a ratio to the
//! bare loop measured in the same run. Times drift on a shared machine:
//! compare ratios, not absolute figures.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::net::UnixStream as StdStream;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use mio::net::UnixStream;
use mio_pool_poll::{Events, Interest, Poll, Token};
use parking_lot::Mutex;

const MESSAGE: usize = 64;
const CLIENT_THREADS: usize = 2;

/// CPU time of the calling thread.
fn thread_cpu() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; CLOCK_THREAD_CPUTIME_ID is
    // supported on every platform this example builds on.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// What the server side of a run reports.
#[derive(Default)]
struct Served {
    events: AtomicU64,
    cpu_nanos: AtomicU64,
}

/// Reads until `WouldBlock`, echoing everything back.
fn echo(stream: &mut UnixStream) {
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => stream.write_all(&buf[..n]).expect("echo write"),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("read: {e}"),
        }
    }
}

fn pairs(n: usize) -> (Vec<UnixStream>, Vec<StdStream>) {
    (0..n)
        .map(|_| {
            let (s, c) = StdStream::pair().expect("socketpair");
            s.set_nonblocking(true).expect("nonblocking");
            (UnixStream::from_std(s), c)
        })
        .unzip()
}

/// Closed-loop clients: each socket has one message in flight. Returns the
/// round trips done in `secs`.
fn drive(clients: Vec<StdStream>, secs: f64) -> u64 {
    let per = clients.len().div_ceil(CLIENT_THREADS);
    let mut chunks: Vec<Vec<StdStream>> = Vec::new();
    let mut it = clients.into_iter().peekable();
    while it.peek().is_some() {
        chunks.push(it.by_ref().take(per).collect());
    }
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let threads: Vec<_> = chunks
        .into_iter()
        .map(|mut mine| {
            thread::spawn(move || {
                let msg = [7u8; MESSAGE];
                let mut reply = [0u8; MESSAGE];
                let mut done = 0u64;
                while Instant::now() < end {
                    for c in mine.iter_mut() {
                        c.write_all(&msg).unwrap();
                    }
                    for c in mine.iter_mut() {
                        c.read_exact(&mut reply).unwrap();
                    }
                    done += mine.len() as u64;
                }
                done
            })
        })
        .collect();
    threads.into_iter().map(|t| t.join().unwrap()).sum()
}

/// The floor: one thread, one `mio::Poll`, read until `WouldBlock`.
fn bare(sockets: usize, secs: f64) -> (u64, Served) {
    let (mut servers, clients) = pairs(sockets);
    let mut poll = mio::Poll::new().unwrap();
    for (i, s) in servers.iter_mut().enumerate() {
        poll.registry()
            .register(s, Token(i), Interest::READABLE)
            .unwrap();
    }
    let stop_token = Token(usize::MAX - 1);
    let waker = Arc::new(mio::Waker::new(poll.registry(), stop_token).unwrap());
    let served = Arc::new(Served::default());
    let server = {
        let served = served.clone();
        thread::spawn(move || {
            let start = thread_cpu();
            let mut events = mio::Events::with_capacity(256);
            let mut n = 0u64;
            'run: loop {
                poll.poll(&mut events, None).unwrap();
                for e in events.iter() {
                    if e.token() == stop_token {
                        break 'run;
                    }
                    n += 1;
                    echo(&mut servers[e.token().0]);
                }
            }
            served.events.store(n, Ordering::Relaxed);
            served
                .cpu_nanos
                .store((thread_cpu() - start).as_nanos() as u64, Ordering::Relaxed);
        })
    };
    let trips = drive(clients, secs);
    waker.wake().unwrap();
    server.join().unwrap();
    (trips, Arc::try_unwrap(served).ok().unwrap())
}

/// The shared poller with `threads` threads; each re-arms with `rearm`, so a
/// busy socket stays on the thread that has it.
fn shared(threads: usize, sockets: usize, secs: f64) -> (u64, Served) {
    let (servers, clients) = pairs(sockets);
    let poll = Arc::new(Poll::new().unwrap());
    let servers: Arc<Vec<Mutex<UnixStream>>> = Arc::new(
        servers
            .into_iter()
            .enumerate()
            .map(|(i, mut s)| {
                poll.register(&mut s, Token(i), Interest::READABLE).unwrap();
                Mutex::new(s)
            })
            .collect(),
    );
    let served = Arc::new(Served::default());
    let stop = Arc::new(AtomicBool::new(false));
    let ready = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (poll, servers, served, stop, ready) = (
                poll.clone(),
                servers.clone(),
                served.clone(),
                stop.clone(),
                ready.clone(),
            );
            thread::spawn(move || {
                ready.wait();
                let start = thread_cpu();
                let mut events = Events::with_capacity(32);
                let mut n = 0u64;
                while !stop.load(Ordering::Acquire) {
                    poll.poll(&mut events, None).unwrap();
                    for e in &events {
                        let mut s = servers[e.token().0].lock();
                        loop {
                            n += 1;
                            echo(&mut s);
                            match poll.rearm(&mut *s, e.token(), Interest::READABLE) {
                                Ok(Some(_)) => continue,
                                Ok(None) => break,
                                Err(err) => panic!("rearm: {err}"),
                            }
                        }
                    }
                }
                served.events.fetch_add(n, Ordering::Relaxed);
                served
                    .cpu_nanos
                    .fetch_add((thread_cpu() - start).as_nanos() as u64, Ordering::Relaxed);
            })
        })
        .collect();
    ready.wait();
    let trips = drive(clients, secs);
    stop.store(true, Ordering::Release);
    poll.wake().unwrap();
    for w in workers {
        w.join().unwrap();
    }
    let stats = poll.stats();
    println!(
        "  (shared, {threads} threads: {} follower wake-ups, {} takeovers, {} registry calls)",
        stats.follower_wakeups, stats.takeovers, stats.registry_calls
    );
    (trips, Arc::try_unwrap(served).ok().unwrap())
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().map_or(2.0, |s| s.parse().expect("SECONDS"));
    let sockets: usize = args.next().map_or(64, |s| s.parse().expect("SOCKETS"));
    println!("echo of {MESSAGE} B over {sockets} socket pairs, {CLIENT_THREADS} client threads, {secs} s per run");

    struct Row {
        name: String,
        trips: u64,
        events: u64,
        cpu: u64,
    }
    let mut rows: Vec<Row> = Vec::new();
    let mut run = |name: String, (trips, served): (u64, Served)| {
        rows.push(Row {
            name,
            trips,
            events: served.events.into_inner(),
            cpu: served.cpu_nanos.into_inner(),
        });
    };
    // Alternate bare and shared so that drift hits both alike.
    run("bare mio, 1 thread".into(), bare(sockets, secs));
    for threads in [1, 2, 4] {
        run(
            format!("mio-pool-poll, {threads} threads"),
            shared(threads, sockets, secs),
        );
        run("bare mio, 1 thread".into(), bare(sockets, secs));
    }

    let bares: Vec<&Row> = rows.iter().filter(|r| r.name.starts_with("bare")).collect();
    let bare_tput = bares.iter().map(|r| r.trips as f64).sum::<f64>() / bares.len() as f64 / secs;
    let bare_cpu = bares
        .iter()
        .map(|r| r.cpu as f64 / r.events.max(1) as f64)
        .sum::<f64>()
        / bares.len() as f64;
    println!();
    println!("| server | round trips/s | events/s | CPU µs/event | throughput vs bare | CPU/event vs bare |");
    println!("|---|---|---|---|---|---|");
    for r in &rows {
        let tput = r.trips as f64 / secs;
        let cpu = r.cpu as f64 / r.events.max(1) as f64;
        println!(
            "| {} | {:.0} | {:.0} | {:.2} | {:.2}x | {:.2}x |",
            r.name,
            tput,
            r.events as f64 / secs,
            cpu / 1000.0,
            tput / bare_tput,
            cpu / bare_cpu
        );
    }
}
