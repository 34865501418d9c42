//! Validation of custom resources: one test per keyword family, asserting
//! upstream's exact field paths and messages.

use apiserver::validation::{FieldError, FieldErrorKind};
use serde_json::{json, Value};

use super::{compiled, rendered};

/// A resource schema whose `spec` has the given properties.
fn spec_schema(properties: Value) -> Value {
    json!({
        "type": "object",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {"type": "object", "properties": properties}
        }
    })
}

fn errors_for(properties: Value, spec: Value) -> Vec<String> {
    rendered(&field_errors(properties, spec))
}

fn field_errors(properties: Value, spec: Value) -> Vec<FieldError> {
    let schema = compiled(spec_schema(properties));
    let object = json!({"apiVersion": "example.com/v1", "kind": "Thing", "metadata": {"name": "x"}, "spec": spec});
    schema.validate(&object)
}

/// Errors as (kind, field, value, detail), for the kinds whose rendering
/// lives outside this module (`Too many: 3: …` shows the value upstream).
fn parts(errors: &[FieldError]) -> Vec<(FieldErrorKind, &str, Option<Value>, &str)> {
    errors
        .iter()
        .map(|error| {
            (
                error.kind,
                error.field.as_str(),
                error.value.clone(),
                error.detail.as_str(),
            )
        })
        .collect()
}

#[test]
fn valid_objects_have_no_errors() {
    let found = errors_for(
        json!({"replicas": {"type": "integer", "minimum": 0, "maximum": 10}, "name": {"type": "string"}}),
        json!({"replicas": 3, "name": "web"}),
    );
    assert!(found.is_empty(), "{found:?}");
}

#[test]
fn types_are_checked_with_the_found_type_named() {
    let properties = json!({
        "replicas": {"type": "integer"},
        "ratio": {"type": "number"},
        "name": {"type": "string"},
        "enabled": {"type": "boolean"},
        "list": {"type": "array", "items": {"type": "string"}},
        "obj": {"type": "object"}
    });
    assert_eq!(
        errors_for(properties.clone(), json!({"replicas": "string"})),
        vec![
            r#"spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string""#
        ]
    );
    assert_eq!(
        errors_for(
            properties.clone(),
            json!({"replicas": 1.5, "name": 5, "enabled": "yes", "list": {}, "obj": []})
        ),
        vec![
            r#"spec.enabled: Invalid value: "string": spec.enabled in body must be of type boolean: "string""#,
            r#"spec.list: Invalid value: "object": spec.list in body must be of type array: "object""#,
            r#"spec.name: Invalid value: "integer": spec.name in body must be of type string: "integer""#,
            r#"spec.obj: Invalid value: "array": spec.obj in body must be of type object: "array""#,
            r#"spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#,
        ]
    );
    assert!(errors_for(properties.clone(), json!({"replicas": 2.0, "ratio": 3})).is_empty());
    assert_eq!(
        errors_for(properties, json!({"list": ["a", 1]})),
        vec![
            r#"spec.list[1]: Invalid value: "integer": spec.list[1] in body must be of type string: "integer""#
        ]
    );
}

#[test]
fn int_or_string_accepts_both_and_names_both() {
    let properties = json!({"port": {"x-kubernetes-int-or-string": true}});
    assert!(errors_for(properties.clone(), json!({"port": 80})).is_empty());
    assert!(errors_for(properties.clone(), json!({"port": "http"})).is_empty());
    assert_eq!(
        errors_for(properties, json!({"port": true})),
        vec![
            r#"spec.port: Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean""#
        ]
    );
}

#[test]
fn nulls_need_nullable() {
    let properties = json!({"a": {"type": "string"}, "b": {"type": "string", "nullable": true}});
    assert_eq!(
        errors_for(properties, json!({"a": null, "b": null})),
        vec![r#"spec.a: Invalid value: "null": spec.a in body must be of type string: "null""#]
    );
}

#[test]
fn required_properties_are_reported_missing() {
    let schema = compiled(json!({
        "type": "object",
        "required": ["spec"],
        "properties": {"spec": {"type": "object", "required": ["name", "size"], "properties": {
            "name": {"type": "string"}, "size": {"type": "integer"}
        }}}
    }));
    assert_eq!(
        rendered(&schema.validate(&json!({}))),
        vec!["spec: Required value"]
    );
    assert_eq!(
        rendered(&schema.validate(&json!({"spec": {"size": 1}}))),
        vec!["spec.name: Required value"]
    );
}

#[test]
fn enums_list_the_supported_values() {
    let properties = json!({
        "color": {"type": "string", "enum": ["red", "blue"]},
        "level": {"type": "integer", "enum": [1, 2]}
    });
    assert_eq!(
        errors_for(properties.clone(), json!({"color": "pink", "level": 3})),
        vec![
            r#"spec.color: Unsupported value: "pink": supported values: "red", "blue""#,
            r#"spec.level: Unsupported value: 3: supported values: "1", "2""#,
        ]
    );
    assert!(errors_for(properties, json!({"color": "red", "level": 2.0})).is_empty());
}

#[test]
fn numeric_bounds_use_upstream_wording() {
    let properties = json!({
        "replicas": {"type": "integer", "minimum": 1, "maximum": 10},
        "exclusive": {"type": "integer", "minimum": 1, "exclusiveMinimum": true, "maximum": 5, "exclusiveMaximum": true},
        "ratio": {"type": "number", "maximum": 1.5},
        "step": {"type": "integer", "multipleOf": 3},
        "fraction": {"type": "number", "multipleOf": 0.5}
    });
    assert_eq!(
        errors_for(properties.clone(), json!({"replicas": 11})),
        vec!["spec.replicas: Invalid value: 11: spec.replicas in body should be less than or equal to 10"]
    );
    assert_eq!(
        errors_for(properties.clone(), json!({"replicas": 0, "exclusive": 5, "ratio": 2.25, "step": 4, "fraction": 0.75})),
        vec![
            "spec.exclusive: Invalid value: 5: spec.exclusive in body should be less than 5",
            "spec.fraction: Invalid value: 0.75: spec.fraction in body should be a multiple of 0.5",
            "spec.ratio: Invalid value: 2.25: spec.ratio in body should be less than or equal to 1.5",
            "spec.replicas: Invalid value: 0: spec.replicas in body should be greater than or equal to 1",
            "spec.step: Invalid value: 4: spec.step in body should be a multiple of 3",
        ]
    );
    assert_eq!(
        errors_for(properties, json!({"exclusive": 1})),
        vec!["spec.exclusive: Invalid value: 1: spec.exclusive in body should be greater than 1"]
    );
}

#[test]
fn string_lengths_and_patterns() {
    let properties = json!({
        "short": {"type": "string", "maxLength": 3},
        "long": {"type": "string", "minLength": 5},
        "name": {"type": "string", "pattern": "^[a-z]+$"},
        "both": {"type": "string", "maxLength": 2, "pattern": "^[0-9]+$"}
    });
    assert_eq!(
        errors_for(
            properties.clone(),
            json!({"short": "abcd", "long": "abc", "name": "ABC", "both": "abc"})
        ),
        vec![
            "spec.both: Too long: may not be more than 2 bytes",
            r#"spec.long: Invalid value: "abc": spec.long in body should be at least 5 chars long"#,
            r#"spec.name: Invalid value: "ABC": spec.name in body should match '^[a-z]+$'"#,
            "spec.short: Too long: may not be more than 3 bytes",
        ]
    );
    assert!(errors_for(properties, json!({"short": "äöü", "long": "ééééé"})).is_empty());
}

#[test]
fn formats_report_the_format_as_the_type() {
    let properties = json!({
        "when": {"type": "string", "format": "date-time"},
        "ip": {"type": "string", "format": "ipv4"},
        "unknownFormat": {"type": "string", "format": "int-or-string"},
        "id": {"type": "string", "format": "uuid"}
    });
    assert_eq!(
        errors_for(
            properties.clone(),
            json!({"when": "yesterday", "ip": "1.2.3", "unknownFormat": "x", "id": "nope"})
        ),
        vec![
            r#"spec.id: Invalid value: "nope": spec.id in body must be of type uuid: "nope""#,
            r#"spec.ip: Invalid value: "1.2.3": spec.ip in body must be of type ipv4: "1.2.3""#,
            r#"spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday""#,
        ]
    );
    assert!(errors_for(
        properties,
        json!({"when": "2024-01-02T03:04:05Z", "ip": "10.0.0.1"})
    )
    .is_empty());
}

#[test]
fn array_sizes_and_items() {
    let properties = json!({
        "few": {"type": "array", "minItems": 1, "items": {"type": "string"}},
        "many": {"type": "array", "maxItems": 2, "items": {"type": "integer", "maximum": 5}}
    });
    let found = field_errors(properties, json!({"few": [], "many": [1, 9, 3]}));
    assert_eq!(
        parts(&found),
        vec![
            (
                FieldErrorKind::Invalid,
                "spec.few",
                Some(json!(0)),
                "spec.few in body should have at least 1 items"
            ),
            (
                FieldErrorKind::Invalid,
                "spec.many[1]",
                Some(json!(9)),
                "spec.many[1] in body should be less than or equal to 5"
            ),
            (
                FieldErrorKind::TooMany,
                "spec.many",
                Some(json!(3)),
                "must have at most 2 items"
            ),
        ]
    );
}

#[test]
fn object_sizes_and_additional_properties() {
    let properties = json!({
        "labels": {"type": "object", "maxProperties": 1, "additionalProperties": {"type": "string"}},
        "target": {"type": "object", "minProperties": 1, "properties": {"a": {"type": "string"}}},
        "limits": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}}
    });
    let spec =
        json!({"labels": {"a": "x", "b": "y"}, "target": {}, "limits": {"cpu": -1, "mem": "x"}});
    let found = field_errors(properties.clone(), spec.clone());
    assert_eq!(
        parts(&found)[0],
        (
            FieldErrorKind::TooMany,
            "spec.labels",
            Some(json!(2)),
            "must have at most 1 items"
        )
    );
    assert_eq!(
        errors_for(properties, spec)[1..],
        [
            "spec.limits.cpu: Invalid value: -1: spec.limits.cpu in body should be greater than or equal to 0",
            r#"spec.limits.mem: Invalid value: "string": spec.limits.mem in body must be of type integer: "string""#,
            "spec.target: Invalid value: 0: spec.target in body should have at least 1 properties",
        ]
    );
}

#[test]
fn combinators_report_like_kube_openapi() {
    let properties = json!({
        "choice": {
            "type": "object",
            "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
            "oneOf": [{"required": ["a"]}, {"required": ["b"]}]
        },
        "any": {"type": "integer", "anyOf": [{"minimum": 10}, {"maximum": 0}]},
        "all": {"type": "string", "allOf": [{"minLength": 2}, {"maxLength": 3}]},
        "never": {"type": "string", "not": {"enum": ["forbidden"]}}
    });
    assert!(errors_for(
        properties.clone(),
        json!({"choice": {"a": "x"}, "any": 11, "all": "ab", "never": "ok"})
    )
    .is_empty());
    assert_eq!(
        errors_for(
            properties,
            json!({"choice": {"a": "x", "b": "y"}, "any": 5, "all": "a", "never": "forbidden"})
        ),
        vec![
            r#"spec.all: Invalid value: "a": spec.all in body should be at least 2 chars long"#,
            r#"<nil>: Invalid value: "": "spec.all" must validate all the schemas (allOf)"#,
            r#"<nil>: Invalid value: "": "spec.any" must validate at least one schema (anyOf)"#,
            "spec.any: Invalid value: 5: spec.any in body should be greater than or equal to 10",
            r#"<nil>: Invalid value: "": "spec.choice" must validate one and only one schema (oneOf). Found 2 valid alternatives"#,
            r#"<nil>: Invalid value: "": "spec.never" must not validate the schema (not)"#,
        ]
    );
}

#[test]
fn list_types_and_embedded_resources_are_validated() {
    let properties = json!({
        "tags": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "ports": {
            "type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
        },
        "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true}
    });
    let found = field_errors(
        properties,
        json!({"tags": ["a", "a"], "ports": [{"name": "x"}, {"name": "x"}], "template": {"kind": "Pod"}}),
    );
    assert_eq!(
        parts(&found),
        vec![
            (
                FieldErrorKind::Required,
                "spec.template.apiVersion",
                None,
                ""
            ),
            (
                FieldErrorKind::Duplicate,
                "spec.ports[1]",
                Some(json!({"name": "x"})),
                ""
            ),
            (
                FieldErrorKind::Duplicate,
                "spec.tags[1]",
                Some(json!("a")),
                ""
            ),
        ]
    );
}

#[test]
fn root_metadata_is_checked_only_for_what_the_schema_says() {
    let schema = compiled(json!({
        "type": "object",
        "properties": {"metadata": {"type": "object", "properties": {"name": {"type": "string", "maxLength": 5}}}}
    }));
    assert_eq!(
        rendered(
            &schema.validate(&json!({"metadata": {"name": "too-long-name", "labels": {"a": "b"}}}))
        ),
        vec!["metadata.name: Too long: may not be more than 5 bytes"]
    );
}

#[test]
fn requests_are_pruned_defaulted_then_validated() {
    let schema = compiled(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "default": 1, "maximum": 3},
            "mode": {"type": "string", "enum": ["a", "b"], "default": "a"}
        }}}
    }));
    let mut object =
        json!({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n"}, "spec": {"extra": 1}});
    assert_eq!(schema.prune(&mut object), vec!["spec.extra"]);
    schema.apply_defaults(&mut object);
    assert_eq!(object["spec"], json!({"replicas": 1, "mode": "a"}));
    assert!(schema.validate(&object).is_empty());
}

#[test]
fn compiled_schemas_are_shareable_between_threads() {
    fn assert_shareable<T: Send + Sync>() {}
    assert_shareable::<super::Schema>();
}

#[test]
fn closed_objects_name_the_forbidden_property() {
    let properties = json!({"strict": {"type": "object", "additionalProperties": false}});
    assert_eq!(
        errors_for(properties, json!({"strict": {"x": 1}})),
        vec![r#"spec.strict: Invalid value: "x": spec.strict.x in body is a forbidden property"#]
    );
}

#[test]
fn null_never_matches_an_enum() {
    let properties = json!({"mode": {"type": "string", "nullable": true, "enum": ["a"]}});
    assert_eq!(
        errors_for(properties, json!({"mode": null})),
        vec![r#"spec.mode: Unsupported value: null: supported values: "a""#]
    );
}
