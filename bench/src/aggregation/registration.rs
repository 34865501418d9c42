//! Registering the backend with the front over plain HTTPS, as `kubectl
//! apply` of the usual manifests would: namespace `wardle`, the Service
//! `wardle/api` and the APIService `v1alpha1.wardle.example.com`; then
//! waiting until the front calls it Available and proxies to it.
//!
//! The Service is an ExternalName for `localhost`, because Endpoints refuse
//! loopback addresses; the front resolves it when it opens a connection.

use std::time::{Duration, Instant};

use http::{Method, StatusCode};
use serde_json::{json, Value};

use crate::client::ApiClient;
use crate::error::BenchError;

pub const GROUP: &str = "wardle.example.com";
pub const VERSION: &str = "v1alpha1";
const API_SERVICE: &str = "v1alpha1.wardle.example.com";
const SERVICE_NAMESPACE: &str = "wardle";
const SERVICE_NAME: &str = "api";

/// How long the APIService may take to become Available and routed.
const REGISTER_WAIT: Duration = Duration::from_secs(30);
const POLL_INTERVAL: Duration = Duration::from_millis(50);

/// Creates the namespace, Service and APIService for the backend on
/// `port`, trusting `ca_bundle`, and waits until the APIService is
/// Available.
pub async fn register(front: &ApiClient, port: u16, ca_bundle: &str) -> Result<(), BenchError> {
    let namespace = json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": SERVICE_NAMESPACE},
    });
    create(front, "/api/v1/namespaces", &namespace).await?;
    let services = format!("/api/v1/namespaces/{SERVICE_NAMESPACE}/services");
    create(front, &services, &service(port)).await?;
    let api_services = "/apis/apiregistration.k8s.io/v1/apiservices";
    create(front, api_services, &api_service(port, ca_bundle)).await?;
    wait_available(front).await
}

/// POSTs `body` to `path` and expects a 201.
pub async fn create(client: &ApiClient, path: &str, body: &Value) -> Result<(), BenchError> {
    let reply = client
        .call(Method::POST, path, Some(body.to_string()))
        .await?;
    if reply.status != StatusCode::CREATED {
        return Err(BenchError::Protocol(format!(
            "creating {} in {path}: {}",
            body["metadata"]["name"],
            reply.describe()
        )));
    }
    Ok(())
}

/// The Service `wardle/api`, an ExternalName for `localhost` on `port`.
fn service(port: u16) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE_NAME, "namespace": SERVICE_NAMESPACE},
        "spec": {
            "type": "ExternalName",
            "externalName": "localhost",
            "ports": [{"port": port}],
        },
    })
}

/// The APIService that sends `/apis/wardle.example.com/v1alpha1` to the
/// Service, verifying the backend against `ca_bundle`.
fn api_service(port: u16, ca_bundle: &str) -> Value {
    json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": API_SERVICE},
        "spec": {
            "group": GROUP,
            "version": VERSION,
            "groupPriorityMinimum": 2000,
            "versionPriority": 10,
            "service": {"namespace": SERVICE_NAMESPACE, "name": SERVICE_NAME, "port": port},
            "caBundle": ca_bundle,
        },
    })
}

/// Polls the APIService until its Available condition is True.
async fn wait_available(front: &ApiClient) -> Result<(), BenchError> {
    let path = format!("/apis/apiregistration.k8s.io/v1/apiservices/{API_SERVICE}");
    let path = path.as_str();
    let what = format!("APIService {API_SERVICE} Available");
    poll(&what, || async move {
        let reply = front.call(Method::GET, path, None).await?;
        let verdict = match available(&reply.body) {
            _ if reply.status != StatusCode::OK => Err(reply.describe()),
            Some(condition) if condition["status"] == "True" => Ok(()),
            Some(condition) => Err(condition.to_string()),
            None => Err("no Available condition yet".to_string()),
        };
        Ok::<_, BenchError>(verdict)
    })
    .await
}

/// Polls `GET path` on `client` until it answers 200: the front may route
/// to a new APIService a moment after it reports it Available.
pub async fn wait_serving(client: &ApiClient, path: &str) -> Result<(), BenchError> {
    poll(&format!("GET {path} answering 200"), || async move {
        let reply = client.call(Method::GET, path, None).await?;
        let verdict = match reply.status {
            StatusCode::OK => Ok(()),
            _ => Err(reply.describe()),
        };
        Ok::<_, BenchError>(verdict)
    })
    .await
}

/// Calls `probe` every [`POLL_INTERVAL`] until it says yes, for at most
/// [`REGISTER_WAIT`]; a failed request stops at once, a no is remembered
/// for the error.
async fn poll<F, Fut>(what: &str, mut probe: F) -> Result<(), BenchError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<Result<(), String>, BenchError>>,
{
    let deadline = Instant::now() + REGISTER_WAIT;
    let attempts = REGISTER_WAIT.as_millis() / POLL_INTERVAL.as_millis() + 1;
    let mut last = String::from("never asked");
    for _ in 0..attempts {
        match probe().await? {
            Ok(()) => return Ok(()),
            Err(why) => last = why,
        }
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Err(BenchError::Protocol(format!(
        "{what}: not within {REGISTER_WAIT:?}; last answer: {last}"
    )))
}

/// The `Available` condition of an APIService body.
fn available(body: &[u8]) -> Option<Value> {
    let service: Value = serde_json::from_slice(body).ok()?;
    service["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|condition| condition["type"] == "Available")
        .cloned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn available_condition_is_found_among_others() {
        let body = br#"{"status":{"conditions":[
            {"type":"Other","status":"False"},
            {"type":"Available","status":"True","reason":"Passed"}]}}"#;
        let condition = available(body).expect("present");
        assert_eq!(condition["status"], "True");
        assert_eq!(available(br#"{"status":{}}"#), None);
        assert_eq!(available(b"not json"), None);
    }

    #[test]
    fn api_service_points_at_the_service_with_the_bundle() {
        let spec = &api_service(40123, "Q0E=")["spec"];
        assert_eq!(spec["service"]["port"], 40123);
        assert_eq!(spec["service"]["name"], "api");
        assert_eq!(spec["caBundle"], "Q0E=");
        assert_eq!(spec["version"], "v1alpha1");
        let service = service(40123);
        assert_eq!(service["spec"]["externalName"], "localhost");
        assert_eq!(service["spec"]["ports"][0]["port"], 40123);
    }
}
