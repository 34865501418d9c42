//! core/v1 Pods: the pod strategy (status on create, what an update may
//! change) and the table `kubectl get pods` prints.

use crate::resource::SelectableField;
use serde_json::{json, Value};

use super::pod_spec::{default_pod_spec, qos_class, validate_pod_spec};
use super::{array_at, child_object, default_field, items_mut, str_at};
use crate::resource::{age_cell, human_duration, Column, Strategy, AGE_COLUMN};
use crate::validation::FieldError;

/// out so the rest of the spec can be compared whole.
fn mutable_fields_masked(spec: &Value) -> Value {
    let mut masked = spec.clone();
    for list in ["containers", "initContainers"] {
        for container in items_mut(&mut masked, list) {
            if let Some(map) = container.as_object_mut() {
                map.remove("image");
            }
        }
    }
    if let Some(map) = masked.as_object_mut() {
        for field in [
            "activeDeadlineSeconds",
            "tolerations",
            "terminationGracePeriodSeconds",
        ] {
            map.remove(field);
        }
    }
    masked
}

const POD_UPDATE_FORBIDDEN: &str = "pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// core/v1 Pods.
pub struct PodStrategy;

impl Strategy for PodStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        if let Some(spec) = child_object(object, "spec") {
            default_field(spec, "enableServiceLinks", json!(true));
        }
        if let Some(spec) = object.get_mut("spec") {
            default_pod_spec(spec);
        }
        let qos = object.get("spec").map(qos_class).unwrap_or("BestEffort");
        if let Some(map) = object.as_object_mut() {
            map.insert(
                "status".into(),
                json!({"phase": "Pending", "qosClass": qos}),
            );
        }
    }

    fn prepare_for_update(&self, object: &mut Value, _old: &Value) {
        if let Some(spec) = child_object(object, "spec") {
            default_field(spec, "enableServiceLinks", json!(true));
        }
        if let Some(spec) = object.get_mut("spec") {
            default_pod_spec(spec);
        }
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        match object.get("spec") {
            Some(spec) => validate_pod_spec(spec, "spec"),
            None => vec![FieldError::required("spec.containers", "")],
        }
    }

    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = self.validate(object);
        let new_spec = object.get("spec").map(mutable_fields_masked);
        let old_spec = old.get("spec").map(mutable_fields_masked);
        if new_spec != old_spec {
            errors.push(FieldError::forbidden("spec", POD_UPDATE_FORBIDDEN));
        }
        errors
    }

    fn tracks_generation(&self) -> bool {
        true
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Ready", "string", "The aggregate readiness state of this pod for accepting traffic."),
            Column::new("Status", "string", "The aggregate status of the containers in this pod."),
            Column::new("Restarts", "string", "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted."),
            AGE_COLUMN,
            Column::new("IP", "string", "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.").wide(),
            Column::new("Node", "string", "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName.").wide(),
            Column::new("Nominated Node", "string", "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.").wide(),
            Column::new("Readiness Gates", "string", "If specified, all readiness gates will be evaluated for pod readiness.").wide(),
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        let summary = PodSummary::of(object);
        vec![
            json!(format!("{}/{}", summary.ready, summary.total)),
            json!(summary.reason),
            json!(summary.restarts_cell()),
            age_cell(object),
            json!(none_if_empty(pod_ip(object))),
            json!(none_if_empty(str_at(object, "/spec/nodeName"))),
            json!(none_if_empty(str_at(object, "/status/nominatedNodeName"))),
            json!(readiness_gates(object)),
        ]
    }

    fn selectable_fields(&self, object: &Value) -> Vec<SelectableField> {
        let host_network = object
            .pointer("/spec/hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        vec![
            (
                "spec.nodeName".into(),
                str_at(object, "/spec/nodeName").into(),
            ),
            (
                "spec.restartPolicy".into(),
                str_at(object, "/spec/restartPolicy").into(),
            ),
            (
                "spec.schedulerName".into(),
                str_at(object, "/spec/schedulerName").into(),
            ),
            (
                "spec.serviceAccountName".into(),
                str_at(object, "/spec/serviceAccountName").into(),
            ),
            ("spec.hostNetwork".into(), host_network.to_string()),
            (
                "status.phase".into(),
                str_at(object, "/status/phase").into(),
            ),
            ("status.podIP".into(), pod_ip(object).into()),
            (
                "status.nominatedNodeName".into(),
                str_at(object, "/status/nominatedNodeName").into(),
            ),
        ]
    }
}

fn none_if_empty(value: &str) -> &str {
    if value.is_empty() {
        "<none>"
    } else {
        value
    }
}

/// The first of `status.podIPs`, else `status.podIP`.
fn pod_ip(object: &Value) -> &str {
    match str_at(object, "/status/podIPs/0/ip") {
        "" => str_at(object, "/status/podIP"),
        ip => ip,
    }
}

fn readiness_gates(object: &Value) -> String {
    let gates = array_at(object, "/spec/readinessGates");
    if gates.is_empty() {
        return "<none>".into();
    }
    let conditions = array_at(object, "/status/conditions");
    let true_count = gates
        .iter()
        .filter(|gate| {
            let wanted = str_at(gate, "/conditionType");
            conditions
                .iter()
                .find(|c| str_at(c, "/type") == wanted)
                .is_some_and(|c| str_at(c, "/status") == "True")
        })
        .count();
    format!("{true_count}/{}", gates.len())
}

/// What `kubectl get pods` shows of a pod's state, worked out as upstream's
/// printer does: init containers first, then regular containers from last
/// to first, so the first container's state wins.
struct PodSummary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<chrono::DateTime<chrono::Utc>>,
}

fn finished_at(status: &Value) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = str_at(status, "/lastState/terminated/finishedAt");
    chrono::DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&chrono::Utc))
}

fn terminated_reason(terminated: &Value, prefix: &str) -> String {
    match str_at(terminated, "/reason") {
        "" => match terminated
            .get("signal")
            .and_then(Value::as_i64)
            .filter(|s| *s != 0)
        {
            Some(signal) => format!("{prefix}Signal:{signal}"),
            None => {
                let code = terminated
                    .get("exitCode")
                    .and_then(Value::as_i64)
                    .unwrap_or(0);
                format!("{prefix}ExitCode:{code}")
            }
        },
        reason => format!("{prefix}{reason}"),
    }
}

impl PodSummary {
    fn of(pod: &Value) -> Self {
        let init_specs = array_at(pod, "/spec/initContainers");
        let is_sidecar = |name: &str| {
            init_specs
                .iter()
                .any(|c| str_at(c, "/name") == name && str_at(c, "/restartPolicy") == "Always")
        };
        let sidecars = init_specs
            .iter()
            .filter(|c| str_at(c, "/restartPolicy") == "Always")
            .count();
        let mut summary = PodSummary {
            ready: 0,
            total: array_at(pod, "/spec/containers").len() + sidecars,
            reason: match str_at(pod, "/status/reason") {
                "" => str_at(pod, "/status/phase").to_string(),
                reason => reason.to_string(),
            },
            restarts: 0,
            last_restart: None,
        };
        let conditions = array_at(pod, "/status/conditions");
        if conditions.iter().any(|c| {
            str_at(c, "/type") == "PodScheduled" && str_at(c, "/reason") == "SchedulingGated"
        }) {
            summary.reason = "SchedulingGated".into();
        }
        let mut sidecar_restarts = 0;
        let mut sidecar_last = None;
        let mut initializing = false;
        let init_statuses = array_at(pod, "/status/initContainerStatuses");
        for (i, status) in init_statuses.iter().enumerate() {
            let restarts = status
                .get("restartCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            summary.restarts += restarts;
            summary.last_restart = summary.last_restart.max(finished_at(status));
            let sidecar = is_sidecar(str_at(status, "/name"));
            if sidecar {
                sidecar_restarts += restarts;
                sidecar_last = sidecar_last.max(finished_at(status));
            }
            let terminated = status.pointer("/state/terminated");
            let exit_code = terminated
                .and_then(|t| t.get("exitCode"))
                .and_then(Value::as_i64);
            let waiting_reason = str_at(status, "/state/waiting/reason");
            if terminated.is_some() && exit_code.unwrap_or(0) == 0 {
                continue;
            }
            if sidecar && status.get("started").and_then(Value::as_bool) == Some(true) {
                if status.get("ready").and_then(Value::as_bool) == Some(true) {
                    summary.ready += 1;
                }
                continue;
            }
            summary.reason = match terminated {
                Some(t) => terminated_reason(t, "Init:"),
                None if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" => {
                    format!("Init:{waiting_reason}")
                }
                None => format!("Init:{i}/{}", init_specs.len()),
            };
            initializing = true;
            break;
        }
        let initialized = conditions
            .iter()
            .any(|c| str_at(c, "/type") == "Initialized" && str_at(c, "/status") == "True");
        if !initializing || initialized {
            summary.restarts = sidecar_restarts;
            summary.last_restart = sidecar_last;
            summary.main_containers(pod, conditions);
        }
        if pod
            .pointer("/metadata/deletionTimestamp")
            .is_some_and(|v| !v.is_null())
        {
            let phase = str_at(pod, "/status/phase");
            if str_at(pod, "/status/reason") == "NodeLost" {
                summary.reason = "Unknown".into();
            } else if phase != "Succeeded" && phase != "Failed" {
                summary.reason = "Terminating".into();
            }
        }
        summary
    }

    fn main_containers(&mut self, pod: &Value, conditions: &[Value]) {
        let mut has_running = false;
        for status in array_at(pod, "/status/containerStatuses").iter().rev() {
            self.restarts += status
                .get("restartCount")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            self.last_restart = self.last_restart.max(finished_at(status));
            let waiting_reason = str_at(status, "/state/waiting/reason");
            let terminated = status.pointer("/state/terminated");
            if !waiting_reason.is_empty() {
                self.reason = waiting_reason.to_string();
            } else if let Some(t) = terminated {
                self.reason = terminated_reason(t, "");
            } else if status.get("ready").and_then(Value::as_bool) == Some(true)
                && status.pointer("/state/running").is_some()
            {
                has_running = true;
                self.ready += 1;
            }
        }
        if self.reason == "Completed" && has_running {
            let ready = conditions
                .iter()
                .any(|c| str_at(c, "/type") == "Ready" && str_at(c, "/status") == "True");
            self.reason = if ready { "Running" } else { "NotReady" }.into();
        }
    }

    fn restarts_cell(&self) -> String {
        match self.last_restart {
            Some(at) if self.restarts != 0 => {
                let ago = (chrono::Utc::now() - at).num_seconds();
                format!("{} ({} ago)", self.restarts, human_duration(ago))
            }
            _ => self.restarts.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::FieldErrorKind;

    fn created(mut pod: Value) -> Value {
        PodStrategy.prepare_for_create(&mut pod);
        pod
    }

    #[test]
    fn create_fills_upstream_defaults_and_status() {
        let pod = created(json!({"metadata": {"name": "p"}, "spec": {"containers": [
            {"name": "a", "image": "nginx", "ports": [{"containerPort": 80}]},
            {"name": "b", "image": "busybox:1.36"},
        ]}}));
        assert_eq!(pod["spec"]["restartPolicy"], "Always");
        assert_eq!(pod["spec"]["dnsPolicy"], "ClusterFirst");
        assert_eq!(pod["spec"]["schedulerName"], "default-scheduler");
        assert_eq!(pod["spec"]["terminationGracePeriodSeconds"], 30);
        assert_eq!(pod["spec"]["securityContext"], json!({}));
        assert_eq!(pod["spec"]["enableServiceLinks"], true);
        let a = &pod["spec"]["containers"][0];
        assert_eq!(a["imagePullPolicy"], "Always");
        assert_eq!(a["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(a["terminationMessagePolicy"], "File");
        assert_eq!(a["ports"][0]["protocol"], "TCP");
        assert_eq!(
            pod["spec"]["containers"][1]["imagePullPolicy"],
            "IfNotPresent"
        );
        assert_eq!(
            pod["status"],
            json!({"phase": "Pending", "qosClass": "BestEffort"})
        );
    }

    #[test]
    fn qos_class_is_computed() {
        let limits = json!({"cpu": "500m", "memory": "128Mi"});
        let guaranteed = created(json!({"spec": {"containers": [
            {"name": "a", "image": "x", "resources": {"limits": limits}}]}}));
        assert_eq!(guaranteed["status"]["qosClass"], "Guaranteed");
        assert_eq!(
            guaranteed["spec"]["containers"][0]["resources"]["requests"]["cpu"],
            "500m"
        );
        let burstable = created(json!({"spec": {"containers": [
            {"name": "a", "image": "x", "resources": {"requests": {"cpu": "100m"}}}]}}));
        assert_eq!(burstable["status"]["qosClass"], "Burstable");
    }

    #[test]
    fn validation_reports_upstream_paths() {
        let pod = created(
            json!({"spec": {"restartPolicy": "Sometimes", "containers": [
            {"name": "a", "image": "x"}, {"name": "a"}, {"name": "Bad", "image": "y"}]}}),
        );
        let messages: Vec<String> = PodStrategy
            .validate(&pod)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert!(messages.contains(&"spec.containers[1].name: Duplicate value: \"a\"".to_string()));
        assert!(messages.contains(&"spec.containers[1].image: Required value".to_string()));
        assert!(messages.iter().any(|m| m.starts_with(
            "spec.containers[2].name: Invalid value: \"Bad\": a lowercase RFC 1123 label"
        )));
        assert!(messages.contains(&"spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"".to_string()));
        let empty = created(json!({"spec": {"containers": []}}));
        let messages: Vec<String> = PodStrategy
            .validate(&empty)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, vec!["spec.containers: Required value"]);
    }

    #[test]
    fn updates_may_change_only_images() {
        let old = created(json!({"spec": {"containers": [{"name": "a", "image": "x:1"}]}}));
        let mut new = old.clone();
        new["spec"]["containers"][0]["image"] = json!("x:2");
        assert!(PodStrategy.validate_update(&new, &old).is_empty());
        new["spec"]["restartPolicy"] = json!("Never");
        let errors = PodStrategy.validate_update(&new, &old);
        assert_eq!(errors.len(), 1);
        assert!(errors[0]
            .to_string()
            .starts_with("spec: Forbidden: pod updates may not change fields"));
    }

    #[test]
    fn table_cells_follow_kubectl() {
        let mut pod = created(
            json!({"metadata": {"creationTimestamp": "2020-01-01T00:00:00Z"},
            "spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "x"}, {"name": "b", "image": "y"}]}}),
        );
        assert_eq!(
            PodStrategy.cells(&pod)[..3],
            [json!("0/2"), json!("Pending"), json!("0")]
        );
        pod["status"] = json!({"phase": "Running", "podIPs": [{"ip": "10.1.0.5"}], "containerStatuses": [
            {"name": "a", "ready": true, "restartCount": 0, "state": {"running": {}}},
            {"name": "b", "ready": false, "restartCount": 2, "state": {"waiting": {"reason": "CrashLoopBackOff"}},
             "lastState": {"terminated": {"finishedAt": "2020-01-01T00:00:00Z"}}}]});
        let cells = PodStrategy.cells(&pod);
        assert_eq!(cells[0], "1/2");
        assert_eq!(cells[1], "CrashLoopBackOff");
        assert!(cells[2]
            .as_str()
            .is_some_and(|s| s.starts_with("2 (") && s.ends_with(" ago)")));
        assert_eq!(
            cells[4..],
            [
                json!("10.1.0.5"),
                json!("n1"),
                json!("<none>"),
                json!("<none>")
            ]
        );
        assert_eq!(PodStrategy.columns().len(), cells.len());
    }

    #[test]
    fn wrong_types_are_caught_by_the_typed_check() {
        let pod = created(
            json!({"spec": {"hostNetwork": "yes", "containers": [{"name": "a", "image": "x"}]}}),
        );
        let errors = PodStrategy.validate(&pod);
        assert!(errors
            .iter()
            .any(|e| e.field == "spec" && e.kind == FieldErrorKind::TypeInvalid));
    }

    #[test]
    fn init_containers_show_progress() {
        let pod = json!({"spec": {"initContainers": [{"name": "i", "image": "x"}], "containers": [{"name": "a", "image": "x"}]},
            "status": {"phase": "Pending", "initContainerStatuses": [{"name": "i", "state": {"running": {}}}]}});
        assert_eq!(PodStrategy.cells(&pod)[1], "Init:0/1");
    }

    #[test]
    fn field_selectors_cover_upstream_fields() {
        let pod = created(
            json!({"spec": {"nodeName": "n1", "containers": [{"name": "a", "image": "x"}]}}),
        );
        let fields = PodStrategy.selectable_fields(&pod);
        assert!(fields.contains(&("spec.nodeName".into(), "n1".into())));
        assert!(fields.contains(&("spec.hostNetwork".into(), "false".into())));
        assert!(fields.contains(&("status.phase".into(), "Pending".into())));
    }
}
