//! Conversion between the versions of a CRD.
//!
//! Strategy `None` only rewrites `apiVersion`. Strategy `Webhook` sends a
//! ConversionReview to the CRD's webhook over HTTPS, trusting only the
//! CRD's `caBundle` (or the system's roots when there is none), and checks
//! the answer as upstream does: same uid, a successful result, one object
//! per object sent, each in the desired version.
//!
//! The generic path converts one object at a time through a synchronous
//! strategy call, so a webhook call blocks its runtime worker with
//! `block_in_place` (other tasks move to the remaining workers) for at most
//! [`TIMEOUT`].
//!
//! A webhook given by `service` is reached as upstream's endpoint routing
//! does (see `apiserver::service_resolver`); the serving certificate must
//! be for `<service>.<namespace>.svc`.

use std::sync::Arc;
use std::time::Duration;

use apiserver::error::ApiError;
use apiserver::service_resolver::{self, ServiceRef};
use apiserver::storage::Store;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{json, Value};

/// Upstream's default webhook timeout.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How objects move between versions.
pub enum Conversion {
    None,
    Webhook(Arc<Webhook>),
    /// The CRD asks for a webhook this server cannot call; why.
    Unsupported(String),
}

impl Conversion {
    /// The conversion a CRD's `spec.conversion` describes; `store` and
    /// `prefix` are where Services are looked up.
    pub fn of(crd: &Value, store: Arc<dyn Store>, prefix: &str) -> Conversion {
        let conversion = crd.pointer("/spec/conversion");
        let strategy = conversion
            .and_then(|c| c.get("strategy"))
            .and_then(Value::as_str)
            .unwrap_or("None");
        if strategy != "Webhook" {
            return Conversion::None;
        }
        let webhook = conversion
            .and_then(|c| c.get("webhook"))
            .unwrap_or(&Value::Null);
        match Webhook::new(webhook, store, prefix) {
            Ok(webhook) => Conversion::Webhook(Arc::new(webhook)),
            Err(reason) => Conversion::Unsupported(reason),
        }
    }

    /// `object` in `desired` (`group/version`), or why it cannot be.
    /// `gvk` names the object's current version and kind in messages.
    pub fn convert(&self, mut object: Value, desired: &str, gvk: &str) -> Result<Value, ApiError> {
        if object.get("apiVersion").and_then(Value::as_str) == Some(desired) {
            return Ok(object);
        }
        match self {
            Conversion::None => {
                object["apiVersion"] = json!(desired);
                Ok(object)
            }
            Conversion::Webhook(webhook) => {
                let webhook = webhook.clone();
                let desired = desired.to_string();
                let converted = tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current()
                        .block_on(async move { webhook.convert(object, &desired).await })
                });
                converted.map_err(|e| {
                    ApiError::ConversionFailed(format!("conversion webhook for {gvk} failed: {e}"))
                })
            }
            Conversion::Unsupported(reason) => Err(ApiError::ConversionFailed(format!(
                "conversion webhook for {gvk} failed: {reason}"
            ))),
        }
    }
}

/// Where a webhook is.
enum Target {
    Url {
        host: String,
        port: u16,
    },
    Service {
        service: ServiceRef,
        store: Arc<dyn Store>,
        prefix: String,
    },
}

/// A CRD's conversion webhook.
pub struct Webhook {
    target: Target,
    /// Path and query, e.g. `/convert`.
    path: String,
    tls: Arc<rustls::ClientConfig>,
    /// The ConversionReview version to send (`v1`, else `v1beta1`).
    review_api_version: &'static str,
}

impl Webhook {
    fn new(webhook: &Value, store: Arc<dyn Store>, prefix: &str) -> Result<Webhook, String> {
        let config = webhook.get("clientConfig").unwrap_or(&Value::Null);
        let versions: Vec<&str> = webhook
            .get("conversionReviewVersions")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let review_api_version = if versions.contains(&"v1") {
            "apiextensions.k8s.io/v1"
        } else if versions.contains(&"v1beta1") {
            "apiextensions.k8s.io/v1beta1"
        } else {
            return Err("none of the conversionReviewVersions is understood (v1, v1beta1)".into());
        };
        let (target, path) = match (
            config.get("url").and_then(Value::as_str),
            config.get("service"),
        ) {
            (Some(url), _) => url_target(url)?,
            (None, Some(service)) => {
                let text = |f: &str| {
                    service
                        .get(f)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string()
                };
                let port = service.get("port").and_then(Value::as_u64).unwrap_or(443);
                let path = match text("path") {
                    p if p.is_empty() => "/".to_string(),
                    p => p,
                };
                (
                    Target::Service {
                        service: ServiceRef {
                            namespace: text("namespace"),
                            name: text("name"),
                            port: u16::try_from(port)
                                .map_err(|_| format!("bad service port {port}"))?,
                        },
                        store,
                        prefix: prefix.to_string(),
                    },
                    path,
                )
            }
            (None, None) => return Err("the webhook has neither url nor service".into()),
        };
        let mut roots = rustls::RootCertStore::empty();
        if let Some(bundle) = config.get("caBundle").and_then(Value::as_str) {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(bundle)
                .map_err(|e| format!("caBundle is not base64: {e}"))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("caBundle holds a bad certificate: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("caBundle holds a bad certificate: {e}"))?;
            }
        }
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots)
        .with_no_client_auth();
        Ok(Webhook {
            target,
            path,
            tls: Arc::new(tls),
            review_api_version,
        })
    }

    /// The address to connect to and the name the certificate must carry.
    async fn resolve(&self) -> Result<(String, u16, String), String> {
        match &self.target {
            Target::Url { host, port } => Ok((host.clone(), *port, host.clone())),
            Target::Service {
                service,
                store,
                prefix,
            } => {
                let endpoint = service_resolver::resolve(store.as_ref(), prefix, service)
                    .await
                    .map_err(|e| e.to_string())?;
                Ok((endpoint.host, endpoint.port, service.server_name()))
            }
        }
    }

    async fn convert(&self, object: Value, desired: &str) -> Result<Value, String> {
        let uid = uuid::Uuid::new_v4().to_string();
        let review = json!({
            "apiVersion": self.review_api_version,
            "kind": "ConversionReview",
            "request": {"uid": uid, "desiredAPIVersion": desired, "objects": [object.clone()]},
        });
        let answer = tokio::time::timeout(TIMEOUT, self.post(&review))
            .await
            .map_err(|_| format!("the webhook did not answer within {TIMEOUT:?}"))??;
        let response = answer
            .get("response")
            .ok_or("the ConversionReview answer has no response")?;
        if response.get("uid").and_then(Value::as_str) != Some(uid.as_str()) {
            return Err(format!(
                "expected response.uid={uid}, got {}",
                response.get("uid").unwrap_or(&Value::Null)
            ));
        }
        let result = response.get("result").unwrap_or(&Value::Null);
        if result.get("status").and_then(Value::as_str) != Some("Success") {
            let message = result
                .get("message")
                .and_then(Value::as_str)
                .unwrap_or_default();
            // The webhook's own words, as upstream passes them on.
            return Err(message.to_string());
        }
        let converted = response
            .get("convertedObjects")
            .and_then(Value::as_array)
            .ok_or("the response has no convertedObjects")?;
        let [mut converted] = <[Value; 1]>::try_from(converted.clone())
            .map_err(|objects| format!("expected 1 converted object, got {}", objects.len()))?;
        if converted.get("apiVersion").and_then(Value::as_str) != Some(desired) {
            return Err(format!(
                "invalid apiVersion {} in the converted object, expected {desired}",
                converted.get("apiVersion").unwrap_or(&Value::Null)
            ));
        }
        // Only labels and annotations may change in metadata, as upstream.
        let mut metadata = object.get("metadata").cloned().unwrap_or_else(|| json!({}));
        for field in ["labels", "annotations"] {
            match converted.pointer(&format!("/metadata/{field}")) {
                Some(v) => metadata[field] = v.clone(),
                None => {
                    if let Some(map) = metadata.as_object_mut() {
                        map.remove(field);
                    }
                }
            }
        }
        converted["metadata"] = metadata;
        Ok(converted)
    }

    async fn post(&self, review: &Value) -> Result<Value, String> {
        let (host, port, server_name) = self.resolve().await?;
        let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
            .await
            .map_err(|e| format!("connecting to {host}:{port}: {e}"))?;
        let name = ServerName::try_from(server_name).map_err(|e| e.to_string())?;
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake with {host}:{port}: {e}"))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tls))
                .await
                .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let body = serde_json::to_vec(review).map_err(|e| e.to_string())?;
        let request = http::Request::post(&self.path)
            .header(http::header::HOST, format!("{host}:{port}"))
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::ACCEPT, "application/json")
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "the webhook answered {status}: {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| format!("the webhook's answer is not JSON: {e}"))
    }
}

/// An `https://host[:port]/path` URL's target and path.
fn url_target(url: &str) -> Result<(Target, String), String> {
    let rest = url
        .strip_prefix("https://")
        .ok_or_else(|| format!("webhook URL {url:?} is not https"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !p.contains(']') => (
            h.trim_start_matches('[').trim_end_matches(']').to_string(),
            p.parse::<u16>()
                .map_err(|_| format!("bad port in webhook URL {url:?}"))?,
        ),
        _ => (
            authority
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_string(),
            443,
        ),
    };
    Ok((Target::Url { host, port }, path.to_string()))
}
