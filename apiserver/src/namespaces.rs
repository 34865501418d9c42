//! The namespace controller: once a namespace is marked for deletion it
//! deletes everything in it, then removes the `kubernetes` finalizer and
//! the namespace itself, as upstream's namespace controller does.
//!
//! "Everything" includes what other processes serve (aggregated APIs): the
//! front door registers a [`RemoteContent`] that empties the namespace
//! there too, and the namespace stays until it reports nothing left.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::handlers::{delete_object, Context};
use crate::object;

/// The namespaced content of a terminating namespace that other processes
/// serve.
#[async_trait::async_trait]
pub trait RemoteContent: Send + Sync {
    /// Deletes what `namespace` holds elsewhere; the objects left, by
    /// resource (`flunders.wardle.example.com`), or why that could not be
    /// found out (an unavailable server, say), which holds the namespace.
    async fn empty(&self, namespace: &str) -> Result<BTreeMap<String, usize>, String>;
}

/// Where a process's [`RemoteContent`] is registered (once, at start).
pub type RemoteContentSlot = OnceLock<Arc<dyn RemoteContent>>;

/// How often terminating namespaces are swept.
const SWEEP: Duration = Duration::from_millis(500);

pub fn spawn_controller<C>(ctx: Arc<C>)
where
    C: std::ops::Deref<Target = Context> + Send + Sync + 'static,
{
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(SWEEP).await;
            if let Err(e) = sweep(&ctx).await {
                tracing::warn!(error = %e, "namespace controller sweep failed");
            }
        }
    });
}

async fn sweep(ctx: &Context) -> Result<(), ApiError> {
    let prefix = format!("{}/namespaces/", ctx.prefix);
    let page = ctx.store.list(&prefix, None, 0, 0).await?;
    for kv in page.items {
        let namespace: Value = match serde_json::from_slice(&kv.value) {
            Ok(v) => v,
            Err(_) => continue,
        };
        if !object::is_deleting(&namespace) {
            continue;
        }
        let name = object::name(&namespace).to_string();
        let mut remaining = empty_namespace(ctx, &name).await?;
        if let Some(remote) = ctx.remote_content.get() {
            match remote.empty(&name).await {
                Ok(left) => remaining.by_resource.extend(left),
                Err(error) => remaining.discovery_failure = Some(error),
            }
        }
        if remaining.is_empty() {
            finish(ctx, &kv.key, kv.mod_revision, namespace).await?;
        } else {
            report(ctx, &kv.key, kv.mod_revision, namespace, &remaining).await?;
        }
    }
    Ok(())
}

/// What is left in a terminating namespace after a sweep.
#[derive(Default)]
struct Remaining {
    /// Objects left per resource (`configmaps`, `deployments.apps`).
    by_resource: BTreeMap<String, usize>,
    /// Objects held per finalizer.
    by_finalizer: BTreeMap<String, usize>,
    /// Why remote content could not be listed, when it could not.
    discovery_failure: Option<String>,
}

impl Remaining {
    fn is_empty(&self) -> bool {
        self.by_resource.is_empty() && self.discovery_failure.is_none()
    }
}

/// Deletes what is left in the namespace and reports what stays.
async fn empty_namespace(ctx: &Context, namespace: &str) -> Result<Remaining, ApiError> {
    let mut seen_paths = HashSet::new();
    let mut remaining = Remaining::default();
    for descriptor in ctx.registry.snapshot().resources() {
        if !descriptor.namespaced || !seen_paths.insert(descriptor.storage_path.clone()) {
            continue;
        }
        let prefix = ctx.collection_prefix(&descriptor, Some(namespace));
        let page = ctx.store.list(&prefix, None, 0, 0).await?;
        for kv in page.items {
            let Some(name) = kv.key.strip_prefix(&prefix) else {
                continue;
            };
            let deleted =
                delete_object(ctx, &descriptor, Some(namespace), name, false, |_| Ok(())).await;
            let stays = match deleted {
                Ok((_, body)) if body.get("kind").and_then(Value::as_str) != Some("Status") => {
                    Some(body)
                }
                Ok(_) | Err(ApiError::NotFound { .. }) => None,
                Err(e) => {
                    tracing::warn!(error = %e, namespace, name, "namespace cleanup failed");
                    serde_json::from_slice(&kv.value).ok()
                }
            };
            if let Some(object) = stays {
                *remaining
                    .by_resource
                    .entry(descriptor.group_resource())
                    .or_default() += 1;
                for finalizer in object::finalizers(&object) {
                    *remaining.by_finalizer.entry(finalizer).or_default() += 1;
                }
            }
        }
    }
    Ok(remaining)
}

/// The conditions upstream's namespace controller sets on a namespace that
/// cannot finish yet; written only when they change.
async fn report(
    ctx: &Context,
    key: &str,
    revision: i64,
    mut namespace: Value,
    remaining: &Remaining,
) -> Result<(), ApiError> {
    let list = |counts: &BTreeMap<String, usize>, join: &str| {
        counts
            .iter()
            .map(|(what, n)| format!("{what}{join}{n} resource instances"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let finalizers = if remaining.by_finalizer.is_empty() {
        (
            "False",
            "ContentHasNoFinalizers",
            "All content-preserving finalizers finished".to_string(),
        )
    } else {
        (
            "True",
            "SomeFinalizersRemain",
            format!(
                "Some content in the namespace has finalizers remaining: {}",
                list(&remaining.by_finalizer, " in ")
            ),
        )
    };
    let discovery = match &remaining.discovery_failure {
        None => (
            "False",
            "ResourcesDiscovered",
            "All resources successfully discovered".to_string(),
        ),
        Some(error) => ("True", "DiscoveryFailed", error.clone()),
    };
    let (content_status, content_reason, content_message) = if remaining.by_resource.is_empty() {
        (
            "False",
            "ContentRemoved",
            "All content successfully removed".to_string(),
        )
    } else {
        (
            "True",
            "SomeResourcesRemain",
            format!(
                "Some resources are remaining: {}",
                list(&remaining.by_resource, " has ")
            ),
        )
    };
    let wanted = [
        (
            "NamespaceDeletionDiscoveryFailure",
            discovery.0,
            discovery.1,
            discovery.2,
        ),
        (
            "NamespaceDeletionGroupVersionParsingFailure",
            "False",
            "ParsedGroupVersions",
            "All legacy kube types successfully parsed".to_string(),
        ),
        (
            "NamespaceDeletionContentFailure",
            "False",
            "ContentDeleted",
            "All content successfully deleted, may be waiting on finalization".to_string(),
        ),
        (
            "NamespaceContentRemaining",
            content_status,
            content_reason,
            content_message,
        ),
        (
            "NamespaceFinalizersRemaining",
            finalizers.0,
            finalizers.1,
            finalizers.2,
        ),
    ];
    let existing = namespace
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let now = object::now_timestamp();
    let mut changed = false;
    let conditions: Vec<Value> = wanted
        .iter()
        .map(|(kind, status, reason, message)| {
            let old = existing
                .iter()
                .find(|c| c.get("type").and_then(Value::as_str) == Some(kind));
            if let Some(old) = old.filter(|c| {
                c["status"] == *status && c["reason"] == *reason && c["message"] == json!(message)
            }) {
                return old.clone();
            }
            changed = true;
            json!({ "type": kind, "status": status, "reason": reason, "message": message, "lastTransitionTime": now })
        })
        .collect();
    if !changed {
        return Ok(());
    }
    namespace["status"]["conditions"] = json!(conditions);
    let bytes = serde_json::to_vec(&namespace).map_err(|e| ApiError::Internal(e.to_string()))?;
    match ctx.store.update(key, bytes.into(), revision).await {
        Ok(_) | Err(crate::storage::StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Drops the `kubernetes` finalizer; the namespace goes once no metadata
/// finalizers remain.
async fn finish(
    ctx: &Context,
    key: &str,
    revision: i64,
    mut namespace: Value,
) -> Result<(), ApiError> {
    if let Some(spec) = namespace.get_mut("spec").and_then(Value::as_object_mut) {
        spec.insert("finalizers".into(), json!([]));
    }
    if object::finalizers(&namespace).is_empty() {
        match ctx.store.delete(key, revision).await {
            Ok(_)
            | Err(crate::storage::StoreError::NotFound { .. })
            | Err(crate::storage::StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        return Ok(());
    }
    let bytes = serde_json::to_vec(&namespace).map_err(|e| ApiError::Internal(e.to_string()))?;
    match ctx.store.update(key, bytes.into(), revision).await {
        Ok(_) | Err(crate::storage::StoreError::Conflict { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
