//! Wall time of `kubectl api-resources`, the discovery walk every kubectl
//! session starts with, run against the server with its CRDs installed.
//!
//! Each run gets a fresh `--cache-dir`, so kubectl fetches all of discovery
//! (the aggregated document, or every group version when the server does
//! not offer it) rather than reading its disk cache.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use tokio::process::Command;

use crate::report::{Check, Row};
use crate::stats;

/// Longest one kubectl run may take before it is killed.
const KUBECTL_TIMEOUT: Duration = Duration::from_secs(60);

/// What one run saw.
struct Listing {
    elapsed: Duration,
    /// Lines of output naming a resource of `marker`'s groups.
    matching_lines: usize,
}

/// Runs `kubectl api-resources` `runs` times and reports the median
/// (target: under 1 s), checking each lists `expected` resources whose
/// line contains `marker` (the run's name, part of every group it made).
pub async fn row(kubeconfig: &Path, marker: &str, expected: usize, runs: usize) -> Row {
    let mut times = Vec::with_capacity(runs);
    let mut counts = Vec::with_capacity(runs);
    let mut first_error = None;
    for _ in 0..runs {
        match list(kubeconfig, marker).await {
            Ok(listing) => {
                times.push(listing.elapsed);
                counts.push(listing.matching_lines);
            }
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    let each = times
        .iter()
        .map(|time| format!("{:.2}", time.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ");
    let fewest = counts.iter().min().copied().unwrap_or(0);
    let median = stats::median(&mut times).map(|time| time.as_secs_f64());
    let value = match median {
        Some(median) => format!("median {median:.2} s ({each}); lists {fewest} of {expected}"),
        None => "no run finished".to_string(),
    };
    let mut row = Row::figure(format!("kubectl api-resources, {expected} CRDs"), value);
    row.ops = times.len() as u64;
    row.errors = (runs - times.len()) as u64;
    row.first_error = first_error;
    row.check(Check::below("s", median.unwrap_or(f64::INFINITY), 1.0))
        .check(Check::holds(
            "lists every CRD",
            !counts.is_empty() && fewest >= expected,
        ))
}

/// One `kubectl api-resources` with an empty cache directory.
async fn list(kubeconfig: &Path, marker: &str) -> Result<Listing, String> {
    let cache = tempfile::tempdir().map_err(|error| format!("temporary cache dir: {error}"))?;
    let mut command = Command::new("kubectl");
    command
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .arg("--cache-dir")
        .arg(cache.path())
        .arg("api-resources")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let began = Instant::now();
    let child = command
        .spawn()
        .map_err(|error| format!("starting kubectl (is it on PATH?): {error}"))?;
    let output = tokio::time::timeout(KUBECTL_TIMEOUT, child.wait_with_output())
        .await
        .map_err(|_| format!("kubectl api-resources ran past {KUBECTL_TIMEOUT:?}"))?
        .map_err(|error| format!("waiting for kubectl: {error}"))?;
    let elapsed = began.elapsed();
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let end = stderr.len().min(300);
        return Err(format!(
            "kubectl api-resources {}: {}",
            output.status,
            stderr.get(..end).unwrap_or(&stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    Ok(Listing {
        elapsed,
        matching_lines: stdout.lines().filter(|line| line.contains(marker)).count(),
    })
}
