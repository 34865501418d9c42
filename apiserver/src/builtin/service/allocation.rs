//! ClusterIPs and NodePorts handed to Services.
//!
//! The state is in memory (see `cluster_ip`); upstream keeps it in storage.
//! Three hooks keep ours close: an address is taken on create, released in
//! `prepare_for_delete` (unless finalizers keep the Service), and every
//! Service read from storage passes `read_stored`, which records its
//! addresses, so a restarted server learns what is taken as soon as it
//! lists Services. Known gaps: a dry-run create takes an address until
//! restart, and a dry-run delete frees one early.

use std::collections::HashMap;
use std::net::IpAddr;

use serde_json::{json, Value};

use super::cluster_ip::Refusal;
use super::{
    allocates_node_ports, is_externally_accessible, needs_cluster_ip, needs_health_check,
    needs_node_ports, owner, service_type, ServiceStrategy, NODE_PORTS,
};
use crate::builtin::{array_at, child_object, default_field, items_mut, str_at};
use crate::validation::FieldError;

impl ServiceStrategy {
    pub(super) fn ports_lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, String>> {
        // Every change is one insert, so a poisoned map is still consistent.
        self.node_ports.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fills `clusterIP`/`clusterIPs` from each other, then gives the
    /// Service an address: the one it asked for when free, else a new one.
    /// Refusals are left for `validate` to report.
    pub(super) fn allocate_cluster_ip(&self, object: &mut Value) {
        if !needs_cluster_ip(object) {
            return;
        }
        let who = owner(object);
        let Some(spec) = child_object(object, "spec") else {
            return;
        };
        let requested = spec
            .get("clusterIP")
            .and_then(Value::as_str)
            .filter(|ip| !ip.is_empty())
            .or_else(|| {
                let listed = spec.get("clusterIPs").and_then(Value::as_array)?;
                listed.first().and_then(Value::as_str)
            })
            .unwrap_or("")
            .to_string();
        let chosen = match requested.as_str() {
            "" => match self.ips.allocate(&who) {
                Some(ip) => ip.to_string(),
                None => return,
            },
            "None" => requested,
            ip => {
                if let Ok(parsed) = ip.parse::<IpAddr>() {
                    // A refusal is reported by `validate`.
                    let _ = self.ips.reserve(parsed, &who);
                }
                requested
            }
        };
        spec.insert("clusterIP".into(), json!(chosen));
        let listed = spec.get("clusterIPs").and_then(Value::as_array);
        if listed.is_none_or(|l| l.is_empty()) {
            spec.insert("clusterIPs".into(), json!([chosen]));
        }
    }

    /// Gives every port of a NodePort Service (or a LoadBalancer that
    /// allocates node ports) a node port, and a LoadBalancer with
    /// `externalTrafficPolicy: Local` its `healthCheckNodePort`.
    pub(super) fn allocate_node_ports(&self, object: &mut Value) {
        let wants_ports = allocates_node_ports(object);
        let wants_health_check = needs_health_check(object);
        if !wants_ports && !wants_health_check {
            return;
        }
        let who = owner(object);
        let mut taken = self.ports_lock();
        let Some(spec) = object.get_mut("spec") else {
            return;
        };
        let mut claim = |slot: &mut serde_json::Map<String, Value>, key: &str| {
            if let Some(asked) = slot.get(key).and_then(Value::as_i64).filter(|p| *p != 0) {
                if NODE_PORTS.contains(&asked) {
                    taken.entry(asked).or_insert_with(|| who.clone());
                }
                return;
            }
            if let Some(free) = NODE_PORTS.clone().find(|p| !taken.contains_key(p)) {
                taken.insert(free, who.clone());
                slot.insert(key.into(), json!(free));
            }
        };
        if wants_ports {
            for port in items_mut(spec, "ports") {
                if let Some(port) = port.as_object_mut() {
                    claim(port, "nodePort");
                }
            }
        }
        if let (true, Some(spec)) = (wants_health_check, spec.as_object_mut()) {
            claim(spec, "healthCheckNodePort");
        }
    }

    /// Records a stored Service's addresses and ports as taken.
    pub(super) fn remember(&self, object: &Value) {
        let who = owner(object);
        for ip in array_at(object, "/spec/clusterIPs")
            .iter()
            .filter_map(Value::as_str)
        {
            if let Ok(ip) = ip.parse::<IpAddr>() {
                let _ = self.ips.reserve(ip, &who);
            }
        }
        let mut taken = self.ports_lock();
        for number in node_ports_of(object) {
            taken.entry(number).or_insert_with(|| who.clone());
        }
    }

    /// Upstream `dropTypeDependentFields`: when the type changes, what the
    /// old type needed and the new one does not is dropped (and freed) if
    /// the client left it as it was.
    pub(super) fn drop_type_dependent_fields(&self, object: &mut Value, old: &Value) {
        let who = owner(old);
        let drop_ips = needs_cluster_ip(old) && !needs_cluster_ip(object);
        let drop_ports = needs_node_ports(old) && !needs_node_ports(object);
        if drop_ips {
            for ip in array_at(old, "/spec/clusterIPs")
                .iter()
                .filter_map(Value::as_str)
            {
                if let Ok(ip) = ip.parse::<IpAddr>() {
                    self.ips.release(ip, &who);
                }
            }
        }
        let old_node_ports: Vec<i64> = array_at(old, "/spec/ports")
            .iter()
            .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
            .collect();
        // internalTrafficPolicy stays: upstream never wipes it, even for
        // an ExternalName Service.
        let mut fields: Vec<&str> = Vec::new();
        if drop_ips {
            fields.extend(["clusterIP", "clusterIPs", "ipFamilies", "ipFamilyPolicy"]);
        }
        if is_externally_accessible(old) && !is_externally_accessible(object) {
            fields.push("externalTrafficPolicy");
        }
        let drop_health_check = needs_health_check(old)
            && !needs_health_check(object)
            && crate::builtin::same(
                object.pointer("/spec/healthCheckNodePort"),
                old.pointer("/spec/healthCheckNodePort"),
            );
        if service_type(old) == "LoadBalancer" && service_type(object) != "LoadBalancer" {
            fields.push("allocateLoadBalancerNodePorts");
        }
        let Some(spec) = object.get_mut("spec") else {
            return;
        };
        if let Some(map) = spec.as_object_mut() {
            for field in fields {
                if crate::builtin::same(map.get(field), old.pointer(&format!("/spec/{field}"))) {
                    map.remove(field);
                }
            }
        }
        let mut taken = self.ports_lock();
        if drop_health_check {
            if let Some(number) = spec
                .as_object_mut()
                .and_then(|map| map.remove("healthCheckNodePort"))
                .and_then(|n| n.as_i64())
            {
                if taken.get(&number) == Some(&who) {
                    taken.remove(&number);
                }
            }
        }
        if !drop_ports {
            return;
        }
        for port in items_mut(spec, "ports") {
            let Some(port) = port.as_object_mut() else {
                continue;
            };
            let node_port = port.get("nodePort").and_then(Value::as_i64);
            if let Some(number) = node_port.filter(|n| old_node_ports.contains(n)) {
                port.remove("nodePort");
                if taken.get(&number) == Some(&who) {
                    taken.remove(&number);
                }
            }
        }
    }

    /// Frees a deleted Service's addresses and ports.
    pub(super) fn forget(&self, object: &Value) {
        let who = owner(object);
        for ip in array_at(object, "/spec/clusterIPs")
            .iter()
            .filter_map(Value::as_str)
        {
            if let Ok(ip) = ip.parse::<IpAddr>() {
                self.ips.release(ip, &who);
            }
        }
        let mut taken = self.ports_lock();
        for number in node_ports_of(object) {
            if taken.get(&number) == Some(&who) {
                taken.remove(&number);
            }
        }
    }

    pub(super) fn cluster_ip_errors(&self, object: &Value) -> Vec<FieldError> {
        let ip = str_at(object, "/spec/clusterIP");
        if !needs_cluster_ip(object) {
            if ip.is_empty() {
                return Vec::new();
            }
            return vec![FieldError::invalid(
                "spec.clusterIP",
                json!(ip),
                "may not be set for ExternalName services",
            )];
        }
        match ip {
            "" => vec![FieldError::invalid(
                "spec.clusterIP",
                json!(ip),
                "failed to allocate a serviceIP: range is full",
            )],
            "None" if needs_node_ports(object) => vec![FieldError::invalid(
                "spec.clusterIPs[0]",
                json!("None"),
                format!(
                    "may not be set to 'None' for {} services",
                    service_type(object)
                ),
            )],
            "None" => Vec::new(),
            text => {
                let Ok(parsed) = text.parse::<IpAddr>() else {
                    return vec![FieldError::invalid(
                        "spec.clusterIPs[0]",
                        json!(text),
                        "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
                    )];
                };
                let ips = object
                    .pointer("/spec/clusterIPs")
                    .cloned()
                    .unwrap_or(json!([text]));
                let refusal = match self.ips.check(parsed, &owner(object)) {
                    Ok(()) => return Vec::new(),
                    Err(Refusal::NotInRange) => format!(
                        "the provided IP ({text}) is not in the valid range. The range of valid IPs is {}",
                        self.ips.cidr()
                    ),
                    Err(Refusal::Taken) => "provided IP is already allocated".to_string(),
                };
                vec![FieldError::invalid(
                    "spec.clusterIPs",
                    ips,
                    format!("failed to allocate IP {text}: {refusal}"),
                )]
            }
        }
    }
}

/// Every node port a Service holds: its ports' and its health check's.
fn node_ports_of(object: &Value) -> Vec<i64> {
    array_at(object, "/spec/ports")
        .iter()
        .filter_map(|p| p.get("nodePort").and_then(Value::as_i64))
        .chain(
            object
                .pointer("/spec/healthCheckNodePort")
                .and_then(Value::as_i64),
        )
        .filter(|n| *n != 0)
        .collect()
}

/// Copies each stored node port onto the new port with the same port number
/// and protocol, where the client left it out.
pub(super) fn keep_node_ports(object: &mut Value, old: &Value) {
    let stored: Vec<(i64, String, i64)> = array_at(old, "/spec/ports")
        .iter()
        .filter_map(|p| {
            let node_port = p.get("nodePort").and_then(Value::as_i64)?;
            let number = p.get("port").and_then(Value::as_i64)?;
            Some((number, str_at(p, "/protocol").to_string(), node_port))
        })
        .collect();
    let Some(spec) = object.get_mut("spec") else {
        return;
    };
    for port in items_mut(spec, "ports") {
        let number = port.get("port").and_then(Value::as_i64);
        let protocol = match str_at(port, "/protocol") {
            "" => "TCP".to_string(),
            p => p.to_string(),
        };
        let kept = stored
            .iter()
            .find(|(n, p, _)| Some(*n) == number && *p == protocol)
            .map(|(_, _, node_port)| *node_port);
        if let (Some(map), Some(node_port)) = (port.as_object_mut(), kept) {
            default_field(map, "nodePort", json!(node_port));
        }
    }
}
