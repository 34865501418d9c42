//! Raw etcd put throughput, the baseline for creates on the etcd backend:
//! one `Put` per operation through etcd-client (the crate the storage code
//! uses), values of the same size as the ConfigMaps.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, DeleteOptions};

use crate::error::BenchError;
use crate::loopback;
use crate::phase::{self, Bounds};
use crate::report::{Report, Row};

/// Longest wait for one put, so a stuck etcd cannot hang the run.
const PUT_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct EtcdOptions {
    pub endpoints: Vec<String>,
    pub concurrency: Vec<usize>,
    pub puts: usize,
    pub value_bytes: usize,
    pub max_seconds: u64,
}

pub async fn run(options: EtcdOptions) -> Result<Report, BenchError> {
    let mut report = Report::new("etcd puts");
    report.rows = measure(&options).await?;
    report.notes.push(format!(
        "{} puts of {} value bytes per concurrency under {KEY_PREFIX}<pid>/ (deleted); \
         compare `crud` creates on the etcd backend (or give `crud --etcd-baseline`): \
         the target is >= 80% of these ops/s",
        options.puts, options.value_bytes
    ));
    Ok(report)
}

/// Where the puts go, followed by this process's id; deleted afterwards.
const KEY_PREFIX: &str = "/bench-puts/";

/// One `put` row per concurrency level.
pub async fn measure(options: &EtcdOptions) -> Result<Vec<Row>, BenchError> {
    for endpoint in &options.endpoints {
        loopback::host_port(endpoint, "http", 2379)?;
    }
    let connect_options = etcd_client::ConnectOptions::new()
        .with_connect_timeout(PUT_TIMEOUT)
        .with_timeout(PUT_TIMEOUT);
    let client = Client::connect(&options.endpoints, Some(connect_options)).await?;
    let prefix = format!("{KEY_PREFIX}{}/", std::process::id());
    let value: Arc<Vec<u8>> = Arc::new(vec![b'x'; options.value_bytes]);
    let mut rows = Vec::with_capacity(options.concurrency.len());
    for &concurrency in &options.concurrency {
        let bounds = Bounds {
            count: options.puts,
            max_time: Duration::from_secs(options.max_seconds),
        };
        let kv = client.kv_client();
        let keys = format!("{prefix}c{concurrency}/");
        let value = value.clone();
        let outcome = phase::run(concurrency, bounds, move |index| {
            let mut kv = kv.clone();
            let key = format!("{keys}{index:06}");
            let value = value.clone();
            async move {
                match tokio::time::timeout(PUT_TIMEOUT, kv.put(key, value.as_slice(), None)).await {
                    Ok(Ok(_)) => Ok(()),
                    Ok(Err(error)) => Err(error.to_string()),
                    Err(_) => Err(format!("no answer within {PUT_TIMEOUT:?}")),
                }
            }
        })
        .await;
        rows.push(outcome.into_row("etcd put", concurrency));
    }
    client
        .kv_client()
        .delete(prefix.as_str(), Some(DeleteOptions::new().with_prefix()))
        .await?;
    Ok(rows)
}
