//! apiregistration.k8s.io/v1 APIServices: the resource, and the controller
//! that keeps one local APIService for every group/version this server
//! serves itself (as upstream's kube-aggregator and its CRD registration
//! controller do).
//!
//! Not built yet: APIServices with a `service` are stored and validated but
//! nothing is proxied to them, and no availability check runs for them.

pub mod crd_registration;
mod local;
mod validation;

use std::collections::BTreeMap;
use std::sync::Arc;

use apiserver::error::ApiError;
use apiserver::handlers::Context;
use apiserver::resource::{age_cell, Column, ResourceDescriptor, Strategy, AGE_COLUMN, ALL_VERBS};
use apiserver::server::ApiServer;
use apiserver::storage::{Revision, StoreError};
use apiserver::validation::FieldError;
use serde_json::{json, Value};

pub const GROUP: &str = "apiregistration.k8s.io";
pub const VERSION: &str = "v1";
pub const PLURAL: &str = "apiservices";

/// The label on APIServices the aggregator keeps itself.
const AUTOMANAGED: &str = "kube-aggregator.kubernetes.io/automanaged";

/// Serves APIServices and starts the local-APIService controller.
pub fn install(server: &ApiServer) {
    server.registry().add([descriptor()]);
    local::spawn(server.clone());
}

pub fn descriptor() -> ResourceDescriptor {
    ResourceDescriptor {
        group: GROUP.into(),
        version: VERSION.into(),
        kind: "APIService".into(),
        plural: PLURAL.into(),
        singular: "apiservice".into(),
        short_names: Vec::new(),
        categories: vec!["api-extensions".into()],
        namespaced: false,
        verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
        has_status: true,
        storage_path: format!("{GROUP}/{PLURAL}"),
        strategy: Arc::new(ApiServiceStrategy),
    }
}

struct ApiServiceStrategy;

impl Strategy for ApiServiceStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        // Status is the controllers' to write.
        object["status"] = json!({});
    }

    /// Upstream checks only that the name fits a path segment (`v1.` names
    /// the core group); that it is `version.group` is checked with the spec.
    fn name_errors(&self, name: &str) -> Vec<String> {
        apiserver::validation::path_segment_name_errors(name)
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        validation::errors(object)
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new(
                "Service",
                "string",
                "The reference to the service that hosts this API endpoint.",
            ),
            Column::new("Available", "string", "Whether this service is available."),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![
            json!(service_cell(object)),
            json!(available_cell(object)),
            age_cell(object),
        ]
    }
}

/// Every stored APIService by name, with the revision it was read at.
async fn stored(ctx: &Context) -> Result<BTreeMap<String, (Revision, Value)>, ApiError> {
    let prefix = format!("{}/{GROUP}/{PLURAL}/", ctx.prefix);
    let mut out = BTreeMap::new();
    for kv in ctx.store.list(&prefix, None, 0, 0).await?.items {
        let value: Value = serde_json::from_slice(&kv.value)
            .map_err(|e| ApiError::Internal(format!("stored APIService {}: {e}", kv.key)))?;
        out.insert(
            apiserver::object::name(&value).to_string(),
            (kv.mod_revision, value),
        );
    }
    Ok(out)
}

/// The automanaged label of an APIService the aggregator keeps.
fn automanaged_label(api_service: &Value) -> Option<&str> {
    api_service
        .pointer(&format!(
            "/metadata/labels/{}",
            AUTOMANAGED.replace('/', "~1")
        ))
        .and_then(Value::as_str)
}

/// Whether the APIService sends its group/version to a `service`.
fn is_remote(api_service: &Value) -> bool {
    api_service
        .pointer("/spec/service")
        .is_some_and(|s| !s.is_null())
}

/// A new APIService the aggregator keeps itself, labelled as such.
fn automanaged(name: &str, spec: &Value, label: &str, status: Value) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{VERSION}"),
        "kind": "APIService",
        "metadata": {
            "name": name,
            "uid": uuid::Uuid::new_v4().to_string(),
            "creationTimestamp": apiserver::object::now_timestamp(),
            "labels": { AUTOMANAGED: label },
        },
        "spec": spec,
        "status": status,
    })
}

/// A lost race means someone else wrote; the next change brings a new pass.
fn ignore_races(result: Result<(), StoreError>) -> Result<(), ApiError> {
    match result {
        Ok(()) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Whether the APIService's Available condition is True.
pub fn is_available(api_service: &Value) -> bool {
    available_condition(api_service)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}

pub fn available_condition(api_service: &Value) -> Option<&Value> {
    api_service
        .pointer("/status/conditions")
        .and_then(Value::as_array)?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some("Available"))
}

/// `Local`, or the Service as `namespace/name`.
fn service_cell(object: &Value) -> String {
    match object.pointer("/spec/service") {
        Some(Value::Object(service)) => {
            let text = |f: &str| service.get(f).and_then(Value::as_str).unwrap_or_default();
            format!("{}/{}", text("namespace"), text("name"))
        }
        _ => "Local".into(),
    }
}

/// The Available condition's status, with its reason when not True.
fn available_cell(object: &Value) -> String {
    let Some(condition) = available_condition(object) else {
        return "Unknown".into();
    };
    let status = condition
        .get("status")
        .and_then(Value::as_str)
        .unwrap_or("Unknown");
    match condition.get("reason").and_then(Value::as_str) {
        Some(reason) if status != "True" && !reason.is_empty() => format!("{status} ({reason})"),
        _ => status.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_name_the_service_and_availability() {
        let local = json!({"spec": {"service": null}, "status": {"conditions": [
            {"type": "Available", "status": "True", "reason": "Local"}
        ]}});
        assert_eq!(service_cell(&local), "Local");
        assert_eq!(available_cell(&local), "True");
        let remote = json!({"spec": {"service": {"namespace": "ns", "name": "api"}}, "status": {"conditions": [
            {"type": "Available", "status": "False", "reason": "ServiceNotFound"}
        ]}});
        assert_eq!(service_cell(&remote), "ns/api");
        assert_eq!(available_cell(&remote), "False (ServiceNotFound)");
        assert_eq!(available_cell(&json!({})), "Unknown");
    }
}
