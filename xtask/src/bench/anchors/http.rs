//! `wrk` against the `http` example and against nginx, configured here in a
//! temporary directory: same worker count, `return 200` of the same body,
//! keep-alive, loopback only.

use std::fmt::Write as _;
use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::{free_port, measure_tool, which, TempDir, ToolRun};
use crate::bench::run::Bench;
use crate::bench::tls::TestCert;
use crate::bench::stats::{Metric, Op};
use crate::process::children;
use crate::process::server::{Ready, RunningServer, ServerSpec};

/// Table id.
const ID: &str = "http-wrk";
/// Table id of the same over TLS.
const TLS_ID: &str = "https-wrk";
/// Name of our row.
const OURS: &str = "mio-pool http";
/// Connections wrk keeps open.
const CONNS: usize = 64;

/// Runs the HTTP anchor and its HTTPS twin, or records why not.
pub fn run(bench: &mut Bench) {
    if bench.wanted(ID) {
        run_one(bench, ID, None);
    }
    if bench.wanted(TLS_ID) {
        match TestCert::make("https") {
            Ok(cert) => run_one(bench, TLS_ID, Some(&cert)),
            Err(e) => {
                let t = bench.add_table(TLS_ID, TLS_ID, Op::REQUEST, OURS);
                bench.skip(t, format!("no TLS certificate: {e}"));
            }
        }
    }
}

/// Runs table `id`: wrk against the `http` example and nginx, in HTTPS
/// with `cert` (both servers load the same files; TLS 1.2 and 1.3, and
/// each follows the client's cipher order, so wrk's OpenSSL picks the same
/// suite from both).
fn run_one(bench: &mut Bench, id: &str, cert: Option<&TestCert>) {
    let scheme = if cert.is_some() { "https" } else { "http" };
    let title = format!(
        "HTTP/1.1 keep-alive{}, wrk, {CONNS} connections, GET /",
        if cert.is_some() { " over TLS" } else { "" }
    );
    let t = bench.add_table(id, &title, Op::REQUEST, OURS);
    let ours = bench.release_bin("http");
    let Some(wrk) = which("wrk") else {
        return bench.skip(t, "wrk is not installed (apt-get install wrk)".into());
    };
    if !ours.exists() {
        return bench.skip(
            t,
            format!("{} is not built (no `http` example yet?)", ours.display()),
        );
    }
    let workers = bench.args().workers;
    let mut spec = ServerSpec::announcing(OURS, ours, &[], workers);
    // nginx serves exactly what our server serves (asked in plain HTTP).
    let sample = RunningServer::start(&spec, &bench.log_path(id, "probe", 0)).and_then(|server| {
        let got = fetch(server.addr);
        server.stop();
        got
    });
    let (content_type, body) = match sample {
        Ok(s) => s,
        Err(e) => return bench.skip(t, format!("cannot GET / from the http example: {e}")),
    };
    if let Some(cert) = cert {
        spec.args.extend(cert.options());
    }
    let mut specs = vec![spec];
    let files = cert.map(|c| (c.cert_path(), c.key_path()));
    let temp = match which("nginx") {
        None => {
            bench.note(format!("{id}: nginx is not installed (apt-get install nginx-light); wrk runs against the http example only"));
            None
        }
        Some(nginx) => match nginx_spec(&nginx, workers, &content_type, &body, files.as_ref()) {
            Ok((spec, temp)) => {
                specs.push(spec);
                Some(temp)
            }
            Err(e) => {
                bench.note(format!("{id}: cannot configure nginx: {e}"));
                None
            }
        },
    };
    let timing = *bench.timing();
    let secs = timing.window.as_secs_f64().ceil().max(1.0) as u64;
    let warm = !bench.args().quick && !timing.warmup.is_zero();
    let threads = timing.client_threads.to_string();
    let wrk_cmd = |server: &RunningServer, secs: u64| {
        let mut cmd = Command::new(&wrk);
        cmd.args([
            "-t",
            &threads,
            "-c",
            &CONNS.to_string(),
            "-d",
            &format!("{secs}s"),
            "--latency",
        ])
        .arg(format!("{scheme}://{}/", server.addr));
        cmd
    };
    bench.in_rounds(id, &specs, &[t], |bench, _, server, _| {
        if warm {
            let _ = children::run_bounded(&mut wrk_cmd(server, 1), Duration::from_secs(30));
        }
        let timeout = Duration::from_secs(secs + 30);
        vec![measure_tool(
            server,
            bench.perf(),
            &mut wrk_cmd(server, secs),
            timeout,
            parse_wrk,
        )]
    });
    drop(temp);
}

/// GETs `/` once; returns the Content-Type and the body.
fn fetch(addr: SocketAddr) -> Result<(String, Vec<u8>), String> {
    let mut stream =
        TcpStream::connect_timeout(&addr, Duration::from_secs(2)).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(b"GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
            // Servers that ignore `Connection: close` are done once the body is in.
            Err(_) if parse_response(&response).is_ok() => break,
            Err(e) => return Err(e.to_string()),
        }
        if parse_response(&response).is_ok() {
            break;
        }
    }
    parse_response(&response)
}

/// Splits a complete HTTP/1.1 response with a Content-Length into its
/// Content-Type and body.
pub fn parse_response(response: &[u8]) -> Result<(String, Vec<u8>), String> {
    let end = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or("incomplete response head")?;
    let head = String::from_utf8_lossy(&response[..end]);
    let mut lines = head.lines();
    let status = lines.next().unwrap_or("");
    if status.split_whitespace().nth(1) != Some("200") {
        return Err(format!("status line `{status}`"));
    }
    let mut content_type = "text/plain".to_owned();
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        match name.trim().to_ascii_lowercase().as_str() {
            "content-type" => content_type = value.trim().to_owned(),
            "content-length" => length = value.trim().parse::<usize>().ok(),
            _ => {}
        }
    }
    let length = length.ok_or("no Content-Length")?;
    let body = &response[end + 4..];
    if body.len() < length {
        return Err("incomplete body".into());
    }
    Ok((content_type, body[..length].to_vec()))
}

/// Writes an nginx configuration serving `body` and returns how to run it.
fn nginx_spec(
    nginx: &std::path::Path,
    workers: usize,
    content_type: &str,
    body: &[u8],
    tls: Option<&(PathBuf, PathBuf)>,
) -> Result<(ServerSpec, TempDir), String> {
    let body = std::str::from_utf8(body)
        .map_err(|_| "the body is not UTF-8, which `return 200` cannot carry")?;
    let temp = TempDir::new("nginx").map_err(|e| e.to_string())?;
    let addr = free_port().map_err(|e| e.to_string())?;
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    let conf = nginx_config(temp.path(), addr, workers, content_type, body, root, tls);
    let conf_path = temp.path().join("nginx.conf");
    fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let spec = ServerSpec {
        name: "nginx".into(),
        program: nginx.to_path_buf(),
        args: vec![
            "-p".into(),
            format!("{}/", temp.path().display()),
            "-c".into(),
            conf_path.display().to_string(),
            "-e".into(),
            temp.path().join("error.log").display().to_string(),
        ],
        ready: Ready::Connect(addr),
        stop_signal: libc::SIGTERM,
                    cpu: None,
    };
    Ok((spec, temp))
}

/// The nginx configuration: `workers` processes, keep-alive, no logs, one
/// location returning `body`; in TLS 1.2 and 1.3 with `tls` (certificate
/// and key PEM files).
pub fn nginx_config(
    dir: &std::path::Path,
    addr: SocketAddr,
    workers: usize,
    content_type: &str,
    body: &str,
    root: bool,
    tls: Option<&(PathBuf, PathBuf)>,
) -> String {
    let d = dir.display();
    let mut c = String::new();
    if root {
        // Workers stay root so they can use the private temp directory.
        c.push_str("user root;\n");
    }
    let _ = writeln!(c, "worker_processes {workers};\ndaemon off;\nmaster_process on;\npid {d}/nginx.pid;\nerror_log {d}/error.log warn;");
    c.push_str("events { worker_connections 16384; }\nhttp {\n    access_log off;\n    keepalive_requests 100000000;\n");
    for t in ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"] {
        let _ = writeln!(c, "    {t}_temp_path {d}/{t};");
    }
    let escaped = escape_nginx(body);
    if escaped.contains("${dollar}") {
        c.push_str("    geo $dollar { default \"$\"; }\n");
    }
    let listen = match tls {
        None => format!("listen {addr};"),
        Some((cert, key)) => format!(
            "listen {addr} ssl;\n        ssl_certificate {};\n        ssl_certificate_key {};\n        ssl_protocols TLSv1.2 TLSv1.3;",
            cert.display(),
            key.display()
        ),
    };
    let _ = writeln!(
        c,
        "    server {{\n        {listen}\n        location / {{\n            default_type \"{}\";\n            return 200 \"{escaped}\";\n        }}\n    }}\n}}",
        escape_nginx(content_type)
    );
    c
}

/// Escapes text for a double-quoted nginx string; `$` becomes a variable
/// that holds a dollar sign, since nginx strings have no escape for it.
pub fn escape_nginx(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '$' => out.push_str("${dollar}"),
            c => out.push(c),
        }
    }
    out
}

/// Parses wrk's output (with `--latency`).
pub fn parse_wrk(text: &str) -> Result<ToolRun, String> {
    let mut run = ToolRun::default();
    let mut in_distribution = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with("Latency Distribution") {
            in_distribution = true;
            continue;
        }
        if in_distribution {
            let metric = match line.split_whitespace().next() {
                Some("50%") => Some(Metric::P50Us),
                Some("99%") => Some(Metric::P99Us),
                Some("75%" | "90%") => None,
                _ => {
                    in_distribution = false;
                    None
                }
            };
            if let (Some(m), Some(v)) = (
                metric,
                line.split_whitespace().nth(1).and_then(parse_duration_us),
            ) {
                run.latencies.push((m, v));
            }
        }
        if let Some(rest) = line.strip_prefix("Requests/sec:") {
            run.throughput = rest
                .trim()
                .parse()
                .map_err(|_| format!("wrk: bad `{line}`"))?;
        } else if line.contains(" requests in ") {
            run.requests = line
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or(0);
        } else if line.starts_with("Non-2xx") || line.starts_with("Socket errors") {
            run.warnings.push(format!("wrk: {line}"));
        }
    }
    if run.throughput == 0.0 {
        return Err(format!(
            "wrk printed no Requests/sec: {}",
            super::first_lines(text, 4)
        ));
    }
    Ok(run)
}

/// Parses a wrk duration such as `591.00us`, `1.31ms` or `2.00s` into µs.
pub fn parse_duration_us(text: &str) -> Option<f64> {
    let split = text.find(|c: char| c.is_ascii_alphabetic())?;
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let scale = match unit {
        "us" => 1.0,
        "ms" => 1e3,
        "s" => 1e6,
        "m" => 60e6,
        _ => return None,
    };
    Some(value * scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 2s test @ http://127.0.0.1:8080/
  2 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   634.18us  203.39us   5.84ms   89.01%
    Req/Sec    50.28k     3.04k   55.69k    70.00%
  Latency Distribution
     50%  591.00us
     75%  684.00us
     90%  799.00us
     99%    1.31ms
  200115 requests in 2.00s, 29.20MB read
Requests/sec: 100053.04
Transfer/sec:     14.60MB
";

    #[test]
    fn wrk_output() {
        let run = parse_wrk(WRK).unwrap();
        assert_eq!(run.requests, 200_115);
        assert_eq!(run.throughput, 100_053.04);
        assert_eq!(
            run.latencies,
            vec![(Metric::P50Us, 591.0), (Metric::P99Us, 1310.0)]
        );
        assert!(run.warnings.is_empty());
        let bad = WRK.replace(
            "Requests/sec: 100053.04\n",
            "  Non-2xx or 3xx responses: 5\n",
        );
        assert!(parse_wrk(&bad).is_err());
    }

    #[test]
    fn wrk_errors_become_warnings() {
        let text = format!("{WRK}  Socket errors: connect 0, read 3, write 0, timeout 0\n");
        assert_eq!(parse_wrk(&text).unwrap().warnings.len(), 1);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_us("591.00us"), Some(591.0));
        assert_eq!(parse_duration_us("2.00s"), Some(2e6));
        assert_eq!(parse_duration_us("12"), None);
    }

    #[test]
    fn response_parsing() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\ncontent-length: 5\r\n\r\nhello";
        assert_eq!(
            parse_response(r).unwrap(),
            ("text/plain".into(), b"hello".to_vec())
        );
        assert!(parse_response(b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nhello").is_err());
        assert!(parse_response(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").is_err());
    }

    #[test]
    fn nginx_config_escapes_the_body() {
        assert_eq!(escape_nginx(r#"a"b\c$d"#), r#"a\"b\\c${dollar}d"#);
        let addr: SocketAddr = "127.0.0.1:8080".parse().unwrap();
        let conf = nginx_config(
            std::path::Path::new("/tmp/x"),
            addr,
            2,
            "text/plain",
            "Hello $USER\n",
            false,
            None,
        );
        assert!(conf.contains("worker_processes 2;"));
        assert!(conf.contains("listen 127.0.0.1:8080;"));
        assert!(conf.contains("return 200 \"Hello ${dollar}USER\n\";"));
        assert!(conf.contains("geo $dollar"));
        assert!(!conf.contains("user root"));
        assert!(!conf.contains("ssl"));
        let files = (PathBuf::from("/tmp/x/c.pem"), PathBuf::from("/tmp/x/k.pem"));
        let conf = nginx_config(
            std::path::Path::new("/tmp/x"),
            addr,
            2,
            "text/plain",
            "hi",
            false,
            Some(&files),
        );
        assert!(conf.contains("listen 127.0.0.1:8080 ssl;"));
        assert!(conf.contains("ssl_certificate /tmp/x/c.pem;"));
        assert!(conf.contains("ssl_certificate_key /tmp/x/k.pem;"));
    }
}
