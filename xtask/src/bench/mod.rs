//! `cargo xtask bench`: mio-pool against what users would pick instead.
//!
//! Every server does the same echo work with the same worker threads and
//! runs as its own release-built process: the `echo` example (mio-pool),
//! and the peers of [`crate::peer`] (tokio, a thread per connection, a bare
//! mio loop). A closed-loop load generator in this process drives each
//! scenario ([`scenario`]); servers take turns, A B C D A B C D, and every
//! figure is also shown as a ratio to mio-pool's, since absolute figures
//! drift on a shared machine. External anchors ([`anchors`]) put the `http`
//! and `kv` examples next to nginx and redis-server when those are installed.
//!
//! Output: a markdown table per scenario on stdout and in
//! `target/bench/report.md`, raw figures in `target/bench/report.json`, a
//! chart in `target/bench/chart.svg`, server logs in `target/bench/logs/`.
//!
//! `--quick` runs every scenario for a fraction of a second: a smoke test
//! for CI, with no thresholds. Every step is bounded in time, and a
//! watchdog ends the run (servers included) if it overruns anyway.

mod anchors;
mod chart;
mod children;
mod load;
mod machine;
mod perf;
mod procfs;
mod report;
mod scenario;
mod server;
mod stats;
mod targets;
mod workspace;

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use machine::Machine;
use report::{Report, Settings, Table};
use scenario::{Measured, Timing};
use server::{RunningServer, ServerSpec};
use workspace::Workspace;

/// Command line of `cargo xtask bench`.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Smoke test: every scenario for a fraction of a second, one round (figures are not meaningful).
    #[arg(long)]
    pub quick: bool,
    /// Times each server is measured per scenario, taking turns [default: 3; --quick: 1].
    #[arg(long)]
    pub rounds: Option<usize>,
    /// Warm-up before each measurement window, seconds [default: 0.5; --quick: 0.05].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// Measurement window, seconds [default: 1.5; --quick: 0.2].
    #[arg(long)]
    pub window: Option<f64>,
    /// Worker threads of every server.
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Client threads of the load generator.
    #[arg(long, default_value_t = 2)]
    pub client_threads: usize,
    /// Idle connections of the idle scenario [default: 10000; --quick: 1000].
    #[arg(long)]
    pub idle: Option<usize>,
    /// Run only the scenarios whose id contains this text (repeatable). Ids:
    /// echo-64B-1c, echo-64B-64c, echo-64B-512c, echo-16KiB-64c, churn, idle,
    /// http-wrk, redis-set, redis-get, redis-set-P16, redis-get-P16.
    #[arg(long)]
    pub only: Vec<String>,
    /// Skip the external anchors (wrk against nginx, redis-benchmark against redis-server).
    #[arg(long)]
    pub no_anchors: bool,
    /// Do not count system calls and context switches with perf.
    #[arg(long)]
    pub no_perf: bool,
    /// Also run the mio-pool echo server with extra options, as a server of
    /// its own named NAME (repeatable), e.g. `--variant "no-yield=--yield-after-us off"`:
    /// an A/B comparison within one interleaved run.
    #[arg(long, value_name = "NAME=OPTIONS", value_parser = parse_variant)]
    pub variant: Vec<Variant>,
    /// Stand-in for the mio-pool echo server: `peer:NAME` (a peer of `cargo xtask peer`)
    /// or the path of a server with the examples' command line.
    #[arg(long, hide = true)]
    pub server: Option<String>,
    /// Run from this binary without building (set when xtask hands over to its release build).
    #[arg(long, hide = true)]
    pub no_build: bool,
}

/// An extra mio-pool echo server of `--variant`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variant {
    /// Its name in the report.
    pub name: String,
    /// Options added to the echo server's command line.
    pub options: Vec<String>,
}

fn parse_variant(s: &str) -> Result<Variant, String> {
    let (name, options) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected NAME=OPTIONS"))?;
    let name = name.trim();
    if name.is_empty() {
        return Err(format!("{s:?}: the name is empty"));
    }
    if [POOL, "tokio", "threads", "bare-mio"].contains(&name) {
        return Err(format!("{name:?} is the name of a server already"));
    }
    Ok(Variant {
        name: name.to_owned(),
        options: options.split_whitespace().map(str::to_owned).collect(),
    })
}

/// Runs the benchmark; see the module docs.
pub fn run(args: &BenchArgs) -> ExitCode {
    let ws = match Workspace::locate() {
        Ok(ws) => ws,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !args.no_build {
        if let Err(e) = ws.build() {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
        return ws.reexec_release();
    }
    children::install_signal_handlers();
    let mut bench = match Bench::new(ws, args) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("xtask bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    children::start_watchdog(bench.time_limit());
    if let Some(stand_in) = &args.server {
        bench.notes.push(format!(
            "the mio-pool rows are a stand-in: `{stand_in}`, not the echo example"
        ));
    }
    bench.run_echo();
    if args.no_anchors {
        bench
            .notes
            .push("external anchors skipped (--no-anchors)".into());
    } else {
        anchors::http(&mut bench);
        anchors::redis(&mut bench);
    }
    bench.finish()
}

/// The state of a run: settings, progress, and results so far.
#[derive(Debug)]
pub struct Bench {
    /// The workspace (binaries, output directory).
    ws: Workspace,
    /// The command line.
    args: BenchArgs,
    /// Load timing.
    timing: Timing,
    /// Rounds per scenario.
    rounds: usize,
    /// Idle connections of the idle scenario.
    idle: usize,
    /// perf, if it works here.
    perf: Option<perf::Perf>,
    /// Where the machine stands.
    machine: Machine,
    /// The progress bar (hidden when stderr is not a terminal).
    progress: ProgressBar,
    /// Server logs directory.
    logs: PathBuf,
    /// Results, one table per scenario.
    tables: Vec<Table>,
    /// Notes for the report.
    notes: Vec<String>,
}

/// Name of the mio-pool row, the baseline of every ratio.
const POOL: &str = "mio-pool";

impl Bench {
    /// Prepares a run: settings, output directories, perf, file limits.
    fn new(ws: Workspace, args: &BenchArgs) -> Result<Bench, String> {
        let quick = args.quick;
        let seconds = |v: Option<f64>, full: f64, quick_v: f64| {
            Duration::from_secs_f64(
                v.unwrap_or(if quick { quick_v } else { full })
                    .clamp(0.0, 3600.0),
            )
        };
        let timing = Timing {
            warmup: seconds(args.warmup, 0.5, 0.05),
            window: seconds(args.window, 1.5, 0.2).max(Duration::from_millis(10)),
            client_threads: args.client_threads.max(1),
        };
        let out = ws.out_dir();
        let logs = out.join("logs");
        let _ = fs::remove_dir_all(&logs);
        fs::create_dir_all(&logs).map_err(|e| format!("cannot create {}: {e}", logs.display()))?;
        let mut notes = Vec::new();
        let perf = if args.no_perf {
            notes.push("perf counts skipped (--no-perf)".to_owned());
            None
        } else {
            match perf::detect() {
                Ok(p) => Some(p),
                Err(e) => {
                    notes.push(format!("no system call or context switch counts: {e}"));
                    None
                }
            }
        };
        let mut idle = args.idle.unwrap_or(if quick { 1000 } else { 10_000 });
        match procfs::raise_nofile() {
            Ok(limit) => {
                let room = (limit as usize).saturating_sub(600);
                if idle > room {
                    notes.push(format!(
                        "open-file limit {limit}: idle connections cut from {idle} to {room} (raise the hard limit with `ulimit -Hn`)"
                    ));
                    idle = room;
                }
            }
            Err(e) => notes.push(format!("could not raise the open-file limit: {e}")),
        }
        // Churn leaves a TIME_WAIT socket per connection on the client side;
        // without reuse on loopback, a full run exhausts the local ports.
        if fs::read_to_string("/proc/sys/net/ipv4/tcp_tw_reuse").is_ok_and(|v| v.trim() == "0") {
            notes.push(
                "net.ipv4.tcp_tw_reuse is 0: the churn scenario may run out of local ports (sysctl -w net.ipv4.tcp_tw_reuse=2)".into(),
            );
        }
        let progress = ProgressBar::new(0);
        progress.set_style(
            ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} {msg}")
                .expect("valid template")
                .progress_chars("=> "),
        );
        Ok(Bench {
            ws,
            args: args.clone(),
            timing,
            rounds: args.rounds.unwrap_or(if quick { 1 } else { 3 }).max(1),
            idle,
            perf,
            machine: Machine::probe(),
            progress,
            logs,
            tables: Vec::new(),
            notes,
        })
    }

    /// An upper bound on how long the run may take before the watchdog ends it.
    fn time_limit(&self) -> Duration {
        let per = self.timing.warmup + self.timing.window + Duration::from_secs(10);
        let servers = 4 + self.args.variant.len();
        let measurements = (self.rounds * servers * (6 + 6)) as u32;
        per * measurements + Duration::from_secs(600)
    }

    /// Whether `--only` lets the scenario `id` run.
    fn wanted(&self, id: &str) -> bool {
        self.args.only.is_empty() || self.args.only.iter().any(|o| id.contains(o.as_str()))
    }

    /// The echo servers, mio-pool first.
    fn echo_servers(&self) -> Vec<ServerSpec> {
        let xtask = self.ws.release_bin("xtask");
        let workers = self.args.workers;
        let pool = match self.args.server.as_deref() {
            None => ServerSpec::announcing(POOL, self.ws.release_bin("echo"), &[], workers),
            Some(spec) => match spec.strip_prefix("peer:") {
                Some(peer) => ServerSpec::announcing(POOL, xtask.clone(), &["peer", peer], workers),
                None => ServerSpec::announcing(POOL, PathBuf::from(spec), &[], workers),
            },
        };
        let mut servers = vec![pool];
        for v in &self.args.variant {
            let mut spec =
                ServerSpec::announcing(&v.name, self.ws.release_bin("echo"), &[], workers);
            spec.args.extend(v.options.iter().cloned());
            servers.push(spec);
        }
        for peer in ["tokio", "threads", "bare-mio"] {
            servers.push(ServerSpec::announcing(
                peer,
                xtask.clone(),
                &["peer", peer],
                workers,
            ));
        }
        servers
    }

    /// Prints a line above the progress bar.
    fn say(&self, line: &str) {
        self.progress.suspend(|| eprintln!("{line}"));
    }

    /// Records a note for the report and prints it.
    fn note(&mut self, note: String) {
        self.say(&format!("xtask bench: {note}"));
        self.notes.push(note);
    }

    /// Announces the next measurement.
    fn step(&mut self, what: &str) {
        self.machine.sample();
        if self.progress.is_hidden() {
            eprintln!(
                "[{:>3}/{}] {what}",
                self.progress.position() + 1,
                self.progress.length().unwrap_or(0)
            );
        }
        self.progress.set_message(what.to_owned());
        self.progress.inc(1);
    }

    /// Adds measurements to the progress bar's length.
    fn plan(&self, steps: usize) {
        self.progress.inc_length(steps as u64);
    }

    /// Where a server's stderr goes for one measurement.
    fn log_path(&self, table: &str, server: &str, round: usize) -> PathBuf {
        let clean = |s: &str| s.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
        self.logs.join(format!(
            "{}-{}-r{}.log",
            clean(table),
            clean(server),
            round + 1
        ))
    }

    /// Files one measurement's outcome in table `t`.
    fn record(&mut self, t: usize, server: &str, round: usize, result: Result<Measured, String>) {
        match result {
            Ok(measured) => {
                for w in &measured.warnings {
                    self.say(&format!(
                        "xtask bench: {} / {server} / round {}: {w}",
                        self.tables[t].id,
                        round + 1
                    ));
                }
                self.tables[t]
                    .row_mut(server)
                    .samples
                    .push(measured.figures);
            }
            Err(e) => {
                self.say(&format!(
                    "xtask bench: {} / {server} / round {}: FAILED: {e}",
                    self.tables[t].id,
                    round + 1
                ));
                self.tables[t].row_mut(server).failures.push(e);
            }
        }
    }

    /// Runs the echo scenarios, servers taking turns within each round.
    fn run_echo(&mut self) {
        let servers = self.echo_servers();
        let scenarios: Vec<_> = scenario::echo_scenarios(self.idle)
            .into_iter()
            .filter(|s| self.wanted(&s.id))
            .collect();
        self.plan(scenarios.len() * servers.len() * self.rounds);
        for sc in &scenarios {
            self.tables.push(Table::new(&sc.id, &sc.title, sc.op, POOL));
            let t = self.tables.len() - 1;
            for round in 0..self.rounds {
                for spec in &servers {
                    self.step(&format!(
                        "{} · {} · round {}/{}",
                        sc.id,
                        spec.name,
                        round + 1,
                        self.rounds
                    ));
                    let log = self.log_path(&sc.id, &spec.name, round);
                    let result = RunningServer::start(spec, &log).and_then(|mut server| {
                        let measured = scenario::measure(
                            &mut server,
                            sc.load,
                            &self.timing,
                            self.perf.as_ref(),
                        );
                        server.stop();
                        measured
                    });
                    self.record(t, &spec.name, round, result);
                }
            }
            self.tables[t].summarize();
        }
    }

    /// Writes the report files, prints the markdown, and says whether every
    /// measurement that should have run did.
    fn finish(mut self) -> ExitCode {
        self.progress.finish_and_clear();
        if !self.machine.busy.is_empty() {
            self.notes.push(format!(
                "other heavy processes ran during the benchmark ({}): figures are noisier than usual",
                self.machine.busy.join(", ")
            ));
        }
        let failed: Vec<String> = self
            .tables
            .iter()
            .flat_map(|t| {
                t.rows
                    .iter()
                    .filter(|r| !r.failures.is_empty())
                    .map(move |r| format!("{} / {}", t.id, r.server))
            })
            .collect();
        let report = Report {
            machine: self.machine.clone(),
            settings: Settings {
                quick: self.args.quick,
                workers: self.args.workers,
                client_threads: self.timing.client_threads,
                warmup_s: self.timing.warmup.as_secs_f64(),
                window_s: self.timing.window.as_secs_f64(),
                rounds: self.rounds,
                perf: self.perf.is_some(),
                command: command_line(),
                revision: revision(&self.ws.root),
            },
            targets: targets::evaluate(&self.tables),
            tables: self.tables,
            notes: self.notes,
        };
        let markdown = report::render_markdown(&report);
        print!("{markdown}");
        let out = self.ws.out_dir();
        let mut ok = true;
        let mut write = |name: &str, result: Result<(), String>| match result {
            Ok(()) => eprintln!("xtask bench: wrote {}", out.join(name).display()),
            Err(e) => {
                eprintln!("xtask bench: {name}: {e}");
                ok = false;
            }
        };
        write(
            "report.md",
            fs::write(out.join("report.md"), &markdown).map_err(|e| e.to_string()),
        );
        let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string());
        write(
            "report.json",
            json.and_then(|j| fs::write(out.join("report.json"), j).map_err(|e| e.to_string())),
        );
        write(
            "chart.svg",
            chart::write_svg(&report, &out.join("chart.svg")),
        );
        if !failed.is_empty() {
            eprintln!("xtask bench: measurements failed: {}", failed.join(", "));
            ok = false;
        }
        if ok {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}

/// The git commit of the workspace, marked when the working tree differs
/// from it (the build measured what was on disk).
fn revision(root: &std::path::Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short", "HEAD"]) {
        None => "an unknown revision (not a git checkout)".into(),
        Some(commit) => match git(&["status", "--porcelain", "--untracked-files=no"]) {
            Some(changes) if changes.is_empty() => format!("commit {commit}"),
            _ => format!("commit {commit} plus uncommitted changes"),
        },
    }
}

/// The command as a user would type it (without our internal flags).
fn command_line() -> String {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--no-build")
        .collect();
    format!("cargo xtask {}", args.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variants_are_a_name_and_options() {
        assert_eq!(
            parse_variant("no-yield=--yield-after-us off").unwrap(),
            Variant {
                name: "no-yield".into(),
                options: vec!["--yield-after-us".into(), "off".into()],
            }
        );
        assert_eq!(
            parse_variant("same=").unwrap().options,
            Vec::<String>::new()
        );
        assert!(parse_variant("no equals sign").is_err());
        assert!(parse_variant("=--x").is_err());
        assert!(parse_variant("tokio=--x").is_err());
    }
}
