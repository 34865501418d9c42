//! Temporary: configmaps and namespaces only, until the built-in kinds land.
use std::sync::Arc;

use crate::resource::{PlainStrategy, ResourceDescriptor, ALL_VERBS};

pub struct BuiltinOptions {
    pub service_cluster_ip_range: String,
}

fn plain(group: &str, kind: &str, plural: &str, namespaced: bool) -> ResourceDescriptor {
    ResourceDescriptor {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: vec![],
        categories: vec![],
        namespaced,
        verbs: ALL_VERBS.iter().map(|s| s.to_string()).collect(),
        has_status: false,
        storage_path: plural.into(),
        strategy: Arc::new(PlainStrategy),
    }
}

pub fn descriptors(_options: &BuiltinOptions) -> Result<Vec<ResourceDescriptor>, String> {
    Ok(vec![
        plain("", "Namespace", "namespaces", false),
        plain("", "ConfigMap", "configmaps", true),
    ])
}
