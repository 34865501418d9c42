//! Field errors: what a strategy reports when an object is invalid, in
//! upstream's words (`field.ErrorType`), so the 422 `Status` carries the same
//! `details.causes` a Kubernetes client expects.

use serde_json::Value;

/// The kind of a field error; each renders as upstream's cause type and
/// message prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldErrorKind {
    Required,
    Invalid,
    NotSupported,
    Duplicate,
    Forbidden,
    TooLong,
    TooMany,
    TypeInvalid,
}

impl FieldErrorKind {
    /// The `details.causes[].reason` upstream sends.
    pub fn cause_type(self) -> &'static str {
        match self {
            FieldErrorKind::Required => "FieldValueRequired",
            FieldErrorKind::Invalid => "FieldValueInvalid",
            FieldErrorKind::NotSupported => "FieldValueNotSupported",
            FieldErrorKind::Duplicate => "FieldValueDuplicate",
            FieldErrorKind::Forbidden => "FieldValueForbidden",
            FieldErrorKind::TooLong => "FieldValueTooLong",
            FieldErrorKind::TooMany => "FieldValueTooMany",
            FieldErrorKind::TypeInvalid => "FieldValueTypeInvalid",
        }
    }
}

/// One problem with one field of an object.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub kind: FieldErrorKind,
    /// The field path, e.g. `spec.template.metadata.labels`.
    pub field: String,
    /// The offending value, shown for Invalid, NotSupported, Duplicate, TypeInvalid.
    pub value: Option<Value>,
    /// The explanation after the value.
    pub detail: String,
}

impl FieldError {
    pub fn required(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Required, field, None, detail)
    }

    pub fn invalid(field: impl Into<String>, value: Value, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Invalid, field, Some(value), detail)
    }

    pub fn forbidden(field: impl Into<String>, detail: impl Into<String>) -> Self {
        Self::new(FieldErrorKind::Forbidden, field, None, detail)
    }

    pub fn duplicate(field: impl Into<String>, value: Value) -> Self {
        Self::new(FieldErrorKind::Duplicate, field, Some(value), "")
    }

    pub fn too_long(field: impl Into<String>, max: usize) -> Self {
        Self::new(
            FieldErrorKind::TooLong,
            field,
            None,
            format!("must have at most {max} bytes"),
        )
    }

    /// A value outside a fixed set; the detail lists the supported values
    /// as upstream does.
    pub fn not_supported(field: impl Into<String>, value: Value, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("\"{s}\""))
            .collect::<Vec<_>>()
            .join(", ");
        Self::new(
            FieldErrorKind::NotSupported,
            field,
            Some(value),
            format!("supported values: {list}"),
        )
    }

    pub fn new(
        kind: FieldErrorKind,
        field: impl Into<String>,
        value: Option<Value>,
        detail: impl Into<String>,
    ) -> Self {
        FieldError {
            kind,
            field: field.into(),
            value,
            detail: detail.into(),
        }
    }

    /// The message without the field path, as in `details.causes[].message`.
    pub fn message(&self) -> String {
        let shown = self.value.as_ref().map(render_value);
        let head = match self.kind {
            FieldErrorKind::Required => "Required value".to_string(),
            FieldErrorKind::Forbidden => "Forbidden".to_string(),
            FieldErrorKind::TooLong => "Too long".to_string(),
            FieldErrorKind::TooMany => match shown {
                Some(count) => format!("Too many: {count}"),
                None => "Too many".to_string(),
            },
            FieldErrorKind::Invalid => format!("Invalid value: {}", shown.unwrap_or_default()),
            FieldErrorKind::NotSupported => {
                format!("Unsupported value: {}", shown.unwrap_or_default())
            }
            FieldErrorKind::Duplicate => format!("Duplicate value: {}", shown.unwrap_or_default()),
            FieldErrorKind::TypeInvalid => {
                format!("Invalid value: {}", shown.unwrap_or_default())
            }
        };
        if self.detail.is_empty() {
            head
        } else {
            format!("{head}: {}", self.detail)
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.message())
    }
}

/// Values are shown as upstream's `%#v` does for the common types: strings
/// quoted, numbers and booleans bare, string maps and string lists as Go
/// literals (`map[string]string{"app":"x"}`, `[]string{"a", "b"}`), anything
/// else as JSON.
fn render_value(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{s:?}"),
        Value::Null => "null".to_string(),
        Value::Object(map) if map.values().all(Value::is_string) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.cmp(b.0));
            let body = entries
                .iter()
                .map(|(k, v)| format!("{k:?}:{}", render_value(v)))
                .collect::<Vec<_>>()
                .join(", ");
            format!("map[string]string{{{body}}}")
        }
        Value::Array(items) if !items.is_empty() && items.iter().all(Value::is_string) => {
            let body = items
                .iter()
                .map(render_value)
                .collect::<Vec<_>>()
                .join(", ");
            format!("[]string{{{body}}}")
        }
        other => other.to_string(),
    }
}

const DNS1123_LABEL_MAX: usize = 63;
const DNS1123_SUBDOMAIN_MAX: usize = 253;

fn is_label_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

/// Upstream's `IsDNS1123Label`: the messages name the rule.
pub fn dns1123_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errors.push(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    let valid = !value.is_empty()
        && value.chars().all(is_label_char)
        && !value.starts_with('-')
        && !value.ends_with('-');
    if !valid {
        errors.push("a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')".to_string());
    }
    errors
}

/// Upstream's `IsDNS1123Subdomain`.
pub fn dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_SUBDOMAIN_MAX {
        errors.push(format!(
            "must be no more than {DNS1123_SUBDOMAIN_MAX} characters"
        ));
    }
    let valid = !value.is_empty()
        && value.split('.').all(|part| {
            !part.is_empty()
                && part.chars().all(is_label_char)
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if !valid {
        errors.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_string());
    }
    errors
}

/// Upstream's `IsDNS1035Label` (Service names).
pub fn dns1035_label_errors(value: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if value.len() > DNS1123_LABEL_MAX {
        errors.push(format!(
            "must be no more than {DNS1123_LABEL_MAX} characters"
        ));
    }
    let valid = value.chars().next().is_some_and(|c| c.is_ascii_lowercase())
        && value.chars().all(is_label_char)
        && !value.ends_with('-');
    if !valid {
        errors.push("a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')".to_string());
    }
    errors
}

/// Metadata rules every kind shares: name, labels, annotations; the name
/// must be a DNS subdomain.
pub fn object_meta_errors(
    namespaced: bool,
    object: &Value,
    strategy_errors: &[FieldError],
) -> Vec<FieldError> {
    meta_errors(
        namespaced,
        &dns1123_subdomain_errors,
        object,
        strategy_errors,
    )
}

/// The same for an object of `descriptor`'s kind, named by its rules.
pub fn descriptor_meta_errors(
    descriptor: &crate::resource::ResourceDescriptor,
    object: &Value,
    strategy_errors: &[FieldError],
) -> Vec<FieldError> {
    let name_errors = |name: &str| descriptor.strategy.name_errors(name);
    meta_errors(descriptor.namespaced, &name_errors, object, strategy_errors)
}

fn meta_errors(
    namespaced: bool,
    name_errors: &dyn Fn(&str) -> Vec<String>,
    object: &Value,
    strategy_errors: &[FieldError],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = crate::object::name(object);
    let names_checked = strategy_errors.iter().any(|e| e.field == "metadata.name");
    if name.is_empty() {
        errors.push(FieldError::required(
            "metadata.name",
            "name or generateName is required",
        ));
    } else if !names_checked {
        for detail in name_errors(name) {
            errors.push(FieldError::invalid(
                "metadata.name",
                serde_json::json!(name),
                detail,
            ));
        }
    }
    if namespaced && crate::object::namespace(object).is_empty() {
        errors.push(FieldError::required("metadata.namespace", ""));
    }
    for (key, value) in crate::object::labels(object) {
        for detail in label_key_errors(&key) {
            errors.push(FieldError::invalid(
                "metadata.labels",
                serde_json::json!(key),
                detail,
            ));
        }
        for detail in label_value_errors(&value) {
            errors.push(FieldError::invalid(
                "metadata.labels",
                serde_json::json!(value),
                detail,
            ));
        }
    }
    let annotations = crate::object::string_map(object.pointer("/metadata/annotations"));
    let size: usize = annotations.iter().map(|(k, v)| k.len() + v.len()).sum();
    if size > 256 * 1024 {
        errors.push(FieldError::too_long("metadata.annotations", 256 * 1024));
    }
    errors
}

/// Names that only have to fit in a URL path segment (upstream's
/// `IsValidPathSegmentName`).
pub fn path_segment_name_errors(name: &str) -> Vec<String> {
    if name == "." || name == ".." {
        return vec![format!("may not be '{name}'")];
    }
    ["/", "%"]
        .iter()
        .filter(|c| name.contains(*c))
        .map(|c| format!("may not contain '{c}'"))
        .collect()
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

fn qualified_name_errors(name: &str) -> Vec<String> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.chars().all(is_name_char)
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric());
    if ok {
        Vec::new()
    } else {
        vec!["name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".into()]
    }
}

fn label_key_errors(key: &str) -> Vec<String> {
    match key.split_once('/') {
        Some((prefix, name)) => {
            let mut errors: Vec<String> = dns1123_subdomain_errors(prefix)
                .into_iter()
                .map(|e| format!("prefix part {e}"))
                .collect();
            errors.extend(qualified_name_errors(name));
            errors
        }
        None => qualified_name_errors(key),
    }
}

fn label_value_errors(value: &str) -> Vec<String> {
    if value.is_empty() {
        return Vec::new();
    }
    let mut errors = Vec::new();
    if value.len() > 63 {
        errors.push("must be no more than 63 characters".into());
    }
    if !(value.chars().all(is_name_char)
        && value
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && value
            .chars()
            .last()
            .is_some_and(|c| c.is_ascii_alphanumeric()))
    {
        errors.push("a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')".into());
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn invalid_message_quotes_strings() {
        let e = FieldError::invalid("metadata.name", json!("Bad"), "must be lowercase");
        assert_eq!(
            e.to_string(),
            "metadata.name: Invalid value: \"Bad\": must be lowercase"
        );
    }

    #[test]
    fn string_maps_and_lists_render_as_go_literals() {
        let e = FieldError::invalid("labels", json!({"b": "2", "a": "1"}), "bad");
        assert_eq!(
            e.message(),
            "Invalid value: map[string]string{\"a\":\"1\", \"b\":\"2\"}: bad"
        );
        let e = FieldError::invalid("ips", json!(["10.0.0.1"]), "bad");
        assert_eq!(e.message(), "Invalid value: []string{\"10.0.0.1\"}: bad");
    }

    #[test]
    fn subdomain_rules() {
        assert!(dns1123_subdomain_errors("a.b-c").is_empty());
        assert!(!dns1123_subdomain_errors("A").is_empty());
        assert!(!dns1123_subdomain_errors("a..b").is_empty());
        assert!(!dns1123_subdomain_errors("-a").is_empty());
    }

    #[test]
    fn label_rules() {
        assert!(dns1123_label_errors("abc-1").is_empty());
        assert!(!dns1123_label_errors("a.b").is_empty());
        assert!(!dns1035_label_errors("1abc").is_empty());
    }
}
