//! Emptying a terminating namespace of what aggregated API servers hold in
//! it, as upstream's namespace controller does through discovery: every
//! namespaced resource of every remote group/version that can be listed
//! and deleted is listed, each object deleted, and what is still there
//! (finalizers pending, say) counted. An unavailable remote holds the
//! namespace, with upstream's discovery-failure message, rather than let
//! its content outlive the namespace.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use apiserver::namespaces::RemoteContent;
use serde_json::Value;

use super::backend::Backend;
use super::remotes::Remotes;

/// How long one call to a backend may take.
const TIMEOUT: Duration = Duration::from_secs(10);
/// The largest list read.
const MAX_LIST_BYTES: usize = 64 * 1024 * 1024;

pub struct RemoteNamespaces {
    pub remotes: Arc<Remotes>,
}

#[async_trait::async_trait]
impl RemoteContent for RemoteNamespaces {
    async fn empty(&self, namespace: &str) -> Result<BTreeMap<String, usize>, String> {
        let index = self.remotes.current();
        let mut left = BTreeMap::new();
        let mut failing = Vec::new();
        for remote in index.remotes.values() {
            let group_version = format!("{}/{}", remote.group, remote.version);
            let (Ok(backend), Some(discovery), true) =
                (&remote.backend, remote.discovery(), remote.is_available())
            else {
                failing.push(format!(
                    "{group_version}: the server is currently unable to handle the request"
                ));
                continue;
            };
            for plural in deletable(&discovery) {
                let base = format!("/apis/{group_version}/namespaces/{namespace}/{plural}");
                match empty_collection(backend, &base).await {
                    Ok(0) => {}
                    Ok(n) => {
                        *left
                            .entry(format!("{plural}.{}", remote.group))
                            .or_default() += n;
                    }
                    Err(error) => failing.push(format!("{group_version}: {error}")),
                }
            }
        }
        if failing.is_empty() {
            return Ok(left);
        }
        Err(format!(
            "Discovery failed for some groups, {} failing: unable to retrieve the complete list of server APIs: {}",
            failing.len(),
            failing.join(", ")
        ))
    }
}

/// The namespaced resources of a discovery document that can be listed
/// and deleted.
fn deletable(discovery: &Value) -> Vec<String> {
    discovery["resources"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["namespaced"].as_bool() == Some(true))
        .filter(|r| {
            let verbs: Vec<&str> = r["verbs"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            verbs.contains(&"list") && verbs.contains(&"delete")
        })
        .filter_map(|r| r["name"].as_str())
        .filter(|name| !name.contains('/'))
        .map(str::to_string)
        .collect()
}

/// Deletes every object of a collection; how many are still listed after.
async fn empty_collection(backend: &Backend, base: &str) -> Result<usize, String> {
    let names = list(backend, base).await?;
    for name in &names {
        let path = format!("{base}/{name}");
        let answer = backend
            .call(http::Method::DELETE, &path, MAX_LIST_BYTES, TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        if !answer.0.is_success() && answer.0 != http::StatusCode::NOT_FOUND {
            return Err(format!("deleting {path}: {}", answer.0));
        }
    }
    if names.is_empty() {
        return Ok(0);
    }
    Ok(list(backend, base).await?.len())
}

/// The names in a collection.
async fn list(backend: &Backend, base: &str) -> Result<Vec<String>, String> {
    let (status, body) = backend
        .get(base, MAX_LIST_BYTES, TIMEOUT)
        .await
        .map_err(|e| e.to_string())?;
    if status == http::StatusCode::NOT_FOUND {
        return Ok(Vec::new());
    }
    if !status.is_success() {
        return Err(format!("listing {base}: {status}"));
    }
    let list: Value = serde_json::from_slice(&body).map_err(|e| format!("listing {base}: {e}"))?;
    Ok(list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.pointer("/metadata/name").and_then(Value::as_str))
        .map(str::to_string)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_namespaced_listable_deletable_resources_are_emptied() {
        let discovery = json!({"resources": [
            {"name": "flunders", "namespaced": true, "verbs": ["list", "delete", "get"]},
            {"name": "flunders/status", "namespaced": true, "verbs": ["get", "delete", "list"]},
            {"name": "fischers", "namespaced": false, "verbs": ["list", "delete"]},
            {"name": "reviews", "namespaced": true, "verbs": ["create"]},
        ]});
        assert_eq!(deletable(&discovery), ["flunders"]);
    }
}
