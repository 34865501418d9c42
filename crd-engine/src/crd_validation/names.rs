//! The CRD's own name, its group, and the resource names it asks for
//! (`spec.names`) or was granted (`status.acceptedNames`).

use apiserver::validation::{dns1035_label_errors, dns1123_subdomain_errors, FieldError};
use serde_json::{json, Value};

use super::{list, text};

/// `metadata.name` must be `<plural>.<group>`. Upstream reports this through
/// the name rule of `ValidateObjectMeta`, which it also applies to
/// `generateName`: the DNS subdomain messages come first and all land on
/// the checked field (the generic metadata check then leaves the name alone).
pub(super) fn metadata_name_errors(crd: &Value) -> Vec<FieldError> {
    let meta = |key: &str| {
        crd.pointer(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let required = format!("{}.{}", meta("/spec/names/plural"), meta("/spec/group"));
    let mut errors = Vec::new();
    for (field, value, is_prefix) in [
        (
            "metadata.generateName",
            meta("/metadata/generateName"),
            true,
        ),
        ("metadata.name", meta("/metadata/name"), false),
    ] {
        if value.is_empty() {
            continue;
        }
        let mut details = dns1123_subdomain_errors(&masked_prefix(&value, is_prefix));
        if value != required {
            details.push("must be spec.names.plural+\".\"+spec.group".to_string());
        }
        errors.extend(
            details
                .into_iter()
                .map(|detail| FieldError::invalid(field, json!(value), detail)),
        );
    }
    errors
}

/// A generateName may end in `-` (a suffix follows), so upstream checks it
/// with that dash replaced by a letter.
fn masked_prefix(value: &str, is_prefix: bool) -> String {
    match value.strip_suffix('-') {
        Some(stem) if is_prefix && value.len() > 1 => format!("{stem}a"),
        _ => value.to_string(),
    }
}

/// The group names the API (`/apis/<group>`), so it must look like a domain
/// with a dot, which keeps CRDs out of the core and single-label groups.
pub(super) fn group_errors(spec: &Value) -> Vec<FieldError> {
    let group = text(spec, "group");
    if group.is_empty() {
        return vec![FieldError::required("spec.group", "")];
    }
    let errors = dns1123_subdomain_errors(group);
    if !errors.is_empty() {
        return vec![FieldError::invalid(
            "spec.group",
            json!(group),
            errors.join(","),
        )];
    }
    if !group.contains('.') {
        return vec![FieldError::invalid(
            "spec.group",
            json!(group),
            "should be a domain with at least one dot",
        )];
    }
    Vec::new()
}

/// `spec.names`: every name the resource is served under is required here
/// (defaulting fills singular and listKind from kind), then shaped as for
/// accepted names.
pub(super) fn spec_names_errors(spec: &Value) -> Vec<FieldError> {
    let names = spec.get("names").unwrap_or(&Value::Null);
    let mut errors: Vec<FieldError> = ["plural", "singular", "kind", "listKind"]
        .into_iter()
        .filter(|key| text(names, key).is_empty())
        .map(|key| FieldError::required(format!("spec.names.{key}"), ""))
        .collect();
    errors.extend(names_errors(names, "spec.names"));
    errors
}

/// Upstream's `ValidateCustomResourceDefinitionNames`: resource names are
/// DNS-1035 labels; kinds may be mixed case but must otherwise be one.
pub(super) fn names_errors(names: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for key in ["plural", "singular"] {
        let value = text(names, key);
        if !value.is_empty() {
            errors.extend(label_error(value, &format!("{path}.{key}")));
        }
    }
    for key in ["kind", "listKind"] {
        let value = text(names, key);
        let problems = dns1035_label_errors(&value.to_lowercase());
        if !value.is_empty() && !problems.is_empty() {
            errors.push(FieldError::invalid(
                format!("{path}.{key}"),
                json!(value),
                format!(
                    "may have mixed case, but should otherwise match: {}",
                    problems.join(",")
                ),
            ));
        }
    }
    for (index, short_name) in list(names, "shortNames").iter().enumerate() {
        let value = short_name.as_str().unwrap_or("");
        errors.extend(label_error(value, &format!("{path}.shortNames[{index}]")));
    }
    let kind = text(names, "kind");
    if !kind.is_empty() && kind == text(names, "listKind") {
        errors.push(FieldError::invalid(
            format!("{path}.listKind"),
            json!(kind),
            "kind and listKind may not be the same",
        ));
    }
    for (index, category) in list(names, "categories").iter().enumerate() {
        let value = category.as_str().unwrap_or("");
        errors.extend(label_error(value, &format!("{path}.categories[{index}]")));
    }
    errors
}

/// An Invalid error when `value` is not a DNS-1035 label.
fn label_error(value: &str, field: &str) -> Option<FieldError> {
    let problems = dns1035_label_errors(value);
    (!problems.is_empty()).then(|| FieldError::invalid(field, json!(value), problems.join(",")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const LABEL: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";

    fn rendered(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn name_must_be_plural_dot_group() {
        let crd = json!({"metadata": {"name": "foo.example.com"},
            "spec": {"group": "example.com", "names": {"plural": "foos"}}});
        assert_eq!(
            rendered(&metadata_name_errors(&crd)),
            ["metadata.name: Invalid value: \"foo.example.com\": must be spec.names.plural+\".\"+spec.group"]
        );
        let crd = json!({"metadata": {"name": "foos.example.com"},
            "spec": {"group": "example.com", "names": {"plural": "foos"}}});
        assert!(metadata_name_errors(&crd).is_empty());
    }

    #[test]
    fn bad_name_reports_subdomain_rule_first() {
        let crd = json!({"metadata": {"name": "Foos.example.com"},
            "spec": {"group": "example.com", "names": {"plural": "foos"}}});
        let errors = metadata_name_errors(&crd);
        assert_eq!(errors.len(), 2);
        assert!(errors[0]
            .detail
            .starts_with("a lowercase RFC 1123 subdomain"));
        assert_eq!(
            errors[1].detail,
            "must be spec.names.plural+\".\"+spec.group"
        );
    }

    #[test]
    fn generate_name_gets_the_same_rule() {
        let crd = json!({"metadata": {"generateName": "foos-", "name": "foos.example.com"},
            "spec": {"group": "example.com", "names": {"plural": "foos"}}});
        assert_eq!(
            rendered(&metadata_name_errors(&crd)),
            ["metadata.generateName: Invalid value: \"foos-\": must be spec.names.plural+\".\"+spec.group"]
        );
    }

    #[test]
    fn group_rules() {
        assert_eq!(
            rendered(&group_errors(&json!({}))),
            ["spec.group: Required value"]
        );
        assert_eq!(
            rendered(&group_errors(&json!({"group": "example"}))),
            ["spec.group: Invalid value: \"example\": should be a domain with at least one dot"]
        );
        let errors = group_errors(&json!({"group": "Example.com"}));
        assert!(errors[0]
            .detail
            .starts_with("a lowercase RFC 1123 subdomain"));
        assert!(group_errors(&json!({"group": "example.com"})).is_empty());
    }

    #[test]
    fn spec_names_are_required() {
        assert_eq!(
            rendered(&spec_names_errors(&json!({"names": {}}))),
            [
                "spec.names.plural: Required value",
                "spec.names.singular: Required value",
                "spec.names.kind: Required value",
                "spec.names.listKind: Required value",
            ]
        );
    }

    #[test]
    fn resource_names_are_dns_1035_labels() {
        let names = json!({"plural": "Foos", "singular": "foo", "kind": "Foo", "listKind": "FooList",
            "shortNames": ["f", "1f"], "categories": ["all", "A_b"]});
        assert_eq!(
            rendered(&names_errors(&names, "spec.names")),
            [
                format!("spec.names.plural: Invalid value: \"Foos\": {LABEL}"),
                format!("spec.names.shortNames[1]: Invalid value: \"1f\": {LABEL}"),
                format!("spec.names.categories[1]: Invalid value: \"A_b\": {LABEL}"),
            ]
        );
    }

    #[test]
    fn kinds_may_be_mixed_case() {
        let names = json!({"kind": "Foo_Bar", "listKind": "FooBarList"});
        assert_eq!(
            rendered(&names_errors(&names, "spec.names")),
            [format!(
                "spec.names.kind: Invalid value: \"Foo_Bar\": may have mixed case, but should otherwise match: {LABEL}"
            )]
        );
    }

    #[test]
    fn kind_and_list_kind_differ() {
        let names = json!({"kind": "Foo", "listKind": "Foo"});
        assert_eq!(
            rendered(&names_errors(&names, "status.acceptedNames")),
            ["status.acceptedNames.listKind: Invalid value: \"Foo\": kind and listKind may not be the same"]
        );
    }

    #[test]
    fn empty_short_name_is_invalid() {
        let names = json!({"shortNames": [""]});
        assert_eq!(
            rendered(&names_errors(&names, "spec.names")),
            [format!(
                "spec.names.shortNames[0]: Invalid value: \"\": {LABEL}"
            )]
        );
    }
}
