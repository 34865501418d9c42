//! ConfigMap create, get, list (whole and paged), update and delete
//! throughput and latency, one round per concurrency.
//!
//! Each round stores `objects` fresh ConfigMaps named `c<conc>-<index>`, so
//! the lists see exactly that many, and deletes them again at its end. All
//! of it happens in a namespace the run creates and deletes.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::{Method, StatusCode};
use memchr::memmem;

use crate::client::{percent_encode, ApiClient};
use crate::error::BenchError;
use crate::etcd_puts;
use crate::kubeconfig;
use crate::namespace;
use crate::phase::{self, Bounds, PhaseOutcome};
use crate::process_usage::{self, CpuMeter};
use crate::report::{Check, Report, Row};

#[derive(Debug, Clone)]
pub struct CrudOptions {
    pub kubeconfig: PathBuf,
    pub concurrency: Vec<usize>,
    pub objects: usize,
    pub gets: usize,
    pub lists: usize,
    pub page_size: usize,
    pub object_bytes: usize,
    pub connections: usize,
    pub max_seconds: u64,
    pub server_pid: Option<u32>,
    /// etcd the server stores in: measure raw puts first and check creates
    /// against them (target: at least 80%).
    pub etcd_baseline: Option<Vec<String>>,
}

/// Shared by the operations of one round.
struct Round {
    client: Arc<ApiClient>,
    namespace: String,
    prefix: String,
    objects: usize,
    payload: String,
    resource_versions: Vec<Mutex<String>>,
}

impl Round {
    fn name(&self, index: usize) -> String {
        format!("{}{index:05}", self.prefix)
    }

    fn collection(&self) -> String {
        format!("/api/v1/namespaces/{}/configmaps", self.namespace)
    }

    fn item(&self, index: usize) -> String {
        format!("{}/{}", self.collection(), self.name(index))
    }
}

pub async fn run(options: CrudOptions) -> Result<Report, BenchError> {
    let endpoint = kubeconfig::load(&options.kubeconfig)?;
    let client = ApiClient::connect(&endpoint, options.connections).await?;
    let mut report = Report::new("ConfigMap CRUD");
    if let Some(pid) = options.server_pid {
        let idle = process_usage::rss_kib(pid)?;
        report.rows.push(memory_row("RSS idle", idle, 25.0));
    }

    let baseline = match &options.etcd_baseline {
        Some(endpoints) => {
            let puts = etcd_puts::measure(&etcd_puts::EtcdOptions {
                endpoints: endpoints.clone(),
                concurrency: options.concurrency.clone(),
                puts: options.objects,
                value_bytes: options.object_bytes,
                max_seconds: options.max_seconds,
            })
            .await?;
            report.rows.extend(puts.iter().cloned());
            puts
        }
        None => Vec::new(),
    };

    let namespace = namespace::unique_name();
    namespace::create(&client, &namespace).await?;
    let outcome = rounds(&options, &client, &namespace, &baseline, &mut report).await;
    let cleanup = namespace::delete(&client, &namespace).await;
    outcome?;
    cleanup?;
    report.notes.push(format!(
        "{} objects of {} data bytes per round in namespace {namespace} (deleted); \
         {} HTTP/2 connection(s)",
        options.objects, options.object_bytes, options.connections
    ));
    Ok(report)
}

async fn rounds(
    options: &CrudOptions,
    client: &Arc<ApiClient>,
    namespace: &str,
    baseline: &[Row],
    report: &mut Report,
) -> Result<(), BenchError> {
    let max_time = Duration::from_secs(options.max_seconds);
    let bounds = |count| Bounds { count, max_time };
    let pid = options.server_pid;
    for (round_index, &concurrency) in options.concurrency.iter().enumerate() {
        let round = Arc::new(Round {
            client: client.clone(),
            namespace: namespace.to_string(),
            prefix: format!("c{concurrency}-{round_index}-"),
            objects: options.objects,
            payload: "x".repeat(options.object_bytes),
            resource_versions: (0..options.objects)
                .map(|_| Mutex::new(String::new()))
                .collect(),
        });

        let row = measure(
            &round,
            "create",
            concurrency,
            bounds(options.objects),
            pid,
            create,
        )
        .await;
        report.rows.push(check_create(row, concurrency, baseline));
        if let (0, Some(pid)) = (round_index, pid) {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let stored = process_usage::rss_kib(pid)?;
            let label = format!("RSS with {} ConfigMaps", options.objects);
            report.rows.push(memory_row(&label, stored, 80.0));
        }

        let mut row = measure(&round, "get", concurrency, bounds(options.gets), pid, get).await;
        if concurrency == 16 {
            row = check_rate(row, 20000.0);
        }
        report.rows.push(row);

        for page_size in [None, Some(options.page_size)] {
            let meter = CpuMeter::start(pid);
            let mut row = list_row(&round, concurrency, page_size, bounds(options.lists)).await;
            row.value = Some(meter.describe());
            report.rows.push(row);
        }

        let objects = bounds(options.objects);
        report
            .rows
            .push(measure(&round, "update", concurrency, objects, pid, update).await);
        report
            .rows
            .push(measure(&round, "delete", concurrency, objects, pid, delete).await);
    }
    Ok(())
}

/// Runs one phase of `operation` over the round and returns its row, with
/// the CPU time client and server used in the value column.
async fn measure<F, Fut>(
    round: &Arc<Round>,
    name: &str,
    concurrency: usize,
    bounds: Bounds,
    server_pid: Option<u32>,
    operation: F,
) -> Row
where
    F: Fn(Arc<Round>, usize) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let meter = CpuMeter::start(server_pid);
    let round = round.clone();
    let outcome = phase::run(concurrency, bounds, move |index| {
        operation(round.clone(), index)
    })
    .await;
    let mut row = outcome.into_row(name, concurrency);
    row.value = Some(meter.describe());
    row
}

/// The create targets: at concurrency 16 >= 5,000/s with p99 < 15 ms, and,
/// given a baseline, at least 80% of raw etcd puts at the same concurrency.
/// The share of raw create transactions is printed beside it, as a figure
/// without a target.
fn check_create(mut row: Row, concurrency: usize, baseline: &[Row]) -> Row {
    if concurrency == 16 {
        row = check_rate(row, 5000.0);
        row = check_p99(row, 15.0);
    }
    let raw = |label: &str| {
        baseline
            .iter()
            .find(|r| r.bench == label && r.concurrency == Some(concurrency))
            .and_then(|r| r.ops_per_second)
    };
    let Some(rate) = row.ops_per_second else {
        return row;
    };
    let percent = |raw: f64| if raw > 0.0 { rate / raw * 100.0 } else { 0.0 };
    if let Some(txns) = raw(etcd_puts::CREATE_TXN_ROW) {
        let figure = format!("{:.0}% of etcd create txns", percent(txns));
        row.value = Some(match row.value.take() {
            Some(value) => format!("{value}; {figure}"),
            None => figure,
        });
    }
    if let Some(puts) = raw(etcd_puts::PUT_ROW) {
        let percent = percent(puts);
        row = row.check(Check::holds(
            &format!("{percent:.0}% of etcd puts (>= 80%)"),
            percent >= 80.0,
        ));
    }
    row
}

fn memory_row(label: &str, kib: u64, target_mib: f64) -> Row {
    let mib = process_usage::mib(kib);
    Row::figure(label, format!("{mib:.1} MiB")).check(Check::below("MiB", mib, target_mib))
}

fn check_rate(row: Row, target: f64) -> Row {
    let rate = row.ops_per_second.unwrap_or_default();
    row.check(Check::at_least("ops/s", rate, target))
}

fn check_p99(row: Row, target_ms: f64) -> Row {
    let p99 = row.latency.map(|l| l.p99_ms).unwrap_or(f64::INFINITY);
    row.check(Check::below("p99 ms", p99, target_ms))
}

async fn create(round: Arc<Round>, index: usize) -> Result<(), String> {
    let body = namespace::configmap(
        &round.namespace,
        &round.name(index),
        &[("payload", &round.payload)],
        None,
    );
    let reply = round
        .client
        .call(Method::POST, &round.collection(), Some(body))
        .await
        .map_err(|error| error.to_string())?;
    if reply.status != StatusCode::CREATED {
        return Err(reply.describe());
    }
    let version = namespace::resource_version(&reply.body)?;
    if let Some(slot) = round.resource_versions.get(index) {
        *slot.lock().map_err(|_| "poisoned lock".to_string())? = version;
    }
    Ok(())
}

async fn get(round: Arc<Round>, index: usize) -> Result<(), String> {
    let reply = round
        .client
        .call(Method::GET, &round.item(index % round.objects.max(1)), None)
        .await
        .map_err(|error| error.to_string())?;
    match reply.status {
        StatusCode::OK => Ok(()),
        _ => Err(reply.describe()),
    }
}

async fn update(round: Arc<Round>, index: usize) -> Result<(), String> {
    let version = match round.resource_versions.get(index) {
        Some(slot) => slot
            .lock()
            .map_err(|_| "poisoned lock".to_string())?
            .clone(),
        None => return Err(format!("object {index} was never created")),
    };
    let payload = "y".repeat(round.payload.len());
    let body = namespace::configmap(
        &round.namespace,
        &round.name(index),
        &[("payload", &payload)],
        Some(&version),
    );
    let reply = round
        .client
        .call(Method::PUT, &round.item(index), Some(body))
        .await
        .map_err(|error| error.to_string())?;
    match reply.status {
        StatusCode::OK => Ok(()),
        _ => Err(reply.describe()),
    }
}

async fn delete(round: Arc<Round>, index: usize) -> Result<(), String> {
    let reply = round
        .client
        .call(Method::DELETE, &round.item(index), None)
        .await
        .map_err(|error| error.to_string())?;
    match reply.status {
        StatusCode::OK | StatusCode::ACCEPTED => Ok(()),
        _ => Err(reply.describe()),
    }
}

/// Times whole lists (every page when `page_size` is set), after one
/// untimed list that checks every object of the round is returned.
async fn list_row(
    round: &Arc<Round>,
    concurrency: usize,
    page_size: Option<usize>,
    bounds: Bounds,
) -> Row {
    let bench = match page_size {
        Some(limit) => format!("list paged (limit={limit})"),
        None => "list".to_string(),
    };
    let seen = list_all(round.clone(), page_size).await;
    let listed: PhaseOutcome = phase::run(concurrency, bounds, {
        let round = round.clone();
        move |_| {
            let round = round.clone();
            async move { list_all(round, page_size).await.map(drop) }
        }
    })
    .await;
    let mut row = listed.into_row(bench, concurrency);
    let complete = matches!(seen, Ok(count) if count == round.objects);
    row = row.check(Check::holds(
        &format!("returns all {}", round.objects),
        complete,
    ));
    match seen {
        Err(error) => {
            row.first_error.get_or_insert(error);
        }
        Ok(count) if count != round.objects => {
            row.first_error
                .get_or_insert(format!("listed {count} of {} objects", round.objects));
        }
        Ok(_) => {}
    }
    if concurrency == 1 && page_size.is_none() {
        let p50 = row.latency.map(|l| l.p50_ms).unwrap_or(f64::INFINITY);
        row = row.check(Check::below("p50 ms", p50, 150.0));
    }
    row
}

/// Lists the round's collection (following `continue` when paged) and
/// counts the round's objects in it.
async fn list_all(round: Arc<Round>, page_size: Option<usize>) -> Result<usize, String> {
    let marker = format!("\"name\":\"{}", round.prefix);
    let finder = memmem::Finder::new(marker.as_bytes());
    let mut count = 0;
    let mut token: Option<String> = None;
    for _page in 0..=round.objects + 1 {
        let mut path = round.collection();
        if let Some(limit) = page_size {
            path.push_str(&format!("?limit={limit}"));
            if let Some(token) = &token {
                path.push_str(&format!("&continue={}", percent_encode(token)));
            }
        }
        let reply = round
            .client
            .call(Method::GET, &path, None)
            .await
            .map_err(|error| error.to_string())?;
        if reply.status != StatusCode::OK {
            return Err(reply.describe());
        }
        count += finder.find_iter(&reply.body).count();
        token = match page_size {
            Some(_) => continue_token(&reply.body),
            None => None,
        };
        if token.is_none() {
            return Ok(count);
        }
    }
    Err("the server kept sending continue tokens".into())
}

/// The list's `metadata.continue`, found without parsing the items: our
/// ConfigMaps never contain the key, so its last occurrence is the list's.
fn continue_token(body: &[u8]) -> Option<String> {
    let key = b"\"continue\":\"";
    let start = memmem::rfind(body, key)? + key.len();
    let length = memchr::memchr(b'"', body.get(start..)?)?;
    let token = std::str::from_utf8(body.get(start..start + length)?).ok()?;
    (!token.is_empty()).then(|| token.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_token_is_read_from_list_metadata() {
        let body = br#"{"apiVersion":"v1","items":[{"metadata":{"name":"a"}}],"kind":"ConfigMapList","metadata":{"continue":"eyJ2Ijo1fQ==","resourceVersion":"5"}}"#;
        assert_eq!(continue_token(body).as_deref(), Some("eyJ2Ijo1fQ=="));
    }

    #[test]
    fn empty_or_missing_continue_ends_the_list() {
        assert_eq!(continue_token(br#"{"metadata":{"continue":""}}"#), None);
        assert_eq!(
            continue_token(br#"{"metadata":{"resourceVersion":"1"}}"#),
            None
        );
    }
}
