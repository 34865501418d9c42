//! Custom resources of the workload CRD: a check that its schema is
//! enforced, then create, get, list and delete throughput, one round per
//! concurrency.
//!
//! Each round creates `objects` workloads named `w<conc>-<round>-<index>`
//! in the run's namespace, so its lists hold exactly that many of its own,
//! and deletes them at its end.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use memchr::memmem;
use serde_json::{json, Value};

use crate::client::ApiClient;
use crate::phase::{self, Bounds};
use crate::process_usage::CpuMeter;
use crate::report::{Check, Row};

use super::definitions::{WorkloadApi, DEFAULT_MAX_REPLICAS};

/// Whole lists per round; each returns every object of the round.
const LISTS_PER_ROUND: usize = 10;

/// Creates at concurrency 16 must reach this many per second.
const CREATE_TARGET: f64 = 4000.0;

/// What a round's phases share.
struct Round {
    client: Arc<ApiClient>,
    api: WorkloadApi,
    namespace: String,
    prefix: String,
    objects: usize,
}

impl Round {
    fn name(&self, index: usize) -> String {
        format!("{}{index:05}", self.prefix)
    }

    fn item(&self, index: usize) -> String {
        format!(
            "{}/{}",
            self.api.collection(&self.namespace),
            self.name(index)
        )
    }
}

/// Settings of the throughput rounds.
pub struct RoundOptions {
    pub concurrency: Vec<usize>,
    pub objects: usize,
    pub max_time: Duration,
    pub server_pid: Option<u32>,
}

/// Sends four creates that show whether the schema is applied: one that
/// relies on the default, and one each breaking the maximum, the pattern
/// and the CEL rule (each should get 422). Throughput means little if the
/// server skips the work, so the row says which parts it did.
pub async fn schema_row(client: &ApiClient, api: &WorkloadApi, namespace: &str) -> Row {
    let collection = api.collection(namespace);
    let post = |name: &str, spec: Value| {
        let body = api.object(namespace, name, spec);
        let collection = collection.clone();
        async move { client.call(Method::POST, &collection, Some(body)).await }
    };
    let mut verdicts = Vec::new();
    let mut first_error = None;

    let defaulted = match post("check-default", json!({})).await {
        Ok(reply) if reply.status == StatusCode::CREATED => {
            serde_json::from_slice::<Value>(&reply.body)
                .ok()
                .and_then(|object| object.pointer("/spec/maxReplicas").and_then(Value::as_i64))
                == Some(DEFAULT_MAX_REPLICAS)
        }
        Ok(reply) => {
            first_error.get_or_insert(format!("valid workload refused: {}", reply.describe()));
            false
        }
        Err(error) => {
            first_error.get_or_insert(error.to_string());
            false
        }
    };
    verdicts.push(("default", defaulted));

    let invalid = [
        ("maximum", "check-maximum", json!({ "replicas": 5000 })),
        (
            "pattern",
            "check-pattern",
            json!({ "image": "Not An Image!" }),
        ),
        (
            "CEL",
            "check-cel",
            json!({ "replicas": 50, "maxReplicas": 10 }),
        ),
    ];
    for (what, name, spec) in invalid {
        let refused = match post(name, spec).await {
            Ok(reply) => reply.status == StatusCode::UNPROCESSABLE_ENTITY,
            Err(error) => {
                first_error.get_or_insert(error.to_string());
                false
            }
        };
        verdicts.push((what, refused));
    }

    let value = verdicts
        .iter()
        .map(|(what, held)| format!("{what} {}", if *held { "yes" } else { "NO" }))
        .collect::<Vec<_>>()
        .join(", ");
    let mut row = Row::figure("workload schema enforced", value);
    row.first_error = first_error;
    row.check(Check::holds(
        "all four",
        verdicts.iter().all(|(_, held)| *held),
    ))
}

/// Runs one round per concurrency level and returns its rows.
pub async fn rounds(
    client: &Arc<ApiClient>,
    api: &WorkloadApi,
    namespace: &str,
    options: &RoundOptions,
) -> Vec<Row> {
    let mut rows = Vec::new();
    let bounds = |count| Bounds {
        count,
        max_time: options.max_time,
    };
    let pid = options.server_pid;
    for (round_index, &concurrency) in options.concurrency.iter().enumerate() {
        let round = Arc::new(Round {
            client: client.clone(),
            api: api.clone(),
            namespace: namespace.to_string(),
            prefix: format!("w{concurrency}-{round_index}-"),
            objects: options.objects,
        });
        let objects = bounds(options.objects);
        let mut row = measure(&round, "CR create", concurrency, objects, pid, create).await;
        if concurrency == 16 {
            let rate = row.ops_per_second.unwrap_or_default();
            row = row.check(Check::at_least("ops/s", rate, CREATE_TARGET));
        }
        rows.push(row);
        rows.push(measure(&round, "CR get", concurrency, objects, pid, get).await);
        rows.push(list_row(&round, concurrency, bounds(LISTS_PER_ROUND), pid).await);
        rows.push(measure(&round, "CR delete", concurrency, objects, pid, delete).await);
    }
    rows
}

/// Runs one phase of `operation` over the round; the value column shows
/// the CPU time client and server used.
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

async fn create(round: Arc<Round>, index: usize) -> Result<(), String> {
    let body = round
        .api
        .object(&round.namespace, &round.name(index), json!({}));
    let collection = round.api.collection(&round.namespace);
    expect(
        &round,
        Method::POST,
        &collection,
        Some(body),
        StatusCode::CREATED,
    )
    .await
}

async fn get(round: Arc<Round>, index: usize) -> Result<(), String> {
    let path = round.item(index % round.objects.max(1));
    expect(&round, Method::GET, &path, None, StatusCode::OK).await
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

async fn expect(
    round: &Round,
    method: Method,
    path: &str,
    body: Option<String>,
    status: StatusCode,
) -> Result<(), String> {
    let reply = round
        .client
        .call(method, path, body)
        .await
        .map_err(|error| error.to_string())?;
    if reply.status != status {
        return Err(reply.describe());
    }
    Ok(())
}

/// Times whole lists of the namespace's workloads, after one untimed list
/// that checks every object of the round is in it.
async fn list_row(
    round: &Arc<Round>,
    concurrency: usize,
    bounds: Bounds,
    server_pid: Option<u32>,
) -> Row {
    let seen = count_listed(round.clone()).await;
    let meter = CpuMeter::start(server_pid);
    let listed = phase::run(concurrency, bounds, {
        let round = round.clone();
        move |_| {
            let round = round.clone();
            async move { count_listed(round).await.map(drop) }
        }
    })
    .await;
    let mut row = listed.into_row(format!("CR list ({})", round.objects), concurrency);
    row.value = Some(meter.describe());
    let complete = matches!(seen, Ok(count) if count == round.objects);
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
    row.check(Check::holds(
        &format!("returns all {}", round.objects),
        complete,
    ))
}

/// Lists the namespace's workloads and counts the round's among them.
async fn count_listed(round: Arc<Round>) -> Result<usize, String> {
    let reply = round
        .client
        .call(Method::GET, &round.api.collection(&round.namespace), None)
        .await
        .map_err(|error| error.to_string())?;
    if reply.status != StatusCode::OK {
        return Err(reply.describe());
    }
    let marker = format!("\"name\":\"{}", round.prefix);
    Ok(memmem::find_iter(&reply.body, marker.as_bytes()).count())
}
