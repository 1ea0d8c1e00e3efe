//! External anchors: the `http` and `kv` examples next to the servers
//! people run in production for the same job, driven by those servers' own
//! load tools: `wrk` against nginx ([`mod@http`]), `redis-benchmark` against
//! redis-server ([`mod@redis`]). Whatever is not installed is skipped with a
//! printed reason.
//!
//! The tool measures throughput and latency; we read the server's CPU time,
//! memory and (with perf) system calls and context switches over the tool's
//! whole run, which includes its connection set-up and tear-down.

mod http;
mod redis;

pub use http::run as http;
pub use redis::run as redis;

use std::env;
use std::fs;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::perf::Perf;
use super::stats::Metric;
use super::window::{self, Gauge, Measured};
use crate::process::children;
use crate::process::server::RunningServer;

/// What a load tool reported about one run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ToolRun {
    /// Requests completed.
    pub requests: u64,
    /// Requests per second.
    pub throughput: f64,
    /// Latency percentiles it printed, µs.
    pub latencies: Vec<(Metric, f64)>,
    /// Errors it reported.
    pub warnings: Vec<String>,
}

/// Runs a load tool against `server` and reads the server's resources
/// over the tool's run.
pub fn measure_tool(
    server: &mut RunningServer,
    perf: Option<&Perf>,
    cmd: &mut Command,
    timeout: Duration,
    parse: impl Fn(&str) -> Result<ToolRun, String>,
) -> Result<Measured, String> {
    let mut out = Measured::default();
    let mut gauge = Gauge::attach(perf, &server.pids());
    gauge.open();
    let output = children::run_bounded(cmd, timeout);
    let readings = gauge.close(|| ());
    let counts = gauge.finish(&mut out.warnings);
    let output = output.map_err(|e| format!("cannot run the load tool: {e}"))?;
    match output.status {
        None => return Err(format!("load tool still running after {timeout:?}; killed")),
        Some(s) if !s.success() => {
            let said = format!("{}{}", output.stderr.trim(), output.stdout.trim());
            return Err(format!("load tool failed ({s}): {}", first_lines(&said, 3)));
        }
        Some(_) => {}
    }
    if !server.is_running() {
        return Err("the server exited during the measurement".into());
    }
    let run = parse(&output.stdout)?;
    if run.requests == 0 {
        return Err("the load tool completed no request".into());
    }
    out.warnings.extend(run.warnings);
    window::file(
        &mut out.figures,
        run.requests,
        run.throughput,
        run.latencies,
        &readings,
        counts,
    );
    Ok(out)
}

/// The first `n` lines of `text`, joined with ` / `.
fn first_lines(text: &str, n: usize) -> String {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .take(n)
        .collect::<Vec<_>>()
        .join(" / ")
}

/// Finds an executable on `PATH` or in the sbin directories (nginx and
/// redis-server live there and non-root `PATH`s often lack them).
pub fn which(program: &str) -> Option<PathBuf> {
    let path = env::var_os("PATH").unwrap_or_default();
    env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| is_executable(candidate))
}

/// Whether `path` is a file with an execute bit.
fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// A loopback address with a port that was free a moment ago, for servers
/// that cannot be told to pick their own.
pub fn free_port() -> io::Result<SocketAddr> {
    TcpListener::bind("127.0.0.1:0")?.local_addr()
}

/// A temporary directory, removed when dropped.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `$TMPDIR/xtask-bench-<name>-<pid>`.
    pub fn new(name: &str) -> io::Result<TempDir> {
        let path = env::temp_dir().join(format!("xtask-bench-{name}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path)?;
        Ok(TempDir(path))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_finds_sh_and_not_nonsense() {
        assert!(which("sh").is_some());
        assert!(which("no-such-program-xtask").is_none());
    }

    #[test]
    fn temp_dir_is_removed() {
        let dir = TempDir::new("test").unwrap();
        let path = dir.path().to_path_buf();
        fs::write(path.join("f"), "x").unwrap();
        drop(dir);
        assert!(!path.exists());
    }
}
