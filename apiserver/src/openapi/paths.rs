//! Rendering the operations of [`super::operations`] as Swagger 2.0 or
//! OpenAPI 3.0 path items.
//!
//! Clients read more than the schemas: kubectl decides whether the server
//! validates fields itself by looking for the `fieldValidation` parameter on
//! the PATCH operation whose `x-kubernetes-group-version-kind` matches the
//! object it sends; without it kubectl falls back to client-side checks.

use serde_json::{json, Map, Value};

use super::builtin::{DELETE_OPTIONS, PATCH};
use super::definitions::{reference, v3_reference};
use super::operations::{path_items, tag, Body, Operation, Parameter, PathItem};
use super::ServedKind;

/// The media types a response may come in. Custom resources have no
/// protobuf encoding upstream, so their documents do not offer it.
fn response_media_types(is_builtin: bool, is_streaming: bool) -> Vec<&'static str> {
    let mut types = vec!["application/json", "application/yaml"];
    if is_builtin {
        types.push("application/vnd.kubernetes.protobuf");
    }
    if is_streaming {
        types.push("application/json;stream=watch");
        if is_builtin {
            types.push("application/vnd.kubernetes.protobuf;stream=watch");
        }
    }
    types
}

/// The patch formats published for PATCH operations.
///
/// Strategic merge patch is accepted for built-in kinds but deliberately not
/// listed. When a document lists it, `kubectl apply` computes the patch from
/// the schema's `x-kubernetes-patch-strategy` and `-patch-merge-key`
/// extensions, which k8s-openapi's schemas do not carry; every list would
/// then be replaced whole (dropping list items other actors added). Unlisted,
/// kubectl builds the same patch from its compiled-in types, exactly as
/// against upstream. Custom resources never take it, upstream or here.
const PATCH_MEDIA_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
];

fn status_description(code: u16) -> &'static str {
    match code {
        201 => "Created",
        202 => "Accepted",
        _ => "OK",
    }
}

/// Adds the operation-level extensions both formats carry.
fn add_extensions(target: &mut Map<String, Value>, item: &PathItem, op: &Operation) {
    if !op.action.is_empty() {
        target.insert("x-kubernetes-action".into(), json!(op.action));
    }
    if let Some(group_version_kind) = &item.group_version_kind {
        target.insert(
            "x-kubernetes-group-version-kind".into(),
            group_version_kind.clone(),
        );
    }
}

/// The `paths` object of a Swagger 2.0 document.
pub(super) fn v2_paths(
    group: &str,
    version: &str,
    kinds: &[&ServedKind],
    paths: &mut Map<String, Value>,
) {
    let tag = tag(group, version);
    for item in path_items(group, version, kinds) {
        let mut path = Map::new();
        if !item.parameters.is_empty() {
            path.insert("parameters".into(), v2_parameters(&item.parameters));
        }
        for op in &item.operations {
            path.insert(op.method.into(), v2_operation(&item, op, &tag));
        }
        paths.insert(item.path, Value::Object(path));
    }
}

fn v2_parameters(parameters: &[&Parameter]) -> Value {
    parameters
        .iter()
        .map(|parameter| {
            let mut value = json!({
                "name": parameter.name,
                "in": if parameter.in_path { "path" } else { "query" },
                "type": parameter.type_,
                "uniqueItems": true,
                "description": parameter.description,
            });
            if parameter.in_path {
                value["required"] = json!(true);
            }
            value
        })
        .collect()
}

fn v2_operation(item: &PathItem, op: &Operation, tag: &str) -> Value {
    let mut parameters = v2_parameters(op.parameters);
    let body = match &op.body {
        Body::None => None,
        Body::Object(definition) => Some((definition.as_str(), true)),
        Body::Patch => Some((PATCH, true)),
        Body::DeleteOptions => Some((DELETE_OPTIONS, false)),
    };
    if let (Some((definition, required)), Some(list)) = (body, parameters.as_array_mut()) {
        list.insert(
            0,
            json!({
                "name": "body",
                "in": "body",
                "required": required,
                "schema": { "$ref": reference(definition) },
            }),
        );
    }
    let consumes = match op.body {
        Body::Patch => PATCH_MEDIA_TYPES.to_vec(),
        _ => vec!["*/*"],
    };
    let responses: Map<String, Value> = op
        .responses
        .iter()
        .map(|(code, definition)| {
            let response = json!({
                "description": status_description(*code),
                "schema": { "$ref": reference(definition) },
            });
            (code.to_string(), response)
        })
        .chain(std::iter::once((
            "401".to_owned(),
            json!({ "description": "Unauthorized" }),
        )))
        .collect();
    let mut operation = Map::new();
    operation.insert("description".into(), json!(op.description));
    operation.insert("operationId".into(), json!(op.id));
    operation.insert("consumes".into(), json!(consumes));
    operation.insert(
        "produces".into(),
        json!(response_media_types(item.is_builtin, op.is_streaming)),
    );
    operation.insert("schemes".into(), json!(["https"]));
    operation.insert("tags".into(), json!([tag]));
    operation.insert("responses".into(), Value::Object(responses));
    if !op.parameters.is_empty() || body.is_some() {
        operation.insert("parameters".into(), parameters);
    }
    add_extensions(&mut operation, item, op);
    Value::Object(operation)
}

/// The `paths` object of one group/version's OpenAPI 3.0 document.
pub(super) fn v3_paths(group: &str, version: &str, kinds: &[&ServedKind]) -> Map<String, Value> {
    let tag = tag(group, version);
    path_items(group, version, kinds)
        .into_iter()
        .map(|item| {
            let mut path = Map::new();
            if !item.parameters.is_empty() {
                path.insert("parameters".into(), v3_parameters(&item.parameters));
            }
            for op in &item.operations {
                path.insert(op.method.into(), v3_operation(&item, op, &tag));
            }
            (item.path, Value::Object(path))
        })
        .collect()
}

fn v3_parameters(parameters: &[&Parameter]) -> Value {
    parameters
        .iter()
        .map(|parameter| {
            let mut value = json!({
                "name": parameter.name,
                "in": if parameter.in_path { "path" } else { "query" },
                "description": parameter.description,
                "schema": { "type": parameter.type_, "uniqueItems": true },
            });
            if parameter.in_path {
                value["required"] = json!(true);
            }
            value
        })
        .collect()
}

fn v3_content(media_types: &[&str], definition: &str) -> Value {
    media_types
        .iter()
        .map(|media_type| {
            let schema = json!({ "schema": { "$ref": v3_reference(definition) } });
            (media_type.to_string(), schema)
        })
        .collect::<Map<String, Value>>()
        .into()
}

fn v3_operation(item: &PathItem, op: &Operation, tag: &str) -> Value {
    let media_types = response_media_types(item.is_builtin, op.is_streaming);
    let responses: Map<String, Value> = op
        .responses
        .iter()
        .map(|(code, definition)| {
            let response = json!({
                "description": status_description(*code),
                "content": v3_content(&media_types, definition),
            });
            (code.to_string(), response)
        })
        .collect();
    let mut operation = Map::new();
    operation.insert("description".into(), json!(op.description));
    operation.insert("operationId".into(), json!(op.id));
    operation.insert("tags".into(), json!([tag]));
    operation.insert("responses".into(), Value::Object(responses));
    if !op.parameters.is_empty() {
        operation.insert("parameters".into(), v3_parameters(op.parameters));
    }
    let request_body = match &op.body {
        Body::None => None,
        Body::Object(definition) => Some((vec!["*/*"], definition.as_str(), true)),
        Body::Patch => Some((PATCH_MEDIA_TYPES.to_vec(), PATCH, true)),
        Body::DeleteOptions => Some((vec!["*/*"], DELETE_OPTIONS, false)),
    };
    if let Some((media_types, definition, required)) = request_body {
        let mut body = json!({ "content": v3_content(&media_types, definition) });
        if required {
            body["required"] = json!(true);
        }
        operation.insert("requestBody".into(), body);
    }
    add_extensions(&mut operation, item, op);
    Value::Object(operation)
}
