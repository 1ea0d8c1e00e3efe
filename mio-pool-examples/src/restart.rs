//! Restarts that drop nothing: on SIGHUP an example server starts its
//! successor (the same executable path and arguments) and hands it the
//! listening socket; once the successor says it is ready, the old process
//! stops accepting and finishes its open connections.
//!
//! # The hand-off
//!
//! | step | old process                                        | successor                                   |
//! |------|----------------------------------------------------|---------------------------------------------|
//! | 1    | makes a socket pair (the ready channel)            |                                             |
//! | 2    | forks; in the child, puts the listener on fd 3 and the channel on fd 4 without close-on-exec, then execs | |
//! | 3    | keeps accepting and serving                        | `--listen-fd 3 --ready-fd 4`: adopts the socket, starts its workers, prints `listening on`, rewrites `--pid-file` |
//! | 4    | waits (bounded) for one byte on the channel        | writes one byte, closes fd 4                |
//! | 5    | stops accepting, serves open connections until they close or the grace period ends, exits 0 | accepts everything new, including connections already queued on the socket |
//!
//! Why nothing is refused: the listening socket is one kernel object that
//! both processes hold from step 2 on; it is never closed while a process
//! holds it, so connections keep queueing on it, and the successor accepts
//! the ones the old process leaves. Why nothing fully received is dropped:
//! the old process serves every connection it accepted until the client
//! closes it (HTTP adds `Connection: close` to its replies while draining, so
//! keep-alive clients move over) or the grace period ends.
//!
//! # Failure modes that remain
//!
//! * The successor fails to start (the file at the executable's path is
//!   missing or broken, an argument is refused, the pid file cannot be
//!   written) or is not ready within [`READY_TIMEOUT`]: the old process
//!   kills it if it still runs, logs why, and keeps serving. Nothing is
//!   lost; the restart simply did not happen.
//! * Clients still connected to the old process when its grace period ends
//!   are closed; a request in flight on such a connection gets no answer.
//! * A `kv` server's data lives in memory: its successor starts empty.
//! * The successor is not a child of the service manager: under systemd,
//!   restart the unit instead (the socket unit holds the listener across
//!   the restart; see the README).

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use crate::listen::take_fd;

/// How long a successor may take from `exec` to saying it is ready.
pub const READY_TIMEOUT: Duration = Duration::from_secs(30);

/// The fd on which a successor finds the listening socket.
pub const HANDOFF_LISTEN_FD: RawFd = 3;
/// The fd on which a successor finds the ready channel.
pub const HANDOFF_READY_FD: RawFd = 4;

/// The options that carry a hand-off; they are replaced, not repeated, in a
/// successor's arguments.
const HANDOFF_FLAGS: [&str; 2] = ["--listen-fd", "--ready-fd"];

/// How to start this process again: its executable's path and arguments,
/// as they were when it started.
#[derive(Debug, Clone)]
pub struct Successor {
    exe: PathBuf,
    args: Vec<OsString>,
}

/// Why a restart did not happen; the old process keeps serving.
#[derive(Debug)]
pub enum RestartError {
    /// The successor could not be started at all.
    Spawn(io::Error),
    /// The successor exited, or closed its ready channel, before it was
    /// ready.
    Exited(String),
    /// The successor said nothing within [`READY_TIMEOUT`]; it was killed.
    NotReady,
}

impl std::fmt::Display for RestartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RestartError::Spawn(e) => write!(f, "cannot start the successor: {e}"),
            RestartError::Exited(how) => write!(f, "the successor {how} before it was ready"),
            RestartError::NotReady => write!(
                f,
                "the successor was not ready within {READY_TIMEOUT:?}; killed it"
            ),
        }
    }
}

impl std::error::Error for RestartError {}

impl Successor {
    /// This process's executable path and arguments, as they are now: call
    /// it at start-up. The path is where the executable was found (not the
    /// file itself), so a restart after a deploy that replaced the file runs
    /// the new one.
    pub fn of_this_process() -> io::Result<Successor> {
        Ok(Successor {
            exe: std::env::current_exe()?,
            args: std::env::args_os().skip(1).collect(),
        })
    }

    /// A successor running `exe` with `args`.
    pub fn new(exe: PathBuf, args: Vec<OsString>) -> Successor {
        Successor { exe, args }
    }

    /// The arguments the successor gets: ours without any hand-off flags,
    /// followed by `--listen-fd 3 --ready-fd 4`.
    ///
    /// ```
    /// use mio_pool_examples::restart::Successor;
    /// let s = Successor::new("srv".into(), ["--workers", "2", "--listen-fd", "7", "--ready-fd=4"]
    ///     .iter().map(Into::into).collect());
    /// let args: Vec<_> = s.successor_args().into_iter().map(|a| a.into_string().unwrap()).collect();
    /// assert_eq!(args, ["--workers", "2", "--listen-fd", "3", "--ready-fd", "4"]);
    /// ```
    pub fn successor_args(&self) -> Vec<OsString> {
        let mut out = Vec::with_capacity(self.args.len() + 4);
        let mut skip_value = false;
        for arg in &self.args {
            if std::mem::take(&mut skip_value) {
                continue;
            }
            let s = arg.to_string_lossy();
            if HANDOFF_FLAGS.contains(&&*s) {
                skip_value = true;
                continue;
            }
            if HANDOFF_FLAGS
                .iter()
                .any(|f| s.strip_prefix(f).is_some_and(|rest| rest.starts_with('=')))
            {
                continue;
            }
            out.push(arg.clone());
        }
        out.extend(
            [
                "--listen-fd".to_string(),
                HANDOFF_LISTEN_FD.to_string(),
                "--ready-fd".to_string(),
                HANDOFF_READY_FD.to_string(),
            ]
            .map(OsString::from),
        );
        out
    }

    /// Starts the successor with `listener` as its fd 3 and waits (at most
    /// [`READY_TIMEOUT`]) until it says it is ready; returns its pid.
    ///
    /// The successor inherits standard output and error. systemd's
    /// `LISTEN_*` variables are removed from its environment: they named
    /// this process.
    ///
    /// # Errors
    ///
    /// See [`RestartError`]; a successor that is still running then is
    /// killed and reaped.
    pub fn start(&self, listener: &impl AsFd) -> Result<u32, RestartError> {
        let (mut ours, theirs) = UnixStream::pair().map_err(RestartError::Spawn)?;
        // Copies above the target numbers, so that putting one on fd 3 cannot
        // overwrite the other before it is copied to fd 4.
        let listen = dup_above(listener.as_fd().as_raw_fd()).map_err(RestartError::Spawn)?;
        let ready = dup_above(theirs.as_raw_fd()).map_err(RestartError::Spawn)?;
        let (listen_raw, ready_raw) = (listen.as_raw_fd(), ready.as_raw_fd());
        let mut cmd = Command::new(&self.exe);
        cmd.args(self.successor_args())
            .env_remove("LISTEN_PID")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_FDNAMES")
            .stdin(Stdio::null());
        // SAFETY: the closure runs in the child between fork and exec, where
        // only async-signal-safe calls are allowed: it calls dup2 only, on
        // integers copied in beforehand, and allocates nothing
        // (`last_os_error` builds an `Os` variant without allocating).
        // dup2 gives the new fd no close-on-exec flag, so exactly fds 3 and
        // 4 survive the exec, in the child only; the parent's copies stay
        // close-on-exec. `listen_raw` and `ready_raw` are >= 10, so neither
        // is overwritten by the first dup2.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(listen_raw, HANDOFF_LISTEN_FD) == -1
                    || libc::dup2(ready_raw, HANDOFF_READY_FD) == -1
                {
                    return Err(io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let mut child = cmd.spawn().map_err(|e| {
            RestartError::Spawn(io::Error::new(
                e.kind(),
                format!("{}: {e}", self.exe.display()),
            ))
        })?;
        // Only the child may hold the other end now, so that its exit reads
        // as end-of-file here.
        drop((theirs, listen, ready));
        let pid = child.id();
        match wait_ready(&mut ours) {
            Ok(true) => Ok(pid),
            Ok(false) => Err(RestartError::Exited(reap(&mut child))),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                Err(RestartError::NotReady)
            }
        }
    }
}

/// Reads the ready byte: `Ok(true)` when it came, `Ok(false)` on end of
/// file, `Err` on a time-out or error.
fn wait_ready(channel: &mut UnixStream) -> io::Result<bool> {
    channel.set_read_timeout(Some(READY_TIMEOUT))?;
    let mut byte = [0u8];
    loop {
        match channel.read(&mut byte) {
            Ok(n) => return Ok(n == 1),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
}

/// Describes how a successor that closed its channel ended, reaping it
/// (killing it first if it still runs without having said it is ready).
fn reap(child: &mut Child) -> String {
    // End of file on the channel comes from the child's exit, or from the
    // child closing fd 4 itself; give the exit a moment to be visible.
    for _ in 0..100 {
        if let Ok(Some(status)) = child.try_wait() {
            return format!("exited ({status})");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    let _ = child.wait();
    "closed its ready channel".to_string()
}

/// A close-on-exec copy of `fd` numbered 10 or higher.
fn dup_above(fd: RawFd) -> io::Result<OwnedFd> {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) reads the descriptor table only.
    let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
    if new == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `new` was just created by fcntl and nothing else knows it.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// The channel on which this process tells the one that started it
/// (through `--ready-fd`) that it serves: adopted at start-up, used once.
#[derive(Debug)]
pub struct ReadyChannel(Option<fs::File>);

impl ReadyChannel {
    /// Adopts `--ready-fd N`, if given. Call it at start-up, before the
    /// process opens files of its own (see [`crate::listen`]).
    ///
    /// # Errors
    ///
    /// The fd is unusable (see `ServerListener::from_fd`'s checks).
    pub fn adopt(fd: Option<RawFd>) -> io::Result<ReadyChannel> {
        Ok(ReadyChannel(match fd {
            Some(fd) => Some(fs::File::from(take_fd(fd)?)),
            None => None,
        }))
    }

    /// Says "ready": the workers run and the listener is in use. Without a
    /// channel this does nothing.
    ///
    /// # Errors
    ///
    /// The parent is gone (it gave up waiting): the caller should stop,
    /// since the parent keeps serving.
    pub fn notify(self) -> io::Result<()> {
        match self.0 {
            Some(mut channel) => channel.write_all(b"R"),
            None => Ok(()),
        }
    }
}

/// Writes this process's id to `path` (through a temporary file and a
/// rename, so a reader never sees a partial file).
///
/// # Errors
///
/// The message names the path.
pub fn write_pid_file(path: &Path) -> io::Result<()> {
    let named =
        |e: io::Error| io::Error::new(e.kind(), format!("pid file {}: {e}", path.display()));
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(".tmp");
    fs::write(&tmp, format!("{}\n", std::process::id())).map_err(named)?;
    fs::rename(&tmp, path).map_err(named)
}

/// Removes the pid file if it still names this process (a successor may
/// have rewritten it).
pub fn remove_pid_file(path: &Path) {
    let ours = fs::read_to_string(path)
        .map(|s| s.trim() == std::process::id().to_string())
        .unwrap_or(false);
    if ours {
        let _ = fs::remove_file(path);
    }
}
