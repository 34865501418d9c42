//! `bench crds`: the CRD engine under load.
//!
//! One run, in this order, so that each memory reading sees CRDs only:
//! 1. the server's RSS idle (with `--server-pid`);
//! 2. install `--crds` small CRDs at `--install-concurrency`, until all are
//!    Established, pausing once after 200 to read the RSS again, then the
//!    RSS with all of them;
//! 3. `kubectl api-resources` with them installed;
//! 4. `--establish-samples` more CRDs one at a time, each timed from its
//!    create to the watch event showing it Established;
//! 5. the workload CRD (typed fields, a maximum, a pattern, a default, a
//!    CEL rule): a check that its schema is enforced, then custom resource
//!    create/get/list/delete rounds at each `--concurrency`;
//! 6. cleanup: every CRD labelled with the run is deleted (which deletes
//!    its custom resources) and waited for, and the namespace is deleted.
//!
//! A phase that fails becomes a row with its first error; the run goes on
//! to the next phase and always cleans up.

mod api_resources;
mod custom_resources;
mod definitions;
mod established;
mod install;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::Value;

use crate::client::ApiClient;
use crate::error::BenchError;
use crate::kubeconfig;
use crate::namespace;
use crate::phase::{self, Bounds};
use crate::process_usage;
use crate::report::{Check, Report, Row};

use definitions::{WorkloadApi, CRD_COLLECTION};

#[derive(Debug, Clone)]
pub struct CrdOptions {
    pub kubeconfig: PathBuf,
    pub server_pid: Option<u32>,
    /// CRDs installed for the memory, install-time and discovery figures.
    pub crds: usize,
    pub install_concurrency: usize,
    pub establish_samples: usize,
    /// Custom resources created per round.
    pub objects: usize,
    pub concurrency: Vec<usize>,
    /// Time limit of each phase.
    pub max_seconds: u64,
}

/// The RSS is read again once this many CRDs are installed.
const FIRST_MEMORY_MARK: usize = 200;

/// Each CRD may add at most this much resident memory.
const MIB_PER_CRD_TARGET: f64 = 0.3;

/// Runs of `kubectl api-resources`; the median is reported.
const KUBECTL_RUNS: usize = 3;

/// How often cleanup looks whether the deleted CRDs are gone.
const GONE_POLL: Duration = Duration::from_millis(100);

pub async fn run(options: CrdOptions) -> Result<Report, BenchError> {
    let endpoint = kubeconfig::load(&options.kubeconfig)?;
    let client = ApiClient::connect(&endpoint, 1).await?;
    let run = namespace::unique_name();
    let mut report = Report::new("CRD engine");
    let measured = measure(&options, &client, &run, &mut report).await;
    report.rows.push(cleanup(&client, &run, &options).await);
    measured?;
    report.notes.push(format!(
        "run {run}: CRDs in groups g<NNN>.{run}.example.com, 10 kinds per group, \
         labelled bench-run={run} (all deleted at the end)"
    ));
    if options.crds > FIRST_MEMORY_MARK {
        report.notes.push(format!(
            "the install pauses after {FIRST_MEMORY_MARK} CRDs to read the RSS; \
             the pause is not counted"
        ));
    }
    if options.crds > 0 {
        report.notes.push(format!(
            "establish samples and custom resources run with the {} installed CRDs present",
            options.crds
        ));
    }
    Ok(report)
}

/// Every phase but cleanup. Only a failure to read the server's memory
/// stops it; anything else the server does wrong is a row's error.
async fn measure(
    options: &CrdOptions,
    client: &Arc<ApiClient>,
    run: &str,
    report: &mut Report,
) -> Result<(), BenchError> {
    let idle = match options.server_pid {
        Some(pid) => {
            let kib = process_usage::rss_kib(pid)?;
            let mib = process_usage::mib(kib);
            report
                .rows
                .push(Row::figure("RSS idle", format!("{mib:.1} MiB")));
            Some(kib)
        }
        None => None,
    };

    let installed = install_all(options, client, run, idle, report).await?;
    if installed > 0 {
        report.rows.push(
            api_resources::row(&options.kubeconfig, run, installed as usize, KUBECTL_RUNS).await,
        );
    }
    if options.establish_samples > 0 {
        report.rows.push(
            install::establish_samples(
                client,
                run,
                options.crds,
                options.establish_samples,
                Duration::from_secs(options.max_seconds),
            )
            .await,
        );
    }
    report
        .rows
        .extend(custom_resource_phases(options, client, run).await);
    Ok(())
}

/// Installs the CRDs in two batches (up to the memory mark, then the
/// rest), reading the RSS after each; returns how many were Established.
async fn install_all(
    options: &CrdOptions,
    client: &Arc<ApiClient>,
    run: &str,
    idle_kib: Option<u64>,
    report: &mut Report,
) -> Result<u64, BenchError> {
    if options.crds == 0 {
        return Ok(0);
    }
    let mark = FIRST_MEMORY_MARK.min(options.crds);
    let mut outcomes = Vec::new();
    let mut memory_rows = Vec::new();
    let mut installed = 0;
    let mut failure = None;
    for (first, count) in [(0, mark), (mark, options.crds - mark)] {
        if count == 0 {
            continue;
        }
        let batch = install::Batch {
            first,
            count,
            concurrency: options.install_concurrency,
            max_time: Duration::from_secs(options.max_seconds),
        };
        match install::install(client, run, &batch).await {
            Ok(outcome) => {
                installed += outcome.established;
                outcomes.push(outcome);
            }
            Err(error) => {
                failure = Some(error.to_string());
                break;
            }
        }
        if let (Some(pid), Some(idle)) = (options.server_pid, idle_kib) {
            // Let allocations from the burst settle, as `crud` does.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let kib = process_usage::rss_kib(pid)?;
            memory_rows.push(memory_row(installed, idle, kib));
        }
    }
    let mut row = install::install_row(options.crds, options.install_concurrency, outcomes);
    if let Some(error) = failure {
        row.first_error.get_or_insert(error);
    }
    report.rows.push(row);
    report.rows.extend(memory_rows);
    Ok(installed)
}

/// RSS with `crds` installed and what each added over idle (target: at most 0.3 MiB).
fn memory_row(crds: u64, idle_kib: u64, kib: u64) -> Row {
    let mib = process_usage::mib(kib);
    let added = process_usage::mib(kib.saturating_sub(idle_kib));
    let per_crd = if crds > 0 {
        added / crds as f64
    } else {
        f64::INFINITY
    };
    Row::figure(
        format!("RSS with {crds} CRDs"),
        format!("{mib:.1} MiB, {per_crd:.3} MiB/CRD"),
    )
    .check(Check::below("MiB/CRD", per_crd, MIB_PER_CRD_TARGET))
}

/// The workload CRD, its schema check and the throughput rounds, in a
/// namespace of their own that is deleted afterwards.
async fn custom_resource_phases(
    options: &CrdOptions,
    client: &Arc<ApiClient>,
    run: &str,
) -> Vec<Row> {
    let api = WorkloadApi::new(run);
    let failed = |what: &str, error: String| {
        let mut row = Row::figure(what, "");
        row.errors = 1;
        row.first_error = Some(error);
        vec![row]
    };
    let deadline = Instant::now() + Duration::from_secs(options.max_seconds);
    if let Err(error) = install::create_and_wait(client, &api.crd(run), deadline).await {
        return failed("workload CRD", error);
    }
    if let Err(error) = namespace::create(client, run).await {
        return failed("workload namespace", error.to_string());
    }
    let mut rows = vec![custom_resources::schema_row(client, &api, run).await];
    let rounds = custom_resources::RoundOptions {
        concurrency: options.concurrency.clone(),
        objects: options.objects,
        max_time: Duration::from_secs(options.max_seconds),
        server_pid: options.server_pid,
    };
    rows.extend(custom_resources::rounds(client, &api, run, &rounds).await);
    if let Err(error) = namespace::delete(client, run).await {
        rows.extend(failed("delete workload namespace", error.to_string()));
    }
    rows
}

/// Deletes every CRD of the run at the install concurrency, then waits
/// (up to the phase time limit) until the server no longer lists any.
async fn cleanup(client: &Arc<ApiClient>, run: &str, options: &CrdOptions) -> Row {
    let concurrency = options.install_concurrency;
    let max_time = Duration::from_secs(options.max_seconds);
    let listed = match list_names(client, run).await {
        Ok(names) => Arc::new(names),
        Err(error) => {
            let mut row = Row::figure("delete CRDs", "");
            row.first_error = Some(error);
            return row;
        }
    };
    let began = Instant::now();
    let bounds = Bounds {
        count: listed.len(),
        max_time,
    };
    let deleted = phase::run(concurrency, bounds, {
        let client = client.clone();
        let names = listed.clone();
        move |index| {
            let client = client.clone();
            let names = names.clone();
            async move { delete_crd(&client, &names[index]).await }
        }
    })
    .await;
    let mut row = deleted.into_row(format!("delete {} CRDs", listed.len()), concurrency);
    let mut left = listed.len();
    while Instant::now() < began + max_time {
        match list_names(client, run).await {
            Ok(names) => left = names.len(),
            Err(error) => {
                row.first_error.get_or_insert(error);
                break;
            }
        }
        if left == 0 {
            break;
        }
        tokio::time::sleep(GONE_POLL).await;
    }
    let waited = began.elapsed().as_secs_f64();
    row.value = Some(match left {
        0 => format!("all gone after {waited:.1} s"),
        left => format!("{left} still listed after {waited:.1} s"),
    });
    row
}

async fn delete_crd(client: &ApiClient, name: &str) -> Result<(), String> {
    let reply = client
        .call(Method::DELETE, &format!("{CRD_COLLECTION}/{name}"), None)
        .await
        .map_err(|error| format!("deleting CRD {name}: {error}"))?;
    match reply.status {
        StatusCode::OK | StatusCode::ACCEPTED | StatusCode::NOT_FOUND => Ok(()),
        _ => Err(format!("deleting CRD {name}: {}", reply.describe())),
    }
}

/// Names of the CRDs labelled with the run.
async fn list_names(client: &ApiClient, run: &str) -> Result<Vec<String>, String> {
    let path = format!(
        "{CRD_COLLECTION}?labelSelector={}",
        definitions::selector(run, None)
    );
    let reply = client
        .call(Method::GET, &path, None)
        .await
        .map_err(|error| format!("listing CRDs: {error}"))?;
    if reply.status != StatusCode::OK {
        return Err(format!("listing CRDs: {}", reply.describe()));
    }
    item_names(&reply.body)
}

fn item_names(body: &[u8]) -> Result<Vec<String>, String> {
    let list: Value =
        serde_json::from_slice(body).map_err(|error| format!("reading CRD list: {error}"))?;
    let items = list["items"]
        .as_array()
        .ok_or("the CRD list has no items array")?;
    Ok(items
        .iter()
        .filter_map(|item| item.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_row_divides_what_was_added_by_the_crds() {
        let row = memory_row(200, 20 * 1024, 50 * 1024);
        assert_eq!(row.value.as_deref(), Some("50.0 MiB, 0.150 MiB/CRD"));
        assert!(row.checks.iter().all(|check| check.met));
        let heavy = memory_row(200, 20 * 1024, 100 * 1024);
        assert!(!heavy.checks[0].met);
    }

    #[test]
    fn list_names_are_read_from_items() {
        let body = br#"{"kind":"CustomResourceDefinitionList","items":[{"metadata":{"name":"a.x"}},{"metadata":{"name":"b.x"}}]}"#;
        assert_eq!(item_names(body).expect("a list"), vec!["a.x", "b.x"]);
        assert!(item_names(br#"{"kind":"Status"}"#).is_err());
    }
}
