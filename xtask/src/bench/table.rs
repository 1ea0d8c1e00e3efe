//! One scenario's results: a row per server, each with its samples (one
//! per round), failures and medians, and the ratios to the baseline row.
//! Shared by the report (which renders it) and the targets (which read it).

use serde::{Deserialize, Serialize};

use super::stats::{self, Figures, Metric, Op};

/// One scenario: every server's figures under the same load.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Table {
    /// Short stable name, used by `--only` and in `report.json`.
    pub id: String,
    /// Heading.
    pub title: String,
    /// What one operation is.
    pub op: Op,
    /// The row that ratios are taken against (mio-pool's).
    pub baseline: String,
    /// One row per server, in run order.
    pub rows: Vec<Row>,
    /// Why the scenario did not run, if it did not.
    pub skipped: Option<String>,
}

/// One server in one scenario.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Row {
    /// Server name.
    pub server: String,
    /// One entry per successful round.
    pub samples: Vec<Figures>,
    /// Why rounds failed, one entry per failed round.
    pub failures: Vec<String>,
    /// Per-metric median over `samples`.
    pub summary: Figures,
}

impl Table {
    /// An empty table whose ratios are against `baseline`.
    pub fn new(id: &str, title: &str, op: Op, baseline: &str) -> Table {
        Table {
            id: id.to_owned(),
            title: title.to_owned(),
            op,
            baseline: baseline.to_owned(),
            rows: Vec::new(),
            skipped: None,
        }
    }

    /// The row of `server`, created empty on first use.
    pub fn row_mut(&mut self, server: &str) -> &mut Row {
        if let Some(i) = self.rows.iter().position(|r| r.server == server) {
            return &mut self.rows[i];
        }
        self.rows.push(Row {
            server: server.to_owned(),
            samples: Vec::new(),
            failures: Vec::new(),
            summary: Figures::new(),
        });
        self.rows.last_mut().expect("just pushed")
    }

    /// Recomputes every row's medians.
    pub fn summarize(&mut self) {
        for row in &mut self.rows {
            row.summary = stats::summarize(&row.samples);
        }
    }

    /// A server's median figure, if measured.
    pub fn get(&self, server: &str, metric: Metric) -> Option<f64> {
        self.rows
            .iter()
            .find(|r| r.server == server)?
            .summary
            .get(&metric)
            .copied()
    }

    /// A server's median figure divided by the baseline's.
    pub fn ratio(&self, server: &str, metric: Metric) -> Option<f64> {
        stats::ratio(self.get(server, metric)?, self.get(&self.baseline, metric)?)
    }

    /// The metrics that some row has, in column order.
    pub fn columns(&self) -> Vec<Metric> {
        Metric::ALL
            .into_iter()
            .filter(|m| self.rows.iter().any(|r| r.summary.contains_key(m)))
            .collect()
    }
}
