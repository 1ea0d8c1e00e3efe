//! A soaked server across restarts. On SIGHUP the examples start a
//! successor that takes over the listening socket and rewrites the pid
//! file, and the old process drains and exits; so the server is whichever
//! process the pid file names. xtask makes itself a child subreaper, so
//! the successors (orphaned when the process that started them exits)
//! become its children and their exit statuses can be read.
//!
//! Every process that served is sampled every tick while it lives: its CPU
//! time (last sample kept) and its peak resident memory.

use std::fs;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::time::{Duration, Instant};

use super::good::Proto;
use crate::process::procfs::{self, CpuTime};
use crate::process::server::{RunningServer, ServerSpec};

/// One process that has served.
#[derive(Debug)]
struct Proc {
    /// Its id.
    pid: u32,
    /// CPU time when first seen (the original's at the start; a
    /// successor's is counted from zero).
    first: CpuTime,
    /// CPU time at the last sample.
    last: CpuTime,
    /// Whether it has exited, and whether cleanly (status 0).
    exited: Option<bool>,
}

/// A server under soak, across restarts.
#[derive(Debug)]
pub struct Tracked {
    /// `http` or `kv`.
    pub name: &'static str,
    /// Its protocol.
    pub proto: Proto,
    /// Where it listens (the same across restarts).
    pub addr: std::net::SocketAddr,
    /// The process xtask started.
    original: RunningServer,
    /// Its pid file.
    pid_file: PathBuf,
    /// Open descriptors of the original before any client connected.
    baseline_fds: usize,
    /// Every process that has served, the original first.
    procs: Vec<Proc>,
    /// Largest peak resident memory seen in any of them.
    peak_rss: u64,
    /// SIGHUPs sent.
    pub restarts: usize,
}

/// What [`Tracked::finish`] found.
#[derive(Debug)]
pub struct Summary {
    /// Open descriptors before the first client.
    pub baseline_fds: usize,
    /// Open descriptors of the last process at the end, after a wait.
    pub end_fds: usize,
    /// Whether they came back to the baseline.
    pub settled: bool,
    /// Largest peak resident memory of any of its processes, bytes.
    pub peak_rss: u64,
    /// CPU time of all its processes.
    pub cpu: CpuTime,
    /// Restarts done: processes that took over.
    pub successors: usize,
    /// Old processes that exited with status 0 after handing over.
    pub clean_handovers: usize,
    /// How the last process ended on SIGTERM.
    pub exit: Result<(), String>,
}

/// Makes this process a child subreaper (see the module docs).
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with PR_SET_CHILD_SUBREAPER takes an integer flag.
    if unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

impl Tracked {
    /// Starts `spec` with `--pid-file` in `dir`, logging to `dir/NAME.log`.
    pub fn start(
        name: &'static str,
        proto: Proto,
        mut spec: ServerSpec,
        dir: &std::path::Path,
    ) -> Result<Tracked, String> {
        let pid_file = dir.join(format!("{name}.pid"));
        let _ = fs::remove_file(&pid_file);
        spec.args
            .extend(["--pid-file".into(), pid_file.display().to_string()]);
        let original = RunningServer::start(&spec, &dir.join(format!("{name}.log")))?;
        let pid = original.pid();
        let baseline_fds = open_fds(pid).map_err(|e| format!("{name}: {e}"))?;
        Ok(Tracked {
            name,
            proto,
            addr: original.addr,
            procs: vec![Proc {
                pid,
                first: procfs::cpu_time(&[pid]),
                last: procfs::cpu_time(&[pid]),
                exited: None,
            }],
            original,
            pid_file,
            baseline_fds,
            peak_rss: 0,
            restarts: 0,
        })
    }

    /// The process serving now: the pid file's, or the original's.
    pub fn current(&self) -> u32 {
        fs::read_to_string(&self.pid_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or_else(|| self.original.pid())
    }

    /// Whether the process serving now is alive.
    pub fn alive(&self) -> bool {
        alive(self.current())
    }

    /// Samples every live process; notes new ones and reaps exited ones.
    pub fn sample(&mut self) {
        let current = self.current();
        if !self.procs.iter().any(|p| p.pid == current) {
            self.procs.push(Proc {
                pid: current,
                first: CpuTime::default(),
                last: CpuTime::default(),
                exited: None,
            });
        }
        let original = self.original.pid();
        for p in self.procs.iter_mut().filter(|p| p.exited.is_none()) {
            if alive(p.pid) {
                p.last = procfs::cpu_time(&[p.pid]);
                self.peak_rss = self.peak_rss.max(peak_rss(p.pid).unwrap_or(0));
            } else if p.pid != original {
                p.exited = reap(p.pid);
            }
        }
    }

    /// Asks the serving process to restart (SIGHUP).
    pub fn restart(&mut self) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.current() as i32, libc::SIGHUP) };
        self.restarts += 1;
    }

    /// Waits for the descriptors to settle, stops the serving process
    /// with SIGTERM, and sums up.
    pub fn finish(mut self) -> Summary {
        self.sample();
        let current = self.current();
        // Old processes still draining (a restart just before the end)
        // get their grace period (3 s by default) and a margin to exit.
        let until = Instant::now() + Duration::from_secs(10);
        while Instant::now() < until
            && self
                .procs
                .iter()
                .any(|p| p.pid != current && p.exited.is_none() && alive(p.pid))
        {
            std::thread::sleep(Duration::from_millis(100));
            self.sample();
        }
        let (end_fds, settled) = settle_fds(current, self.baseline_fds);
        let peak_rss = self.peak_rss;
        let original = self.original.pid();
        let exit = if current == original {
            match self.original.stop() {
                Some(s) if s.success() => Ok(()),
                Some(s) => Err(format!("{s}")),
                None => Err("did not exit within 2 s".into()),
            }
        } else {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(current as i32, libc::SIGTERM) };
            let until = Instant::now() + Duration::from_secs(5);
            let clean = loop {
                if let Some(clean) = reap(current) {
                    break Some(clean);
                }
                if Instant::now() >= until {
                    break None;
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            let first = self.original.stop().map(|s: ExitStatus| s.success());
            if let Some(p) = self.procs.iter_mut().find(|p| p.pid == original) {
                p.exited = first;
            }
            if let Some(p) = self.procs.iter_mut().find(|p| p.pid == current) {
                p.exited = clean;
            }
            match clean {
                Some(true) => Ok(()),
                Some(false) => Err("exited with an error".into()),
                None => Err("did not exit within 5 s".into()),
            }
        };
        let cpu = self
            .procs
            .iter()
            .fold(CpuTime::default(), |sum, p| sum + (p.last - p.first));
        let handed_over = self.procs.iter().filter(|p| p.pid != current);
        Summary {
            baseline_fds: self.baseline_fds,
            end_fds,
            settled,
            peak_rss,
            cpu,
            successors: self.procs.len() - 1,
            clean_handovers: handed_over.filter(|p| p.exited == Some(true)).count(),
            exit,
        }
    }
}

/// Whether `pid` runs (exists and is not a zombie).
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        let state = s
            .rfind(')')
            .and_then(|i| s[i + 1..].split_whitespace().next());
        !matches!(state, Some("Z" | "X") | None)
    })
}

/// Reaps `pid` if it is an exited child of ours: whether it exited with
/// status 0, or `None` if it has not exited (or is not ours to reap).
fn reap(pid: u32) -> Option<bool> {
    let mut status = 0;
    // SAFETY: `status` is a valid int to write the status into.
    let rc = unsafe { libc::waitpid(pid as i32, &mut status, libc::WNOHANG) };
    (rc == pid as i32).then(|| libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0)
}

/// Number of open descriptors of a process.
pub fn open_fds(pid: u32) -> std::io::Result<usize> {
    Ok(fs::read_dir(format!("/proc/{pid}/fd"))?.count())
}

/// Waits up to 15 s for a server's descriptors to come back to
/// `baseline` (closing lingers a little); returns the last count and
/// whether it did.
fn settle_fds(pid: u32, baseline: usize) -> (usize, bool) {
    let until = Instant::now() + Duration::from_secs(15);
    loop {
        let now = open_fds(pid).unwrap_or(usize::MAX);
        if now <= baseline {
            return (now, true);
        }
        if Instant::now() >= until {
            return (now, false);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Peak resident memory (`VmHWM`) of a process, bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line["VmHWM:".len()..]
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kb * 1024)
}
