//! Child processes that cannot outlive the benchmark.
//!
//! Every server, `perf` and load tool runs in its own process group, recorded
//! in a fixed table of atomics. On SIGINT/SIGTERM/SIGHUP, and when the
//! watchdog fires, every recorded group is killed with SIGKILL before xtask
//! exits (the signal handler only touches atomics and calls `kill`, which is
//! async-signal-safe). Each child also gets `PR_SET_PDEATHSIG`, so it dies
//! with xtask even if xtask itself is killed with SIGKILL.
//!
//! Spawn from the main thread only: the parent-death signal fires when the
//! *thread* that forked the child exits.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicI32, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// Process groups alive right now; 0 marks a free slot.
static GROUPS: [AtomicI32; 64] = [const { AtomicI32::new(0) }; 64];

/// Kills every recorded process group. Async-signal-safe.
fn kill_all() {
    for slot in &GROUPS {
        let pgid = slot.swap(0, Ordering::SeqCst);
        if pgid > 0 {
            // SAFETY: kill has no memory-safety preconditions.
            unsafe { libc::kill(-pgid, libc::SIGKILL) };
        }
    }
}

/// Handler for fatal signals: kill the children, then exit like the shell would.
extern "C" fn on_signal(signal: libc::c_int) {
    kill_all();
    // SAFETY: _exit is async-signal-safe and ends the process at once.
    unsafe { libc::_exit(128 + signal) };
}

/// Installs the signal handlers that take the children down with xtask.
pub fn install_signal_handlers() {
    for signal in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
        // SAFETY: `on_signal` only performs async-signal-safe operations
        // (atomics, kill, _exit).
        unsafe { libc::signal(signal, on_signal as *const () as libc::sighandler_t) };
    }
}

/// Ends the whole benchmark, children included, if it is still running
/// after `limit`: the run must stop by itself whatever a server does.
pub fn start_watchdog(limit: Duration) {
    thread::spawn(move || {
        thread::sleep(limit);
        eprintln!(
            "xtask bench: watchdog: still running after {limit:?}; killing servers and giving up"
        );
        kill_all();
        std::process::exit(3);
    });
}

/// Binds the calling thread (and the threads and processes it creates
/// from now on) to CPU `cpu`. Async-signal-safe: one system call on a
/// set built on the stack.
pub fn pin_to(cpu: usize) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain data for which all zeroes is the empty set.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    if cpu >= 8 * std::mem::size_of::<libc::cpu_set_t>() {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, "no such CPU"));
    }
    // SAFETY: `cpu` is inside the set (checked above).
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: `set` is a valid cpu_set_t and its size is passed with it.
    let rc = unsafe { libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A child process in its own process group, killed (group and all) when dropped.
#[derive(Debug)]
pub struct Supervised {
    /// The process itself.
    child: Child,
    /// Its slot in [`GROUPS`], if one was free.
    slot: Option<usize>,
}

impl Supervised {
    /// Spawns `cmd` in a new process group with a parent-death signal.
    pub fn spawn(cmd: &mut Command) -> io::Result<Supervised> {
        Supervised::spawn_on(cmd, None)
    }

    /// Spawns `cmd` like [`Supervised::spawn`], on CPU `cpu` only if one
    /// is given (its threads inherit the affinity).
    pub fn spawn_on(cmd: &mut Command, cpu: Option<usize>) -> io::Result<Supervised> {
        cmd.process_group(0);
        // SAFETY: the closure runs between fork and exec and only makes
        // system calls (prctl, sched_setaffinity), which are
        // async-signal-safe; it touches no allocator or lock.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                match cpu {
                    Some(cpu) => pin_to(cpu),
                    None => Ok(()),
                }
            });
        }
        let child = cmd.spawn()?;
        let pgid = child.id() as i32;
        let slot = GROUPS.iter().position(|s| {
            s.compare_exchange(0, pgid, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
        });
        Ok(Supervised { child, slot })
    }

    /// The child's process id (also its process group id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The child's standard output, if it was piped and not taken yet.
    pub fn take_stdout(&mut self) -> Option<std::process::ChildStdout> {
        self.child.stdout.take()
    }

    /// The child's standard error, if it was piped and not taken yet.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// Sends `signal` to the child process only (not its group).
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill has no memory-safety preconditions.
        unsafe { libc::kill(self.pid() as i32, signal) };
    }

    /// Whether the child has exited (and its status if so).
    pub fn try_wait(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits up to `timeout` for the child to exit.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Asks the child to stop with `signal`, waits up to `grace`, then kills
    /// its whole group; returns the exit status if the child exited in time.
    pub fn stop(mut self, signal: libc::c_int, grace: Duration) -> Option<ExitStatus> {
        self.signal(signal);
        self.wait_timeout(grace)
        // Drop kills the group (workers of nginx included) and reaps.
    }
}

impl Drop for Supervised {
    fn drop(&mut self) {
        let pgid = self.pid() as i32;
        // SAFETY: kill has no memory-safety preconditions. The group id is
        // our child's; it could only name someone else's group after every
        // member had exited and the pid space wrapped around since.
        unsafe { libc::kill(-pgid, libc::SIGKILL) };
        let _ = self.child.wait();
        if let Some(slot) = self.slot {
            GROUPS[slot].store(0, Ordering::SeqCst);
        }
    }
}

/// What a bounded run of a tool printed.
#[derive(Debug)]
pub struct Output {
    /// Exit status, or `None` if the tool was killed at its deadline.
    pub status: Option<ExitStatus>,
    /// Everything it wrote to stdout.
    pub stdout: String,
    /// Everything it wrote to stderr.
    pub stderr: String,
}

/// Runs `cmd` to completion, killing it if it is still running after `timeout`.
pub fn run_bounded(cmd: &mut Command, timeout: Duration) -> io::Result<Output> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = Supervised::spawn(cmd)?;
    let stdout = drain(child.take_stdout());
    let stderr = drain(child.take_stderr());
    let status = child.wait_timeout(timeout);
    drop(child); // kills the group if it overran, which closes the pipes
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

/// Reads a pipe to its end on a helper thread.
fn drain(pipe: Option<impl Read + Send + 'static>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            text = String::from_utf8_lossy(&bytes).into_owned();
        }
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pinned_child_runs_on_its_cpu_only() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "grep Cpus_allowed_list /proc/self/status"])
            .stdout(Stdio::piped());
        let mut child = Supervised::spawn_on(&mut cmd, Some(0)).unwrap();
        let mut out = String::new();
        child
            .take_stdout()
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out.split_whitespace().nth(1), Some("0"), "{out}");
    }

    #[test]
    fn run_bounded_captures_output() {
        let out = run_bounded(
            Command::new("sh").args(["-c", "echo out; echo err >&2"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert!(out.status.unwrap().success());
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
    }

    #[test]
    fn run_bounded_kills_at_the_deadline() {
        let start = Instant::now();
        let out = run_bounded(
            Command::new("sh").args(["-c", "sleep 30 & sleep 30"]),
            Duration::from_millis(200),
        )
        .unwrap();
        assert!(out.status.is_none());
        assert!(start.elapsed() < Duration::from_secs(10));
    }
}
