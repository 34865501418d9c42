//! `selectableFields`: the fields clients may use in field selectors on the
//! custom resources. Each must name, in dot notation, a string, boolean or
//! integer field the schema declares, outside metadata.

use std::collections::BTreeSet;

use apiserver::validation::{FieldError, FieldErrorKind};
use serde_json::{json, Value};

use super::internal_form::{open_api_schema, InternalForm, Version};
use super::{present, text, Rules};

/// Upstream's cap on selectable fields per version: each one costs an index
/// in every list and watch of the resource.
pub(super) const MAX_SELECTABLE_FIELDS: usize = 8;

/// Selectable fields kept on one version (they differ between versions).
/// When the schema was hoisted because all versions share it, the version
/// has none of its own and upstream rejects the fields (kubernetes#140689).
pub(super) fn version_errors(version: &Version, path: &str, rules: &Rules) -> Vec<FieldError> {
    if version.selectable_fields.is_empty() {
        return Vec::new();
    }
    let field = format!("{path}.selectableFields");
    let Some(schema) = open_api_schema(version.schema) else {
        return vec![FieldError::invalid(
            field,
            json!(""),
            "may only be set when `version.schema.openAPIV3Schema` is not included",
        )];
    };
    let may_exceed = rules.oversized_selectable_fields.contains(version.name);
    list_errors(version.selectable_fields, schema, &field, may_exceed)
}

/// Selectable fields shared by every version (hoisted to
/// `spec.selectableFields`); they need the hoisted schema.
pub(super) fn top_level_errors(form: &InternalForm, rules: &Rules) -> Vec<FieldError> {
    if form.selectable_fields.is_empty() {
        return Vec::new();
    }
    let field = "spec.selectableFields";
    let Some(wrapper) = form.schema else {
        return vec![FieldError::invalid(
            field,
            json!(""),
            "may only be set when validations.schema is included",
        )];
    };
    let schema = open_api_schema(Some(wrapper)).unwrap_or(&Value::Null);
    let may_exceed = rules.oversized_selectable_fields.contains("");
    list_errors(form.selectable_fields, schema, field, may_exceed)
}

/// The lists ("" for the top level, else a version name) that the stored
/// CRD already had over the limit and this update leaves unchanged; upstream
/// keeps accepting those.
pub(super) fn unchanged_oversized(form: &InternalForm, old: &InternalForm) -> BTreeSet<String> {
    let mut allowed = BTreeSet::new();
    let oversized_and_same =
        |new: &[Value], old: &[Value]| old.len() > MAX_SELECTABLE_FIELDS && new == old;
    if oversized_and_same(form.selectable_fields, old.selectable_fields) {
        allowed.insert(String::new());
    }
    for version in &form.versions {
        let before = old.versions.iter().find(|v| v.name == version.name);
        if before
            .is_some_and(|b| oversized_and_same(version.selectable_fields, b.selectable_fields))
        {
            allowed.insert(version.name.to_string());
        }
    }
    allowed
}

fn list_errors(fields: &[Value], schema: &Value, path: &str, may_exceed: bool) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut unique = BTreeSet::new();
    for (index, selectable) in fields.iter().enumerate() {
        let json_path = text(selectable, "jsonPath");
        let field = format!("{path}[{index}].jsonPath");
        if json_path.is_empty() {
            errors.push(FieldError::required(field, ""));
            continue;
        }
        let (resolved, target) = match resolve(json_path, schema) {
            Ok(found) => found,
            Err(problem) => {
                errors.push(FieldError::invalid(
                    field,
                    json!(json_path),
                    format!("is an invalid path: {problem}"),
                ));
                continue;
            }
        };
        if resolved.root == "metadata" {
            errors.push(FieldError::invalid(
                field.clone(),
                json!(json_path),
                "must not point to fields in metadata",
            ));
        }
        let type_ = target.map(|t| text(t, "type")).unwrap_or("");
        if !matches!(type_, "string" | "boolean" | "integer") {
            errors.push(FieldError::invalid(
                field.clone(),
                json!(json_path),
                "must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ));
        }
        if !unique.insert(resolved.rendered) {
            errors.push(FieldError::duplicate(field, json!(json_path)));
        }
    }
    if unique.len() > MAX_SELECTABLE_FIELDS && !may_exceed {
        errors.push(FieldError::new(
            FieldErrorKind::TooMany,
            path,
            None,
            format!(
                "{}: must have at most {MAX_SELECTABLE_FIELDS} items",
                unique.len()
            ),
        ));
    }
    errors
}

/// A resolved path: its first segment and upstream's rendering
/// (`spec.labels[app]`), by which duplicates are found.
struct Resolved {
    root: String,
    rendered: String,
}

/// Upstream's `ValidFieldPath` without array notation: walks `.name` steps
/// through `properties`, or through `additionalProperties` as map keys, and
/// returns the schema the path ends at (`None` past an
/// `additionalProperties: true`).
fn resolve<'a>(
    json_path: &str,
    schema: &'a Value,
) -> Result<(Resolved, Option<&'a Value>), String> {
    let invalid_field = || "does not refer to a valid field".to_string();
    let tokens = tokens(json_path);
    let mut tokens = tokens.into_iter();
    let mut current = Some(schema);
    let mut resolved = Resolved {
        root: String::new(),
        rendered: String::new(),
    };
    while let Some(token) = tokens.next() {
        match token {
            "[" => return Err("array notation is not allowed".into()),
            "." => {}
            other => return Err(format!("expected [ or . but got: {other}")),
        }
        let name = tokens
            .next()
            .ok_or_else(|| "unexpected end of JSON path".to_string())?;
        let node = current.ok_or_else(invalid_field)?;
        let properties = node
            .get("properties")
            .and_then(Value::as_object)
            .filter(|p| !p.is_empty());
        let segment = if let Some(properties) = properties {
            current = Some(properties.get(name).ok_or_else(invalid_field)?);
            if resolved.rendered.is_empty() {
                name.to_string()
            } else {
                format!(".{name}")
            }
        } else if let Some(additional) = present(node, "additionalProperties") {
            current = additional.is_object().then_some(additional);
            format!("[{name}]")
        } else {
            return Err(invalid_field());
        };
        if resolved.rendered.is_empty() {
            resolved.root = segment.clone();
        }
        resolved.rendered.push_str(&segment);
    }
    Ok((resolved, current))
}

/// Splits a JSON path the way upstream's scanner does: `.`, `[` and `]` are
/// tokens of their own, a token starting with `'` runs to the next unescaped
/// `'`, and anything else runs to the next delimiter.
fn tokens(path: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        let bytes = rest.as_bytes();
        let end = if bytes[0] == b'\'' {
            (1..bytes.len())
                .find(|&i| bytes[i] == b'\'' && bytes[i - 1] != b'\\')
                .map_or(bytes.len(), |i| i + 1)
        } else if matches!(bytes[0], b'.' | b'[' | b']') {
            1
        } else {
            rest.find(['.', '[', ']']).unwrap_or(rest.len())
        };
        tokens.push(&rest[..end]);
        rest = &rest[end..];
    }
    tokens
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Value {
        json!({"type": "object", "properties": {
            "metadata": {"type": "object", "properties": {"name": {"type": "string"}}},
            "spec": {"type": "object", "properties": {
                "color": {"type": "string", "enum": ["red"]},
                "size": {"type": "integer"},
                "ratio": {"type": "number"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                "nested": {"type": "object", "properties": {"on": {"type": "boolean"}}},
            }},
        }})
    }

    fn rendered(fields: Value) -> Vec<String> {
        let fields = fields.as_array().cloned().unwrap_or_default();
        list_errors(&fields, &schema(), "spec.selectableFields", false)
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn good_paths_pass() {
        assert!(rendered(
            json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.size"},
            {"jsonPath": ".spec.nested.on"}, {"jsonPath": ".spec.labels.app"}])
        )
        .is_empty());
    }

    #[test]
    fn paths_must_resolve() {
        assert_eq!(
            rendered(json!([{"jsonPath": "spec.color"}, {"jsonPath": ".spec.missing"},
                {"jsonPath": ".spec.items[0]"}, {"jsonPath": ".spec."}, {}])),
            [
                "spec.selectableFields[0].jsonPath: Invalid value: \"spec.color\": is an invalid path: expected [ or . but got: spec",
                "spec.selectableFields[1].jsonPath: Invalid value: \".spec.missing\": is an invalid path: does not refer to a valid field",
                "spec.selectableFields[2].jsonPath: Invalid value: \".spec.items[0]\": is an invalid path: does not refer to a valid field",
                "spec.selectableFields[3].jsonPath: Invalid value: \".spec.\": is an invalid path: unexpected end of JSON path",
                "spec.selectableFields[4].jsonPath: Required value",
            ]
        );
    }

    #[test]
    fn array_notation_is_refused() {
        assert_eq!(
            rendered(json!([{"jsonPath": ".spec['color']"}])),
            ["spec.selectableFields[0].jsonPath: Invalid value: \".spec['color']\": is an invalid path: array notation is not allowed"]
        );
    }

    #[test]
    fn metadata_and_wrong_types_are_refused() {
        assert_eq!(
            rendered(json!([{"jsonPath": ".metadata.name"}, {"jsonPath": ".spec.ratio"}])),
            [
                "spec.selectableFields[0].jsonPath: Invalid value: \".metadata.name\": must not point to fields in metadata",
                "spec.selectableFields[1].jsonPath: Invalid value: \".spec.ratio\": must point to a field of type string, boolean or integer. Enum string fields and strings with formats are allowed.",
            ]
        );
    }

    #[test]
    fn duplicates_are_refused() {
        assert_eq!(
            rendered(json!([{"jsonPath": ".spec.color"}, {"jsonPath": ".spec.color"}])),
            ["spec.selectableFields[1].jsonPath: Duplicate value: \".spec.color\""]
        );
    }

    #[test]
    fn at_most_eight() {
        let fields: Vec<Value> = (0..9)
            .map(|i| json!({"jsonPath": format!(".spec.labels.k{i}")}))
            .collect();
        assert_eq!(
            rendered(json!(fields)),
            ["spec.selectableFields: Too many: 9: must have at most 8 items"]
        );
        let fields: Vec<Value> = fields.into_iter().collect();
        assert!(list_errors(&fields, &schema(), "p", true).is_empty());
    }

    #[test]
    fn map_keys_render_in_brackets() {
        let (resolved, _) = resolve(".spec.labels.app", &schema()).unwrap();
        assert_eq!(resolved.rendered, "spec.labels[app]");
        assert_eq!(resolved.root, "spec");
    }

    #[test]
    fn tokens_keep_quoted_strings_whole() {
        assert_eq!(tokens(".a['b.c']"), [".", "a", "[", "'b.c'", "]"]);
    }
}
