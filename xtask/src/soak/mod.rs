//! `cargo xtask soak`: the `http` and `kv` examples, together, under
//! well-behaved clients whose every reply is checked and faulty clients
//! that misbehave as hostile clients do ([`faults`]), for `--secs` seconds.
//!
//! The http server is restarted with SIGHUP every `--restart-every`
//! seconds ([`tracked`]): its successor takes over the listening socket and
//! the old process drains; well-behaved HTTP clients that are told
//! `Connection: close` send their unanswered requests again on a new
//! connection, as HTTP clients do.
//!
//! At the end it prints each fault's count, the requests answered, the
//! replies lost or wrong, each server's open descriptors against the
//! baseline taken before the first client, its peak resident memory and
//! its CPU time (all its processes), its restarts, and whether it exited
//! cleanly on SIGTERM. It fails (exit status 1) if a reply was lost or
//! wrong, a good client was refused, a server's descriptors did not come
//! back to the baseline, a restart's old process did not exit cleanly, or
//! a server died or did not exit cleanly.
//!
//! Plain threads and blocking std::net sockets: the soak checks
//! correctness, not speed, so it needs no async runtime and runs in the
//! light build of xtask. The servers are the release builds.

mod faults;
mod good;
mod tracked;
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

use tracked::Tracked;

use crate::process::children;
use crate::process::procfs;
use crate::process::server::ServerSpec;
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
    /// Restart the http server with SIGHUP every SECS seconds; 0: never
    /// [default: 60; --quick: 10]. (kv is not restarted: its successor
    /// starts with an empty store, which its clients' checks would see.)
    #[arg(long, value_name = "SECS")]
    pub restart_every: Option<u64>,
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
    let restart_every = args
        .restart_every
        .unwrap_or(if args.quick { 10 } else { 60 });
    let ws = Workspace::locate()?;
    // The same build as the benchmark's, so that CI builds it once.
    ws.build()?;
    children::install_signal_handlers();
    tracked::become_subreaper().map_err(|e| format!("cannot become a subreaper: {e}"))?;
    let limit = procfs::raise_nofile().map_err(|e| format!("open-file limit: {e}"))?;
    let needed = 2 * (slow + 4 * (args.good + args.faulty)) as u64 + 100;
    if limit < needed {
        return Err(format!(
            "open-file limit {limit} < {needed}: lower --slowloris or raise `ulimit -Hn`"
        ));
    }
    let dir = ws.target_dir.join("soak");
    fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut servers = Vec::new();
    for (name, proto) in [("http", Proto::Http), ("kv", Proto::Kv)] {
        let spec = ServerSpec::announcing(name, ws.release_bin(name), &[], args.workers);
        servers.push(Tracked::start(name, proto, spec, &dir)?);
    }
    set_big_value(servers[1].addr)?;
    eprintln!(
        "xtask soak: {secs} s against http on {} and kv on {}: {} good, {} faulty client threads and {slow} slowloris connections per server; http restarted (SIGHUP) every {restart_every} s",
        servers[0].addr, servers[1].addr, args.good, args.faulty
    );
    let shared = Arc::new(Shared::default());
    let mut threads = Vec::new();
    for (i, s) in servers.iter().enumerate() {
        let (proto, addr) = (s.proto, s.addr);
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
    let mut next_restart = Duration::from_secs(restart_every);
    let mut died = Vec::new();
    while started.elapsed() < Duration::from_secs(secs) && died.is_empty() {
        thread::sleep(Duration::from_millis(250));
        for s in &mut servers {
            s.sample();
            if !s.alive() {
                eprintln!("xtask soak: {} exited during the soak", s.name);
                died.push(s.name);
            }
        }
        // Only http restarts: kv keeps its data in memory, so its
        // successor starts empty and the kv clients' checks would fail.
        if restart_every > 0 && started.elapsed() >= next_restart {
            servers[0].restart();
            next_restart += Duration::from_secs(restart_every);
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
    for s in servers {
        let (name, restarts) = (s.name, s.restarts);
        let sum = s.finish();
        ok &= sum.settled && sum.exit.is_ok() && sum.clean_handovers == restarts;
        lines.push(format!(
            "| {name} | {} → {}{} | {:.1} MiB | {:.1} s ({:.0}% of a core) | {restarts} sent, {} took over, {} old exited cleanly | {} |",
            sum.baseline_fds,
            sum.end_fds,
            if sum.settled { "" } else { " **not back**" },
            sum.peak_rss as f64 / (1024.0 * 1024.0),
            sum.cpu.total(),
            sum.cpu.total() / elapsed * 100.0,
            sum.successors,
            sum.clean_handovers,
            match sum.exit {
                Ok(()) => "clean".to_owned(),
                Err(e) => format!("**{e}**"),
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
    println!("| server | open descriptors (baseline → end) | peak RSS | CPU | SIGHUP restarts | SIGTERM |\n|---|---|---:|---:|---|---|");
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
        println!("- {d} exited during the soak; see {}", dir.display());
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
