//! core/v1 Services: defaults, ClusterIP and NodePort allocation, and
//! upstream's port and type rules.
//!
//! Allocation lives in `allocation` (state and its hooks), the table in
//! `table`.

use crate::resource::SelectableField;
use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{json, Value};

mod allocation;
mod cluster_ip;
mod table;

use cluster_ip::Allocator;

use super::pod_spec::one_of;
use super::{array_at, child_object, default_field, items_mut, str_at};
use crate::resource::{Column, Strategy};
use crate::validation::{
    dns1035_label_errors, dns1123_label_errors, dns1123_subdomain_errors, FieldError,
};

const TYPES: &[&str] = &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"];
const AFFINITIES: &[&str] = &["ClientIP", "None"];
const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];
const TRAFFIC_POLICIES: &[&str] = &["Cluster", "Local"];

/// Upstream `DefaultClientIPServiceAffinitySeconds` (three hours) and
/// `MaxClientIPServiceAffinitySeconds` (a day).
const CLIENT_IP_TIMEOUT_DEFAULT: i64 = 10800;
const CLIENT_IP_TIMEOUT_MAX: i64 = 86400;

/// Upstream's session affinity rules: a ClientIP timeout within a day, and
/// no config at all with affinity None.
fn affinity_errors(object: &Value) -> Vec<FieldError> {
    let config = object
        .pointer("/spec/sessionAffinityConfig")
        .filter(|c| !c.is_null());
    match str_at(object, "/spec/sessionAffinity") {
        "None" if config.is_some() => vec![FieldError::forbidden(
            "spec.sessionAffinityConfig",
            "must not be set when spec.sessionAffinity is None",
        )],
        "ClientIP" => {
            let timeout = config.and_then(|c| c.pointer("/clientIP/timeoutSeconds"));
            match timeout.and_then(Value::as_i64) {
                Some(t) if t <= 0 || t > CLIENT_IP_TIMEOUT_MAX => vec![FieldError::invalid(
                    "spec.sessionAffinityConfig.clientIP.timeoutSeconds",
                    json!(t),
                    format!("must be greater than 0 and less than {CLIENT_IP_TIMEOUT_MAX}"),
                )],
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// Upstream's default `--service-node-port-range`.
const NODE_PORTS: std::ops::RangeInclusive<i64> = 30000..=32767;

/// The `Strategy` for Services; owns the address and port allocators.
pub struct ServiceStrategy {
    ips: Allocator,
    /// Node port to owner (`namespace/name`). A std mutex: held only for map
    /// lookups, never across an await.
    node_ports: Mutex<HashMap<i64, String>>,
}

fn owner(object: &Value) -> String {
    format!(
        "{}/{}",
        str_at(object, "/metadata/namespace"),
        str_at(object, "/metadata/name")
    )
}

fn service_type(object: &Value) -> &str {
    match str_at(object, "/spec/type") {
        "" => "ClusterIP",
        t => t,
    }
}

fn needs_cluster_ip(object: &Value) -> bool {
    service_type(object) != "ExternalName"
}

fn needs_node_ports(object: &Value) -> bool {
    matches!(service_type(object), "NodePort" | "LoadBalancer")
}

/// Whether node ports are handed out on create: NodePort always, a
/// LoadBalancer unless `allocateLoadBalancerNodePorts` is false.
fn allocates_node_ports(object: &Value) -> bool {
    match service_type(object) {
        "NodePort" => true,
        "LoadBalancer" => {
            object.pointer("/spec/allocateLoadBalancerNodePorts") != Some(&json!(false))
        }
        _ => false,
    }
}

/// Upstream `ExternallyAccessible`: reachable from outside the cluster, so
/// `externalTrafficPolicy` applies (a ClusterIP Service only through
/// `externalIPs`).
fn is_externally_accessible(object: &Value) -> bool {
    match service_type(object) {
        "NodePort" | "LoadBalancer" => true,
        "ClusterIP" => !array_at(object, "/spec/externalIPs").is_empty(),
        _ => false,
    }
}

/// Upstream `NeedsHealthCheck`: a LoadBalancer that keeps external traffic
/// on the receiving node gets a `healthCheckNodePort`.
fn needs_health_check(object: &Value) -> bool {
    service_type(object) == "LoadBalancer"
        && str_at(object, "/spec/externalTrafficPolicy") == "Local"
}

/// Upstream `validateServiceExternalTrafficPolicy`.
fn traffic_policy_errors(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let policy = str_at(object, "/spec/externalTrafficPolicy");
    if !is_externally_accessible(object) {
        if !policy.is_empty() {
            errors.push(FieldError::invalid(
                "spec.externalTrafficPolicy",
                json!(policy),
                "may only be set for externally-accessible services",
            ));
        }
    } else if policy.is_empty() {
        errors.push(FieldError::required("spec.externalTrafficPolicy", ""));
    } else {
        errors.extend(one_of(
            object,
            "/spec/externalTrafficPolicy",
            "spec.externalTrafficPolicy",
            TRAFFIC_POLICIES,
        ));
    }
    let health = object
        .pointer("/spec/healthCheckNodePort")
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if needs_health_check(object) {
        if health <= 0 {
            errors.push(FieldError::required(
                "spec.healthCheckNodePort",
                "must be set when externalTrafficPolicy is 'Local'",
            ));
        }
    } else if health != 0 {
        errors.push(FieldError::invalid(
            "spec.healthCheckNodePort",
            json!(health),
            "may only be set when `type` is 'LoadBalancer' and `externalTrafficPolicy` is 'Local'",
        ));
    }
    errors
}

fn is_headless(object: &Value) -> bool {
    str_at(object, "/spec/clusterIP") == "None"
}

impl ServiceStrategy {
    /// A strategy allocating from `cidr` (`--service-cluster-ip-range`).
    pub fn from_range(cidr: &str) -> Result<Self, String> {
        Ok(ServiceStrategy {
            ips: Allocator::new(cidr)?,
            node_ports: Mutex::new(HashMap::new()),
        })
    }

    /// Upstream `SetDefaults_Service`, plus the IP family fields the
    /// allocator decides.
    fn set_defaults(&self, object: &mut Value) {
        let kind = service_type(object).to_string();
        let accessible = is_externally_accessible(object);
        let Some(spec) = child_object(object, "spec") else {
            return;
        };
        default_field(spec, "type", json!("ClusterIP"));
        default_field(spec, "sessionAffinity", json!("None"));
        // Upstream replaces the whole config when any level is missing.
        let is_client_ip = spec.get("sessionAffinity").and_then(Value::as_str) == Some("ClientIP");
        let has_timeout = spec
            .get("sessionAffinityConfig")
            .and_then(|c| c.pointer("/clientIP/timeoutSeconds"))
            .is_some_and(|t| !t.is_null());
        if is_client_ip && !has_timeout {
            spec.insert(
                "sessionAffinityConfig".into(),
                json!({"clientIP": {"timeoutSeconds": CLIENT_IP_TIMEOUT_DEFAULT}}),
            );
        }
        if kind != "ExternalName" {
            default_field(spec, "internalTrafficPolicy", json!("Cluster"));
            default_field(spec, "ipFamilyPolicy", json!("SingleStack"));
            default_field(spec, "ipFamilies", json!([self.ips.family()]));
        }
        if accessible {
            default_field(spec, "externalTrafficPolicy", json!("Cluster"));
        }
        if kind == "LoadBalancer" {
            default_field(spec, "allocateLoadBalancerNodePorts", json!(true));
        }
        if let Some(spec) = object.get_mut("spec") {
            for port in items_mut(spec, "ports") {
                let number = port.get("port").cloned().unwrap_or(Value::Null);
                if let Some(port) = port.as_object_mut() {
                    default_field(port, "protocol", json!("TCP"));
                    let unset = matches!(port.get("targetPort"), None | Some(Value::Null))
                        || port.get("targetPort") == Some(&json!(0))
                        || port.get("targetPort") == Some(&json!(""));
                    if unset {
                        port.insert("targetPort".into(), number);
                    }
                }
            }
        }
    }
}

fn port_errors(object: &Value) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let ports = array_at(object, "/spec/ports");
    if ports.is_empty() && !is_headless(object) && needs_cluster_ip(object) {
        errors.push(FieldError::required("spec.ports", ""));
    }
    let mut names = std::collections::HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let at = format!("spec.ports[{i}]");
        let name = str_at(port, "/name");
        if name.is_empty() && ports.len() > 1 {
            errors.push(FieldError::required(format!("{at}.name"), ""));
        } else if !name.is_empty() {
            for message in dns1123_label_errors(name) {
                errors.push(FieldError::invalid(
                    format!("{at}.name"),
                    json!(name),
                    message,
                ));
            }
            if !names.insert(name) {
                errors.push(FieldError::duplicate(format!("{at}.name"), json!(name)));
            }
        }
        let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
        if !(1..=65535).contains(&number) {
            errors.push(FieldError::invalid(
                format!("{at}.port"),
                json!(number),
                "must be between 1 and 65535, inclusive",
            ));
        }
        errors.extend(one_of(
            port,
            "/protocol",
            &format!("{at}.protocol"),
            PROTOCOLS,
        ));
        if let Some(target) = port.get("targetPort").and_then(Value::as_i64) {
            if !(1..=65535).contains(&target) {
                errors.push(FieldError::invalid(
                    format!("{at}.targetPort"),
                    json!(target),
                    "must be between 1 and 65535, inclusive",
                ));
            }
        }
        errors.extend(node_port_error(object, port, &at));
    }
    errors
}

fn node_port_error(object: &Value, port: &Value, at: &str) -> Option<FieldError> {
    let node_port = port
        .get("nodePort")
        .and_then(Value::as_i64)
        .filter(|p| *p != 0)?;
    if !needs_node_ports(object) {
        return Some(FieldError::forbidden(
            format!("{at}.nodePort"),
            format!("may not be used when `type` is '{}'", service_type(object)),
        ));
    }
    (!NODE_PORTS.contains(&node_port)).then(|| {
        FieldError::invalid(
            format!("{at}.nodePort"),
            json!(node_port),
            "provided port is not in the valid range. The range of valid ports is 30000-32767",
        )
    })
}

impl Strategy for ServiceStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        self.set_defaults(object);
        self.allocate_cluster_ip(object);
        self.allocate_node_ports(object);
        if let Some(map) = object.as_object_mut() {
            map.insert("status".into(), json!({"loadBalancer": {}}));
        }
    }

    /// Addresses and node ports the client left out are kept from the
    /// stored Service (upstream `patchAllocatedValues`).
    fn prepare_for_update(&self, object: &mut Value, old: &Value) {
        self.remember(old);
        self.drop_type_dependent_fields(object, old);
        if needs_cluster_ip(object) && needs_cluster_ip(old) {
            if let Some(spec) = child_object(object, "spec") {
                for field in ["clusterIP", "clusterIPs"] {
                    let missing = match spec.get(field) {
                        None | Some(Value::Null) => true,
                        Some(Value::String(s)) => s.is_empty(),
                        Some(Value::Array(a)) => a.is_empty(),
                        Some(_) => false,
                    };
                    if let (true, Some(kept)) = (missing, old.pointer(&format!("/spec/{field}"))) {
                        spec.insert(field.into(), kept.clone());
                    }
                }
            }
        }
        if needs_node_ports(object) && needs_node_ports(old) {
            allocation::keep_node_ports(object, old);
        }
        if needs_health_check(object) && needs_health_check(old) {
            let kept = old.pointer("/spec/healthCheckNodePort").cloned();
            if let (Some(spec), Some(kept)) = (child_object(object, "spec"), kept) {
                default_field(spec, "healthCheckNodePort", kept);
            }
        }
        self.set_defaults(object);
        self.allocate_cluster_ip(object);
        self.allocate_node_ports(object);
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        let name = str_at(object, "/metadata/name");
        if !name.is_empty() {
            for message in dns1035_label_errors(name) {
                errors.push(FieldError::invalid("metadata.name", json!(name), message));
            }
        }
        errors.extend(one_of(object, "/spec/type", "spec.type", TYPES));
        errors.extend(one_of(
            object,
            "/spec/sessionAffinity",
            "spec.sessionAffinity",
            AFFINITIES,
        ));
        if service_type(object) == "ExternalName" {
            let external = str_at(object, "/spec/externalName");
            if external.is_empty() {
                errors.push(FieldError::required("spec.externalName", ""));
            }
            // A trailing dot (a fully qualified name) is allowed.
            let name = external.strip_suffix('.').unwrap_or(external);
            for message in dns1123_subdomain_errors(name)
                .into_iter()
                .filter(|_| !external.is_empty())
            {
                errors.push(FieldError::invalid(
                    "spec.externalName",
                    json!(external),
                    message,
                ));
            }
        }
        errors.extend(port_errors(object));
        errors.extend(traffic_policy_errors(object));
        errors.extend(affinity_errors(object));
        errors.extend(self.cluster_ip_errors(object));
        errors
    }

    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = self.validate(object);
        if needs_cluster_ip(object) && needs_cluster_ip(old) {
            let (new_ip, old_ip) = (
                str_at(object, "/spec/clusterIPs/0"),
                str_at(old, "/spec/clusterIPs/0"),
            );
            if !old_ip.is_empty() && new_ip != old_ip {
                let ips = object
                    .pointer("/spec/clusterIPs")
                    .cloned()
                    .unwrap_or(json!([]));
                errors.push(FieldError::invalid(
                    "spec.clusterIPs[0]",
                    ips,
                    "may not change once set",
                ));
            }
        }
        errors
    }

    fn columns(&self) -> Vec<Column> {
        table::columns()
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        table::cells(object)
    }

    fn prepare_for_delete(&self, object: &mut Value) -> bool {
        if array_at(object, "/metadata/finalizers").is_empty() {
            self.forget(object);
        }
        false
    }

    fn read_stored(&self, stored: Value) -> Result<Value, crate::error::ApiError> {
        self.remember(&stored);
        Ok(stored)
    }

    fn selectable_fields(&self, object: &Value) -> Vec<SelectableField> {
        vec![
            (
                "spec.clusterIP".into(),
                str_at(object, "/spec/clusterIP").to_string(),
            ),
            ("spec.type".into(), str_at(object, "/spec/type").to_string()),
        ]
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(crate) fn strategy() -> ServiceStrategy {
        ServiceStrategy::from_range("10.96.0.0/12").expect("valid range")
    }

    pub(crate) fn service(name: &str, spec: Value) -> Value {
        json!({"metadata": {"name": name, "namespace": "default"}, "spec": spec})
    }

    fn messages(errors: Vec<FieldError>) -> Vec<String> {
        errors.iter().map(|e| e.to_string()).collect()
    }

    #[test]
    fn create_defaults_and_allocates_a_cluster_ip() {
        let s = strategy();
        let mut svc = service(
            "web",
            json!({"selector": {"app": "web"}, "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut svc);
        let spec = &svc["spec"];
        assert_eq!(spec["type"], "ClusterIP");
        assert_eq!(spec["sessionAffinity"], "None");
        assert_eq!(spec["internalTrafficPolicy"], "Cluster");
        assert_eq!(spec["ipFamilies"], json!(["IPv4"]));
        assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
        assert_eq!(
            spec["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        let ip = spec["clusterIP"].as_str().expect("allocated");
        assert!(ip.starts_with("10.9") || ip.starts_with("10.10") || ip.starts_with("10.11"));
        assert_eq!(spec["clusterIPs"], json!([ip]));
        assert!(s.validate(&svc).is_empty());
        let mut other = service("api", json!({"ports": [{"port": 80}]}));
        s.prepare_for_create(&mut other);
        assert_ne!(other["spec"]["clusterIP"], svc["spec"]["clusterIP"]);
    }

    #[test]
    fn headless_services_keep_none() {
        let s = strategy();
        let mut svc = service("db", json!({"clusterIP": "None"}));
        s.prepare_for_create(&mut svc);
        assert_eq!(svc["spec"]["clusterIPs"], json!(["None"]));
        assert!(s.validate(&svc).is_empty());
        assert_eq!(s.cells(&svc)[1], "None");
    }

    #[test]
    fn taken_and_foreign_addresses_are_refused() {
        let s = strategy();
        let mut first = service(
            "a",
            json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
        );
        s.prepare_for_create(&mut first);
        assert!(s.validate(&first).is_empty());
        let mut second = service(
            "b",
            json!({"clusterIP": "10.96.0.10", "ports": [{"port": 53}]}),
        );
        s.prepare_for_create(&mut second);
        assert_eq!(
            messages(s.validate(&second)),
            vec!["spec.clusterIPs: Invalid value: []string{\"10.96.0.10\"}: failed to allocate IP 10.96.0.10: provided IP is already allocated"]
        );
        let mut outside = service(
            "c",
            json!({"clusterIP": "192.168.1.1", "ports": [{"port": 53}]}),
        );
        s.prepare_for_create(&mut outside);
        assert!(messages(s.validate(&outside))[0]
            .contains("is not in the valid range. The range of valid IPs is 10.96.0.0/12"));
    }

    #[test]
    fn ports_types_and_names_are_validated() {
        let s = strategy();
        let mut svc = service(
            "Bad",
            json!({"type": "Magic", "ports": [{"port": 0}, {"port": 80}]}),
        );
        s.prepare_for_create(&mut svc);
        let found = messages(s.validate(&svc));
        assert!(found
            .iter()
            .any(|m| m.starts_with("metadata.name: Invalid value: \"Bad\": a DNS-1035 label")));
        assert!(found.contains(&"spec.type: Unsupported value: \"Magic\": supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"".to_string()));
        assert!(found.contains(
            &"spec.ports[0].port: Invalid value: 0: must be between 1 and 65535, inclusive"
                .to_string()
        ));
        assert!(found.contains(&"spec.ports[0].name: Required value".to_string()));
        let mut portless = service("x", json!({}));
        s.prepare_for_create(&mut portless);
        assert_eq!(
            messages(s.validate(&portless)),
            vec!["spec.ports: Required value"]
        );
    }

    #[test]
    fn updates_keep_and_protect_the_cluster_ip() {
        let s = strategy();
        let mut old = service("web", json!({"type": "NodePort", "ports": [{"port": 80}]}));
        s.prepare_for_create(&mut old);
        let node_port = old["spec"]["ports"][0]["nodePort"]
            .as_i64()
            .expect("allocated");
        assert!(NODE_PORTS.contains(&node_port));
        let mut new = service("web", json!({"type": "NodePort", "ports": [{"port": 80}]}));
        s.prepare_for_update(&mut new, &old);
        assert_eq!(new["spec"]["clusterIP"], old["spec"]["clusterIP"]);
        assert_eq!(new["spec"]["ports"][0]["nodePort"], json!(node_port));
        assert!(s.validate_update(&new, &old).is_empty());
        new["spec"]["clusterIP"] = json!("10.96.0.99");
        new["spec"]["clusterIPs"] = json!(["10.96.0.99"]);
        let found = messages(s.validate_update(&new, &old));
        assert!(found.contains(
            &"spec.clusterIPs[0]: Invalid value: []string{\"10.96.0.99\"}: may not change once set"
                .to_string()
        ));
    }

    #[test]
    fn stored_services_mark_their_addresses() {
        let s = strategy();
        let stored = service(
            "old",
            json!({"clusterIP": "10.96.0.50", "clusterIPs": ["10.96.0.50"], "ports": [{"port": 80}]}),
        );
        let _ = s.read_stored(stored).unwrap();
        let mut clash = service(
            "new",
            json!({"clusterIP": "10.96.0.50", "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut clash);
        assert_eq!(s.validate(&clash).len(), 1);
    }

    #[test]
    fn changing_type_drops_what_the_old_type_needed() {
        let s = strategy();
        let mut old = service("web", json!({"type": "NodePort", "ports": [{"port": 80}]}));
        s.prepare_for_create(&mut old);
        let mut to_cluster_ip = old.clone();
        to_cluster_ip["spec"]["type"] = json!("ClusterIP");
        s.prepare_for_update(&mut to_cluster_ip, &old);
        assert!(to_cluster_ip["spec"]["ports"][0].get("nodePort").is_none());
        assert!(to_cluster_ip["spec"].get("externalTrafficPolicy").is_none());
        assert!(s.validate_update(&to_cluster_ip, &old).is_empty());
        let mut to_external = old.clone();
        to_external["spec"]["type"] = json!("ExternalName");
        to_external["spec"]["externalName"] = json!("db.example");
        s.prepare_for_update(&mut to_external, &old);
        assert!(to_external["spec"].get("clusterIP").is_none());
        assert_eq!(to_external["spec"]["internalTrafficPolicy"], "Cluster");
        assert!(s.validate_update(&to_external, &old).is_empty());
    }

    #[test]
    fn client_ip_affinity_has_a_bounded_timeout() {
        let s = strategy();
        let mut sticky = service(
            "sticky",
            json!({"sessionAffinity": "ClientIP", "sessionAffinityConfig": {}, "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut sticky);
        assert_eq!(
            sticky["spec"]["sessionAffinityConfig"],
            json!({"clientIP": {"timeoutSeconds": 10800}})
        );
        sticky["spec"]["sessionAffinityConfig"]["clientIP"]["timeoutSeconds"] = json!(0);
        assert_eq!(
            messages(s.validate(&sticky)),
            vec!["spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 0: must be greater than 0 and less than 86400"]
        );
        let mut plain = service(
            "plain",
            json!({"sessionAffinityConfig": {"clientIP": {"timeoutSeconds": 5}}, "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut plain);
        assert_eq!(
            messages(s.validate(&plain)),
            vec!["spec.sessionAffinityConfig: Forbidden: must not be set when spec.sessionAffinity is None"]
        );
    }

    #[test]
    fn external_traffic_policy_follows_external_access() {
        let s = strategy();
        let mut external = service(
            "ext",
            json!({"externalIPs": ["192.0.2.1"], "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut external);
        assert_eq!(external["spec"]["externalTrafficPolicy"], "Cluster");
        assert!(s.validate(&external).is_empty());
        let mut internal = service(
            "int",
            json!({"externalTrafficPolicy": "Local", "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut internal);
        assert_eq!(
            messages(s.validate(&internal)),
            vec!["spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"]
        );
    }

    #[test]
    fn local_load_balancers_get_a_health_check_port() {
        let s = strategy();
        let mut lb = service(
            "lb",
            json!({"type": "LoadBalancer", "externalTrafficPolicy": "Local", "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut lb);
        let health = lb["spec"]["healthCheckNodePort"]
            .as_i64()
            .expect("allocated");
        assert!(NODE_PORTS.contains(&health));
        assert_ne!(Some(health), lb["spec"]["ports"][0]["nodePort"].as_i64());
        assert!(s.validate(&lb).is_empty());

        let mut same = lb.clone();
        same["spec"]
            .as_object_mut()
            .map(|m| m.remove("healthCheckNodePort"));
        s.prepare_for_update(&mut same, &lb);
        assert_eq!(same["spec"]["healthCheckNodePort"], health);

        let mut cluster = lb.clone();
        cluster["spec"]["externalTrafficPolicy"] = json!("Cluster");
        s.prepare_for_update(&mut cluster, &lb);
        assert!(cluster["spec"].get("healthCheckNodePort").is_none());
        assert!(s.validate_update(&cluster, &lb).is_empty());

        let mut no_node_ports = service(
            "quiet",
            json!({"type": "LoadBalancer", "allocateLoadBalancerNodePorts": false, "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut no_node_ports);
        assert!(no_node_ports["spec"]["ports"][0].get("nodePort").is_none());
    }

    #[test]
    fn leaving_load_balancer_drops_its_node_port_switch() {
        let s = strategy();
        let mut old = service(
            "lb",
            json!({"type": "LoadBalancer", "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut old);
        assert_eq!(old["spec"]["allocateLoadBalancerNodePorts"], true);
        let mut to_node_port = old.clone();
        to_node_port["spec"]["type"] = json!("NodePort");
        s.prepare_for_update(&mut to_node_port, &old);
        assert!(to_node_port["spec"]
            .get("allocateLoadBalancerNodePorts")
            .is_none());
        assert_eq!(
            to_node_port["spec"]["ports"][0]["nodePort"],
            old["spec"]["ports"][0]["nodePort"]
        );
    }

    #[test]
    fn deleting_a_service_frees_its_address() {
        let s = strategy();
        let mut first = service(
            "a",
            json!({"clusterIP": "10.96.0.60", "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut first);
        assert!(!s.prepare_for_delete(&mut first.clone()));
        let mut second = service(
            "b",
            json!({"clusterIP": "10.96.0.60", "ports": [{"port": 80}]}),
        );
        s.prepare_for_create(&mut second);
        assert!(s.validate(&second).is_empty());
    }
}
