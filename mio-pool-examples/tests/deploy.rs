//! Running the examples for real: restarts on SIGHUP that refuse and drop
//! nothing, a failed restart, systemd socket activation (TCP and Unix, with
//! the shipped unit files' arguments), `--listen-fd`, `--reuse-port`, and
//! the first-minute basics (`--version`, a bind failure's message).

mod deploy_util;
mod util;

use std::fs;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use deploy_util::{
    become_subreaper, free_port, signal, wait_pid, HttpClient, Proc, TempDir, TIMEOUT,
};
use mio_pool_examples::http::HELLO;
use util::{run_with_timeout, stock_client};

const HTTP: &str = env!("CARGO_BIN_EXE_http");
const KV: &str = env!("CARGO_BIN_EXE_kv");

fn read_pid(path: &std::path::Path) -> u32 {
    let text = fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.trim()
        .parse()
        .unwrap_or_else(|e| panic!("pid file holds {text:?}: {e}"))
}

/// Kills whatever process the pid file names when dropped (the last
/// successor is no child of the test's `Proc`).
struct KillPidFile(std::path::PathBuf);

impl Drop for KillPidFile {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(&self.0) {
            if let Ok(pid) = pid.trim().parse::<libc::pid_t>() {
                // SAFETY: kill(2) takes plain integers only.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

/// What the client threads saw.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    failures: Mutex<Vec<String>>,
}

impl Tally {
    fn record(&self, what: &str, r: std::io::Result<deploy_util::HttpResponse>) -> bool {
        match r {
            Ok(resp) if resp.status == 200 && resp.body == HELLO.as_bytes() => {
                self.ok.fetch_add(1, Ordering::Relaxed);
                true
            }
            Ok(resp) => {
                self.fail(format!("{what}: {} {:?}", resp.status, resp.body));
                false
            }
            Err(e) => {
                self.fail(format!("{what}: {e}"));
                false
            }
        }
    }

    fn fail(&self, msg: String) {
        self.failures.lock().unwrap().push(msg);
    }
}

/// A client that opens a new connection for every request.
fn new_connections(addr: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    while !stop.load(Ordering::Relaxed) {
        match HttpClient::connect(addr) {
            Ok(mut c) => {
                tally.record("new connection", c.get("/", true));
            }
            Err(e) => tally.fail(format!("connect: {e}")),
        }
    }
}

/// A client that sends keep-alive requests on one connection for as long as
/// the server keeps it, reconnecting when the server says
/// `Connection: close` (as it does while draining).
fn keep_alive(addr: SocketAddr, stop: &AtomicBool, tally: &Tally) {
    while !stop.load(Ordering::Relaxed) {
        let mut c = match HttpClient::connect(addr) {
            Ok(c) => c,
            Err(e) => {
                tally.fail(format!("connect: {e}"));
                continue;
            }
        };
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let r = c.get("/", false);
            let close = r.as_ref().map(|r| r.close).unwrap_or(true);
            if !tally.record("keep-alive", r) || close {
                break;
            }
        }
    }
}

/// Waits until the clients have made `n` successful requests.
fn wait_for_requests(tally: &Tally, n: u64) {
    let deadline = Instant::now() + TIMEOUT;
    while tally.ok.load(Ordering::Relaxed) < n {
        assert!(
            tally.failures.lock().unwrap().len() < 100,
            "clients keep failing"
        );
        assert!(Instant::now() < deadline, "clients made no progress");
        thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn three_sighup_restarts_refuse_and_drop_nothing() {
    const REQUESTS: u64 = 20_000;
    become_subreaper();
    let dir = TempDir::new("restart");
    let pid_file = dir.path().join("http.pid");
    let _cleanup = KillPidFile(pid_file.clone());
    let mut first = Proc::spawn(
        Command::new(HTTP)
            .args([
                "--addr",
                "127.0.0.1:0",
                "--workers",
                "2",
                "--grace-secs",
                "20",
            ])
            .arg("--pid-file")
            .arg(&pid_file)
            .env("RUST_LOG", "warn"),
    );
    let addr = first.listening_tcp();
    let mut pids = vec![read_pid(&pid_file)];
    assert_eq!(pids[0], first.pid());

    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..4)
        .map(|i| {
            let (stop, tally) = (stop.clone(), tally.clone());
            thread::spawn(move || {
                if i % 2 == 0 {
                    new_connections(addr, &stop, &tally)
                } else {
                    keep_alive(addr, &stop, &tally)
                }
            })
        })
        .collect();

    for round in 1..=3u64 {
        wait_for_requests(&tally, round * REQUESTS / 4);
        let old = *pids.last().unwrap();
        signal(old, libc::SIGHUP);
        // The successor prints the line to the same stdout, after it has
        // rewritten the pid file.
        assert_eq!(
            first.listening_tcp(),
            addr,
            "the successor serves the same socket"
        );
        let new = read_pid(&pid_file);
        assert_ne!(new, old, "round {round}: the pid file names the successor");
        pids.push(new);
        // The old process finishes its connections and exits 0 (the first is
        // our child, the others were adopted by this subreaper).
        let status = if round == 1 {
            first.wait_exit()
        } else {
            wait_pid(old)
        };
        assert!(
            status.success(),
            "round {round}: old process {old}: {status}"
        );
    }
    wait_for_requests(&tally, REQUESTS);
    stop.store(true, Ordering::Relaxed);
    for c in clients {
        c.join().unwrap();
    }

    let failures = tally.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failed request(s) over three restarts, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(5)]
    );
    assert!(tally.ok.load(Ordering::Relaxed) >= REQUESTS);
    let mut distinct = pids.clone();
    distinct.dedup();
    assert_eq!(distinct.len(), 4, "the pid changed three times: {pids:?}");

    let last = *pids.last().unwrap();
    signal(last, libc::SIGTERM);
    assert!(wait_pid(last).success());
    assert!(!pid_file.exists(), "the last server removes its pid file");
}

#[test]
fn a_successor_that_fails_to_start_leaves_the_old_one_serving() {
    // A deploy put a broken program where the executable was: the restart
    // must fail, say why, and change nothing for clients.
    let dir = TempDir::new("broken-successor");
    let exe = dir.path().join("http");
    fs::hard_link(HTTP, &exe)
        .or_else(|_| fs::copy(HTTP, &exe).map(drop))
        .expect("copy the server");
    let pid_file = dir.path().join("http.pid");
    let mut server = Proc::spawn(
        Command::new(&exe)
            .args(["--addr", "127.0.0.1:0", "--workers", "1"])
            .arg("--pid-file")
            .arg(&pid_file)
            .env("RUST_LOG", "info"),
    );
    let addr = server.listening_tcp();
    let broken = dir.path().join("http.new");
    fs::write(&broken, "#!/bin/sh\necho 'broken build' >&2\nexit 3\n").unwrap();
    fs::set_permissions(&broken, fs::Permissions::from_mode(0o755)).unwrap();
    fs::rename(&broken, &exe).unwrap();

    let mut c = HttpClient::connect(addr).unwrap();
    assert_eq!(c.get("/", false).unwrap().status, 200);
    signal(server.pid(), libc::SIGHUP);
    let line = server.stderr_line("restart failed");
    assert!(line.contains("still serving"), "{line}");
    assert!(line.contains("exit status: 3"), "{line}");
    // The old process serves old and new connections as before.
    assert_eq!(c.get("/", false).unwrap().status, 200);
    let mut fresh = HttpClient::connect(addr).unwrap();
    assert_eq!(fresh.get("/", true).unwrap().status, 200);
    assert_eq!(read_pid(&pid_file), server.pid());
    drop(c);
    signal(server.pid(), libc::SIGTERM);
    assert!(server.wait_exit().success());
}

/// The arguments of a shipped unit file's `ExecStart=` (after the binary).
fn unit_args(unit: &str) -> Vec<String> {
    let path = format!("{}/deploy/systemd/{unit}", env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("ExecStart="))
        .unwrap_or_else(|| panic!("{path} has no ExecStart"));
    line.split_whitespace().skip(1).map(String::from).collect()
}

/// The `ListenStream=` of a shipped socket unit.
fn unit_listen(unit: &str) -> String {
    let path = format!("{}/deploy/systemd/{unit}", env!("CARGO_MANIFEST_DIR"));
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .find_map(|l| l.strip_prefix("ListenStream="))
        .unwrap_or_else(|| panic!("{path} has no ListenStream"))
        .to_string()
}

/// Starts `bin` under `systemd-socket-activate -l listen`, which binds the
/// socket and passes it as fd 3 (LISTEN_FDS=1) once a client connects.
fn socket_activated(activate: &std::path::Path, listen: &str, bin: &str, args: &[String]) -> Proc {
    let p = Proc::spawn(
        Command::new(activate)
            .args(["-l", listen, bin])
            .args(args)
            .env("RUST_LOG", "warn"),
    );
    p.stderr_line(&format!("Listening on {listen}"));
    p
}

#[test]
fn socket_activation_serves_curl_over_tcp_and_redis_cli_over_unix() {
    let (Some(activate), Some(curl), Some(redis_cli)) = (
        stock_client("systemd-socket-activate"),
        stock_client("curl"),
        stock_client("redis-cli"),
    ) else {
        return;
    };
    // The shipped units: http on TCP, kv on a Unix socket.
    assert!(unit_listen("mio-pool-http.socket").contains(':'));
    assert!(unit_listen("mio-pool-kv.socket").starts_with('/'));

    let listen = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let mut http = socket_activated(
        &activate,
        &listen,
        HTTP,
        &unit_args("mio-pool-http.service"),
    );
    let out = run_with_timeout(
        Command::new(&curl)
            .args(["-sS", "--max-time", "20"])
            .arg(format!("http://{listen}/")),
        TIMEOUT,
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout), HELLO);
    // The server announces the inherited socket's address, not --addr's
    // default.
    assert_eq!(http.listening(), listen);
    signal(http.pid(), libc::SIGTERM);
    assert!(http.wait_exit().success());

    let dir = TempDir::new("activate");
    let sock = dir.path().join("kv.sock");
    let sock = sock.to_str().unwrap();
    let mut kv = socket_activated(&activate, sock, KV, &unit_args("mio-pool-kv.service"));
    let cli = |args: &[&str]| {
        let out = run_with_timeout(
            Command::new(&redis_cli).args(["-s", sock]).args(args),
            TIMEOUT,
        );
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    assert_eq!(cli(&["SET", "greeting", "hello"]), "OK");
    assert_eq!(cli(&["GET", "greeting"]), "hello");
    assert_eq!(kv.listening(), format!("unix:{sock}"));
    signal(kv.pid(), libc::SIGTERM);
    assert!(kv.wait_exit().success());
}

#[test]
fn listen_fd_serves_the_socket_open_on_that_fd() {
    let Some(activate) = stock_client("systemd-socket-activate") else {
        return;
    };
    // systemd-socket-activate opens the socket on fd 3; `env -u` hides the
    // LISTEN_* variables, so only --listen-fd tells the server about it.
    let listen = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let mut p = Proc::spawn(
        Command::new(activate)
            .args([
                "-l",
                &listen,
                "env",
                "-u",
                "LISTEN_FDS",
                "-u",
                "LISTEN_PID",
                HTTP,
            ])
            .args(["--listen-fd", "3", "--workers", "1"])
            .env("RUST_LOG", "warn"),
    );
    p.stderr_line(&format!("Listening on {listen}"));
    let mut c = HttpClient::connect(listen.parse().unwrap()).unwrap();
    let r = c.get("/", true).unwrap();
    assert_eq!((r.status, &r.body[..]), (200, HELLO.as_bytes()));
    assert_eq!(p.listening(), listen);
    signal(p.pid(), libc::SIGTERM);
    assert!(p.wait_exit().success());

    // A wrong fd is refused with the reason, even with logging off.
    let out = run_with_timeout(
        Command::new(HTTP)
            .args(["--listen-fd", "9"])
            .env("RUST_LOG", "off"),
        TIMEOUT,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("inherited fd 9: not open"), "{err}");
}

#[test]
fn reuse_port_shares_a_port_and_without_it_the_bind_error_names_the_address() {
    let a = Proc::spawn(
        Command::new(HTTP)
            .args(["--addr", "127.0.0.1:0", "--workers", "1", "--reuse-port"])
            .env("RUST_LOG", "warn"),
    );
    let addr = a.listening_tcp();
    let b = Proc::spawn(
        Command::new(HTTP)
            .args([
                "--addr",
                &addr.to_string(),
                "--workers",
                "1",
                "--reuse-port",
            ])
            .env("RUST_LOG", "warn"),
    );
    assert_eq!(b.listening_tcp(), addr);
    // Both processes serve the port; connections are spread by the kernel,
    // so just check that requests keep working.
    for _ in 0..10 {
        let mut c = HttpClient::connect(addr).unwrap();
        assert_eq!(c.get("/", true).unwrap().status, 200);
    }

    // Without --reuse-port a third one cannot bind; it says where, on
    // stderr, although logging is off.
    let out = run_with_timeout(
        Command::new(HTTP)
            .args(["--addr", &addr.to_string()])
            .env("RUST_LOG", "off"),
        TIMEOUT,
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("cannot listen on {addr}: ")),
        "stderr: {err:?}"
    );
}

#[test]
fn version_and_help() {
    let out = run_with_timeout(Command::new(HTTP).arg("--version"), TIMEOUT);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("http {}", env!("CARGO_PKG_VERSION"))
    );
    let out = run_with_timeout(Command::new(KV).arg("--help"), TIMEOUT);
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("in memory only"), "{help}");
    assert!(help.contains("a restart"), "{help}");
    for flag in ["--listen-fd", "--pid-file", "--reuse-port", "SIGHUP"] {
        assert!(help.contains(flag), "{flag} missing from {help}");
    }
}
