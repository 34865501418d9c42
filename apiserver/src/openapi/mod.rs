//! The OpenAPI documents of the served resources, as kube-apiserver
//! publishes them: `/openapi/v3` (an index of one OpenAPI 3.0 document per
//! group/version) and `/openapi/v2` (one Swagger 2.0 document for everything).
//!
//! kubectl reads them for `explain`, and to learn whether the server
//! validates fields itself (see [`paths`]). Documents are built once per set
//! of resources and kept serialized, so serving one is a cheap clone of
//! [`Bytes`]; whoever changes the set of resources builds a new [`OpenApi`].

mod builtin;
mod definitions;
mod operations;
mod paths;
mod published;

pub use published::Published;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::resource::ResourceDescriptor;
use definitions::{gvk, Definitions};

/// A resource and the definitions that describe it.
struct ServedKind {
    descriptor: ResourceDescriptor,
    definition: String,
    list_definition: String,
    /// Whether the schema comes from k8s-openapi (and the kind has the
    /// protobuf encoding).
    is_builtin: bool,
}

/// One serialized document and its content hash.
struct Document {
    bytes: Bytes,
    hash: String,
}

impl Document {
    fn new(value: &Value) -> Document {
        let bytes = Bytes::from(serde_json::to_vec(value).expect("a JSON value always serializes"));
        // Upstream's hash: SHA-512 of the document, upper-case hex. Clients
        // only compare it, and put it in the URL to cache the document.
        let hash = Sha512::digest(&bytes)
            .iter()
            .map(|byte| format!("{byte:02X}"))
            .collect();
        Document { bytes, hash }
    }
}

/// The published OpenAPI of one set of resources.
pub struct OpenApi {
    /// The definition pool, for pruning unknown fields of built-in kinds.
    schemas: crate::pruning::Definitions,
    /// (group, version, kind) -> definition name, for kinds whose schema
    /// is complete (built-in ones; permissive schemas prune nothing).
    complete_kinds: std::collections::HashMap<(String, String, String), String>,
    v3_index: Bytes,
    /// Keyed by `api/v1`, `apis/apps/v1`.
    v3: BTreeMap<String, Document>,
    v2: Bytes,
}

impl OpenApi {
    /// Documents for built-in resources. A resource whose kind k8s-openapi
    /// does not know gets a permissive object schema.
    pub fn build(resources: &[ResourceDescriptor]) -> OpenApi {
        OpenApi::build_with_extra(resources, &[])
    }

    /// As [`OpenApi::build`], plus resources that bring their own schema (a
    /// CustomResourceDefinition version's `openAPIV3Schema`, without `$ref`s).
    /// apiVersion, kind and metadata are added where the schema lacks them.
    pub fn build_with_extra(
        resources: &[ResourceDescriptor],
        extra: &[(ResourceDescriptor, Value)],
    ) -> OpenApi {
        let (definitions, kinds) = collect_definitions(resources, extra);

        let mut by_group_version: BTreeMap<(String, String), Vec<&ServedKind>> = BTreeMap::new();
        for kind in &kinds {
            let key = (
                kind.descriptor.group.clone(),
                kind.descriptor.version.clone(),
            );
            by_group_version.entry(key).or_default().push(kind);
        }

        let mut v3 = BTreeMap::new();
        let mut v2_paths = Map::new();
        for ((group, version), kinds) in &by_group_version {
            let path = operations::group_version_prefix(group, version)[1..].to_owned();
            let document = v3_document(&definitions, group, version, kinds);
            v3.insert(path, Document::new(&document));
            paths::v2_paths(group, version, kinds, &mut v2_paths);
        }

        let v2 = json!({
            "swagger": "2.0",
            "info": info(),
            "paths": v2_paths,
            "definitions": definitions.v2_schemas(),
        });
        let complete_kinds = kinds
            .iter()
            .filter(|k| k.is_builtin)
            .map(|k| {
                let d = &k.descriptor;
                (
                    (d.group.clone(), d.version.clone(), d.kind.clone()),
                    k.definition.clone(),
                )
            })
            .collect();
        let mut openapi = OpenApi {
            schemas: definitions
                .v2_schemas()
                .into_iter()
                .map(|(name, mut schema)| {
                    strip_descriptions(&mut schema);
                    (name, schema)
                })
                .collect(),
            complete_kinds,
            v3_index: Bytes::new(),
            v3,
            v2: Document::new(&v2).bytes,
        };
        let index: Map<String, Value> = openapi.v3_paths().collect();
        openapi.v3_index = Document::new(&json!({ "paths": index })).bytes;
        openapi
    }

    /// `/openapi/v3`: where each group/version's document is.
    pub fn v3_index(&self) -> Bytes {
        self.v3_index.clone()
    }

    /// The index's entries: each document's path and where it is served.
    pub fn v3_paths(&self) -> impl Iterator<Item = (String, Value)> + '_ {
        self.v3.iter().map(|(path, document)| {
            let url = format!("/openapi/v3/{path}?hash={}", document.hash);
            (path.clone(), json!({ "serverRelativeURL": url }))
        })
    }

    /// `/openapi/v3/<path>` for `path` = `api/v1` or `apis/<group>/<version>`.
    pub fn v3_group_version(&self, path: &str) -> Option<Bytes> {
        self.v3.get(path).map(|document| document.bytes.clone())
    }

    /// The hash the index puts in a document's URL. Upstream answers a
    /// request carrying the current hash with an immutable cache lifetime.
    pub fn v3_hash(&self, path: &str) -> Option<&str> {
        self.v3.get(path).map(|document| document.hash.as_str())
    }

    /// Removes the fields a built-in kind does not define and returns their
    /// paths, or the first value of the wrong type; `None` when the kind's
    /// schema is not complete enough to check against.
    pub fn prune(
        &self,
        group: &str,
        version: &str,
        kind: &str,
        object: &mut Value,
    ) -> Option<Result<Vec<String>, crate::pruning::TypeMismatch>> {
        let name =
            self.complete_kinds
                .get(&(group.to_string(), version.to_string(), kind.to_string()))?;
        self.schemas.get(name)?;
        // Through a reference, so errors name the root struct as Go does.
        let root = json!({ "$ref": format!("#/definitions/{name}") });
        Some(crate::pruning::prune(&self.schemas, &root, object))
    }

    /// `/openapi/v2` as JSON. kubectl 1.32 asks for this document only as
    /// protobuf (`application/com.github.proto-openapi.spec.v2@v1.0+protobuf`),
    /// which is not built: answer such a request 406. kubectl then uses the
    /// v3 documents or its compiled-in types everywhere except
    /// `kubectl explain --output plaintext-openapiv2`.
    pub fn v2(&self) -> Bytes {
        self.v2.clone()
    }
}

/// Descriptions are most of a schema's bytes and pruning never reads them;
/// the published documents keep theirs.
fn strip_descriptions(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            map.remove("description");
            for (key, child) in map.iter_mut() {
                // `properties` maps field names to schemas: a field named
                // "description" is a schema, not a description.
                if key == "properties" {
                    if let Value::Object(fields) = child {
                        fields.values_mut().for_each(strip_descriptions);
                    }
                } else {
                    strip_descriptions(child);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(strip_descriptions),
        _ => {}
    }
}

/// Generates the schema of every kind (and the meta types operations use),
/// tags kinds with their group/version/kind, and adds the list kinds.
fn collect_definitions(
    resources: &[ResourceDescriptor],
    extra: &[(ResourceDescriptor, Value)],
) -> (Definitions, Vec<ServedKind>) {
    let mut generator = definitions::schema_generator();
    builtin::add_meta_types(&mut generator);
    let mut builtin_kinds = Vec::new();
    let mut other_kinds = Vec::new();
    for resource in resources {
        match builtin::add_kind(
            &mut generator,
            &resource.group,
            &resource.version,
            &resource.kind,
        ) {
            Some(name) => builtin_kinds.push((resource, name)),
            None => other_kinds.push((resource, definitions::permissive_schema(&resource.kind))),
        }
    }
    for (resource, schema) in extra {
        let mut schema = schema.clone();
        definitions::add_standard_properties(&mut schema);
        other_kinds.push((resource, schema));
    }

    let mut definitions = Definitions::from_generator(generator);
    definitions.relax_required_metadata(builtin::STATUS);
    let mut kinds = Vec::new();
    for (resource, name) in builtin_kinds {
        definitions.relax_required_metadata(&name);
        kinds.push(served_kind(resource, name, true));
    }
    for (resource, schema) in other_kinds {
        let name = custom_definition_name(resource);
        definitions.insert(name.clone(), schema);
        kinds.push(served_kind(resource, name, false));
    }

    for kind in &kinds {
        let resource = &kind.descriptor;
        let list_kind = resource.list_kind();
        if !definitions.contains(&kind.list_definition) {
            let list = definitions::list_schema(&resource.kind, &kind.definition);
            definitions.insert(kind.list_definition.clone(), list);
        }
        definitions.tag(
            &kind.definition,
            gvk(&resource.group, &resource.version, &resource.kind),
        );
        definitions.tag(
            &kind.list_definition,
            gvk(&resource.group, &resource.version, &list_kind),
        );
        // Like upstream, the option and event types are registered in every
        // served group/version (and the core one, where Status lives).
        for (group, version) in [
            ("", "v1"),
            (resource.group.as_str(), resource.version.as_str()),
        ] {
            definitions.tag(
                builtin::DELETE_OPTIONS,
                gvk(group, version, "DeleteOptions"),
            );
            definitions.tag(builtin::WATCH_EVENT, gvk(group, version, "WatchEvent"));
        }
    }
    definitions.tag(builtin::STATUS, gvk("", "v1", "Status"));
    definitions.tag(builtin::SCALE, gvk("autoscaling", "v1", "Scale"));
    definitions.tag(builtin::API_RESOURCE_LIST, gvk("", "v1", "APIResourceList"));
    (definitions, kinds)
}

/// The documents' `info`, as upstream's group/version documents give it
/// (the server's version is /version's to tell).
fn info() -> Value {
    json!({ "title": "Kubernetes", "version": "unversioned" })
}

fn served_kind(resource: &ResourceDescriptor, definition: String, is_builtin: bool) -> ServedKind {
    ServedKind {
        descriptor: resource.clone(),
        list_definition: format!("{definition}List"),
        definition,
        is_builtin,
    }
}

/// Upstream's name for a custom resource's definition: the group reversed,
/// then version and kind (`stable.example.com`, `v1`, `CronTab` gives
/// `com.example.stable.v1.CronTab`).
fn custom_definition_name(resource: &ResourceDescriptor) -> String {
    let mut parts: Vec<&str> = resource
        .group
        .split('.')
        .filter(|part| !part.is_empty())
        .collect();
    parts.reverse();
    parts.push(&resource.version);
    parts.push(&resource.kind);
    parts.join(".")
}

/// One group/version's OpenAPI 3.0 document: its paths and exactly the
/// definitions they reach.
fn v3_document(
    definitions: &Definitions,
    group: &str,
    version: &str,
    kinds: &[&ServedKind],
) -> Value {
    let paths = paths::v3_paths(group, version, kinds);
    let mut roots = Vec::new();
    definitions::for_each_ref(&Value::Object(paths.clone()), &mut |target| {
        if let Some(name) = target.rsplit('/').next() {
            roots.push(name.to_owned());
        }
    });
    let names = definitions.closure(roots.iter().map(String::as_str));
    json!({
        "openapi": "3.0.0",
        "info": info(),
        "paths": paths,
        "components": { "schemas": definitions.v3_schemas(&names) },
    })
}

#[cfg(test)]
mod tests;
