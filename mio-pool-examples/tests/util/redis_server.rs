//! A real `redis-server` on a free local port, for comparing replies.

use std::net::{SocketAddr, TcpListener};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::resp::{Client, Reply};

/// A running `redis-server` without persistence, killed when dropped.
pub struct RedisServer {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl RedisServer {
    /// Starts `bin` on a free port of 127.0.0.1 and waits until it answers
    /// `PING`.
    pub fn start(bin: &Path) -> RedisServer {
        // A port freed just now may be taken by someone else before
        // redis-server binds it: try a few.
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("a free port")
                .port();
            let child = Command::new(bin)
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {bin:?}: {e}"));
            let mut server = RedisServer {
                child,
                addr: SocketAddr::from(([127, 0, 0, 1], port)),
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("redis-server did not start");
    }

    /// Whether our server answers (false if it exited, e.g. because the
    /// port was taken: then whoever answers is not our child).
    fn wait_ready(&mut self) -> bool {
        let deadline = Instant::now() + super::TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            if let Ok(mut c) = Client::connect(self.addr) {
                let ours = format!("process_id:{}\r\n", self.child.id());
                return match c.call(&["INFO", "server"]) {
                    Reply::Bulk(Some(info)) => String::from_utf8_lossy(&info).contains(&ours),
                    _ => false,
                };
            }
            thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
