//! core/v1 Namespaces: the `kubernetes` finalizer and `Active` phase on
//! create, the `kubernetes.io/metadata.name` label, and DNS-label names.

use crate::resource::SelectableField;
use serde_json::{json, Value};

use super::{child_object, str_at};
use crate::resource::{age_cell, Column, Strategy, AGE_COLUMN};
use crate::validation::{dns1123_label_errors, FieldError};

/// The finalizer the namespace controller removes once the namespace is empty.
const KUBERNETES_FINALIZER: &str = "kubernetes";

/// The label upstream keeps equal to the name, so label selectors can pick
/// namespaces by name.
const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// core/v1 Namespaces.
pub struct NamespaceStrategy;

fn label_with_name(object: &mut Value) {
    let name = str_at(object, "/metadata/name").to_string();
    if name.is_empty() {
        return;
    }
    let Some(labels) = object
        .get_mut("metadata")
        .and_then(|metadata| child_object(metadata, "labels"))
    else {
        return;
    };
    labels.insert(NAME_LABEL.into(), json!(name));
}

/// Namespaces the server needs and upstream refuses to delete.
const UNDELETABLE: &[&str] = &["default", "kube-system", "kube-public"];

impl Strategy for NamespaceStrategy {
    fn forbid_delete(&self, object: &Value) -> Option<String> {
        let name = crate::object::name(object);
        UNDELETABLE
            .contains(&name)
            .then(|| "this namespace may not be deleted".to_string())
    }

    /// Upstream `PrepareForCreate`: status is Active and the `kubernetes`
    /// finalizer is always present, whatever the client sent.
    fn prepare_for_create(&self, object: &mut Value) {
        label_with_name(object);
        if let Some(spec) = child_object(object, "spec") {
            let finalizers = spec.entry("finalizers").or_insert_with(|| json!([]));
            if !finalizers.is_array() {
                *finalizers = json!([]);
            }
            if let Some(list) = finalizers.as_array_mut() {
                if !list.iter().any(|f| f == KUBERNETES_FINALIZER) {
                    list.push(json!(KUBERNETES_FINALIZER));
                }
            }
        }
        if let Some(map) = object.as_object_mut() {
            map.insert("status".into(), json!({"phase": "Active"}));
        }
    }

    /// Finalizers change only through `/finalize`, so an update keeps the
    /// stored ones.
    fn prepare_for_update(&self, object: &mut Value, old: &Value) {
        label_with_name(object);
        let kept = old.pointer("/spec/finalizers").cloned();
        if let Some(spec) = child_object(object, "spec") {
            match kept {
                Some(finalizers) => spec.insert("finalizers".into(), finalizers),
                None => spec.remove("finalizers"),
            };
        }
    }

    /// A namespace with spec finalizers stays, `Terminating`, until the
    /// namespace controller has emptied it and removed them.
    fn prepare_for_delete(&self, object: &mut Value) -> bool {
        let finalizers = object.pointer("/spec/finalizers").and_then(Value::as_array);
        if finalizers.is_none_or(|f| f.is_empty()) {
            return false;
        }
        if let Some(status) = child_object(object, "status") {
            status.insert("phase".into(), json!("Terminating"));
        }
        true
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let name = str_at(object, "/metadata/name");
        if name.is_empty() {
            return Vec::new();
        }
        dns1123_label_errors(name)
            .into_iter()
            .map(|message| FieldError::invalid("metadata.name", json!(name), message))
            .collect()
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Status", "string", "The status of the namespace"),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![json!(str_at(object, "/status/phase")), age_cell(object)]
    }

    fn selectable_fields(&self, object: &Value) -> Vec<SelectableField> {
        vec![(
            "status.phase".into(),
            str_at(object, "/status/phase").to_string(),
        )]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_adds_finalizer_phase_and_name_label() {
        let mut ns = json!({"metadata": {"name": "team-a"}, "status": {"phase": "Terminating"}});
        NamespaceStrategy.prepare_for_create(&mut ns);
        assert_eq!(ns["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(ns["status"], json!({"phase": "Active"}));
        assert_eq!(ns["metadata"]["labels"][NAME_LABEL], "team-a");
        assert_eq!(NamespaceStrategy.cells(&ns)[0], "Active");
    }

    #[test]
    fn update_keeps_stored_finalizers() {
        let old = json!({"metadata": {"name": "a"}, "spec": {"finalizers": ["kubernetes"]}});
        let mut new =
            json!({"metadata": {"name": "a", "labels": {"x": "y"}}, "spec": {"finalizers": []}});
        NamespaceStrategy.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["finalizers"], json!(["kubernetes"]));
        assert_eq!(
            new["metadata"]["labels"],
            json!({"x": "y", NAME_LABEL: "a"})
        );
    }

    #[test]
    fn delete_marks_terminating_while_finalizers_remain() {
        let mut ns = json!({"metadata": {"name": "a"}});
        NamespaceStrategy.prepare_for_create(&mut ns);
        assert!(NamespaceStrategy.prepare_for_delete(&mut ns));
        assert_eq!(ns["status"]["phase"], "Terminating");
        let mut done = json!({"metadata": {"name": "a"}, "spec": {"finalizers": []}});
        assert!(!NamespaceStrategy.prepare_for_delete(&mut done));
    }

    #[test]
    fn names_must_be_dns_labels() {
        let errors = NamespaceStrategy.validate(&json!({"metadata": {"name": "a.b"}}));
        assert_eq!(errors.len(), 1);
        assert!(errors[0]
            .to_string()
            .starts_with("metadata.name: Invalid value: \"a.b\": a lowercase RFC 1123 label"));
    }
}
