//! core/v1 Pods, and the pod-spec rules that workload templates
//! (Deployments) share: defaults, validation, QoS class and the table row
//! `kubectl get pods` prints.

use serde_json::{json, Map, Value};

use super::{array_at, child_object, default_field, items_mut, str_at};
use crate::resource::{age_cell, human_duration, Column, Strategy, AGE_COLUMN};
use crate::validation::{dns1123_label_errors, FieldError, FieldErrorKind};

/// Upstream's `SetDefaults_PodSpec` and the container defaults, for a pod or
/// a pod template.
pub(super) fn default_pod_spec(spec: &mut Value) {
    let Some(map) = spec.as_object_mut() else {
        return;
    };
    default_field(map, "restartPolicy", json!("Always"));
    default_field(map, "dnsPolicy", json!("ClusterFirst"));
    default_field(map, "schedulerName", json!("default-scheduler"));
    default_field(map, "terminationGracePeriodSeconds", json!(30));
    default_field(map, "securityContext", json!({}));
    for list in ["initContainers", "containers"] {
        for container in items_mut(spec, list) {
            default_container(container);
        }
    }
}

fn default_container(container: &mut Value) {
    let policy = image_pull_policy(str_at(container, "/image"));
    let Some(map) = container.as_object_mut() else {
        return;
    };
    default_field(map, "terminationMessagePath", json!("/dev/termination-log"));
    default_field(map, "terminationMessagePolicy", json!("File"));
    default_field(map, "imagePullPolicy", json!(policy));
    default_field(map, "resources", json!({}));
    // Requests default to the limits where only limits are given
    // (upstream `SetDefaults_Pod`).
    if let Some(resources) = child_object(container, "resources") {
        let limits = resources.get("limits").and_then(Value::as_object).cloned();
        if let Some(limits) = limits.filter(|l| !l.is_empty()) {
            let requests = resources.entry("requests").or_insert_with(|| json!({}));
            if let Some(requests) = requests.as_object_mut() {
                for (name, quantity) in limits {
                    requests.entry(name).or_insert(quantity);
                }
            }
        }
    }
    for port in items_mut(container, "ports") {
        if let Some(port) = port.as_object_mut() {
            default_field(port, "protocol", json!("TCP"));
        }
    }
}

/// `Always` for an untagged or `:latest` image, else `IfNotPresent`; an
/// image pinned by digest is never re-pulled.
fn image_pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last_segment = image.rsplit('/').next().unwrap_or(image);
    match last_segment.split_once(':') {
        Some((_, tag)) if tag != "latest" => "IfNotPresent",
        _ => "Always",
    }
}

const RESTART_POLICIES: &[&str] = &["Always", "OnFailure", "Never"];
const DNS_POLICIES: &[&str] = &["ClusterFirst", "ClusterFirstWithHostNet", "Default", "None"];
const PULL_POLICIES: &[&str] = &["Always", "IfNotPresent", "Never"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const MESSAGE_POLICIES: &[&str] = &["FallbackToLogsOnError", "File"];

/// Upstream's `ValidatePodSpec` for the rules clients meet most; `path` is
/// where the spec sits (`spec`, `spec.template.spec`).
pub(super) fn validate_pod_spec(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    if array_at(spec, "/containers").is_empty() {
        errors.push(FieldError::required(format!("{path}.containers"), ""));
    }
    let mut names = std::collections::HashSet::new();
    for list in ["initContainers", "containers"] {
        for (i, container) in array_at(spec, &format!("/{list}")).iter().enumerate() {
            let at = format!("{path}.{list}[{i}]");
            errors.extend(validate_container(container, &at, &mut names));
        }
    }
    errors.extend(one_of(
        spec,
        "/restartPolicy",
        &format!("{path}.restartPolicy"),
        RESTART_POLICIES,
    ));
    errors.extend(one_of(
        spec,
        "/dnsPolicy",
        &format!("{path}.dnsPolicy"),
        DNS_POLICIES,
    ));
    if let Some(deadline) = spec.get("activeDeadlineSeconds").and_then(Value::as_i64) {
        if !(1..=i64::from(i32::MAX)).contains(&deadline) {
            errors.push(FieldError::invalid(
                format!("{path}.activeDeadlineSeconds"),
                json!(deadline),
                "must be between 1 and 2147483647, inclusive",
            ));
        }
    }
    // The typed check runs last: it catches wrong types anywhere in the
    // spec, but would report a missing name or image less clearly.
    if errors.is_empty() {
        if let Err(e) = serde_json::from_value::<k8s_openapi::api::core::v1::PodSpec>(spec.clone())
        {
            errors.push(FieldError::new(
                FieldErrorKind::TypeInvalid,
                path,
                Some(json!("")),
                format!("cannot be handled as a PodSpec: {e}"),
            ));
        }
    }
    errors
}

fn validate_container(
    container: &Value,
    at: &str,
    names: &mut std::collections::HashSet<String>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let name = str_at(container, "/name");
    if name.is_empty() {
        errors.push(FieldError::required(format!("{at}.name"), ""));
    } else {
        for message in dns1123_label_errors(name) {
            errors.push(FieldError::invalid(
                format!("{at}.name"),
                json!(name),
                message,
            ));
        }
        if !names.insert(name.to_string()) {
            errors.push(FieldError::duplicate(format!("{at}.name"), json!(name)));
        }
    }
    let image = str_at(container, "/image");
    if image.is_empty() {
        errors.push(FieldError::required(format!("{at}.image"), ""));
    } else if image.trim() != image {
        errors.push(FieldError::invalid(
            format!("{at}.image"),
            json!(image),
            "must not have leading or trailing whitespace",
        ));
    }
    errors.extend(one_of(
        container,
        "/imagePullPolicy",
        &format!("{at}.imagePullPolicy"),
        PULL_POLICIES,
    ));
    errors.extend(one_of(
        container,
        "/terminationMessagePolicy",
        &format!("{at}.terminationMessagePolicy"),
        MESSAGE_POLICIES,
    ));
    for (j, port) in array_at(container, "/ports").iter().enumerate() {
        let port_at = format!("{at}.ports[{j}]");
        let number = port
            .get("containerPort")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        if !(1..=65535).contains(&number) {
            errors.push(FieldError::invalid(
                format!("{port_at}.containerPort"),
                json!(number),
                "must be between 1 and 65535, inclusive",
            ));
        }
        errors.extend(one_of(
            port,
            "/protocol",
            &format!("{port_at}.protocol"),
            PROTOCOLS,
        ));
    }
    errors
}

/// A NotSupported error when the string at `pointer` is set but not one of
/// `supported`.
pub(super) fn one_of(
    object: &Value,
    pointer: &str,
    field: &str,
    supported: &[&str],
) -> Option<FieldError> {
    let value = object.pointer(pointer)?.as_str()?;
    (!supported.contains(&value)).then(|| FieldError::not_supported(field, json!(value), supported))
}

/// Upstream's `GetPodQOS`: BestEffort without any cpu/memory requests or
/// limits, Guaranteed when every container limits both and requests equal
/// limits, Burstable otherwise.
fn qos_class(spec: &Value) -> &'static str {
    let mut requests: Map<String, Value> = Map::new();
    let mut limits: Map<String, Value> = Map::new();
    let sum = |into: &mut Map<String, Value>, name: &str, amount: f64| {
        let total = into.get(name).and_then(Value::as_f64).unwrap_or(0.0) + amount;
        into.insert(name.to_string(), json!(total));
    };
    let mut guaranteed = true;
    for list in ["/initContainers", "/containers"] {
        for container in array_at(spec, list) {
            let mut limited = 0;
            for name in ["cpu", "memory"] {
                if let Some(q) = quantity(container, &format!("/resources/requests/{name}")) {
                    sum(&mut requests, name, q);
                }
                if let Some(q) = quantity(container, &format!("/resources/limits/{name}")) {
                    sum(&mut limits, name, q);
                    limited += 1;
                }
            }
            guaranteed &= limited == 2;
        }
    }
    if requests.is_empty() && limits.is_empty() {
        return "BestEffort";
    }
    let equal = requests.iter().all(|(name, amount)| {
        let limit = limits.get(name).and_then(Value::as_f64);
        limit.is_some_and(|l| (l - amount.as_f64().unwrap_or(0.0)).abs() < 1e-9)
    });
    if guaranteed && equal && requests.len() == limits.len() {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

/// A non-zero resource quantity at `pointer` as a number (`500m`, `1Gi`, `2`).
fn quantity(object: &Value, pointer: &str) -> Option<f64> {
    let raw = object.pointer(pointer)?;
    let text = match raw {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    let split = text
        .find(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
        .unwrap_or(text.len());
    let (number, suffix) = text.split_at(split);
    let scale = match suffix {
        "" => 1.0,
        "m" => 1e-3,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "E" => 1e18,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        "Ei" => 1024f64.powi(6),
        _ => return None,
    };
    let value = number.parse::<f64>().ok()? * scale;
    (value != 0.0).then_some(value)
}

/// The fields a pod update may change (upstream `ValidatePodUpdate`), masked
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

    fn selectable_fields(&self, object: &Value) -> Vec<(&'static str, String)> {
        let host_network = object
            .pointer("/spec/hostNetwork")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        vec![
            ("spec.nodeName", str_at(object, "/spec/nodeName").into()),
            (
                "spec.restartPolicy",
                str_at(object, "/spec/restartPolicy").into(),
            ),
            (
                "spec.schedulerName",
                str_at(object, "/spec/schedulerName").into(),
            ),
            (
                "spec.serviceAccountName",
                str_at(object, "/spec/serviceAccountName").into(),
            ),
            ("spec.hostNetwork", host_network.to_string()),
            ("status.phase", str_at(object, "/status/phase").into()),
            ("status.podIP", pod_ip(object).into()),
            (
                "status.nominatedNodeName",
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
    fn pull_policy_follows_the_tag() {
        assert_eq!(image_pull_policy("nginx"), "Always");
        assert_eq!(image_pull_policy("nginx:latest"), "Always");
        assert_eq!(image_pull_policy("localhost:5000/nginx"), "Always");
        assert_eq!(
            image_pull_policy("localhost:5000/nginx:1.2"),
            "IfNotPresent"
        );
        assert_eq!(image_pull_policy("nginx@sha256:abcd"), "IfNotPresent");
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
        assert!(fields.contains(&("spec.nodeName", "n1".into())));
        assert!(fields.contains(&("spec.hostNetwork", "false".into())));
        assert!(fields.contains(&("status.phase", "Pending".into())));
    }
}
