//! Where a Service reference (`namespace`, `name`, `port`) leads, as
//! upstream's endpoint routing (`--enable-aggregator-routing`) resolves it
//! for aggregated APIs and webhooks: there is no kube-proxy here, so a
//! ClusterIP is never dialled.
//!
//! - An ExternalName Service is its external name at the given port; this
//!   is how a backend on loopback is registered, since Endpoints refuse
//!   loopback addresses.
//! - Any other Service must expose the port; the address is the first
//!   ready endpoint of its EndpointSlices (label
//!   `kubernetes.io/service-name`), else of its Endpoints (there is no
//!   mirroring controller here), at the endpoint port carrying the Service
//!   port's name.
//!
//! Whichever way it is reached, the serving certificate must be for
//! `<name>.<namespace>.svc`.
//!
//! The errors are upstream's availability reasons, with its messages.

use serde_json::Value;

use crate::storage::{Store, StoreError};

/// The label EndpointSlices name their Service with.
const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// A Service reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ServiceRef {
    pub namespace: String,
    pub name: String,
    pub port: u16,
}

impl ServiceRef {
    /// The name a serving certificate must carry.
    pub fn server_name(&self) -> String {
        format!("{}.{}.svc", self.name, self.namespace)
    }
}

/// Where to connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

/// Why a Service leads nowhere; `reason()` is upstream's condition reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("service/{name} in {namespace:?} is not present")]
    ServiceNotFound { namespace: String, name: String },
    #[error("service/{name} in {namespace:?} is not listening on port {port}")]
    ServicePortError {
        namespace: String,
        name: String,
        port: u16,
    },
    #[error("cannot find endpointslices for service/{name} in {namespace:?}")]
    EndpointsNotFound { namespace: String, name: String },
    #[error(
        "endpointslices for service/{name} in {namespace:?} have no addresses with port name {port_name:?}"
    )]
    MissingEndpoints {
        namespace: String,
        name: String,
        port_name: String,
    },
    #[error("service/{name} in {namespace:?} cannot be checked due to: {message}")]
    AccessError {
        namespace: String,
        name: String,
        message: String,
    },
}

impl ResolveError {
    /// Upstream's Available condition reason for this failure.
    pub fn reason(&self) -> &'static str {
        match self {
            ResolveError::ServiceNotFound { .. } => "ServiceNotFound",
            ResolveError::ServicePortError { .. } => "ServicePortError",
            ResolveError::EndpointsNotFound { .. } => "EndpointsNotFound",
            ResolveError::MissingEndpoints { .. } => "MissingEndpoints",
            ResolveError::AccessError { .. } => "ServiceAccessError",
        }
    }
}

/// Resolves `service` against the objects stored under `prefix`.
pub async fn resolve(
    store: &dyn Store,
    prefix: &str,
    service: &ServiceRef,
) -> Result<Endpoint, ResolveError> {
    let ServiceRef {
        namespace,
        name,
        port,
    } = service;
    let access = |e: StoreError| ResolveError::AccessError {
        namespace: namespace.clone(),
        name: name.clone(),
        message: e.to_string(),
    };
    let object = store
        .get(&format!("{prefix}/services/specs/{namespace}/{name}"))
        .await
        .map_err(access)?
        .and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
        .ok_or_else(|| ResolveError::ServiceNotFound {
            namespace: namespace.clone(),
            name: name.clone(),
        })?;
    if object.pointer("/spec/type").and_then(Value::as_str) == Some("ExternalName") {
        let host = object
            .pointer("/spec/externalName")
            .and_then(Value::as_str)
            .unwrap_or_default();
        return Ok(Endpoint {
            host: host.to_string(),
            port: *port,
        });
    }
    let port_name = object
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .and_then(|ports| {
            ports
                .iter()
                .find(|p| p.get("port").and_then(Value::as_u64) == Some(u64::from(*port)))
        })
        .map(|p| text(p, "name").to_string())
        .ok_or_else(|| ResolveError::ServicePortError {
            namespace: namespace.clone(),
            name: name.clone(),
            port: *port,
        })?;

    let slices = store
        .list(&format!("{prefix}/endpointslices/{namespace}/"), None, 0, 0)
        .await
        .map_err(access)?
        .items
        .into_iter()
        .filter_map(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
        .filter(|slice| {
            slice
                .pointer(&format!(
                    "/metadata/labels/{}",
                    SERVICE_NAME_LABEL.replace('/', "~1")
                ))
                .and_then(Value::as_str)
                == Some(name.as_str())
        })
        .collect::<Vec<_>>();
    let endpoints = if slices.is_empty() {
        store
            .get(&format!("{prefix}/services/endpoints/{namespace}/{name}"))
            .await
            .map_err(access)?
            .and_then(|kv| serde_json::from_slice::<Value>(&kv.value).ok())
    } else {
        None
    };
    if slices.is_empty() && endpoints.is_none() {
        return Err(ResolveError::EndpointsNotFound {
            namespace: namespace.clone(),
            name: name.clone(),
        });
    }
    slices
        .iter()
        .find_map(|slice| from_slice(slice, &port_name))
        .or_else(|| endpoints.and_then(|e| from_endpoints(&e, &port_name)))
        .ok_or_else(|| ResolveError::MissingEndpoints {
            namespace: namespace.clone(),
            name: name.clone(),
            port_name,
        })
}

/// The first ready address of an EndpointSlice with a port named `port_name`.
fn from_slice(slice: &Value, port_name: &str) -> Option<Endpoint> {
    let port = named_port(slice.get("ports")?, port_name)?;
    let host = slice
        .get("endpoints")?
        .as_array()?
        .iter()
        .filter(|e| e.pointer("/conditions/ready") != Some(&Value::Bool(false)))
        .find_map(|e| e.pointer("/addresses/0").and_then(Value::as_str))?;
    Some(Endpoint {
        host: host.to_string(),
        port,
    })
}

/// The first address of an Endpoints subset with a port named `port_name`.
fn from_endpoints(endpoints: &Value, port_name: &str) -> Option<Endpoint> {
    endpoints
        .get("subsets")?
        .as_array()?
        .iter()
        .find_map(|subset| {
            let port = named_port(subset.get("ports")?, port_name)?;
            let host = subset.pointer("/addresses/0/ip").and_then(Value::as_str)?;
            Some(Endpoint {
                host: host.to_string(),
                port,
            })
        })
}

fn named_port(ports: &Value, port_name: &str) -> Option<u16> {
    ports
        .as_array()?
        .iter()
        .find(|p| text(p, "name") == port_name)
        .and_then(|p| p.get("port").and_then(Value::as_u64))
        .and_then(|p| u16::try_from(p).ok())
}

fn text<'a>(value: &'a Value, field: &str) -> &'a str {
    value.get(field).and_then(Value::as_str).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn slices_give_the_named_port_of_a_ready_endpoint() {
        let slice = json!({
            "ports": [{"name": "metrics", "port": 9000}, {"name": "https", "port": 8443}],
            "endpoints": [
                {"addresses": ["10.0.0.1"], "conditions": {"ready": false}},
                {"addresses": ["10.0.0.2"]},
            ],
        });
        assert_eq!(
            from_slice(&slice, "https"),
            Some(Endpoint {
                host: "10.0.0.2".into(),
                port: 8443
            })
        );
        assert_eq!(from_slice(&slice, "other"), None);
    }

    #[test]
    fn endpoints_give_the_named_port() {
        let endpoints = json!({"subsets": [
            {"addresses": [{"ip": "10.0.0.3"}], "ports": [{"port": 6443}]},
        ]});
        assert_eq!(
            from_endpoints(&endpoints, ""),
            Some(Endpoint {
                host: "10.0.0.3".into(),
                port: 6443
            })
        );
        assert_eq!(from_endpoints(&endpoints, "https"), None);
    }

    #[test]
    fn messages_are_upstreams() {
        let e = ResolveError::ServiceNotFound {
            namespace: "wardle".into(),
            name: "api".into(),
        };
        assert_eq!(e.to_string(), r#"service/api in "wardle" is not present"#);
        assert_eq!(e.reason(), "ServiceNotFound");
        let e = ResolveError::MissingEndpoints {
            namespace: "wardle".into(),
            name: "api".into(),
            port_name: String::new(),
        };
        assert_eq!(
            e.to_string(),
            r#"endpointslices for service/api in "wardle" have no addresses with port name """#
        );
    }
}
