//! Events, served as core/v1 and events.k8s.io/v1 over one storage path.
//!
//! Storage holds the core/v1 form, as upstream's does, so `kubectl get
//! events` lists events written through either API. events.k8s.io/v1
//! converts on the way in and out with upstream's field mapping:
//!
//! | events.k8s.io/v1           | core/v1              |
//! |----------------------------|----------------------|
//! | `regarding`                | `involvedObject`     |
//! | `note`                     | `message`            |
//! | `reportingController`      | `reportingComponent` |
//! | `deprecatedSource`         | `source`             |
//! | `deprecatedFirstTimestamp` | `firstTimestamp`     |
//! | `deprecatedLastTimestamp`  | `lastTimestamp`      |
//! | `deprecatedCount`          | `count`              |
//!
//! Every other field (`eventTime`, `series`, `reportingInstance`, `action`,
//! `reason`, `related`, `type`, `metadata`) has the same name in both.

use crate::error::ApiError;
use crate::resource::SelectableField;
use std::time::Duration;

use serde_json::{json, Map, Value};

use super::str_at;
use crate::resource::{human_duration, Column, Strategy, NAME_COLUMN};
use crate::validation::{dns1123_subdomain_errors, FieldError};

/// Upstream's `--event-ttl` default: events expire an hour after their last
/// write.
const EVENT_TTL: Duration = Duration::from_secs(60 * 60);

/// events.k8s.io/v1 name, core/v1 name.
const RENAMED: &[(&str, &str)] = &[
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
];

const SHARED: &[&str] = &[
    "metadata",
    "eventTime",
    "series",
    "reportingInstance",
    "action",
    "reason",
    "related",
    "type",
];

/// Copies the shared fields and renames the others; `to_core` picks the
/// direction. Absent fields stay absent.
fn convert(object: &Value, to_core: bool) -> Value {
    let mut out = Map::new();
    let api_version = if to_core { "v1" } else { "events.k8s.io/v1" };
    out.insert("apiVersion".into(), json!(api_version));
    out.insert("kind".into(), json!("Event"));
    for field in SHARED {
        if let Some(value) = object.get(*field) {
            out.insert((*field).into(), value.clone());
        }
    }
    for (v1_name, core_name) in RENAMED {
        let (from, to) = if to_core {
            (*v1_name, *core_name)
        } else {
            (*core_name, *v1_name)
        };
        if let Some(value) = object.get(from) {
            out.insert(to.into(), value.clone());
        }
    }
    Value::Object(out)
}

/// An event in its core/v1 form, whichever API it came through.
fn as_core(object: &Value) -> Value {
    if str_at(object, "/apiVersion").starts_with("events.k8s.io/") {
        convert(object, true)
    } else {
        object.clone()
    }
}

/// A timestamp as time-since, `<unknown>` when absent or unreadable.
fn since(object: &Value, pointer: &str) -> Option<String> {
    let text = object.pointer(pointer)?.as_str()?;
    let at = chrono::DateTime::parse_from_rfc3339(text).ok()?;
    let seconds = (chrono::Utc::now() - at.with_timezone(&chrono::Utc)).num_seconds();
    Some(human_duration(seconds))
}

fn columns() -> Vec<Column> {
    vec![
        Column::new("Last Seen", "string", "The time at which the most recent occurrence of this event was recorded."),
        Column::new("Type", "string", "Type of this event (Normal, Warning), new types could be added in the future"),
        Column::new("Reason", "string", "This should be a short, machine understandable string that gives the reason for the transition into the object's current status."),
        Column::new("Object", "string", "The object that this event is about."),
        Column::new("Subobject", "string", "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].").wide(),
        Column::new("Source", "string", "The component reporting this event. Should be a short machine understandable string.").wide(),
        Column::new("Message", "string", "A human-readable description of the status of this operation."),
        Column::new("First Seen", "string", "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)").wide(),
        Column::new("Count", "string", "The number of times this event has occurred.").wide(),
        NAME_COLUMN.wide(),
    ]
}

/// Upstream's `printEvent` on the core/v1 form, with every column (the
/// server always prints wide).
fn cells(core: &Value) -> Vec<Value> {
    let first = since(core, "/firstTimestamp")
        .or_else(|| since(core, "/eventTime"))
        .unwrap_or_else(|| "<unknown>".into());
    let mut last = since(core, "/lastTimestamp").unwrap_or_else(|| first.clone());
    let mut count = core.get("count").and_then(Value::as_i64).unwrap_or(0);
    if core.get("series").is_some_and(Value::is_object) {
        last = since(core, "/series/lastObservedTime").unwrap_or_else(|| "<unknown>".into());
        count = core
            .pointer("/series/count")
            .and_then(Value::as_i64)
            .unwrap_or(0);
    } else if count == 0 {
        // Singleton events from the new API carry no count.
        count = 1;
    }
    let kind = str_at(core, "/involvedObject/kind").to_lowercase();
    let target = match str_at(core, "/involvedObject/name") {
        "" => kind,
        name => format!("{kind}/{name}"),
    };
    vec![
        json!(last),
        json!(str_at(core, "/type")),
        json!(str_at(core, "/reason")),
        json!(target),
        json!(str_at(core, "/involvedObject/fieldPath")),
        json!(source_cell(core)),
        json!(str_at(core, "/message").trim()),
        json!(first),
        json!(count),
        json!(str_at(core, "/metadata/name")),
    ]
}

/// `component, host`, each falling back to the reporting controller and
/// instance of newer events.
fn source_cell(core: &Value) -> String {
    let pick = |a: &str, b: &str| {
        let first = str_at(core, a);
        if first.is_empty() {
            str_at(core, b).to_string()
        } else {
            first.to_string()
        }
    };
    let component = pick("/source/component", "/reportingComponent");
    let instance = pick("/source/host", "/reportingInstance");
    if instance.is_empty() {
        component
    } else {
        format!("{component}, {instance}")
    }
}

/// Upstream `ToSelectableFields` of core Events: `source` falls back to the
/// reporting controller, so events written through events.k8s.io/v1 can be
/// selected by it too.
fn selectable_fields(core: &Value) -> Vec<SelectableField> {
    let field = |pointer: &str| str_at(core, pointer).to_string();
    let source = match str_at(core, "/source/component") {
        "" => field("/reportingComponent"),
        component => component.to_string(),
    };
    vec![
        ("involvedObject.kind".into(), field("/involvedObject/kind")),
        (
            "involvedObject.namespace".into(),
            field("/involvedObject/namespace"),
        ),
        ("involvedObject.name".into(), field("/involvedObject/name")),
        ("involvedObject.uid".into(), field("/involvedObject/uid")),
        (
            "involvedObject.apiVersion".into(),
            field("/involvedObject/apiVersion"),
        ),
        (
            "involvedObject.resourceVersion".into(),
            field("/involvedObject/resourceVersion"),
        ),
        (
            "involvedObject.fieldPath".into(),
            field("/involvedObject/fieldPath"),
        ),
        ("reason".into(), field("/reason")),
        ("reportingComponent".into(), field("/reportingComponent")),
        ("source".into(), source),
        ("type".into(), field("/type")),
    ]
}

/// The field labels events.k8s.io/v1 accepts, each with the core label it
/// stands for (upstream `AddFieldLabelConversionsForEvent`): the
/// `regarding.*` and `reportingController` spellings, never the core ones.
const EVENTS_V1_LABELS: &[(&str, &str)] = &[
    ("regarding.kind", "involvedObject.kind"),
    ("regarding.namespace", "involvedObject.namespace"),
    ("regarding.name", "involvedObject.name"),
    ("regarding.uid", "involvedObject.uid"),
    ("regarding.apiVersion", "involvedObject.apiVersion"),
    (
        "regarding.resourceVersion",
        "involvedObject.resourceVersion",
    ),
    ("regarding.fieldPath", "involvedObject.fieldPath"),
    ("reportingController", "reportingComponent"),
    ("reason", "reason"),
    ("source", "source"),
    ("type", "type"),
];

fn events_v1_selectable_fields(core: &Value) -> Vec<SelectableField> {
    let core_fields = selectable_fields(core);
    EVENTS_V1_LABELS
        .iter()
        .map(|(label, core_label)| {
            let value = core_fields
                .iter()
                .find(|(f, _)| f == core_label)
                .map(|(_, v)| v.clone())
                .unwrap_or_default();
            ((*label).into(), value)
        })
        .collect()
}

fn is_set(core: &Value, field: &str) -> bool {
    match core.get(field) {
        None | Some(Value::Null) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_i64() != Some(0),
        Some(Value::Object(m)) => m
            .values()
            .any(|v| v.as_str().is_some_and(|s| !s.is_empty())),
        Some(_) => true,
    }
}

const TEXT_LIMIT: usize = 128;
const NOTE_LIMIT: usize = 1024;

/// Upstream's `legacyValidateEvent` on the core/v1 form; `controller_field`
/// names the reporting controller as the request's version does.
fn legacy_errors(core: &Value, controller_field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let namespace = str_at(core, "/metadata/namespace");
    let involved = str_at(core, "/involvedObject/namespace");
    let mismatch = || {
        FieldError::invalid(
            "involvedObject.namespace",
            json!(involved),
            "does not match event.namespace",
        )
    };
    if !is_set(core, "eventTime") {
        if involved.is_empty() {
            if !namespace.is_empty() && namespace != "default" {
                errors.push(mismatch());
            }
        } else if namespace != involved {
            errors.push(mismatch());
        }
    } else {
        if involved.is_empty() && namespace != "default" && namespace != "kube-system" {
            errors.push(mismatch());
        }
        let controller = str_at(core, "/reportingComponent");
        if controller.is_empty() {
            errors.push(FieldError::required(controller_field, ""));
        }
        for message in qualified_name_errors(controller) {
            errors.push(FieldError::invalid(
                controller_field,
                json!(controller),
                message,
            ));
        }
        for (field, limit) in [
            ("reportingInstance", TEXT_LIMIT),
            ("action", TEXT_LIMIT),
            ("reason", TEXT_LIMIT),
        ] {
            let value = str_at(core, &format!("/{field}"));
            if value.is_empty() {
                errors.push(FieldError::required(field, ""));
            } else if value.len() > limit {
                errors.push(FieldError::invalid(
                    field,
                    json!(""),
                    format!("can have at most {limit} characters"),
                ));
            }
        }
        if str_at(core, "/message").len() > NOTE_LIMIT {
            errors.push(FieldError::invalid(
                "message",
                json!(""),
                format!("can have at most {NOTE_LIMIT} characters"),
            ));
        }
    }
    for message in dns1123_subdomain_errors(namespace) {
        errors.push(FieldError::invalid("namespace", json!(namespace), message));
    }
    errors
}

/// The stricter rules for events created through events.k8s.io/v1, on the
/// core/v1 form with the new API's field names in messages.
fn strict_errors(core: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if core.get("series").is_some_and(Value::is_object) {
        if core
            .pointer("/series/count")
            .and_then(Value::as_i64)
            .unwrap_or(0)
            < 2
        {
            errors.push(FieldError::invalid(
                "series.count",
                json!(""),
                "should be at least 2",
            ));
        }
        if str_at(core, "/series/lastObservedTime").is_empty() {
            errors.push(FieldError::required("series.lastObservedTime", ""));
        }
    }
    if !is_set(core, "eventTime") {
        errors.push(FieldError::required("eventTime", ""));
    }
    let kind = str_at(core, "/type");
    if kind != "Normal" && kind != "Warning" {
        errors.push(FieldError::invalid(
            "type",
            json!(""),
            format!("has invalid value: {kind}"),
        ));
    }
    for (core_name, v1_name) in [
        ("firstTimestamp", "deprecatedFirstTimestamp"),
        ("lastTimestamp", "deprecatedLastTimestamp"),
        ("count", "deprecatedCount"),
        ("source", "deprecatedSource"),
    ] {
        if is_set(core, core_name) {
            errors.push(FieldError::invalid(v1_name, json!(""), "needs to be unset"));
        }
    }
    errors
}

/// Upstream's `ValidateQualifiedName`: an optional DNS-subdomain prefix and
/// a name of at most 63 characters.
fn qualified_name_errors(value: &str) -> Vec<String> {
    let (prefix, name) = match value.split_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, value),
    };
    let mut errors = Vec::new();
    if let Some(prefix) = prefix {
        if prefix.is_empty() {
            errors.push("prefix part must be non-empty".to_string());
        } else {
            errors.extend(
                dns1123_subdomain_errors(prefix)
                    .into_iter()
                    .map(|m| format!("prefix part {m}")),
            );
        }
    }
    if name.is_empty() {
        errors.push("name part must be non-empty".to_string());
        return errors;
    }
    if name.len() > 63 {
        errors.push("name part must be no more than 63 characters".to_string());
    }
    let edges_ok = name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric());
    if !edges_ok
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        errors.push("name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')".to_string());
    }
    errors
}

/// What an events.k8s.io/v1 update may not change, by core/v1 name.
const IMMUTABLE_ON_UPDATE: &[&str] = &[
    "involvedObject",
    "reason",
    "message",
    "source",
    "firstTimestamp",
    "lastTimestamp",
    "count",
    "action",
    "related",
    "type",
    "eventTime",
];

/// core/v1 Events.
pub struct CoreEventStrategy {
    /// `--event-ttl`.
    pub ttl: Duration,
}

impl Default for CoreEventStrategy {
    fn default() -> Self {
        CoreEventStrategy { ttl: EVENT_TTL }
    }
}

impl Strategy for CoreEventStrategy {
    fn validate(&self, object: &Value) -> Vec<FieldError> {
        legacy_errors(object, "reportingComponent")
    }

    fn columns(&self) -> Vec<Column> {
        columns()
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        cells(&as_core(object))
    }

    fn selectable_fields(&self, object: &Value) -> Vec<SelectableField> {
        selectable_fields(&as_core(object))
    }

    fn ttl(&self) -> Option<Duration> {
        Some(self.ttl)
    }
}

/// events.k8s.io/v1 Events, kept in storage in their core/v1 form.
pub struct EventsV1Strategy {
    /// `--event-ttl`.
    pub ttl: Duration,
}

impl Default for EventsV1Strategy {
    fn default() -> Self {
        EventsV1Strategy { ttl: EVENT_TTL }
    }
}

impl Strategy for EventsV1Strategy {
    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let core = as_core(object);
        let mut errors = legacy_errors(&core, "reportingController");
        errors.extend(strict_errors(&core));
        errors
    }

    /// Upstream `ValidateEventUpdate` for events.k8s.io/v1: only the series
    /// (and metadata) may change; field names in messages are core/v1's.
    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        let (core, old_core) = (as_core(object), as_core(old));
        let mut errors = legacy_errors(&core, "reportingController");
        if !super::same(core.get("series"), old_core.get("series")) {
            errors.extend(
                strict_errors(&core)
                    .into_iter()
                    .filter(|e| e.field.starts_with("series")),
            );
        }
        for field in IMMUTABLE_ON_UPDATE {
            if !super::same(core.get(*field), old_core.get(*field)) {
                let value = core.get(*field).cloned().unwrap_or(Value::Null);
                errors.push(FieldError::invalid(*field, value, "field is immutable"));
            }
        }
        errors
    }

    fn columns(&self) -> Vec<Column> {
        columns()
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        cells(&as_core(object))
    }

    fn storage_api_version(&self) -> Option<String> {
        Some("v1".into())
    }

    fn to_stored(&self, object: Value) -> Result<Value, ApiError> {
        Ok(as_core(&object))
    }

    fn read_stored(&self, stored: Value) -> Result<Value, ApiError> {
        Ok(convert(&stored, false))
    }

    fn selectable_fields(&self, object: &Value) -> Vec<SelectableField> {
        events_v1_selectable_fields(&as_core(object))
    }

    fn ttl(&self) -> Option<Duration> {
        Some(self.ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v1_event() -> Value {
        json!({
            "apiVersion": "events.k8s.io/v1", "kind": "Event",
            "metadata": {"name": "web.1", "namespace": "default"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingController": "example.com/operator", "reportingInstance": "operator-0",
            "action": "Reconcile", "reason": "Synced", "type": "Normal",
            "regarding": {"kind": "Deployment", "name": "web", "namespace": "default"},
            "note": "  synced web  ",
        })
    }

    #[test]
    fn events_v1_are_stored_in_core_form() {
        let stored = EventsV1Strategy::default().to_stored(v1_event()).unwrap();
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(stored["involvedObject"]["name"], "web");
        assert_eq!(stored["message"], "  synced web  ");
        assert_eq!(stored["reportingComponent"], "example.com/operator");
        assert_eq!(stored["reportingInstance"], "operator-0");
        assert!(stored.get("note").is_none() && stored.get("regarding").is_none());
        assert_eq!(
            EventsV1Strategy::default().read_stored(stored).unwrap(),
            v1_event()
        );
    }

    #[test]
    fn core_events_read_through_events_v1() {
        let core = json!({"apiVersion": "v1", "kind": "Event", "metadata": {"name": "e"},
            "involvedObject": {"kind": "Pod", "name": "p"}, "message": "m", "count": 3,
            "source": {"component": "kubelet", "host": "node-1"},
            "firstTimestamp": "2024-01-01T00:00:00Z", "lastTimestamp": "2024-01-01T00:05:00Z"});
        let v1 = EventsV1Strategy::default().read_stored(core).unwrap();
        assert_eq!(v1["apiVersion"], "events.k8s.io/v1");
        assert_eq!(v1["regarding"]["kind"], "Pod");
        assert_eq!(v1["note"], "m");
        assert_eq!(v1["deprecatedCount"], 3);
        assert_eq!(v1["deprecatedSource"]["host"], "node-1");
        assert_eq!(v1["deprecatedLastTimestamp"], "2024-01-01T00:05:00Z");
    }

    #[test]
    fn table_cells_follow_kubectl() {
        let stored = EventsV1Strategy::default().to_stored(v1_event()).unwrap();
        let cells = CoreEventStrategy::default().cells(&stored);
        assert_eq!(
            cells[1..7],
            [
                json!("Normal"),
                json!("Synced"),
                json!("deployment/web"),
                json!(""),
                json!("example.com/operator, operator-0"),
                json!("synced web"),
            ]
        );
        assert_eq!(cells[0], cells[7]);
        assert_eq!(cells[8], json!(1));
        assert_eq!(cells[9], "web.1");
        assert_eq!(CoreEventStrategy::default().columns().len(), cells.len());
        assert_eq!(EventsV1Strategy::default().cells(&v1_event()), cells);
    }

    #[test]
    fn events_v1_need_the_new_fields() {
        assert!(EventsV1Strategy::default().validate(&v1_event()).is_empty());
        let bare = json!({"apiVersion": "events.k8s.io/v1", "metadata": {"namespace": "default"},
            "regarding": {"namespace": "default"}, "deprecatedCount": 2});
        let found: Vec<String> = EventsV1Strategy::default()
            .validate(&bare)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(found.contains(&"eventTime: Required value".to_string()));
        assert!(found.contains(&"type: Invalid value: \"\": has invalid value: ".to_string()));
        assert!(
            found.contains(&"deprecatedCount: Invalid value: \"\": needs to be unset".to_string())
        );
    }

    #[test]
    fn events_v1_updates_may_change_only_the_series() {
        let old = v1_event();
        let mut new = v1_event();
        new["series"] = json!({"count": 2, "lastObservedTime": "2024-01-01T00:01:00.000000Z"});
        assert!(EventsV1Strategy::default()
            .validate_update(&new, &old)
            .is_empty());
        new["note"] = json!("changed");
        let found: Vec<String> = EventsV1Strategy::default()
            .validate_update(&new, &old)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            found,
            vec!["message: Invalid value: \"changed\": field is immutable"]
        );
    }

    #[test]
    fn core_events_check_namespaces_only() {
        let ok = json!({"metadata": {"namespace": "default"}, "involvedObject": {"namespace": "default"}});
        assert!(CoreEventStrategy::default().validate(&ok).is_empty());
        let bad = json!({"metadata": {"namespace": "a"}, "involvedObject": {"namespace": "b"}});
        assert_eq!(
            CoreEventStrategy::default().validate(&bad)[0].to_string(),
            "involvedObject.namespace: Invalid value: \"b\": does not match event.namespace"
        );
    }

    #[test]
    fn events_expire_and_select_like_upstream() {
        assert_eq!(
            CoreEventStrategy::default().ttl(),
            Some(Duration::from_secs(3600))
        );
        let fields = EventsV1Strategy::default().selectable_fields(&v1_event());
        assert!(fields.contains(&("regarding.name".into(), "web".into())));
        assert!(fields.contains(&("reportingController".into(), "example.com/operator".into())));
        assert!(fields.contains(&("source".into(), "example.com/operator".into())));
        assert!(!fields.iter().any(|(f, _)| f.starts_with("involvedObject")));
        let core = CoreEventStrategy::default().selectable_fields(&v1_event());
        assert!(core.contains(&("involvedObject.name".into(), "web".into())));
        assert!(
            core.contains(&("source".into(), "example.com/operator".into())),
            "source falls back to the reporting controller"
        );
    }
}
