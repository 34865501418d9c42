//! The status and scale subresources. Status has no settings; scale names
//! where the replica counts and selector live, as simple JSON paths under
//! `.spec` or `.status` (upstream does not check them against the schema: a
//! path the object lacks reads as zero or empty at request time).

use apiserver::validation::FieldError;
use serde_json::{json, Value};

use super::{present, text};

/// Errors for the subresources object at `path` (`spec.subresources` or
/// `spec.versions[i].subresources`).
pub(super) fn errors(subresources: Option<&Value>, path: &str) -> Vec<FieldError> {
    let Some(scale) = subresources.and_then(|s| present(s, "scale")) else {
        return Vec::new();
    };
    let mut errors = Vec::new();
    let spec_path = format!("{path}.scale.specReplicasPath");
    errors.extend(required_path_errors(
        text(scale, "specReplicasPath"),
        &spec_path,
        &[".spec."],
        "should be a json path under .spec",
    ));
    let status_path = format!("{path}.scale.statusReplicasPath");
    errors.extend(required_path_errors(
        text(scale, "statusReplicasPath"),
        &status_path,
        &[".status."],
        "should be a json path under .status",
    ));
    let selector = text(scale, "labelSelectorPath");
    if !selector.is_empty() {
        let field = format!("{path}.scale.labelSelectorPath");
        let mut found = simple_json_path_errors(selector, &field);
        if found.is_empty() && !under_any(selector, &[".spec.", ".status."]) {
            found.push(FieldError::invalid(
                field,
                json!(selector),
                "should be a json path under either .spec or .status",
            ));
        }
        errors.extend(found);
    }
    errors
}

fn required_path_errors(value: &str, field: &str, roots: &[&str], detail: &str) -> Vec<FieldError> {
    if value.is_empty() {
        return vec![FieldError::required(field, "")];
    }
    let errors = simple_json_path_errors(value, field);
    if !errors.is_empty() {
        return errors;
    }
    if !under_any(value, roots) {
        return vec![FieldError::invalid(field, json!(value), detail)];
    }
    Vec::new()
}

fn under_any(path: &str, roots: &[&str]) -> bool {
    roots.iter().any(|root| path.starts_with(root))
}

/// Upstream's `validateSimpleJSONPath`: a path in dot notation starting at
/// the object root. (Its third case, a path that splits into no segments,
/// cannot happen.)
pub(super) fn simple_json_path_errors(path: &str, field: &str) -> Vec<FieldError> {
    if path.is_empty() {
        return vec![FieldError::invalid(field, json!(path), "must not be empty")];
    }
    if !path.starts_with('.') {
        return vec![FieldError::invalid(
            field,
            json!(path),
            "must be a simple json path starting with .",
        )];
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(subresources: Value) -> Vec<String> {
        errors(Some(&subresources), "spec.subresources")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn status_alone_is_fine() {
        assert!(rendered(json!({"status": {}})).is_empty());
    }

    #[test]
    fn scale_paths_are_required() {
        assert_eq!(
            rendered(json!({"scale": {}})),
            [
                "spec.subresources.scale.specReplicasPath: Required value",
                "spec.subresources.scale.statusReplicasPath: Required value",
            ]
        );
    }

    #[test]
    fn scale_paths_are_rooted() {
        assert_eq!(
            rendered(json!({"scale": {"specReplicasPath": "spec.replicas",
                "statusReplicasPath": ".spec.replicas", "labelSelectorPath": ".metadata.labels"}})),
            [
                "spec.subresources.scale.specReplicasPath: Invalid value: \"spec.replicas\": must be a simple json path starting with .",
                "spec.subresources.scale.statusReplicasPath: Invalid value: \".spec.replicas\": should be a json path under .status",
                "spec.subresources.scale.labelSelectorPath: Invalid value: \".metadata.labels\": should be a json path under either .spec or .status",
            ]
        );
    }

    #[test]
    fn good_scale_paths_pass() {
        assert!(
            rendered(json!({"scale": {"specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas", "labelSelectorPath": ".status.selector"}}))
            .is_empty()
        );
    }
}
