//! Results as a table for people or JSON for scripts, each figure next to
//! its target from the issue.

use std::fmt::Write as _;

use serde::Serialize;

use crate::stats::LatencySummary;

/// One line of results: a measured operation or a single figure.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub bench: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub concurrency: Option<usize>,
    pub ops: u64,
    pub errors: u64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ops_per_second: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency: Option<LatencySummary>,
    /// A figure that is not a rate, already with its unit ("23.1 MiB").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    pub checks: Vec<Check>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// A target from the issue and whether this run met it.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub target: String,
    pub met: bool,
}

impl Check {
    pub fn at_least(what: &str, actual: f64, target: f64) -> Self {
        Self {
            target: format!("{what} >= {target}"),
            met: actual >= target,
        }
    }

    pub fn below(what: &str, actual: f64, target: f64) -> Self {
        Self {
            target: format!("{what} < {target}"),
            met: actual < target,
        }
    }

    pub fn holds(target: &str, met: bool) -> Self {
        Self {
            target: target.to_string(),
            met,
        }
    }
}

impl Row {
    /// A row that carries only a figure, such as a memory reading.
    pub fn figure(bench: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            bench: bench.into(),
            concurrency: None,
            ops: 0,
            errors: 0,
            seconds: 0.0,
            ops_per_second: None,
            latency: None,
            value: Some(value.into()),
            checks: Vec::new(),
            first_error: None,
        }
    }

    pub fn check(mut self, check: Check) -> Self {
        self.checks.push(check);
        self
    }
}

/// Everything one subcommand measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub title: String,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl Report {
    pub fn new(title: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            rows: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Writes the report to standard output as JSON or as a table.
    pub fn print(&self, as_json: bool) -> std::io::Result<()> {
        let text = if as_json {
            serde_json::to_string_pretty(self)? + "\n"
        } else {
            self.table()
        };
        let mut out = std::io::stdout().lock();
        std::io::Write::write_all(&mut out, text.as_bytes())?;
        std::io::Write::flush(&mut out)
    }

    /// The report as an aligned text table followed by errors and notes.
    pub fn table(&self) -> String {
        let header = [
            "benchmark",
            "conc",
            "ops",
            "errors",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "value",
            "target",
        ];
        let mut lines: Vec<[String; 9]> = vec![header.map(String::from)];
        for row in &self.rows {
            let figure_only = row.value.is_some() && row.ops == 0 && row.errors == 0;
            lines.push([
                row.bench.clone(),
                row.concurrency.map(|c| c.to_string()).unwrap_or_default(),
                if figure_only {
                    String::new()
                } else {
                    row.ops.to_string()
                },
                if figure_only {
                    String::new()
                } else {
                    row.errors.to_string()
                },
                row.ops_per_second
                    .map(|rate| format!("{rate:.0}"))
                    .unwrap_or_default(),
                row.latency
                    .map(|l| format!("{:.2}", l.p50_ms))
                    .unwrap_or_default(),
                row.latency
                    .map(|l| format!("{:.2}", l.p99_ms))
                    .unwrap_or_default(),
                row.value.clone().unwrap_or_default(),
                row.checks
                    .iter()
                    .map(|check| {
                        let verdict = if check.met { "ok" } else { "MISS" };
                        format!("{} {verdict}", check.target)
                    })
                    .collect::<Vec<_>>()
                    .join("; "),
            ]);
        }
        let mut widths = [0usize; 9];
        for line in &lines {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = format!("== {} ==\n", self.title);
        for line in &lines {
            let mut text = String::new();
            for (index, (cell, width)) in line.iter().zip(widths).enumerate() {
                let numeric = (1..=6).contains(&index);
                if numeric {
                    let _ = write!(text, "{cell:>width$}  ");
                } else {
                    let _ = write!(text, "{cell:<width$}  ");
                }
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
        for row in &self.rows {
            if let Some(error) = &row.first_error {
                let _ = writeln!(out, "first error in {}: {error}", row.bench);
            }
        }
        for note in &self.notes {
            let _ = writeln!(out, "note: {note}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_compare_in_the_stated_direction() {
        assert!(Check::at_least("ops/s", 5000.0, 5000.0).met);
        assert!(!Check::at_least("ops/s", 4999.0, 5000.0).met);
        assert!(Check::below("p99 ms", 14.9, 15.0).met);
        assert!(!Check::below("p99 ms", 15.0, 15.0).met);
    }

    #[test]
    fn table_shows_figures_and_verdicts() {
        let mut report = Report::new("memory");
        report
            .rows
            .push(Row::figure("RSS idle", "20.0 MiB").check(Check::below("MiB", 20.0, 25.0)));
        let table = report.table();
        assert!(table.contains("RSS idle"), "{table}");
        assert!(table.contains("20.0 MiB"), "{table}");
        assert!(table.contains("MiB < 25 ok"), "{table}");
    }
}
