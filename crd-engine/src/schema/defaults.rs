//! Structural defaulting (apiextensions `defaulting`): applying `default`s
//! to objects, and the compile-time rule that every default is itself
//! pruned and valid (`ValidateDefaults`).

use apiserver::validation::FieldError;
use serde_json::Value;

use super::messages::{child, key, Root};
use super::node::Node;
use super::{embedded, prune, validate};

/// Removes `null`s the schema neither allows nor defaults, then fills in
/// defaults, as upstream's `PruneNonNullableNullsWithoutDefaults` followed
/// by `Default`.
pub fn apply(value: &mut Value, node: &Node) {
    drop_unwanted_nulls(value, Some(node));
    fill(value, node);
}

fn is_non_nullable_null(value: &Value, node: Option<&Node>) -> bool {
    value.is_null() && node.is_some_and(|node| !node.nullable)
}

fn drop_unwanted_nulls(value: &mut Value, node: Option<&Node>) {
    match value {
        Value::Object(map) => map.retain(|name, field| {
            let schema = node.and_then(|node| node.field(name).1);
            if is_non_nullable_null(field, schema) && schema.is_some_and(|s| s.default.is_none()) {
                return false;
            }
            drop_unwanted_nulls(field, schema);
            true
        }),
        Value::Array(items) => {
            let items_schema = node.and_then(|node| node.items.as_deref());
            for item in items {
                drop_unwanted_nulls(item, items_schema);
            }
        }
        _ => {}
    }
}

/// Defaults missing (or non-nullable null) properties, then recurses;
/// values of `additionalProperties` and array items are defaulted only when
/// they are non-nullable nulls.
fn fill(value: &mut Value, node: &Node) {
    match value {
        Value::Object(map) => {
            for (name, property) in &node.properties {
                let Some(default) = &property.default else {
                    continue;
                };
                let missing = map
                    .get(name)
                    .is_none_or(|field| is_non_nullable_null(field, Some(property)));
                if missing {
                    map.insert(name.clone(), default.clone());
                }
            }
            for (name, field) in map.iter_mut() {
                if let Some(property) = node.properties.get(name) {
                    fill(field, property);
                } else if let Some(values) = node.additional.schema() {
                    if is_non_nullable_null(field, Some(values)) {
                        *field = values.default.clone().unwrap_or(Value::Null);
                    }
                    fill(field, values);
                }
            }
        }
        Value::Array(items) => {
            let Some(items_schema) = node.items.as_deref() else {
                return;
            };
            for item in items {
                if is_non_nullable_null(item, Some(items_schema)) {
                    *item = items_schema.default.clone().unwrap_or(Value::Null);
                }
                fill(item, items_schema);
            }
        }
        _ => {}
    }
}

/// Every default must survive pruning unchanged ("must not have unknown
/// fields"), make a valid embedded resource where it is one, and validate
/// against its own schema. The resource root counts as an embedded
/// resource; `additionalProperties` are not followed.
pub fn check(root: &Node, base_path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    check_node(root, base_path, true, &mut out);
    out
}

fn check_node(node: &Node, path: &str, is_resource_root: bool, out: &mut Vec<FieldError>) {
    let embedded_resource = is_resource_root || node.embedded_resource;
    if let Some(default) = &node.default {
        check_default(
            node,
            default,
            &child(path, "default"),
            embedded_resource,
            out,
        );
    }
    if let Some(items) = node.items.as_deref() {
        check_node(items, &child(path, "items"), false, out);
    }
    for (name, property) in &node.properties {
        check_node(property, &key(&child(path, "properties"), name), false, out);
    }
}

fn check_default(
    node: &Node,
    default: &Value,
    path: &str,
    embedded_resource: bool,
    out: &mut Vec<FieldError>,
) {
    let mut pruned = default.clone();
    prune::prune(&mut pruned, node, embedded_resource);
    if &pruned != default {
        out.push(FieldError::invalid(
            path,
            default.clone(),
            "must not have unknown fields",
        ));
    }
    let mut meta_errors = Vec::new();
    embedded::validate(path, default, node, embedded_resource, &mut meta_errors);
    if !meta_errors.is_empty() {
        out.extend(meta_errors);
        return;
    }
    validate::validate(node, default, "", Root { base: Some(path) }, out);
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn defaulted(schema: Value, mut object: Value) -> Value {
        apply(&mut object, &Node::build(&schema));
        object
    }

    #[test]
    fn missing_properties_get_their_defaults() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "default": 1},
            "mode": {"type": "string", "default": "fast"},
            "nested": {"type": "object", "default": {}, "properties": {"x": {"type": "string", "default": "d"}}}
        }}}});
        assert_eq!(
            defaulted(schema, json!({"spec": {"mode": "slow"}})),
            json!({"spec": {"replicas": 1, "mode": "slow", "nested": {"x": "d"}}})
        );
    }

    #[test]
    fn nulls_are_defaulted_or_dropped_unless_nullable() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "withDefault": {"type": "string", "default": "d"},
            "plain": {"type": "string"},
            "nullable": {"type": "string", "nullable": true, "default": "n"}
        }}}});
        assert_eq!(
            defaulted(
                schema,
                json!({"spec": {"withDefault": null, "plain": null, "nullable": null}})
            ),
            json!({"spec": {"withDefault": "d", "nullable": null}})
        );
    }

    #[test]
    fn array_items_and_map_values_are_defaulted_inside() {
        let schema = json!({"type": "object", "properties": {
            "list": {"type": "array", "items": {"type": "object", "default": {"a": 0}, "properties": {
                "a": {"type": "integer"}, "b": {"type": "string", "default": "x"}
            }}},
            "map": {"type": "object", "additionalProperties": {"type": "object", "properties": {
                "c": {"type": "integer", "default": 3}
            }}}
        }});
        assert_eq!(
            defaulted(schema, json!({"list": [{"a": 1}, null], "map": {"k": {}}})),
            json!({"list": [{"a": 1, "b": "x"}, {"a": 0, "b": "x"}], "map": {"k": {"c": 3}}})
        );
    }
}
