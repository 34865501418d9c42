//! Discovery across every server: `/apis` (legacy and aggregated v2) and
//! `/apis/<group>` for groups served elsewhere, as upstream's aggregator
//! builds them from APIServices.
//!
//! Order is upstream's: groups by `groupPriorityMinimum` (highest first),
//! then by name; a group's versions by `versionPriority` (highest first),
//! then GA before beta before alpha. A group/version without an
//! APIService (briefly, while the local ones are being written) sorts as
//! priority 0 in the order the registry gives.
//!
//! Legacy `/apis` lists every remote group/version, available or not, as
//! upstream does (clients then learn of an unavailable one when they ask
//! it); aggregated discovery shows a remote group/version once its
//! discovery document has been fetched, marked `Stale` while it is
//! unavailable.

use std::collections::{BTreeMap, HashMap};

use apiserver::discovery;
use apiserver::registry::{version_priority, RegistrySnapshot};
use serde_json::{json, Map, Value};

use super::remotes::Index;

/// Every named group with its versions, local and remote, in order.
fn group_versions(snapshot: &RegistrySnapshot, index: &Index) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = snapshot
        .groups()
        .into_iter()
        .filter(|(g, _)| !g.is_empty())
        .collect();
    for (group, version) in index.remotes.keys() {
        match groups.iter_mut().find(|(g, _)| g == group) {
            Some((_, versions)) if !versions.contains(version) => versions.push(version.clone()),
            Some(_) => {}
            None => groups.push((group.clone(), vec![version.clone()])),
        }
    }
    order(groups, index)
}

/// Sorts groups and their versions by APIService priority.
fn order(mut groups: Vec<(String, Vec<String>)>, index: &Index) -> Vec<(String, Vec<String>)> {
    let priorities: HashMap<(&str, &str), (i64, i64)> = index
        .priorities
        .iter()
        .map(|p| {
            (
                (p.group.as_str(), p.version.as_str()),
                (p.group_priority, p.version_priority),
            )
        })
        .collect();
    let priority = |group: &str, version: &str| {
        priorities
            .get(&(group, version))
            .copied()
            .unwrap_or_default()
    };
    for (group, versions) in &mut groups {
        // Stable: equal priorities keep the kube-aware order.
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        versions.sort_by_key(|v| std::cmp::Reverse(priority(group, v).1));
    }
    let group_priority = |(group, versions): &(String, Vec<String>)| {
        versions
            .iter()
            .map(|v| priority(group, v).0)
            .max()
            .unwrap_or_default()
    };
    groups.sort_by(|a, b| {
        group_priority(b)
            .cmp(&group_priority(a))
            .then_with(|| a.0.cmp(&b.0))
    });
    groups
}

/// Legacy `/apis`.
pub fn group_list(snapshot: &RegistrySnapshot, index: &Index) -> Value {
    let groups: Vec<Value> = group_versions(snapshot, index)
        .iter()
        .map(|(g, v)| discovery::group_entry(g, v))
        .collect();
    json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups })
}

/// `/apis/<group>`, for a group with a remote version.
pub fn group(snapshot: &RegistrySnapshot, index: &Index, name: &str) -> Option<Value> {
    let (group, versions) = group_versions(snapshot, index)
        .into_iter()
        .find(|(g, _)| g == name)?;
    let mut entry = discovery::group_entry(&group, &versions);
    entry["kind"] = json!("APIGroup");
    entry["apiVersion"] = json!("v1");
    Some(entry)
}

/// Aggregated discovery (apidiscovery.k8s.io/v2) for `/apis`.
pub fn aggregated(snapshot: &RegistrySnapshot, index: &Index) -> Value {
    // Every group/version's v2 entry, local first, then remote.
    let mut entries: BTreeMap<(String, String), Value> = BTreeMap::new();
    let local = discovery::aggregated(snapshot, false);
    for item in local["items"].as_array().into_iter().flatten() {
        let group = item.pointer("/metadata/name").and_then(Value::as_str);
        for version in item["versions"].as_array().into_iter().flatten() {
            if let (Some(group), Some(v)) = (group, version["version"].as_str()) {
                entries.insert((group.to_string(), v.to_string()), version.clone());
            }
        }
    }
    for ((group, version), remote) in &index.remotes {
        if let Some(document) = remote.discovery() {
            let freshness = if remote.is_available() {
                "Current"
            } else {
                "Stale"
            };
            entries.insert(
                (group.clone(), version.clone()),
                json!({
                    "version": version,
                    "resources": aggregated_resources(&document, group, version),
                    "freshness": freshness,
                }),
            );
        }
    }
    let mut by_group: Vec<(String, Vec<String>)> = Vec::new();
    for (group, version) in entries.keys() {
        match by_group.iter_mut().find(|(g, _)| g == group) {
            Some((_, versions)) => versions.push(version.clone()),
            None => by_group.push((group.clone(), vec![version.clone()])),
        }
    }
    let items: Vec<Value> = order(by_group, index)
        .into_iter()
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .into_iter()
                .filter_map(|v| entries.remove(&(group.clone(), v)))
                .collect();
            json!({
                "metadata": { "name": group, "creationTimestamp": null },
                "versions": versions,
            })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

/// A legacy `APIResourceList`'s resources in the aggregated form: each
/// `resource/subresource` entry folds into its resource.
fn aggregated_resources(list: &Value, group: &str, version: &str) -> Vec<Value> {
    let entries = list["resources"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let text = |e: &Value, f: &str| {
        e.get(f)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let kind_of = |e: &Value| {
        json!({
            "group": e.get("group").and_then(Value::as_str).unwrap_or(group),
            "version": e.get("version").and_then(Value::as_str).unwrap_or(version),
            "kind": text(e, "kind"),
        })
    };
    let mut resources: Vec<(String, Map<String, Value>)> = Vec::new();
    for entry in entries.iter().filter(|e| !text(e, "name").contains('/')) {
        let mut resource = Map::new();
        resource.insert("resource".into(), json!(text(entry, "name")));
        resource.insert("responseKind".into(), kind_of(entry));
        let namespaced = entry["namespaced"].as_bool().unwrap_or(false);
        resource.insert(
            "scope".into(),
            json!(if namespaced { "Namespaced" } else { "Cluster" }),
        );
        resource.insert(
            "singularResource".into(),
            json!(text(entry, "singularName")),
        );
        resource.insert("verbs".into(), entry["verbs"].clone());
        for field in ["shortNames", "categories"] {
            if let Some(values) = entry
                .get(field)
                .filter(|v| v.as_array().is_some_and(|a| !a.is_empty()))
            {
                resource.insert(field.into(), values.clone());
            }
        }
        resources.push((text(entry, "name"), resource));
    }
    for entry in entries {
        let name = text(entry, "name");
        let Some((parent, sub)) = name.split_once('/') else {
            continue;
        };
        if let Some((_, resource)) = resources.iter_mut().find(|(n, _)| n == parent) {
            let subresource = json!({
                "subresource": sub,
                "responseKind": kind_of(entry),
                "verbs": entry["verbs"].clone(),
            });
            match resource
                .get_mut("subresources")
                .and_then(Value::as_array_mut)
            {
                Some(subs) => subs.push(subresource),
                None => {
                    resource.insert("subresources".into(), json!([subresource]));
                }
            }
        }
    }
    resources
        .into_iter()
        .map(|(_, r)| Value::Object(r))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::remotes::Priority;
    use super::*;

    fn priority(group: &str, version: &str, g: i64, v: i64) -> Priority {
        Priority {
            group: group.into(),
            version: version.into(),
            group_priority: g,
            version_priority: v,
        }
    }

    #[test]
    fn groups_and_versions_follow_apiservice_priorities() {
        let index = Index {
            priorities: vec![
                priority("apps", "v1", 17800, 15),
                priority("b.example.com", "v1", 1000, 100),
                priority("a.example.com", "v1", 1000, 100),
                priority("wardle.example.com", "v1alpha1", 20000, 15),
                priority("wardle.example.com", "v1beta1", 20000, 20),
            ],
            ..Index::default()
        };
        let groups = vec![
            ("apps".to_string(), vec!["v1".to_string()]),
            ("b.example.com".to_string(), vec!["v1".to_string()]),
            ("a.example.com".to_string(), vec!["v1".to_string()]),
            (
                "wardle.example.com".to_string(),
                vec!["v1alpha1".to_string(), "v1beta1".to_string()],
            ),
        ];
        let ordered = order(groups, &index);
        let names: Vec<&str> = ordered.iter().map(|(g, _)| g.as_str()).collect();
        assert_eq!(
            names,
            [
                "wardle.example.com",
                "apps",
                "a.example.com",
                "b.example.com"
            ]
        );
        assert_eq!(ordered[0].1, ["v1beta1", "v1alpha1"]);
    }

    #[test]
    fn legacy_resource_lists_fold_into_the_aggregated_form() {
        let list = json!({"resources": [
            {"name": "flunders", "singularName": "flunder", "namespaced": true, "kind": "Flunder",
             "verbs": ["get", "list"], "shortNames": ["fl"]},
            {"name": "flunders/status", "singularName": "", "namespaced": true, "kind": "Flunder",
             "verbs": ["get"]},
        ]});
        let resources = aggregated_resources(&list, "wardle.example.com", "v1alpha1");
        assert_eq!(resources.len(), 1);
        let flunders = &resources[0];
        assert_eq!(flunders["resource"], "flunders");
        assert_eq!(flunders["scope"], "Namespaced");
        assert_eq!(flunders["responseKind"]["group"], "wardle.example.com");
        assert_eq!(flunders["shortNames"], json!(["fl"]));
        assert_eq!(flunders["subresources"][0]["subresource"], "status");
    }
}
