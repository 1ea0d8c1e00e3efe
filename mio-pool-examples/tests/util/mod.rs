//! Shared by the integration tests: start a server binary on a free port,
//! learn its address from its `listening on` line, kill it on drop; find
//! stock clients on `PATH`.

// Each test file uses a different part of this module.
#![allow(dead_code)]

pub mod redis_server;
pub mod resp;

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mio_pool_examples::listening::parse_listening_line;

/// How long any single wait in these tests may take before it fails.
/// Generous: CI machines are slow and shared.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// A running server binary, killed when dropped.
pub struct Server {
    child: Child,
    /// The address it listens on, as printed.
    pub addr: SocketAddr,
}

impl Server {
    /// Starts `bin` (a path from `env!("CARGO_BIN_EXE_...")`) on
    /// `127.0.0.1:0` with two workers.
    pub fn start(bin: &str) -> Server {
        Server::start_with(bin, &["--workers", "2"])
    }

    /// Starts `bin` on `127.0.0.1:0` with extra arguments.
    pub fn start_with(bin: &str, args: &[&str]) -> Server {
        let mut child = Command::new(bin)
            .args(["--addr", "127.0.0.1:0"])
            .args(args)
            .env(
                "RUST_LOG",
                std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {bin}: {e}"));
        let stdout = child.stdout.take().expect("stdout is piped");
        // From here on, a panic must still kill the child.
        let mut server = Server {
            child,
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        };
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            // Keep draining stdout so the server never blocks on it.
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(TIMEOUT)
            .unwrap_or_else(|e| panic!("{bin} printed no `listening on` line: {e}"));
        let addr = parse_listening_line(&line)
            .unwrap_or_else(|| panic!("unexpected first line from {bin}: {line:?}"));
        server.addr = addr
            .parse()
            .unwrap_or_else(|e| panic!("bad address {addr:?}: {e}"));
        server
    }

    /// A blocking client connection with read and write timeouts.
    pub fn connect(&self) -> TcpStream {
        let s = TcpStream::connect_timeout(&self.addr, TIMEOUT).expect("connect");
        s.set_read_timeout(Some(TIMEOUT)).unwrap();
        s.set_write_timeout(Some(TIMEOUT)).unwrap();
        s.set_nodelay(true).unwrap();
        s
    }

    /// A field of the server's `/proc/PID/status`, in KiB (`"VmRSS:"`,
    /// `"VmHWM:"`).
    pub fn status_kib(&self, field: &str) -> usize {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read the server's /proc status");
        let line = status
            .lines()
            .find(|l| l.starts_with(field))
            .unwrap_or_else(|| panic!("no {field} in the server's status"));
        line[field.len()..]
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .expect("a number of kB")
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the server.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.child.id()).expect("pid fits");
        // SAFETY: kill(2) takes plain integers and touches no memory of ours.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill failed: {}", std::io::Error::last_os_error());
    }

    /// Waits for the server to exit, failing after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "server did not exit within {timeout:?}"
            );
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Starts `bin` (a path from `env!("CARGO_BIN_EXE_...")`) with two workers,
/// has `one_request` make one request on a connection of its own and close
/// it, then sends SIGTERM: the server must exit by itself, with success.
pub fn sigterm_exits_cleanly(bin: &str, one_request: impl FnOnce(&Server)) {
    let mut s = Server::start(bin);
    one_request(&s);
    s.signal(libc::SIGTERM);
    let status = s.wait_exit(TIMEOUT);
    assert!(status.success(), "{bin} exited with {status} after SIGTERM");
}

/// The path of `program` if it is on `PATH`; otherwise prints why the
/// calling test is skipped and returns `None`.
///
/// # Panics
///
/// Under `CI=true` a missing program fails the test instead: CI installs
/// every one (`.ci/run`), so a skip there would hide a broken install.
pub fn stock_client(program: &str) -> Option<PathBuf> {
    // Daemons (haproxy, nutcracker) live in /usr/sbin, which a non-root
    // PATH may lack.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let found = std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/sbin".into()])
        .map(|dir| dir.join(program))
        .find(|p| p.is_file());
    if found.is_none() {
        missing(&format!(
            "`{program}` is not installed \
             (apt-get install curl redis-tools wrk haproxy nutcracker systemd python3)"
        ));
    }
    found
}

/// Says why the calling test is skipped: something it needs (`why`) is
/// missing. The caller then returns.
///
/// # Panics
///
/// Under `CI=true`, instead: CI installs everything the tests need
/// (`.ci/run`), so a skip there would hide a broken install.
pub fn missing(why: &str) {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{why}, and CI=true: .ci/run must install it"
    );
    println!("skipped: {why}");
}

/// A test CA and a server certificate it signed for `localhost` and
/// `127.0.0.1`, written as PEM files into a fresh directory that is removed
/// on drop.
pub struct TestCerts {
    dir: PathBuf,
    /// The CA's certificate: what clients trust (`--cacert`).
    pub ca: PathBuf,
    /// The server's certificate (`--tls-cert`).
    pub cert: PathBuf,
    /// The server's private key, PKCS#8 (`--tls-key`).
    pub key: PathBuf,
    /// The CA's certificate, DER, for rustls clients.
    pub ca_der: Vec<u8>,
}

impl TestCerts {
    pub fn new() -> TestCerts {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static SEQ: AtomicUsize = AtomicUsize::new(0);
        let dir = std::env::temp_dir().join(format!(
            "mio-pool-certs-{}-{}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mio-pool test CA");
        let ca =
            rcgen::CertifiedIssuer::self_signed(ca_params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec!["localhost".into(), "127.0.0.1".into()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let certs = TestCerts {
            ca: dir.join("ca.pem"),
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
            ca_der: ca.der().to_vec(),
            dir,
        };
        std::fs::write(&certs.ca, ca.pem()).unwrap();
        std::fs::write(&certs.cert, cert.pem()).unwrap();
        std::fs::write(&certs.key, key.serialize_pem()).unwrap();
        certs
    }

    /// The server arguments that turn TLS on with these files.
    pub fn server_args(&self) -> Vec<String> {
        vec![
            "--tls-cert".into(),
            self.cert.display().to_string(),
            "--tls-key".into(),
            self.key.display().to_string(),
        ]
    }
}

impl Drop for TestCerts {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Runs `cmd` to completion, failing if it takes longer than `timeout`;
/// returns its status and output.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> std::process::Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait for client"),
        Err(_) => {
            // SAFETY: kill(2) takes plain integers and touches no memory of ours.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("{cmd:?} did not finish within {timeout:?}");
        }
    }
}
