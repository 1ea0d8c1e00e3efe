//! Running out of file descriptors: existing connections keep being served,
//! accepting pauses and resumes, and the condition is logged once per
//! episode. Alone in its own test binary because it lowers the process's
//! file limit.
#![cfg(target_os = "linux")]

mod util;

use std::sync::atomic::{AtomicUsize, Ordering};

use util::{client, round_trip, wait_stats};

/// Counts the pool's "out of file descriptors" warnings.
struct CountingLogger;

static OUT_OF_FDS_WARNINGS: AtomicUsize = AtomicUsize::new(0);

impl log::Log for CountingLogger {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.level() == log::Level::Warn
            && record
                .args()
                .to_string()
                .contains("out of file descriptors")
        {
            OUT_OF_FDS_WARNINGS.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn flush(&self) {}
}

/// Lowers the soft limit a little above the highest descriptor in use and
/// fills every free descriptor below it, then frees `room` of them: exactly
/// `room` descriptors can be opened now. Returns the filler and the old
/// limit.
fn leave_room(room: usize) -> (Vec<std::fs::File>, u64) {
    let highest = std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u64>().ok())
        .max()
        .unwrap();
    let original = set_soft_limit(highest + 1 + room as u64 + 8);
    let mut filler = Vec::new();
    loop {
        match std::fs::File::open("/dev/null") {
            Ok(f) => filler.push(f),
            Err(e) => {
                assert_eq!(e.raw_os_error(), Some(libc::EMFILE), "{e}");
                break;
            }
        }
    }
    assert!(filler.len() >= room);
    filler.truncate(filler.len() - room);
    (filler, original)
}

fn set_soft_limit(soft: u64) -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid rlimit for getrlimit to fill, and setrlimit
    // only reads it; RLIMIT_NOFILE is a valid resource.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        let old = lim.rlim_cur;
        lim.rlim_cur = soft;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
        old
    }
}

#[test]
fn accepting_pauses_and_resumes_while_open_connections_are_served() {
    log::set_logger(&CountingLogger).unwrap();
    log::set_max_level(log::LevelFilter::Warn);

    // Four clients wait in the listener's backlog before the pool runs; the
    // process then has room for exactly one more descriptor, which the
    // first accept takes. Accepting the other three fails with EMFILE.
    let server = mio::net::TcpListener::bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let addr = server.local_addr().unwrap();
    let builder = mio_pool::PoolBuilder::from(server)
        .unwrap()
        .with_state(Vec::new())
        .and_return(|v| v);
    let mut first = client(addr);
    let mut waiting: Vec<_> = (0..3).map(|_| client(addr)).collect();
    let (filler, original) = leave_room(1);
    let h = builder.run(2, util::echo);
    assert_eq!(round_trip(&mut first, b"before"), b"before");

    // Several failed attempts (the pause is 100 ms), and one warning.
    wait_stats(&h, "accept fails repeatedly", |s| s.accept_errors >= 3);
    assert_eq!(
        OUT_OF_FDS_WARNINGS.load(Ordering::Relaxed),
        1,
        "once per episode"
    );

    // The open connection is served throughout.
    for _ in 0..10 {
        assert_eq!(round_trip(&mut first, b"during"), b"during");
    }
    assert_eq!(h.stats().accepted, 1);

    // Descriptors come back: the waiting clients are accepted and served.
    set_soft_limit(original);
    drop(filler);
    for c in &mut waiting {
        assert_eq!(round_trip(c, b"after"), b"after");
    }
    assert_eq!(h.stats().accepted, 4);

    // A second episode is logged again.
    let before = OUT_OF_FDS_WARNINGS.load(Ordering::Relaxed);
    let errors = h.stats().accept_errors;
    let (filler, original) = leave_room(1);
    let mut late = client(addr);
    wait_stats(&h, "second episode", |s| s.accept_errors > errors);
    assert_eq!(OUT_OF_FDS_WARNINGS.load(Ordering::Relaxed), before + 1);
    set_soft_limit(original);
    drop(filler);
    assert_eq!(round_trip(&mut late, b"late"), b"late");
    h.terminate();
}
