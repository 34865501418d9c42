//! TEMPORARY STUB (replaced by the crd-validation branch).
use apiserver::validation::FieldError;
use serde_json::{json, Value};
pub fn apply_defaults(_crd: &mut Value) {}
pub fn validate_create(_crd: &Value) -> Vec<FieldError> {
    Vec::new()
}
pub fn validate_update(_new: &Value, _old: &Value) -> Vec<FieldError> {
    Vec::new()
}
#[derive(Default)]
pub struct ClaimedNames {
    pub plurals: Vec<String>,
    pub singulars: Vec<String>,
    pub short_names: Vec<String>,
    pub kinds: Vec<String>,
    pub list_kinds: Vec<String>,
}
pub struct NamesVerdict {
    pub accepted: bool,
    pub reason: String,
    pub message: String,
    pub accepted_names: Value,
}
pub fn names_accepted(crd: &Value, others: &ClaimedNames) -> NamesVerdict {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let plural = names
        .get("plural")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if others.plurals.iter().any(|p| p == plural) {
        return NamesVerdict {
            accepted: false,
            reason: "MultipleNamesNotAllowed".into(),
            message: format!("\"{plural}\" is already in use"),
            accepted_names: json!({}),
        };
    }
    NamesVerdict {
        accepted: true,
        reason: "NoConflicts".into(),
        message: "no conflicts found".into(),
        accepted_names: names,
    }
}
