//! Shared by the deployment tests (`deploy.rs`, `deploy_engines.rs`):
//! processes whose output lines the test reads, pids that are not our
//! children, free ports on the loopback addresses, and a plain HTTP/1.1
//! client that says exactly what went wrong.

// Each test file uses a different part of this module.
#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread;
use std::time::Duration;

use mio_pool_examples::listening::parse_listening_line;

/// How long any single wait may take before the test fails (a hang, not a
/// slow machine).
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A process whose standard output and error the test reads line by line;
/// killed when dropped. Its stderr lines are also copied to the test's.
pub struct Proc {
    child: Child,
    name: String,
    /// Standard output, line by line.
    pub out: Receiver<String>,
    /// Standard error, line by line.
    pub err: Receiver<String>,
}

impl Proc {
    /// Starts `cmd` with piped output and no input.
    pub fn spawn(cmd: &mut Command) -> Proc {
        let name = format!("{:?}", cmd.get_program());
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {cmd:?}: {e}"));
        let out = lines(child.stdout.take().expect("piped"), false);
        let err = lines(child.stderr.take().expect("piped"), true);
        Proc {
            child,
            name,
            out,
            err,
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Waits for the next `listening on ADDR` line on stdout and returns
    /// `ADDR`.
    pub fn listening(&self) -> String {
        let line = next_line(&self.out, &self.name, |l| parse_listening_line(l).is_some());
        parse_listening_line(&line)
            .expect("a listening line")
            .to_string()
    }

    /// [`Proc::listening`] as a TCP address.
    pub fn listening_tcp(&self) -> SocketAddr {
        let addr = self.listening();
        addr.parse()
            .unwrap_or_else(|e| panic!("bad address {addr:?}: {e}"))
    }

    /// Waits for a stderr line containing `needle`; returns it.
    pub fn stderr_line(&self, needle: &str) -> String {
        next_line(&self.err, &self.name, |l| l.contains(needle))
    }

    /// Waits (bounded) for the process to exit.
    pub fn wait_exit(&mut self) -> ExitStatus {
        let pid = self.pid();
        let status = wait_pid(pid);
        // Reaped by pid: keep Drop from trying to kill a recycled pid.
        let _ = self.child.try_wait();
        status
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

fn lines(stream: impl Read + Send + 'static, echo: bool) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if echo {
                eprintln!("{line}");
            }
            let _ = tx.send(line);
        }
    });
    rx
}

fn next_line(rx: &Receiver<String>, name: &str, want: impl Fn(&str) -> bool) -> String {
    loop {
        match rx.recv_timeout(TIMEOUT) {
            Ok(line) if want(&line) => return line,
            Ok(_) => continue,
            Err(e) => panic!("{name}: the expected line did not come: {e}"),
        }
    }
}

/// Sends `sig` to `pid`.
pub fn signal(pid: u32, sig: libc::c_int) {
    let pid = libc::pid_t::try_from(pid).expect("pid fits");
    // SAFETY: kill(2) takes plain integers and touches no memory of ours.
    let rc = unsafe { libc::kill(pid, sig) };
    assert_eq!(rc, 0, "kill({pid}): {}", io::Error::last_os_error());
}

/// Makes this test process the reaper of its orphaned descendants, so that
/// a server's successor (whose parent exits) can be waited for by pid.
pub fn become_subreaper() {
    // SAFETY: prctl(PR_SET_CHILD_SUBREAPER, 1) takes integers only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "prctl: {}", io::Error::last_os_error());
}

/// Waits (at most [`TIMEOUT`]) for the child or adopted orphan `pid` to
/// exit, and reaps it.
pub fn wait_pid(pid: u32) -> ExitStatus {
    use std::os::unix::process::ExitStatusExt;
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut status = 0;
        // SAFETY: waitpid writes the status into our local integer only.
        let rc = unsafe { libc::waitpid(pid as libc::pid_t, &mut status, 0) };
        let _ = tx.send((rc, status, io::Error::last_os_error()));
    });
    let (rc, status, err) = rx
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("process {pid} did not exit within {TIMEOUT:?}"));
    assert_eq!(rc, pid as libc::pid_t, "waitpid({pid}): {err}");
    ExitStatus::from_raw(status)
}

/// A port on `ip` that was free a moment ago (the kernel picked it).
pub fn free_port(ip: &str) -> u16 {
    let ip: IpAddr = ip.parse().expect("an IP address");
    TcpListener::bind((ip, 0))
        .and_then(|l| l.local_addr())
        .expect("bind port 0")
        .port()
}

/// A fresh, empty directory under the system's temporary directory,
/// removed when dropped.
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `mio-pool-TAG-PID-N`.
    pub fn new(tag: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mio-pool-{tag}-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A blocking HTTP/1.1 client connection to `addr`.
pub struct HttpClient {
    stream: TcpStream,
    buf: Vec<u8>,
}

/// One response: its status code, body, and whether the server closes the
/// connection after it.
#[derive(Debug)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
    /// `Connection: close` was sent.
    pub close: bool,
}

impl HttpClient {
    /// Connects, with timeouts on every read and write.
    pub fn connect(addr: SocketAddr) -> io::Result<HttpClient> {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        Ok(HttpClient {
            stream,
            buf: Vec::new(),
        })
    }

    /// Sends `GET path` (asking to close after it if `close`) and reads the
    /// whole response.
    pub fn get(&mut self, path: &str, close: bool) -> io::Result<HttpResponse> {
        let conn = if close { "Connection: close\r\n" } else { "" };
        write!(
            self.stream,
            "GET {path} HTTP/1.1\r\nHost: test\r\n{conn}\r\n"
        )?;
        let head_end = loop {
            if let Some(i) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            self.fill()?;
        };
        let head = String::from_utf8_lossy(&self.buf[..head_end]).into_owned();
        let status = head
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| io::Error::other(format!("bad status line: {head:?}")))?;
        let lower = head.to_ascii_lowercase();
        let len: usize = lower
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .ok_or_else(|| io::Error::other(format!("no Content-Length: {head:?}")))?;
        while self.buf.len() < head_end + len {
            self.fill()?;
        }
        let body = self.buf[head_end..head_end + len].to_vec();
        self.buf.drain(..head_end + len);
        Ok(HttpResponse {
            status,
            body,
            close: lower.contains("\r\nconnection: close\r\n"),
        })
    }

    fn fill(&mut self) -> io::Result<()> {
        let mut chunk = [0u8; 4096];
        match self.stream.read(&mut chunk)? {
            0 => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server closed the connection before a whole response",
            )),
            n => {
                self.buf.extend_from_slice(&chunk[..n]);
                Ok(())
            }
        }
    }
}
