//! apps/v1 Deployments: upstream's defaults (replicas, rolling update,
//! history and progress limits, pod template), the selector/template rules,
//! and the table `kubectl get deployments` prints.

use serde_json::{json, Value};

use super::pod_spec::{default_pod_spec, one_of, validate_pod_spec};
use super::{array_at, child_object, default_field, str_at};
use crate::resource::{age_cell, Column, ScaleSelector, ScaleSpec, Strategy, AGE_COLUMN};
use crate::validation::FieldError;

/// apps/v1 Deployments.
pub struct DeploymentStrategy;

/// Upstream `SetDefaults_Deployment` for apps/v1.
fn set_defaults(object: &mut Value) {
    let Some(spec) = child_object(object, "spec") else {
        return;
    };
    default_field(spec, "replicas", json!(1));
    default_field(spec, "revisionHistoryLimit", json!(10));
    default_field(spec, "progressDeadlineSeconds", json!(600));
    let strategy = spec.entry("strategy").or_insert_with(|| json!({}));
    if let Some(strategy) = strategy.as_object_mut() {
        default_field(strategy, "type", json!("RollingUpdate"));
        if strategy.get("type").and_then(Value::as_str) == Some("RollingUpdate") {
            let rolling = strategy.entry("rollingUpdate").or_insert_with(|| json!({}));
            if rolling.is_null() {
                *rolling = json!({});
            }
            if let Some(rolling) = rolling.as_object_mut() {
                default_field(rolling, "maxUnavailable", json!("25%"));
                default_field(rolling, "maxSurge", json!("25%"));
            }
        }
    }
    if let Some(pod_spec) = object.pointer_mut("/spec/template/spec") {
        default_pod_spec(pod_spec);
    }
}

/// Whether `labels` satisfy a `metav1.LabelSelector`. An empty selector
/// matches everything; a malformed one matches nothing.
fn selector_matches(selector: &Value, labels: &Value) -> bool {
    let label = |key: &str| labels.get(key).and_then(Value::as_str);
    let by_labels = selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .all(|(k, v)| label(k).is_some() && label(k) == v.as_str());
    let by_expressions = array_at(selector, "/matchExpressions").iter().all(|e| {
        let value = label(str_at(e, "/key"));
        let listed = |v: &str| array_at(e, "/values").iter().any(|x| x.as_str() == Some(v));
        match str_at(e, "/operator") {
            "In" => value.is_some_and(listed),
            "NotIn" => !value.is_some_and(listed),
            "Exists" => value.is_some(),
            "DoesNotExist" => value.is_none(),
            _ => false,
        }
    });
    by_labels && by_expressions
}

fn is_empty_selector(selector: &Value) -> bool {
    let labels = selector.get("matchLabels").and_then(Value::as_object);
    labels.is_none_or(|l| l.is_empty()) && array_at(selector, "/matchExpressions").is_empty()
}

/// A selector as upstream's `labels.Selector.String()` writes it:
/// requirements sorted by key, `k=v`, `k in (a,b)`, `k notin (a,b)`, `k`, `!k`.
fn selector_string(selector: Option<&Value>) -> String {
    let Some(selector) = selector.filter(|s| s.is_object()) else {
        return String::new();
    };
    let mut requirements: Vec<(String, String)> = Vec::new();
    for (key, value) in selector
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let value = value.as_str().unwrap_or_default();
        requirements.push((key.clone(), format!("{key}={value}")));
    }
    for expression in array_at(selector, "/matchExpressions") {
        let key = str_at(expression, "/key");
        let mut values: Vec<&str> = array_at(expression, "/values")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match str_at(expression, "/operator") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_string(),
            "DoesNotExist" => format!("!{key}"),
            _ => return "<invalid>".into(),
        };
        requirements.push((key.to_string(), text));
    }
    requirements.sort_by(|a, b| a.0.cmp(&b.0));
    requirements
        .into_iter()
        .map(|(_, text)| text)
        .collect::<Vec<_>>()
        .join(",")
}

fn non_negative(object: &Value, pointer: &str, field: &str) -> Option<FieldError> {
    let value = object.pointer(pointer)?.as_i64()?;
    (value < 0)
        .then(|| FieldError::invalid(field, json!(value), "must be greater than or equal to 0"))
}

const PERCENT_RULE: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/// An int-or-percent value: Ok(number, is_percent) or the error.
fn int_or_percent(value: &Value, field: &str) -> Result<(i64, bool), FieldError> {
    match value {
        Value::Number(n) => match n.as_i64() {
            Some(v) if v >= 0 => Ok((v, false)),
            _ => Err(FieldError::invalid(
                field,
                value.clone(),
                "must be greater than or equal to 0",
            )),
        },
        Value::String(s) => s
            .strip_suffix('%')
            .filter(|digits| !digits.is_empty() && digits.chars().all(|c| c.is_ascii_digit()))
            .and_then(|digits| digits.parse::<i64>().ok())
            .map(|v| (v, true))
            .ok_or_else(|| FieldError::invalid(field, value.clone(), PERCENT_RULE)),
        _ => Err(FieldError::invalid(field, value.clone(), PERCENT_RULE)),
    }
}

fn strategy_errors(spec: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let strategy = spec.get("strategy").cloned().unwrap_or(json!({}));
    let rolling = strategy.get("rollingUpdate").filter(|r| !r.is_null());
    match str_at(&strategy, "/type") {
        "Recreate" if rolling.is_some() => errors.push(FieldError::forbidden(
            "spec.strategy.rollingUpdate",
            "may not be specified when strategy `type` is 'Recreate'",
        )),
        "Recreate" => {}
        "RollingUpdate" => {
            let Some(rolling) = rolling else {
                errors.push(FieldError::required(
                    "spec.strategy.rollingUpdate",
                    "this should be defaulted and never be nil",
                ));
                return errors;
            };
            let mut amount = |name: &str| {
                let value = rolling.get(name)?;
                match int_or_percent(value, &format!("spec.strategy.rollingUpdate.{name}")) {
                    Ok(parsed) => Some(parsed),
                    Err(e) => {
                        errors.push(e);
                        None
                    }
                }
            };
            let unavailable = amount("maxUnavailable");
            let surge = amount("maxSurge");
            if let Some((value, true)) = unavailable.filter(|(v, _)| *v > 100) {
                errors.push(FieldError::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    json!(format!("{value}%")),
                    "must not be greater than 100%",
                ));
            }
            if unavailable.map(|u| u.0) == Some(0) && surge.map(|s| s.0) == Some(0) {
                errors.push(FieldError::invalid(
                    "spec.strategy.rollingUpdate.maxUnavailable",
                    rolling.get("maxUnavailable").cloned().unwrap_or(json!(0)),
                    "may not be 0 when `maxSurge` is 0",
                ));
            }
        }
        other => errors.push(FieldError::not_supported(
            "spec.strategy.type",
            json!(other),
            &["Recreate", "RollingUpdate"],
        )),
    }
    errors
}

/// Upstream `ValidatePodTemplateSpecForReplicaSet`: labels match the
/// selector, the pod spec is valid, pods always restart.
fn template_errors(spec: &Value, selector: Option<&Value>) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let labels = spec
        .pointer("/template/metadata/labels")
        .cloned()
        .unwrap_or(Value::Null);
    if let Some(selector) = selector.filter(|s| !is_empty_selector(s)) {
        if !selector_matches(selector, &labels) {
            errors.push(FieldError::invalid(
                "spec.template.metadata.labels",
                labels,
                "`selector` does not match template `labels`",
            ));
        }
    }
    let pod_spec = spec.pointer("/template/spec").cloned().unwrap_or(json!({}));
    errors.extend(validate_pod_spec(&pod_spec, "spec.template.spec"));
    errors.retain(|e| e.field != "spec.template.spec.restartPolicy");
    errors.extend(one_of(
        &pod_spec,
        "/restartPolicy",
        "spec.template.spec.restartPolicy",
        &["Always"],
    ));
    if pod_spec
        .get("activeDeadlineSeconds")
        .is_some_and(|v| !v.is_null())
    {
        errors.push(FieldError::forbidden(
            "spec.template.spec.activeDeadlineSeconds",
            "activeDeadlineSeconds in ReplicaSet is not Supported",
        ));
    }
    errors
}

impl Strategy for DeploymentStrategy {
    fn scale(&self) -> Option<ScaleSpec> {
        Some(ScaleSpec {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            selector: ScaleSelector::LabelSelectorAt("/spec/selector".into()),
        })
    }

    fn prepare_for_create(&self, object: &mut Value) {
        set_defaults(object);
        if let Some(map) = object.as_object_mut() {
            map.insert("status".into(), json!({}));
        }
    }

    fn prepare_for_update(&self, object: &mut Value, _old: &Value) {
        set_defaults(object);
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let spec = object.get("spec").cloned().unwrap_or(json!({}));
        let mut errors = Vec::new();
        for (pointer, field) in [
            ("/replicas", "spec.replicas"),
            ("/minReadySeconds", "spec.minReadySeconds"),
            ("/revisionHistoryLimit", "spec.revisionHistoryLimit"),
            ("/progressDeadlineSeconds", "spec.progressDeadlineSeconds"),
        ] {
            errors.extend(non_negative(&spec, pointer, field));
        }
        let selector = spec.get("selector").filter(|s| !s.is_null());
        match selector {
            None => errors.push(FieldError::required("spec.selector", "")),
            Some(s) if is_empty_selector(s) => errors.push(FieldError::invalid(
                "spec.selector",
                s.clone(),
                "empty selector is invalid for deployment",
            )),
            Some(_) => {}
        }
        errors.extend(template_errors(&spec, selector));
        errors.extend(strategy_errors(&spec));
        let deadline = spec.get("progressDeadlineSeconds").and_then(Value::as_i64);
        let min_ready = spec
            .get("minReadySeconds")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if let Some(deadline) = deadline.filter(|d| *d <= min_ready) {
            errors.push(FieldError::invalid(
                "spec.progressDeadlineSeconds",
                json!(deadline),
                "must be greater than minReadySeconds",
            ));
        }
        errors
    }

    /// apps/v1 made the selector immutable.
    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = self.validate(object);
        let selector = object.pointer("/spec/selector");
        if !super::same(selector, old.pointer("/spec/selector")) {
            errors.push(FieldError::invalid(
                "spec.selector",
                selector.cloned().unwrap_or(Value::Null),
                "field is immutable",
            ));
        }
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Ready", "string", "Number of the pod with ready state"),
            Column::new("Up-to-date", "string", "Total number of non-terminated pods targeted by this deployment that have the desired template spec."),
            Column::new("Available", "string", "Total number of available pods (ready for at least minReadySeconds) targeted by this deployment."),
            AGE_COLUMN,
            Column::new("Containers", "string", "Names of each container in the template.").wide(),
            Column::new("Images", "string", "Images referenced by each container in the template.").wide(),
            Column::new("Selector", "string", "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.").wide(),
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        let count = |pointer: &str| object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0);
        let containers = array_at(object, "/spec/template/spec/containers");
        let join = |field: &str| {
            containers
                .iter()
                .map(|c| str_at(c, field))
                .collect::<Vec<_>>()
                .join(",")
        };
        vec![
            json!(format!(
                "{}/{}",
                count("/status/readyReplicas"),
                count("/spec/replicas")
            )),
            json!(count("/status/updatedReplicas")),
            json!(count("/status/availableReplicas")),
            age_cell(object),
            json!(join("/name")),
            json!(join("/image")),
            json!(selector_string(object.pointer("/spec/selector"))),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deployment(labels: Value) -> Value {
        json!({"metadata": {"name": "web"}, "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {"metadata": {"labels": labels},
                "spec": {"containers": [{"name": "nginx", "image": "nginx:1.25"}]}}}})
    }

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn create_fills_upstream_defaults() {
        let mut d = deployment(json!({"app": "web"}));
        DeploymentStrategy.prepare_for_create(&mut d);
        let spec = &d["spec"];
        assert_eq!(spec["replicas"], 1);
        assert_eq!(spec["revisionHistoryLimit"], 10);
        assert_eq!(spec["progressDeadlineSeconds"], 600);
        assert_eq!(
            spec["strategy"],
            json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
        );
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["restartPolicy"], "Always");
        assert_eq!(pod["containers"][0]["imagePullPolicy"], "IfNotPresent");
        assert!(pod.get("enableServiceLinks").is_none());
        assert_eq!(d["status"], json!({}));
        assert!(DeploymentStrategy.validate(&d).is_empty());
    }

    #[test]
    fn selector_must_match_template_labels() {
        let mut d = deployment(json!({"app": "x"}));
        DeploymentStrategy.prepare_for_create(&mut d);
        assert_eq!(
            messages(DeploymentStrategy.validate(&d)),
            vec!["spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"x\"}: `selector` does not match template `labels`"]
        );
    }

    #[test]
    fn spec_rules_use_upstream_messages() {
        let mut d = json!({"spec": {"replicas": -1, "template": {"spec": {"restartPolicy": "Never", "containers": []}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 0}}}});
        DeploymentStrategy.prepare_for_create(&mut d);
        let found = messages(DeploymentStrategy.validate(&d));
        for expected in [
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0",
            "spec.selector: Required value",
            "spec.template.spec.containers: Required value",
            "spec.template.spec.restartPolicy: Unsupported value: \"Never\": supported values: \"Always\"",
            "spec.strategy.rollingUpdate.maxUnavailable: Invalid value: 0: may not be 0 when `maxSurge` is 0",
        ] {
            assert!(found.contains(&expected.to_string()), "missing {expected:?} in {found:?}");
        }
    }

    #[test]
    fn selector_is_immutable() {
        let mut old = deployment(json!({"app": "web", "tier": "f"}));
        DeploymentStrategy.prepare_for_create(&mut old);
        let mut new = old.clone();
        new["spec"]["selector"] = json!({"matchLabels": {"tier": "f"}});
        let found = messages(DeploymentStrategy.validate_update(&new, &old));
        assert_eq!(found.len(), 1);
        assert!(
            found[0].starts_with("spec.selector: Invalid value:")
                && found[0].ends_with("field is immutable")
        );
    }

    #[test]
    fn table_cells_follow_kubectl() {
        let mut d = deployment(json!({"app": "web"}));
        d["spec"]["selector"]["matchExpressions"] =
            json!([{"key": "env", "operator": "In", "values": ["prod", "dev"]}]);
        DeploymentStrategy.prepare_for_create(&mut d);
        d["status"] = json!({"readyReplicas": 1, "updatedReplicas": 1, "availableReplicas": 1});
        let cells = DeploymentStrategy.cells(&d);
        assert_eq!(cells[..3], [json!("1/1"), json!(1), json!(1)]);
        assert_eq!(
            cells[4..],
            [
                json!("nginx"),
                json!("nginx:1.25"),
                json!("app=web,env in (dev,prod)")
            ]
        );
        assert_eq!(DeploymentStrategy.columns().len(), cells.len());
    }
}
