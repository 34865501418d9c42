//! Upstream's rules for an APIService, in its words.

use apiserver::object;
use apiserver::validation::{dns1035_label_errors, dns1123_subdomain_errors, FieldError};
use serde_json::{json, Value};

pub fn errors(api_service: &Value) -> Vec<FieldError> {
    let text = |pointer: &str| {
        api_service
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    let number = |pointer: &str| {
        api_service
            .pointer(pointer)
            .and_then(Value::as_i64)
            .unwrap_or(0)
    };
    let (group, version) = (text("/spec/group"), text("/spec/version"));
    let mut errors = Vec::new();

    let required_name = format!("{version}.{group}");
    let name = object::name(api_service);
    if name != required_name {
        errors.push(FieldError::invalid(
            "metadata.name",
            json!(name),
            format!("must be `spec.version+\".\"+spec.group`: {required_name:?}"),
        ));
    }
    if group.is_empty() && version != "v1" {
        errors.push(FieldError::required(
            "spec.group",
            "only v1 may have an empty group and it better be legacy kube",
        ));
    }
    if !group.is_empty() {
        for message in dns1123_subdomain_errors(group) {
            errors.push(FieldError::invalid("spec.group", json!(group), message));
        }
    }
    for message in dns1035_label_errors(version) {
        errors.push(FieldError::invalid("spec.version", json!(version), message));
    }
    let group_priority = number("/spec/groupPriorityMinimum");
    if !(1..=20000).contains(&group_priority) {
        errors.push(FieldError::invalid(
            "spec.groupPriorityMinimum",
            json!(group_priority),
            "must be positive and less than 20000",
        ));
    }
    let version_priority = number("/spec/versionPriority");
    if !(1..=1000).contains(&version_priority) {
        errors.push(FieldError::invalid(
            "spec.versionPriority",
            json!(version_priority),
            "must be positive and less than 1000",
        ));
    }

    let ca_bundle = text("/spec/caBundle");
    let insecure = api_service
        .pointer("/spec/insecureSkipTLSVerify")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let Some(service) = api_service
        .pointer("/spec/service")
        .filter(|s| s.is_object())
    else {
        if !ca_bundle.is_empty() {
            errors.push(FieldError::invalid(
                "spec.caBundle",
                json!(format!("{} bytes", decoded_len(ca_bundle))),
                "local APIServices may not have a caBundle",
            ));
        }
        if insecure {
            errors.push(FieldError::invalid(
                "spec.insecureSkipTLSVerify",
                json!(true),
                "local APIServices may not have insecureSkipTLSVerify",
            ));
        }
        return errors;
    };
    for field in ["namespace", "name"] {
        if service
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .is_empty()
        {
            errors.push(FieldError::required(format!("spec.service.{field}"), ""));
        }
    }
    let port = service.get("port").and_then(Value::as_i64).unwrap_or(443);
    if !(1..=65535).contains(&port) {
        errors.push(FieldError::invalid(
            "spec.service.port",
            json!(port),
            "port is not valid: must be between 1 and 65535, inclusive",
        ));
    }
    if insecure && !ca_bundle.is_empty() {
        errors.push(FieldError::invalid(
            "spec.insecureSkipTLSVerify",
            json!(true),
            "may not be true if caBundle is present",
        ));
    }
    errors
}

fn decoded_len(base64_text: &str) -> usize {
    base64_text.trim_end_matches('=').len() * 3 / 4
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(api_service: Value) -> Vec<String> {
        errors(&api_service).iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn a_remote_api_service_passes() {
        let ok = json!({
            "metadata": {"name": "v1alpha1.wardle.example.com"},
            "spec": {"group": "wardle.example.com", "version": "v1alpha1",
                     "groupPriorityMinimum": 1000, "versionPriority": 15,
                     "service": {"namespace": "wardle", "name": "api", "port": 443},
                     "insecureSkipTLSVerify": true}
        });
        assert!(messages(ok).is_empty());
    }

    #[test]
    fn upstream_rules_and_words() {
        let bad = json!({
            "metadata": {"name": "wrong"},
            "spec": {"group": "", "version": "v2", "groupPriorityMinimum": 0,
                     "versionPriority": 2000, "caBundle": "AAAA"}
        });
        assert_eq!(
            messages(bad),
            [
                "metadata.name: Invalid value: \"wrong\": must be `spec.version+\".\"+spec.group`: \"v2.\"",
                "spec.group: Required value: only v1 may have an empty group and it better be legacy kube",
                "spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000",
                "spec.versionPriority: Invalid value: 2000: must be positive and less than 1000",
                "spec.caBundle: Invalid value: \"3 bytes\": local APIServices may not have a caBundle",
            ]
        );
    }
}
