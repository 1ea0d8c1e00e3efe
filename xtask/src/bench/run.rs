//! The state of a run (settings, progress, results so far) and the one
//! sequence every scenario and anchor measures with: [`Bench::in_rounds`].

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use super::args::BenchArgs;
use super::chart;
use super::curves;
use super::machine::Machine;
use super::perf::{self, Perf};
use super::report::{self, Report, Settings};
use super::scenario::Timing;
use super::stats::{Metric, Op};
use super::table::Table;
use super::targets;
use super::window::Measured;
use crate::process::{children, procfs};
use crate::process::server::{RunningServer, ServerSpec};
use crate::workspace::Workspace;

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
    /// Connections that fit under the open-file limit, with a margin.
    room: usize,
    /// perf, if it works here.
    perf: Option<Perf>,
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

/// A table of the run, as [`Bench::add_table`] returned it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableId(usize);

impl Bench {
    /// Prepares a run: settings, output directories, perf, file limits.
    pub fn new(ws: Workspace, args: &BenchArgs) -> Result<Bench, String> {
        // Before pinning, which would make it see one CPU.
        let machine = Machine::probe();
        let mut args = args.clone();
        if args.pin {
            // Before any thread exists: every client thread and load tool
            // inherits CPU 0; servers are moved to CPU 1 as they start.
            if std::thread::available_parallelism().map_or(1, |n| n.get()) < 2 {
                return Err("--pin needs two CPUs".into());
            }
            children::pin_to(0).map_err(|e| format!("--pin: cannot bind to CPU 0: {e}"))?;
            args.workers = 1;
        }
        let args = &args;
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
        let mut room = usize::MAX;
        match procfs::raise_nofile() {
            Ok(limit) => {
                room = (limit as usize).saturating_sub(600);
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
            room,
            perf,
            machine,
            progress,
            logs,
            tables: Vec::new(),
            notes,
        })
    }

    /// The command line.
    pub fn args(&self) -> &BenchArgs {
        &self.args
    }

    /// Load timing.
    pub fn timing(&self) -> &Timing {
        &self.timing
    }

    /// perf, if it works here.
    pub fn perf(&self) -> Option<&Perf> {
        self.perf.as_ref()
    }

    /// Idle connections of the idle scenario (after the file limit).
    pub fn idle(&self) -> usize {
        self.idle
    }

    /// The connection counts of the "how cost grows" scenarios beyond 512:
    /// 4,096 and 16,000 (`--quick`: 1,024), each cut to what the open-file
    /// limit allows.
    pub fn many(&self) -> Vec<usize> {
        let counts: &[usize] = if self.args.quick {
            &[1024]
        } else {
            &[4096, 16_000]
        };
        let mut out: Vec<usize> = counts.iter().map(|&n| n.min(self.room)).collect();
        out.dedup();
        out
    }

    /// How many connections a scenario may hold open besides its active
    /// ones, under the open-file limit (which the server shares).
    pub fn room_for_connections(&self) -> usize {
        self.room
    }

    /// Path of a binary of the release build.
    pub fn release_bin(&self, name: &str) -> PathBuf {
        self.ws.release_bin(name)
    }

    /// An upper bound on how long the run may take before the watchdog ends it.
    pub fn time_limit(&self) -> Duration {
        let per = self.timing.warmup + self.timing.window + Duration::from_secs(10);
        // The request scenarios add the per-worker peer.
        let servers = 5 + self.args.variant.len();
        let measurements = (self.rounds * servers * (13 + 6 + 3)) as u32;
        // The slowloris scenario: two rows, each opening thousands of
        // connections and waiting for a header deadline.
        let slowloris = Duration::from_secs(60) * (2 * self.rounds) as u32;
        per * measurements + slowloris + Duration::from_secs(600)
    }

    /// Whether `--only` lets the scenario `id` run.
    pub fn wanted(&self, id: &str) -> bool {
        self.args.only.is_empty() || self.args.only.iter().any(|o| id.contains(o.as_str()))
    }

    /// Prints a line above the progress bar.
    fn say(&self, line: &str) {
        self.progress.suspend(|| eprintln!("{line}"));
    }

    /// Records a note for the report and prints it.
    pub fn note(&mut self, note: String) {
        self.say(&format!("xtask bench: {note}"));
        self.notes.push(note);
    }

    /// Adds an empty table whose ratios are against the row `baseline`.
    pub fn add_table(&mut self, id: &str, title: &str, op: Op, baseline: &str) -> TableId {
        self.tables.push(Table::new(id, title, op, baseline));
        TableId(self.tables.len() - 1)
    }

    /// The median `metric` of `server` in the table `id`, if measured.
    pub fn figure(&self, id: &str, server: &str, metric: Metric) -> Option<f64> {
        self.tables.iter().find(|t| t.id == id)?.get(server, metric)
    }

    /// Marks table `t` as not run, for `reason` (also a note).
    pub fn skip(&mut self, t: TableId, reason: String) {
        self.note(format!("{}: skipped: {reason}", self.tables[t.0].id));
        self.tables[t.0].skipped = Some(reason);
    }

    /// Where a server's stderr goes for one measurement.
    pub fn log_path(&self, table: &str, server: &str, round: usize) -> PathBuf {
        let clean = |s: &str| s.replace(|c: char| !c.is_ascii_alphanumeric() && c != '-', "_");
        self.logs.join(format!(
            "{}-{}-r{}.log",
            clean(table),
            clean(server),
            round + 1
        ))
    }

    /// Measures every server of `specs` `rounds` times, taking turns
    /// (A B C A B C ...): each time the server is started afresh, `measure`
    /// is called with its spec, the running server and the round, the server is stopped, and what
    /// `measure` returned is filed, one result per table of `tables` in
    /// order. A server that fails to start fails all of them. `tag` names
    /// the step in the progress line and the log files. The tables are
    /// summarized at the end.
    pub fn in_rounds(
        &mut self,
        tag: &str,
        specs: &[ServerSpec],
        tables: &[TableId],
        mut measure: impl FnMut(
            &Bench,
            &ServerSpec,
            &mut RunningServer,
            usize,
        ) -> Vec<Result<Measured, String>>,
    ) {
        self.progress.inc_length((specs.len() * self.rounds) as u64);
        for round in 0..self.rounds {
            for spec in specs {
                self.step(&format!(
                    "{tag} · {} · round {}/{}",
                    spec.name,
                    round + 1,
                    self.rounds
                ));
                let log = self.log_path(tag, &spec.name, round);
                let mut spec = spec.clone();
                if self.args.pin {
                    spec.cpu = Some(1);
                }
                let spec = &spec;
                let results = match RunningServer::start(spec, &log) {
                    Ok(mut server) => {
                        let results = measure(self, spec, &mut server, round);
                        server.stop();
                        results
                    }
                    Err(e) => vec![Err(e); tables.len()],
                };
                for (&t, result) in tables.iter().zip(results) {
                    self.record(t, &spec.name, round, result);
                }
            }
        }
        for &t in tables {
            self.tables[t.0].summarize();
        }
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

    /// Files one measurement's outcome in table `t`.
    fn record(&mut self, t: TableId, server: &str, round: usize, result: Result<Measured, String>) {
        let id = &self.tables[t.0].id;
        match result {
            Ok(measured) => {
                for w in &measured.warnings {
                    self.say(&format!(
                        "xtask bench: {id} / {server} / round {}: {w}",
                        round + 1
                    ));
                }
                self.tables[t.0]
                    .row_mut(server)
                    .samples
                    .push(measured.figures);
            }
            Err(e) => {
                self.say(&format!(
                    "xtask bench: {id} / {server} / round {}: FAILED: {e}",
                    round + 1
                ));
                self.tables[t.0].row_mut(server).failures.push(e);
            }
        }
    }

    /// Writes the report files, prints the markdown, and says whether every
    /// measurement that should have run did.
    pub fn finish(mut self) -> ExitCode {
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
                pinned: self.args.pin,
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
        let mut ok = write_files(&report, &self.ws.out_dir());
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

/// Prints the markdown on stdout and writes `report.md`, `report.json` and
/// the charts ([`write_charts`]) into `out`; false if a file could not be
/// written.
fn write_files(report: &Report, out: &Path) -> bool {
    let markdown = report::render_markdown(report);
    print!("{markdown}");
    let md = said(
        out,
        "report.md",
        fs::write(out.join("report.md"), &markdown).map_err(|e| e.to_string()),
    );
    let json = said(
        out,
        "report.json",
        report::write_json(report, &out.join("report.json")),
    );
    let charts = write_charts(report, out);
    md && json && charts
}

/// Writes `chart.svg` and the curve charts that the report has the tables
/// for into `out`, saying what it wrote; false if a file could not be
/// written.
pub fn write_charts(report: &Report, out: &Path) -> bool {
    let bars = chart::write_svg(report, &out.join("chart.svg"));
    let mut ok = said(out, "chart.svg", bars);
    for (name, result) in curves::write_all(report, out) {
        ok &= said(out, name, result);
    }
    ok
}

/// Says that `name` was written into `out`, or why not; true if it was.
fn said(out: &Path, name: &str, result: Result<(), String>) -> bool {
    match result {
        Ok(()) => {
            eprintln!("xtask bench: wrote {}", out.join(name).display());
            true
        }
        Err(e) => {
            eprintln!("xtask bench: {name}: {e}");
            false
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
