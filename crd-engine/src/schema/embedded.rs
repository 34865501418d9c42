//! Embedded resources (`x-kubernetes-embedded-resource`): upstream's
//! `objectmeta.Validate` requires `apiVersion` and `kind` and checks their
//! shape, and validates the embedded `metadata` as ObjectMeta (name as a
//! path segment, labels, annotations).

use apiserver::validation::{dns1035_label_errors, object_meta_errors, FieldError};
use serde_json::{Map, Value};

use super::messages::{child, index, key};
use super::node::Node;

/// Checks every embedded resource in `value`; with `is_resource_root` the
/// value itself is treated as one.
pub fn validate(
    path: &str,
    value: &Value,
    node: &Node,
    is_resource_root: bool,
    out: &mut Vec<FieldError>,
) {
    match value {
        Value::Object(map) => {
            if is_resource_root || node.embedded_resource {
                validate_resource(path, map, out);
            }
            for (name, field) in map {
                if let Some(property) = node.properties.get(name) {
                    validate(&child(path, name), field, property, false, out);
                } else if let Some(values) = node.additional.schema() {
                    validate(&key(path, name), field, values, false, out);
                }
            }
        }
        Value::Array(items) => {
            let Some(items_schema) = node.items.as_deref() else {
                return;
            };
            for (i, item) in items.iter().enumerate() {
                validate(&index(path, i), item, items_schema, false, out);
            }
        }
        _ => {}
    }
}

fn validate_resource(path: &str, resource: &Map<String, Value>, out: &mut Vec<FieldError>) {
    let api_version_path = child(path, "apiVersion");
    let kind_path = child(path, "kind");
    match resource.get("apiVersion") {
        None => out.push(FieldError::required(&api_version_path, "")),
        Some(Value::String(api_version)) if api_version.is_empty() => {
            out.push(FieldError::required(&api_version_path, ""))
        }
        Some(Value::String(api_version)) if api_version.matches('/').count() > 1 => {
            out.push(FieldError::invalid(
                &api_version_path,
                Value::from(api_version.as_str()),
                format!("unexpected GroupVersion string: {api_version}"),
            ))
        }
        Some(Value::String(_)) => {}
        Some(other) => out.push(FieldError::invalid(
            &api_version_path,
            other.clone(),
            "must be a string",
        )),
    }
    match resource.get("kind") {
        None => out.push(FieldError::required(&kind_path, "")),
        Some(Value::String(kind)) if kind.is_empty() => {
            out.push(FieldError::required(&kind_path, ""))
        }
        Some(Value::String(kind)) => {
            let errors = dns1035_label_errors(&kind.to_lowercase());
            if !errors.is_empty() {
                out.push(FieldError::invalid(
                    &kind_path,
                    Value::from(kind.as_str()),
                    format!(
                        "may have mixed case, but should otherwise match: {}",
                        errors.join(",")
                    ),
                ));
            }
        }
        Some(other) => out.push(FieldError::invalid(
            &kind_path,
            other.clone(),
            "must be a string",
        )),
    }
    if let Some(metadata) = resource.get("metadata") {
        validate_metadata(path, metadata, out);
    }
}

/// ObjectMeta rules for embedded metadata. Upstream validates with a
/// placeholder name when none is set (a template need not have one) and
/// names as path segments rather than DNS subdomains.
fn validate_metadata(path: &str, metadata: &Value, out: &mut Vec<FieldError>) {
    let metadata_path = child(path, "metadata");
    let Some(fields) = metadata.as_object() else {
        out.push(FieldError::invalid(
            &metadata_path,
            metadata.clone(),
            "must be an object",
        ));
        return;
    };
    for field in ["name", "generateName"] {
        if let Some(name) = fields.get(field).and_then(Value::as_str) {
            for detail in path_segment_errors(name) {
                out.push(FieldError::invalid(
                    child(&metadata_path, field),
                    Value::from(name),
                    detail,
                ));
            }
        }
    }
    let mut resource = Map::new();
    resource.insert("metadata".to_string(), metadata.clone());
    let resource = Value::Object(resource);
    let names_checked_here = [FieldError::required("metadata.name", "")];
    for mut error in object_meta_errors(false, &resource, &names_checked_here) {
        if error.field == "metadata.name" {
            continue;
        }
        error.field = child(path, &error.field);
        out.push(error);
    }
}

/// apimachinery's `path.ValidatePathSegmentName`.
fn path_segment_errors(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .into_iter()
        .filter(|illegal| name.contains(illegal))
        .map(|illegal| format!("may not contain '{illegal}'"))
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(schema: Value, object: Value) -> Vec<String> {
        let node = Node::build(&schema);
        let mut out = Vec::new();
        validate("", &object, &node, false, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    fn embedded_schema() -> Value {
        json!({"type": "object", "properties": {
            "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
            "list": {"type": "array", "items": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}}
        }})
    }

    #[test]
    fn embedded_resources_need_api_version_and_kind() {
        assert_eq!(
            errors(embedded_schema(), json!({"template": {"metadata": {}}})),
            vec![
                "template.apiVersion: Required value",
                "template.kind: Required value"
            ]
        );
        assert_eq!(
            errors(
                embedded_schema(),
                json!({"list": [{"apiVersion": "v1", "kind": "Pod"}, {"apiVersion": 1, "kind": ""}]})
            ),
            vec![
                "list[1].apiVersion: Invalid value: 1: must be a string",
                "list[1].kind: Required value"
            ]
        );
    }

    #[test]
    fn embedded_kind_and_api_version_are_checked() {
        let found = errors(
            embedded_schema(),
            json!({"template": {"apiVersion": "a/b/c", "kind": "Bad_Kind"}}),
        );
        assert_eq!(
            found[0],
            "template.apiVersion: Invalid value: \"a/b/c\": unexpected GroupVersion string: a/b/c"
        );
        assert!(found[1].starts_with("template.kind: Invalid value: \"Bad_Kind\": may have mixed case, but should otherwise match: a DNS-1035 label"));
    }

    #[test]
    fn embedded_metadata_is_validated_lightly() {
        let found = errors(
            embedded_schema(),
            json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "a/b", "labels": {"bad key!": "v"}}}}),
        );
        assert_eq!(
            found[0],
            "template.metadata.name: Invalid value: \"a/b\": may not contain '/'"
        );
        assert!(
            found[1].starts_with("template.metadata.labels: Invalid value: \"bad key!\""),
            "{found:?}"
        );
        assert!(errors(
            embedded_schema(),
            json!({"template": {"apiVersion": "v1", "kind": "Pod", "metadata": {}}})
        )
        .is_empty());
    }
}
