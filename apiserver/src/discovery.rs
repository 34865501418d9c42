//! Discovery documents, computed from the registry snapshot: the legacy
//! forms (/api, /apis, /apis/GROUP, /apis/GROUP/VERSION) and aggregated
//! discovery (apidiscovery.k8s.io/v2, chosen by Accept).

use serde_json::{json, Value};

use crate::registry::RegistrySnapshot;
use crate::resource::ResourceDescriptor;

/// The content type of aggregated discovery responses.
pub const AGGREGATED_V2: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// Whether the Accept header asks for aggregated discovery v2 first.
pub fn wants_aggregated(accept: Option<&str>) -> bool {
    let Some(accept) = accept else { return false };
    for range in accept.split(',') {
        let range = range.trim();
        if range.contains("as=APIGroupDiscoveryList") {
            if range.contains("v=v2")
                && !range.contains("v=v2beta1")
                && range.contains("g=apidiscovery.k8s.io")
            {
                return true;
            }
            continue;
        }
        // A plain range before any aggregated one: legacy wins.
        return false;
    }
    false
}

/// `/api`: the core group's versions.
pub fn legacy_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": server_address }],
    })
}

/// One group of `/apis` (also the body of `/apis/GROUP`), preferred version
/// first.
pub fn group_entry(name: &str, versions: &[String]) -> Value {
    let versions: Vec<Value> = versions
        .iter()
        .map(|v| json!({ "groupVersion": format!("{name}/{v}"), "version": v }))
        .collect();
    json!({
        "name": name,
        "versions": versions,
        "preferredVersion": versions.first().cloned().unwrap_or(Value::Null),
    })
}

/// `/apis`: every named group.
pub fn group_list(snapshot: &RegistrySnapshot) -> Value {
    let groups: Vec<Value> = snapshot
        .groups()
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, v)| group_entry(g, v))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/GROUP`.
pub fn group(snapshot: &RegistrySnapshot, name: &str) -> Option<Value> {
    let (_, versions) = snapshot
        .groups()
        .into_iter()
        .find(|(g, _)| g == name && !g.is_empty())?;
    let mut entry = group_entry(name, &versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

/// `/api/v1` or `/apis/GROUP/VERSION`.
pub fn resource_list(snapshot: &RegistrySnapshot, group: &str, version: &str) -> Option<Value> {
    if !snapshot.has_group_version(group, version) {
        return None;
    }
    let mut resources = Vec::new();
    for r in snapshot.resources_in(group, version) {
        let mut entry = json!({
            "name": r.plural,
            "singularName": r.singular,
            "namespaced": r.namespaced,
            "kind": r.kind,
            "verbs": r.discovery_verbs(),
        });
        if !r.short_names.is_empty() {
            entry["shortNames"] = json!(r.short_names);
        }
        if !r.categories.is_empty() {
            entry["categories"] = json!(r.categories);
        }
        // Computed kinds (reviews, create only) are not stored.
        if r.verbs != ["create"] {
            entry["storageVersionHash"] = json!(r.storage_version_hash());
        }
        resources.push(entry);
        for sub in subresources(&r) {
            let mut entry = json!({
                "name": format!("{}/{}", r.plural, sub.name),
                "singularName": "",
                "namespaced": r.namespaced,
                "kind": sub.response_kind["kind"],
                "verbs": sub.verbs,
            });
            if sub.response_kind["group"] != json!(r.group) {
                entry["group"] = sub.response_kind["group"].clone();
                entry["version"] = sub.response_kind["version"].clone();
            }
            resources.push(entry);
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": resources,
    }))
}

/// A subresource's name, the kind it answers with, and its verbs.
struct Subresource {
    name: &'static str,
    response_kind: Value,
    verbs: Vec<&'static str>,
}

fn subresources(r: &ResourceDescriptor) -> Vec<Subresource> {
    let own_kind = json!({ "group": r.group, "version": r.version, "kind": r.kind });
    let mut subs = Vec::new();
    if r.has_status {
        subs.push(Subresource {
            name: "status",
            response_kind: own_kind.clone(),
            verbs: vec!["get", "patch", "update"],
        });
    }
    if r.strategy.scale().is_some() {
        subs.push(Subresource {
            name: "scale",
            response_kind: json!({ "group": "autoscaling", "version": "v1", "kind": "Scale" }),
            verbs: vec!["get", "patch", "update"],
        });
    }
    if r.group.is_empty() && r.plural == "namespaces" {
        subs.push(Subresource {
            name: "finalize",
            response_kind: own_kind,
            verbs: vec!["update"],
        });
    }
    subs
}

/// Aggregated discovery for `/api` (core only) or `/apis` (named groups).
pub fn aggregated(snapshot: &RegistrySnapshot, core: bool) -> Value {
    let items: Vec<Value> = snapshot
        .groups()
        .iter()
        .filter(|(g, _)| g.is_empty() == core)
        .map(|(g, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|v| {
                    let resources: Vec<Value> = snapshot
                        .resources_in(g, v)
                        .iter()
                        .map(|r| aggregated_resource(r))
                        .collect();
                    json!({ "version": v, "resources": resources, "freshness": "Current" })
                })
                .collect();
            let metadata = if g.is_empty() {
                json!({ "creationTimestamp": null })
            } else {
                json!({ "name": g, "creationTimestamp": null })
            };
            json!({ "metadata": metadata, "versions": versions })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

fn aggregated_resource(r: &ResourceDescriptor) -> Value {
    let kind = json!({ "group": r.group, "version": r.version, "kind": r.kind });
    let mut entry = json!({
        "resource": r.plural,
        "responseKind": kind,
        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": r.singular,
        "verbs": r.discovery_verbs(),
    });
    if !r.short_names.is_empty() {
        entry["shortNames"] = json!(r.short_names);
    }
    if !r.categories.is_empty() {
        entry["categories"] = json!(r.categories);
    }
    let subs: Vec<Value> = subresources(r)
        .into_iter()
        .map(
            |s| json!({ "subresource": s.name, "responseKind": s.response_kind, "verbs": s.verbs }),
        )
        .collect();
    if !subs.is_empty() {
        entry["subresources"] = json!(subs);
    }
    entry
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubectl_accept_prefers_aggregated() {
        let accept = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert!(wants_aggregated(Some(accept)));
        assert!(!wants_aggregated(Some("application/json")));
        assert!(!wants_aggregated(None));
    }
}
