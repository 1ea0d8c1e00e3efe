//! Starting a server process, knowing when it is ready, and stopping it.

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::children::Supervised;
use super::procfs;
use crate::listening::parse_listening_line;

/// How long a server may take to become ready.
const START_TIMEOUT: Duration = Duration::from_secs(15);

/// How a server tells us it accepts connections.
#[derive(Debug, Clone)]
pub enum Ready {
    /// It prints `listening on ADDR` on stdout (the examples and the peers).
    Announce,
    /// It prints nothing useful; ready once a TCP connect to this address succeeds.
    Connect(SocketAddr),
}

/// How to run one server.
#[derive(Debug, Clone)]
pub struct ServerSpec {
    /// Name in reports (`mio-pool`, `tokio`, `nginx`, ...).
    pub name: String,
    /// Executable to run.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
    /// How to know it is ready.
    pub ready: Ready,
    /// Signal that asks it to shut down.
    pub stop_signal: libc::c_int,
    /// The one CPU it runs on, if pinned (`cargo xtask bench --pin`).
    pub cpu: Option<usize>,
}

impl ServerSpec {
    /// A server with the examples' command line: `PROGRAM [PREFIX...] --addr
    /// 127.0.0.1:0 --workers N`, announcing its address on stdout.
    pub fn announcing(name: &str, program: PathBuf, prefix: &[&str], workers: usize) -> ServerSpec {
        let mut args: Vec<String> = prefix.iter().map(|s| s.to_string()).collect();
        args.extend([
            "--addr".into(),
            "127.0.0.1:0".into(),
            "--workers".into(),
            workers.to_string(),
        ]);
        ServerSpec {
            name: name.to_owned(),
            program,
            args,
            ready: Ready::Announce,
            stop_signal: libc::SIGTERM,
            cpu: None,
        }
    }
}

/// A started server, killed when dropped.
#[derive(Debug)]
pub struct RunningServer {
    /// The process (group).
    process: Supervised,
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its spec's stop signal.
    stop_signal: libc::c_int,
}

impl RunningServer {
    /// Starts the server, with stderr going to `log`, and waits until it is ready.
    pub fn start(spec: &ServerSpec, log: &Path) -> Result<RunningServer, String> {
        let log_file =
            File::create(log).map_err(|e| format!("cannot create {}: {e}", log.display()))?;
        let mut cmd = Command::new(&spec.program);
        cmd.args(&spec.args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log_file));
        let mut process = Supervised::spawn_on(&mut cmd, spec.cpu)
            .map_err(|e| format!("cannot run {}: {e}", spec.program.display()))?;
        let stdout = process.take_stdout().expect("stdout is piped");
        let (tx, rx) = mpsc::channel();
        thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !sent {
                    if let Some(addr) = parse_listening_line(&line).and_then(|a| a.parse().ok()) {
                        let _ = tx.send(addr);
                        sent = true;
                    }
                }
            }
        });
        let failure = |process: &mut Supervised, what: &str| {
            let status = match process.try_wait() {
                Some(s) => format!(" ({s})"),
                None => String::new(),
            };
            format!("{}: {what}{status}; see {}", spec.name, log.display())
        };
        let addr = match &spec.ready {
            Ready::Announce => match rx.recv_timeout(START_TIMEOUT) {
                Ok(addr) => addr,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(failure(
                        &mut process,
                        "no `listening on ADDR` line within 15 s",
                    ))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(failure(
                        &mut process,
                        "closed stdout without printing `listening on ADDR`",
                    ))
                }
            },
            Ready::Connect(addr) => {
                let deadline = Instant::now() + START_TIMEOUT;
                loop {
                    if TcpStream::connect_timeout(addr, Duration::from_millis(200)).is_ok() {
                        break *addr;
                    }
                    if process.try_wait().is_some() {
                        return Err(failure(&mut process, "exited before accepting connections"));
                    }
                    if Instant::now() >= deadline {
                        return Err(failure(
                            &mut process,
                            "not accepting connections within 15 s",
                        ));
                    }
                    thread::sleep(Duration::from_millis(20));
                }
            }
        };
        Ok(RunningServer {
            process,
            addr,
            stop_signal: spec.stop_signal,
        })
    }

    /// The server's main process id.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// The server's processes: the main one and everything it forked.
    pub fn pids(&self) -> Vec<u32> {
        procfs::tree(self.pid())
    }

    /// Whether the server is still running.
    pub fn is_running(&mut self) -> bool {
        self.process.try_wait().is_none()
    }

    /// Asks the server to stop, then kills whatever is left after a grace
    /// period; returns its exit status if it exited by itself in time.
    pub fn stop(self) -> Option<std::process::ExitStatus> {
        self.process.stop(self.stop_signal, Duration::from_secs(2))
    }
}
