//! Compile-time rejection of schemas apiextensions refuses, with upstream's
//! paths and messages.

use serde_json::json;

use super::{compiled, rejected};

#[test]
fn typical_operator_schemas_compile() {
    compiled(json!({
        "type": "object",
        "description": "A widget",
        "properties": {
            "apiVersion": {"type": "string"},
            "kind": {"type": "string"},
            "metadata": {"type": "object"},
            "spec": {
                "type": "object",
                "required": ["size"],
                "x-kubernetes-validations": [{"rule": "self.size > 0"}],
                "properties": {
                    "size": {"type": "integer", "format": "int32", "minimum": 1, "default": 1},
                    "port": {"anyOf": [{"type": "integer"}, {"type": "string"}], "x-kubernetes-int-or-string": true},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "items": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
                    },
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                    "choice": {
                        "type": "object",
                        "properties": {"a": {"type": "string"}, "b": {"type": "string"}},
                        "oneOf": [{"required": ["a"]}, {"required": ["b"]}]
                    }
                }
            },
            "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": true}
        }
    }));
}

#[test]
fn fields_need_a_type() {
    assert_eq!(
        rejected(json!({"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}})),
        vec!["spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"]
    );
    assert_eq!(
        rejected(json!({"type": "object", "properties": {"list": {"type": "array", "items": {}}, "bad": {"type": "array"}}})),
        vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[bad].items: Required value: must be specified",
            "spec.versions[0].schema.openAPIV3Schema.properties[list].items.type: Required value: must not be empty for specified array items",
        ]
    );
    assert_eq!(
        rejected(json!({"properties": {}})),
        vec!["spec.versions[0].schema.openAPIV3Schema.type: Required value: must not be empty at the root"]
    );
    assert_eq!(
        rejected(json!({"type": "string"})),
        vec![
            r#"spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": must be object at the root"#
        ]
    );
}

#[test]
fn value_validations_may_not_define_structure() {
    let found = rejected(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {"a": {"type": "string"}}}},
        "anyOf": [
            {"type": "object", "description": "x", "properties": {"spec": {"properties": {"b": {"nullable": true}}}}},
            {"properties": {"metadata": {}}}
        ]
    }));
    assert_eq!(
        found,
        vec![
            "spec.versions[0].schema.openAPIV3Schema.anyOf[0].description: Forbidden: must be empty to be structural",
            "spec.versions[0].schema.openAPIV3Schema.anyOf[0].properties[spec].properties[b].nullable: Forbidden: must be false to be structural",
            "spec.versions[0].schema.openAPIV3Schema.anyOf[0].type: Forbidden: must be empty to be structural",
            "spec.versions[0].schema.openAPIV3Schema.anyOf[1].properties[metadata]: Forbidden: must not be specified in a nested context",
            "spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Required value: because it is defined in spec.versions[0].schema.openAPIV3Schema.anyOf[1].properties[metadata]",
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[b]: Required value: because it is defined in spec.versions[0].schema.openAPIV3Schema.anyOf[0].properties[spec].properties[b]",
        ]
    );
}

#[test]
fn root_metadata_may_only_constrain_names() {
    compiled(
        json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
            "name": {"type": "string", "maxLength": 20}, "generateName": {"type": "string"}
        }}}}),
    );
    assert_eq!(
        rejected(json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}}})),
        vec!["spec.versions[0].schema.openAPIV3Schema.properties[metadata]: Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified"]
    );
    assert_eq!(
        rejected(json!({"type": "object", "properties": {"metadata": {"type": "string"}}})),
        vec![
            r#"spec.versions[0].schema.openAPIV3Schema.properties[metadata].type: Invalid value: "string": must be object"#
        ]
    );
}

#[test]
fn extensions_are_checked() {
    let found = rejected(json!({
        "type": "object",
        "additionalProperties": true,
        "properties": {
            "e": {"type": "string", "x-kubernetes-embedded-resource": true},
            "f": {"type": "object", "x-kubernetes-embedded-resource": true},
            "i": {"x-kubernetes-int-or-string": true, "x-kubernetes-preserve-unknown-fields": true}
        }
    }));
    assert_eq!(
        found,
        vec![
            "spec.versions[0].schema.openAPIV3Schema.additionalProperties: Forbidden: must not be used at the root",
            "spec.versions[0].schema.openAPIV3Schema.properties[e].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
            r#"spec.versions[0].schema.openAPIV3Schema.properties[e].type: Invalid value: "string": must be object if x-kubernetes-embedded-resource is true"#,
            "spec.versions[0].schema.openAPIV3Schema.properties[f].properties: Required value: must not be empty if x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
            "spec.versions[0].schema.openAPIV3Schema.properties[i].x-kubernetes-preserve-unknown-fields: Invalid value: true: must be false if x-kubernetes-int-or-string is true",
        ]
    );
}

#[test]
fn unsupported_keywords_are_refused() {
    let found = rejected(json!({
        "type": "object",
        "properties": {
            "a": {"type": "array", "items": {"type": "string"}, "uniqueItems": true},
            "b": {"type": "object", "properties": {"x": {"type": "string"}}, "additionalProperties": {"type": "string"}},
            "c": {"type": "foo"},
            "d": {"type": "string", "$ref": "#/x"},
            "e": {"type": "boolean", "x-kubernetes-preserve-unknown-fields": false}
        }
    }));
    assert_eq!(
        found,
        vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[a].uniqueItems: Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
            "spec.versions[0].schema.openAPIV3Schema.properties[b].additionalProperties: Forbidden: additionalProperties and properties are mutual exclusive",
            r#"spec.versions[0].schema.openAPIV3Schema.properties[c].type: Unsupported value: "foo": supported values: "array", "boolean", "integer", "number", "object", "string""#,
            "spec.versions[0].schema.openAPIV3Schema.properties[d].$ref: Forbidden: $ref is not supported",
            "spec.versions[0].schema.openAPIV3Schema.properties[e].x-kubernetes-preserve-unknown-fields: Invalid value: false: must be true or undefined",
        ]
    );
}

#[test]
fn list_and_map_types_are_consistent() {
    let found = rejected(json!({
        "type": "object",
        "properties": {
            "a": {"type": "object", "x-kubernetes-list-type": "set"},
            "b": {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "c": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["missing"], "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "d": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["k"], "items": {"type": "object", "properties": {"k": {"type": "string"}}}},
            "e": {"type": "array", "x-kubernetes-list-type": "bag", "items": {"type": "string"}},
            "f": {"type": "string", "x-kubernetes-map-type": "granular"}
        }
    }));
    assert_eq!(
        found,
        vec![
            r#"spec.versions[0].schema.openAPIV3Schema.properties[a].type: Invalid value: "object": must be array if x-kubernetes-list-type is specified"#,
            "spec.versions[0].schema.openAPIV3Schema.properties[b].x-kubernetes-list-map-keys: Required value: must not be empty if x-kubernetes-list-type is map",
            r#"spec.versions[0].schema.openAPIV3Schema.properties[c].x-kubernetes-list-map-keys: Invalid value: []string{"missing"}: entries must all be names of item properties"#,
            "spec.versions[0].schema.openAPIV3Schema.properties[d].items.properties[k].default: Required value: this property is in x-kubernetes-list-map-keys, so it must have a default or be a required property",
            r#"spec.versions[0].schema.openAPIV3Schema.properties[e].x-kubernetes-list-type: Unsupported value: "bag": supported values: "atomic", "set", "map""#,
            r#"spec.versions[0].schema.openAPIV3Schema.properties[f].type: Invalid value: "string": must be object if x-kubernetes-map-type is specified"#,
        ]
    );
}

#[test]
fn defaults_must_be_valid_and_pruned() {
    let found = rejected(json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": {
            "replicas": {"type": "integer", "maximum": 10, "default": 11},
            "name": {"type": "string", "default": 5},
            "obj": {"type": "object", "properties": {"a": {"type": "string"}}, "default": {"a": "x", "b": 1}}
        }}}
    }));
    assert_eq!(
        found,
        vec![
            r#"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[name].default: Invalid value: "integer":  in body must be of type string: "integer""#,
            r#"spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[obj].default: Invalid value: {"a":"x","b":1}: must not have unknown fields"#,
            "spec.versions[0].schema.openAPIV3Schema.properties[spec].properties[replicas].default: Invalid value: 11:  in body should be less than or equal to 10",
        ]
    );
}

#[test]
fn defaults_are_forbidden_in_top_level_metadata() {
    assert_eq!(
        rejected(json!({"type": "object", "properties": {"metadata": {"type": "object", "properties": {
            "name": {"type": "string", "default": "x"}
        }}}})),
        vec!["spec.versions[0].schema.openAPIV3Schema.properties[metadata].properties[name].default: Forbidden: must not be set in top-level metadata"]
    );
}

#[test]
fn invalid_patterns_and_root_nullable_are_refused() {
    let found = rejected(
        json!({"type": "object", "nullable": true, "properties": {"a": {"type": "string", "pattern": "[a-z"}}}),
    );
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(found[0].starts_with(
        r#"spec.versions[0].schema.openAPIV3Schema.properties[a].pattern: Invalid value: "[a-z": must be a valid regular expression, but isn't: error parsing regexp: "#
    ));
    assert_eq!(found[1], "spec.versions[0].schema.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root");
}

#[test]
fn defaults_of_objects_and_embedded_resources_are_checked_inside() {
    let found = rejected(json!({
        "type": "object",
        "properties": {
            "obj": {"type": "object", "properties": {"a": {"type": "integer"}}, "default": {"a": "x"}},
            "template": {
                "type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true,
                "default": {"kind": "Pod"}
            }
        }
    }));
    assert_eq!(
        found,
        vec![
            r#"spec.versions[0].schema.openAPIV3Schema.properties[obj].default.a: Invalid value: "string": a in body must be of type integer: "string""#,
            "spec.versions[0].schema.openAPIV3Schema.properties[template].default.apiVersion: Required value",
        ]
    );
}

#[test]
fn int_or_string_may_name_its_types_under_all_of() {
    compiled(json!({"type": "object", "properties": {"size": {
        "x-kubernetes-int-or-string": true,
        "allOf": [{"anyOf": [{"type": "integer"}, {"type": "string"}]}, {"pattern": "^[0-9]+%?$"}]
    }}}));
    assert_eq!(
        rejected(json!({"type": "object", "properties": {"size": {
            "x-kubernetes-int-or-string": true,
            "anyOf": [{"type": "integer"}, {"type": "boolean"}]
        }}})),
        vec![
            "spec.versions[0].schema.openAPIV3Schema.properties[size].anyOf[0].type: Forbidden: must be empty to be structural",
            "spec.versions[0].schema.openAPIV3Schema.properties[size].anyOf[1].type: Forbidden: must be empty to be structural",
        ]
    );
}
