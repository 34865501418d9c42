//! OpenAPI across every server. A remote group/version's documents are
//! fetched from its server (as the aggregator itself) and kept for
//! [`FRESH`]; a fetch that fails keeps the last good document, so a
//! backend that restarts does not make `kubectl explain` or client-side
//! validation flicker.
//!
//! - `/openapi/v3` adds an entry per available remote group/version,
//!   whose hash is the backend's own;
//! - `/openapi/v3/apis/<group>/<version>` of a remote is its server's
//!   document;
//! - `/openapi/v2` is ours with every remote document's paths and
//!   definitions added (ours win a clash, so the document stays
//!   self-consistent), merged again only when an input changes.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use apiserver::error::ApiError;
use apiserver::handlers::Context;
use bytes::Bytes;
use serde_json::{json, Value};

use super::remotes::{Index, Remote};

/// How long fetched documents are used before asking again.
const FRESH: Duration = Duration::from_secs(1);
/// How long a fetch may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest document read.
const MAX_DOCUMENT_BYTES: usize = 64 * 1024 * 1024;

/// A remote's fetched documents.
#[derive(Default)]
pub struct Fetched {
    state: tokio::sync::Mutex<FetchedState>,
}

#[derive(Default)]
struct FetchedState {
    /// When the backend's `/openapi/v3` was last read, and the URL it
    /// gave for this group/version.
    index: Option<(Instant, Option<String>)>,
    /// The v3 document and the URL it came from.
    v3: Option<(String, Bytes)>,
    /// The v2 document and when it was read.
    v2: Option<(Instant, Arc<Value>)>,
}

impl Fetched {
    /// Has every document fetched again on its next use; what is kept is
    /// still served when that fails.
    pub async fn expire(&self) {
        let Some(old) = Instant::now().checked_sub(FRESH) else {
            return;
        };
        let mut state = self.state.lock().await;
        if let Some((at, _)) = &mut state.index {
            *at = old;
        }
        if let Some((at, _)) = &mut state.v2 {
            *at = old;
        }
    }
}

impl Remote {
    /// The backend's URL for this group/version's v3 document.
    async fn v3_url(&self, state: &mut FetchedState) -> Option<String> {
        if let Some((at, url)) = &state.index {
            if at.elapsed() < FRESH {
                return url.clone();
            }
        }
        let fetched = self.fetch_json("/openapi/v3").await.map(|index| {
            index
                .pointer(&format!(
                    "/paths/apis~1{}~1{}/serverRelativeURL",
                    self.group, self.version
                ))
                .and_then(Value::as_str)
                .map(str::to_string)
        });
        match fetched {
            Some(url) => state.index = Some((Instant::now(), url)),
            // Keep what we had; try again next time.
            None => return state.index.as_ref().and_then(|(_, url)| url.clone()),
        }
        state.index.as_ref().and_then(|(_, url)| url.clone())
    }

    /// The hash to publish in our index, when the backend has a document.
    pub async fn openapi_v3_hash(&self) -> Option<String> {
        let mut state = self.openapi.state.lock().await;
        let url = self.v3_url(&mut state).await?;
        Some(match url.split_once("hash=") {
            Some((_, hash)) => hash.split('&').next().unwrap_or_default().to_string(),
            None => url,
        })
    }

    /// This group/version's v3 document.
    pub async fn openapi_v3(&self) -> Option<Bytes> {
        let mut state = self.openapi.state.lock().await;
        let url = self.v3_url(&mut state).await;
        if let (Some(url), Some((from, bytes))) = (&url, &state.v3) {
            if url == from {
                return Some(bytes.clone());
            }
        }
        if let Some(url) = url {
            if let Some(bytes) = self.fetch(&url).await {
                state.v3 = Some((url, bytes.clone()));
                return Some(bytes);
            }
        }
        state.v3.as_ref().map(|(_, bytes)| bytes.clone())
    }

    /// The backend's v2 document.
    async fn openapi_v2(&self) -> Option<Arc<Value>> {
        let mut state = self.openapi.state.lock().await;
        if let Some((at, document)) = &state.v2 {
            if at.elapsed() < FRESH {
                return Some(document.clone());
            }
        }
        match self.fetch_json("/openapi/v2").await {
            Some(document) => {
                // An unchanged document keeps its identity, which the
                // merged v2 is keyed by.
                let document = match &state.v2 {
                    Some((_, old)) if **old == document => old.clone(),
                    _ => Arc::new(document),
                };
                state.v2 = Some((Instant::now(), document.clone()));
                Some(document)
            }
            None => state.v2.as_ref().map(|(_, d)| d.clone()),
        }
    }

    async fn fetch(&self, path: &str) -> Option<Bytes> {
        let backend = self.backend.as_ref().ok()?;
        match backend.get(path, MAX_DOCUMENT_BYTES, FETCH_TIMEOUT).await {
            Ok((status, body)) if status.is_success() => Some(body),
            Ok((status, _)) => {
                tracing::debug!(apiservice = %self.name, path, %status, "OpenAPI fetch refused");
                None
            }
            Err(error) => {
                tracing::debug!(apiservice = %self.name, path, %error, "OpenAPI fetch failed");
                None
            }
        }
    }

    async fn fetch_json(&self, path: &str) -> Option<Value> {
        serde_json::from_slice(&self.fetch(path).await?).ok()
    }
}

/// `/openapi/v3`: ours plus every available remote group/version.
pub async fn v3_index(ctx: &Context, index: &Index) -> Result<Bytes, ApiError> {
    let local = ctx.openapi.v3_index(&ctx.registry).await?;
    let mut merged: Value = serde_json::from_slice(&local)
        .map_err(|e| ApiError::Internal(format!("our OpenAPI index: {e}")))?;
    for ((group, version), remote) in &index.remotes {
        if !remote.is_available() {
            continue;
        }
        if let Some(hash) = remote.openapi_v3_hash().await {
            let path = format!("apis/{group}/{version}");
            let url = format!("/openapi/v3/{path}?hash={hash}");
            merged["paths"][path] = json!({ "serverRelativeURL": url });
        }
    }
    Ok(Bytes::from(serde_json::to_vec(&merged).unwrap_or_default()))
}

/// The merged `/openapi/v2`, with what it was merged from.
#[derive(Default)]
pub struct MergedV2 {
    cached: Mutex<Option<(Vec<usize>, Bytes)>>,
}

impl MergedV2 {
    pub async fn get(&self, ctx: &Context, index: &Index) -> Result<Bytes, ApiError> {
        let local = ctx.openapi.v2(&ctx.registry).await?;
        let mut remotes = Vec::new();
        for remote in index.remotes.values() {
            if let Some(document) = remote.openapi_v2().await {
                remotes.push(document);
            }
        }
        if remotes.is_empty() {
            return Ok(local);
        }
        // Documents are shared, never changed in place: their addresses
        // say whether the inputs changed.
        let mut key = vec![local.as_ptr() as usize, local.len()];
        key.extend(remotes.iter().map(|d| Arc::as_ptr(d) as usize));
        if let Some((built_from, bytes)) = lock(&self.cached).as_ref() {
            if *built_from == key {
                return Ok(bytes.clone());
            }
        }
        let merged = tokio::task::spawn_blocking(move || merge_v2(&local, &remotes))
            .await
            .map_err(|e| ApiError::Internal(e.to_string()))??;
        *lock(&self.cached) = Some((key, merged.clone()));
        Ok(merged)
    }
}

fn merge_v2(local: &[u8], remotes: &[Arc<Value>]) -> Result<Bytes, ApiError> {
    let mut merged: Value = serde_json::from_slice(local)
        .map_err(|e| ApiError::Internal(format!("our OpenAPI v2: {e}")))?;
    for remote in remotes {
        for section in ["paths", "definitions"] {
            let Some(theirs) = remote.get(section).and_then(Value::as_object) else {
                continue;
            };
            if !merged[section].is_object() {
                merged[section] = json!({});
            }
            let ours = merged[section]
                .as_object_mut()
                .expect("just made an object");
            for (name, value) in theirs {
                ours.entry(name.clone()).or_insert_with(|| value.clone());
            }
        }
    }
    Ok(Bytes::from(
        serde_json::to_vec(&merged).map_err(|e| ApiError::Internal(e.to_string()))?,
    ))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_merge_adds_theirs_and_keeps_ours() {
        let local = serde_json::to_vec(&json!({
            "swagger": "2.0",
            "paths": {"/api/v1/pods": {}},
            "definitions": {"io.k8s.ObjectMeta": {"description": "ours"}},
        }))
        .unwrap();
        let theirs = Arc::new(json!({
            "paths": {"/apis/wardle.example.com/v1alpha1/flunders": {}},
            "definitions": {
                "io.k8s.ObjectMeta": {"description": "theirs"},
                "com.example.wardle.v1alpha1.Flunder": {},
            },
        }));
        let merged: Value = serde_json::from_slice(&merge_v2(&local, &[theirs]).unwrap()).unwrap();
        assert!(merged["paths"]["/apis/wardle.example.com/v1alpha1/flunders"].is_object());
        assert!(merged["paths"]["/api/v1/pods"].is_object());
        assert_eq!(
            merged["definitions"]["io.k8s.ObjectMeta"]["description"],
            "ours"
        );
        assert!(merged["definitions"]["com.example.wardle.v1alpha1.Flunder"].is_object());
    }
}
