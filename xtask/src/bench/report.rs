//! The results of a run and how they are written: a markdown table per
//! scenario (stdout and `report.md`) and the raw figures (`report.json`).

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::machine::Machine;
use super::stats;
use super::table::Table;
use super::targets::Target;

/// Everything a run measured, as saved in `report.json` (and read back by
/// `--charts-from`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    /// Where it ran.
    pub machine: Machine,
    /// How it ran.
    pub settings: Settings,
    /// One table per scenario, in run order.
    pub tables: Vec<Table>,
    /// Things the reader should know: skipped parts and why, limits hit.
    pub notes: Vec<String>,
    /// The targets, checked against this run.
    pub targets: Vec<Target>,
}

/// The knobs of a run (a field missing from a saved report, one written
/// before the field existed, reads as zero or empty).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Settings {
    /// Whether this was the `--quick` smoke test.
    pub quick: bool,
    /// Whether the load generator ran on CPU 0 and the servers on CPU 1.
    pub pinned: bool,
    /// Worker threads of every server.
    pub workers: usize,
    /// Client threads of the load generator.
    pub client_threads: usize,
    /// Warm-up before each window, seconds.
    pub warmup_s: f64,
    /// Measurement window, seconds.
    pub window_s: f64,
    /// Rounds: each server measured this many times per scenario, alternating.
    pub rounds: usize,
    /// Whether `perf` counted system calls and context switches.
    pub perf: bool,
    /// The command that produced this run.
    pub command: String,
    /// The source measured: git commit, and whether the tree had changes.
    pub revision: String,
}

/// Writes `report` as JSON (what [`read_merged`] reads) to `path`.
pub fn write_json(report: &Report, path: &Path) -> Result<(), String> {
    let json = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
    fs::write(path, json).map_err(|e| e.to_string())
}

/// Reads saved reports (`report.json`) into one: every file's tables, a
/// later file's replacing an earlier one's of the same id in its place;
/// machine, settings, notes and targets of the last file.
pub fn read_merged(paths: &[PathBuf]) -> Result<Report, String> {
    let mut merged: Option<Report> = None;
    for path in paths {
        let report: Report = fs::read_to_string(path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
        merged = Some(match merged {
            None => report,
            Some(earlier) => {
                let mut tables = earlier.tables;
                for table in report.tables.iter().cloned() {
                    match tables.iter_mut().find(|t| t.id == table.id) {
                        Some(same) => *same = table,
                        None => tables.push(table),
                    }
                }
                Report { tables, ..report }
            }
        });
    }
    merged.ok_or_else(|| "no report to read".into())
}

/// Renders the whole report as markdown.
pub fn render_markdown(report: &Report) -> String {
    let mut out = String::new();
    let m = &report.machine;
    let s = &report.settings;
    let _ = writeln!(
        out,
        "# mio-pool benchmark{}\n",
        if s.quick {
            " (--quick smoke test: figures are not meaningful)"
        } else {
            ""
        }
    );
    let _ = writeln!(out, "- command: `{}` at {}", s.command, s.revision);
    let _ = writeln!(
        out,
        "- machine: {} CPUs, {}, Linux {}",
        m.cpus, m.cpu_model, m.kernel
    );
    let _ = writeln!(
        out,
        "- load average (1 min) before the run: {:.2}; {}",
        m.load_before,
        if m.busy.is_empty() {
            "no compiler or linker seen running before any measurement".to_owned()
        } else {
            format!("also running during the run: {}", m.busy.join(", "))
        }
    );
    if s.pinned {
        let _ = writeln!(
            out,
            "- pinned (--pin): the load generator and load tools on CPU 0, each server on CPU 1"
        );
    }
    let _ = writeln!(
        out,
        "- {} server worker threads; load generator: {} client threads, closed loop, loopback; {:.2} s warm-up, {:.2} s window; {} round(s), servers alternating (A B C D A B C D ...); medians shown",
        s.workers, s.client_threads, s.warmup_s, s.window_s, s.rounds
    );
    let _ = writeln!(
        out,
        "- in parentheses: ratio to the first row (mio-pool's figure); CPU is the server's user+system time from /proc over the window{}",
        if s.perf {
            "; system calls and context switches from `perf stat` over the same window (its syscall tracepoint adds a little to every server's system calls alike)"
        } else {
            ""
        }
    );
    out.push('\n');
    for table in &report.tables {
        render_table(&mut out, table);
    }
    if !report.targets.is_empty() {
        let _ = writeln!(
            out,
            "## Targets\n\n| target | measured | met |\n|---|---|---|"
        );
        for t in &report.targets {
            let met = match t.met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "n/a",
            };
            let _ = writeln!(out, "| {} | {} | {met} |", t.goal, t.measured);
        }
        out.push('\n');
    }
    if !report.notes.is_empty() {
        let _ = writeln!(out, "## Notes\n");
        for note in &report.notes {
            let _ = writeln!(out, "- {note}");
        }
        out.push('\n');
    }
    out
}

/// Renders one scenario's table.
fn render_table(out: &mut String, table: &Table) {
    let _ = writeln!(out, "### {}\n", table.title);
    if let Some(reason) = &table.skipped {
        let _ = writeln!(out, "_skipped: {reason}_\n");
        return;
    }
    let columns = table.columns();
    let _ = write!(out, "| server |");
    for c in &columns {
        let _ = write!(out, " {} |", c.header(table.op));
    }
    let _ = write!(out, "\n|---|");
    for _ in &columns {
        out.push_str("---:|");
    }
    out.push('\n');
    for row in &table.rows {
        let _ = write!(out, "| {} |", row.server);
        for &c in &columns {
            let cell = match row.summary.get(&c) {
                None => "–".to_owned(),
                Some(&v) => match table.ratio(&row.server, c) {
                    Some(r) if row.server != table.baseline && c.has_ratio() => {
                        format!("{} ({})", c.format(v), stats::format_ratio(r))
                    }
                    _ => c.format(v),
                },
            };
            let _ = write!(out, " {cell} |");
        }
        out.push('\n');
    }
    out.push('\n');
    for row in &table.rows {
        if let Some(first) = row.failures.first() {
            let _ = writeln!(
                out,
                "- {}: {} of {} round(s) failed: {first}",
                row.server,
                row.failures.len(),
                row.failures.len() + row.samples.len()
            );
        }
    }
    if table.rows.iter().any(|r| !r.failures.is_empty()) {
        out.push('\n');
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::stats::{Figures, Metric, Op};

    /// A small report with a baseline, a peer and a failed round.
    pub(crate) fn sample_report() -> Report {
        let mut table = Table::new(
            "echo-64B-64c",
            "64-byte ping-pong, 64 connections",
            Op::ROUND_TRIP,
            "mio-pool",
        );
        table.row_mut("mio-pool").samples = vec![
            Figures::from([(Metric::Throughput, 100_000.0), (Metric::P99Us, 1000.0)]),
            Figures::from([(Metric::Throughput, 110_000.0), (Metric::P99Us, 1200.0)]),
        ];
        table.row_mut("tokio").samples = vec![Figures::from([
            (Metric::Throughput, 84_000.0),
            (Metric::P99Us, 2100.0),
        ])];
        table.row_mut("tokio").failures.push("tokio: exited".into());
        table.summarize();
        let mut skipped = Table::new("wrk-nginx", "HTTP: wrk", Op::REQUEST, "mio-pool http");
        skipped.skipped = Some("wrk is not installed".into());
        Report {
            machine: Machine {
                cpus: 2,
                cpu_model: "Test CPU".into(),
                kernel: "6.1.0".into(),
                load_before: 0.5,
                busy: vec![],
            },
            settings: Settings {
                quick: false,
                pinned: false,
                workers: 2,
                client_threads: 2,
                warmup_s: 0.5,
                window_s: 1.5,
                rounds: 2,
                perf: true,
                command: "cargo xtask bench".into(),
                revision: "abc1234".into(),
            },
            tables: vec![table, skipped],
            notes: vec!["nginx: not installed".into()],
            targets: vec![],
        }
    }

    #[test]
    fn rows_show_medians_and_ratios_to_the_baseline() {
        let md = render_markdown(&sample_report());
        assert!(md.contains("| server | round trips/s | p99 µs |"), "{md}");
        assert!(md.contains("| mio-pool | 105k | 1100 |"), "{md}");
        assert!(
            md.contains("| tokio | 84.0k (0.80x) | 2100 (1.91x) |"),
            "{md}"
        );
        assert!(
            md.contains("- tokio: 1 of 2 round(s) failed: tokio: exited"),
            "{md}"
        );
        assert!(md.contains("_skipped: wrk is not installed_"), "{md}");
        assert!(md.contains("- nginx: not installed"), "{md}");
    }

    #[test]
    fn saved_reports_read_back_merged_later_tables_winning() {
        let dir = crate::bench::curves::tests::temp_dir("read-merged");
        let mut earlier = crate::bench::curves::tests::curves_report();
        earlier.settings.workers = 4;
        let mut later = sample_report();
        later.tables.truncate(1);
        write_json(&earlier, &dir.join("a.json")).unwrap();
        write_json(&later, &dir.join("b.json")).unwrap();
        let one = read_merged(&[dir.join("a.json")]).unwrap();
        assert_eq!(one.tables.len(), earlier.tables.len());
        assert_eq!(one.tables[3].rows[2].samples, earlier.tables[3].rows[2].samples);
        assert_eq!(one.tables[2].rows[3].failures, ["connecting: timed out"]);
        assert_eq!(one.tables[0].op, Op::ROUND_TRIP);
        let merged = read_merged(&[dir.join("a.json"), dir.join("b.json")]).unwrap();
        let ids = |r: &Report| r.tables.iter().map(|t| t.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&merged), ids(&earlier));
        let replaced = merged.tables.iter().find(|t| t.id == "echo-64B-64c").unwrap();
        assert_eq!(replaced.title, later.tables[0].title);
        assert_eq!(replaced.rows.len(), 2);
        assert_eq!(merged.settings.workers, 2);
        // And the charts draw from what was read.
        assert!(crate::bench::run::write_charts(&merged, &dir));
        for chart in ["chart.svg", "load.svg", "connections.svg", "payload.svg"] {
            let svg = std::fs::read_to_string(dir.join(chart)).unwrap();
            assert!(svg.lines().any(|l| l.trim() == "tokio"), "{chart}");
        }
        assert!(read_merged(&[dir.join("missing.json")]).is_err());
        assert!(read_merged(&[]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn json_has_raw_samples() {
        let json = serde_json::to_value(sample_report()).unwrap();
        let rows = &json["tables"][0]["rows"];
        assert_eq!(rows[0]["samples"][1]["throughput"], 110_000.0);
        assert_eq!(rows[1]["summary"]["p99_us"], 2100.0);
    }
}
