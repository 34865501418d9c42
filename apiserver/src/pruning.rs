//! Walking an object against its OpenAPI schema, as upstream's typed decode
//! of built-in kinds does: fields the kind does not define are dropped (with
//! `fieldValidation=Strict` refused, with `Warn` named in warnings), and a
//! value of the wrong JSON type (a string where an int32 goes) fails the
//! decode with a 400.

use std::collections::HashMap;

use serde_json::Value;

/// Named schemas that `$ref`s point into (`#/components/schemas/NAME` or
/// `#/definitions/NAME`; only the last segment is used).
pub type Definitions = HashMap<String, Value>;

/// A value whose JSON type the schema does not allow, described as Go's
/// JSON decoder describes it (clients show that text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeMismatch {
    /// The JSON type found: string, number, bool, array, object.
    pub found: &'static str,
    /// The struct holding the field (`DeploymentSpec`).
    pub parent: String,
    /// The field's path from the root (`spec.replicas`).
    pub path: String,
    /// The Go type expected (`int32`).
    pub expected: String,
}

impl std::fmt::Display for TypeMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "json: cannot unmarshal {} into Go struct field {}.{} of type {}",
            self.found, self.parent, self.path, self.expected
        )
    }
}

const QUANTITY: &str = "io.k8s.apimachinery.pkg.api.resource.Quantity";

fn ref_name(reference: &str) -> &str {
    reference.rsplit('/').next().unwrap_or(reference)
}

/// Follows `$ref` and single-element `allOf` wrappers to the schema that
/// describes the value; also returns the last definition name passed.
fn resolve<'a>(
    definitions: &'a Definitions,
    mut schema: &'a Value,
) -> (&'a Value, Option<&'a str>) {
    let mut name = None;
    for _ in 0..16 {
        if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
            match definitions.get_key_value(ref_name(reference)) {
                Some((key, next)) => {
                    name = Some(key.as_str());
                    schema = next;
                    continue;
                }
                None => return (schema, name),
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
    (schema, name)
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

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
        Value::Null => "null",
    }
}

/// The Go type a schema decodes into, as Go's decoder names it.
fn go_type(schema: &Value, name: Option<&str>) -> String {
    if let Some(name) = name {
        let mut parts = name.rsplit('.');
        let kind = parts.next().unwrap_or(name);
        return match parts.next() {
            Some(version) => format!("{version}.{kind}"),
            None => kind.to_string(),
        };
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("integer") => match schema.get("format").and_then(Value::as_str) {
            Some(f @ ("int32" | "int64")) => f.to_string(),
            _ => "int".to_string(),
        },
        Some("number") => "float64".into(),
        Some("boolean") => "bool".into(),
        Some("string") => "string".into(),
        Some("array") => match schema.get("items") {
            Some(items) => format!("[]{}", go_type(items, None)),
            None => "[]interface {}".into(),
        },
        Some("object") => match schema.get("additionalProperties") {
            Some(values) if values.is_object() => format!("map[string]{}", go_type(values, None)),
            _ => "map[string]interface {}".into(),
        },
        _ => "interface {}".into(),
    }
}

/// Whether `value` has a JSON type the schema accepts. Null is always
/// accepted: Go decodes it as the zero value.
fn type_allowed(schema: &Value, name: Option<&str>, value: &Value) -> bool {
    if value.is_null() || name == Some(QUANTITY) {
        return !matches!(value, Value::Array(_) | Value::Object(_) | Value::Bool(_));
    }
    if schema.get("format").and_then(Value::as_str) == Some("int-or-string") {
        return value.is_string() || value.is_i64() || value.is_u64();
    }
    match schema.get("type").and_then(Value::as_str) {
        Some("string") => value.is_string(),
        Some("integer") => value.is_i64() || value.is_u64(),
        Some("number") => value.is_number(),
        Some("boolean") => value.is_boolean(),
        Some("array") => value.is_array(),
        Some("object") => value.is_object(),
        _ => true,
    }
}

/// Removes every field the schema does not define and returns their paths
/// in upstream's form (`spec.containers[0].foo`); `apiVersion` and `kind`
/// at the root and everything under a preserve-unknown-fields schema are
/// kept. Fails on the first value of the wrong JSON type.
pub fn prune(
    definitions: &Definitions,
    schema: &Value,
    object: &mut Value,
) -> Result<Vec<String>, TypeMismatch> {
    let mut walk = Walk {
        definitions,
        removed: Vec::new(),
    };
    walk.value(schema, object, "", "", true)?;
    Ok(walk.removed)
}

struct Walk<'a> {
    definitions: &'a Definitions,
    removed: Vec<String>,
}

impl Walk<'_> {
    /// `parent` is the Go struct holding this value, `field_path` the path
    /// Go's decoder reports for it (a map's entries report the map's path).
    fn value(
        &mut self,
        schema: &Value,
        value: &mut Value,
        path: &str,
        parent: &str,
        root: bool,
    ) -> Result<(), TypeMismatch> {
        let (schema, name) = resolve(self.definitions, schema);
        if !root && !type_allowed(schema, name, value) {
            return Err(TypeMismatch {
                found: json_type(value),
                parent: parent.to_string(),
                path: path.to_string(),
                expected: go_type(schema, name),
            });
        }
        if preserves_unknown(schema) || name == Some(QUANTITY) {
            return Ok(());
        }
        let own_struct = name
            .map(|n| n.rsplit('.').next().unwrap_or(n).to_string())
            .unwrap_or_else(|| parent.to_string());
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
                                        self.value(
                                            child,
                                            v,
                                            &join(path, &key),
                                            &own_struct,
                                            false,
                                        )?;
                                    }
                                }
                                None => {
                                    map.remove(&key);
                                    self.removed.push(join(path, &key));
                                }
                            }
                        }
                    }
                    (None, Some(child)) if child.is_object() => {
                        for v in map.values_mut() {
                            // Go reports a bad map entry at the map's path.
                            self.value(child, v, path, parent, false)?;
                        }
                    }
                    // No properties and no value schema: a free-form object.
                    _ => {}
                }
            }
            Value::Array(items) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        let item_path = format!("{path}[{i}]");
                        self.value(item_schema, item, &item_path, parent, false)
                            .map_err(|mut e| {
                                // Go names the list field, not the element.
                                if e.path == item_path {
                                    e.path = path.to_string();
                                }
                                e
                            })?;
                    }
                }
            }
            _ => {}
        }
        Ok(())
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
        d.insert("io.k8s.Meta".into(), json!({"type": "object", "properties": {"name": {"type": "string"}, "labels": {"type": "object", "additionalProperties": {"type": "string"}}}}));
        d.insert("io.k8s.api.core.v1.Container".into(), json!({"type": "object", "properties": {"name": {"type": "string"}, "port": {"type": "integer", "format": "int32"}}}));
        d.insert(
            "io.k8s.api.core.v1.Thing".into(),
            json!({"type": "object", "properties": {
                "metadata": {"allOf": [{"$ref": "#/components/schemas/io.k8s.Meta"}]},
                "spec": {"$ref": "#/definitions/io.k8s.api.core.v1.ThingSpec"},
            }}),
        );
        d.insert("io.k8s.api.core.v1.ThingSpec".into(), json!({"type": "object", "properties": {
            "replicas": {"type": "integer", "format": "int32"},
            "containers": {"type": "array", "items": {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}},
            "raw": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
            "cpu": {"$ref": "#/definitions/io.k8s.apimachinery.pkg.api.resource.Quantity"},
            "port": {"type": "string", "format": "int-or-string"}
        }}));
        d.insert(QUANTITY.into(), json!({"type": "string"}));
        d
    }

    fn root() -> Value {
        json!({"$ref": "#/components/schemas/io.k8s.api.core.v1.Thing"})
    }

    #[test]
    fn removes_unknown_fields_with_paths() {
        let d = defs();
        let mut obj = json!({"apiVersion": "v1", "kind": "Thing", "metadata": {"name": "a", "bogus": 1, "labels": {"x": "y"}},
            "spec": {"containers": [{"name": "c", "extra": true}], "raw": {"anything": 1}, "nope": 2, "cpu": 1, "port": 80}, "top": 3});
        let removed = prune(&d, &root(), &mut obj).unwrap();
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

    #[test]
    fn wrong_types_fail_like_go() {
        let d = defs();
        let mut obj = json!({"spec": {"replicas": "abc"}});
        let e = prune(&d, &root(), &mut obj).unwrap_err();
        assert_eq!(e.to_string(), "json: cannot unmarshal string into Go struct field ThingSpec.spec.replicas of type int32");
        let mut obj = json!({"metadata": {"labels": {"a": 1}}});
        let e = prune(&d, &root(), &mut obj).unwrap_err();
        assert_eq!(e.to_string(), "json: cannot unmarshal number into Go struct field Meta.metadata.labels of type string");
        let mut obj = json!({"spec": {"containers": ["x"]}});
        let e = prune(&d, &root(), &mut obj).unwrap_err();
        assert_eq!(e.to_string(), "json: cannot unmarshal string into Go struct field ThingSpec.spec.containers of type v1.Container");
        let mut obj = json!({"spec": {"replicas": null, "port": "http", "cpu": "100m"}});
        assert!(prune(&d, &root(), &mut obj).is_ok());
    }
}
