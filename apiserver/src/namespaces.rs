//! The namespace controller: once a namespace is marked for deletion it
//! deletes everything in it, then removes the `kubernetes` finalizer and
//! the namespace itself, as upstream's namespace controller does.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::handlers::{delete_object, Context};
use crate::object;

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
        if empty_namespace(ctx, &name).await? {
            finish(ctx, &kv.key, kv.mod_revision, namespace).await?;
        }
    }
    Ok(())
}

/// Deletes what is left in the namespace; true once nothing is.
async fn empty_namespace(ctx: &Context, namespace: &str) -> Result<bool, ApiError> {
    let mut seen_paths = HashSet::new();
    let mut empty = true;
    for descriptor in ctx.registry.snapshot().resources() {
        if !descriptor.namespaced || !seen_paths.insert(descriptor.storage_path.clone()) {
            continue;
        }
        let prefix = ctx.collection_prefix(&descriptor, Some(namespace));
        let page = ctx.store.list(&prefix, None, 0, 0).await?;
        for kv in page.items {
            empty = false;
            let Some(name) = kv.key.strip_prefix(&prefix) else {
                continue;
            };
            match delete_object(ctx, &descriptor, Some(namespace), name, false, |_| Ok(())).await {
                Ok(_) | Err(ApiError::NotFound { .. }) => {}
                Err(e) => tracing::warn!(error = %e, namespace, name, "namespace cleanup failed"),
            }
        }
    }
    Ok(empty)
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
