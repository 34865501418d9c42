//! Server-side apply (`application/apply-patch+yaml`), in a simplified form.
//!
//! What holds, as upstream: a manager's applied configuration is merged into
//! the live object (maps field by field; lists and scalars whole), the
//! fields it applied are recorded in `metadata.managedFields` (operation
//! `Apply`, `fieldsV1`), a field it applied before and leaves out now is
//! removed unless another manager applied it too, a field another applier
//! owns with a different value is a 409 conflict unless `force=true`, and
//! applying to a missing object creates it.
//!
//! What is simplified: every list is atomic (owned and replaced whole, as
//! upstream treats lists without `x-kubernetes-list-type: map|set`), and
//! ownership is only recorded for appliers: ordinary updates and patches
//! leave `managedFields` as they were, so they neither own fields nor
//! conflict with an applier.

use std::collections::BTreeSet;

use serde_json::{json, Map, Value};

use crate::error::ApiError;
use crate::object;

/// A field's path from the object's root, by field names.
type FieldPath = Vec<String>;

/// What a server-side apply asks for.
#[derive(Clone, Copy)]
pub struct ApplyRequest<'a> {
    pub manager: &'a str,
    pub force: bool,
    /// The applied configuration, parsed.
    pub config: &'a Value,
    /// `group/version` recorded with the manager's entry.
    pub api_version: &'a str,
}

/// Parses an apply body (YAML or JSON), which must be an object.
pub fn parse_config(body: &[u8]) -> Result<Value, ApiError> {
    let config: Value = serde_yaml_ng::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("error decoding YAML: {e}")))?;
    if !config.is_object() {
        return Err(ApiError::BadRequest(
            "the apply configuration must be an object".into(),
        ));
    }
    Ok(config)
}

/// The object after `request` is applied to `live` (`None`: the object is
/// new), with the manager's entry in `metadata.managedFields`.
pub fn apply(live: Option<&Value>, request: &ApplyRequest) -> Result<Value, ApiError> {
    let applied = leaves(request.config);
    let mut entries = live.map(managed_entries).unwrap_or_default();
    let previous: BTreeSet<FieldPath> = entries
        .iter()
        .find(|e| is_apply_of(e, request.manager))
        .map(|e| decode(e.get("fieldsV1").unwrap_or(&Value::Null)))
        .unwrap_or_default();

    let mut result = live.cloned().unwrap_or_else(|| json!({}));
    // Conflicts with other appliers that own a field with another value.
    let mut conflicts = Vec::new();
    for entry in entries
        .iter_mut()
        .filter(|e| is_apply(e) && !is_apply_of(e, request.manager))
    {
        let manager = entry
            .get("manager")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let mut owned = decode(entry.get("fieldsV1").unwrap_or(&Value::Null));
        let clashing: Vec<FieldPath> = owned
            .iter()
            .filter(|path| applied.contains(*path))
            .filter(|path| at(&result, path) != at(request.config, path))
            .cloned()
            .collect();
        if clashing.is_empty() {
            continue;
        }
        if request.force {
            for path in &clashing {
                owned.remove(path);
            }
            entry["fieldsV1"] = encode(&owned);
        } else {
            conflicts.extend(clashing.into_iter().map(|path| (manager.clone(), path)));
        }
    }
    if !conflicts.is_empty() {
        return Err(conflict_error(&conflicts));
    }

    // Fields this manager applied before and no longer does, owned by no
    // other applier, go.
    let others: BTreeSet<FieldPath> = entries
        .iter()
        .filter(|e| is_apply(e) && !is_apply_of(e, request.manager))
        .flat_map(|e| decode(e.get("fieldsV1").unwrap_or(&Value::Null)))
        .collect();
    for path in previous.difference(&applied) {
        if !others.contains(path) {
            remove(&mut result, path);
        }
    }
    merge(&mut result, request.config);

    entries.retain(|e| !is_apply_of(e, request.manager));
    entries.push(json!({
        "manager": request.manager,
        "operation": "Apply",
        "apiVersion": request.api_version,
        "time": object::now_timestamp(),
        "fieldsType": "FieldsV1",
        "fieldsV1": encode(&applied),
    }));
    object::set_meta(&mut result, "managedFields", Value::Array(entries));
    Ok(result)
}

fn managed_entries(object: &Value) -> Vec<Value> {
    object
        .pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

fn is_apply(entry: &Value) -> bool {
    entry.get("operation").and_then(Value::as_str) == Some("Apply")
        && entry
            .get("subresource")
            .is_none_or(|s| s.as_str() == Some(""))
}

fn is_apply_of(entry: &Value, manager: &str) -> bool {
    is_apply(entry) && entry.get("manager").and_then(Value::as_str) == Some(manager)
}

/// Fields that are not ownership data: identity and bookkeeping.
fn untracked(path: &[String]) -> bool {
    match path {
        [only] => only == "apiVersion" || only == "kind",
        [meta, field, ..] if meta == "metadata" => !matches!(
            field.as_str(),
            "labels" | "annotations" | "finalizers" | "ownerReferences"
        ),
        _ => false,
    }
}

/// The leaf fields a configuration sets: scalars, lists and empty objects.
fn leaves(config: &Value) -> BTreeSet<FieldPath> {
    fn walk(value: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        match value {
            Value::Object(map) if !map.is_empty() => {
                for (key, child) in map {
                    path.push(key.clone());
                    walk(child, path, out);
                    path.pop();
                }
            }
            _ => {
                if !path.is_empty() && !untracked(path) {
                    out.insert(path.clone());
                }
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(config, &mut Vec::new(), &mut out);
    out
}

/// `fieldsV1`: `{"f:spec": {"f:replicas": {}}}`; a set field with children
/// also carries `".": {}`, as upstream writes it.
fn encode(paths: &BTreeSet<FieldPath>) -> Value {
    let mut root = Map::new();
    for path in paths {
        let mut node = &mut root;
        for field in path {
            node = node
                .entry(format!("f:{field}"))
                .or_insert_with(|| json!({}))
                .as_object_mut()
                .expect("fieldsV1 nodes are objects");
        }
    }
    Value::Object(root)
}

fn decode(fields: &Value) -> BTreeSet<FieldPath> {
    fn walk(node: &Value, path: &mut FieldPath, out: &mut BTreeSet<FieldPath>) {
        let Some(map) = node.as_object() else {
            return;
        };
        let children: Vec<(&String, &Value)> =
            map.iter().filter(|(k, _)| k.starts_with("f:")).collect();
        if children.is_empty() && !path.is_empty() {
            out.insert(path.clone());
        }
        for (key, child) in children {
            path.push(key[2..].to_string());
            walk(child, path, out);
            path.pop();
        }
    }
    let mut out = BTreeSet::new();
    walk(fields, &mut Vec::new(), &mut out);
    out
}

fn at<'a>(value: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(value, |v, field| v.get(field))
}

fn remove(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut node = value;
    for field in parents {
        match node.get_mut(field) {
            Some(child) => node = child,
            None => return,
        }
    }
    if let Some(map) = node.as_object_mut() {
        map.remove(last);
    }
}

/// Maps merge field by field; anything else is replaced.
fn merge(live: &mut Value, config: &Value) {
    match (live, config) {
        (Value::Object(live), Value::Object(config)) => {
            for (key, value) in config {
                match live.get_mut(key) {
                    Some(existing) if existing.is_object() && value.is_object() => {
                        merge(existing, value)
                    }
                    _ => {
                        live.insert(key.clone(), value.clone());
                    }
                }
            }
        }
        (live, config) => *live = config.clone(),
    }
}

fn conflict_error(conflicts: &[(String, FieldPath)]) -> ApiError {
    let shown: Vec<String> = conflicts
        .iter()
        .map(|(manager, path)| format!("conflict with \"{manager}\": .{}", path.join(".")))
        .collect();
    let noun = if conflicts.len() == 1 {
        "conflict"
    } else {
        "conflicts"
    };
    ApiError::ApplyConflict {
        message: format!(
            "Apply failed with {} {noun}: {}",
            conflicts.len(),
            shown.join("\n")
        ),
        causes: conflicts
            .iter()
            .map(|(manager, path)| {
                (
                    format!("conflict with \"{manager}\""),
                    format!(".{}", path.join(".")),
                )
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(manager: &'a str, config: &'a Value, force: bool) -> ApplyRequest<'a> {
        ApplyRequest {
            manager,
            force,
            config,
            api_version: "v1",
        }
    }

    #[test]
    fn creates_records_and_removes_what_is_no_longer_applied() {
        let first = json!({"metadata": {"name": "a", "labels": {"x": "1"}}, "data": {"k": "v", "gone": "soon"}});
        let created = apply(None, &request("m", &first, false)).unwrap();
        assert_eq!(created["data"], json!({"k": "v", "gone": "soon"}));
        let entry = &created["metadata"]["managedFields"][0];
        assert_eq!(entry["manager"], "m");
        assert_eq!(entry["operation"], "Apply");
        assert_eq!(
            entry["fieldsV1"],
            json!({"f:data": {"f:gone": {}, "f:k": {}}, "f:metadata": {"f:labels": {"f:x": {}}}})
        );
        let second = json!({"metadata": {"name": "a"}, "data": {"k": "w"}});
        let updated = apply(Some(&created), &request("m", &second, false)).unwrap();
        assert_eq!(updated["data"], json!({"k": "w"}));
        assert!(updated["metadata"]
            .get("labels")
            .is_none_or(|l| l.get("x").is_none()));
    }

    #[test]
    fn other_appliers_conflict_unless_forced() {
        let config = json!({"spec": {"replicas": 1, "image": "a"}});
        let live = apply(None, &request("one", &config, false)).unwrap();
        let other = json!({"spec": {"replicas": 2}});
        let Err(ApiError::ApplyConflict { message, .. }) =
            apply(Some(&live), &request("two", &other, false))
        else {
            panic!("expected a conflict");
        };
        assert_eq!(
            message,
            "Apply failed with 1 conflict: conflict with \"one\": .spec.replicas"
        );
        let forced = apply(Some(&live), &request("two", &other, true)).unwrap();
        assert_eq!(forced["spec"], json!({"replicas": 2, "image": "a"}));
        // The same value is shared ownership, not a conflict.
        let same = json!({"spec": {"image": "a"}});
        assert!(apply(Some(&forced), &request("three", &same, false)).is_ok());
    }

    #[test]
    fn fields_round_trip_through_fields_v1() {
        let paths: BTreeSet<FieldPath> = [
            vec!["spec".to_string(), "a".to_string()],
            vec!["spec".to_string(), "b".to_string(), "c".to_string()],
        ]
        .into_iter()
        .collect();
        assert_eq!(decode(&encode(&paths)), paths);
    }
}
