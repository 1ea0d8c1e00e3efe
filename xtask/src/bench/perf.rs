//! System calls and context switches of a server, counted by `perf stat`.
//!
//! `perf stat -x, -e raw_syscalls:sys_enter,context-switches -p PIDS` is
//! attached before the load starts, with its events disabled (`-D -1`), and
//! switched on and off through its control FIFO (`--control fifo:CTL,ACK`)
//! exactly when the measurement window opens and closes; each switch waits
//! for perf's `ack`. So the counts cover the same window as the round trips
//! they are divided by. Software events work on virtual machines without
//! hardware counters.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use crate::process::children::{self, Supervised};

/// The events counted, in `perf stat -e` syntax.
const EVENTS: &str = "raw_syscalls:sys_enter,context-switches";

/// Counts over one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    /// System calls entered.
    pub syscalls: u64,
    /// Context switches.
    pub context_switches: u64,
}

/// Proof that `perf` works here, found by [`detect`].
#[derive(Debug, Clone)]
pub struct Perf {
    /// The perf executable.
    program: PathBuf,
}

/// Checks that `perf stat` can count our two events; the error says why not.
pub fn detect() -> Result<Perf, String> {
    let program = PathBuf::from("perf");
    let out = children::run_bounded(
        Command::new(&program).args(["stat", "-x,", "-e", EVENTS, "--", "true"]),
        Duration::from_secs(20),
    )
    .map_err(|e| format!("cannot run perf ({e}); install it with `apt-get install linux-perf`"))?;
    match out.status {
        Some(s) if s.success() => {}
        _ => {
            let first = out.stderr.lines().next().unwrap_or("").trim().to_owned();
            return Err(format!(
                "`perf stat` failed: {first} (check /proc/sys/kernel/perf_event_paranoid)"
            ));
        }
    }
    parse_counts(&out.stderr)?;
    Ok(Perf { program })
}

/// Parses `perf stat -x,` output (CSV lines: value, unit, event, ...).
/// `<not counted>` (nothing ran while enabled) counts as zero.
pub fn parse_counts(text: &str) -> Result<Counts, String> {
    let mut syscalls = None;
    let mut context_switches = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(',').collect();
        if fields.len() < 3 {
            continue;
        }
        let value = match fields[0].trim() {
            "<not counted>" => Some(0),
            "<not supported>" => return Err(format!("perf: {} is not supported here", fields[2])),
            v => v.parse::<u64>().ok(),
        };
        match fields[2].trim() {
            e if e.starts_with("raw_syscalls:sys_enter") => syscalls = value,
            "context-switches" | "cs" => context_switches = value,
            _ => {}
        }
    }
    match (syscalls, context_switches) {
        (Some(syscalls), Some(context_switches)) => Ok(Counts {
            syscalls,
            context_switches,
        }),
        _ => Err(format!("perf printed no counts: {}", text.trim())),
    }
}

/// A `perf stat` attached to a server, counting only between
/// [`enable`](Session::enable) and [`disable`](Session::disable).
#[derive(Debug)]
pub struct Session {
    /// The perf process.
    process: Supervised,
    /// Write end of perf's control FIFO.
    control: File,
    /// Read end of perf's acknowledgement FIFO.
    ack: File,
    /// Directory holding the two FIFOs, removed at the end.
    dir: PathBuf,
}

impl Session {
    /// Attaches to `pids` if `perf` is available; a failure to attach is
    /// pushed to `warnings` and the measurement goes on without counts.
    pub fn attach_or_warn(
        perf: Option<&Perf>,
        pids: &[u32],
        warnings: &mut Vec<String>,
    ) -> Option<Session> {
        match perf.map(|p| Session::attach(p, pids)).transpose() {
            Ok(s) => s,
            Err(e) => {
                warnings.push(format!("perf: {e}"));
                None
            }
        }
    }

    /// Attaches perf to `pids` with its events disabled.
    pub fn attach(perf: &Perf, pids: &[u32]) -> io::Result<Session> {
        let dir =
            std::env::temp_dir().join(format!("xtask-perf-{}-{}", std::process::id(), unique()));
        fs::create_dir_all(&dir)?;
        let ctl = dir.join("ctl");
        let ack = dir.join("ack");
        for fifo in [&ctl, &ack] {
            let path = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes())
                .expect("no NUL in temp path");
            // SAFETY: `path` is a valid NUL-terminated string.
            if unsafe { libc::mkfifo(path.as_ptr(), 0o600) } != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        // Opening a FIFO read-write never blocks on Linux, whether or not
        // perf has opened its end yet.
        let control = OpenOptions::new().read(true).write(true).open(&ctl)?;
        let ack_file = OpenOptions::new().read(true).write(true).open(&ack)?;
        let pid_list = pids
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",");
        let mut cmd = Command::new(&perf.program);
        cmd.args([
            "stat",
            "-x,",
            "-e",
            EVENTS,
            "-D",
            "-1",
            "-p",
            &pid_list,
            "--control",
        ])
        .arg(format!("fifo:{},{}", ctl.display(), ack.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
        let process = Supervised::spawn(&mut cmd)?;
        Ok(Session {
            process,
            control,
            ack: ack_file,
            dir,
        })
    }

    /// Starts counting; returns once perf has acknowledged.
    pub fn enable(&mut self) -> io::Result<()> {
        self.command("enable", Duration::from_secs(10))
    }

    /// Stops counting; returns once perf has acknowledged.
    pub fn disable(&mut self) -> io::Result<()> {
        self.command("disable", Duration::from_secs(5))
    }

    /// Sends one control command and waits for `ack`.
    fn command(&mut self, command: &str, timeout: Duration) -> io::Result<()> {
        writeln!(self.control, "{command}")?;
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("ack") {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || self.process.try_wait().is_some() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("perf did not acknowledge `{command}`"),
                ));
            }
            let mut pfd = libc::pollfd {
                fd: self.ack.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            let wait_ms = left.as_millis().min(100) as libc::c_int;
            // SAFETY: `pfd` is one valid pollfd for an open descriptor.
            let ready = unsafe { libc::poll(&mut pfd, 1, wait_ms) };
            if ready > 0 {
                let mut buf = [0u8; 64];
                let n = self.ack.read(&mut buf)?;
                seen.extend(buf[..n].iter().filter(|&&b| b != 0));
            }
        }
        Ok(())
    }

    /// Stops perf (SIGINT makes it print its counts) and parses them.
    pub fn finish(mut self) -> Result<Counts, String> {
        let stderr = self.process.take_stderr();
        let reader = thread::spawn(move || {
            let mut text = String::new();
            if let Some(mut pipe) = stderr {
                let _ = pipe.read_to_string(&mut text);
            }
            text
        });
        self.process.signal(libc::SIGINT);
        let exited = self.process.wait_timeout(Duration::from_secs(5)).is_some();
        if !exited {
            self.process.signal(libc::SIGKILL); // closes the pipe for the reader
            self.process.wait_timeout(Duration::from_secs(5));
        }
        let text = reader.join().unwrap_or_default();
        if !exited {
            return Err("perf did not exit on SIGINT".into());
        }
        parse_counts(&text)
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}

/// A number not used before in this process, for temp names.
fn unique() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_csv_counts() {
        let text = "Events disabled\nEvents enabled\n123456,,raw_syscalls:sys_enter,1006364153,100.00,,\n789,,context-switches,1006364153,100.00,,\n";
        assert_eq!(
            parse_counts(text),
            Ok(Counts {
                syscalls: 123456,
                context_switches: 789
            })
        );
    }

    #[test]
    fn not_counted_is_zero_and_missing_is_an_error() {
        let text = "<not counted>,,raw_syscalls:sys_enter,0,100.00,,\n<not counted>,,context-switches,0,100.00,,\n";
        assert_eq!(parse_counts(text), Ok(Counts::default()));
        assert!(parse_counts("<not supported>,,context-switches,0,100.00,,\n").is_err());
        assert!(parse_counts("Error: no permission\n").is_err());
    }
}
