//! The rules upstream applies to the root of an openAPIV3Schema before the
//! schema's own validation: with the status subresource on, `status` is cut
//! out of the schema as `properties.status`, so the root may only hold what
//! still validates correctly after that cut; and the root is never nullable.

use apiserver::validation::FieldError;
use serde_json::Value;

use super::internal_form::open_api_schema;

/// Upstream's schema fields in declaration order (the order its check walks
/// them and stops at the first offender), with the v1 JSON key and whether
/// the field may be set at the root when the status subresource is on.
const ROOT_FIELDS: &[(&str, &str, bool)] = &[
    ("ID", "id", false),
    ("Schema", "$schema", false),
    ("Ref", "$ref", false),
    ("Description", "description", true),
    ("Type", "type", true),
    ("Format", "format", true),
    ("Title", "title", true),
    ("Default", "default", false),
    ("Maximum", "maximum", true),
    ("ExclusiveMaximum", "exclusiveMaximum", true),
    ("Minimum", "minimum", true),
    ("ExclusiveMinimum", "exclusiveMinimum", true),
    ("MaxLength", "maxLength", true),
    ("MinLength", "minLength", true),
    ("Pattern", "pattern", true),
    ("MaxItems", "maxItems", true),
    ("MinItems", "minItems", true),
    ("UniqueItems", "uniqueItems", true),
    ("MultipleOf", "multipleOf", true),
    ("Enum", "enum", false),
    ("MaxProperties", "maxProperties", false),
    ("MinProperties", "minProperties", false),
    ("Required", "required", true),
    ("Items", "items", true),
    ("AllOf", "allOf", false),
    ("OneOf", "oneOf", false),
    ("AnyOf", "anyOf", false),
    ("Not", "not", false),
    ("Properties", "properties", true),
    ("AdditionalProperties", "additionalProperties", false),
    ("PatternProperties", "patternProperties", false),
    ("Dependencies", "dependencies", false),
    ("AdditionalItems", "additionalItems", false),
    ("Definitions", "definitions", false),
    ("ExternalDocs", "externalDocs", true),
    ("Example", "example", true),
    ("Nullable", "nullable", false),
    (
        "XPreserveUnknownFields",
        "x-kubernetes-preserve-unknown-fields",
        true,
    ),
    ("XEmbeddedResource", "x-kubernetes-embedded-resource", false),
    ("XIntOrString", "x-kubernetes-int-or-string", false),
    ("XListMapKeys", "x-kubernetes-list-map-keys", false),
    ("XListType", "x-kubernetes-list-type", false),
    ("XMapType", "x-kubernetes-map-type", false),
    ("XValidations", "x-kubernetes-validations", true),
];

/// Errors for the schema wrapper at `path` (`spec.validation` or
/// `spec.versions[i].schema`).
pub(super) fn errors(wrapper: Option<&Value>, status_enabled: bool, path: &str) -> Vec<FieldError> {
    let Some(schema) = open_api_schema(wrapper) else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    if status_enabled {
        errors.extend(status_root_error(schema, path));
    }
    if schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        errors.push(FieldError::forbidden(
            format!("{path}.openAPIV3Schema.nullable"),
            "nullable cannot be true at the root",
        ));
    }
    errors
}

fn status_root_error(schema: &Value, path: &str) -> Option<FieldError> {
    for (_, key, allowed) in ROOT_FIELDS {
        let Some(value) = schema.get(*key).filter(|v| is_set(key, v)) else {
            continue;
        };
        if *key == "type" {
            if value.as_str() != Some("object") {
                return Some(FieldError::invalid(
                    format!("{path}.openAPIV3Schema.type"),
                    value.clone(),
                    "only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled",
                ));
            }
            continue;
        }
        if !allowed {
            let names: Vec<&str> = ROOT_FIELDS
                .iter()
                .filter(|(_, _, allowed)| *allowed)
                .map(|(name, _, _)| *name)
                .collect();
            return Some(FieldError::invalid(
                format!("{path}.openAPIV3Schema"),
                schema.clone(),
                format!(
                    "only [{}] fields are allowed at the root of the schema if the status subresource is enabled",
                    names.join(" ")
                ),
            ));
        }
    }
    None
}

/// Whether a field holds a non-zero value in upstream's typed schema: false
/// and "" are zero for its plain bool and string fields; anything present
/// counts for its pointer, list and map fields.
fn is_set(key: &str, value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(set) if is_plain_bool(key) => *set,
        Value::String(text) if is_plain_string(key) => !text.is_empty(),
        _ => true,
    }
}

fn is_plain_bool(key: &str) -> bool {
    matches!(
        key,
        "exclusiveMaximum"
            | "exclusiveMinimum"
            | "uniqueItems"
            | "nullable"
            | "x-kubernetes-embedded-resource"
            | "x-kubernetes-int-or-string"
    )
}

fn is_plain_string(key: &str) -> bool {
    matches!(
        key,
        "id" | "$schema" | "description" | "type" | "format" | "title" | "pattern"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn wrapper(schema: Value) -> Value {
        json!({"openAPIV3Schema": schema})
    }

    #[test]
    fn status_subresource_needs_an_object_root() {
        let w = wrapper(json!({"type": "string"}));
        let errors = errors(Some(&w), true, "spec.validation");
        assert_eq!(
            errors[0].to_string(),
            "spec.validation.openAPIV3Schema.type: Invalid value: \"string\": only \"object\" is allowed as the type at the root of the schema if the status subresource is enabled"
        );
        assert!(super::errors(Some(&w), false, "spec.validation").is_empty());
    }

    #[test]
    fn status_subresource_limits_root_fields() {
        let schema = json!({"type": "object", "anyOf": [{"required": ["spec"]}]});
        let w = wrapper(schema.clone());
        let errors = errors(Some(&w), true, "spec.versions[0].schema");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.versions[0].schema.openAPIV3Schema");
        assert_eq!(errors[0].value, Some(schema));
        assert_eq!(
            errors[0].detail,
            "only [Description Type Format Title Maximum ExclusiveMaximum Minimum ExclusiveMinimum MaxLength MinLength Pattern MaxItems MinItems UniqueItems MultipleOf Required Items Properties ExternalDocs Example XPreserveUnknownFields XValidations] fields are allowed at the root of the schema if the status subresource is enabled"
        );
    }

    #[test]
    fn zero_values_do_not_count() {
        let w = wrapper(
            json!({"type": "object", "nullable": false, "x-kubernetes-embedded-resource": false,
            "properties": {"status": {"type": "object"}}}),
        );
        assert!(errors(Some(&w), true, "spec.validation").is_empty());
    }

    #[test]
    fn root_is_never_nullable() {
        let w = wrapper(json!({"type": "object", "nullable": true}));
        let rendered: Vec<String> = errors(Some(&w), false, "spec.validation")
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            rendered,
            ["spec.validation.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root"]
        );
    }
}
