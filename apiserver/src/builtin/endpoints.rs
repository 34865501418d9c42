//! Service backends: core/v1 Endpoints and discovery.k8s.io/v1
//! EndpointSlices.

use std::net::IpAddr;

use serde_json::{json, Value};

use super::pod_spec::one_of;
use super::{array_at, items_mut, str_at};
use crate::resource::{age_cell, Column, Strategy, AGE_COLUMN};
use crate::validation::{dns1123_label_errors, FieldError};

const PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Upstream `ValidateNonSpecialIP`: a backend address must be one traffic
/// can actually be sent to.
fn special_ip_errors(ip: IpAddr, text: &str, field: &str) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut refuse = |detail: String| errors.push(FieldError::invalid(field, json!(text), detail));
    if ip.is_unspecified() {
        refuse(format!("may not be unspecified ({text})"));
    }
    if ip.is_loopback() {
        refuse("may not be in the loopback range (127.0.0.0/8, ::1/128)".into());
    }
    let (link_local, link_local_multicast) = match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            (v4.is_link_local(), o[0] == 224 && o[1] == 0 && o[2] == 0)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            (s[0] & 0xffc0 == 0xfe80, s[0] & 0xff0f == 0xff02)
        }
    };
    if link_local {
        refuse("may not be in the link-local range (169.254.0.0/16, fe80::/10)".into());
    }
    if link_local_multicast {
        refuse("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)".into());
    }
    errors
}

/// An Endpoints address (upstream `validateEndpointAddress`): a valid IP,
/// and not a special one.
fn endpoint_ip_errors(text: &str, field: &str) -> Vec<FieldError> {
    match text.parse::<IpAddr>() {
        Ok(ip) => special_ip_errors(ip, text, field),
        Err(_) => vec![
            FieldError::invalid(
                field,
                json!(text),
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ),
            FieldError::invalid(field, json!(text), "must be a valid IP address"),
        ],
    }
}

/// An EndpointSlice address of the slice's type (unknown types are not
/// checked, as upstream).
fn slice_address_errors(address_type: &str, text: &str, field: &str) -> Vec<FieldError> {
    let parsed = text.parse::<IpAddr>().ok();
    let (ip, rule) = match address_type {
        "IPv4" => (
            parsed.filter(IpAddr::is_ipv4),
            "must be a valid IPv4 address",
        ),
        "IPv6" => (
            parsed.filter(IpAddr::is_ipv6),
            "must be a valid IPv6 address",
        ),
        _ => return Vec::new(),
    };
    match ip {
        Some(ip) => special_ip_errors(ip, text, field),
        None => vec![FieldError::invalid(field, json!(text), rule)],
    }
}

/// EndpointSlice port names: DNS labels, unique within the slice (two
/// unnamed ports collide, as upstream).
fn port_name_errors(ports: &[Value], at: impl Fn(usize) -> String) -> Vec<FieldError> {
    let mut errors = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, port) in ports.iter().enumerate() {
        let name = str_at(port, "/name");
        let field = format!("{}.name", at(i));
        if !name.is_empty() {
            for message in dns1123_label_errors(name) {
                errors.push(FieldError::invalid(field.clone(), json!(name), message));
            }
        }
        if !seen.insert(name) {
            errors.push(FieldError::duplicate(field, json!(name)));
        }
    }
    errors
}

/// How many addresses or ports a table cell lists before `+ N more...`.
const LISTED: usize = 3;

/// Upstream's cell for a capped list: `a,b,c + 2 more...`.
fn capped(list: &[String], total: usize) -> String {
    let shown = list.join(",");
    if total > LISTED {
        format!("{shown} + {} more...", total - LISTED)
    } else {
        shown
    }
}

/// `ip:port` as Go's `net.JoinHostPort` writes it (IPv6 in brackets).
fn host_port(ip: &str, port: i64) -> String {
    if ip.contains(':') {
        format!("[{ip}]:{port}")
    } else {
        format!("{ip}:{port}")
    }
}

/// The ENDPOINTS cell: up to three `ip:port` pairs over all subsets.
fn endpoints_cell(object: &Value) -> String {
    let subsets = array_at(object, "/subsets");
    if subsets.is_empty() {
        return "<none>".into();
    }
    let mut list = Vec::new();
    let mut total = 0;
    for subset in subsets {
        let addresses = array_at(subset, "/addresses");
        let ports = array_at(subset, "/ports");
        if ports.is_empty() {
            // Headless services may have no ports.
            total += addresses.len();
            for address in addresses.iter().take(LISTED.saturating_sub(list.len())) {
                list.push(str_at(address, "/ip").to_string());
            }
            continue;
        }
        for port in ports {
            let number = port.get("port").and_then(Value::as_i64).unwrap_or(0);
            total += addresses.len();
            for address in addresses.iter().take(LISTED.saturating_sub(list.len())) {
                list.push(host_port(str_at(address, "/ip"), number));
            }
        }
    }
    capped(&list, total)
}

/// core/v1 Endpoints.
pub struct EndpointsStrategy;

impl Strategy for EndpointsStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        default_subset_ports(object);
    }

    fn prepare_for_update(&self, object: &mut Value, _old: &Value) {
        default_subset_ports(object);
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (i, subset) in array_at(object, "/subsets").iter().enumerate() {
            for list in ["addresses", "notReadyAddresses"] {
                for (j, address) in array_at(subset, &format!("/{list}")).iter().enumerate() {
                    let field = format!("subsets[{i}].{list}[{j}].ip");
                    match str_at(address, "/ip") {
                        "" => errors.push(FieldError::required(field, "")),
                        ip => errors.extend(endpoint_ip_errors(ip, &field)),
                    }
                }
            }
            let ports = array_at(subset, "/ports");
            for (j, port) in ports.iter().enumerate() {
                let at = format!("subsets[{i}].ports[{j}]");
                let name = str_at(port, "/name");
                if ports.len() > 1 && name.is_empty() {
                    errors.push(FieldError::required(format!("{at}.name"), ""));
                }
                for message in dns1123_label_errors(name)
                    .into_iter()
                    .filter(|_| !name.is_empty())
                {
                    errors.push(FieldError::invalid(
                        format!("{at}.name"),
                        json!(name),
                        message,
                    ));
                }
                errors.extend(port_range(port, &format!("{at}.port")));
                errors.extend(one_of(
                    port,
                    "/protocol",
                    &format!("{at}.protocol"),
                    PROTOCOLS,
                ));
            }
        }
        errors
    }

    fn columns(&self) -> Vec<Column> {
        vec![
            Column::new("Endpoints", "string", "The set of all endpoints is the union of all subsets. Addresses are placed into subsets according to the IPs they share. A single address with multiple ports, some of which are ready and some of which are not (because they come from different containers) will result in the address being displayed in different subsets for the different ports. No address will appear in both Addresses and NotReadyAddresses in the same subset. Sets of addresses and ports that comprise a service."),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![json!(endpoints_cell(object)), age_cell(object)]
    }
}

fn default_subset_ports(object: &mut Value) {
    for subset in items_mut(object, "subsets") {
        for port in items_mut(subset, "ports") {
            if let Some(port) = port.as_object_mut() {
                super::default_field(port, "protocol", json!("TCP"));
            }
        }
    }
}

fn port_range(port: &Value, field: &str) -> Option<FieldError> {
    let number = port.get("port").and_then(Value::as_i64)?;
    (!(1..=65535).contains(&number)).then(|| {
        FieldError::invalid(
            field,
            json!(number),
            "must be between 1 and 65535, inclusive",
        )
    })
}

const ADDRESS_TYPES: &[&str] = &["FQDN", "IPv4", "IPv6"];

/// discovery.k8s.io/v1 EndpointSlices. Upstream keeps `metadata.generation`
/// for them (the endpointslice controllers compare it).
pub struct EndpointSliceStrategy;

impl Strategy for EndpointSliceStrategy {
    fn prepare_for_create(&self, object: &mut Value) {
        for port in items_mut(object, "ports") {
            if let Some(port) = port.as_object_mut() {
                super::default_field(port, "name", json!(""));
                super::default_field(port, "protocol", json!("TCP"));
            }
        }
    }

    fn prepare_for_update(&self, object: &mut Value, _old: &Value) {
        self.prepare_for_create(object);
    }

    fn validate(&self, object: &Value) -> Vec<FieldError> {
        let mut errors = Vec::new();
        match object.get("addressType").and_then(Value::as_str) {
            None | Some("") => errors.push(FieldError::required("addressType", "")),
            Some(t) if !ADDRESS_TYPES.contains(&t) => {
                errors.push(FieldError::not_supported(
                    "addressType",
                    json!(t),
                    ADDRESS_TYPES,
                ));
            }
            Some(_) => {}
        }
        let address_type = str_at(object, "/addressType");
        for (i, endpoint) in array_at(object, "/endpoints").iter().enumerate() {
            let addresses = array_at(endpoint, "/addresses");
            for (j, address) in addresses.iter().enumerate() {
                let field = format!("endpoints[{i}].addresses[{j}]");
                let text = address.as_str().unwrap_or_default();
                errors.extend(slice_address_errors(address_type, text, &field));
            }
            let count = addresses.len();
            if count == 0 {
                errors.push(FieldError::required(
                    format!("endpoints[{i}].addresses"),
                    "must contain at least 1 address",
                ));
            } else if count > 100 {
                errors.push(FieldError::new(
                    crate::validation::FieldErrorKind::TooMany,
                    format!("endpoints[{i}].addresses"),
                    None,
                    "must have at most 100 items",
                ));
            }
        }
        let ports = array_at(object, "/ports");
        for (i, port) in ports.iter().enumerate() {
            errors.extend(port_range(port, &format!("ports[{i}].port")));
            errors.extend(one_of(
                port,
                "/protocol",
                &format!("ports[{i}].protocol"),
                PROTOCOLS,
            ));
        }
        errors.extend(port_name_errors(ports, |i| format!("ports[{i}]")));
        errors
    }

    fn validate_update(&self, object: &Value, old: &Value) -> Vec<FieldError> {
        let mut errors = self.validate(object);
        let (new_type, old_type) = (str_at(object, "/addressType"), str_at(old, "/addressType"));
        if new_type != old_type {
            errors.push(FieldError::invalid(
                "addressType",
                json!(new_type),
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
            Column::new("AddressType", "string", "addressType specifies the type of address carried by this EndpointSlice. All addresses in this slice must be the same type. This field is immutable after creation."),
            Column::new("Ports", "string", "ports specifies the list of network ports exposed by each endpoint in this slice."),
            Column::new("Endpoints", "string", "endpoints is a list of unique endpoints in this slice."),
            AGE_COLUMN,
        ]
    }

    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![
            json!(str_at(object, "/addressType")),
            json!(slice_ports_cell(object)),
            json!(slice_endpoints_cell(object)),
            age_cell(object),
        ]
    }
}

fn or_unset(list: &[String], total: usize) -> String {
    if total == 0 {
        "<unset>".into()
    } else {
        capped(list, total)
    }
}

/// Port numbers, or the name when a port has no number, `*` for neither.
fn slice_ports_cell(object: &Value) -> String {
    let ports = array_at(object, "/ports");
    let list: Vec<String> = ports
        .iter()
        .take(LISTED)
        .map(|port| match port.get("port").and_then(Value::as_i64) {
            Some(number) => number.to_string(),
            None => port
                .get("name")
                .and_then(Value::as_str)
                .map_or_else(|| "*".to_string(), str::to_string),
        })
        .collect();
    or_unset(&list, ports.len())
}

fn slice_endpoints_cell(object: &Value) -> String {
    let addresses: Vec<String> = array_at(object, "/endpoints")
        .iter()
        .flat_map(|e| array_at(e, "/addresses"))
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    let shown: Vec<String> = addresses.iter().take(LISTED).cloned().collect();
    or_unset(&shown, addresses.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_addresses_must_be_usable_ips() {
        let endpoints = json!({"subsets": [{
            "addresses": [{"ip": "not-an-ip"}, {"ip": "127.0.0.1"}, {"ip": "10.0.0.1"}],
            "notReadyAddresses": [{"ip": "169.254.1.1"}],
            "ports": [{"port": 80, "protocol": "XTP", "name": "a"}, {"port": 81, "protocol": "TCP"}]}]});
        let found: Vec<String> = EndpointsStrategy
            .validate(&endpoints)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(found, vec![
            "subsets[0].addresses[0].ip: Invalid value: \"not-an-ip\": must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            "subsets[0].addresses[0].ip: Invalid value: \"not-an-ip\": must be a valid IP address",
            "subsets[0].addresses[1].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
            "subsets[0].notReadyAddresses[0].ip: Invalid value: \"169.254.1.1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)",
            "subsets[0].ports[0].protocol: Unsupported value: \"XTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            "subsets[0].ports[1].name: Required value",
        ]);

        let mut slice = json!({"addressType": "IPv4",
            "endpoints": [{"addresses": ["300.1.1.1"]}, {"addresses": ["fd00::1"]}, {"addresses": ["10.1.1.1"]}],
            "ports": [{"port": 80}, {"port": 81}]});
        EndpointSliceStrategy.prepare_for_create(&mut slice);
        let found: Vec<String> = EndpointSliceStrategy
            .validate(&slice)
            .iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(
            found,
            vec![
            "endpoints[0].addresses[0]: Invalid value: \"300.1.1.1\": must be a valid IPv4 address",
            "endpoints[1].addresses[0]: Invalid value: \"fd00::1\": must be a valid IPv4 address",
            "ports[1].name: Duplicate value: \"\"",
        ]
        );
    }

    #[test]
    fn endpoints_cell_lists_three_then_counts() {
        let ep = json!({"subsets": [{"addresses": [{"ip": "10.0.0.1"}, {"ip": "10.0.0.2"}],
            "ports": [{"port": 80}, {"port": 443}]}]});
        assert_eq!(
            EndpointsStrategy.cells(&ep)[0],
            "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."
        );
        assert_eq!(EndpointsStrategy.cells(&json!({}))[0], "<none>");
        let v6 = json!({"subsets": [{"addresses": [{"ip": "fd00::1"}], "ports": [{"port": 80}]}]});
        assert_eq!(EndpointsStrategy.cells(&v6)[0], "[fd00::1]:80");
    }

    #[test]
    fn slices_default_ports_and_print_cells() {
        let mut slice = json!({"addressType": "IPv4", "ports": [{"port": 80}, {"name": "dns"}],
            "endpoints": [{"addresses": ["10.0.0.1"]}, {"addresses": ["10.0.0.2"]}]});
        EndpointSliceStrategy.prepare_for_create(&mut slice);
        assert_eq!(
            slice["ports"][0],
            json!({"port": 80, "name": "", "protocol": "TCP"})
        );
        let cells = EndpointSliceStrategy.cells(&slice);
        assert_eq!(
            cells[..3],
            [json!("IPv4"), json!("80,dns"), json!("10.0.0.1,10.0.0.2")]
        );
        let empty = EndpointSliceStrategy.cells(&json!({"addressType": "IPv4"}));
        assert_eq!(empty[1..3], [json!("<unset>"), json!("<unset>")]);
    }

    #[test]
    fn slice_address_type_is_required_and_immutable() {
        let errors = EndpointSliceStrategy.validate(&json!({}));
        assert_eq!(errors[0].to_string(), "addressType: Required value");
        let old = json!({"addressType": "IPv4"});
        let new = json!({"addressType": "IPv6"});
        let errors = EndpointSliceStrategy.validate_update(&new, &old);
        assert_eq!(
            errors[0].to_string(),
            "addressType: Invalid value: \"IPv6\": field is immutable"
        );
    }
}
