//! The table `kubectl get services` prints, as upstream's `printService`.

use serde_json::{json, Value};

use crate::builtin::{array_at, format_labels, str_at};
use crate::resource::{age_cell, Column, AGE_COLUMN};

pub(super) fn columns() -> Vec<Column> {
    vec![
        Column::new("Type", "string", "type determines how the Service is exposed. Defaults to ClusterIP. Valid options are ExternalName, ClusterIP, NodePort, and LoadBalancer."),
        Column::new("Cluster-IP", "string", "clusterIP is the IP address of the service and is usually assigned randomly."),
        Column::new("External-IP", "string", "externalIPs is a list of IP addresses for which nodes in the cluster will also accept traffic for this service."),
        Column::new("Port(s)", "string", "The list of ports that are exposed by this service."),
        AGE_COLUMN,
        Column::new("Selector", "string", "Route service traffic to pods with label keys and values matching this selector.").wide(),
    ]
}

pub(super) fn cells(object: &Value) -> Vec<Value> {
    let cluster_ip = match str_at(object, "/spec/clusterIPs/0") {
        "" => "<none>",
        ip => ip,
    };
    let ports = port_cell(object);
    vec![
        json!(str_at(object, "/spec/type")),
        json!(cluster_ip),
        json!(external_ip_cell(object)),
        json!(if ports.is_empty() {
            "<none>".to_string()
        } else {
            ports
        }),
        age_cell(object),
        json!(format_labels(object.pointer("/spec/selector"))),
    ]
}

/// `80/TCP` or `80:30080/TCP` per port, comma separated.
fn port_cell(object: &Value) -> String {
    array_at(object, "/spec/ports")
        .iter()
        .map(|port| {
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            let protocol = str_at(port, "/protocol");
            match port
                .get("nodePort")
                .and_then(Value::as_i64)
                .filter(|p| *p > 0)
            {
                Some(node_port) => format!("{number}:{node_port}/{protocol}"),
                None => format!("{number}/{protocol}"),
            }
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// Upstream's `getServiceExternalIP` as the server prints it (wide, so a
/// load balancer's addresses are never cut short).
fn external_ip_cell(object: &Value) -> String {
    let external: Vec<&str> = array_at(object, "/spec/externalIPs")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    match str_at(object, "/spec/type") {
        "ClusterIP" | "NodePort" if !external.is_empty() => external.join(","),
        "ClusterIP" | "NodePort" => "<none>".into(),
        "LoadBalancer" => {
            let mut ingress: Vec<&str> = array_at(object, "/status/loadBalancer/ingress")
                .iter()
                .map(|i| match str_at(i, "/ip") {
                    "" => str_at(i, "/hostname"),
                    ip => ip,
                })
                .filter(|s| !s.is_empty())
                .collect();
            ingress.sort_unstable();
            ingress.dedup();
            ingress.extend(external);
            if ingress.is_empty() {
                "<pending>".into()
            } else {
                ingress.join(",")
            }
        }
        "ExternalName" => str_at(object, "/spec/externalName").into(),
        _ => "<unknown>".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{service, strategy};
    use super::*;
    use crate::resource::Strategy;

    #[test]
    fn table_cells_follow_kubectl() {
        let s = strategy();
        let mut svc = service(
            "lb",
            json!({"type": "LoadBalancer", "selector": {"app": "x"},
            "ports": [{"port": 443, "nodePort": 30443}]}),
        );
        s.prepare_for_create(&mut svc);
        let cells = s.cells(&svc);
        assert_eq!(cells[0], "LoadBalancer");
        assert_eq!(cells[2], "<pending>");
        assert_eq!(cells[3], "443:30443/TCP");
        assert_eq!(cells[5], "app=x");
        svc["status"] =
            json!({"loadBalancer": {"ingress": [{"hostname": "b.example"}, {"ip": "1.2.3.4"}]}});
        assert_eq!(s.cells(&svc)[2], "1.2.3.4,b.example");
        let external = json!({"spec": {"type": "ExternalName", "externalName": "db.example"}});
        assert_eq!(
            s.cells(&external)[1..4],
            [json!("<none>"), json!("db.example"), json!("<none>")]
        );
        assert_eq!(s.columns().len(), cells.len());
    }
}
