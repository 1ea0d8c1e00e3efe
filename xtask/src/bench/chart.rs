//! The SVG chart: throughput and p99 latency per server, one row of two
//! bar panels per scenario.

use std::error::Error;
use std::path::Path;

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::report::Report;
use super::stats::{self, Metric};
use super::table::Table;

/// Width of the chart in pixels.
const WIDTH: u32 = 1100;
/// Height of one scenario's row of panels.
const ROW_HEIGHT: u32 = 230;
/// Height of the title strip.
const TITLE_HEIGHT: u32 = 40;

/// Writes the chart of every scenario that has figures to `path`.
pub fn write_svg(report: &Report, path: &Path) -> Result<(), String> {
    draw(report, path).map_err(|e| format!("chart: {e}"))
}

/// Draws the chart; plotters' errors are boxed.
fn draw(report: &Report, path: &Path) -> Result<(), Box<dyn Error>> {
    let tables = charted(report);
    let servers = servers(report);
    let height = TITLE_HEIGHT + ROW_HEIGHT * tables.len().max(1) as u32;
    let root = SVGBackend::new(path, (WIDTH, height)).into_drawing_area();
    root.fill(&WHITE)?;
    let title = format!(
        "mio-pool and its peers: throughput and p99 latency {}",
        about(report)
    );
    let root = root.titled(&title, ("sans-serif", 18))?;
    if tables.is_empty() {
        root.present()?;
        return Ok(());
    }
    let panels = root.split_evenly((tables.len(), 2));
    for (i, table) in tables.iter().enumerate() {
        for (j, metric) in [Metric::Throughput, Metric::P99Us].into_iter().enumerate() {
            panel(&panels[2 * i + j], table, metric, &servers)?;
        }
    }
    root.present()?;
    Ok(())
}

/// The tables with figures to chart.
fn charted(report: &Report) -> Vec<&Table> {
    report
        .tables
        .iter()
        .filter(|t| {
            t.skipped.is_none()
                && t.rows
                    .iter()
                    .any(|r| r.summary.contains_key(&Metric::Throughput))
        })
        .collect()
}

/// The servers of the charted tables in order of first appearance: the
/// `i`th is drawn in [`colour`]`(i)` in every chart of the run.
pub fn servers(report: &Report) -> Vec<&str> {
    let mut servers: Vec<&str> = Vec::new();
    for row in charted(report).into_iter().flat_map(|t| &t.rows) {
        if !servers.contains(&row.server.as_str()) {
            servers.push(&row.server);
        }
    }
    servers
}

/// The colour of the `i`th server: ten well-separated colours that read on
/// white (no yellow), then around again.
pub fn colour(i: usize) -> RGBColor {
    const COLOURS: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = COLOURS[i % COLOURS.len()];
    RGBColor(r, g, b)
}

/// What a chart title says about the run: `(2 workers, CPU model)`, and a
/// warning for `--quick`.
pub fn about(report: &Report) -> String {
    format!(
        "({} workers, {}){}",
        report.settings.workers,
        report.machine.cpu_model,
        if report.settings.quick {
            " [--quick: not meaningful]"
        } else {
            ""
        }
    )
}

/// One bar panel: `metric` for each server of `table`.
fn panel(
    area: &DrawingArea<SVGBackend<'_>, plotters::coord::Shift>,
    table: &Table,
    metric: Metric,
    servers: &[&str],
) -> Result<(), Box<dyn Error>> {
    let bars: Vec<(&str, f64)> = table
        .rows
        .iter()
        .filter_map(|r| Some((r.server.as_str(), *r.summary.get(&metric)?)))
        .collect();
    let top = bars.iter().map(|&(_, v)| v).fold(0.0, f64::max).max(1e-9) * 1.2;
    let mut chart = ChartBuilder::on(area)
        .caption(
            format!(
                "{}: {}{}",
                table.title,
                metric.header(table.op),
                if metric == Metric::Throughput {
                    ""
                } else {
                    " (lower is better)"
                }
            ),
            ("sans-serif", 13),
        )
        .margin(8)
        .x_label_area_size(22)
        .y_label_area_size(52)
        .build_cartesian_2d((0..bars.len().saturating_sub(1)).into_segmented(), 0.0..top)?;
    let label = |v: &SegmentValue<usize>| match v {
        SegmentValue::CenterOf(i) => bars.get(*i).map_or(String::new(), |b| b.0.to_owned()),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .disable_x_mesh()
        .max_light_lines(1)
        .x_labels(bars.len().max(1))
        .x_label_formatter(&label)
        .y_labels(5)
        .y_label_formatter(&|v| stats::format_si(*v))
        .draw()?;
    let colour = |server: &str| colour(servers.iter().position(|s| *s == server).unwrap_or(0));
    chart.draw_series(bars.iter().enumerate().map(|(i, &(server, value))| {
        let mut bar = Rectangle::new(
            [
                (SegmentValue::Exact(i), 0.0),
                (SegmentValue::Exact(i + 1), value),
            ],
            colour(server).filled(),
        );
        bar.set_margin(0, 0, 10, 10);
        bar
    }))?;
    // Centred over its bar, bottom edge a little above the bar's top.
    let value_style =
        TextStyle::from(("sans-serif", 11).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    chart.draw_series(bars.iter().enumerate().map(|(i, &(_, value))| {
        Text::new(
            metric.format(value),
            (SegmentValue::CenterOf(i), value + top * 0.03),
            value_style.clone(),
        )
    }))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::report::tests::sample_report;

    #[test]
    fn writes_an_svg_with_every_server() {
        let dir = std::env::temp_dir().join(format!("xtask-chart-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("chart.svg");
        write_svg(&sample_report(), &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(svg.starts_with("<svg"));
        assert!(svg.contains("mio-pool") && svg.contains("tokio"));
        assert!(svg.contains("<rect"));
    }
}
