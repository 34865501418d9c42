//! The pod spec as every workload carries it: upstream's defaults
//! (`SetDefaults_PodSpec`, containers, volumes, probes), the validation
//! rules clients meet most, and the QoS class. Pods and Deployment
//! templates share these.

use serde_json::{json, Map, Value};

use super::{array_at, child_object, default_field, items_mut, str_at};
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
    let host_network = spec.get("hostNetwork").and_then(Value::as_bool) == Some(true);
    for list in ["initContainers", "containers"] {
        for container in items_mut(spec, list) {
            default_container(container, host_network);
        }
    }
    for volume in items_mut(spec, "volumes") {
        default_volume(volume);
    }
}

/// Volume sources whose files get mode 0644 (420) unless told otherwise.
const MODE_SOURCES: &[&str] = &["secret", "configMap", "projected", "downwardAPI"];

/// Upstream `SetDefaults_Volume` and the per-source defaults: a volume with
/// no source is an emptyDir.
fn default_volume(volume: &mut Value) {
    let Some(map) = volume.as_object_mut() else {
        return;
    };
    if map.keys().all(|k| k == "name") {
        map.insert("emptyDir".into(), json!({}));
    }
    for source in MODE_SOURCES {
        if let Some(source) = map.get_mut(*source).and_then(Value::as_object_mut) {
            default_field(source, "defaultMode", json!(420));
        }
    }
    if let Some(host_path) = map.get_mut("hostPath").and_then(Value::as_object_mut) {
        default_field(host_path, "type", json!(""));
    }
}

/// Upstream `SetDefaults_Probe` and `SetDefaults_HTTPGetAction`.
fn default_probe(probe: &mut Value) {
    let Some(map) = probe.as_object_mut() else {
        return;
    };
    default_field(map, "timeoutSeconds", json!(1));
    default_field(map, "periodSeconds", json!(10));
    default_field(map, "successThreshold", json!(1));
    default_field(map, "failureThreshold", json!(3));
    if let Some(http) = map.get_mut("httpGet").and_then(Value::as_object_mut) {
        default_field(http, "path", json!("/"));
        default_field(http, "scheme", json!("HTTP"));
    }
}

fn default_container(container: &mut Value, host_network: bool) {
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
        let number = port.get("containerPort").cloned();
        if let Some(port) = port.as_object_mut() {
            default_field(port, "protocol", json!("TCP"));
            // With the host's network the container port is the host port.
            if let (true, Some(number)) = (host_network, number) {
                default_field(port, "hostPort", number);
            }
        }
    }
    for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(probe) = container.get_mut(probe) {
            default_probe(probe);
        }
    }
    for env in items_mut(container, "env") {
        if let Some(field_ref) = env
            .pointer_mut("/valueFrom/fieldRef")
            .and_then(Value::as_object_mut)
        {
            default_field(field_ref, "apiVersion", json!("v1"));
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
    errors.extend(volume_errors(spec, path));
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

/// Volume names: present, DNS labels, unique.
fn volume_errors(spec: &Value, path: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, volume) in array_at(spec, "/volumes").iter().enumerate() {
        let field = format!("{path}.volumes[{i}].name");
        let name = str_at(volume, "/name");
        if name.is_empty() {
            errors.push(FieldError::required(field, ""));
            continue;
        }
        for message in dns1123_label_errors(name) {
            errors.push(FieldError::invalid(field.clone(), json!(name), message));
        }
        if !seen.insert(name) {
            errors.push(FieldError::duplicate(field, json!(name)));
        }
    }
    errors
}

/// Upstream's rule that a request never exceeds its limit.
fn request_errors(container: &Value, at: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for name in ["cpu", "memory"] {
        let request = quantity(container, &format!("/resources/requests/{name}"));
        let limit = quantity(container, &format!("/resources/limits/{name}"));
        if let (Some(request), Some(limit)) = (request, limit) {
            if request > limit {
                let shown = |kind: &str| {
                    let raw = container.pointer(&format!("/resources/{kind}/{name}"));
                    match raw {
                        Some(Value::String(s)) => s.clone(),
                        Some(other) => other.to_string(),
                        None => String::new(),
                    }
                };
                errors.push(FieldError::invalid(
                    format!("{at}.resources.requests[{name}]"),
                    json!(shown("requests")),
                    format!(
                        "must be less than or equal to {name} limit of {}",
                        shown("limits")
                    ),
                ));
            }
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
    errors.extend(request_errors(container, at));
    errors.extend(env_errors(container, at));
    errors.extend(mount_errors(container, at));
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

/// Upstream `IsRelaxedEnvVarName` (RelaxedEnvironmentVariableValidation,
/// on by default since 1.32): any printable ASCII but `=`.
const ENV_NAME_RULE: &str =
    "a valid environment variable name must consist only of printable ASCII characters other than '='";

/// Upstream `ValidateEnv`: every variable has a name kubelets can export.
fn env_errors(container: &Value, at: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (k, variable) in array_at(container, "/env").iter().enumerate() {
        let field = format!("{at}.env[{k}].name");
        let name = str_at(variable, "/name");
        if name.is_empty() {
            errors.push(FieldError::required(field, ""));
        } else if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
            errors.push(FieldError::invalid(field, json!(name), ENV_NAME_RULE));
        }
    }
    errors
}

/// Upstream `ValidateVolumeMounts`, without the check that the name refers
/// to a volume (its NotFound cause has no FieldErrorKind yet).
fn mount_errors(container: &Value, at: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut paths = std::collections::HashSet::new();
    for (k, mount) in array_at(container, "/volumeMounts").iter().enumerate() {
        let mount_at = format!("{at}.volumeMounts[{k}]");
        if str_at(mount, "/name").is_empty() {
            errors.push(FieldError::required(format!("{mount_at}.name"), ""));
        }
        let path = str_at(mount, "/mountPath");
        if path.is_empty() {
            errors.push(FieldError::required(format!("{mount_at}.mountPath"), ""));
        }
        if !paths.insert(path) {
            errors.push(FieldError::invalid(
                format!("{mount_at}.mountPath"),
                json!(path),
                "must be unique",
            ));
        }
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
pub(super) fn qos_class(spec: &Value) -> &'static str {
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
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volumes_and_requests_are_checked() {
        let spec = json!({"volumes": [{"name": "a", "emptyDir": {}}, {"name": "a", "emptyDir": {}}],
            "containers": [{"name": "c", "image": "x",
                "resources": {"requests": {"cpu": "2"}, "limits": {"cpu": "1"}}}]});
        let found: Vec<String> = validate_pod_spec(&spec, "spec")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(found, vec![
            "spec.containers[0].resources.requests[cpu]: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            "spec.volumes[1].name: Duplicate value: \"a\"",
        ]);
    }

    #[test]
    fn volumes_probes_and_host_ports_get_defaults() {
        let mut spec = json!({"hostNetwork": true, "volumes": [
            {"name": "scratch"}, {"name": "conf", "configMap": {"name": "c"}}, {"name": "h", "hostPath": {"path": "/x"}}],
            "containers": [{"name": "a", "image": "x", "ports": [{"containerPort": 8080}],
                "readinessProbe": {"httpGet": {"port": 8080}},
                "env": [{"name": "NODE", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}]}]});
        default_pod_spec(&mut spec);
        assert_eq!(spec["volumes"][0]["emptyDir"], json!({}));
        assert_eq!(spec["volumes"][1]["configMap"]["defaultMode"], 420);
        assert_eq!(spec["volumes"][2]["hostPath"]["type"], "");
        let container = &spec["containers"][0];
        assert_eq!(container["ports"][0]["hostPort"], 8080);
        assert_eq!(
            container["readinessProbe"],
            json!({"httpGet": {"port": 8080, "path": "/", "scheme": "HTTP"}, "timeoutSeconds": 1,
                "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3})
        );
        assert_eq!(
            container["env"][0]["valueFrom"]["fieldRef"]["apiVersion"],
            "v1"
        );
    }

    #[test]
    fn env_names_and_mount_paths_are_checked() {
        let spec = json!({"containers": [{"name": "c", "image": "i",
            "env": [{"name": "GOOD_1"}, {"name": "has=sign"}, {"name": ""}, {"name": "1.relaxed-ok"}],
            "volumeMounts": [{"name": "v", "mountPath": "/data"}, {"name": "w", "mountPath": "/data"}, {"name": "x"}]}],
            "volumes": [{"name": "v"}, {"name": "w"}, {"name": "x"}]});
        let found: Vec<String> = validate_pod_spec(&spec, "spec")
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            found,
            vec![
                format!("spec.containers[0].env[1].name: Invalid value: \"has=sign\": {ENV_NAME_RULE}"),
                "spec.containers[0].env[2].name: Required value".to_string(),
                "spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data\": must be unique".to_string(),
                "spec.containers[0].volumeMounts[2].mountPath: Required value".to_string(),
            ]
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
}
