//! Objects every cluster has from its first start, as upstream's
//! bootstrap controllers keep them: the system namespaces, and the
//! `default/kubernetes` Service on the first address of the service range
//! with Endpoints and an EndpointSlice naming this server.

use std::net::IpAddr;

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::handlers::Context;
use crate::storage::StoreError;

/// The namespaces every cluster starts with.
const SYSTEM_NAMESPACES: &[&str] = &["default", "kube-system", "kube-public", "kube-node-lease"];

/// Creates what is missing; existing objects are left as they are.
pub async fn ensure(
    ctx: &Context,
    service_range: &str,
    advertise_address: &str,
) -> Result<(), ApiError> {
    for name in SYSTEM_NAMESPACES {
        ensure_object(
            ctx,
            "",
            "namespaces",
            None,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )
        .await?;
    }
    let Some(cluster_ip) = first_address(service_range) else {
        return Ok(());
    };
    let (host, port) = match advertise_address.rsplit_once(':') {
        Some((host, port)) => (
            host.trim_matches(['[', ']']).to_string(),
            port.parse::<u16>().unwrap_or(6443),
        ),
        None => (advertise_address.to_string(), 6443),
    };
    let labels = json!({ "component": "apiserver", "provider": "kubernetes" });
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": { "name": "kubernetes", "namespace": "default", "labels": labels },
        "spec": {
            "type": "ClusterIP",
            "clusterIP": cluster_ip.to_string(),
            "ports": [{ "name": "https", "port": 443, "protocol": "TCP", "targetPort": port }],
            "sessionAffinity": "None",
        },
    });
    ensure_object(ctx, "", "services", Some("default"), service).await?;
    let address_type = if host.contains(':') { "IPv6" } else { "IPv4" };
    let endpoints = json!({
        "apiVersion": "v1",
        "kind": "Endpoints",
        "metadata": { "name": "kubernetes", "namespace": "default", "labels": { "endpointslice.kubernetes.io/skip-mirror": "true" } },
        "subsets": [{
            "addresses": [{ "ip": host }],
            "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
        }],
    });
    ensure_object(ctx, "", "endpoints", Some("default"), endpoints).await?;
    let slice = json!({
        "apiVersion": "discovery.k8s.io/v1",
        "kind": "EndpointSlice",
        "metadata": { "name": "kubernetes", "namespace": "default", "labels": { "kubernetes.io/service-name": "kubernetes" } },
        "addressType": address_type,
        "endpoints": [{ "addresses": [host], "conditions": { "ready": true } }],
        "ports": [{ "name": "https", "port": port, "protocol": "TCP" }],
    });
    ensure_object(
        ctx,
        "discovery.k8s.io",
        "endpointslices",
        Some("default"),
        slice,
    )
    .await
}

/// Writes `object` through its kind's defaulting (not its validation: the
/// server's own address may be loopback, which clients may not use), unless
/// it exists.
async fn ensure_object(
    ctx: &Context,
    group: &str,
    plural: &str,
    namespace: Option<&str>,
    mut object: Value,
) -> Result<(), ApiError> {
    let Some(descriptor) = ctx.registry.snapshot().lookup(group, "v1", plural) else {
        return Ok(());
    };
    let name = crate::object::name(&object).to_string();
    let key = ctx.key(&descriptor, namespace, &name);
    if ctx.store.get(&key).await?.is_some() {
        return Ok(());
    }
    crate::object::set_meta(&mut object, "uid", json!(uuid::Uuid::new_v4().to_string()));
    crate::object::set_meta(
        &mut object,
        "creationTimestamp",
        json!(crate::object::now_timestamp()),
    );
    descriptor.strategy.prepare_for_create(&mut object);
    let stored = descriptor.strategy.to_stored(object)?;
    let bytes = serde_json::to_vec(&stored).map_err(|e| ApiError::Internal(e.to_string()))?;
    match ctx.store.create(&key, bytes.into(), None).await {
        Ok(_) | Err(StoreError::AlreadyExists { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The first usable address of a CIDR range (network address + 1).
fn first_address(range: &str) -> Option<IpAddr> {
    let (network, _) = range.split_once('/')?;
    match network.parse::<IpAddr>().ok()? {
        IpAddr::V4(v4) => Some(IpAddr::V4((u32::from(v4).checked_add(1)?).into())),
        IpAddr::V6(v6) => Some(IpAddr::V6((u128::from(v6).checked_add(1)?).into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_address_of_a_range() {
        assert_eq!(
            first_address("10.96.0.0/12")
                .map(|a| a.to_string())
                .as_deref(),
            Some("10.96.0.1")
        );
        assert_eq!(
            first_address("fd00::/108")
                .map(|a| a.to_string())
                .as_deref(),
            Some("fd00::1")
        );
        assert_eq!(first_address("bogus"), None);
    }
}
