//! Structural schema rules (apiextensions `schema.ValidateStructural`):
//! every node says what type it is, value validations (`allOf`, `anyOf`,
//! `oneOf`, `not`) only restrict what the structural part already
//! specifies, Kubernetes extensions appear only where they make sense, and
//! `metadata` at the root constrains nothing but `name` and `generateName`.
//! Runs on the schema JSON; errors come back sorted by their text, as
//! upstream sorts them.

use apiserver::validation::FieldError;
use serde_json::{Map, Value};

use super::messages::{child, index, key};
use super::pattern::Pattern;

/// Where a node sits, which decides the message for a missing type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Level {
    Root,
    Item,
    Field,
}

pub fn check(schema: &Value, base_path: &str) -> Vec<FieldError> {
    let mut out = Vec::new();
    if let Some(root) = schema.as_object() {
        invariants(root, Level::Root, base_path, &mut out);
        completeness(root, base_path, &mut out);
    }
    out.sort_by_cached_key(ToString::to_string);
    out
}

fn text<'a>(props: &'a Map<String, Value>, name: &str) -> &'a str {
    props.get(name).and_then(Value::as_str).unwrap_or("")
}

fn flag(props: &Map<String, Value>, name: &str) -> bool {
    props.get(name).and_then(Value::as_bool).unwrap_or(false)
}

fn object<'a>(props: &'a Map<String, Value>, name: &str) -> Option<&'a Map<String, Value>> {
    props.get(name).and_then(Value::as_object)
}

fn schemas<'a>(
    props: &'a Map<String, Value>,
    name: &str,
) -> impl Iterator<Item = (usize, &'a Map<String, Value>)> {
    props
        .get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, value)| Some((i, value.as_object()?)))
}

/// Whether a keyword is set to something other than its zero value.
fn is_set(props: &Map<String, Value>, name: &str) -> bool {
    match props.get(name) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(text)) => !text.is_empty(),
        Some(Value::Array(items)) => !items.is_empty(),
        Some(Value::Object(map)) => !map.is_empty() || name == "not" || name == "externalDocs",
        Some(_) => true,
    }
}

fn invariants(s: &Map<String, Value>, level: Level, path: &str, out: &mut Vec<FieldError>) {
    let type_name = text(s, "type");
    if type_name == "array" && !s.contains_key("items") {
        out.push(FieldError::required(
            child(path, "items"),
            "must be specified",
        ));
    }
    if let Some(items) = object(s, "items") {
        invariants(items, Level::Item, &child(path, "items"), out);
    }
    let properties = object(s, "properties");
    for (name, property) in properties.into_iter().flatten() {
        if let Some(property) = property.as_object() {
            invariants(
                property,
                Level::Field,
                &key(&child(path, "properties"), name),
                out,
            );
        }
    }
    if s.contains_key("additionalProperties") {
        if level == Level::Root {
            out.push(FieldError::forbidden(
                child(path, "additionalProperties"),
                "must not be used at the root",
            ));
        }
        if let Some(values) = object(s, "additionalProperties") {
            invariants(
                values,
                Level::Field,
                &child(path, "additionalProperties"),
                out,
            );
        }
    }
    extensions(s, path, out);
    let skip_any_of = is_int_or_string_any_of(s);
    let skip_first_all_of_any_of = schemas(s, "allOf")
        .next()
        .is_some_and(|(_, first)| is_int_or_string_any_of(first));
    value_validation(s, skip_any_of, skip_first_all_of_any_of, path, out);

    let embedded = flag(s, "x-kubernetes-embedded-resource");
    let check_metadata = level == Level::Root || embedded;
    let must_be_object = "must be object if x-kubernetes-embedded-resource is true";
    if embedded && type_name != "object" {
        out.push(if type_name.is_empty() {
            FieldError::required(child(path, "type"), must_be_object)
        } else {
            FieldError::invalid(child(path, "type"), Value::from(type_name), must_be_object)
        });
    } else if type_name.is_empty()
        && !flag(s, "x-kubernetes-int-or-string")
        && !flag(s, "x-kubernetes-preserve-unknown-fields")
    {
        let detail = match level {
            Level::Root => "must not be empty at the root",
            Level::Item => "must not be empty for specified array items",
            Level::Field => "must not be empty for specified object fields",
        };
        out.push(FieldError::required(child(path, "type"), detail));
    }
    if embedded && s.contains_key("additionalProperties") {
        out.push(FieldError::forbidden(
            child(path, "additionalProperties"),
            "must not be used if x-kubernetes-embedded-resource is set",
        ));
    }
    if level == Level::Root && !type_name.is_empty() && type_name != "object" {
        out.push(FieldError::invalid(
            child(path, "type"),
            Value::from(type_name),
            "must be object at the root",
        ));
    }
    let properties_path = child(path, "properties");
    for meta_field in ["kind", "apiVersion"] {
        let Some(field) = properties
            .and_then(|p| object(p, meta_field))
            .filter(|_| check_metadata)
        else {
            continue;
        };
        if text(field, "type") != "string" {
            let type_path = child(&key(&properties_path, meta_field), "type");
            out.push(FieldError::invalid(
                type_path,
                Value::from(text(field, "type")),
                "must be string",
            ));
        }
    }
    if let Some(metadata) = properties.and_then(|p| object(p, "metadata")) {
        metadata_invariants(
            metadata,
            check_metadata,
            level,
            &key(&properties_path, "metadata"),
            out,
        );
    }
    let has_properties = properties.is_some_and(|p| !p.is_empty());
    if embedded && !flag(s, "x-kubernetes-preserve-unknown-fields") && !has_properties {
        out.push(FieldError::required(
            properties_path,
            "must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        ));
    }
}

fn extensions(s: &Map<String, Value>, path: &str, out: &mut Vec<FieldError>) {
    if !flag(s, "x-kubernetes-int-or-string") {
        return;
    }
    for extension in [
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-embedded-resource",
    ] {
        if flag(s, extension) {
            out.push(FieldError::invalid(
                child(path, extension),
                Value::Bool(true),
                "must be false if x-kubernetes-int-or-string is true",
            ));
        }
    }
}

/// `anyOf: [{type: integer}, {type: string}]`, the one place a value
/// validation may name types (for `x-kubernetes-int-or-string`).
fn is_int_or_string_any_of(s: &Map<String, Value>) -> bool {
    let Some(any_of) = s.get("anyOf").and_then(Value::as_array) else {
        return false;
    };
    let only_type = |value: &Value, expected: &str| {
        value.as_object().is_some_and(|alt| {
            text(alt, "type") == expected && alt.keys().all(|k| k == "type" || k == "example")
        })
    };
    any_of.len() == 2 && only_type(&any_of[0], "integer") && only_type(&any_of[1], "string")
}

fn value_validation(
    s: &Map<String, Value>,
    skip_any_of: bool,
    skip_first_all_of_any_of: bool,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    if !skip_any_of {
        for (i, alternative) in schemas(s, "anyOf") {
            nested(alternative, false, &index(&child(path, "anyOf"), i), out);
        }
    }
    for (i, part) in schemas(s, "allOf") {
        nested(
            part,
            skip_first_all_of_any_of && i == 0,
            &index(&child(path, "allOf"), i),
            out,
        );
    }
    for (i, alternative) in schemas(s, "oneOf") {
        nested(alternative, false, &index(&child(path, "oneOf"), i), out);
    }
    if let Some(not) = object(s, "not") {
        nested(not, false, &child(path, "not"), out);
    }
    let pattern = text(s, "pattern");
    if !pattern.is_empty() {
        if let Err(reason) = Pattern::compile(pattern) {
            out.push(FieldError::invalid(
                child(path, "pattern"),
                Value::from(pattern),
                format!("must be a valid regular expression, but isn't: {reason}"),
            ));
        }
    }
}

/// What a schema under `allOf`/`anyOf`/`oneOf`/`not` may not say.
const NESTED_FORBIDDEN: [(&str, &str); 13] = [
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    (
        "x-kubernetes-preserve-unknown-fields",
        "must be false to be structural",
    ),
    (
        "x-kubernetes-embedded-resource",
        "must be false to be structural",
    ),
    (
        "x-kubernetes-int-or-string",
        "must be false to be structural",
    ),
    (
        "x-kubernetes-list-map-keys",
        "must be empty to be structural",
    ),
    (
        "x-kubernetes-list-type",
        "must be undefined to be structural",
    ),
    (
        "x-kubernetes-map-type",
        "must be undefined to be structural",
    ),
];

fn nested(v: &Map<String, Value>, skip_any_of: bool, path: &str, out: &mut Vec<FieldError>) {
    value_validation(v, skip_any_of, false, path, out);
    if let Some(items) = object(v, "items") {
        nested(items, false, &child(path, "items"), out);
    }
    let properties_path = child(path, "properties");
    for (name, property) in object(v, "properties").into_iter().flatten() {
        if let Some(property) = property.as_object() {
            nested(property, false, &key(&properties_path, name), out);
        }
    }
    for (keyword, detail) in NESTED_FORBIDDEN {
        let present = match keyword {
            "additionalProperties" | "default" | "externalDocs" => {
                v.get(keyword).is_some_and(|x| !x.is_null())
            }
            "x-kubernetes-list-type" | "x-kubernetes-map-type" => {
                v.get(keyword).is_some_and(Value::is_string)
            }
            _ => is_set(v, keyword),
        };
        if present {
            out.push(FieldError::forbidden(child(path, keyword), detail));
        }
    }
    if is_set(v, "x-kubernetes-validations") {
        out.push(FieldError::forbidden(
            child(path, "x-kubernetes-validations"),
            "must be empty to be structural",
        ));
    }
    if object(v, "properties").is_some_and(|p| p.contains_key("metadata")) {
        out.push(FieldError::forbidden(
            key(&properties_path, "metadata"),
            "must not be specified in a nested context",
        ));
    }
}

/// Everything a root `metadata` schema may not say besides its type, a
/// default and the `name`/`generateName` properties.
const METADATA_FORBIDDEN: [&str; 32] = [
    "description",
    "title",
    "nullable",
    "externalDocs",
    "items",
    "additionalProperties",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
    "format",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "allOf",
    "oneOf",
    "anyOf",
];

fn metadata_invariants(
    s: &Map<String, Value>,
    check_metadata: bool,
    level: Level,
    path: &str,
    out: &mut Vec<FieldError>,
) {
    let type_name = text(s, "type");
    if check_metadata && type_name != "object" {
        out.push(FieldError::invalid(
            child(path, "type"),
            Value::from(type_name),
            "must be object",
        ));
    }
    if level != Level::Root {
        return;
    }
    let only_names = object(s, "properties").is_none_or(|p| {
        p.keys()
            .all(|name| name == "name" || name == "generateName")
    });
    let says_more =
        METADATA_FORBIDDEN.iter().any(|keyword| is_set(s, keyword)) || s.contains_key("not");
    if !only_names || says_more {
        out.push(FieldError::forbidden(
            path,
            "must not specify anything other than name and generateName, but metadata is implicitly specified",
        ));
    }
}

/// Every property or item a root value validation mentions must exist in
/// the structural part ("because it is defined in …").
fn completeness(s: &Map<String, Value>, path: &str, out: &mut Vec<FieldError>) {
    value_validation_completeness(s, Some(s), path, path, out);
}

fn value_validation_completeness(
    v: &Map<String, Value>,
    s: Option<&Map<String, Value>>,
    s_path: &str,
    v_path: &str,
    out: &mut Vec<FieldError>,
) {
    if let Some(not) = object(v, "not") {
        nested_completeness(not, s, s_path, &child(v_path, "not"), out);
    }
    for keyword in ["allOf", "anyOf", "oneOf"] {
        for (i, part) in schemas(v, keyword) {
            nested_completeness(part, s, s_path, &index(&child(v_path, keyword), i), out);
        }
    }
}

fn nested_completeness(
    v: &Map<String, Value>,
    s: Option<&Map<String, Value>>,
    s_path: &str,
    v_path: &str,
    out: &mut Vec<FieldError>,
) {
    let Some(s) = s else {
        out.push(FieldError::required(
            s_path,
            format!("because it is defined in {v_path}"),
        ));
        return;
    };
    value_validation_completeness(v, Some(s), s_path, v_path, out);
    if let Some(items) = object(v, "items") {
        nested_completeness(
            items,
            object(s, "items"),
            &child(s_path, "items"),
            &child(v_path, "items"),
            out,
        );
    }
    let s_properties = object(s, "properties");
    for (name, property) in object(v, "properties").into_iter().flatten() {
        let Some(property) = property.as_object() else {
            continue;
        };
        let s_path = key(&child(s_path, "properties"), name);
        let v_path = key(&child(v_path, "properties"), name);
        match s_properties.and_then(|p| object(p, name)) {
            Some(field) => nested_completeness(property, Some(field), &s_path, &v_path, out),
            None => out.push(FieldError::required(
                s_path,
                format!("because it is defined in {v_path}"),
            )),
        }
    }
}
