//! The runtime registry of served resources. Groups and resources come and
//! go while the server runs (CRDs, APIServices), so routing is a lookup in
//! the current snapshot, never a static route table. Readers take an `Arc`
//! snapshot and never wait for writers.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use crate::resource::ResourceDescriptor;

/// One immutable view of everything served.
#[derive(Default)]
pub struct RegistrySnapshot {
    /// (group, version, plural) -> resource.
    resources: BTreeMap<(String, String, String), Arc<ResourceDescriptor>>,
    /// Groups in the order discovery lists them (first registered first).
    group_order: Vec<String>,
    /// Bumped by every change, so derived views (OpenAPI) know when to
    /// rebuild.
    generation: u64,
}

impl RegistrySnapshot {
    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn lookup(
        &self,
        group: &str,
        version: &str,
        plural: &str,
    ) -> Option<Arc<ResourceDescriptor>> {
        self.resources
            .get(&(group.to_string(), version.to_string(), plural.to_string()))
            .cloned()
    }

    /// Every resource, in group order then version then plural.
    pub fn resources(&self) -> Vec<Arc<ResourceDescriptor>> {
        let mut out = Vec::new();
        for group in &self.group_order {
            out.extend(
                self.resources
                    .values()
                    .filter(|r| &r.group == group)
                    .cloned(),
            );
        }
        out
    }

    /// Groups with their versions, in discovery order. Versions keep the
    /// order their resources were registered in (preferred first).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        self.group_order
            .iter()
            .map(|g| {
                let mut versions: Vec<String> = Vec::new();
                for r in self.resources.values().filter(|r| &r.group == g) {
                    if !versions.contains(&r.version) {
                        versions.push(r.version.clone());
                    }
                }
                versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
                (g.clone(), versions)
            })
            .collect()
    }

    /// The resources of one group, read from the ordered map without a
    /// scan of the others (request paths ask this).
    pub fn in_group<'a>(
        &'a self,
        group: &'a str,
    ) -> impl Iterator<Item = &'a Arc<ResourceDescriptor>> + 'a {
        self.resources
            .range((group.to_string(), String::new(), String::new())..)
            .take_while(move |((g, _, _), _)| g == group)
            .map(|(_, r)| r)
    }

    pub fn resources_in(&self, group: &str, version: &str) -> Vec<Arc<ResourceDescriptor>> {
        self.resources
            .values()
            .filter(|r| r.group == group && r.version == version)
            .cloned()
            .collect()
    }

    pub fn has_group_version(&self, group: &str, version: &str) -> bool {
        self.in_group(group).any(|r| r.version == version)
    }

    /// Finds a resource by kind within a group/version (for bodies whose
    /// URL names a different resource).
    pub fn by_kind(
        &self,
        group: &str,
        version: &str,
        kind: &str,
    ) -> Option<Arc<ResourceDescriptor>> {
        self.resources
            .values()
            .find(|r| r.group == group && r.version == version && r.kind == kind)
            .cloned()
    }
}

/// Upstream's version ordering: GA over beta over alpha, higher numbers first.
pub fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else {
        return (0, 0, 0);
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    let major = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    let (level, minor) = if tail.is_empty() {
        (3, 0)
    } else if let Some(n) = tail.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        (0, 0)
    };
    (level, major, minor)
}

/// The shared, changeable registry.
pub struct Registry {
    current: RwLock<Arc<RegistrySnapshot>>,
    /// The generation of the newest snapshot, for whoever follows changes.
    changes: tokio::sync::watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            current: RwLock::default(),
            changes: tokio::sync::watch::channel(0).0,
        }
    }
}

impl Registry {
    /// Wakes on every change (the value is the new generation).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changes.subscribe()
    }

    pub fn snapshot(&self) -> Arc<RegistrySnapshot> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Adds or replaces resources (copy-on-write; in-flight requests keep
    /// the snapshot they started with).
    pub fn add(&self, descriptors: impl IntoIterator<Item = ResourceDescriptor>) {
        self.replace(|_| false, descriptors.into_iter().collect());
    }

    /// Removes one resource; a group with nothing left leaves discovery.
    pub fn remove(&self, group: &str, version: &str, plural: &str) {
        self.replace(
            |d| d.group == group && d.version == version && d.plural == plural,
            Vec::new(),
        );
    }

    /// In one step, removes every resource `remove` picks and adds (or
    /// replaces) `add`, so no request sees a half-changed set (a CRD whose
    /// versions change). A group with nothing left leaves discovery.
    pub fn replace(
        &self,
        remove: impl Fn(&ResourceDescriptor) -> bool,
        add: Vec<ResourceDescriptor>,
    ) {
        let mut guard = self.current.write().unwrap_or_else(|p| p.into_inner());
        let mut next = RegistrySnapshot {
            resources: guard.resources.clone(),
            group_order: guard.group_order.clone(),
            generation: guard.generation + 1,
        };
        next.resources.retain(|_, d| !remove(d));
        for d in add {
            if !next.group_order.contains(&d.group) {
                next.group_order.push(d.group.clone());
            }
            next.resources.insert(
                (d.group.clone(), d.version.clone(), d.plural.clone()),
                Arc::new(d),
            );
        }
        let remaining: std::collections::HashSet<&str> =
            next.resources.values().map(|r| r.group.as_str()).collect();
        next.group_order.retain(|g| remaining.contains(g.as_str()));
        let generation = next.generation;
        *guard = Arc::new(next);
        drop(guard);
        self.changes.send_replace(generation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_order_ga_first() {
        let mut v = vec!["v1beta1", "v2", "v1", "v1alpha1", "v2beta2"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, ["v2", "v1", "v2beta2", "v1beta1", "v1alpha1"]);
    }
}
