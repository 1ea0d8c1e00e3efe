//! Connection churn: connect, one 64-byte round trip, close; as fast as the
//! server accepts. Each client thread works on one connection at a time
//! with blocking sockets, so every operation is a full connection lifetime.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::thread;
use std::time::{Duration, Instant};

use super::{Phase, Running, Tally};

/// Bound on every blocking step, so a stuck server cannot hang the run.
const STEP_TIMEOUT: Duration = Duration::from_secs(2);

/// Consecutive failures after which a client thread gives up.
const MAX_FAILURES_IN_A_ROW: u32 = 50;

/// Starts `threads` churning client threads with `size`-byte messages (in warm-up).
pub fn start(addr: SocketAddr, size: usize, threads: usize) -> Running {
    let phase = Phase::new();
    let handles = (0..threads.max(1))
        .map(|_| {
            let phase = phase.clone();
            thread::spawn(move || client(addr, size, &phase))
        })
        .collect();
    Running {
        phase,
        threads: handles,
    }
}

/// One churning client thread.
fn client(addr: SocketAddr, size: usize, phase: &Phase) -> Tally {
    let mut tally = Tally::default();
    let msg = vec![0x5a; size];
    let mut buf = vec![0u8; size];
    let mut failures = 0;
    while !phase.is_stopped() {
        let started = Instant::now();
        match once(addr, &msg, &mut buf) {
            Ok(()) => {
                failures = 0;
                tally.complete(phase, started);
            }
            Err(e) => {
                tally.error(e);
                failures += 1;
                if failures >= MAX_FAILURES_IN_A_ROW {
                    break;
                }
                thread::sleep(Duration::from_millis(1));
            }
        }
    }
    tally
}

/// One connection: connect, send, read the echo back, close.
fn once(addr: SocketAddr, msg: &[u8], buf: &mut [u8]) -> std::io::Result<()> {
    let mut stream = TcpStream::connect_timeout(&addr, STEP_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(STEP_TIMEOUT))?;
    stream.set_write_timeout(Some(STEP_TIMEOUT))?;
    stream.write_all(msg)?;
    stream.read_exact(buf)?;
    Ok(())
}
