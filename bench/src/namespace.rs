//! The throwaway namespace each run works in, and ConfigMap bodies.

use http::{Method, StatusCode};
use serde::Deserialize;

use crate::client::ApiClient;
use crate::error::BenchError;

/// A name no earlier run used: `bench-<pid>-<unix seconds>`.
pub fn unique_name() -> String {
    let seconds = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|since| since.as_secs())
        .unwrap_or_default();
    format!("bench-{}-{seconds}", std::process::id())
}

pub async fn create(client: &ApiClient, name: &str) -> Result<(), BenchError> {
    let body = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name },
    });
    let reply = client
        .call(Method::POST, "/api/v1/namespaces", Some(body.to_string()))
        .await?;
    if reply.status != StatusCode::CREATED {
        return Err(BenchError::Protocol(format!(
            "creating namespace {name}: {}",
            reply.describe()
        )));
    }
    Ok(())
}

/// Deletes the namespace; the server's namespace controller removes what is left in it.
pub async fn delete(client: &ApiClient, name: &str) -> Result<(), BenchError> {
    let reply = client
        .call(Method::DELETE, &format!("/api/v1/namespaces/{name}"), None)
        .await?;
    if !reply.status.is_success() {
        return Err(BenchError::Protocol(format!(
            "deleting namespace {name}: {}",
            reply.describe()
        )));
    }
    Ok(())
}

/// A ConfigMap body; `data` values must be strings.
pub fn configmap(
    namespace: &str,
    name: &str,
    data: &[(&str, &str)],
    resource_version: Option<&str>,
) -> String {
    let mut metadata = serde_json::json!({ "name": name, "namespace": namespace });
    if let Some(version) = resource_version {
        metadata["resourceVersion"] = version.into();
    }
    let data: serde_json::Map<String, serde_json::Value> = data
        .iter()
        .map(|(key, value)| (key.to_string(), serde_json::Value::from(*value)))
        .collect();
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": metadata,
        "data": data,
    })
    .to_string()
}

#[derive(Deserialize)]
struct Head {
    metadata: HeadMetadata,
}

#[derive(Deserialize)]
struct HeadMetadata {
    #[serde(rename = "resourceVersion", default)]
    resource_version: String,
}

/// `metadata.resourceVersion` of an object or list body.
pub fn resource_version(body: &[u8]) -> Result<String, String> {
    serde_json::from_slice::<Head>(body)
        .map(|head| head.metadata.resource_version)
        .map_err(|error| format!("reading resourceVersion: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configmap_body_carries_version_and_data() {
        let body = configmap("ns", "a", &[("k", "v")], Some("42"));
        let value: serde_json::Value = serde_json::from_str(&body).expect("valid JSON");
        assert_eq!(value["metadata"]["resourceVersion"], "42");
        assert_eq!(value["data"]["k"], "v");
        assert_eq!(resource_version(body.as_bytes()).expect("has one"), "42");
    }

    #[test]
    fn unique_name_is_a_valid_namespace_name() {
        let name = unique_name();
        assert!(name.len() <= 63);
        assert!(name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
    }
}
