//! Scaling out with existing engines, using the configurations shipped in
//! `deploy/` (addresses rewritten to free ports): HAProxy in front of three
//! `http` instances, twemproxy (nutcracker) in front of three `kv` shards.
//! The instances listen on 127.0.0.2, .3 and .4, standing for three
//! machines (on Linux the whole of 127/8 is loopback).

mod deploy_util;
mod util;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use deploy_util::{free_port, signal, HttpClient, Proc, TempDir, TIMEOUT};
use util::{run_with_timeout, stock_client};

const BACKENDS: [&str; 3] = ["127.0.0.2", "127.0.0.3", "127.0.0.4"];

/// Starts `bin` on `addr` (port 0: any) with one worker.
fn instance(bin: &str, addr: &str, extra: &[&str]) -> (Proc, SocketAddr) {
    let p = Proc::spawn(
        Command::new(bin)
            .args(["--addr", addr, "--workers", "1"])
            .args(extra)
            .env("RUST_LOG", "warn"),
    );
    let a = p.listening_tcp();
    (p, a)
}

/// A shipped config with each `(from, to)` replaced; every `from` must
/// occur, so a config edit cannot silently detach the test from it.
fn config(name: &str, replace: &[(String, String)], dir: &Path) -> std::path::PathBuf {
    let src = format!("{}/deploy/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = std::fs::read_to_string(&src).unwrap_or_else(|e| panic!("{src}: {e}"));
    for (from, to) in replace {
        assert!(text.contains(from.as_str()), "{src} has no {from:?}");
        text = text.replace(from.as_str(), to);
    }
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// Retries `f` until it succeeds (an engine that is starting up refuses
/// connections for a moment); fails after [`TIMEOUT`].
fn until_ok<T, E: std::fmt::Debug>(what: &str, mut f: impl FnMut() -> Result<T, E>) -> T {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        match f() {
            Ok(v) => return v,
            Err(e) if Instant::now() > deadline => panic!("{what}: {e:?}"),
            Err(_) => thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[test]
fn wrk_through_haproxy_sees_no_error_while_a_backend_restarts() {
    let (Some(haproxy), Some(wrk)) = (stock_client("haproxy"), stock_client("wrk")) else {
        return;
    };
    let http = env!("CARGO_BIN_EXE_http");
    let mut backends: Vec<_> = BACKENDS
        .iter()
        .map(|ip| instance(http, &format!("{ip}:0"), &[]))
        .collect();
    let front = format!("127.0.0.1:{}", free_port("127.0.0.1"));
    let mut replace = vec![("bind 127.0.0.1:8000".to_string(), format!("bind {front}"))];
    for (ip, (_, addr)) in BACKENDS.iter().zip(&backends) {
        replace.push((format!("{ip}:8080"), addr.to_string()));
    }
    let dir = TempDir::new("haproxy");
    let cfg = config("haproxy.cfg", &replace, dir.path());
    let _haproxy = Proc::spawn(Command::new(haproxy).arg("-f").arg(&cfg).arg("-db"));
    let front: SocketAddr = front.parse().unwrap();
    until_ok("HAProxy serves", || {
        HttpClient::connect(front)?
            .get("/", true)
            .and_then(|r| match r.status {
                200 => Ok(()),
                s => Err(std::io::Error::other(format!("status {s}"))),
            })
    });

    let load = thread::spawn(move || {
        run_with_timeout(
            Command::new(wrk)
                .args(["-t2", "-c32", "-d10s", "--latency"])
                .arg(format!("http://{front}/")),
            TIMEOUT,
        )
    });
    // Somewhere inside wrk's 10 s: stop the middle backend and start it
    // again on the same address. When exactly does not matter.
    thread::sleep(Duration::from_secs(2));
    let (mut victim, addr) = backends.remove(1);
    signal(victim.pid(), libc::SIGTERM);
    assert!(victim.wait_exit().success());
    let restarted = instance(http, &addr.to_string(), &[]);
    assert_eq!(restarted.1, addr);

    let out = load.join().unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "wrk failed: {out:?}");
    assert!(report.contains("requests in"), "{report}");
    assert!(!report.contains("Non-2xx"), "non-2xx responses:\n{report}");
    assert!(
        !report.contains("Socket errors"),
        "socket errors:\n{report}"
    );
}

/// A minimal Redis-protocol client: sends one command, returns the reply
/// as `+OK`, `-ERR ...`, `:1`, `(nil)` or the bulk string itself.
fn redis(addr: SocketAddr, args: &[&str]) -> std::io::Result<String> {
    let mut s = TcpStream::connect_timeout(&addr, TIMEOUT)?;
    s.set_read_timeout(Some(TIMEOUT))?;
    let mut cmd = format!("*{}\r\n", args.len());
    for a in args {
        cmd.push_str(&format!("${}\r\n{a}\r\n", a.len()));
    }
    s.write_all(cmd.as_bytes())?;
    let mut r = BufReader::new(s);
    let mut line = String::new();
    r.read_line(&mut line)?;
    let line = line.trim_end().to_string();
    match line.strip_prefix('$') {
        Some("-1") => Ok("(nil)".to_string()),
        Some(_) => {
            let mut value = String::new();
            r.read_line(&mut value)?;
            Ok(value.trim_end().to_string())
        }
        None if line.is_empty() => Err(std::io::Error::other("connection closed")),
        None => Ok(line),
    }
}

#[test]
fn redis_benchmark_through_twemproxy_shards_over_three_kv_instances() {
    let (Some(nutcracker), Some(bench)) =
        (stock_client("nutcracker"), stock_client("redis-benchmark"))
    else {
        return;
    };
    let kv = env!("CARGO_BIN_EXE_kv");
    // A short grace: a stopped shard closes the proxy's connections soon.
    let mut shards: Vec<_> = BACKENDS
        .iter()
        .map(|ip| instance(kv, &format!("{ip}:0"), &["--grace-secs", "1"]))
        .collect();
    let proxy: SocketAddr = format!("127.0.0.1:{}", free_port("127.0.0.1"))
        .parse()
        .unwrap();
    let mut replace = vec![(
        "listen: 127.0.0.1:22121".to_string(),
        format!("listen: {proxy}"),
    )];
    for (ip, (_, addr)) in BACKENDS.iter().zip(&shards) {
        replace.push((format!("{ip}:6380:"), format!("{addr}:")));
    }
    // The shipped 1 s reply timeout is for a real deployment; on a starved
    // test machine a shard (or the proxy) can wait longer than that for a
    // CPU, and redis-benchmark then stops at "ERR Connection timed out".
    // Stopped shards close their connections, so nothing here waits on it.
    replace.push(("timeout: 1000".into(), "timeout: 10000".into()));
    let dir = TempDir::new("twemproxy");
    let cfg = config("nutcracker.yml", &replace, dir.path());
    let stats_port = free_port("127.0.0.1").to_string();
    let _proxy = Proc::spawn(
        Command::new(nutcracker)
            .arg("-c")
            .arg(&cfg)
            .args(["-a", "127.0.0.1", "-s", &stats_port, "-o"])
            .arg(dir.path().join("nutcracker.log")),
    );
    until_ok("twemproxy serves", || {
        match redis(proxy, &["SET", "greeting", "hello"]) {
            Ok(r) if r == "+OK" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(redis(proxy, &["GET", "greeting"]).unwrap(), "hello");

    // -r spreads the keys over 100,000 names, so over the shards; -e shows
    // error replies instead of hiding them.
    let out = run_with_timeout(
        Command::new(bench)
            .args(["-h", "127.0.0.1", "-p", &proxy.port().to_string()])
            .args([
                "-t", "set,get", "-n", "20000", "-r", "100000", "-c", "16", "-q", "-e",
            ]),
        TIMEOUT,
    );
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "redis-benchmark failed: {out:?}");
    assert!(
        report.contains("SET:") && report.contains("GET:"),
        "{report}"
    );
    assert!(!report.contains("rror"), "errors:\n{report}");
    for (_, addr) in &shards {
        let n = redis(*addr, &["DBSIZE"]).unwrap();
        let n: u64 = n.trim_start_matches(':').parse().unwrap();
        assert!(n > 0, "shard {addr} holds no key");
    }

    // Which shard holds which key, asked of the shards themselves.
    // Keys that differ at the front: FNV-1a, the usual twemproxy hash, puts
    // keys that differ only in their last characters close together.
    let keys: Vec<String> = (0..60).map(|i| format!("{i}:user")).collect();
    for k in &keys {
        assert_eq!(redis(proxy, &["SET", k, k]).unwrap(), "+OK");
    }
    let owner = |k: &str| {
        shards
            .iter()
            .position(|(_, a)| redis(*a, &["EXISTS", k]).unwrap() == ":1")
            .unwrap_or_else(|| panic!("no shard holds {k}"))
    };
    let victim_key = keys
        .iter()
        .find(|k| owner(k) == 1)
        .expect("a key on shard 2");
    let other_key = keys
        .iter()
        .find(|k| owner(k) != 1)
        .expect("a key elsewhere");

    let (mut victim, _) = shards.remove(1);
    signal(victim.pid(), libc::SIGTERM);
    assert!(victim.wait_exit().success());
    let reply = redis(proxy, &["GET", victim_key]).unwrap();
    assert!(
        reply.starts_with("-ERR"),
        "a stopped shard's key: {reply:?}"
    );
    assert_eq!(redis(proxy, &["GET", other_key]).unwrap(), *other_key);
    assert_eq!(
        redis(proxy, &["SET", other_key, "again"]).unwrap(),
        "+OK",
        "the other shards keep working"
    );
    // After `server_failure_limit` failures twemproxy ejects the shard and
    // its keys go to the others (empty there: kv keeps data in memory).
    until_ok("the stopped shard is ejected", || {
        match redis(proxy, &["SET", victim_key, "moved"]) {
            Ok(r) if r == "+OK" => Ok(()),
            other => Err(format!("{other:?}")),
        }
    });
    assert_eq!(redis(proxy, &["GET", victim_key]).unwrap(), "moved");
}
