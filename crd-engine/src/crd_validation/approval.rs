//! API approval: groups under `k8s.io` and `kubernetes.io` belong to the
//! Kubernetes project, so a CRD there must carry the
//! `api-approved.kubernetes.io` annotation linking the approving review, or
//! say it is unapproved.

use apiserver::validation::FieldError;
use serde_json::{json, Value};

use super::go_url;

const ANNOTATION: &str = "api-approved.kubernetes.io";
const FIELD: &str = "metadata.annotations[api-approved.kubernetes.io]";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Approval {
    /// Neither a URL nor a reason starting with "unapproved".
    Invalid,
    /// A URL with scheme and host.
    Approved,
    /// A reason starting with "unapproved".
    Bypassed,
    Missing,
}

/// Errors for a CRD in a protected group. On update nothing is reported
/// while the approval state stays what it was, so a controller that only
/// touches the spec is never turned away.
pub(super) fn errors(crd: &Value, old: Option<&Value>) -> Vec<FieldError> {
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !is_protected(group) {
        return Vec::new();
    }
    let (state, value) = approval(crd);
    if old.is_some_and(|old| approval(old).0 == state) {
        return Vec::new();
    }
    let see = "see https://github.com/kubernetes/enhancements/pull/1111";
    match state {
        Approval::Missing => vec![FieldError::required(
            FIELD,
            format!("protected groups must have approval annotation {ANNOTATION:?}, {see}"),
        )],
        Approval::Invalid => vec![FieldError::invalid(
            FIELD,
            json!(value),
            format!(
                "protected groups must have approval annotation {ANNOTATION:?} with either a URL or a reason starting with \"unapproved\", {see}"
            ),
        )],
        Approval::Approved | Approval::Bypassed => Vec::new(),
    }
}

fn is_protected(group: &str) -> bool {
    ["k8s.io", "kubernetes.io"]
        .iter()
        .any(|root| group == *root || group.ends_with(&format!(".{root}")))
}

fn approval(crd: &Value) -> (Approval, &str) {
    let value = crd
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("");
    let state = if value.is_empty() {
        Approval::Missing
    } else if value.starts_with("unapproved") {
        Approval::Bypassed
    } else if go_url::parse_request_uri(value)
        .is_ok_and(|url| !url.host.is_empty() && !url.scheme.is_empty())
    {
        Approval::Approved
    } else {
        Approval::Invalid
    };
    (state, value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn crd(group: &str, annotation: Option<&str>) -> Value {
        let annotations = annotation.map_or(json!({}), |a| json!({ANNOTATION: a}));
        json!({"metadata": {"annotations": annotations}, "spec": {"group": group}})
    }

    fn rendered(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn other_groups_need_no_approval() {
        assert!(errors(&crd("example.com", None), None).is_empty());
    }

    #[test]
    fn protected_groups_need_the_annotation() {
        assert_eq!(
            rendered(errors(&crd("storage.k8s.io", None), None)),
            ["metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups must have approval annotation \"api-approved.kubernetes.io\", see https://github.com/kubernetes/enhancements/pull/1111"]
        );
        assert_eq!(
            rendered(errors(&crd("kubernetes.io", Some("soon")), None)),
            ["metadata.annotations[api-approved.kubernetes.io]: Invalid value: \"soon\": protected groups must have approval annotation \"api-approved.kubernetes.io\" with either a URL or a reason starting with \"unapproved\", see https://github.com/kubernetes/enhancements/pull/1111"]
        );
    }

    #[test]
    fn urls_and_unapproved_reasons_pass() {
        let approved = crd(
            "x.k8s.io",
            Some("https://github.com/kubernetes/kubernetes/pull/78458"),
        );
        assert!(errors(&approved, None).is_empty());
        let bypassed = crd("x.k8s.io", Some("unapproved, experimental"));
        assert!(errors(&bypassed, None).is_empty());
    }

    #[test]
    fn unchanged_state_is_kept_on_update() {
        let missing = crd("x.k8s.io", None);
        assert!(errors(&missing, Some(&missing)).is_empty());
        let approved = crd("x.k8s.io", Some("https://example.com/review"));
        assert_eq!(errors(&missing, Some(&approved)).len(), 1);
    }
}
