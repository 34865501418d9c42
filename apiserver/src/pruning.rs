//! Unknown fields, found by walking an object against its OpenAPI schema:
//! upstream drops fields a kind does not define (the typed decode of
//! built-ins, pruning of structural CRD schemas) and, with
//! `fieldValidation=Strict`, refuses them; with `Warn` (the default) it
//! names them in warnings.

use std::collections::HashMap;

use serde_json::Value;

/// Named schemas that `$ref`s point into (`#/components/schemas/NAME` or
/// `#/definitions/NAME`; only the last segment is used).
pub type Definitions = HashMap<String, Value>;

fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// Follows `$ref` and single-element `allOf` wrappers to the schema that
/// describes the value.
fn resolve<'a>(definitions: &'a Definitions, mut schema: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match definitions.get(ref_name(reference)) {
                Some(next) => {
                    schema = next;
                    continue;
                }
                None => return schema,
            }
        }
        if let Some([only]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            schema = only;
            continue;
        }
        break;
    }
    schema
}

fn preserves_unknown(schema: &Value) -> bool {
    schema
        .get("x-kubernetes-preserve-unknown-fields")
        .and_then(Value::as_bool)
        .unwrap_or(false)
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// Removes every field the schema does not define and returns their paths
/// in upstream's form (`spec.containers[0].foo`). `apiVersion`, `kind` and
/// everything under a preserve-unknown-fields schema are kept.
pub fn prune(definitions: &Definitions, schema: &Value, object: &mut Value) -> Vec<String> {
    let mut removed = Vec::new();
    walk(definitions, schema, object, "", &mut removed, true);
    removed
}

fn walk(
    definitions: &Definitions,
    schema: &Value,
    value: &mut Value,
    path: &str,
    removed: &mut Vec<String>,
    root: bool,
) {
    let schema = resolve(definitions, schema);
    if preserves_unknown(schema) {
        return;
    }
    match value {
        Value::Object(map) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties");
            match (properties, additional) {
                (Some(properties), _) => {
                    let keys: Vec<String> = map.keys().cloned().collect();
                    for key in keys {
                        if root && (key == "apiVersion" || key == "kind") {
                            continue;
                        }
                        match properties.get(&key) {
                            Some(child) => {
                                if let Some(v) = map.get_mut(&key) {
                                    walk(definitions, child, v, &join(path, &key), removed, false);
                                }
                            }
                            None => {
                                map.remove(&key);
                                removed.push(join(path, &key));
                            }
                        }
                    }
                }
                (None, Some(child)) if child.is_object() => {
                    for (key, v) in map.iter_mut() {
                        walk(definitions, child, v, &join(path, key), removed, false);
                    }
                }
                // No properties and no value schema: a free-form object.
                _ => {}
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter_mut().enumerate() {
                    walk(
                        definitions,
                        item_schema,
                        item,
                        &format!("{path}[{i}]"),
                        removed,
                        false,
                    );
                }
            }
        }
        _ => {}
    }
}

/// The message of a strict-validation failure, as upstream words it.
pub fn strict_message(unknown: &[String]) -> String {
    let fields: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field \"{f}\""))
        .collect();
    format!("strict decoding error: {}", fields.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn defs() -> Definitions {
        let mut d = Definitions::new();
        d.insert("Meta".into(), json!({"type": "object", "properties": {"name": {"type": "string"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}));
        d.insert(
            "Container".into(),
            json!({"type": "object", "properties": {"name": {"type": "string"}}}),
        );
        d.insert("Thing".into(), json!({"type": "object", "properties": {
            "metadata": {"allOf": [{"$ref": "#/components/schemas/Meta"}]},
            "spec": {"type": "object", "properties": {
                "containers": {"type": "array", "items": {"$ref": "#/components/schemas/Container"}},
                "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
            }}
        }}));
        d
    }

    #[test]
    fn removes_unknown_fields_with_paths() {
        let d = defs();
        let mut obj = json!({"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "a", "bogus": 1, "labels": {"x": "y"}},
            "spec": {"containers": [{"name": "c", "extra": true}], "raw": {"anything": 1}, "nope": 2}, "top": 3});
        let removed = prune(&d, &json!({"$ref": "#/components/schemas/Thing"}), &mut obj);
        assert_eq!(
            removed,
            [
                "metadata.bogus",
                "spec.containers[0].extra",
                "spec.nope",
                "top"
            ]
        );
        assert_eq!(obj["spec"]["raw"]["anything"], 1);
        assert_eq!(obj["metadata"]["labels"]["x"], "y");
        assert_eq!(
            strict_message(&removed[..1]),
            "strict decoding error: unknown field \"metadata.bogus\""
        );
    }
}
