//! Discovery documents: the legacy ones (`/apis`, `/apis/<group>`,
//! `/apis/<group>/<version>`) and aggregated discovery
//! (`apidiscovery.k8s.io/v2`), which an aggregator asks for with its Accept
//! header, as every upstream API server serves them.

use base64::Engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::{Version, GROUP};

/// The content type of an aggregated discovery answer.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

const VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// The version objects are stored in, as upstream's sample-apiserver keeps
/// them; discovery's `storageVersionHash` is derived from it.
const STORAGE_VERSION: Version = Version::V1alpha1;

/// Whether the first media range of `accept` that this server can answer
/// asks for aggregated discovery v2.
pub fn wants_aggregated(accept: Option<&str>) -> bool {
    for range in accept.unwrap_or("").split(',') {
        let mut parts = range.split(';').map(str::trim);
        let media = parts.next().unwrap_or("");
        let params: Vec<&str> = parts.filter(|p| !p.starts_with("q=")).collect();
        let is_json = matches!(media, "application/json" | "application/*" | "*/*");
        if !is_json {
            continue;
        }
        if params.is_empty() {
            return false;
        }
        let has = |param: &str| params.contains(&param);
        if has("g=apidiscovery.k8s.io") && has("v=v2") && has("as=APIGroupDiscoveryList") {
            return true;
        }
    }
    false
}

fn group_version(version: Version) -> Value {
    json!({"groupVersion": version.api_version(), "version": version.as_str()})
}

/// The group's entry in `/apis`, versions in preference order.
fn group_entry() -> Value {
    let versions: Vec<Value> = Version::ALL.iter().map(|v| group_version(*v)).collect();
    json!({
        "name": GROUP,
        "versions": versions,
        "preferredVersion": group_version(Version::ALL[0]),
    })
}

/// `/apis`.
pub fn group_list() -> Value {
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [group_entry()]})
}

/// `/apis/wardle.example.com`.
pub fn group() -> Value {
    let mut group = group_entry();
    group["kind"] = json!("APIGroup");
    group["apiVersion"] = json!("v1");
    group
}

/// Upstream's hash of the storage version: the first 8 bytes of the
/// SHA-256 of `group/version/kind`, base64.
fn storage_version_hash() -> String {
    let digest = Sha256::digest(format!("{}/Flunder", STORAGE_VERSION.api_version()));
    base64::engine::general_purpose::STANDARD.encode(&digest[..8])
}

/// `/apis/wardle.example.com/<version>`.
pub fn resource_list(version: Version) -> Value {
    json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": version.api_version(),
        "resources": [{
            "name": "flunders",
            "singularName": "flunder",
            "namespaced": true,
            "kind": "Flunder",
            "verbs": VERBS,
            "shortNames": ["fl"],
            "storageVersionHash": storage_version_hash(),
        }],
    })
}

/// `/apis` as aggregated discovery v2.
pub fn aggregated() -> Value {
    let versions: Vec<Value> = Version::ALL
        .iter()
        .map(|version| {
            json!({
                "version": version.as_str(),
                "resources": [{
                    "resource": "flunders",
                    "responseKind": {"group": GROUP, "version": version.as_str(), "kind": "Flunder"},
                    "scope": "Namespaced",
                    "singularResource": "flunder",
                    "verbs": VERBS,
                    "shortNames": ["fl"],
                }],
                "freshness": "Current",
            })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [{
            "metadata": {"name": GROUP, "creationTimestamp": null},
            "versions": versions,
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::wants_aggregated;

    #[test]
    fn the_first_answerable_range_decides() {
        let kubectl = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(Some(kubectl)));
        assert!(!wants_aggregated(Some(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        )));
        assert!(!wants_aggregated(Some("application/json")));
        assert!(!wants_aggregated(None));
        assert!(!wants_aggregated(Some(
            "application/json, application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        )));
    }
}
