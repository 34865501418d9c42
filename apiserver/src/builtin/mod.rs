//! The built-in API groups: one descriptor per served resource and the
//! strategy that gives each kind upstream's behaviour (defaults, validation,
//! table cells, field selectors, event conversion).
//!
//! The generic handlers do everything common to all kinds (metadata, storage,
//! the status subresource, selectors); a kind here only adds what makes it
//! different. Modules follow the API groups, split by kind where a kind has
//! many rules:
//!
//! | group/version          | resources                                   |
//! |------------------------|---------------------------------------------|
//! | core/v1                | namespaces, configmaps, secrets, serviceaccounts, services, endpoints, pods, events |
//! | apps/v1                | deployments                                 |
//! | events.k8s.io/v1       | events (stored as core/v1 events)           |
//! | coordination.k8s.io/v1 | leases                                      |
//! | discovery.k8s.io/v1    | endpointslices                              |

mod config_data;
mod deployment;
mod endpoints;
mod event;
mod lease;
mod namespace;
mod pod;
mod pod_spec;
mod service;
mod service_account;

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::resource::{ResourceDescriptor, Strategy, ALL_VERBS};

/// What the built-in kinds need from the server's configuration.
#[derive(Debug, Clone)]
pub struct BuiltinOptions {
    /// `--service-cluster-ip-range`, e.g. `10.96.0.0/12`: Services get their
    /// ClusterIP from here.
    pub service_cluster_ip_range: String,
    /// `--event-ttl`: Events expire this long after their last write.
    pub event_ttl: std::time::Duration,
}

impl Default for BuiltinOptions {
    /// Upstream's defaults when the flags are not given.
    fn default() -> Self {
        BuiltinOptions {
            service_cluster_ip_range: "10.0.0.0/24".to_string(),
            event_ttl: std::time::Duration::from_secs(3600),
        }
    }
}

/// Every built-in resource this server serves, described once.
///
/// Fails only when the options are unusable (a malformed ClusterIP range).
pub fn descriptors(options: &BuiltinOptions) -> Result<Vec<ResourceDescriptor>, String> {
    let service = service::ServiceStrategy::from_range(&options.service_cluster_ip_range)?;
    Ok(vec![
        Describe::core("Namespace", "namespaces", namespace::NamespaceStrategy)
            .cluster_scoped()
            .short_names(&["ns"])
            .with_status()
            .verbs(&[
                "create", "delete", "get", "list", "patch", "update", "watch",
            ])
            .build(),
        Describe::core("ConfigMap", "configmaps", config_data::ConfigMapStrategy)
            .short_names(&["cm"])
            .build(),
        Describe::core("Secret", "secrets", config_data::SecretStrategy).build(),
        Describe::core(
            "ServiceAccount",
            "serviceaccounts",
            service_account::ServiceAccountStrategy,
        )
        .short_names(&["sa"])
        .build(),
        Describe::core("Service", "services", service)
            .short_names(&["svc"])
            .categories(&["all"])
            .with_status()
            .storage_path("services/specs")
            .build(),
        Describe::core("Endpoints", "endpoints", endpoints::EndpointsStrategy)
            .short_names(&["ep"])
            .storage_path("services/endpoints")
            .build(),
        Describe::core("Pod", "pods", pod::PodStrategy)
            .short_names(&["po"])
            .categories(&["all"])
            .with_status()
            .build(),
        Describe::core(
            "Event",
            "events",
            event::CoreEventStrategy {
                ttl: options.event_ttl,
            },
        )
        .short_names(&["ev"])
        .build(),
        Describe::grouped(
            "apps",
            "Deployment",
            "deployments",
            deployment::DeploymentStrategy,
        )
        .short_names(&["deploy"])
        .categories(&["all"])
        .with_status()
        .build(),
        Describe::grouped(
            "events.k8s.io",
            "Event",
            "events",
            event::EventsV1Strategy {
                ttl: options.event_ttl,
            },
        )
        .short_names(&["ev"])
        .build(),
        Describe::grouped(
            "coordination.k8s.io",
            "Lease",
            "leases",
            lease::LeaseStrategy,
        )
        .build(),
        Describe::grouped(
            "discovery.k8s.io",
            "EndpointSlice",
            "endpointslices",
            endpoints::EndpointSliceStrategy,
        )
        .build(),
    ])
}

/// A descriptor under construction; everything not set takes the common
/// value (namespaced, all verbs, no status, stored under the plural).
struct Describe(ResourceDescriptor);

impl Describe {
    fn core(kind: &str, plural: &str, strategy: impl Strategy + 'static) -> Self {
        Self::grouped("", kind, plural, strategy)
    }

    fn grouped(group: &str, kind: &str, plural: &str, strategy: impl Strategy + 'static) -> Self {
        Describe(ResourceDescriptor {
            group: group.to_string(),
            version: "v1".to_string(),
            kind: kind.to_string(),
            plural: plural.to_string(),
            singular: kind.to_lowercase(),
            short_names: Vec::new(),
            categories: Vec::new(),
            namespaced: true,
            verbs: ALL_VERBS.iter().map(|v| v.to_string()).collect(),
            has_status: false,
            // Upstream's etcd keys leave the group out for every group served
            // here (`/registry/deployments/...`, `/registry/leases/...`).
            storage_path: plural.to_string(),
            strategy: Arc::new(strategy),
        })
    }

    fn cluster_scoped(mut self) -> Self {
        self.0.namespaced = false;
        self
    }

    fn short_names(mut self, names: &[&str]) -> Self {
        self.0.short_names = names.iter().map(|n| n.to_string()).collect();
        self
    }

    fn categories(mut self, names: &[&str]) -> Self {
        self.0.categories = names.iter().map(|n| n.to_string()).collect();
        self
    }

    fn with_status(mut self) -> Self {
        self.0.has_status = true;
        self
    }

    fn verbs(mut self, verbs: &[&str]) -> Self {
        self.0.verbs = verbs.iter().map(|v| v.to_string()).collect();
        self
    }

    fn storage_path(mut self, path: &str) -> Self {
        self.0.storage_path = path.to_string();
        self
    }

    fn build(self) -> ResourceDescriptor {
        self.0
    }
}

// Small accessors over JSON objects, shared by the kinds. None of them
// panics on a wrong shape: a field of the wrong type reads as absent and is
// left alone when defaulting (validation reports it).

/// The string at a JSON pointer, or "" when absent or not a string.
fn str_at<'a>(object: &'a Value, pointer: &str) -> &'a str {
    object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
}

/// The array at a JSON pointer, or an empty slice.
fn array_at<'a>(object: &'a Value, pointer: &str) -> &'a [Value] {
    object
        .pointer(pointer)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or(&[])
}

/// The object under `key`, created when absent or null; None when the field
/// holds something else.
fn child_object<'a>(parent: &'a mut Value, key: &str) -> Option<&'a mut Map<String, Value>> {
    let map = parent.as_object_mut()?;
    let slot = map.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = Value::Object(Map::new());
    }
    slot.as_object_mut()
}

/// Sets `key` to `value` when it is absent or null.
fn default_field(map: &mut Map<String, Value>, key: &str, value: Value) {
    let slot = map.entry(key).or_insert(Value::Null);
    if slot.is_null() {
        *slot = value;
    }
}

/// The elements of the array under `key`, mutably; empty when absent.
fn items_mut<'a>(parent: &'a mut Value, key: &str) -> impl Iterator<Item = &'a mut Value> {
    parent
        .get_mut(key)
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// `kubectl`'s label rendering: `k=v` pairs sorted by key, comma separated,
/// `<none>` when empty (upstream `labels.FormatLabels`).
fn format_labels(labels: Option<&Value>) -> String {
    let Some(map) = labels.and_then(Value::as_object).filter(|m| !m.is_empty()) else {
        return "<none>".to_string();
    };
    let mut pairs: Vec<String> = map
        .iter()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
        .collect();
    pairs.sort();
    pairs.join(",")
}

/// Whether two JSON values are equal with absent and null treated alike at
/// the top level (upstream compares typed structs, where both are zero).
fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    a == b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn find<'a>(
        all: &'a [ResourceDescriptor],
        group: &str,
        plural: &str,
    ) -> &'a ResourceDescriptor {
        all.iter()
            .find(|d| d.group == group && d.plural == plural)
            .expect("descriptor listed")
    }

    #[test]
    fn descriptors_name_every_builtin_resource() {
        let all = descriptors(&BuiltinOptions::default()).expect("valid options");
        assert_eq!(all.len(), 12);
        let ns = find(&all, "", "namespaces");
        assert!(!ns.namespaced && ns.has_status && !ns.has_verb("deletecollection"));
        assert_eq!(find(&all, "", "services").storage_path, "services/specs");
        assert_eq!(
            find(&all, "", "endpoints").storage_path,
            "services/endpoints"
        );
        assert_eq!(
            find(&all, "apps", "deployments").storage_path,
            "deployments"
        );
        assert_eq!(find(&all, "events.k8s.io", "events").storage_path, "events");
        assert_eq!(find(&all, "", "pods").categories, vec!["all"]);
        assert_eq!(find(&all, "", "events").verbs.len(), 8);
        assert_eq!(find(&all, "", "configmaps").short_names, vec!["cm"]);
    }

    #[test]
    fn a_bad_cluster_ip_range_is_refused() {
        let options = BuiltinOptions {
            service_cluster_ip_range: "10.96.0.0".into(),
            ..BuiltinOptions::default()
        };
        assert!(descriptors(&options).is_err());
    }

    #[test]
    fn labels_render_sorted() {
        assert_eq!(format_labels(Some(&json!({"b": "2", "a": "1"}))), "a=1,b=2");
        assert_eq!(format_labels(None), "<none>");
    }
}
