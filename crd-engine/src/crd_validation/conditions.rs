//! The status conditions the CRD controllers write, with upstream's reasons
//! and messages, and upstream's rule for replacing one (`SetCRDCondition`):
//! `lastTransitionTime` moves only when the status changes.

use serde_json::{json, Value};

/// The names are free of conflicts and being served.
pub const NAMES_ACCEPTED: &str = "NamesAccepted";
/// The API is served and the CRD's storage fixed.
pub const ESTABLISHED: &str = "Established";
/// The CRD is being deleted and its objects cleaned up.
pub const TERMINATING: &str = "Terminating";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConditionStatus {
    True,
    False,
    Unknown,
}

impl ConditionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// One condition, without its transition time (that is set when it is
/// written, see [`set_condition`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    pub type_: &'static str,
    pub status: ConditionStatus,
    pub reason: String,
    pub message: String,
}

impl Condition {
    fn new(
        type_: &'static str,
        status: ConditionStatus,
        reason: &str,
        message: impl Into<String>,
    ) -> Self {
        Condition {
            type_,
            status,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// NamesAccepted when nothing conflicts.
    pub fn names_accepted() -> Self {
        Self::new(
            NAMES_ACCEPTED,
            ConditionStatus::True,
            "NoConflicts",
            "no conflicts found",
        )
    }

    /// NamesAccepted refused: `reason` is upstream's `PluralConflict`,
    /// `SingularConflict`, `ShortNamesConflict`, `KindConflict` or
    /// `ListKindConflict`; `message` names the taken name.
    pub fn names_conflict(reason: &str, message: impl Into<String>) -> Self {
        Self::new(NAMES_ACCEPTED, ConditionStatus::False, reason, message)
    }

    /// Established as the naming controller first writes it, before names
    /// are accepted.
    pub fn not_established() -> Self {
        Self::new(
            ESTABLISHED,
            ConditionStatus::False,
            "NotAccepted",
            "not all names are accepted",
        )
    }

    /// Established as the naming controller writes it once the names are
    /// accepted; the establishing controller then flips it to
    /// [`Condition::established`].
    pub fn installing() -> Self {
        Self::new(
            ESTABLISHED,
            ConditionStatus::False,
            "Installing",
            "the initial names have been accepted",
        )
    }

    /// Established: the resource is served.
    pub fn established() -> Self {
        Self::new(
            ESTABLISHED,
            ConditionStatus::True,
            "InitialNamesAccepted",
            "the initial names have been accepted",
        )
    }

    /// Terminating while the finalizer deletes the custom resources.
    pub fn deletion_in_progress() -> Self {
        Self::new(
            TERMINATING,
            ConditionStatus::True,
            "InstanceDeletionInProgress",
            "CustomResource deletion is in progress",
        )
    }

    /// Terminating after every custom resource is gone.
    pub fn deletion_completed() -> Self {
        Self::new(
            TERMINATING,
            ConditionStatus::False,
            "InstanceDeletionCompleted",
            "removed all instances",
        )
    }

    /// Terminating when the custom resources could not be listed.
    pub fn deletion_list_failed(error: &str) -> Self {
        Self::new(
            TERMINATING,
            ConditionStatus::True,
            "InstanceDeletionFailed",
            format!("could not list instances: {error}"),
        )
    }

    /// Terminating when some deletes could not be issued.
    pub fn deletion_failed(error: &str) -> Self {
        Self::new(
            TERMINATING,
            ConditionStatus::True,
            "InstanceDeletionFailed",
            format!("could not issue all deletes: {error}"),
        )
    }

    /// Terminating when the wait for the last custom resources failed.
    pub fn deletion_check_failed(error: &str) -> Self {
        Self::new(
            TERMINATING,
            ConditionStatus::True,
            "InstanceDeletionCheck",
            format!("could not confirm zero CustomResources remaining: {error}"),
        )
    }

    /// Terminating for a CRD that was never established: it has no objects.
    pub fn never_established() -> Self {
        Self::new(
            TERMINATING,
            ConditionStatus::False,
            "NeverEstablished",
            "resource was never established",
        )
    }

    /// Terminating for a CRD whose objects share storage with a built-in
    /// resource, which must not be deleted with it.
    pub fn overlaps_built_in() -> Self {
        Self::new(
            TERMINATING,
            ConditionStatus::False,
            "OverlappingBuiltInResource",
            "instances overlap with built-in resources in storage",
        )
    }

    /// The condition as stored, transitioning at `now` (RFC 3339, seconds).
    pub fn to_json(&self, now: &str) -> Value {
        json!({
            "type": self.type_,
            "status": self.status.as_str(),
            "lastTransitionTime": now,
            "reason": self.reason,
            "message": self.message,
        })
    }

    /// Whether `stored` says the same, ignoring time (upstream's
    /// `IsCRDConditionEquivalent`).
    pub fn is_equivalent(&self, stored: &Value) -> bool {
        let field = |key: &str| stored.get(key).and_then(Value::as_str).unwrap_or("");
        field("type") == self.type_
            && field("status") == self.status.as_str()
            && field("reason") == self.reason
            && field("message") == self.message
    }
}

/// Adds or replaces the condition of the same type in `status.conditions`.
/// A replaced condition keeps its `lastTransitionTime` unless the status
/// changed (or it had none); reason and message are always replaced.
pub fn set_condition(crd: &mut Value, condition: &Condition, now: &str) {
    let Some(object) = crd.as_object_mut() else {
        return;
    };
    let status = object.entry("status").or_insert_with(|| json!({}));
    if !status.is_object() {
        *status = json!({});
    }
    let conditions = &mut status["conditions"];
    if !conditions.is_array() {
        *conditions = json!([]);
    }
    let Some(list) = conditions.as_array_mut() else {
        return;
    };
    let existing = list
        .iter_mut()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(condition.type_));
    let Some(existing) = existing else {
        list.push(condition.to_json(now));
        return;
    };
    let old_status = existing.get("status").and_then(Value::as_str).unwrap_or("");
    let old_time = existing
        .get("lastTransitionTime")
        .and_then(Value::as_str)
        .unwrap_or("");
    let time = if old_status == condition.status.as_str() && !old_time.is_empty() {
        old_time.to_string()
    } else {
        now.to_string()
    };
    *existing = condition.to_json(&time);
}

/// The stored condition of the given type.
pub fn find_condition<'a>(crd: &'a Value, type_: &str) -> Option<&'a Value> {
    crd.pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(type_))
}

/// Whether the condition is present and exactly "True".
pub fn is_condition_true(crd: &Value, type_: &str) -> bool {
    find_condition(crd, type_)
        .and_then(|c| c.get("status"))
        .and_then(Value::as_str)
        == Some("True")
}

/// Drops the condition of the given type.
pub fn remove_condition(crd: &mut Value, type_: &str) {
    if let Some(list) = crd
        .pointer_mut("/status/conditions")
        .and_then(Value::as_array_mut)
    {
        list.retain(|c| c.get("type").and_then(Value::as_str) != Some(type_));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: &str = "2024-01-01T00:00:00Z";
    const T1: &str = "2024-01-01T00:01:00Z";

    #[test]
    fn condition_json_has_upstream_fields() {
        assert_eq!(
            Condition::established().to_json(T0),
            json!({"type": "Established", "status": "True", "lastTransitionTime": T0,
                "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"})
        );
    }

    #[test]
    fn set_appends_then_replaces() {
        let mut crd = json!({"status": {"conditions": null}});
        set_condition(&mut crd, &Condition::names_accepted(), T0);
        set_condition(&mut crd, &Condition::installing(), T0);
        assert_eq!(
            crd["status"]["conditions"].as_array().map(Vec::len),
            Some(2)
        );
        set_condition(&mut crd, &Condition::established(), T1);
        let established = find_condition(&crd, ESTABLISHED)
            .cloned()
            .unwrap_or_default();
        assert_eq!(established["status"], "True");
        assert_eq!(established["lastTransitionTime"], T1);
        assert!(is_condition_true(&crd, ESTABLISHED));
    }

    #[test]
    fn unchanged_status_keeps_transition_time() {
        let mut crd = json!({});
        set_condition(&mut crd, &Condition::deletion_in_progress(), T0);
        set_condition(&mut crd, &Condition::deletion_list_failed("boom"), T1);
        let terminating = find_condition(&crd, TERMINATING)
            .cloned()
            .unwrap_or_default();
        assert_eq!(terminating["lastTransitionTime"], T0);
        assert_eq!(terminating["reason"], "InstanceDeletionFailed");
        assert_eq!(terminating["message"], "could not list instances: boom");
    }

    #[test]
    fn equivalence_ignores_time() {
        let stored = Condition::names_accepted().to_json(T0);
        assert!(Condition::names_accepted().is_equivalent(&stored));
        assert!(
            !Condition::names_conflict("PluralConflict", "\"foos\" is already in use")
                .is_equivalent(&stored)
        );
    }

    #[test]
    fn remove_drops_only_that_type() {
        let mut crd = json!({});
        set_condition(&mut crd, &Condition::names_accepted(), T0);
        set_condition(&mut crd, &Condition::deletion_in_progress(), T0);
        remove_condition(&mut crd, TERMINATING);
        assert!(find_condition(&crd, TERMINATING).is_none());
        assert!(find_condition(&crd, NAMES_ACCEPTED).is_some());
    }
}
