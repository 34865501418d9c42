//! The OpenAPI documents an aggregator merges into its own: `/openapi/v2`
//! (Swagger 2.0, both versions) and `/openapi/v3` (an index of one OpenAPI
//! 3.0 document per group/version).
//!
//! Definition names follow upstream's sample-apiserver: the group reversed
//! then version and kind (`com.example.wardle.v1alpha1.Flunder`), and the
//! apimachinery names for the meta types, of which only the fields a Flunder
//! uses are described. Each document is self-contained: every `$ref` it
//! holds resolves inside it.
//!
//! The paths matter to kubectl beyond the schemas: it looks for the
//! `fieldValidation` parameter on the PATCH operation carrying the kind's
//! `x-kubernetes-group-version-kind`, and without one refuses to send the
//! object (or falls back to client-side checks).

use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use crate::{Version, GROUP};

const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1";

/// The documents, serialized once at start.
pub struct OpenApi {
    pub v2: Bytes,
    pub v3_index: Bytes,
    /// In [`Version::ALL`] order.
    v3: Vec<(Version, Bytes)>,
}

impl OpenApi {
    pub fn build() -> OpenApi {
        let v3: Vec<(Version, Bytes)> = Version::ALL
            .iter()
            .map(|version| (*version, to_bytes(&v3_document(*version))))
            .collect();
        let paths: Map<String, Value> = v3
            .iter()
            .map(|(version, bytes)| {
                let path = format!("apis/{GROUP}/{}", version.as_str());
                let url = format!("/openapi/v3/{path}?hash={}", hash(bytes));
                (path, json!({"serverRelativeURL": url}))
            })
            .collect();
        OpenApi {
            v2: to_bytes(&v2_document()),
            v3_index: to_bytes(&json!({"paths": paths})),
            v3,
        }
    }

    pub fn v3(&self, version: Version) -> Bytes {
        self.v3
            .iter()
            .find(|(v, _)| *v == version)
            .map(|(_, bytes)| bytes.clone())
            .unwrap_or_default()
    }
}

fn to_bytes(document: &Value) -> Bytes {
    Bytes::from(document.to_string())
}

/// Upstream's document hash: SHA-512, upper-case hex. Clients only compare
/// it, and cache documents by the URL that carries it.
fn hash(bytes: &[u8]) -> String {
    Sha512::digest(bytes)
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

/// Which document a schema goes in: refs point at `#/definitions/` (v2) or
/// `#/components/schemas/` (v3), and a described ref is written as v2 and
/// v3 documents from upstream write it.
#[derive(Clone, Copy)]
enum Format {
    V2,
    V3,
}

impl Format {
    fn target(self, name: &str) -> String {
        match self {
            Format::V2 => format!("#/definitions/{name}"),
            Format::V3 => format!("#/components/schemas/{name}"),
        }
    }

    fn plain_ref(self, name: &str) -> Value {
        json!({"$ref": self.target(name)})
    }

    /// A field whose type is another definition, with its own description.
    fn field_ref(self, name: &str, description: &str) -> Value {
        match self {
            Format::V2 => json!({"$ref": self.target(name), "description": description}),
            Format::V3 => json!({
                "allOf": [{"$ref": self.target(name)}],
                "default": {},
                "description": description,
            }),
        }
    }
}

/// `com.example.wardle.<version>.<kind>`.
fn name(version: Version, kind: &str) -> String {
    let reversed: Vec<&str> = GROUP.rsplit('.').collect();
    format!("{}.{}.{kind}", reversed.join("."), version.as_str())
}

fn gvk(version: Version, kind: &str) -> Value {
    json!({"group": GROUP, "version": version.as_str(), "kind": kind})
}

fn string(description: &str) -> Value {
    json!({"type": "string", "description": description})
}

const API_VERSION: &str = "APIVersion defines the versioned schema of this representation of \
    an object. Servers should convert recognized schemas to the latest internal value, and may \
    reject unrecognized values.";
const KIND: &str = "Kind is a string value representing the REST resource this object \
    represents. Servers may infer this from the endpoint the client submits requests to.";

/// The Flunder definitions of one version.
fn flunder_definitions(format: Format, version: Version, into: &mut Map<String, Value>) {
    let flunder = name(version, "Flunder");
    into.insert(
        flunder.clone(),
        json!({
            "description": "A Flunder is the sample object of the wardle group, served by an \
                aggregated API server.",
            "type": "object",
            "properties": {
                "apiVersion": string(API_VERSION),
                "kind": string(KIND),
                "metadata": format.field_ref(&format!("{META}.ObjectMeta"),
                    "Standard object's metadata."),
                "spec": format.field_ref(&name(version, "FlunderSpec"),
                    "What the flunder refers to."),
                "status": format.field_ref(&name(version, "FlunderStatus"),
                    "What the server last observed of the flunder."),
            },
            "x-kubernetes-group-version-kind": [gvk(version, "Flunder")],
        }),
    );
    into.insert(
        name(version, "FlunderList"),
        json!({
            "description": "A list of Flunders.",
            "type": "object",
            "required": ["items"],
            "properties": {
                "apiVersion": string(API_VERSION),
                "kind": string(KIND),
                "metadata": format.field_ref(&format!("{META}.ListMeta"),
                    "Standard list metadata."),
                "items": {
                    "description": "The Flunders.",
                    "type": "array",
                    "items": format.plain_ref(&flunder),
                },
            },
            "x-kubernetes-group-version-kind": [gvk(version, "FlunderList")],
        }),
    );
    into.insert(
        name(version, "FlunderSpec"),
        json!({
            "description": "FlunderSpec holds the reference a flunder makes.",
            "type": "object",
            "properties": {
                "reference": string("The name of another flunder, or of a fischer when \
                    referenceType says so."),
                "referenceType": {
                    "description": "The kind reference names: Flunder (the default when \
                        reference is set) or Fischer.",
                    "type": "string",
                    "enum": ["Fischer", "Flunder"],
                },
            },
        }),
    );
    into.insert(
        name(version, "FlunderStatus"),
        json!({"description": "Nothing is observed of a flunder yet.", "type": "object"}),
    );
}

/// The meta types the Flunder definitions point at, with the fields a
/// Flunder uses.
fn meta_definitions(format: Format, into: &mut Map<String, Value>) {
    let time = format!("{META}.Time");
    let string_map = |description: &str| {
        json!({"type": "object", "additionalProperties": {"type": "string", "default": ""},
            "description": description})
    };
    into.insert(
        format!("{META}.ObjectMeta"),
        json!({
            "description": "ObjectMeta is metadata that all persisted resources must have.",
            "type": "object",
            "properties": {
                "annotations": string_map("Unstructured key value data set by clients."),
                "creationTimestamp": format.field_ref(&time, "When the object was created."),
                "deletionTimestamp": format.field_ref(&time, "When the object will be deleted."),
                "finalizers": {"type": "array", "items": {"type": "string", "default": ""},
                    "description": "Must be empty before the object is deleted."},
                "generateName": string("A prefix for a name the server generates."),
                "generation": {"type": "integer", "format": "int64",
                    "description": "A sequence number for changes to the desired state."},
                "labels": string_map("Keys and values to organize and select objects by."),
                "name": string("The name, unique within a namespace."),
                "namespace": string("The namespace the object belongs to."),
                "resourceVersion": string("The version of this object clients use to detect \
                    changes and for optimistic concurrency."),
                "uid": string("The unique identifier of this object in time and space."),
            },
        }),
    );
    into.insert(
        format!("{META}.ListMeta"),
        json!({
            "description": "ListMeta describes metadata that synthetic resources must have.",
            "type": "object",
            "properties": {
                "continue": string("Set when more items can be listed."),
                "remainingItemCount": {"type": "integer", "format": "int64",
                    "description": "How many items a continued list would return."},
                "resourceVersion": string("The version of the list."),
            },
        }),
    );
    into.insert(
        time,
        json!({"description": "A time, RFC 3339, in seconds.", "type": "string",
            "format": "date-time"}),
    );
}

/// One operation on a Flunder path.
struct Operation {
    method: &'static str,
    action: &'static str,
    verb: &'static str,
    /// The kind of the request body and of the answer.
    body: Option<&'static str>,
    response: Option<&'static str>,
    query: &'static [&'static str],
}

/// The Flunder paths of `version`, each with its operations.
fn operations(version: Version) -> Vec<(String, Vec<Operation>)> {
    let base = format!("/apis/{GROUP}/{}", version.as_str());
    let write_query: &'static [&'static str] = &["dryRun", "fieldManager", "fieldValidation"];
    let list_query: &'static [&'static str] = &[
        "labelSelector",
        "fieldSelector",
        "resourceVersion",
        "timeoutSeconds",
        "watch",
    ];
    let op = |method, action, verb, body, response, query| Operation {
        method,
        action,
        verb,
        body,
        response,
        query,
    };
    vec![
        (
            format!("{base}/flunders"),
            vec![op(
                "get",
                "list",
                "list",
                None,
                Some("FlunderList"),
                list_query,
            )],
        ),
        (
            format!("{base}/namespaces/{{namespace}}/flunders"),
            vec![
                op(
                    "get",
                    "list",
                    "listNamespaced",
                    None,
                    Some("FlunderList"),
                    list_query,
                ),
                op(
                    "post",
                    "post",
                    "createNamespaced",
                    Some("Flunder"),
                    Some("Flunder"),
                    write_query,
                ),
                op(
                    "delete",
                    "deletecollection",
                    "deleteCollectionNamespaced",
                    None,
                    None,
                    list_query,
                ),
            ],
        ),
        (
            format!("{base}/namespaces/{{namespace}}/flunders/{{name}}"),
            vec![
                op("get", "get", "readNamespaced", None, Some("Flunder"), &[]),
                op(
                    "put",
                    "put",
                    "replaceNamespaced",
                    Some("Flunder"),
                    Some("Flunder"),
                    write_query,
                ),
                op(
                    "patch",
                    "patch",
                    "patchNamespaced",
                    Some("Patch"),
                    Some("Flunder"),
                    write_query,
                ),
                op(
                    "delete",
                    "delete",
                    "deleteNamespaced",
                    None,
                    None,
                    &["dryRun"],
                ),
            ],
        ),
    ]
}

fn operation_id(version: Version, op: &Operation) -> String {
    format!(
        "{}WardleExampleCom{}Flunder",
        op.verb,
        capitalized(version.as_str())
    )
}

fn capitalized(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| {
        first.to_uppercase().chain(chars).collect()
    })
}

fn path_parameters(path: &str) -> Vec<&'static str> {
    ["namespace", "name"]
        .into_iter()
        .filter(|p| path.contains(&format!("{{{p}}}")))
        .collect()
}

fn query_type(name: &str) -> &'static str {
    match name {
        "watch" => "boolean",
        "timeoutSeconds" => "integer",
        _ => "string",
    }
}

/// Fields shared by the operations of both formats.
fn operation_common(version: Version, op: &Operation) -> Map<String, Value> {
    let mut common = Map::new();
    common.insert("operationId".into(), json!(operation_id(version, op)));
    common.insert(
        "tags".into(),
        json!([format!("wardleExampleCom_{}", version.as_str())]),
    );
    common.insert("x-kubernetes-action".into(), json!(op.action));
    common.insert(
        "x-kubernetes-group-version-kind".into(),
        gvk(version, "Flunder"),
    );
    common
}

fn v2_document() -> Value {
    let format = Format::V2;
    let mut definitions = Map::new();
    meta_definitions(format, &mut definitions);
    let mut paths = Map::new();
    for version in Version::ALL {
        flunder_definitions(format, version, &mut definitions);
        for (path, ops) in operations(version) {
            let mut item = Map::new();
            for op in &ops {
                item.insert(op.method.into(), v2_operation(version, &path, op));
            }
            paths.insert(path, Value::Object(item));
        }
    }
    json!({
        "swagger": "2.0",
        "info": {"title": "Wardle", "version": "v0.1.0"},
        "paths": paths,
        "definitions": definitions,
    })
}

fn v2_operation(version: Version, path: &str, op: &Operation) -> Value {
    let mut parameters = Vec::new();
    match op.body {
        Some("Patch") => parameters.push(json!({"name": "body", "in": "body", "required": true,
            "schema": {"type": "object"}})),
        Some(kind) => parameters.push(json!({"name": "body", "in": "body", "required": true,
            "schema": Format::V2.plain_ref(&name(version, kind))})),
        None => {}
    }
    for query in op.query {
        parameters.push(
            json!({"name": query, "in": "query", "type": query_type(query),
            "uniqueItems": true}),
        );
    }
    for parameter in path_parameters(path) {
        parameters.push(json!({"name": parameter, "in": "path", "required": true,
            "type": "string", "uniqueItems": true}));
    }
    let mut ok = json!({"description": "OK"});
    if let Some(kind) = op.response {
        ok["schema"] = Format::V2.plain_ref(&name(version, kind));
    }
    let mut operation = operation_common(version, op);
    let consumes = if op.method == "patch" {
        "application/merge-patch+json"
    } else {
        "*/*"
    };
    operation.insert("consumes".into(), json!([consumes]));
    operation.insert("produces".into(), json!(["application/json"]));
    operation.insert("schemes".into(), json!(["https"]));
    operation.insert("parameters".into(), json!(parameters));
    operation.insert(
        "responses".into(),
        json!({"200": ok, "401": {"description": "Unauthorized"}}),
    );
    Value::Object(operation)
}

fn v3_document(version: Version) -> Value {
    let format = Format::V3;
    let mut schemas = Map::new();
    meta_definitions(format, &mut schemas);
    flunder_definitions(format, version, &mut schemas);
    let mut paths = Map::new();
    for (path, ops) in operations(version) {
        let mut item = Map::new();
        for op in &ops {
            item.insert(op.method.into(), v3_operation(version, &path, op));
        }
        paths.insert(path, Value::Object(item));
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Wardle", "version": "v0.1.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    })
}

fn v3_operation(version: Version, path: &str, op: &Operation) -> Value {
    let mut parameters = Vec::new();
    for query in op.query {
        parameters.push(json!({"name": query, "in": "query",
            "schema": {"type": query_type(query), "uniqueItems": true}}));
    }
    for parameter in path_parameters(path) {
        parameters.push(json!({"name": parameter, "in": "path", "required": true,
            "schema": {"type": "string", "uniqueItems": true}}));
    }
    let mut operation = operation_common(version, op);
    match op.body {
        Some("Patch") => {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {
                "application/merge-patch+json": {"schema": {"type": "object"}}}}),
            );
        }
        Some(kind) => {
            operation.insert(
                "requestBody".into(),
                json!({"required": true, "content": {
                "application/json": {"schema": Format::V3.plain_ref(&name(version, kind))}}}),
            );
        }
        None => {}
    }
    let mut ok = json!({"description": "OK"});
    if let Some(kind) = op.response {
        ok["content"] =
            json!({"application/json": {"schema": Format::V3.plain_ref(&name(version, kind))}});
    }
    operation.insert("parameters".into(), json!(parameters));
    operation.insert(
        "responses".into(),
        json!({"200": ok, "401": {"description": "Unauthorized"}}),
    );
    Value::Object(operation)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every `$ref` of a document names one of its own definitions.
    fn assert_self_contained(document: &Value, prefix: &str, definitions: &Value) {
        fn refs<'a>(value: &'a Value, into: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        into.push(target);
                    }
                    map.values().for_each(|v| refs(v, into));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, into)),
                _ => {}
            }
        }
        let mut all = Vec::new();
        refs(document, &mut all);
        assert!(!all.is_empty());
        for target in all {
            let name = target.strip_prefix(prefix).expect("a local ref");
            assert!(definitions.get(name).is_some(), "{target} is not defined");
        }
    }

    #[test]
    fn documents_are_self_contained() {
        let v2 = v2_document();
        assert_self_contained(&v2, "#/definitions/", &v2["definitions"]);
        assert!(v2["definitions"]["com.example.wardle.v1alpha1.Flunder"].is_object());
        assert!(v2["definitions"]["com.example.wardle.v1beta1.FlunderList"].is_object());
        let v3 = v3_document(Version::V1beta1);
        assert_self_contained(&v3, "#/components/schemas/", &v3["components"]["schemas"]);
    }

    #[test]
    fn patch_operations_offer_field_validation() {
        let v3 = v3_document(Version::V1alpha1);
        let patch = &v3["paths"]
            ["/apis/wardle.example.com/v1alpha1/namespaces/{namespace}/flunders/{name}"]["patch"];
        assert_eq!(patch["x-kubernetes-group-version-kind"]["kind"], "Flunder");
        let names: Vec<&str> = patch["parameters"]
            .as_array()
            .map(|ps| ps.iter().filter_map(|p| p["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(names.contains(&"fieldValidation"), "{names:?}");
    }

    #[test]
    fn the_index_names_each_version_with_its_hash() {
        let openapi = OpenApi::build();
        let index: Value = serde_json::from_slice(&openapi.v3_index).expect("JSON");
        let url = index["paths"]["apis/wardle.example.com/v1alpha1"]["serverRelativeURL"]
            .as_str()
            .expect("a URL");
        assert!(url.starts_with("/openapi/v3/apis/wardle.example.com/v1alpha1?hash="));
        assert_eq!(url.len() - url.find('=').expect("hash") - 1, 128);
    }
}
