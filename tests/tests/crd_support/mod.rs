//! What the CRD test files share: the CronTab definition they start from
//! (upstream's documentation example, grown a little), defining a CRD with
//! `kubectl apply` and waiting for it to be Established, raw requests to
//! custom resource paths, polling, and reading `Status` causes.
//!
//! Every CRD test file compiles this module next to `support` and uses
//! part of it.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::future::Future;
use std::time::{Duration, Instant};

use blackbox_tests::{RawRequest, RawResponse, TestServer};
use serde_json::Value;

use crate::support::{ok, write_file};

/// The name of the CronTab CRD: `<plural>.<group>`.
pub const CRONTABS: &str = "crontabs.stable.example.com";

/// Where the CronTab group's v1 resources are served.
pub const CRONTAB_V1: &str = "/apis/stable.example.com/v1";

/// How long a change made through the API may take to show (discovery,
/// OpenAPI, controllers): generous, for a loaded machine.
pub const SETTLE: Duration = Duration::from_secs(15);

/// The CronTab CRD: namespaced, short name `ct`, category `example`, the
/// status and scale subresources, printer columns (one of them only in
/// `-o wide`) and `spec.color` as a selectable field.
pub fn crontab_crd() -> String {
    r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: crontabs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names:
    plural: crontabs
    singular: crontab
    kind: CronTab
    shortNames: [ct]
    categories: [example]
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        description: CronTab runs an image on a cron schedule.
        type: object
        properties:
          spec:
            description: What to run, and when.
            type: object
            required: [cronSpec, image]
            properties:
              cronSpec:
                description: The schedule, in cron format.
                type: string
                pattern: '^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'
              image:
                description: The container image to run.
                type: string
                minLength: 1
                maxLength: 128
              replicas:
                description: How many copies run at once.
                type: integer
                minimum: 0
                maximum: 10
                default: 1
              color:
                description: A label-like colour to select by.
                type: string
                enum: [red, green, blue]
          status:
            type: object
            properties:
              replicas:
                type: integer
              labelSelector:
                type: string
              lastScheduleTime:
                type: string
                format: date-time
    subresources:
      status: {}
      scale:
        specReplicasPath: .spec.replicas
        statusReplicasPath: .status.replicas
        labelSelectorPath: .status.labelSelector
    additionalPrinterColumns:
    - name: Spec
      type: string
      description: The cron spec defining the interval a CronJob is run
      jsonPath: .spec.cronSpec
    - name: Replicas
      type: integer
      description: The number of jobs launched by the CronJob
      jsonPath: .spec.replicas
    - name: Image
      type: string
      priority: 1
      jsonPath: .spec.image
    - name: Age
      type: date
      jsonPath: .metadata.creationTimestamp
    selectableFields:
    - jsonPath: .spec.color
"#
    .to_string()
}

/// One CronTab in namespace `ns` as YAML.
pub fn crontab(ns: &str, name: &str, cron_spec: &str, image: &str) -> String {
    format!(
        "apiVersion: stable.example.com/v1\nkind: CronTab\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec:\n  cronSpec: \"{cron_spec}\"\n  image: {image}\n"
    )
}

/// Writes `manifest` to `file` in the server's dir, applies it with
/// kubectl, and waits (`kubectl wait --for condition=established`) until
/// the CRD `crd_name` serves. Returns what `kubectl apply` printed.
pub fn define(server: &TestServer, file: &str, manifest: &str, crd_name: &str) -> String {
    let path = write_file(server, file, manifest);
    let applied = ok(server, &["apply", "-f", &path]);
    let crd = format!("crd/{crd_name}");
    let wait = [
        "wait",
        "--for",
        "condition=established",
        "--timeout=15s",
        &crd,
    ];
    // A CRD is created with `status.conditions: null`, as upstream's is,
    // and kubectl wait gives up at once when it reads the CRD before the
    // naming controller's first write (a window of milliseconds, upstream
    // too); a busy test machine widens it, so that read is retried.
    for _ in 0..20 {
        let output = server.kubectl(&wait);
        let stderr = String::from_utf8_lossy(&output.stderr);
        if output.status.success() || !stderr.contains("accessor error: <nil>") {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    ok(server, &wait);
    applied
}

/// Defines the CronTab CRD (see [`crontab_crd`]).
pub fn define_crontabs(server: &TestServer) {
    define(server, "crontab-crd.yaml", &crontab_crd(), CRONTABS);
}

/// Sends `method path` with a JSON body (when given), as the admin.
pub async fn send_json(
    server: &TestServer,
    method: http::Method,
    path: &str,
    body: Option<&Value>,
) -> RawResponse {
    let mut request = RawRequest::new(method, path);
    if let Some(body) = body {
        request = request.json(body);
    }
    server.call(request).await
}

/// POST `body` to `path`.
pub async fn post(server: &TestServer, path: &str, body: &Value) -> RawResponse {
    send_json(server, http::Method::POST, path, Some(body)).await
}

/// PUT `body` to `path`.
pub async fn put(server: &TestServer, path: &str, body: &Value) -> RawResponse {
    send_json(server, http::Method::PUT, path, Some(body)).await
}

/// GET `path`.
pub async fn get(server: &TestServer, path: &str) -> RawResponse {
    send_json(server, http::Method::GET, path, None).await
}

/// PATCH `path` with a JSON merge patch.
pub async fn merge_patch(server: &TestServer, path: &str, patch: &Value) -> RawResponse {
    server
        .call(RawRequest::new(http::Method::PATCH, path).body_with_type(
            patch.to_string().into_bytes(),
            "application/merge-patch+json",
        ))
        .await
}

/// DELETE `path`.
pub async fn delete(server: &TestServer, path: &str) -> RawResponse {
    send_json(server, http::Method::DELETE, path, None).await
}

/// Polls `probe` until it returns `Some`, for up to `limit`; panics naming
/// `what` (and the last value seen) when it never does.
pub async fn eventually<T, F, Fut>(what: &str, limit: Duration, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let deadline = Instant::now() + limit;
    loop {
        match probe().await {
            Ok(found) => return found,
            Err(last) if Instant::now() > deadline => {
                panic!("{what}: not so after {limit:?}; last seen: {last}")
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// GETs `path` until it answers `code`, and returns that response.
pub async fn wait_for_status(server: &TestServer, path: &str, code: u16) -> RawResponse {
    eventually(&format!("GET {path} answers {code}"), SETTLE, || async {
        let response = get(server, path).await;
        if response.status == code {
            Ok(response)
        } else {
            Err(format!(
                "{} {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            ))
        }
    })
    .await
}

/// The condition of `kind` in a CRD's `status.conditions`.
pub fn condition<'a>(crd: &'a Value, kind: &str) -> Option<&'a Value> {
    crd["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

/// The causes of a failure `Status`, as `(reason, field, message)`.
pub fn causes(status: &Value) -> Vec<(String, String, String)> {
    status["details"]["causes"]
        .as_array()
        .map(|causes| {
            causes
                .iter()
                .map(|c| {
                    (
                        c["reason"].as_str().unwrap_or_default().to_string(),
                        c["field"].as_str().unwrap_or_default().to_string(),
                        c["message"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asserts `status` has a cause on `field` with this reason whose message
/// satisfies `message`, and returns that message.
#[track_caller]
pub fn assert_cause(
    status: &Value,
    field: &str,
    reason: &str,
    message: impl Fn(&str) -> bool,
) -> String {
    let all = causes(status);
    let found = all
        .iter()
        .find(|(r, f, m)| f == field && r == reason && message(m));
    match found {
        Some((_, _, m)) => m.clone(),
        None => {
            panic!("no {reason} cause on {field} with the expected message in {all:#?}\n{status}")
        }
    }
}

/// Asserts `status` has a cause on `field` with exactly this reason and
/// message.
#[track_caller]
pub fn assert_exact_cause(status: &Value, field: &str, reason: &str, message: &str) {
    assert_cause(status, field, reason, |m| m == message);
}

/// The strings of a JSON array.
pub fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The sorted strings of a JSON array.
pub fn sorted(value: &Value) -> Vec<&str> {
    let mut all = strings(value);
    all.sort_unstable();
    all
}

/// The item of `list[array]` whose `key` is `name`.
pub fn find<'a>(list: &'a Value, array: &str, key: &str, name: &str) -> Option<&'a Value> {
    list[array]
        .as_array()
        .and_then(|items| items.iter().find(|item| item[key] == name))
}

/// The value of the `Warning` headers of a response, each unquoted from
/// upstream's `299 - "text"` form.
pub fn warnings(response: &RawResponse) -> Vec<String> {
    response
        .headers
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| {
            let text = v.strip_prefix("299 - ").unwrap_or(v);
            let text = text.strip_prefix('"').unwrap_or(text);
            let text = text.strip_suffix('"').unwrap_or(text);
            text.replace("\\\"", "\"")
        })
        .collect()
}

/// The value etcd holds at `key`, parsed as JSON (upstream stores custom
/// resources as JSON, in their storage version), or None when the key does
/// not exist. Read through etcd's JSON gateway, bypassing the API server.
pub async fn etcd_json(etcd: &blackbox_tests::TestEtcd, key: &str) -> Option<Value> {
    use base64::Engine;
    use http_body_util::BodyExt;

    let base64 = base64::engine::general_purpose::STANDARD;
    let endpoint = etcd.endpoint();
    let authority = endpoint.trim_start_matches("http://").to_string();
    let tcp = tokio::net::TcpStream::connect(&authority)
        .await
        .unwrap_or_else(|e| panic!("connecting to etcd at {authority}: {e}"));
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("an HTTP/1.1 handshake with etcd's gateway");
    tokio::spawn(connection);
    let body = serde_json::json!({ "key": base64.encode(key) }).to_string();
    let request = http::Request::post("/v3/kv/range")
        .header(http::header::HOST, &authority)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(http_body_util::Full::new(bytes::Bytes::from(body)))
        .expect("a valid range request");
    let response = sender
        .send_request(request)
        .await
        .unwrap_or_else(|e| panic!("etcd range {key}: {e}"));
    let bytes = response
        .into_body()
        .collect()
        .await
        .unwrap_or_else(|e| panic!("etcd range {key}: {e}"))
        .to_bytes();
    let answer: Value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("etcd range {key} answered non-JSON ({e})"));
    let value = answer["kvs"][0]["value"].as_str()?;
    let raw = base64
        .decode(value)
        .unwrap_or_else(|e| panic!("etcd value of {key} is not base64: {e}"));
    Some(serde_json::from_slice(&raw).unwrap_or_else(|e| {
        panic!(
            "etcd value of {key} is not JSON ({e}): {}",
            String::from_utf8_lossy(&raw)
        )
    }))
}
