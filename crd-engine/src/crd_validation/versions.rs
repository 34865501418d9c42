//! `spec.versions` as a set (unique names, one storage version), each version
//! on its own, where schemas are required, and `status.storedVersions`.

use apiserver::validation::{dns1035_label_errors, FieldError};
use serde_json::{json, Value};

use super::internal_form::{has_open_api_schema, InternalForm, Version};
use super::{columns, present, schema_root, selectable_fields, subresources, Rules};

/// Upstream's longest deprecation warning, in bytes.
const MAX_DEPRECATION_WARNING: usize = 256;

/// Every version needs a schema (checked against the top level first). When
/// the stored CRD already lacked one, an update only needs schemas for served
/// versions, since pruning without a schema would drop every field.
pub(super) fn schema_presence_errors(
    form: &InternalForm,
    require_schema: bool,
    preserves_unknown_fields: bool,
) -> Vec<FieldError> {
    if has_open_api_schema(form.schema) {
        return Vec::new();
    }
    let missing = |v: &&Version| !has_open_api_schema(v.schema);
    let path = |index: usize| format!("spec.versions[{index}].schema.openAPIV3Schema");
    if require_schema {
        return form
            .versions
            .iter()
            .enumerate()
            .filter(|(_, v)| missing(v))
            .map(|(index, _)| FieldError::required(path(index), ""))
            .collect();
    }
    if preserves_unknown_fields {
        return Vec::new();
    }
    form.versions
        .iter()
        .enumerate()
        .filter(|(_, v)| v.served && missing(v))
        .map(|(index, _)| {
            FieldError::required(path(index), "because otherwise all fields are pruned")
        })
        .collect()
}

/// One version: its name, then upstream's `validateCustomResourceDefinitionVersion`
/// (deprecation warning, schema root, subresources, columns, selectable fields).
pub(super) fn version_errors(
    form: &InternalForm,
    index: usize,
    version: &Version,
    rules: &Rules,
) -> Vec<FieldError> {
    let path = format!("spec.versions[{index}]");
    let mut errors = Vec::new();
    let name_problems = dns1035_label_errors(version.name);
    if !name_problems.is_empty() {
        errors.push(FieldError::invalid(
            format!("{path}.name"),
            json!(version.name),
            name_problems.join(","),
        ));
    }
    errors.extend(deprecation_warning_errors(version.raw, &path));
    errors.extend(schema_root::errors(
        version.schema,
        form.status_enabled(version),
        &format!("{path}.schema"),
    ));
    errors.extend(subresources::errors(
        version.subresources,
        &format!("{path}.subresources"),
    ));
    errors.extend(columns::errors(
        version.columns,
        &format!("{path}.additionalPrinterColumns"),
    ));
    errors.extend(selectable_fields::version_errors(version, &path, rules));
    errors
}

/// The deprecation warning is shown to clients as an HTTP warning header, so
/// it must be short, non-empty and printable.
fn deprecation_warning_errors(version: &Value, path: &str) -> Vec<FieldError> {
    let Some(warning) = present(version, "deprecationWarning") else {
        return Vec::new();
    };
    let text = warning.as_str().unwrap_or("");
    let field = format!("{path}.deprecationWarning");
    let deprecated = version
        .get("deprecated")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut details = Vec::new();
    if !deprecated {
        details.push("can only be set for deprecated versions".to_string());
    } else {
        if text.len() > MAX_DEPRECATION_WARNING {
            details.push(format!(
                "must be <= {MAX_DEPRECATION_WARNING} characters long"
            ));
        }
        if text.is_empty() {
            details.push("must not be an empty string".to_string());
        }
        if let Some((at, _)) = text.char_indices().find(|(_, c)| !is_printable(*c)) {
            details.push(format!(
                "must only contain printable UTF-8 characters; non-printable character found at index {at}"
            ));
        }
    }
    details
        .into_iter()
        .map(|detail| FieldError::invalid(field.clone(), json!(text), detail))
        .collect()
}

/// Go's `unicode.IsPrint`: letters, marks, numbers, punctuation, symbols and
/// the ASCII space. Without Unicode category tables this rejects what matters
/// in a header: controls, other spaces, line and paragraph separators, the
/// common invisible format characters and private use.
fn is_printable(c: char) -> bool {
    if c == ' ' {
        return true;
    }
    let invisible_format = matches!(c,
        '\u{ad}' | '\u{600}'..='\u{605}' | '\u{61c}' | '\u{6dd}' | '\u{70f}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
        | '\u{2066}'..='\u{206f}' | '\u{feff}' | '\u{fff9}'..='\u{fffb}');
    let private_use = matches!(c, '\u{e000}'..='\u{f8ff}' | '\u{f0000}'..='\u{10ffff}');
    !(c.is_control() || c.is_whitespace() || invisible_format || private_use)
}

/// The versions as a set: unique names and exactly one storage version. Then
/// upstream's `spec.version` check, which the v1 conversion feeds with the
/// first version's name, so a bad first name is reported twice.
pub(super) fn set_errors(form: &InternalForm) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let all = json!(form.versions.iter().map(|v| v.raw).collect::<Vec<_>>());
    let mut seen = std::collections::BTreeSet::new();
    if !form.versions.iter().all(|v| seen.insert(v.name)) {
        errors.push(FieldError::invalid(
            "spec.versions",
            all.clone(),
            "must contain unique version names",
        ));
    }
    if form.versions.iter().filter(|v| v.storage).count() != 1 {
        errors.push(FieldError::invalid(
            "spec.versions",
            all,
            "must have exactly one version marked as storage version",
        ));
    }
    let first = form.versions.first().map(|v| v.name).unwrap_or("");
    let problems = dns1035_label_errors(first);
    if !first.is_empty() && !problems.is_empty() {
        errors.push(FieldError::invalid(
            "spec.version",
            json!(first),
            problems.join(","),
        ));
    }
    errors
}

/// `status.storedVersions` lists every version objects may be stored in; a
/// version there must stay served from `spec.versions` until a storage
/// migration removes it, or stored objects could no longer be read.
pub(super) fn stored_versions_errors(crd: &Value) -> Vec<FieldError> {
    let path = "status.storedVersions";
    let stored: Vec<&str> = crd
        .pointer("/status/storedVersions")
        .and_then(Value::as_array)
        .map(|items| items.iter().map(|v| v.as_str().unwrap_or("")).collect())
        .unwrap_or_default();
    if stored.is_empty() {
        return vec![FieldError::invalid(
            path,
            json!([]),
            "must have at least one stored version",
        )];
    }
    let versions = InternalForm::of(crd).versions;
    let mut errors = Vec::new();
    for version in versions.iter().filter(|v| v.storage) {
        if !stored.contains(&version.name) {
            errors.push(FieldError::invalid(
                path,
                json!(stored),
                format!("must have the storage version {}", version.name),
            ));
        }
    }
    // Upstream keeps the last index of a repeated name.
    let mut missing: Vec<(usize, &str)> = Vec::new();
    for (index, name) in stored.iter().enumerate() {
        if versions.iter().any(|v| v.name == *name) {
            continue;
        }
        missing.retain(|(_, seen)| seen != name);
        missing.push((index, name));
    }
    missing.sort_by_key(|(index, _)| *index);
    errors.extend(missing.into_iter().map(|(index, name)| {
        FieldError::invalid(
            format!("{path}[{index}]"),
            json!(name),
            format!(
                "missing from spec.versions; {name} was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in {name} and removes {name} from status.storedVersions"
            ),
        )
    }));
    errors
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rendered(errors: &[FieldError]) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    fn form_of(versions: Value) -> Value {
        json!({"spec": {"versions": versions}})
    }

    #[test]
    fn every_version_needs_a_schema_on_create() {
        let crd = form_of(json!([{"name": "v1", "served": true}, {"name": "v2", "served": false}]));
        let form = InternalForm::of(&crd);
        assert_eq!(
            rendered(&schema_presence_errors(&form, true, false)),
            [
                "spec.versions[0].schema.openAPIV3Schema: Required value",
                "spec.versions[1].schema.openAPIV3Schema: Required value",
            ]
        );
    }

    #[test]
    fn loosened_update_needs_schemas_for_served_versions_only() {
        let crd = form_of(json!([{"name": "v1", "served": true}, {"name": "v2", "served": false}]));
        let form = InternalForm::of(&crd);
        assert_eq!(
            rendered(&schema_presence_errors(&form, false, false)),
            ["spec.versions[0].schema.openAPIV3Schema: Required value: because otherwise all fields are pruned"]
        );
        assert!(schema_presence_errors(&form, false, true).is_empty());
    }

    #[test]
    fn a_shared_schema_satisfies_every_version() {
        let schema = json!({"openAPIV3Schema": {"type": "object"}});
        let crd =
            form_of(json!([{"name": "v1", "schema": schema}, {"name": "v2", "schema": schema}]));
        assert!(schema_presence_errors(&InternalForm::of(&crd), true, false).is_empty());
    }

    #[test]
    fn exactly_one_storage_version() {
        let crd =
            form_of(json!([{"name": "v1", "storage": true}, {"name": "v2", "storage": true}]));
        let errors = set_errors(&InternalForm::of(&crd));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "spec.versions");
        assert_eq!(
            errors[0].detail,
            "must have exactly one version marked as storage version"
        );
        let crd = form_of(json!([]));
        let errors = set_errors(&InternalForm::of(&crd));
        assert_eq!(
            errors[0].detail,
            "must have exactly one version marked as storage version"
        );
    }

    #[test]
    fn version_names_are_unique() {
        let crd = form_of(json!([{"name": "v1", "storage": true}, {"name": "v1"}]));
        let errors = set_errors(&InternalForm::of(&crd));
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].detail, "must contain unique version names");
    }

    #[test]
    fn bad_first_version_name_is_reported_as_spec_version_too() {
        let crd = form_of(json!([{"name": "V1", "storage": true}]));
        let form = InternalForm::of(&crd);
        let own = version_errors(
            &form,
            0,
            &form.versions[0],
            &super::super::Rules::for_create(),
        );
        assert_eq!(own[0].field, "spec.versions[0].name");
        assert!(own[0].detail.starts_with("a DNS-1035 label"));
        let set = set_errors(&form);
        assert_eq!(set[0].field, "spec.version");
        assert_eq!(set[0].value, Some(json!("V1")));
    }

    #[test]
    fn deprecation_warning_rules() {
        let plain = json!({"deprecationWarning": "old"});
        assert_eq!(
            rendered(&deprecation_warning_errors(&plain, "spec.versions[0]")),
            ["spec.versions[0].deprecationWarning: Invalid value: \"old\": can only be set for deprecated versions"]
        );
        let empty = json!({"deprecated": true, "deprecationWarning": ""});
        assert_eq!(
            rendered(&deprecation_warning_errors(&empty, "spec.versions[0]")),
            ["spec.versions[0].deprecationWarning: Invalid value: \"\": must not be an empty string"]
        );
        let long = json!({"deprecated": true, "deprecationWarning": "x".repeat(257)});
        assert_eq!(
            deprecation_warning_errors(&long, "p")[0].detail,
            "must be <= 256 characters long"
        );
        let control = json!({"deprecated": true, "deprecationWarning": "ab\ncd"});
        assert_eq!(
            deprecation_warning_errors(&control, "p")[0].detail,
            "must only contain printable UTF-8 characters; non-printable character found at index 2"
        );
        let fine = json!({"deprecated": true, "deprecationWarning": "use v2, ça va"});
        assert!(deprecation_warning_errors(&fine, "p").is_empty());
    }

    #[test]
    fn stored_versions_must_exist() {
        let crd = json!({"spec": {"versions": [{"name": "v1", "storage": true}]}});
        assert_eq!(
            rendered(&stored_versions_errors(&crd)),
            ["status.storedVersions: Invalid value: []: must have at least one stored version"]
        );
    }

    #[test]
    fn stored_versions_must_stay_in_spec() {
        let crd = json!({"spec": {"versions": [{"name": "v2", "storage": true}]},
            "status": {"storedVersions": ["v1", "v2"]}});
        assert_eq!(
            rendered(&stored_versions_errors(&crd)),
            ["status.storedVersions[0]: Invalid value: \"v1\": missing from spec.versions; v1 was previously a storage version, and must remain in spec.versions until a storage migration ensures no data remains persisted in v1 and removes v1 from status.storedVersions"]
        );
    }

    #[test]
    fn stored_versions_hold_the_storage_version() {
        let crd = json!({"spec": {"versions": [{"name": "v1"}, {"name": "v2", "storage": true}]},
            "status": {"storedVersions": ["v1"]}});
        assert_eq!(
            rendered(&stored_versions_errors(&crd)),
            ["status.storedVersions: Invalid value: []string{\"v1\"}: must have the storage version v2"]
        );
    }
}
