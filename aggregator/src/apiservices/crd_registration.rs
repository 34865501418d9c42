//! With the CRD engine in another process (`--crd-engine=external`):
//! keeps one APIService per served version of every established CRD,
//! pointing at the same server as the `v1.apiextensions.k8s.io`
//! APIService, as upstream's CRD registration controller does for its
//! in-process engine (priorities 1000/100, label `automanaged: "true"`).
//!
//! The CRDs are read through that APIService: listed, then watched, and
//! listed again whenever anything changes. A new APIService starts with
//! the CRD server's own availability, so a CRD's resources are served
//! through the front door as soon as the CRD is established (before
//! that, the aggregator hands group/versions nobody claims to the CRD
//! server). When a CRD changes, the discovery and OpenAPI documents the
//! aggregator keeps of its group are read again at once, not at the next
//! availability probe: the CRD server registers a CRD's resources before
//! it writes Established, so by that event's turn they are there.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use apiserver::error::ApiError;
use apiserver::handlers::Context;
use apiserver::server::ApiServer;
use apiserver::storage::StoreError;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use super::{
    automanaged, automanaged_label, available_condition, ignore_races, is_remote, stored, GROUP,
    PLURAL,
};
use crate::proxy::remotes::{Remote, Remotes};

const CRD_GROUP: &str = "apiextensions.k8s.io";
const CRDS_PATH: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
/// How long to wait before looking again after a failure or a closed watch.
const RETRY: Duration = Duration::from_secs(1);
/// The largest CRD list read.
const MAX_LIST_BYTES: usize = 256 * 1024 * 1024;

pub fn spawn(server: ApiServer, remotes: Arc<Remotes>) {
    tokio::spawn(async move {
        let mut changes = remotes.changes();
        loop {
            let index = remotes.current();
            match index.remote(CRD_GROUP, "v1").cloned() {
                Some(crd_server) if crd_server.is_available() => {
                    if let Err(error) = follow(server.context(), &remotes, &crd_server).await {
                        tracing::warn!(%error, "registering the external CRD engine's groups");
                    }
                    tokio::time::sleep(RETRY).await;
                }
                _ => {
                    // Nothing to follow yet: wait for the APIServices to change.
                    if changes.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
    });
}

/// Syncs, then watches the CRDs and, on every change, syncs and refreshes
/// what is kept of the changed groups, until the watch ends.
async fn follow(ctx: &Context, remotes: &Remotes, crd_server: &Remote) -> Result<(), String> {
    let backend = crd_server.backend.as_ref().map_err(Clone::clone)?;
    sync(ctx, crd_server).await.map_err(|e| e.to_string())?;
    let response = backend.open(&format!("{CRDS_PATH}?watch=1")).await?;
    if !response.status().is_success() {
        return Err(format!("watching CRDs: {}", response.status()));
    }
    let mut body = response.into_body();
    let mut pending = Vec::new();
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame.map_err(|e| e.to_string())?.into_data() else {
            continue;
        };
        pending.extend_from_slice(&data);
        if pending.len() > MAX_LIST_BYTES {
            return Err("a CRD watch event is too large".into());
        }
        let events = take_events(&mut pending);
        if events.is_empty() {
            continue;
        }
        sync(ctx, crd_server).await.map_err(|e| e.to_string())?;
        let groups: BTreeSet<&str> = events
            .iter()
            .filter_map(|event| event.pointer("/object/spec/group"))
            .filter_map(Value::as_str)
            .collect();
        refresh(remotes, crd_server, &groups).await;
    }
    Ok(())
}

/// The complete events (one JSON document a line) at the start of
/// `pending`, taken out of it.
fn take_events(pending: &mut Vec<u8>) -> Vec<Value> {
    let Some(end) = pending.iter().rposition(|b| *b == b'\n') else {
        return Vec::new();
    };
    let lines: Vec<u8> = pending.drain(..=end).collect();
    lines
        .split(|b| *b == b'\n')
        .filter_map(|line| serde_json::from_slice(line).ok())
        .collect()
}

/// Reads again what the aggregator keeps of the CRD server's
/// group/versions in `groups`.
async fn refresh(remotes: &Remotes, crd_server: &Remote, groups: &BTreeSet<&str>) {
    let index = remotes.current();
    let service = crd_server.spec().get("service");
    let changed = index.remotes.values().filter(|remote| {
        groups.contains(remote.group.as_str()) && remote.spec().get("service") == service
    });
    futures::future::join_all(changed.map(|remote| remote.refresh())).await;
}

/// One pass: the APIServices the CRDs call for, against those there are.
async fn sync(ctx: &Context, crd_server: &Remote) -> Result<(), ApiError> {
    let backend = crd_server
        .backend
        .as_ref()
        .map_err(|e| ApiError::Internal(e.clone()))?;
    let (status, body) = backend
        .get(CRDS_PATH, MAX_LIST_BYTES, Duration::from_secs(30))
        .await
        .map_err(|e| ApiError::Internal(format!("listing CRDs: {e}")))?;
    if !status.is_success() {
        return Err(ApiError::Internal(format!("listing CRDs: {status}")));
    }
    let list: Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::Internal(format!("the CRD list: {e}")))?;
    let desired = desired(&list, crd_server.spec());
    let availability = crd_server_status(ctx, &crd_server.name).await;

    let prefix = format!("{}/{GROUP}/{PLURAL}/", ctx.prefix);
    let existing = stored(ctx).await?;
    for (name, (revision, current)) in &existing {
        // Ours are the remote ones labelled as the CRD registration's.
        let ours = automanaged_label(current) == Some("true") && is_remote(current);
        let key = format!("{prefix}{name}");
        match desired.get(name) {
            None if ours => ignore_races(ctx.store.delete(&key, *revision).await.map(drop))?,
            Some(spec) if ours && current.get("spec") != Some(spec) => {
                let mut next = current.clone();
                next["spec"] = spec.clone();
                write(ctx, &key, &next, Some(*revision)).await?;
            }
            _ => {}
        }
    }
    for (name, spec) in &desired {
        if existing.contains_key(name) {
            continue;
        }
        let object = automanaged(name, spec, "true", availability.clone());
        write(ctx, &format!("{prefix}{name}"), &object, None).await?;
    }
    Ok(())
}

/// name -> spec of the APIService of every served version of every
/// established CRD, all at the CRD server.
fn desired(list: &Value, crd_server_spec: &Value) -> BTreeMap<String, Value> {
    let mut out = BTreeMap::new();
    for crd in list["items"].as_array().into_iter().flatten() {
        let established = crd
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .is_some_and(|c| {
                c.iter().any(|c| {
                    c.get("type").and_then(Value::as_str) == Some("Established")
                        && c.get("status").and_then(Value::as_str) == Some("True")
                })
            });
        if !established {
            continue;
        }
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default();
        for version in crd
            .pointer("/spec/versions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if version.get("served").and_then(Value::as_bool) != Some(true) {
                continue;
            }
            let Some(name) = version.get("name").and_then(Value::as_str) else {
                continue;
            };
            let mut spec = json!({
                "group": group,
                "version": name,
                "groupPriorityMinimum": 1000,
                "versionPriority": 100,
                "service": crd_server_spec["service"],
            });
            for field in ["caBundle", "insecureSkipTLSVerify"] {
                if let Some(value) = crd_server_spec.get(field) {
                    spec[field] = value.clone();
                }
            }
            out.insert(format!("{name}.{group}"), spec);
        }
    }
    out
}

/// The CRD server's APIService status, which new APIServices start with.
async fn crd_server_status(ctx: &Context, name: &str) -> Value {
    let key = format!("{}/{GROUP}/{PLURAL}/{name}", ctx.prefix);
    let stored = match ctx.store.get(&key).await {
        Ok(Some(kv)) => serde_json::from_slice::<Value>(&kv.value).ok(),
        _ => None,
    };
    match stored.as_ref().and_then(available_condition) {
        Some(condition) => json!({ "conditions": [condition] }),
        None => json!({}),
    }
}

async fn write(
    ctx: &Context,
    key: &str,
    object: &Value,
    revision: Option<apiserver::storage::Revision>,
) -> Result<(), ApiError> {
    let bytes = serde_json::to_vec(object).map_err(|e| ApiError::Internal(e.to_string()))?;
    let result = match revision {
        Some(revision) => ctx
            .store
            .update(key, bytes.into(), revision)
            .await
            .map(drop),
        None => ctx.store.create(key, bytes.into(), None).await.map(drop),
    };
    match result {
        Err(StoreError::AlreadyExists { .. }) => Ok(()),
        other => ignore_races(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn established_crds_get_an_apiservice_per_served_version() {
        let list = json!({"items": [
            {"spec": {"group": "stable.example.com", "versions": [
                {"name": "v1", "served": true}, {"name": "v2", "served": false}]},
             "status": {"conditions": [{"type": "Established", "status": "True"}]}},
            {"spec": {"group": "pending.example.com", "versions": [{"name": "v1", "served": true}]},
             "status": {"conditions": [{"type": "Established", "status": "False"}]}},
        ]});
        let server = json!({"service": {"namespace": "kube-system", "name": "crds", "port": 443},
                            "caBundle": "Q0E="});
        let desired = desired(&list, &server);
        assert_eq!(
            desired.keys().collect::<Vec<_>>(),
            ["v1.stable.example.com"]
        );
        let spec = &desired["v1.stable.example.com"];
        assert_eq!(spec["groupPriorityMinimum"], 1000);
        assert_eq!(spec["service"]["name"], "crds");
        assert_eq!(spec["caBundle"], "Q0E=");
    }

    #[test]
    fn only_whole_watch_lines_are_taken() {
        let mut pending = b"{\"type\":\"ADDED\",\"object\":{}}\n{\"type\":\"MODI".to_vec();
        let events = take_events(&mut pending);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["type"], "ADDED");
        assert_eq!(pending, b"{\"type\":\"MODI");
        assert!(take_events(&mut pending).is_empty());
    }
}
