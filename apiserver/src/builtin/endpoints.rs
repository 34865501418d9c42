//! Service backends: core/v1 Endpoints and discovery.k8s.io/v1
//! EndpointSlices.

use serde_json::{json, Value};

use super::{array_at, items_mut, str_at};
use crate::resource::{age_cell, Column, Strategy, AGE_COLUMN};
use crate::validation::FieldError;

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
            for (j, address) in array_at(subset, "/addresses").iter().enumerate() {
                if str_at(address, "/ip").is_empty() {
                    errors.push(FieldError::required(
                        format!("subsets[{i}].addresses[{j}].ip"),
                        "",
                    ));
                }
            }
            for (j, port) in array_at(subset, "/ports").iter().enumerate() {
                errors.extend(port_range(port, &format!("subsets[{i}].ports[{j}].port")));
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
        for (i, endpoint) in array_at(object, "/endpoints").iter().enumerate() {
            let count = array_at(endpoint, "/addresses").len();
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
        for (i, port) in array_at(object, "/ports").iter().enumerate() {
            errors.extend(port_range(port, &format!("ports[{i}].port")));
        }
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
