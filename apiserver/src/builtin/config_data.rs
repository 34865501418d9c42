//! core/v1 ConfigMaps and Secrets: key/value data with upstream's key rules,
//! a 1 MiB size limit, and `immutable: true` freezing the data.

use crate::resource::SelectableField;
use base64::Engine;
use serde_json::{json, Value};

use super::str_at;
use crate::resource::{age_cell, Column, Strategy, AGE_COLUMN};
use crate::validation::FieldError;

/// Upstream's `MaxSecretSize`, also the ConfigMap limit.
const MAX_DATA_BYTES: usize = 1024 * 1024;

const KEY_MAX: usize = 253;

/// Upstream's `IsConfigMapKey`: the messages name the rule.
fn config_key_errors(key: &str) -> Vec<String> {
    let mut errors = Vec::new();
    if key.len() > KEY_MAX {
        errors.push(format!("must be no more than {KEY_MAX} characters"));
    }
    let valid = !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !valid {
        errors.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string());
    }
    if key == "." {
        errors.push("must not be '.'".to_string());
    } else if key == ".." {
        errors.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errors.push("must not start with '..'".to_string());
    }
    errors
}

fn key_errors(field: &str, key: &str) -> Vec<FieldError> {
    config_key_errors(key)
        .into_iter()
        .map(|message| FieldError::invalid(format!("{field}[{key}]"), json!(key), message))
        .collect()
}

fn entries<'a>(object: &'a Value, field: &str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    object
        .get(field)
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
}

fn is_immutable(object: &Value) -> bool {
    object.get("immutable").and_then(Value::as_bool) == Some(true)
}

/// Upstream's rule for `immutable: true` objects: the flag cannot be
/// cleared and the listed data fields cannot change.
fn immutability_errors(object: &Value, old: &Value, fields: &[&str]) -> Vec<FieldError> {
    if !is_immutable(old) {
        return Vec::new();
    }
    const DETAIL: &str = "field is immutable when `immutable` is set";
    let mut errors = Vec::new();
    if !is_immutable(object) {
        errors.push(FieldError::forbidden("immutable", DETAIL));
    }
    for field in fields {
        if !super::same(object.get(*field), old.get(*field)) {
            errors.push(FieldError::forbidden(*field, DETAIL));
        }
    }
    errors
}

/// core/v1 ConfigMaps.
pub struct ConfigMapStrategy;

impl Strategy for ConfigMapStrategy {
    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut size = 0;
        for (key, value) in entries(object, "data") {
            errors.extend(key_errors("data", key));
            size += value.as_str().map_or(0, str::len);
        }
        for (key, value) in entries(object, "binaryData") {
            errors.extend(key_errors("binaryData", key));
            if object.pointer(&format!("/data/{}", escape(key))).is_some() {
                errors.push(FieldError::invalid(
                    format!("data[{key}]"),
                    json!(key),
                    "duplicate of key present in binaryData",
                ));
            }
            size += decoded_len(value.as_str().unwrap_or_default());
        }
        if size > MAX_DATA_BYTES {
            errors.push(FieldError::too_long("", MAX_DATA_BYTES));
        }
        errors
    }

    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = self.validate(object);
        errors.extend(immutability_errors(object, old, &["data", "binaryData"]));
        errors
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Data", "string", "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'. Values with non-UTF-8 byte sequences must use the BinaryData field. The keys stored in Data must not overlap with the keys in the BinaryData field, this is enforced during validation process."),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        let count = entries(object, "data").count() + entries(object, "binaryData").count();
        vec![json!(count), age_cell(object)]
    }
}

/// A map key as a JSON pointer segment.
fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}

/// The decoded size of a base64 string, without decoding it.
fn decoded_len(encoded: &str) -> usize {
    let padding = encoded.bytes().rev().take_while(|b| *b == b'=').count();
    (encoded.len() / 4 * 3).saturating_sub(padding)
}

/// What each well-known Secret type requires (upstream `ValidateSecret`).
fn type_errors(object: &Value) -> Vec<FieldError> {
    let has = |key: &str| object.pointer(&format!("/data/{}", escape(key))).is_some();
    let required = |key: &str| FieldError::required(format!("data[{key}]"), "");
    match str_at(object, "/type") {
        "kubernetes.io/service-account-token" => {
            let name = str_at(
                object,
                "/metadata/annotations/kubernetes.io~1service-account.name",
            );
            if name.is_empty() {
                vec![FieldError::required(
                    "metadata.annotations[kubernetes.io/service-account.name]",
                    "",
                )]
            } else {
                Vec::new()
            }
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => vec![required(".dockercfg")],
        "kubernetes.io/dockerconfigjson" if !has(".dockerconfigjson") => {
            vec![required(".dockerconfigjson")]
        }
        "kubernetes.io/basic-auth" if !has("username") && !has("password") => {
            vec![required("username"), required("password")]
        }
        "kubernetes.io/ssh-auth" if !has("ssh-privatekey") => vec![required("ssh-privatekey")],
        "kubernetes.io/tls" => ["tls.crt", "tls.key"]
            .into_iter()
            .filter(|k| !has(k))
            .map(required)
            .collect(),
        _ => Vec::new(),
    }
}

/// core/v1 Secrets. `stringData` is folded into `data` on every write, as
/// upstream's conversion does, so it is never stored.
pub struct SecretStrategy;

impl SecretStrategy {
    fn fold_string_data(object: &mut Value) {
        let Some(map) = object.as_object_mut() else {
            return;
        };
        let Some(Value::Object(strings)) = map.remove("stringData") else {
            return;
        };
        let Some(data) = super::child_object(object, "data") else {
            return;
        };
        for (key, value) in strings {
            let text = value.as_str().unwrap_or_default();
            let encoded = base64::engine::general_purpose::STANDARD.encode(text);
            data.insert(key, json!(encoded));
        }
    }
}

impl Strategy for SecretStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        Self::fold_string_data(object);
        if let Some(map) = object.as_object_mut() {
            super::default_field(map, "type", json!("Opaque"));
        }
    }

    fn prepare_for_update(&self, object: &mut Value, _old: &Value) {
        self.prepare_for_create(object);
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let mut size = 0;
        for (key, value) in entries(object, "data") {
            errors.extend(key_errors("data", key));
            let text = value.as_str().unwrap_or_default();
            match base64::engine::general_purpose::STANDARD.decode(text) {
                Ok(bytes) => size += bytes.len(),
                Err(e) => errors.push(FieldError::invalid(
                    format!("data[{key}]"),
                    json!("<secret contents redacted>"),
                    format!("illegal base64 data: {e}"),
                )),
            }
        }
        if size > MAX_DATA_BYTES {
            errors.push(FieldError::too_long("data", MAX_DATA_BYTES));
        }
        errors.extend(type_errors(object));
        errors
    }

    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = self.validate(object);
        let (new_type, old_type) = (str_at(object, "/type"), str_at(old, "/type"));
        if new_type != old_type {
            errors.push(FieldError::invalid(
                "type",
                json!(new_type),
                "field is immutable",
            ));
        }
        errors.extend(immutability_errors(object, old, &["data"]));
        errors
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Type", "string", "Used to facilitate programmatic handling of secret data. More info: https://kubernetes.io/docs/concepts/configuration/secret/#secret-types"),
            Column::new("Data", "string", "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'. The serialized form of the secret data is a base64 encoded string, representing the arbitrary (possibly non-string) data value here. Described in https://tools.ietf.org/html/rfc4648#section-4"),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![
            json!(str_at(object, "/type")),
            json!(entries(object, "data").count()),
            age_cell(object),
        ]
    }

    fn selectable_fields(&self, object: &Value) -> Vec<SelectableField> {
        vec![("type".into(), str_at(object, "/type").to_string())]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn config_keys_follow_upstream_rules() {
        let cm = json!({"data": {"good.key_1": "v", "bad key": "v", "..x": "v"}});
        let found = messages(ConfigMapStrategy.validate(&cm));
        assert_eq!(found.len(), 2);
        assert!(found.iter().any(|m| m.starts_with("data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters")));
        assert!(found
            .contains(&"data[..x]: Invalid value: \"..x\": must not start with '..'".to_string()));
    }

    #[test]
    fn configmaps_over_one_mebibyte_are_refused() {
        let big = "x".repeat(MAX_DATA_BYTES + 1);
        let found = messages(ConfigMapStrategy.validate(&json!({"data": {"k": big}})));
        assert_eq!(found, vec![": Too long: must have at most 1048576 bytes"]);
    }

    #[test]
    fn immutable_configmaps_refuse_data_changes() {
        let old = json!({"immutable": true, "data": {"k": "1"}});
        let new = json!({"immutable": true, "data": {"k": "2"}});
        let found = messages(ConfigMapStrategy.validate_update(&new, &old));
        assert_eq!(
            found,
            vec!["data: Forbidden: field is immutable when `immutable` is set"]
        );
        let same =
            json!({"immutable": true, "data": {"k": "1"}, "metadata": {"labels": {"a": "b"}}});
        assert!(ConfigMapStrategy.validate_update(&same, &old).is_empty());
    }

    #[test]
    fn secrets_default_their_type_and_fold_string_data() {
        let mut secret = json!({"stringData": {"user": "admin"}, "data": {"a": "YQ=="}});
        SecretStrategy.prepare_for_create(&mut secret);
        assert_eq!(secret["type"], "Opaque");
        assert_eq!(secret["data"]["user"], "YWRtaW4=");
        assert!(secret.get("stringData").is_none());
        assert!(SecretStrategy.validate(&secret).is_empty());
    }

    #[test]
    fn secret_data_must_be_base64_and_type_is_immutable() {
        let bad = json!({"type": "Opaque", "data": {"k": "not base64!"}});
        assert!(messages(SecretStrategy.validate(&bad))[0].starts_with("data[k]: Invalid value"));
        let old = json!({"type": "Opaque"});
        let new = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": "", "tls.key": ""}});
        assert_eq!(
            messages(SecretStrategy.validate_update(&new, &old)),
            vec!["type: Invalid value: \"kubernetes.io/tls\": field is immutable"]
        );
    }

    #[test]
    fn typed_secrets_need_their_keys() {
        let tls = json!({"type": "kubernetes.io/tls", "data": {"tls.crt": ""}});
        assert_eq!(
            messages(SecretStrategy.validate(&tls)),
            vec!["data[tls.key]: Required value"]
        );
    }

    #[test]
    fn tables_count_data_entries() {
        let cm = json!({"data": {"a": "1"}, "binaryData": {"b": "AA=="}});
        assert_eq!(ConfigMapStrategy.cells(&cm)[0], json!(2));
        let secret = json!({"type": "Opaque", "data": {"a": "YQ=="}});
        assert_eq!(
            SecretStrategy.cells(&secret)[..2],
            [json!("Opaque"), json!(1)]
        );
        assert_eq!(
            SecretStrategy.selectable_fields(&secret),
            vec![("type".into(), "Opaque".to_string())]
        );
    }
}
