//! Keeps the Available condition of every remote APIService, as upstream's
//! availability controller does: the Service must resolve (else
//! ServiceNotFound, ServicePortError, EndpointsNotFound, MissingEndpoints)
//! and the server must answer `GET /apis/<group>/<version>` with a 2xx
//! within 5 s (else FailedDiscoveryCheck); then True, `Passed`.
//!
//! Like upstream, the probe does not verify the serving certificate (a
//! bad caBundle shows on proxied requests, not here) and calls as
//! `system:kube-aggregator` in `system:masters`. Every remote is probed
//! every [`INTERVAL`] and whenever the APIServices change, so a backend
//! that stops or comes back is noticed within seconds. Status is written
//! only when it changes, so several replicas probing agree quietly.
//!
//! A successful probe's body is the group/version's discovery document,
//! which merged discovery serves.

use std::sync::Arc;
use std::time::Duration;

use apiserver::error::ApiError;
use apiserver::handlers::Context;
use apiserver::object;
use apiserver::server::ApiServer;
use apiserver::service_resolver;
use apiserver::storage::StoreError;
use serde_json::{json, Value};

use super::backend::FetchError;
use super::remotes::{Remote, Remotes};
use crate::apiservices;

/// How often every remote is probed.
const INTERVAL: Duration = Duration::from_secs(2);
/// How long one probe may take (upstream's client timeout).
const PROBE_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest discovery document read.
const MAX_DISCOVERY_BYTES: usize = 16 * 1024 * 1024;

/// The Available condition a probe arrived at.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Verdict {
    status: &'static str,
    reason: &'static str,
    message: String,
}

pub fn spawn(server: ApiServer, remotes: Arc<Remotes>) {
    tokio::spawn(async move {
        let mut changes = remotes.changes();
        loop {
            let index = remotes.current();
            let probes = index
                .remotes
                .values()
                .map(|remote| check(server.context(), remote.clone()));
            futures::future::join_all(probes).await;
            tokio::select! {
                () = tokio::time::sleep(INTERVAL) => {}
                changed = changes.changed() => if changed.is_err() { return },
            }
        }
    });
}

/// Probes one remote and records the verdict when it differs.
async fn check(ctx: &Context, remote: Arc<Remote>) {
    let verdict = probe(ctx, &remote).await;
    if let Err(error) = record(ctx, &remote.name, &verdict).await {
        tracing::warn!(apiservice = %remote.name, %error, "writing APIService status failed");
    }
}

async fn probe(ctx: &Context, remote: &Remote) -> Verdict {
    let backend = match &remote.probe {
        Ok(backend) => backend,
        Err(reason) => {
            return Verdict {
                status: "False",
                reason: "FailedDiscoveryCheck",
                message: reason.clone(),
            }
        }
    };
    let endpoint =
        match service_resolver::resolve(ctx.store.as_ref(), &ctx.prefix, backend.service()).await {
            Ok(endpoint) => endpoint,
            Err(error) => {
                let status = if error.reason() == "ServiceAccessError" {
                    "Unknown"
                } else {
                    "False"
                };
                return Verdict {
                    status,
                    reason: error.reason(),
                    message: error.to_string(),
                };
            }
        };
    let path = remote.discovery_path();
    let url = format!("https://{}:{}{path}", endpoint.host, endpoint.port);
    let failed = |why: String| Verdict {
        status: "False",
        reason: "FailedDiscoveryCheck",
        message: format!("failing or missing response from {url}: {why}"),
    };
    let (status, body) = match backend.get(&path, MAX_DISCOVERY_BYTES, PROBE_TIMEOUT).await {
        Err(FetchError::TimedOut) => {
            return Verdict {
                status: "False",
                reason: "FailedDiscoveryCheck",
                message: format!("timed out waiting for {url}"),
            }
        }
        Err(FetchError::Failed(error)) => return failed(error),
        Ok(answer) => answer,
    };
    if !status.is_success() && !status.is_redirection() {
        return failed(format!("bad status from {url}: {}", status.as_u16()));
    }
    remote.keep_discovery(&body);
    Verdict {
        status: "True",
        reason: "Passed",
        message: "all checks passed".into(),
    }
}

impl Remote {
    /// Where the group/version is discovered (`v1.`, the core group, where
    /// it is served).
    fn discovery_path(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// Keeps `body` as the discovery document when it is one.
    fn keep_discovery(&self, body: &[u8]) {
        if let Ok(document) = serde_json::from_slice::<Value>(body) {
            if document.get("kind").and_then(Value::as_str) == Some("APIResourceList") {
                self.set_discovery(document);
            }
        }
    }

    /// For a backend known to have changed what it serves: reads the
    /// discovery document again now, rather than at the next probe, and
    /// has the OpenAPI documents fetched again on their next use. Failures
    /// keep what was there; the probe reports them.
    pub async fn refresh(&self) {
        self.openapi.expire().await;
        self.fetch_discovery().await;
    }

    /// Reads the discovery document now (for a remote that became
    /// available before its first probe, say).
    pub async fn fetch_discovery(&self) {
        let Ok(backend) = &self.probe else {
            return;
        };
        let fetched = backend
            .get(&self.discovery_path(), MAX_DISCOVERY_BYTES, PROBE_TIMEOUT)
            .await;
        if let Ok((status, body)) = fetched {
            if status.is_success() {
                self.keep_discovery(&body);
            }
        }
    }
}

/// Writes the verdict into the APIService's status when it changes it.
async fn record(ctx: &Context, name: &str, verdict: &Verdict) -> Result<(), ApiError> {
    let descriptor = apiservices::descriptor();
    let key = format!("{}{name}", ctx.resource_prefix(&descriptor));
    // The cache answers the common case (nothing changed) without a read
    // of the store.
    let cached = ctx.cache(&descriptor).get(&key);
    if cached
        .and_then(|c| c.value().ok())
        .is_some_and(|current| agrees(&current, verdict))
    {
        return Ok(());
    }
    let Some(kv) = ctx.store.get(&key).await? else {
        return Ok(());
    };
    let mut api_service: Value = serde_json::from_slice(&kv.value)
        .map_err(|e| ApiError::Internal(format!("stored APIService {name}: {e}")))?;
    if agrees(&api_service, verdict) {
        return Ok(());
    }
    let previous = apiservices::available_condition(&api_service).cloned();
    let since = match &previous {
        Some(c) if c.get("status").and_then(Value::as_str) == Some(verdict.status) => c
            .get("lastTransitionTime")
            .cloned()
            .unwrap_or_else(|| json!(object::now_timestamp())),
        _ => json!(object::now_timestamp()),
    };
    tracing::info!(
        apiservice = name,
        status = verdict.status,
        reason = verdict.reason,
        message = %verdict.message,
        "APIService availability"
    );
    let condition = json!({
        "type": "Available",
        "status": verdict.status,
        "lastTransitionTime": since,
        "reason": verdict.reason,
        "message": verdict.message,
    });
    let mut conditions: Vec<Value> = api_service
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .map(|c| {
            c.iter()
                .filter(|c| c.get("type").and_then(Value::as_str) != Some("Available"))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    conditions.push(condition);
    api_service["status"] = json!({ "conditions": conditions });
    let bytes = serde_json::to_vec(&api_service).map_err(|e| ApiError::Internal(e.to_string()))?;
    match ctx.store.update(&key, bytes.into(), kv.mod_revision).await {
        // Someone else wrote first: the next round looks again.
        Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether the APIService already says what the verdict says.
fn agrees(api_service: &Value, verdict: &Verdict) -> bool {
    apiservices::available_condition(api_service).is_some_and(|c| {
        let text = |f: &str| c.get(f).and_then(Value::as_str).unwrap_or_default();
        text("status") == verdict.status
            && text("reason") == verdict.reason
            && text("message") == verdict.message
    })
}
