//! `status.conditions` of a CRD, kept as upstream keeps them: one entry per
//! type, whose lastTransitionTime moves only when its status does.

use apiserver::object;
use serde_json::{json, Value};

/// Sets a condition on the object's status, creating what is missing.
pub fn set(object: &mut Value, type_: &str, status: &str, reason: &str, message: &str) {
    if !object.get("status").is_some_and(Value::is_object) {
        object["status"] = json!({});
    }
    let conditions = object["status"]
        .as_object_mut()
        .expect("status was just made an object")
        .entry("conditions")
        .or_insert_with(|| json!([]));
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let list = conditions.as_array_mut().expect("conditions is an array");
    let existing = list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_));
    let since = match &existing {
        Some(c) if c.get("status").and_then(Value::as_str) == Some(status) => {
            c.get("lastTransitionTime").cloned()
        }
        _ => None,
    }
    .unwrap_or_else(|| json!(object::now_timestamp()));
    let condition = json!({
        "type": type_,
        "status": status,
        "lastTransitionTime": since,
        "reason": reason,
        "message": message,
    });
    match existing {
        Some(c) => *c = condition,
        None => list.push(condition),
    }
}

/// A condition's status ("True", "False", "Unknown"), if set.
pub fn status<'a>(object: &'a Value, type_: &str) -> Option<&'a str> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))?
        .get("status")?
        .as_str()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_moves_only_with_the_status() {
        let mut crd = json!({});
        set(&mut crd, "Established", "True", "InitialNamesAccepted", "x");
        crd["status"]["conditions"][0]["lastTransitionTime"] = json!("2020-01-01T00:00:00Z");
        set(&mut crd, "Established", "True", "InitialNamesAccepted", "y");
        assert_eq!(
            crd["status"]["conditions"][0]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        set(&mut crd, "Established", "False", "Other", "z");
        assert_ne!(
            crd["status"]["conditions"][0]["lastTransitionTime"],
            "2020-01-01T00:00:00Z"
        );
        assert_eq!(status(&crd, "Established"), Some("False"));
        assert_eq!(crd["status"]["conditions"].as_array().unwrap().len(), 1);
    }
}
