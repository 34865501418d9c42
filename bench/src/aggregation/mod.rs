//! `bench aggregation`: what the aggregation proxy costs.
//!
//! It starts its own two servers (see [`stack`]): a fresh `kube-apiserver`
//! (the front) and a `sample-apiserver` (the backend), registers the
//! backend through the front (see [`registration`]) and stores `objects`
//! Flunders. Then, at each concurrency, it times the same requests two
//! ways, one right after the other:
//!
//! - direct: HTTP/2 straight to the backend, as the front would call it
//!   (the front's front-proxy client certificate, `X-Remote-User` and
//!   `X-Remote-Group` headers);
//! - via front: HTTP/2 to the front with its admin kubeconfig; the front
//!   authenticates, authorizes and proxies over its pool of HTTP/1.1
//!   connections to the backend.
//!
//! A GET of a ConfigMap the front serves itself shows a local read beside
//! the proxied one. Any failed request stops the run; both servers are
//! killed and their directories removed however it ends, Ctrl-C included.

mod operation;
mod registration;
mod stack;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, StatusCode};
use serde_json::json;

use crate::client::ApiClient;
use crate::error::BenchError;
use crate::namespace;
use crate::phase::{self, Bounds};
use crate::process_usage;
use crate::report::{Report, Row};
use operation::{Operation, CONFIGMAP, NAMESPACE};
use stack::Stack;

#[derive(Debug, Clone)]
pub struct AggregationOptions {
    pub server_bin: PathBuf,
    pub backend_bin: PathBuf,
    pub concurrency: Vec<usize>,
    /// Gets, creates and deletes per round and way, and ConfigMap gets.
    pub requests: usize,
    /// Lists per round and way.
    pub lists: usize,
    /// Flunders stored for the gets and lists.
    pub objects: usize,
    pub max_seconds: u64,
}

pub async fn run(options: AggregationOptions) -> Result<Report, BenchError> {
    tokio::select! {
        outcome = measure(&options) => outcome,
        _ = tokio::signal::ctrl_c() => Err(BenchError::Protocol(
            "interrupted; both servers were stopped".into(),
        )),
    }
}

async fn measure(options: &AggregationOptions) -> Result<Report, BenchError> {
    let load_before = load_average();
    let stack = Stack::start(&options.server_bin, &options.backend_bin).await?;
    let mut report = Report::new("aggregation proxy: sample-apiserver direct and via the front");
    let outcome = async {
        let (front, direct) = prepare(&stack, options.objects).await?;
        let bench = Bench {
            options,
            front,
            direct,
            pids: [stack.front_pid(), stack.backend_pid()],
            backend_port: stack.backend_port,
        };
        for &concurrency in &options.concurrency {
            bench.round(concurrency, &mut report).await?;
        }
        Ok::<_, BenchError>(())
    }
    .await;
    if let Err(error) = outcome {
        return Err(BenchError::Protocol(format!(
            "{error}\n{}",
            stack.log_tails()
        )));
    }
    report.notes.extend(notes(options, load_before));
    Ok(report)
}

/// Registers the backend, stores the Flunders and the ConfigMap through
/// the front, and checks both ways list every stored Flunder. Returns the
/// clients of the front and of the backend.
async fn prepare(
    stack: &Stack,
    objects: usize,
) -> Result<(Arc<ApiClient>, Arc<ApiClient>), BenchError> {
    let front = ApiClient::connect(&stack.front_endpoint, 1).await?;
    registration::register(&front, stack.backend_port, &stack.ca_bundle).await?;
    namespace::create(&front, NAMESPACE).await?;
    let flunders = operation::collection();
    registration::wait_serving(&front, &flunders).await?;
    for index in 0..objects {
        let flunder = operation::flunder(&operation::stored_name(index));
        registration::create(&front, &flunders, &flunder).await?;
    }
    let configmap = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CONFIGMAP, "namespace": NAMESPACE},
        "data": {"key": "value"},
    });
    let configmaps = format!("/api/v1/namespaces/{NAMESPACE}/configmaps");
    registration::create(&front, &configmaps, &configmap).await?;

    let direct = ApiClient::connect(&stack.direct_endpoint, 1).await?;
    for (way, client) in [(Way::Direct, &direct), (Way::Front, &front)] {
        let reply = client.call(Method::GET, &flunders, None).await?;
        let listed = operation::count_stored(&reply.body);
        if reply.status != StatusCode::OK || listed != objects {
            return Err(BenchError::Protocol(format!(
                "listing {flunders} {way} should return {objects} Flunders, got {listed}: {}",
                reply.describe()
            )));
        }
    }
    Ok((front, direct))
}

/// The two ways to the backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Way {
    Direct,
    Front,
}

impl Way {
    /// Part of the names of the Flunders this way creates.
    fn slug(self) -> &'static str {
        match self {
            Way::Direct => "direct",
            Way::Front => "front",
        }
    }
}

impl fmt::Display for Way {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Way::Direct => "direct",
            Way::Front => "via front",
        })
    }
}

/// What the rounds share.
struct Bench<'a> {
    options: &'a AggregationOptions,
    front: Arc<ApiClient>,
    direct: Arc<ApiClient>,
    /// The front's and the backend's process ids.
    pids: [u32; 2],
    backend_port: u16,
}

impl Bench<'_> {
    /// Gets, lists, the front's local get, creates and deletes, at one
    /// concurrency. Every Flunder the creates made is deleted again, so
    /// the next round's lists see the stored ones only.
    async fn round(&self, concurrency: usize, report: &mut Report) -> Result<(), BenchError> {
        let requests = self.options.requests;
        let lists = self.options.lists;
        self.pair(Operation::Get, concurrency, [requests; 2], report)
            .await?;
        let local = self
            .row(Way::Front, Operation::LocalGet, concurrency, requests)
            .await?;
        report.rows.push(local);
        self.pair(Operation::List, concurrency, [lists; 2], report)
            .await?;
        let created = self
            .pair(Operation::Create, concurrency, [requests; 2], report)
            .await?;
        self.pair(Operation::Delete, concurrency, created, report)
            .await?;
        Ok(())
    }

    /// Times `operation` direct, then via the front (`counts` requests
    /// each), and adds both rows, the second with how it compares.
    /// Returns how many requests each way made.
    async fn pair(
        &self,
        operation: Operation,
        concurrency: usize,
        counts: [usize; 2],
        report: &mut Report,
    ) -> Result<[usize; 2], BenchError> {
        let direct = self
            .row(Way::Direct, operation, concurrency, counts[0])
            .await?;
        let mut front = self
            .row(Way::Front, operation, concurrency, counts[1])
            .await?;
        if let Some(comparison) = comparison(&direct, &front) {
            let rest = front.value.take().unwrap_or_default();
            front.value = Some(format!("{comparison}; {rest}"));
        }
        let made = [direct.ops as usize, front.ops as usize];
        report.rows.push(direct);
        report.rows.push(front);
        Ok(made)
    }

    /// One timed phase of `count` requests (fewer if `max_seconds` runs
    /// out); any failed request is an error.
    async fn row(
        &self,
        way: Way,
        operation: Operation,
        concurrency: usize,
        count: usize,
    ) -> Result<Row, BenchError> {
        let client = match way {
            Way::Direct => self.direct.clone(),
            Way::Front => self.front.clone(),
        };
        let prefix: Arc<str> = format!("c{concurrency}-{}-", way.slug()).into();
        let objects = self.options.objects;
        let bounds = Bounds {
            count,
            max_time: Duration::from_secs(self.options.max_seconds),
        };
        let before = CpuTimes::read(self.pids);
        let outcome = phase::run(concurrency, bounds, move |index| {
            let client = client.clone();
            let call = operation.call(index, &prefix, objects);
            async move { call.send(&client).await }
        })
        .await;
        let used = CpuTimes::read(self.pids).since(&before);
        let label = match operation {
            Operation::List => format!("flunder list of {objects}, {way}"),
            Operation::LocalGet => format!("{operation}, front itself"),
            _ => format!("{operation}, {way}"),
        };
        if outcome.failed > 0 {
            return Err(BenchError::Protocol(format!(
                "{label} at concurrency {concurrency}: {} of {} requests failed; first: {}",
                outcome.failed,
                outcome.failed + outcome.succeeded,
                outcome.first_error.as_deref().unwrap_or("?")
            )));
        }
        let mut row = outcome.into_row(label, concurrency);
        let mut value = used.per_request(row.ops);
        if way == Way::Front && operation != Operation::LocalGet {
            let held = process_usage::connections_to(self.pids[0], self.backend_port)?;
            value.push_str(&format!("; {held} backend conns"));
        }
        row.value = Some(value);
        Ok(row)
    }
}

/// CPU seconds the front, the backend and this tool had used at one moment.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuTimes {
    front: f64,
    backend: f64,
    bench: f64,
}

impl CpuTimes {
    fn read([front, backend]: [u32; 2]) -> CpuTimes {
        let seconds = |pid| process_usage::cpu_seconds(pid).unwrap_or_default();
        CpuTimes {
            front: seconds(front),
            backend: seconds(backend),
            bench: seconds(std::process::id()),
        }
    }

    fn since(&self, earlier: &CpuTimes) -> CpuTimes {
        CpuTimes {
            front: self.front - earlier.front,
            backend: self.backend - earlier.backend,
            bench: self.bench - earlier.bench,
        }
    }

    /// "cpu µs/req front 40, backend 95, bench 30" (ticks are 10 ms, so a
    /// phase of a few thousand requests reads to a few µs).
    fn per_request(&self, requests: u64) -> String {
        let micros = |seconds: f64| seconds * 1e6 / requests.max(1) as f64;
        format!(
            "cpu µs/req front {:.0}, backend {:.0}, bench {:.0}",
            micros(self.front),
            micros(self.backend),
            micros(self.bench)
        )
    }
}

/// What going through the front added: the differences of p50 and p99
/// latency and the ratio of the rates, "p50 +0.21 ms, p99 +0.40 ms, rate
/// 0.55×".
fn comparison(direct: &Row, front: &Row) -> Option<String> {
    let (direct_latency, front_latency) = (direct.latency?, front.latency?);
    let (direct_rate, front_rate) = (direct.ops_per_second?, front.ops_per_second?);
    let ratio = if direct_rate > 0.0 {
        front_rate / direct_rate
    } else {
        0.0
    };
    Some(format!(
        "p50 {:+.2} ms, p99 {:+.2} ms, rate {ratio:.2}×",
        front_latency.p50_ms - direct_latency.p50_ms,
        front_latency.p99_ms - direct_latency.p99_ms,
    ))
}

/// The first three fields of /proc/loadavg.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_else(|_| "unknown".into())
}

fn notes(options: &AggregationOptions, load_before: String) -> Vec<String> {
    vec![
        format!(
            "{} Flunders stored for gets and lists; {} gets, creates, deletes and \
             ConfigMap gets, {} lists per round and way; each way on one HTTP/2 connection",
            options.objects, options.requests, options.lists
        ),
        "direct: the front-proxy client certificate with X-Remote-User: bench, \
         X-Remote-Group: system:masters; via front: the admin kubeconfig"
            .into(),
        "the front proxies over pooled HTTP/1.1 connections; \"backend conns\" is how \
         many it held to the backend after the phase, its availability probe's included"
            .into(),
        "both servers log every request to a file; the backend checks the client \
         certificate chain on every request"
            .into(),
        format!(
            "load average before: {load_before}, after: {}",
            load_average()
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::LatencySummary;

    fn timed(rate: f64, p50_ms: f64, p99_ms: f64) -> Row {
        let mut row = Row::figure("x", "");
        row.ops_per_second = Some(rate);
        row.latency = Some(LatencySummary {
            count: 1,
            p50_ms,
            p99_ms,
            max_ms: p99_ms,
        });
        row
    }

    #[test]
    fn comparison_shows_added_latency_and_rate_ratio() {
        let direct = timed(10_000.0, 0.10, 0.30);
        let front = timed(4_000.0, 0.35, 0.90);
        assert_eq!(
            comparison(&direct, &front).as_deref(),
            Some("p50 +0.25 ms, p99 +0.60 ms, rate 0.40×")
        );
        assert_eq!(comparison(&Row::figure("x", ""), &front), None);
    }

    #[test]
    fn cpu_is_shown_per_request_in_microseconds() {
        let before = CpuTimes {
            front: 1.0,
            backend: 2.0,
            bench: 3.0,
        };
        let after = CpuTimes {
            front: 1.2,
            backend: 2.5,
            bench: 3.1,
        };
        assert_eq!(
            after.since(&before).per_request(5000),
            "cpu µs/req front 40, backend 100, bench 20"
        );
    }
}
