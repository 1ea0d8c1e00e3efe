//! The curve charts of issue 12, each drawn when the report has the tables
//! for at least two points of its x axis:
//!
//! - `load.svg`: latency against offered load, from the open-loop scenarios
//!   `open-64B-{25,50,75,90}pct` (64 connections, a fixed schedule at that
//!   share of tokio's peak): p99 solid, p50 dashed, p99.9 dotted, on a log
//!   scale; below it each server's achieved rate over the offered one (under
//!   1: it fell behind the schedule).
//! - `connections.svg`: round trips/s, p99, CPU per round trip and RSS
//!   against connections (log scale), from `echo-64B-{N}c` (1, 64, 512,
//!   4,096 and 16,000; `--quick`: 1,024 for the big one).
//! - `payload.svg`: the same four against the message size at 64
//!   connections, from `echo-{64B,1KiB,16KiB}-64c`.
//!
//! One line per server, in its `chart.svg` colour, through the medians over
//! rounds; at each point a bar spans the rounds' minimum to maximum. Where a
//! server has no figure (its rounds failed) the point is missing and its
//! line breaks there.

use std::error::Error;
use std::ops::Range;
use std::path::Path;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::Shift;
use plotters::prelude::*;

use super::chart;
use super::latency;
use super::report::Report;
use super::stats::{self, Metric};
use super::table::{Row, Table};

/// Width of every curve chart.
const WIDTH: u32 = 1100;

/// One figure of a panel and how its line is drawn.
#[derive(Debug, Clone, Copy)]
struct Series {
    /// The figure.
    metric: Metric,
    /// Divided by the table's offered rate (open loop): achieved / offered.
    per_offered: bool,
    /// How the line is drawn.
    stroke: Stroke,
}

/// A line's pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stroke {
    /// Solid, with a marker and the min-max bar at each point.
    Solid,
    /// Dashed.
    Dashed,
    /// Dotted.
    Dotted,
}

/// One panel: a caption, its lines, and whether y is a log scale.
#[derive(Debug, Clone, Copy)]
struct Panel {
    /// Caption above the panel.
    caption: &'static str,
    /// The lines of every server.
    series: &'static [Series],
    /// Log scale (decades) rather than linear from zero.
    log_y: bool,
}

/// One chart file.
#[derive(Debug)]
struct Chart {
    /// File name in the output directory.
    file: &'static str,
    /// Title, before [`chart::about`].
    title: &'static str,
    /// Description of the x axis, followed by its points.
    x_desc: &'static str,
    /// The x point of a table id, `None` for other scenarios' tables.
    x_of: fn(&str) -> Option<u64>,
    /// Tick label of an x value.
    x_tick: fn(f64) -> String,
    /// Base of a log x axis; `None`: linear.
    x_log: Option<f64>,
    /// Panels, in rows of `columns`.
    panels: &'static [Panel],
    /// Panels per row.
    columns: usize,
    /// Height of a row of panels.
    row_height: u32,
}

/// A solid series of `metric`.
const fn solid(metric: Metric) -> Series {
    Series {
        metric,
        per_offered: false,
        stroke: Stroke::Solid,
    }
}

/// The four panels of "how cost grows".
const COST: [Panel; 4] = [
    Panel {
        caption: "round trips/s",
        series: &[solid(Metric::Throughput)],
        log_y: false,
    },
    Panel {
        caption: "p99 latency µs (log; lower is better)",
        series: &[solid(Metric::P99Us)],
        log_y: true,
    },
    Panel {
        caption: "server CPU µs per round trip (lower is better)",
        series: &[solid(Metric::CpuUsPerOp)],
        log_y: false,
    },
    Panel {
        caption: "server RSS MiB at the end of the window (log)",
        series: &[solid(Metric::RssMib)],
        log_y: true,
    },
];

/// The three charts.
const CHARTS: [Chart; 3] = [
    Chart {
        file: "load.svg",
        title: "Latency against offered load: 64 connections, 64-byte requests on a fixed schedule",
        x_desc: "offered load, % of tokio's peak round trips/s",
        x_of: load_level,
        x_tick: |v| format!("{v}%"),
        x_log: None,
        panels: &[
            Panel {
                caption: "latency µs from the due time (log): p99 solid, p50 dashed, p99.9 dotted",
                series: &[
                    solid(Metric::P99Us),
                    Series {
                        metric: Metric::P50Us,
                        per_offered: false,
                        stroke: Stroke::Dashed,
                    },
                    Series {
                        metric: Metric::P999Us,
                        per_offered: false,
                        stroke: Stroke::Dotted,
                    },
                ],
                log_y: true,
            },
            Panel {
                caption: "achieved / offered rate (under 1: fell behind the schedule)",
                series: &[Series {
                    metric: Metric::Throughput,
                    per_offered: true,
                    stroke: Stroke::Solid,
                }],
                log_y: false,
            },
        ],
        columns: 1,
        row_height: 330,
    },
    Chart {
        file: "connections.svg",
        title: "How cost grows with connections: 64-byte ping-pong",
        x_desc: "connections (log)",
        x_of: connections,
        x_tick: count_tick,
        x_log: Some(10.0),
        panels: &COST,
        columns: 2,
        row_height: 340,
    },
    Chart {
        file: "payload.svg",
        title: "How cost grows with the message: ping-pong at 64 connections",
        x_desc: "message size (log)",
        x_of: payload,
        x_tick: bytes_tick,
        x_log: Some(4.0),
        panels: &COST,
        columns: 2,
        row_height: 340,
    },
];

/// Width of the solid lines (and the legend's swatches); dashed ones are
/// thinner.
const SOLID_WIDTH: u32 = 3;

/// Heights of the title, the legend and the note at the bottom.
const TITLE_HEIGHT: u32 = 40;
/// See [`TITLE_HEIGHT`].
const LEGEND_HEIGHT: u32 = 28;
/// See [`TITLE_HEIGHT`].
const NOTE_HEIGHT: u32 = 24;

/// Writes every curve chart that the report has at least two points of
/// into `dir`; returns the file name and the outcome of each one written.
pub fn write_all(report: &Report, dir: &Path) -> Vec<(&'static str, Result<(), String>)> {
    CHARTS
        .iter()
        .filter_map(|c| {
            let points = points(c, report);
            (points.len() >= 2).then(|| {
                let result = draw(c, report, &points, &dir.join(c.file))
                    .map_err(|e| format!("{}: {e}", c.file));
                (c.file, result)
            })
        })
        .collect()
}

/// The tables of `chart`'s scenarios that have figures, by x, ascending.
fn points<'a>(chart: &Chart, report: &'a Report) -> Vec<(f64, &'a Table)> {
    let mut points: Vec<(u64, &Table)> = report
        .tables
        .iter()
        .filter(|t| t.skipped.is_none() && t.rows.iter().any(|r| !r.summary.is_empty()))
        .filter_map(|t| Some(((chart.x_of)(&t.id)?, t)))
        .collect();
    points.sort_by_key(|&(x, _)| x);
    points.into_iter().map(|(x, t)| (x as f64, t)).collect()
}

/// Connections of a 64-byte echo scenario: `echo-64B-4096c` is 4096.
fn connections(id: &str) -> Option<u64> {
    id.strip_prefix("echo-64B-")?.strip_suffix('c')?.parse().ok()
}

/// Message size in bytes of an echo scenario at 64 connections:
/// `echo-1KiB-64c` is 1024.
fn payload(id: &str) -> Option<u64> {
    let size = id.strip_prefix("echo-")?.strip_suffix("-64c")?;
    let (number, unit) = size.split_at(size.find(|c: char| !c.is_ascii_digit())?);
    let unit = match unit {
        "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        _ => return None,
    };
    Some(number.parse::<u64>().ok()? * unit)
}

/// Load level in percent of an open-loop scenario: `open-64B-75pct` is 75.
fn load_level(id: &str) -> Option<u64> {
    id.strip_prefix("open-64B-")?.strip_suffix("pct")?.parse().ok()
}

/// A count as an axis tick: `1`, `100`, `4096`, `10k`.
fn count_tick(v: f64) -> String {
    if v >= 1000.0 && v % 1000.0 == 0.0 {
        format!("{}k", v / 1000.0)
    } else {
        format!("{v}")
    }
}

/// A size in bytes as an axis tick: `64 B`, `1 KiB`, `16 KiB`.
fn bytes_tick(v: f64) -> String {
    match v {
        _ if v >= 1024.0 * 1024.0 => format!("{} MiB", v / (1024.0 * 1024.0)),
        _ if v >= 1024.0 => format!("{} KiB", v / 1024.0),
        _ => format!("{v} B"),
    }
}

/// A y value as a tick: [`stats::format_si`] without trailing zeros.
fn y_tick(v: f64) -> String {
    let s = stats::format_si(v);
    let digits = s.trim_end_matches(['k', 'M']);
    let suffix = &s[digits.len()..];
    if digits.contains('.') {
        format!("{}{suffix}", digits.trim_end_matches('0').trim_end_matches('.'))
    } else {
        s
    }
}

/// One server's line in one panel: at each x, the median and the range
/// over rounds, or `None` where the server has no figure.
struct Line {
    /// The server's colour.
    colour: RGBColor,
    /// How it is drawn.
    stroke: Stroke,
    /// `(x, median, min, max)`, one entry per x point.
    points: Vec<Option<(f64, f64, f64, f64)>>,
}

impl Line {
    /// Runs of two or more consecutive present points, as `(x, median)`:
    /// where the line is drawn unbroken (a lone point is only its marker).
    fn segments(&self) -> Vec<Vec<(f64, f64)>> {
        self.points
            .split(Option::is_none)
            .filter(|run| run.len() >= 2)
            .map(|run| run.iter().flatten().map(|&(x, m, _, _)| (x, m)).collect())
            .collect()
    }
}

/// The value of `series` in one table's row: median and range over rounds.
fn value(series: Series, table: &Table, row: &Row) -> Option<(f64, f64, f64)> {
    let scale = if series.per_offered {
        1.0 / latency::offered_rate(&table.title)?
    } else {
        1.0
    };
    let median = row.summary.get(&series.metric)? * scale;
    let samples = row.samples.iter().filter_map(|s| s.get(&series.metric));
    let (lo, hi) = samples.fold((median, median), |(lo, hi), &v| {
        (lo.min(v * scale), hi.max(v * scale))
    });
    Some((median, lo, hi))
}

/// The servers with a figure at some point, and their colours, in the
/// order and colours of `chart.svg`.
fn servers<'a>(report: &'a Report, points: &[(f64, &Table)]) -> Vec<(&'a str, RGBColor)> {
    chart::servers(report)
        .into_iter()
        .enumerate()
        .filter(|(_, s)| {
            points
                .iter()
                .any(|(_, t)| t.rows.iter().any(|r| r.server == *s && !r.summary.is_empty()))
        })
        .map(|(i, s)| (s, chart::colour(i)))
        .collect()
}

/// Draws one chart into `path`.
fn draw(
    chart: &Chart,
    report: &Report,
    points: &[(f64, &Table)],
    path: &Path,
) -> Result<(), Box<dyn Error>> {
    let servers = servers(report, points);
    let rows = chart.panels.len().div_ceil(chart.columns) as u32;
    let height = TITLE_HEIGHT + LEGEND_HEIGHT + rows * chart.row_height + NOTE_HEIGHT;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!("{} {}", chart.title, chart::about(report));
    let root = root.titled(&title, ("sans-serif", 22))?;
    let (legend, rest) = root.split_vertically(LEGEND_HEIGHT);
    let (body, note) = rest.split_vertically(rows * chart.row_height);
    draw_legend(&legend, &servers)?;
    note.draw(&Text::new(
        "Lines through the medians over rounds; bars: the rounds' minimum to maximum. \
         A missing point: that server's rounds failed there (its line breaks).",
        (12, 4),
        ("sans-serif", 15),
    ))?;
    let xs: Vec<f64> = points.iter().map(|&(x, _)| x).collect();
    let areas = body.split_evenly((rows as usize, chart.columns));
    for (panel, area) in chart.panels.iter().zip(&areas) {
        let lines: Vec<Line> = servers
            .iter()
            .flat_map(|&(server, colour)| {
                panel.series.iter().map(move |&series| Line {
                    colour,
                    stroke: series.stroke,
                    points: points
                        .iter()
                        .map(|&(x, table)| {
                            let row = table.rows.iter().find(|r| r.server == server)?;
                            let (m, lo, hi) = value(series, table, row)?;
                            Some((x, m, lo, hi))
                        })
                        .collect(),
                })
            })
            .collect();
        draw_panel(area, chart, panel, &xs, &lines)?;
    }
    root.present()?;
    Ok(())
}

/// The strip under the title: each server's colour and name.
fn draw_legend(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    servers: &[(&str, RGBColor)],
) -> Result<(), Box<dyn Error>> {
    let mut x = 60;
    for &(server, colour) in servers {
        area.draw(&PathElement::new(
            vec![(x, 12), (x + 24, 12)],
            colour.stroke_width(SOLID_WIDTH),
        ))?;
        area.draw(&Circle::new((x + 12, 12), 3, colour.filled()))?;
        area.draw(&Text::new(server, (x + 30, 4), ("sans-serif", 18)))?;
        x += 60 + 9 * server.chars().count() as i32;
    }
    Ok(())
}

/// One panel: chooses the coordinate types (linear or log on each axis).
fn draw_panel(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    panel: &Panel,
    xs: &[f64],
    lines: &[Line],
) -> Result<(), Box<dyn Error>> {
    let (first, last) = (xs[0], xs[xs.len() - 1]);
    let values = lines
        .iter()
        .flat_map(|l| l.points.iter().flatten())
        .flat_map(|&(_, _, lo, hi)| [lo, hi]);
    let y = y_range(values, panel.log_y);
    match chart.x_log {
        None => {
            let pad = (last - first) * 0.08;
            let x = (first - pad)..(last + pad);
            if panel.log_y {
                plot(area, chart, panel, (xs, x), y.log_scale(), lines)
            } else {
                plot(area, chart, panel, (xs, x), y, lines)
            }
        }
        Some(base) => {
            let x = (first / 1.5..last * 1.5).log_scale().base(base);
            if panel.log_y {
                plot(area, chart, panel, (xs, x), y.log_scale(), lines)
            } else {
                plot(area, chart, panel, (xs, x), y, lines)
            }
        }
    }
}

/// The y range that holds `values`: from zero with some headroom, or (log)
/// whole decades, so that every log axis has labelled ticks.
fn y_range(values: impl Iterator<Item = f64>, log: bool) -> Range<f64> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && (!log || *v > 0.0))
        .fold((f64::INFINITY, 0.0_f64), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if log {
        if lo > hi {
            return 1.0..10.0;
        }
        let lo = 10f64.powf(lo.log10().floor());
        let hi = 10f64.powf(hi.log10().ceil()).max(lo * 10.0);
        lo..hi
    } else {
        0.0..(hi * 1.15).max(1e-9)
    }
}

/// Draws a panel's mesh and lines on the given coordinates.
fn plot<X, Y>(
    area: &DrawingArea<SVGBackend<'_>, Shift>,
    chart: &Chart,
    panel: &Panel,
    (xs, x): (&[f64], X),
    y: Y,
    lines: &[Line],
) -> Result<(), Box<dyn Error>>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let points: Vec<String> = xs.iter().map(|&x| (chart.x_tick)(x)).collect();
    let x_desc = format!("{}: {}", chart.x_desc, points.join(", "));
    let mut ctx = ChartBuilder::on(area)
        .caption(panel.caption, ("sans-serif", 17))
        .margin(10)
        .x_label_area_size(44)
        .y_label_area_size(60)
        .build_cartesian_2d(x, y)?;
    ctx.configure_mesh()
        .max_light_lines(2)
        .x_labels(8)
        .y_labels(8)
        .x_label_formatter(&|v| (chart.x_tick)(*v))
        .y_label_formatter(&|v| y_tick(*v))
        .x_desc(x_desc)
        .label_style(("sans-serif", 15))
        .axis_desc_style(("sans-serif", 15))
        .draw()?;
    for line in lines {
        for segment in line.segments() {
            match line.stroke {
                Stroke::Solid => {
                    let style = line.colour.stroke_width(SOLID_WIDTH);
                    ctx.draw_series(LineSeries::new(segment, style))?;
                }
                Stroke::Dashed => {
                    let style = line.colour.stroke_width(2);
                    ctx.draw_series(DashedLineSeries::new(segment, 7, 5, style))?;
                }
                Stroke::Dotted => {
                    let colour = line.colour;
                    ctx.draw_series(DottedLineSeries::new(segment, 0, 6, move |c| {
                        Circle::new(c, 1, colour.filled())
                    }))?;
                }
            }
        }
        if line.stroke == Stroke::Solid {
            // The marker (the median) and the rounds' range.
            let bar = line.colour.filled().stroke_width(1);
            ctx.draw_series(line.points.iter().flatten().map(|&(x, m, lo, hi)| {
                ErrorBar::new_vertical(x, lo, m, hi, bar, 7)
            }))?;
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::bench::report::tests::sample_report;
    use crate::bench::stats::{Figures, Op};

    /// Servers of [`curves_report`], in run order.
    const SERVERS: [&str; 5] = ["mio-pool", "no-yield", "tokio", "threads", "bare-mio"];

    /// A table of `id` with two rounds for every server, whose figures
    /// grow with `x`; `threads` fails every round where `threads_fail`.
    fn table(id: &str, title: &str, x: f64, threads_fail: bool) -> Table {
        let mut t = Table::new(id, title, Op::ROUND_TRIP, "mio-pool");
        for (i, server) in SERVERS.into_iter().enumerate() {
            let row = t.row_mut(server);
            if server == "threads" && threads_fail {
                row.failures.push("connecting: timed out".into());
                continue;
            }
            let k = 1.0 + i as f64 / 10.0;
            row.samples = [0.95, 1.05]
                .map(|r| {
                    Figures::from([
                        (Metric::Throughput, 80_000.0 * r / k),
                        (Metric::P50Us, 100.0 * x.sqrt() * k * r),
                        (Metric::P99Us, 400.0 * x.sqrt() * k * r),
                        (Metric::P999Us, 900.0 * x.sqrt() * k * r),
                        (Metric::CpuUsPerOp, 12.0 * k * r),
                        (Metric::RssMib, 3.0 + x / 100.0 * k * r),
                    ])
                })
                .to_vec();
        }
        t.summarize();
        t
    }

    /// A report with every scenario the curves read (`threads` failed at
    /// 512 connections) and some they must not.
    pub(crate) fn curves_report() -> Report {
        let mut tables = Vec::new();
        for conns in [1, 64, 512, 4096, 16_000] {
            let id = format!("echo-64B-{conns}c");
            tables.push(table(&id, &id, f64::from(conns), conns == 512));
        }
        for (size, bytes) in [("1KiB", 1024.0), ("16KiB", 16_384.0)] {
            let id = format!("echo-{size}-64c");
            tables.push(table(&id, &id, bytes, false));
        }
        for level in latency::LEVELS {
            let title = format!("open loop: 64 connections, 64-byte requests at {level}% of tokio's peak ({}/s), latency from the due time", 800 * level);
            tables.push(table(&latency::id(level), &title, f64::from(level), false));
        }
        tables.push(table("uneven-64B-64c", "uneven", 64.0, false));
        tables.push(table("tls-echo-64B-64c", "tls", 64.0, false));
        Report {
            tables,
            ..sample_report()
        }
    }

    /// A fresh temporary directory for one test.
    pub(crate) fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Solid polylines (lines and legend swatches) drawn in `colour`.
    fn polylines(svg: &str, colour: RGBColor) -> usize {
        let (r, g, b) = (colour.0, colour.1, colour.2);
        let stroke = format!("stroke=\"#{r:02X}{g:02X}{b:02X}\" stroke-width=\"{SOLID_WIDTH}\"");
        svg.split("<polyline")
            .skip(1)
            .filter(|p| p.split('>').next().unwrap().contains(&stroke))
            .count()
    }

    #[test]
    fn x_points_come_from_scenario_ids() {
        assert_eq!(connections("echo-64B-4096c"), Some(4096));
        assert_eq!(connections("echo-64B-1c"), Some(1));
        assert_eq!(payload("echo-1KiB-64c"), Some(1024));
        assert_eq!(payload("echo-16KiB-64c"), Some(16_384));
        assert_eq!(payload("echo-64B-64c"), Some(64));
        assert_eq!(load_level("open-64B-75pct"), Some(75));
        assert_eq!(load_level(&latency::id(90)), Some(90));
        for other in ["echo-16KiB-64c", "tls-echo-64B-64c", "uneven-64B-64c", "echo-64B-c", "idle", "churn"] {
            assert_eq!(connections(other), None, "{other}");
        }
        for other in ["echo-64B-512c", "large-64KiB-16c", "echo-1KB-64c", "echo-KiB-64c", "tls-echo-64B-64c"] {
            assert_eq!(payload(other), None, "{other}");
        }
        for other in ["open-64B-75", "open-1KiB-75pct", "echo-64B-64c", "open-64B-pct"] {
            assert_eq!(load_level(other), None, "{other}");
        }
    }

    #[test]
    fn every_chart_has_a_line_per_server_broken_where_it_failed() {
        let dir = temp_dir("curves");
        let report = curves_report();
        let written = write_all(&report, &dir);
        let names: Vec<&str> = written.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["load.svg", "connections.svg", "payload.svg"]);
        let order = chart::servers(&report);
        for (name, result) in written {
            result.unwrap();
            let svg = std::fs::read_to_string(dir.join(name)).unwrap();
            assert!(svg.starts_with("<svg"), "{name}");
            for server in SERVERS {
                let legend = svg.lines().any(|l| l.trim() == server);
                assert!(legend, "{name}: no legend for {server}");
                let i = order.iter().position(|s| *s == server).unwrap();
                let lines = polylines(&svg, chart::colour(i));
                // The legend's swatch, then one solid line per panel (the
                // load chart: one in each of its two panels), two where the
                // line breaks at the failed point.
                let expected = match (name, server) {
                    ("load.svg", _) => 1 + 2,
                    ("connections.svg", "threads") => 1 + 4 * 2,
                    _ => 1 + 4,
                };
                assert_eq!(lines, expected, "{name}: {server}");
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn lines_break_at_missing_points() {
        let p = |x: f64| Some((x, x * 10.0, x, x));
        let line = Line {
            colour: chart::colour(0),
            stroke: Stroke::Dashed,
            points: vec![p(1.0), None, p(3.0), p(4.0), p(5.0), None, None, p(8.0), p(9.0)],
        };
        assert_eq!(
            line.segments(),
            [
                vec![(3.0, 30.0), (4.0, 40.0), (5.0, 50.0)],
                vec![(8.0, 80.0), (9.0, 90.0)]
            ]
        );
    }

    #[test]
    fn a_chart_needs_two_points() {
        let mut report = curves_report();
        report
            .tables
            .retain(|t| ["echo-64B-64c", "open-64B-50pct"].contains(&t.id.as_str()));
        let dir = temp_dir("curves-two");
        assert!(write_all(&report, &dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn values_are_the_median_and_the_rounds_range() {
        let report = curves_report();
        let t = &report.tables[0];
        let row = &t.rows[0];
        let (m, lo, hi) = value(solid(Metric::Throughput), t, row).unwrap();
        assert_eq!((m, lo, hi), (80_000.0, 76_000.0, 84_000.0));
        let open = report.tables.iter().find(|t| t.id == "open-64B-50pct").unwrap();
        let achieved = Series {
            per_offered: true,
            ..solid(Metric::Throughput)
        };
        let (m, lo, _) = value(achieved, open, &open.rows[0]).unwrap();
        assert_eq!(m, 2.0);
        assert!((lo - 1.9).abs() < 1e-9, "{lo}");
        // No offered rate in the title: no achieved share.
        assert_eq!(value(achieved, t, row), None);
    }

    #[test]
    fn ticks_and_ranges() {
        assert_eq!(count_tick(1.0), "1");
        assert_eq!(count_tick(10_000.0), "10k");
        assert_eq!(count_tick(4096.0), "4096");
        assert_eq!(bytes_tick(64.0), "64 B");
        assert_eq!(bytes_tick(16_384.0), "16 KiB");
        assert_eq!(y_tick(1000.0), "1k");
        assert_eq!(y_tick(90_500.0), "90.5k");
        assert_eq!(y_tick(0.5), "0.5");
        assert_eq!(y_tick(120.0), "120");
        assert_eq!(y_range([35.0, 2100.0].into_iter(), true), 10.0..10_000.0);
        assert_eq!(y_range([100.0].into_iter(), true), 100.0..1000.0);
        assert_eq!(y_range([10.0, 20.0].into_iter(), false), 0.0..23.0);
        assert_eq!(y_range(std::iter::empty(), true), 1.0..10.0);
    }
}
