//! Raw etcd write throughput, the baselines for creates on the etcd backend,
//! through etcd-client (the crate the storage code uses) with values of the
//! same size as the ConfigMaps:
//! - `etcd put`: one plain `Put` per operation, what the target is
//!   measured against;
//! - `etcd create txn`: the transaction the server sends for every create
//!   (`create_revision(key) == 0` then put). etcd 3.4 copies its whole
//!   uncommitted-write buffer for every transaction (fixed upstream in 3.5 and
//!   3.4.24), so on Debian's 3.4.23 these cost several times a put; this row
//!   shows how much of the gap is etcd's and how much is the API server's.

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, Compare, CompareOp, DeleteOptions, KvClient, Txn, TxnOp};

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
        "{} puts and {} create transactions of {} value bytes per concurrency under {KEY_PREFIX}<pid>/ (deleted); \
         compare `crud` creates on the etcd backend (or give `crud --etcd-baseline`): \
         the target is >= 80% of the put ops/s",
        options.puts, options.puts, options.value_bytes
    ));
    Ok(report)
}

/// Where the puts go, followed by this process's id; deleted afterwards.
const KEY_PREFIX: &str = "/bench-puts/";

/// How each baseline operation writes its key.
#[derive(Debug, Clone, Copy)]
enum Write {
    Put,
    CreateTxn,
}

impl Write {
    fn label(self) -> &'static str {
        match self {
            Write::Put => PUT_ROW,
            Write::CreateTxn => CREATE_TXN_ROW,
        }
    }

    async fn send(self, kv: &mut KvClient, key: String, value: &[u8]) -> Result<(), String> {
        let sent = match self {
            Write::Put => tokio::time::timeout(PUT_TIMEOUT, kv.put(key, value, None))
                .await
                .map(|r| r.map(drop)),
            Write::CreateTxn => {
                let txn = Txn::new()
                    .when([Compare::create_revision(key.as_str(), CompareOp::Equal, 0)])
                    .and_then([TxnOp::put(key.as_str(), value, None)]);
                tokio::time::timeout(PUT_TIMEOUT, kv.txn(txn))
                    .await
                    .map(|r| r.map(drop))
            }
        };
        match sent {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => Err(error.to_string()),
            Err(_) => Err(format!("no answer within {PUT_TIMEOUT:?}")),
        }
    }
}

pub const PUT_ROW: &str = "etcd put";
pub const CREATE_TXN_ROW: &str = "etcd create txn";

/// One `etcd put` and one `etcd create txn` row per concurrency level.
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
    let mut rows = Vec::with_capacity(2 * options.concurrency.len());
    for write in [Write::Put, Write::CreateTxn] {
        for &concurrency in &options.concurrency {
            let bounds = Bounds {
                count: options.puts,
                max_time: Duration::from_secs(options.max_seconds),
            };
            let kv = client.kv_client();
            let keys = format!(
                "{prefix}{}/c{concurrency}/",
                write.label().replace(' ', "-")
            );
            let value = value.clone();
            let outcome = phase::run(concurrency, bounds, move |index| {
                let mut kv = kv.clone();
                let key = format!("{keys}{index:06}");
                let value = value.clone();
                async move { write.send(&mut kv, key, &value).await }
            })
            .await;
            rows.push(outcome.into_row(write.label(), concurrency));
        }
    }
    client
        .kv_client()
        .delete(prefix.as_str(), Some(DeleteOptions::new().with_prefix()))
        .await?;
    Ok(rows)
}
