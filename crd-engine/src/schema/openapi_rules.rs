//! The OpenAPI rules apiextensions applies to every node of a v1 CRD schema
//! (`ValidateCustomResourceDefinitionOpenAPISchema` with the v3 standard
//! validator): unsupported JSON Schema keywords, valid types, where
//! defaults may appear, and the list/map extensions' consistency. The
//! `x-kubernetes-validations` rules themselves belong to the CEL checks.

use apiserver::validation::{FieldError, FieldErrorKind};
use serde_json::{Map, Value};

use super::messages::{child, index, key};

const OPENAPI_TYPES: [&str; 6] = ["array", "boolean", "integer", "number", "object", "string"];
const META_FIELDS: [&str; 3] = ["metadata", "kind", "apiVersion"];

/// What the walk knows about the position of a node.
#[derive(Debug, Clone, Default)]
struct Context {
    /// Why defaults are forbidden here, if they are.
    defaults_forbidden: Option<String>,
    /// Inside the TypeMeta/ObjectMeta of the root or an embedded resource.
    inside_resource_meta: bool,
}

pub fn check(schema: &Value, base_path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    let Some(root) = schema.as_object() else {
        out.push(FieldError::invalid(
            base_path,
            schema.clone(),
            "must be an object",
        ));
        return out;
    };
    if root.get("nullable").and_then(Value::as_bool) == Some(true) {
        out.push(FieldError::forbidden(
            child(base_path, "nullable"),
            "nullable cannot be true at the root",
        ));
    }
    node(root, base_path, &Context::default(), true, &mut out);
    out
}

fn not_supported(path: String, value: &str, allowed: &[&str]) -> FieldError {
    FieldError::not_supported(path, Value::from(value), allowed)
}

fn node(
    s: &Map<String, Value>,
    path: &str,
    context: &Context,
    is_root: bool,
    out: &mut Vec<FieldError>,
) {
    shapes(s, path, out);
    standard(s, path, context, out);
    let type_name = s.get("type").and_then(Value::as_str).unwrap_or("");
    if s.get("uniqueItems").and_then(Value::as_bool) == Some(true) {
        out.push(FieldError::forbidden(
            child(path, "uniqueItems"),
            "uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ));
    }
    let properties = s.get("properties").and_then(Value::as_object);
    if let Some(additional) = s.get("additionalProperties") {
        let restricts = additional.is_object() || additional == &Value::Bool(false);
        if properties.is_some_and(|p| !p.is_empty()) && restricts {
            out.push(FieldError::forbidden(
                child(path, "additionalProperties"),
                "additionalProperties and properties are mutual exclusive",
            ));
        }
        if let Some(values) = additional.as_object() {
            let mut inner = context.clone();
            if context.inside_resource_meta {
                inner.defaults_forbidden =
                    Some("inside additionalProperties applying to object metadata".into());
            }
            node(
                values,
                &child(path, "additionalProperties"),
                &inner,
                false,
                out,
            );
        }
    }
    let embedded = s
        .get("x-kubernetes-embedded-resource")
        .and_then(Value::as_bool)
        == Some(true);
    for (name, property) in properties.into_iter().flatten() {
        let Some(property) = property.as_object() else {
            continue;
        };
        let mut inner = context.clone();
        if (is_root || embedded) && META_FIELDS.contains(&name.as_str()) {
            inner.inside_resource_meta = true;
            if is_root {
                inner.defaults_forbidden = Some(format!("in top-level {name}"));
            }
        }
        node(
            property,
            &key(&child(path, "properties"), name),
            &inner,
            false,
            out,
        );
    }
    if let Some(not) = s.get("not").and_then(Value::as_object) {
        node(not, &child(path, "not"), context, false, out);
    }
    for keyword in ["allOf", "oneOf", "anyOf"] {
        for (i, part) in s
            .get(keyword)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(part) = part.as_object() {
                node(part, &index(&child(path, keyword), i), context, false, out);
            }
        }
    }
    for keyword in ["definitions", "dependencies"] {
        for (name, part) in s
            .get(keyword)
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            if let Some(part) = part.as_object() {
                node(part, &key(&child(path, keyword), name), context, false, out);
            }
        }
    }
    match s.get("items") {
        Some(Value::Object(items)) => node(items, &child(path, "items"), context, false, out),
        Some(Value::Array(items)) => {
            for (i, item) in items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| Some((i, item.as_object()?)))
            {
                node(item, &index(&child(path, "items"), i), context, false, out);
            }
        }
        _ => {}
    }
    if s.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(false)) {
        out.push(FieldError::invalid(
            child(path, "x-kubernetes-preserve-unknown-fields"),
            Value::Bool(false),
            "must be true or undefined",
        ));
    }
    map_type(s, type_name, path, out);
    list_type(s, type_name, path, out);
}

/// Keywords of the wrong JSON type, which upstream's decoder refuses.
fn shapes(s: &Map<String, Value>, path: &str, out: &mut Vec<FieldError>) {
    for (keyword, value) in s {
        let expected = match keyword.as_str() {
            "type"
            | "format"
            | "pattern"
            | "title"
            | "description"
            | "id"
            | "$schema"
            | "$ref"
            | "x-kubernetes-list-type"
            | "x-kubernetes-map-type" => "string",
            "nullable"
            | "exclusiveMaximum"
            | "exclusiveMinimum"
            | "uniqueItems"
            | "x-kubernetes-preserve-unknown-fields"
            | "x-kubernetes-embedded-resource"
            | "x-kubernetes-int-or-string" => "boolean",
            "maximum" | "minimum" | "multipleOf" => "number",
            "maxLength" | "minLength" | "maxItems" | "minItems" | "maxProperties"
            | "minProperties" => "integer",
            "required"
            | "enum"
            | "allOf"
            | "oneOf"
            | "anyOf"
            | "x-kubernetes-list-map-keys"
            | "x-kubernetes-validations" => "array",
            "properties" | "not" | "definitions" | "dependencies" | "externalDocs"
            | "patternProperties" => "object",
            _ => continue,
        };
        let matches = match expected {
            "string" => value.is_string(),
            "boolean" => value.is_boolean(),
            "number" => value.is_number(),
            "integer" => value.is_i64() || value.is_u64(),
            "array" => value.is_array(),
            _ => value.is_object(),
        };
        if !matches && !value.is_null() {
            out.push(FieldError::invalid(
                child(path, keyword),
                value.clone(),
                format!("must be of type {expected}"),
            ));
        }
    }
}

/// The v3 standard validator: keywords CRD schemas do not support.
fn standard(s: &Map<String, Value>, path: &str, context: &Context, out: &mut Vec<FieldError>) {
    let type_name = s.get("type").and_then(Value::as_str).unwrap_or("");
    if !type_name.is_empty() && !OPENAPI_TYPES.contains(&type_name) {
        out.push(not_supported(
            child(path, "type"),
            type_name,
            &OPENAPI_TYPES,
        ));
    }
    if let (true, Some(reason)) = (s.contains_key("default"), &context.defaults_forbidden) {
        out.push(FieldError::forbidden(
            child(path, "default"),
            format!("must not be set {reason}"),
        ));
    }
    let unsupported = [
        ("id", "id is not supported"),
        ("additionalItems", "additionalItems is not supported"),
        ("patternProperties", "patternProperties is not supported"),
        ("definitions", "definitions is not supported"),
        ("dependencies", "dependencies is not supported"),
        ("$ref", "$ref is not supported"),
    ];
    for (keyword, detail) in unsupported {
        let Some(value) = s.get(keyword).filter(|value| !value.is_null()) else {
            continue;
        };
        // Upstream tests `id` and the maps for emptiness, the pointers for presence.
        let present = match keyword {
            "id" => value.as_str().is_none_or(|id| !id.is_empty()),
            "patternProperties" | "definitions" => {
                value.as_object().is_none_or(|map| !map.is_empty())
            }
            _ => true,
        };
        if present {
            out.push(FieldError::forbidden(child(path, keyword), detail));
        }
    }
    if type_name == "null" {
        out.push(FieldError::forbidden(
            child(path, "type"),
            "type cannot be set to null, use nullable as an alternative",
        ));
    }
    if s.get("items")
        .and_then(Value::as_array)
        .is_some_and(|items| !items.is_empty())
    {
        out.push(FieldError::forbidden(
            child(path, "items"),
            "items must be a schema object and not an array",
        ));
    }
    if context.inside_resource_meta
        && s.get("x-kubernetes-embedded-resource") == Some(&Value::Bool(true))
    {
        out.push(FieldError::forbidden(
            child(path, "x-kubernetes-embedded-resource"),
            "must not be used inside of resource meta",
        ));
    }
}

fn type_must_be(path: &str, type_name: &str, detail: &str) -> FieldError {
    if type_name.is_empty() {
        FieldError::required(child(path, "type"), detail)
    } else {
        FieldError::invalid(child(path, "type"), Value::from(type_name), detail)
    }
}

fn map_type(s: &Map<String, Value>, type_name: &str, path: &str, out: &mut Vec<FieldError>) {
    let Some(map_type) = s.get("x-kubernetes-map-type").and_then(Value::as_str) else {
        return;
    };
    if type_name != "object" {
        out.push(type_must_be(
            path,
            type_name,
            "must be object if x-kubernetes-map-type is specified",
        ));
    }
    if map_type != "atomic" && map_type != "granular" {
        out.push(not_supported(
            child(path, "x-kubernetes-map-type"),
            map_type,
            &["atomic", "granular"],
        ));
    }
}

fn list_type(s: &Map<String, Value>, type_name: &str, path: &str, out: &mut Vec<FieldError>) {
    let list_type = s.get("x-kubernetes-list-type").and_then(Value::as_str);
    let items = s.get("items").and_then(Value::as_object);
    let item_type = items
        .and_then(|i| i.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let items_path = child(path, "items");
    if list_type.is_some() && type_name != "array" {
        out.push(type_must_be(
            path,
            type_name,
            "must be array if x-kubernetes-list-type is specified",
        ));
    } else if let (Some("set"), Some(items)) = (list_type, items) {
        let atomic = "must be atomic as item of a list with x-kubernetes-list-type=set";
        let item_list_type = items.get("x-kubernetes-list-type").and_then(Value::as_str);
        let item_map_type = items.get("x-kubernetes-map-type").and_then(Value::as_str);
        if item_type == "array" && item_list_type.is_some_and(|t| t != "atomic") {
            let value = Value::from(item_list_type.unwrap_or_default());
            out.push(FieldError::invalid(
                child(&items_path, "x-kubernetes-list-type"),
                value,
                atomic,
            ));
        }
        if item_type == "object" && item_map_type != Some("atomic") {
            let value = item_list_type.map_or(Value::Null, Value::from);
            out.push(FieldError::invalid(
                child(&items_path, "x-kubernetes-map-type"),
                value,
                atomic,
            ));
        }
    }
    if let Some(list_type) = list_type.filter(|t| !["atomic", "set", "map"].contains(t)) {
        out.push(not_supported(
            child(path, "x-kubernetes-list-type"),
            list_type,
            &["atomic", "set", "map"],
        ));
    }
    let keys: Vec<&str> = s
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let map_keys_detail = "must be map if x-kubernetes-list-map-keys is non-empty";
    match list_type {
        _ if keys.is_empty() => {}
        None => out.push(FieldError::required(
            child(path, "x-kubernetes-list-type"),
            map_keys_detail,
        )),
        Some("map") => {}
        Some(other) => out.push(FieldError::invalid(
            child(path, "x-kubernetes-list-type"),
            Value::from(other),
            map_keys_detail,
        )),
    }
    if list_type == Some("map") {
        map_list(s, &keys, items, item_type, path, out);
    }
    if matches!(list_type, Some("set" | "map")) {
        if let Some(items) = items {
            set_and_map_items(
                items,
                list_type.unwrap_or_default(),
                &keys,
                &items_path,
                out,
            );
        }
    }
}

fn map_list(
    s: &Map<String, Value>,
    keys: &[&str],
    items: Option<&Map<String, Value>>,
    item_type: &str,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let items_path = child(path, "items");
    let keys_path = child(path, "x-kubernetes-list-map-keys");
    if keys.is_empty() {
        out.push(FieldError::required(
            &keys_path,
            "must not be empty if x-kubernetes-list-type is map",
        ));
    }
    match s.get("items") {
        None => out.push(FieldError::required(
            &items_path,
            "must have a schema if x-kubernetes-list-type is map",
        )),
        Some(several @ Value::Array(_)) => out.push(FieldError::invalid(
            &items_path,
            several.clone(),
            "must only have a single schema if x-kubernetes-list-type is map",
        )),
        _ => {}
    }
    let Some(items) = items else {
        return;
    };
    if item_type != "object" {
        out.push(FieldError::invalid(
            child(&items_path, "type"),
            Value::from(item_type),
            "must be object if parent array's x-kubernetes-list-type is map",
        ));
        return;
    }
    let properties = items.get("properties").and_then(Value::as_object);
    let listed = Value::from(keys.iter().map(|k| Value::from(*k)).collect::<Vec<_>>());
    for (i, name) in keys.iter().enumerate() {
        match properties.and_then(|p| p.get(*name)) {
            Some(property) => {
                let property_type = property.get("type").and_then(Value::as_str).unwrap_or("");
                if property_type == "array" || property_type == "object" {
                    out.push(FieldError::invalid(
                        child(&key(&child(&items_path, "properties"), name), "type"),
                        Value::from(item_type),
                        "must be a scalar type if parent array's x-kubernetes-list-type is map",
                    ));
                }
            }
            None => out.push(FieldError::invalid(
                &keys_path,
                listed.clone(),
                "entries must all be names of item properties",
            )),
        }
        if keys[..i].contains(name) {
            out.push(FieldError::invalid(
                &keys_path,
                listed.clone(),
                "must not contain duplicate entries",
            ));
        }
    }
}

/// Set and map items may not be nullable; map keys must be required or
/// defaulted, and not nullable.
fn set_and_map_items(
    items: &Map<String, Value>,
    list_type: &str,
    keys: &[&str],
    items_path: &str,
    out: &mut Vec<FieldError>,
) {
    if items.get("nullable") == Some(&Value::Bool(true)) {
        out.push(FieldError::forbidden(
            child(items_path, "nullable"),
            format!("cannot be nullable when x-kubernetes-list-type is {list_type}"),
        ));
    }
    if list_type != "map" {
        return;
    }
    let required: Vec<&str> = items
        .get("required")
        .and_then(Value::as_array)
        .map(|names| names.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let properties = items.get("properties").and_then(Value::as_object);
    for name in keys {
        let Some(property) = properties.and_then(|p| p.get(*name)) else {
            continue;
        };
        let property_path = key(&child(items_path, "properties"), name);
        if !required.contains(name) && property.get("default").is_none() {
            out.push(FieldError::new(
                FieldErrorKind::Required,
                child(&property_path, "default"),
                None,
                "this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
            ));
        }
        if property.get("nullable") == Some(&Value::Bool(true)) {
            out.push(FieldError::forbidden(
                child(&property_path, "nullable"),
                "this property is in x-kubernetes-list-map-keys, so it cannot be nullable",
            ));
        }
    }
}
