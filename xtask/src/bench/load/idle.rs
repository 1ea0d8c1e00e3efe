//! Idle connections: opened, used for one byte each way so that the server
//! has certainly accepted them and set them up, then held open and silent.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Connections opened before their first byte is exchanged: few enough to
/// stay inside any server's accept backlog.
const BATCH: usize = 100;

/// Bound on each blocking step.
const STEP_TIMEOUT: Duration = Duration::from_secs(5);

/// A set of open, idle connections, closed when dropped.
#[derive(Debug)]
pub struct IdleSet {
    /// The connections.
    streams: Vec<TcpStream>,
}

impl IdleSet {
    /// Opens `n` connections to `addr`, giving up after `limit` in total.
    pub fn open(addr: SocketAddr, n: usize, limit: Duration) -> io::Result<IdleSet> {
        let deadline = Instant::now() + limit;
        let mut streams = Vec::with_capacity(n);
        while streams.len() < n {
            if Instant::now() >= deadline {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "only {} of {n} idle connections open after {limit:?}",
                        streams.len()
                    ),
                ));
            }
            let first = streams.len();
            for _ in first..(first + BATCH).min(n) {
                let stream = TcpStream::connect_timeout(&addr, STEP_TIMEOUT)?;
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(STEP_TIMEOUT))?;
                streams.push(stream);
            }
            for stream in &mut streams[first..] {
                stream.write_all(&[1])?;
            }
            let mut byte = [0u8];
            for stream in &mut streams[first..] {
                stream.read_exact(&mut byte)?;
            }
        }
        Ok(IdleSet { streams })
    }

    /// How many connections are held.
    pub fn count(&self) -> usize {
        self.streams.len()
    }
}
