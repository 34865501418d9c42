//! The three patch types clients send: JSON patch (RFC 6902), JSON merge
//! patch (RFC 7386) and Kubernetes strategic merge patch, which merges
//! lists of objects by a key (containers by name, ports by port) and
//! understands the `$patch`, `$retainKeys`, `$setElementOrder` and
//! `$deleteFromPrimitiveList` directives kubectl sends.

use serde_json::{Map, Value};

use crate::error::ApiError;

pub const JSON_PATCH: &str = "application/json-patch+json";
pub const MERGE_PATCH: &str = "application/merge-patch+json";
pub const STRATEGIC_MERGE_PATCH: &str = "application/strategic-merge-patch+json";
pub const APPLY_PATCH: &str = "application/apply-patch+yaml";

/// Applies a patch document of `content_type` to `current`.
pub fn apply(content_type: &str, current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match content_type {
        JSON_PATCH => {
            let patch: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
            json_patch::patch(&mut doc, &patch)
                .map_err(|e| ApiError::UnprocessablePatch(e.to_string()))?;
        }
        MERGE_PATCH => {
            let patch = parse(body)?;
            json_patch::merge(&mut doc, &patch);
        }
        STRATEGIC_MERGE_PATCH => {
            let patch = parse(body)?;
            doc = strategic_merge(&doc, &patch, "")?;
        }
        APPLY_PATCH => {
            return Err(ApiError::UnsupportedMediaType {
                accepted: format!("{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH} (server-side apply is not built yet)"),
            })
        }
        _ => {
            return Err(ApiError::UnsupportedMediaType {
                accepted: format!("{JSON_PATCH}, {MERGE_PATCH}, {STRATEGIC_MERGE_PATCH}"),
            })
        }
    }
    if !doc.is_object() {
        return Err(ApiError::BadRequest(
            "the patch produced something that is not an object".into(),
        ));
    }
    Ok(doc)
}

fn parse(body: &[u8]) -> Result<Value, ApiError> {
    let patch: Value = serde_json::from_slice(body)
        .or_else(|_| serde_yaml_ng::from_slice(body))
        .map_err(|e| ApiError::BadRequest(format!("error decoding patch: {e}")))?;
    if !patch.is_object() {
        return Err(ApiError::BadRequest(
            "patch body must be a JSON object".into(),
        ));
    }
    Ok(patch)
}

/// The merge key of a list field, by its name and where it sits; `None`
/// means the list is replaced whole.
fn merge_key(path: &str, field: &str) -> Option<&'static str> {
    let in_container = path.ends_with("containers")
        || path.ends_with("initContainers")
        || path.ends_with("ephemeralContainers");
    Some(match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => "name",
        "volumeMounts" => "mountPath",
        "volumeDevices" => "devicePath",
        "ports" if in_container => "containerPort",
        "ports" if path.ends_with("spec") => "port",
        "conditions" => "type",
        "ownerReferences" => "uid",
        "hostAliases" => "ip",
        "topologySpreadConstraints" => "topologyKey",
        _ => return None,
    })
}

/// Lists of scalars that merge (union) instead of being replaced.
fn merges_primitives(field: &str) -> bool {
    field == "finalizers"
}

fn strategic_merge(current: &Value, patch: &Value, path: &str) -> Result<Value, ApiError> {
    let (Some(cur), Some(p)) = (current.as_object(), patch.as_object()) else {
        return Ok(strip_directives(patch));
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => return Ok(strip_directives(patch)),
        Some("delete") => return Ok(Value::Null),
        _ => {}
    }
    let mut out = cur.clone();
    let order_of = |field: &str| {
        p.get(&format!("$setElementOrder/{field}"))
            .and_then(Value::as_array)
            .map(Vec::as_slice)
    };
    for (key, value) in p {
        if let Some(field) = key.strip_prefix("$setElementOrder/") {
            // An order for a list the patch does not otherwise touch.
            if !p.contains_key(field) {
                if let (Some(Value::Array(list)), Some(merge)) =
                    (out.get_mut(field), merge_key(path, field))
                {
                    sort_by_order(
                        list,
                        value.as_array().map(Vec::as_slice).unwrap_or_default(),
                        merge,
                    );
                }
            }
            continue;
        }
        if key == "$patch" || key == "$retainKeys" {
            continue;
        }
        if let Some(field) = key.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Some(remove)) = (out.get_mut(field), value.as_array())
            {
                list.retain(|v| !remove.contains(v));
            }
            continue;
        }
        if value.is_null() {
            out.remove(key);
            continue;
        }
        let merged = match (out.get(key), value) {
            (Some(existing @ Value::Object(_)), Value::Object(_)) => {
                strategic_merge(existing, value, &join(path, key))?
            }
            (Some(Value::Array(existing)), Value::Array(items)) => {
                merge_list(existing, items, order_of(key), path, key)?
            }
            (_, Value::Array(items)) => Value::Array(
                items
                    .iter()
                    .filter(|i| i.get("$patch").and_then(Value::as_str) != Some("delete"))
                    .map(strip_directives)
                    .collect(),
            ),
            _ => strip_directives(value),
        };
        if merged.is_null() {
            out.remove(key);
        } else {
            out.insert(key.clone(), merged);
        }
    }
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        out.retain(|k, _| keep.iter().any(|v| v == k));
    }
    Ok(Value::Object(out))
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn merge_list(
    existing: &[Value],
    items: &[Value],
    order: Option<&[Value]>,
    path: &str,
    field: &str,
) -> Result<Value, ApiError> {
    if items
        .iter()
        .any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace"))
    {
        return Ok(Value::Array(
            items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .map(strip_directives)
                .collect(),
        ));
    }
    if merges_primitives(field) {
        let mut out = existing.to_vec();
        for item in items {
            if !out.contains(item) {
                out.push(item.clone());
            }
        }
        return Ok(Value::Array(out));
    }
    let Some(key) = merge_key(path, field) else {
        return Ok(Value::Array(items.iter().map(strip_directives).collect()));
    };
    // Items named by the patch (merged, in patch order), then the live
    // items the patch does not name are slotted in around them.
    let mut server_only: Vec<Value> = existing.to_vec();
    let mut patched: Vec<Value> = Vec::new();
    let item_path = join(path, field);
    for item in items {
        let Some(id) = item.get(key) else {
            patched.push(strip_directives(item));
            continue;
        };
        let position = server_only.iter().position(|e| e.get(key) == Some(id));
        let delete = item.get("$patch").and_then(Value::as_str) == Some("delete");
        match (position, delete) {
            (Some(i), true) => {
                server_only.remove(i);
            }
            (None, true) => {}
            (Some(i), false) => {
                let live = server_only.remove(i);
                patched.push(strategic_merge(&live, item, &item_path)?);
            }
            (None, false) => patched.push(strip_directives(item)),
        }
    }
    if let Some(order) = order {
        sort_by_order(&mut patched, order, key);
    }
    Ok(Value::Array(interleave(
        server_only,
        patched,
        existing,
        key,
    )))
}

/// Sorts items by where their key stands in a `$setElementOrder` list;
/// items it does not name keep their relative order after the named ones.
fn sort_by_order(items: &mut [Value], order: &[Value], key: &str) {
    let index = |item: &Value| {
        item.get(key)
            .and_then(|id| order.iter().position(|o| o.get(key) == Some(id)))
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(index);
}

/// Upstream's merge of the two ordered lists: each live-only item goes
/// before the first patched item that came after it in the live list (new
/// items never do), so both lists keep their relative order and live order
/// wins where it can.
fn interleave(
    server_only: Vec<Value>,
    patched: Vec<Value>,
    live: &[Value],
    key: &str,
) -> Vec<Value> {
    let live_index = |item: &Value| {
        item.get(key)
            .and_then(|id| live.iter().position(|l| l.get(key) == Some(id)))
    };
    let mut out = patched;
    let mut from = 0;
    for item in server_only {
        let mine = live_index(&item);
        let slot = (from..out.len())
            .find(|&j| matches!((live_index(&out[j]), mine), (Some(theirs), Some(mine)) if theirs > mine))
            .unwrap_or(out.len());
        out.insert(slot, item);
        from = slot + 1;
    }
    out
}

/// Removes `$`-directives from a value that is inserted as it is.
fn strip_directives(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k.clone(), strip_directives(v)))
                .collect::<Map<String, Value>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containers_merge_by_name() {
        let current = json!({"spec": {"containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}});
        let patch = json!({"spec": {"containers": [{"name": "b", "image": "z"}], "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}]}});
        let out = strategic_merge(&current, &patch, "").unwrap();
        assert_eq!(out["spec"]["containers"][0]["image"], "x");
        assert_eq!(out["spec"]["containers"][1]["image"], "z");
        assert!(out["spec"].get("$setElementOrder/containers").is_none());
    }

    #[test]
    fn null_deletes_and_patch_delete_removes_items() {
        let current = json!({"metadata": {"labels": {"a": "1", "b": "2"}}, "spec": {"containers": [{"name": "a"}, {"name": "b"}]}});
        let patch = json!({"metadata": {"labels": {"a": null}}, "spec": {"containers": [{"name": "a", "$patch": "delete"}]}});
        let out = strategic_merge(&current, &patch, "").unwrap();
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
        assert_eq!(out["spec"]["containers"], json!([{"name": "b"}]));
    }

    #[test]
    fn new_items_come_first_and_live_order_is_kept() {
        let current = json!({"spec": {"ports": [{"port": 80}, {"port": 8080}]}});
        let out =
            strategic_merge(&current, &json!({"spec": {"ports": [{"port": 443}]}}), "").unwrap();
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 443}, {"port": 80}, {"port": 8080}])
        );
        let out = strategic_merge(
            &current,
            &json!({"spec": {"ports": [{"port": 8080, "name": "x"}]}}),
            "",
        )
        .unwrap();
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80}, {"port": 8080, "name": "x"}])
        );
        let ordered = json!({"spec": {"$setElementOrder/ports": [{"port": 8080}, {"port": 80}]}});
        let out = strategic_merge(&current, &ordered, "").unwrap();
        assert_eq!(out["spec"]["ports"], json!([{"port": 8080}, {"port": 80}]));
    }

    #[test]
    fn unkeyed_lists_are_replaced() {
        let current = json!({"spec": {"args": ["a", "b"]}});
        let out = strategic_merge(&current, &json!({"spec": {"args": ["c"]}}), "").unwrap();
        assert_eq!(out["spec"]["args"], json!(["c"]));
    }

    #[test]
    fn json_patch_and_merge_patch() {
        let current = json!({"data": {"a": "1"}});
        let out = apply(
            JSON_PATCH,
            &current,
            br#"[{"op":"add","path":"/data/b","value":"2"}]"#,
        )
        .unwrap();
        assert_eq!(out["data"]["b"], "2");
        let out = apply(MERGE_PATCH, &current, br#"{"data":{"a":null}}"#).unwrap();
        assert_eq!(out["data"], json!({}));
        assert_eq!(
            apply(
                JSON_PATCH,
                &current,
                br#"[{"op":"test","path":"/data/a","value":"9"}]"#
            )
            .unwrap_err()
            .code(),
            422
        );
    }
}
