//! What upstream fills in before validating a CRD: v1 defaulting (run on
//! every decode) and the strategy's create and update preparation.

use serde_json::{json, Map, Value};

use super::internal_form::InternalForm;

/// Upstream's v1 defaulting (`SetObjectDefaults_CustomResourceDefinition`):
/// `names.singular` is the lowercased kind, `names.listKind` is kind +
/// "List", `conversion` is `{strategy: None}` (an empty strategy too), a
/// webhook service's port is 443, and `status.storedVersions` starts with
/// the storage version.
pub fn apply_defaults(crd: &mut Value) {
    let storage = storage_version(crd);
    let Some(spec) = crd.get_mut("spec").and_then(Value::as_object_mut) else {
        return;
    };
    default_names(spec);
    default_conversion(spec);
    let Some(storage) = storage else {
        return;
    };
    let Some(object) = crd.as_object_mut() else {
        return;
    };
    let status = object.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let stored = status
        .get("storedVersions")
        .and_then(Value::as_array)
        .is_some_and(|v| !v.is_empty());
    if !stored {
        status["storedVersions"] = json!([storage]);
    }
}

fn default_names(spec: &mut Map<String, Value>) {
    let Some(names) = spec.get_mut("names").and_then(Value::as_object_mut) else {
        return;
    };
    let kind = names
        .get("kind")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let is_empty = |names: &Map<String, Value>, key: &str| {
        names
            .get(key)
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
    };
    if is_empty(names, "singular") && !kind.is_empty() {
        names.insert("singular".into(), json!(kind.to_lowercase()));
    }
    if is_empty(names, "listKind") && !kind.is_empty() {
        names.insert("listKind".into(), json!(format!("{kind}List")));
    }
}

fn default_conversion(spec: &mut Map<String, Value>) {
    let conversion = spec.entry("conversion").or_insert_with(|| json!({}));
    if !conversion.is_object() {
        *conversion = json!({});
    }
    let strategy = conversion
        .get("strategy")
        .and_then(Value::as_str)
        .unwrap_or("");
    if strategy.is_empty() {
        conversion["strategy"] = json!("None");
    }
    let service = conversion
        .pointer_mut("/webhook/clientConfig/service")
        .and_then(Value::as_object_mut);
    if let Some(service) = service {
        if service.get("port").is_none_or(Value::is_null) {
            service.insert("port".into(), json!(443));
        }
    }
}

/// Upstream's `PrepareForCreate`: clients do not write status, so it starts
/// as the typed object serializes an empty one, holding only the storage
/// version in `storedVersions`.
pub fn prepare_for_create(crd: &mut Value) {
    let stored = storage_version(crd).map_or(Value::Null, |v| json!([v]));
    if let Some(object) = crd.as_object_mut() {
        object.insert(
            "status".into(),
            json!({
                "acceptedNames": {"kind": "", "plural": ""},
                "conditions": null,
                "storedVersions": stored,
            }),
        );
    }
}

/// Upstream's `PrepareForUpdate`: status is kept from the stored object
/// (only the status subresource writes it), and a newly chosen storage
/// version joins `storedVersions`.
pub fn prepare_for_update(crd: &mut Value, old: &Value) {
    let storage = storage_version(crd);
    let Some(object) = crd.as_object_mut() else {
        return;
    };
    let mut status = old.get("status").cloned().unwrap_or_else(|| json!({}));
    if let (Some(storage), Some(fields)) = (storage, status.as_object_mut()) {
        let stored = fields.entry("storedVersions").or_insert(Value::Null);
        if !stored.is_array() {
            *stored = json!([]);
        }
        if let Some(list) = stored.as_array_mut() {
            if !list.iter().any(|v| v.as_str() == Some(storage.as_str())) {
                list.push(json!(storage));
            }
        }
    }
    object.insert("status".into(), status);
}

/// The name of the first version marked as storage.
pub fn storage_version(crd: &Value) -> Option<String> {
    InternalForm::of(crd)
        .versions
        .iter()
        .find(|v| v.storage)
        .map(|v| v.name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_conversion_are_defaulted() {
        let mut crd = json!({"spec": {"names": {"kind": "CronTab", "plural": "crontabs"},
            "versions": [{"name": "v1", "storage": true}]}});
        apply_defaults(&mut crd);
        assert_eq!(crd["spec"]["names"]["singular"], "crontab");
        assert_eq!(crd["spec"]["names"]["listKind"], "CronTabList");
        assert_eq!(crd["spec"]["conversion"], json!({"strategy": "None"}));
        assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    }

    #[test]
    fn given_values_are_kept() {
        let mut crd = json!({"spec": {"names": {"kind": "CronTab", "singular": "ct", "listKind": "Tabs"},
            "conversion": {"strategy": "Webhook", "webhook": {"clientConfig": {"service": {"name": "s", "port": 8443}}}}}});
        apply_defaults(&mut crd);
        assert_eq!(crd["spec"]["names"]["singular"], "ct");
        assert_eq!(crd["spec"]["names"]["listKind"], "Tabs");
        assert_eq!(crd["spec"]["conversion"]["strategy"], "Webhook");
        assert_eq!(
            crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"],
            8443
        );
        assert!(crd.get("status").is_none());
    }

    #[test]
    fn empty_strategy_and_service_port_are_defaulted() {
        let mut crd = json!({"spec": {"conversion": {"webhook": {"clientConfig": {"service": {"name": "s"}}}}}});
        apply_defaults(&mut crd);
        assert_eq!(crd["spec"]["conversion"]["strategy"], "None");
        assert_eq!(
            crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"],
            443
        );
    }

    #[test]
    fn create_resets_status() {
        let mut crd = json!({"spec": {"versions": [{"name": "v1"}, {"name": "v2", "storage": true}]},
            "status": {"storedVersions": ["v0"], "conditions": [{"type": "Established"}]}});
        prepare_for_create(&mut crd);
        assert_eq!(
            crd["status"],
            json!({"acceptedNames": {"kind": "", "plural": ""}, "conditions": null, "storedVersions": ["v2"]})
        );
    }

    #[test]
    fn update_keeps_status_and_adds_the_storage_version() {
        let old =
            json!({"status": {"storedVersions": ["v1"], "acceptedNames": {"plural": "foos"}}});
        let mut crd = json!({"spec": {"versions": [{"name": "v1"}, {"name": "v2", "storage": true}]},
            "status": {"storedVersions": ["hacked"]}});
        prepare_for_update(&mut crd, &old);
        assert_eq!(crd["status"]["storedVersions"], json!(["v1", "v2"]));
        assert_eq!(crd["status"]["acceptedNames"]["plural"], "foos");
    }
}
