//! The scale subresource: an `autoscaling/v1` Scale view of an object's
//! replicas and selector, and writing a new replica count back. Kinds say
//! where those live with a [`ScaleSpec`]; everything else is generic.

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::resource::{ScaleSelector, ScaleSpec};

/// The Scale of an object, as upstream builds it.
pub fn to_scale(spec: &ScaleSpec, object: &Value) -> Value {
    let metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let mut kept = serde_json::Map::new();
    for field in [
        "name",
        "namespace",
        "uid",
        "resourceVersion",
        "creationTimestamp",
    ] {
        if let Some(v) = metadata.get(field) {
            kept.insert(field.to_string(), v.clone());
        }
    }
    let replicas = |pointer: &str| object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
    let mut status = json!({ "replicas": replicas(&spec.status_replicas) });
    let selector = match &spec.selector {
        ScaleSelector::None => None,
        ScaleSelector::StringAt(pointer) => object
            .pointer(pointer)
            .and_then(Value::as_str)
            .map(str::to_string),
        ScaleSelector::LabelSelectorAt(pointer) => object.pointer(pointer).map(selector_string),
    };
    if let Some(selector) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(selector);
    }
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": kept,
        "spec": { "replicas": replicas(&spec.spec_replicas) },
        "status": status,
    })
}

/// The object with the Scale's replicas written in; the Scale's
/// resourceVersion (if any) becomes the object's precondition.
pub fn apply_scale(spec: &ScaleSpec, current: &Value, scale: &Value) -> Result<Value, ApiError> {
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().ok_or_else(|| {
            ApiError::BadRequest(format!("spec.replicas: must be an integer, got {v}"))
        })?,
    };
    if replicas < 0 {
        return Err(ApiError::invalid(
            "Scale.autoscaling",
            crate::object::name(current),
            vec![crate::validation::FieldError::invalid(
                "spec.replicas",
                json!(replicas),
                "must be greater than or equal to 0",
            )],
        ));
    }
    let mut object = current.clone();
    set_pointer(&mut object, &spec.spec_replicas, json!(replicas));
    let rv = crate::object::resource_version(scale);
    if !rv.is_empty() {
        crate::object::set_meta(&mut object, "resourceVersion", json!(rv));
    }
    Ok(object)
}

/// Writes `value` at a JSON pointer, creating objects on the way.
fn set_pointer(object: &mut Value, pointer: &str, value: Value) {
    let mut at = object;
    let parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, part) in parts.iter().enumerate() {
        if !at.is_object() {
            *at = json!({});
        }
        let map = at.as_object_mut().expect("made an object above");
        if i + 1 == parts.len() {
            map.insert(part.to_string(), value);
            return;
        }
        at = map.entry(part.to_string()).or_insert_with(|| json!({}));
    }
}

/// A `metav1.LabelSelector` in string form (`app=web,tier in (a,b)`), as
/// upstream's `LabelSelectorAsSelector(...).String()` writes it: sorted by key.
pub fn selector_string(selector: &Value) -> String {
    let mut parts: Vec<(String, String)> = Vec::new();
    if let Some(labels) = selector.get("matchLabels").and_then(Value::as_object) {
        for (k, v) in labels {
            parts.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or_default())));
        }
    }
    if let Some(expressions) = selector.get("matchExpressions").and_then(Value::as_array) {
        for e in expressions {
            let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
            let mut values: Vec<&str> = e
                .get("values")
                .and_then(Value::as_array)
                .map(|v| v.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            values.sort_unstable();
            let text = match e
                .get("operator")
                .and_then(Value::as_str)
                .unwrap_or_default()
            {
                "In" => format!("{key} in ({})", values.join(",")),
                "NotIn" => format!("{key} notin ({})", values.join(",")),
                "Exists" => key.to_string(),
                "DoesNotExist" => format!("!{key}"),
                _ => continue,
            };
            parts.push((key.to_string(), text));
        }
    }
    parts.sort();
    parts
        .into_iter()
        .map(|(_, t)| t)
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment_spec() -> ScaleSpec {
        ScaleSpec {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            selector: ScaleSelector::LabelSelectorAt("/spec/selector".into()),
        }
    }

    #[test]
    fn scale_view_and_write_back() {
        let d = json!({"metadata": {"name": "web", "namespace": "a", "resourceVersion": "7", "labels": {"x": "y"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}, "matchExpressions": [{"key": "tier", "operator": "In", "values": ["b", "a"]}]}},
            "status": {"replicas": 1}});
        let scale = to_scale(&deployment_spec(), &d);
        assert_eq!(scale["spec"]["replicas"], 2);
        assert_eq!(
            scale["status"],
            json!({"replicas": 1, "selector": "app=web,tier in (a,b)"})
        );
        assert!(scale["metadata"].get("labels").is_none());
        let updated =
            apply_scale(&deployment_spec(), &d, &json!({"spec": {"replicas": 5}})).unwrap();
        assert_eq!(updated["spec"]["replicas"], 5);
        assert!(apply_scale(&deployment_spec(), &d, &json!({"spec": {"replicas": -1}})).is_err());
    }
}
