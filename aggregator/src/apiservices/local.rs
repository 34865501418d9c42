//! Keeps one local APIService per group/version served in this process,
//! as upstream's aggregator (built-in groups, label `onstart`) and its CRD
//! registration controller (CRD groups, label `true`) do: created when the
//! group/version appears, removed when it goes, always Available.

use std::collections::BTreeMap;
use std::time::Duration;

use apiserver::error::ApiError;
use apiserver::handlers::Context;
use apiserver::object;
use apiserver::registry::RegistrySnapshot;
use apiserver::server::ApiServer;
use apiserver::storage::StoreError;
use serde_json::{json, Value};

use super::{
    automanaged, automanaged_label, ignore_races, is_available, is_remote, stored, AUTOMANAGED,
    GROUP, PLURAL,
};

/// Upstream's priorities of the built-in group/versions served here:
/// (group, version, groupPriorityMinimum, versionPriority).
const PRIORITIES: &[(&str, &str, i64, i64)] = &[
    ("", "v1", 18000, 1),
    ("apiregistration.k8s.io", "v1", 18000, 15),
    ("apps", "v1", 17800, 15),
    ("events.k8s.io", "v1", 17750, 15),
    ("authentication.k8s.io", "v1", 17700, 15),
    ("authorization.k8s.io", "v1", 17600, 15),
    ("apiextensions.k8s.io", "v1", 16700, 15),
    ("coordination.k8s.io", "v1", 16500, 15),
    ("discovery.k8s.io", "v1", 16200, 15),
];

/// What the CRD registration controller gives every CRD group/version.
const CRD_PRIORITIES: (i64, i64) = (1000, 100);

/// How often a pass runs without a registry change.
const RESYNC: Duration = Duration::from_secs(10);

/// How long to wait before trying again after a failed pass.
const RETRY: Duration = Duration::from_secs(1);

pub fn spawn(server: ApiServer) {
    tokio::spawn(async move {
        let mut changes = server.registry().changes();
        loop {
            if let Err(error) = sync(server.context()).await {
                tracing::warn!(%error, "keeping the local APIServices failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            // A pass also runs now and then, to restore a local APIService
            // someone deleted or edited.
            tokio::select! {
                changed = changes.changed() => if changed.is_err() { return },
                () = tokio::time::sleep(RESYNC) => {}
            }
        }
    });
}

/// One pass: create what is missing, fix what drifted, delete what is gone.
async fn sync(ctx: &Context) -> Result<(), ApiError> {
    let desired = desired(&ctx.registry.snapshot());
    let prefix = format!("{}/{GROUP}/{PLURAL}/", ctx.prefix);
    let existing = stored(ctx).await?;
    for (name, (revision, current)) in &existing {
        // Ours are the automanaged ones served here (without a service).
        let automanaged = automanaged_label(current).is_some() && !is_remote(current);
        let key = format!("{prefix}{name}");
        match desired.get(name) {
            None if automanaged => ignore_races(ctx.store.delete(&key, *revision).await.map(drop))?,
            Some((spec, label))
                if automanaged && (current.get("spec") != Some(spec) || !is_available(current)) =>
            {
                let mut next = current.clone();
                next["spec"] = spec.clone();
                object::set_meta(&mut next, "labels", json!({ AUTOMANAGED: label }));
                next["status"] = available_status();
                let bytes =
                    serde_json::to_vec(&next).map_err(|e| ApiError::Internal(e.to_string()))?;
                ignore_races(
                    ctx.store
                        .update(&key, bytes.into(), *revision)
                        .await
                        .map(drop),
                )?;
            }
            _ => {}
        }
    }
    for (name, (spec, label)) in &desired {
        if existing.contains_key(name) {
            continue;
        }
        let object = automanaged(name, spec, label, available_status());
        let bytes = serde_json::to_vec(&object).map_err(|e| ApiError::Internal(e.to_string()))?;
        let key = format!("{prefix}{name}");
        match ctx.store.create(&key, bytes.into(), None).await {
            Ok(_) | Err(StoreError::AlreadyExists { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// name -> (spec, automanaged label) of every local APIService wanted.
fn desired(snapshot: &RegistrySnapshot) -> BTreeMap<String, (Value, &'static str)> {
    let mut out = BTreeMap::new();
    for (group, versions) in snapshot.groups() {
        for version in versions {
            let custom = snapshot
                .resources_in(&group, &version)
                .iter()
                .any(|r| r.strategy.openapi_schema().is_some());
            let builtin = PRIORITIES
                .iter()
                .find(|(g, v, _, _)| *g == group && *v == version)
                .map(|(_, _, g, v)| (*g, *v));
            let ((group_priority, version_priority), label) = match (builtin, custom) {
                (Some(priorities), _) => (priorities, "onstart"),
                (None, true) => (CRD_PRIORITIES, "true"),
                // Upstream registers no local APIService for a built-in
                // group/version missing from its table.
                (None, false) => continue,
            };
            let spec = json!({
                "service": null,
                "group": group,
                "version": version,
                "groupPriorityMinimum": group_priority,
                "versionPriority": version_priority,
            });
            out.insert(format!("{version}.{group}"), (spec, label));
        }
    }
    out
}

fn available_status() -> Value {
    json!({"conditions": [{
        "type": "Available",
        "status": "True",
        "lastTransitionTime": object::now_timestamp(),
        "reason": "Local",
        "message": "Local APIServices are always available",
    }]})
}
