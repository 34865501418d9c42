//! `x-kubernetes-list-type` invariants (apiextensions
//! `listtype.ValidateListSetsAndMaps`): a `set` holds no value twice and a
//! `map` no two items with the same `x-kubernetes-list-map-keys`. Each
//! repeat is a `Duplicate value` at its index (the second occurrence of a
//! value only, as upstream).

use std::collections::HashMap;

use apiserver::validation::FieldError;
use serde_json::{Map, Value};

use super::messages::{child, index, key, GoNumber};
use super::node::{ListType, Node};

/// Checks the lists below the object `map` described by `node`.
pub fn validate(path: &str, map: &Map<String, Value>, node: &Node, out: &mut Vec<FieldError>) {
    if let Some(values) = node.additional.schema() {
        for (name, value) in map {
            validate_value(&key(path, name), value, values, out);
        }
    }
    for (name, value) in map {
        if let Some(property) = node.properties.get(name) {
            validate_value(&child(path, name), value, property, out);
        }
    }
}

fn validate_value(path: &str, value: &Value, node: &Node, out: &mut Vec<FieldError>) {
    match value {
        Value::Array(items) => validate_array(path, items, node, out),
        Value::Object(map) => validate(path, map, node, out),
        _ => {}
    }
}

fn validate_array(path: &str, items: &[Value], node: &Node, out: &mut Vec<FieldError>) {
    match node.list_type {
        Some(ListType::Set) => {
            for i in repeated(items.iter()) {
                out.push(FieldError::duplicate(index(path, i), items[i].clone()));
            }
        }
        Some(ListType::Map) => validate_map(path, items, &node.list_map_keys, out),
        _ => {}
    }
    if let Some(items_schema) = node.items.as_deref() {
        for (i, item) in items.iter().enumerate() {
            validate_value(&index(path, i), item, items_schema, out);
        }
    }
}

fn validate_map(path: &str, items: &[Value], keys: &[String], out: &mut Vec<FieldError>) {
    if let Some((i, item)) = items
        .iter()
        .enumerate()
        .find(|(_, item)| !item.is_null() && !item.is_object())
    {
        out.push(FieldError::invalid(
            index(path, i),
            item.clone(),
            "must be an object for an array of list-type map",
        ));
        return;
    }
    let item_keys: Vec<Value> = items
        .iter()
        .map(|item| {
            let fields = item.as_object();
            let present = keys
                .iter()
                .filter_map(|name| Some((name.clone(), fields?.get(name)?.clone())))
                .collect::<Map<String, Value>>();
            Value::Object(present)
        })
        .collect();
    for i in repeated(item_keys.iter()) {
        out.push(FieldError::duplicate(index(path, i), item_keys[i].clone()));
    }
}

/// Indexes of the second occurrence of each repeated value. Scalars compare
/// as Go values (an int64 never equals a float64), compound values by
/// their JSON encoding.
fn repeated<'a>(values: impl Iterator<Item = &'a Value>) -> Vec<usize> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut repeats = Vec::new();
    for (i, value) in values.enumerate() {
        let times = seen.entry(identity(value)).or_insert(0);
        *times += 1;
        if *times == 2 {
            repeats.push(i);
        }
    }
    repeats
}

fn identity(value: &Value) -> String {
    match GoNumber::of(value) {
        Some(GoNumber::Int(int)) => format!("i{int}"),
        Some(GoNumber::Float(float)) => format!("f{float:?}"),
        None => format!("j{value}"),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(schema: Value, object: Value) -> Vec<String> {
        let node = Node::build(&schema);
        let mut out = Vec::new();
        validate("", object.as_object().expect("object"), &node, &mut out);
        out.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn sets_report_each_repeated_value_once() {
        let schema = json!({"type": "object", "properties": {
            "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
        }});
        assert_eq!(
            errors(schema, json!({"tags": ["a", "b", "a", "a", "b"]})),
            vec![
                "tags[2]: Duplicate value: \"a\"",
                "tags[4]: Duplicate value: \"b\""
            ]
        );
        let numbers = json!({"type": "object", "properties": {
            "n": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "number"}}
        }});
        assert_eq!(
            errors(numbers, json!({"n": [1, 1.0, 1]})),
            vec!["n[2]: Duplicate value: 1"]
        );
    }

    #[test]
    fn maps_compare_their_keys() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "ports": {
                "type": "array", "x-kubernetes-list-type": "map",
                "x-kubernetes-list-map-keys": ["port", "protocol"],
                "items": {"type": "object", "properties": {"port": {"type": "integer"}, "protocol": {"type": "string"}}}
            },
            "named": {
                "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
                "items": {"type": "object", "properties": {"name": {"type": "string"}}}
            }
        }}}});
        let found = errors(
            schema,
            json!({"spec": {
                "ports": [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "UDP"}, {"port": 80, "protocol": "TCP"}],
                "named": [{"name": "a"}, {}, {"name": "a"}, {}]
            }}),
        );
        assert_eq!(found.len(), 3, "{found:?}");
        assert!(
            found[0].starts_with("spec.named[2]: Duplicate value: "),
            "{found:?}"
        );
        assert!(
            found[1].starts_with("spec.named[3]: Duplicate value: "),
            "{found:?}"
        );
        assert!(
            found[2].starts_with("spec.ports[2]: Duplicate value: "),
            "{found:?}"
        );
    }

    #[test]
    fn map_lists_need_object_items() {
        let schema = json!({"type": "object", "properties": {
            "l": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"], "items": {"type": "object"}}
        }});
        assert_eq!(
            errors(schema, json!({"l": [{"k": "a"}, "x"]})),
            vec!["l[1]: Invalid value: \"x\": must be an object for an array of list-type map"]
        );
    }

    #[test]
    fn lists_inside_maps_and_lists_are_checked() {
        let schema = json!({"type": "object", "properties": {"m": {
            "type": "object",
            "additionalProperties": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
        }}});
        assert_eq!(
            errors(schema, json!({"m": {"k": ["x", "x"]}})),
            vec!["m[k][1]: Duplicate value: \"x\""]
        );
    }
}
