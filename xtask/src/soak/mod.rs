//! `cargo xtask soak`: the `http` and `kv` examples, together, under
//! well-behaved clients whose every reply is checked and faulty clients
//! that misbehave as hostile clients do ([`faults`]), for `--secs` seconds.
//!
//! At the end it prints each fault's count, the requests answered, the
//! replies lost or wrong, each server's open descriptors against the
//! baseline taken before the first client, its peak resident memory and
//! its CPU time, and whether it exited cleanly on SIGTERM. It fails (exit
//! status 1) if a reply was lost or wrong, a good client was refused, a
//! server's descriptors did not come back to the baseline, or a server
//! died or did not exit cleanly.
//!
//! Plain threads and blocking std::net sockets: the soak checks
//! correctness, not speed, so it needs no async runtime and runs in the
//! light build of xtask. The servers are the release builds.
//!
//! Not yet: SIGHUP (restart) during the soak, which waits for the
//! examples' restart feature.

mod faults;
mod good;
mod wire;

use std::fs;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use faults::Fault;
use good::Proto;

use crate::process::children;
use crate::process::procfs;
use crate::process::server::{RunningServer, ServerSpec};
use crate::workspace::Workspace;

/// Command line of `cargo xtask soak`.
#[derive(Debug, Clone, clap::Args)]
pub struct SoakArgs {
    /// How long the clients run, seconds [default: 60; --quick: 20].
    #[arg(long)]
    pub secs: Option<u64>,
    /// The CI run: 20 seconds, fewer slowloris connections.
    #[arg(long)]
    pub quick: bool,
    /// Worker threads of each server.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Well-behaved client threads per server.
    #[arg(long, default_value_t = 3)]
    pub good: usize,
    /// Faulty client threads per server.
    #[arg(long, default_value_t = 2)]
    pub faulty: usize,
    /// Slowloris connections held open per server [default: 200; --quick: 50].
    #[arg(long)]
    pub slowloris: Option<usize>,
}

/// What every client thread counts into.
#[derive(Debug, Default)]
pub struct Shared {
    /// Set when the clients are to finish.
    stop: AtomicBool,
    /// Replies received and correct.
    answered: AtomicU64,
    /// Requests whose reply never came (EOF, reset, timeout).
    lost: AtomicU64,
    /// Replies that came but were not the expected ones.
    wrong: AtomicU64,
    /// Good clients' connections that could not be made.
    refused: AtomicU64,
    /// Slowloris connections that the server closed or answered.
    slowloris_closed: AtomicU64,
    /// Faults run, by [`Fault`] index.
    faults: [AtomicU64; Fault::ALL.len()],
    /// The first few failures, to show.
    failures: Mutex<Vec<String>>,
}

impl Shared {
    /// Whether the clients are to finish.
    fn stopping(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }

    /// Counts one failure in `counter` and keeps its description.
    fn fail(&self, what: &str, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        if failures.len() < 10 {
            failures.push(what.to_owned());
        }
    }

    /// Counts one run of `fault`.
    fn count(&self, fault: Fault) {
        let i = Fault::ALL.iter().position(|&f| f == fault).expect("in ALL");
        self.faults[i].fetch_add(1, Ordering::Relaxed);
    }
}

/// One server under soak.
struct Subject {
    /// `http` or `kv`.
    name: &'static str,
    /// Its protocol.
    proto: Proto,
    /// The running process.
    server: RunningServer,
    /// Its open descriptors before any client connected.
    baseline_fds: usize,
    /// Its CPU time then.
    cpu_before: procfs::CpuTime,
}

/// Runs the soak; see the module docs.
pub fn run(args: &SoakArgs) -> ExitCode {
    match soak(args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("xtask soak: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The soak; `Ok(false)` when it ran and found a failure.
fn soak(args: &SoakArgs) -> Result<bool, String> {
    let secs = args.secs.unwrap_or(if args.quick { 20 } else { 60 });
    let slow = args.slowloris.unwrap_or(if args.quick { 50 } else { 200 });
    let ws = Workspace::locate()?;
    // The same build as the benchmark's, so that CI builds it once.
    ws.build()?;
    children::install_signal_handlers();
    let limit = procfs::raise_nofile().map_err(|e| format!("open-file limit: {e}"))?;
    let needed = 2 * (slow + 4 * (args.good + args.faulty)) as u64 + 100;
    if limit < needed {
        return Err(format!(
            "open-file limit {limit} < {needed}: lower --slowloris or raise `ulimit -Hn`"
        ));
    }
    let logs = ws.target_dir.join("soak");
    fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let mut subjects = Vec::new();
    for (name, proto) in [("http", Proto::Http), ("kv", Proto::Kv)] {
        let spec = ServerSpec::announcing(name, ws.release_bin(name), &[], args.workers);
        let server = RunningServer::start(&spec, &logs.join(format!("{name}.log")))?;
        subjects.push(Subject {
            name,
            proto,
            baseline_fds: open_fds(server.pid()).map_err(|e| format!("{name}: {e}"))?,
            cpu_before: procfs::cpu_time(&[server.pid()]),
            server,
        });
    }
    let kv_addr = subjects[1].server.addr;
    set_big_value(kv_addr)?;
    eprintln!(
        "xtask soak: {secs} s against http on {} and kv on {kv_addr}: {} good, {} faulty client threads and {slow} slowloris connections per server",
        subjects[0].server.addr, args.good, args.faulty
    );
    let shared = Arc::new(Shared::default());
    let mut threads = Vec::new();
    for (i, s) in subjects.iter().enumerate() {
        let (proto, addr) = (s.proto, s.server.addr);
        for g in 0..args.good {
            let shared = Arc::clone(&shared);
            let id = i * 100 + g;
            threads.push(thread::spawn(move || {
                good::client(proto, addr, id, &shared)
            }));
        }
        for f in 0..args.faulty {
            let shared = Arc::clone(&shared);
            let id = i * 100 + f;
            threads.push(thread::spawn(move || {
                faults::client(proto, addr, id, &shared)
            }));
        }
        let shared = Arc::clone(&shared);
        threads.push(thread::spawn(move || {
            faults::slowloris(proto, addr, slow, &shared)
        }));
    }
    let started = Instant::now();
    let mut died = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) {
        thread::sleep(Duration::from_millis(250));
        for s in &mut subjects {
            if !s.server.is_running() && !died.contains(&s.name) {
                eprintln!("xtask soak: {} exited during the soak", s.name);
                died.push(s.name);
            }
        }
        if !died.is_empty() {
            break;
        }
    }
    shared.stop.store(true, Ordering::SeqCst);
    for t in threads {
        if t.join().is_err() {
            shared.fail("a client thread panicked", &shared.wrong);
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let mut ok = died.is_empty();
    let mut lines = Vec::new();
    for s in subjects {
        let pid = s.server.pid();
        let (fds, settled) = settle_fds(pid, s.baseline_fds);
        let peak = peak_rss(pid).unwrap_or(0);
        let cpu = procfs::cpu_time(&[pid]) - s.cpu_before;
        let exit = s.server.stop();
        let clean = exit.is_some_and(|st| st.success());
        ok &= settled && clean;
        lines.push(format!(
            "| {} | {} → {fds}{} | {:.1} MiB | {:.1} s ({:.0}% of a core) | {} |",
            s.name,
            s.baseline_fds,
            if settled { "" } else { " **not back**" },
            peak as f64 / (1024.0 * 1024.0),
            cpu.total(),
            cpu.total() / elapsed * 100.0,
            match exit {
                Some(st) if st.success() => "clean".to_owned(),
                Some(st) => format!("**{st}**"),
                None => "**did not exit within 2 s**".to_owned(),
            }
        ));
    }
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (lost, wrong, refused) = (get(&shared.lost), get(&shared.wrong), get(&shared.refused));
    ok &= lost == 0 && wrong == 0 && refused == 0;
    println!(
        "# soak: {elapsed:.0} s, http + kv, {} workers each\n",
        args.workers
    );
    println!("| fault | runs |\n|---|---:|");
    for (i, f) in Fault::ALL.iter().enumerate() {
        println!("| {} | {} |", f.name(), get(&shared.faults[i]));
    }
    println!(
        "\nslowloris connections closed or answered by the servers: {}",
        get(&shared.slowloris_closed)
    );
    println!(
        "\nwell-behaved requests answered: {} ({:.0}/s); lost: {lost}; wrong: {wrong}; connections refused: {refused}\n",
        get(&shared.answered),
        get(&shared.answered) as f64 / elapsed
    );
    println!("| server | open descriptors (baseline → end) | peak RSS | CPU | SIGTERM |\n|---|---|---:|---:|---|");
    for l in &lines {
        println!("{l}");
    }
    for f in shared
        .failures
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
    {
        println!("- {f}");
    }
    for d in &died {
        println!("- {d} exited during the soak; see {}", logs.display());
    }
    println!("\nresult: {}", if ok { "PASS" } else { "FAIL" });
    Ok(ok)
}

/// Sets the large value that reply-heavy faults ask the kv server for.
fn set_big_value(addr: SocketAddr) -> Result<(), String> {
    use std::io::{BufReader, Write};
    let err = |e: std::io::Error| {
        format!(
            "kv: setting {}: {e}",
            String::from_utf8_lossy(faults::BIG_KEY)
        )
    };
    let mut s = std::net::TcpStream::connect_timeout(&addr, good::PATIENCE).map_err(err)?;
    s.set_read_timeout(Some(good::PATIENCE)).map_err(err)?;
    let mut out = Vec::new();
    wire::command(
        &mut out,
        &[b"SET", faults::BIG_KEY, &vec![b'b'; faults::BIG_VALUE]],
    );
    s.write_all(&out).map_err(err)?;
    match wire::read_reply(&mut BufReader::new(s), 0).map_err(err)? {
        wire::Reply::Simple(ok) if ok == "OK" => Ok(()),
        other => Err(format!("kv: SET of the big value answered {other:?}")),
    }
}

/// Number of open descriptors of a process.
fn open_fds(pid: u32) -> std::io::Result<usize> {
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
        thread::sleep(Duration::from_millis(100));
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
