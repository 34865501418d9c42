//! The objects a run creates: small CRDs of the kind an operator installs by
//! the hundred, the richer `Workload` CRD whose custom resources the
//! throughput phases write, and those resources.
//!
//! Every CRD carries two labels: `bench-run` (the run's unique name, so
//! cleanup finds all of them with one selector) and `bench-set` (which
//! phase made it, so a phase's watch sees only its own).

use serde_json::{json, Value};

pub const CRD_COLLECTION: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";
pub const RUN_LABEL: &str = "bench-run";
pub const SET_LABEL: &str = "bench-set";

/// Kinds per group of the small CRDs. Operator bundles ship several kinds
/// per group (a cloud provider's CRDs spread over a few hundred groups), so
/// 1,000 CRDs become 100 groups: discovery has many groups to walk, each
/// with more than one resource.
const KINDS_PER_GROUP: usize = 10;

/// (kind, plural) of the small CRDs, one group's worth.
const KINDS: [(&str, &str); KINDS_PER_GROUP] = [
    ("Bucket", "buckets"),
    ("Queue", "queues"),
    ("Topic", "topics"),
    ("Database", "databases"),
    ("Certificate", "certificates"),
    ("Gateway", "gateways"),
    ("Route", "routes"),
    ("Policy", "policies"),
    ("Cache", "caches"),
    ("Cluster", "clusters"),
];

/// A CRD to create: its name and its JSON body.
pub struct Definition {
    pub name: String,
    pub body: String,
}

/// The `index`th small CRD of a run: one version, a spec of a few typed
/// fields, a status with a phase, and a printer column on that phase.
pub fn operator_crd(run: &str, set: &str, index: usize) -> Definition {
    let (kind, plural) = KINDS[index % KINDS_PER_GROUP];
    let group = format!("g{:03}.{run}.example.com", index / KINDS_PER_GROUP);
    let name = format!("{plural}.{group}");
    let body = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": name, "labels": labels(run, set) },
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": names(kind, plural),
            "versions": [{
                "name": "v1alpha1",
                "served": true,
                "storage": true,
                "subresources": { "status": {} },
                "additionalPrinterColumns": [
                    { "name": "Phase", "type": "string", "jsonPath": ".status.phase" },
                ],
                "schema": { "openAPIV3Schema": {
                    "type": "object",
                    "properties": {
                        "spec": {
                            "type": "object",
                            "properties": {
                                "region": { "type": "string", "maxLength": 63 },
                                "size": { "type": "integer", "minimum": 1 },
                                "enabled": { "type": "boolean" },
                                "tags": {
                                    "type": "object",
                                    "additionalProperties": { "type": "string" },
                                },
                            },
                        },
                        "status": {
                            "type": "object",
                            "properties": { "phase": { "type": "string" } },
                        },
                    },
                }},
            }],
        },
    });
    Definition {
        name,
        body: body.to_string(),
    }
}

/// Group, version and resource of the workload CRD.
#[derive(Debug, Clone)]
pub struct WorkloadApi {
    pub group: String,
}

pub const WORKLOAD_VERSION: &str = "v1";
pub const WORKLOAD_PLURAL: &str = "workloads";
/// What `spec.maxReplicas` defaults to.
pub const DEFAULT_MAX_REPLICAS: i64 = 100;

impl WorkloadApi {
    pub fn new(run: &str) -> Self {
        Self {
            group: format!("apps.{run}.example.com"),
        }
    }

    pub fn crd_name(&self) -> String {
        format!("{WORKLOAD_PLURAL}.{}", self.group)
    }

    pub fn collection(&self, namespace: &str) -> String {
        format!(
            "/apis/{}/{WORKLOAD_VERSION}/namespaces/{namespace}/{WORKLOAD_PLURAL}",
            self.group
        )
    }

    /// The CRD the custom-resource phases use. Every create runs through
    /// typed fields, a maximum, a pattern, a default (`maxReplicas`, which
    /// the bench's objects leave out) and one CEL rule that reads the
    /// defaulted field.
    pub fn crd(&self, run: &str) -> Definition {
        let name = self.crd_name();
        let body = json!({
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": { "name": name, "labels": labels(run, "workload") },
            "spec": {
                "group": self.group,
                "scope": "Namespaced",
                "names": names("Workload", WORKLOAD_PLURAL),
                "versions": [{
                    "name": WORKLOAD_VERSION,
                    "served": true,
                    "storage": true,
                    "subresources": { "status": {} },
                    "additionalPrinterColumns": [
                        { "name": "Image", "type": "string", "jsonPath": ".spec.image" },
                        { "name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas" },
                    ],
                    "schema": { "openAPIV3Schema": workload_schema() },
                }],
            },
        });
        Definition {
            name,
            body: body.to_string(),
        }
    }

    /// A workload body; `spec` fields are merged over a valid default spec
    /// that leaves `maxReplicas` to the schema's default.
    pub fn object(&self, namespace: &str, name: &str, spec_overrides: Value) -> String {
        let mut spec = json!({
            "image": "registry.example.com/team/app:1.4.2",
            "replicas": 3,
            "paused": false,
            "ports": [{ "name": "http", "port": 8080 }],
        });
        if let (Some(spec), Value::Object(overrides)) = (spec.as_object_mut(), spec_overrides) {
            spec.extend(overrides);
        }
        json!({
            "apiVersion": format!("{}/{WORKLOAD_VERSION}", self.group),
            "kind": "Workload",
            "metadata": { "name": name, "namespace": namespace },
            "spec": spec,
        })
        .to_string()
    }
}

fn workload_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "required": ["image", "replicas"],
                "x-kubernetes-validations": [{
                    "rule": "self.replicas <= self.maxReplicas",
                    "message": "replicas must not exceed maxReplicas",
                }],
                "properties": {
                    "image": {
                        "type": "string",
                        "maxLength": 256,
                        "pattern": "^[a-z0-9][a-z0-9./:@_-]*$",
                    },
                    "replicas": { "type": "integer", "minimum": 0, "maximum": 1000 },
                    "maxReplicas": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 1000,
                        "default": DEFAULT_MAX_REPLICAS,
                    },
                    "paused": { "type": "boolean" },
                    "ports": {
                        "type": "array",
                        "maxItems": 16,
                        "items": {
                            "type": "object",
                            "required": ["port"],
                            "properties": {
                                "name": { "type": "string", "maxLength": 15 },
                                "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
                            },
                        },
                    },
                },
            },
            "status": {
                "type": "object",
                "properties": { "readyReplicas": { "type": "integer" } },
            },
        },
    })
}

fn labels(run: &str, set: &str) -> Value {
    json!({ RUN_LABEL: run, SET_LABEL: set })
}

fn names(kind: &str, plural: &str) -> Value {
    json!({
        "kind": kind,
        "listKind": format!("{kind}List"),
        "plural": plural,
        "singular": kind.to_ascii_lowercase(),
    })
}

/// The selector of a run's CRDs, or of one set of them, ready for a query.
pub fn selector(run: &str, set: Option<&str>) -> String {
    let mut selector = format!("{RUN_LABEL}={run}");
    if let Some(set) = set {
        selector.push_str(&format!(",{SET_LABEL}={set}"));
    }
    crate::client::percent_encode(&selector)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operator_crds_share_groups_ten_kinds_at_a_time() {
        let first = operator_crd("bench-1-2", "install", 0);
        let tenth = operator_crd("bench-1-2", "install", 9);
        let eleventh = operator_crd("bench-1-2", "install", 10);
        assert_eq!(first.name, "buckets.g000.bench-1-2.example.com");
        assert_eq!(tenth.name, "clusters.g000.bench-1-2.example.com");
        assert_eq!(eleventh.name, "buckets.g001.bench-1-2.example.com");
        let body: Value = serde_json::from_str(&first.body).expect("JSON");
        assert_eq!(body["metadata"]["labels"][SET_LABEL], "install");
        assert_eq!(body["spec"]["names"]["singular"], "bucket");
    }

    #[test]
    fn workload_object_keeps_max_replicas_to_the_default() {
        let api = WorkloadApi::new("bench-1-2");
        let body: Value =
            serde_json::from_str(&api.object("ns", "w", json!({ "replicas": 7 }))).expect("JSON");
        assert_eq!(body["apiVersion"], "apps.bench-1-2.example.com/v1");
        assert_eq!(body["spec"]["replicas"], 7);
        assert!(body["spec"].get("maxReplicas").is_none());
        assert_eq!(
            api.collection("ns"),
            "/apis/apps.bench-1-2.example.com/v1/namespaces/ns/workloads"
        );
    }

    #[test]
    fn selector_is_encoded_for_a_query() {
        assert_eq!(selector("r", None), "bench-run%3Dr");
        assert_eq!(
            selector("r", Some("install")),
            "bench-run%3Dr%2Cbench-set%3Dinstall"
        );
    }
}
