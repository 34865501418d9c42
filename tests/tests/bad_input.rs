//! Bad input over raw HTTPS (where kubectl would refuse to send it): each
//! request gets upstream's status code and a `Status` with the right
//! reason, and none of them changes what is stored.

mod support;

use blackbox_tests::{Protocol, RawRequest, RawResponse, TestServer};
use serde_json::{json, Value};
use support::{fails, ok, write_file, Backend, Cluster};

const CONFIGMAPS: &str = "/api/v1/namespaces/bad/configmaps";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/bad/deployments";

async fn send(
    server: &TestServer,
    method: &str,
    path: &str,
    content_type: Option<&str>,
    body: impl Into<Vec<u8>>,
) -> RawResponse {
    let mut request = RawRequest::get(path);
    request.method = method.parse().expect("an HTTP method");
    request.content_type = content_type.map(str::to_string);
    request.body = body.into();
    server
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
}

async fn post_json(server: &TestServer, path: &str, body: &str) -> RawResponse {
    send(server, "POST", path, Some("application/json"), body).await
}

/// The response is a failure `Status` with this code and reason; returns it.
fn assert_status(response: &RawResponse, code: u16, reason: &str) -> Value {
    let text = String::from_utf8_lossy(&response.body).into_owned();
    assert_eq!(response.status, code, "{text}");
    let status = response.json();
    assert_eq!(status["kind"], "Status", "{text}");
    assert_eq!(status["apiVersion"], "v1", "{text}");
    assert_eq!(status["status"], "Failure", "{text}");
    assert_eq!(status["code"], code, "{text}");
    assert_eq!(status["reason"], reason, "{text}");
    assert!(
        status["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{text}"
    );
    status
}

/// The fields `details.causes` names.
fn cause_fields(status: &Value) -> Vec<String> {
    status["details"]["causes"]
        .as_array()
        .map(|causes| {
            causes
                .iter()
                .map(|c| c["field"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Everything stored in namespace `bad`, and the revision it was read at.
async fn snapshot(server: &TestServer) -> (Vec<Value>, String) {
    let mut items = Vec::new();
    let mut revision = String::new();
    for path in [
        CONFIGMAPS,
        DEPLOYMENTS,
        "/api/v1/namespaces/bad/services",
        "/api/v1/namespaces",
    ] {
        let list = send(server, "GET", path, None, "").await.json();
        revision = list["metadata"]["resourceVersion"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        items.extend(list["items"].as_array().cloned().unwrap_or_default());
    }
    (items, revision)
}

fn deployment(name: &str, spec: Value) -> String {
    json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec})
        .to_string()
}

#[tokio::test]
async fn bad_requests_get_a_status_and_change_nothing() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", "bad"]);
    ok(
        &cluster,
        &[
            "create",
            "configmap",
            "-n",
            "bad",
            "kept",
            "--from-literal=k=v",
        ],
    );
    ok(
        &cluster,
        &[
            "create",
            "service",
            "clusterip",
            "-n",
            "bad",
            "svc",
            "--tcp=80",
        ],
    );
    let before = snapshot(&cluster).await;

    malformed_bodies(&cluster).await;
    invalid_objects(&cluster).await;
    oversized_bodies(&cluster).await;
    unknown_paths_and_verbs(&cluster).await;
    unsupported_media_types(&cluster).await;
    mismatches_and_conflicts(&cluster).await;

    let after = snapshot(&cluster).await;
    assert_eq!(
        after.0, before.0,
        "a refused request changed a stored object"
    );
    assert_eq!(after.1, before.1, "a refused request took a revision");
}

async fn malformed_bodies(server: &TestServer) {
    let response = post_json(
        server,
        CONFIGMAPS,
        r#"{"apiVersion": "v1", "kind": "ConfigMap", bad"#,
    )
    .await;
    assert_status(&response, 400, "BadRequest");
    let response = post_json(server, CONFIGMAPS, "").await;
    assert_status(&response, 400, "BadRequest");
    let response = post_json(server, CONFIGMAPS, "[1, 2]").await;
    assert_status(&response, 400, "BadRequest");
    let yaml = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [unclosed\n";
    let response = send(server, "POST", CONFIGMAPS, Some("application/yaml"), yaml).await;
    assert_status(&response, 400, "BadRequest");
    let response = send(
        server,
        "POST",
        CONFIGMAPS,
        Some("application/vnd.kubernetes.protobuf"),
        "not protobuf",
    )
    .await;
    assert_status(&response, 400, "BadRequest");
    // The body's kind or version must be the endpoint's.
    let secret = r#"{"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}"#;
    assert_status(
        &post_json(server, CONFIGMAPS, secret).await,
        400,
        "BadRequest",
    );
    let wrong_group =
        r#"{"apiVersion": "apps/v1", "kind": "ConfigMap", "metadata": {"name": "s"}}"#;
    assert_status(
        &post_json(server, CONFIGMAPS, wrong_group).await,
        400,
        "BadRequest",
    );
    // Malformed patches.
    let path = format!("{CONFIGMAPS}/kept");
    let response = send(
        server,
        "PATCH",
        &path,
        Some("application/merge-patch+json"),
        "{bad",
    )
    .await;
    assert_status(&response, 400, "BadRequest");
    let response = send(
        server,
        "PATCH",
        &path,
        Some("application/json-patch+json"),
        r#"[{"op": "bogus"}]"#,
    )
    .await;
    assert_status(&response, 400, "BadRequest");
    let failed_test = r#"[{"op": "replace", "path": "/data/k", "value": "x"}, {"op": "test", "path": "/data/k", "value": "y"}]"#;
    let response = send(
        server,
        "PATCH",
        &path,
        Some("application/json-patch+json"),
        failed_test,
    )
    .await;
    assert_status(&response, 422, "Invalid");
    // Query parameters that do not parse.
    let response = send(
        server,
        "GET",
        &format!("{CONFIGMAPS}?labelSelector=a%20in%20b"),
        None,
        "",
    )
    .await;
    assert_status(&response, 400, "BadRequest");
    let response = send(
        server,
        "GET",
        &format!("{CONFIGMAPS}?fieldSelector=data.k%3Dv"),
        None,
        "",
    )
    .await;
    let status = assert_status(&response, 400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("field label not supported: data.k"),
        "{status}"
    );
}

async fn invalid_objects(server: &TestServer) {
    let response = post_json(
        server,
        CONFIGMAPS,
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "Not_Valid"}}"#,
    )
    .await;
    let status = assert_status(&response, 422, "Invalid");
    assert_eq!(cause_fields(&status), ["metadata.name"]);
    assert_eq!(status["details"]["name"], "Not_Valid");
    assert_eq!(status["details"]["kind"], "ConfigMap");
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueInvalid"
    );
    assert!(
        status["message"].as_str().unwrap_or_default().starts_with("ConfigMap \"Not_Valid\" is invalid: metadata.name: Invalid value: \"Not_Valid\": a lowercase RFC 1123 subdomain"),
        "{status}"
    );

    let response = post_json(
        server,
        CONFIGMAPS,
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}}"#,
    )
    .await;
    let status = assert_status(&response, 422, "Invalid");
    assert_eq!(cause_fields(&status), ["metadata.name"]);
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueRequired"
    );

    let response = post_json(server, CONFIGMAPS, r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "l", "labels": {"a": "b c"}}}"#).await;
    assert_eq!(
        cause_fields(&assert_status(&response, 422, "Invalid")),
        ["metadata.labels"]
    );

    // Several violations in one Deployment: every one is a cause.
    let body = deployment(
        "broken",
        json!({"replicas": -1, "template": {"spec": {"containers": [{"name": "c", "image": "i"}]}}}),
    );
    let status = assert_status(&post_json(server, DEPLOYMENTS, &body).await, 422, "Invalid");
    let fields = cause_fields(&status);
    for field in ["spec.replicas", "spec.selector"] {
        assert!(fields.iter().any(|f| f == field), "{field} in {status}");
    }
    assert_eq!(status["details"]["group"], "apps");
    assert_eq!(status["details"]["kind"], "Deployment");

    let mismatch = deployment(
        "mismatch",
        json!({
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        }),
    );
    let status = assert_status(
        &post_json(server, DEPLOYMENTS, &mismatch).await,
        422,
        "Invalid",
    );
    assert_eq!(cause_fields(&status), ["spec.template.metadata.labels"]);
    assert_eq!(status["details"]["causes"][0]["message"], "Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`");

    let service = r#"{"apiVersion": "v1", "kind": "Service", "metadata": {"name": "ports"},
        "spec": {"type": "Sideways", "ports": [{"port": 0}]}}"#;
    let status = assert_status(
        &post_json(server, "/api/v1/namespaces/bad/services", service).await,
        422,
        "Invalid",
    );
    let fields = cause_fields(&status);
    assert!(fields.iter().any(|f| f == "spec.type"), "{status}");
    assert!(fields.iter().any(|f| f == "spec.ports[0].port"), "{status}");

    // An invalid update is refused the same way.
    let path = format!("{CONFIGMAPS}/kept");
    let patch = r#"{"data": {"bad key": "v"}}"#;
    let response = send(
        server,
        "PATCH",
        &path,
        Some("application/merge-patch+json"),
        patch,
    )
    .await;
    assert_eq!(
        cause_fields(&assert_status(&response, 422, "Invalid")),
        ["data[bad key]"]
    );
    // Creating into a namespace that does not exist.
    let response = post_json(
        server,
        "/api/v1/namespaces/nowhere/configmaps",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}"#,
    )
    .await;
    let status = assert_status(&response, 404, "NotFound");
    assert_eq!(status["message"], "namespaces \"nowhere\" not found");
}

fn oversized_body() -> Vec<u8> {
    format!(
        r#"{{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {{"name": "big"}}, "data": {{"k": "{}"}}}}"#,
        "x".repeat(3 * 1024 * 1024 + 10)
    )
    .into_bytes()
}

async fn post_oversized(server: &TestServer, protocol: Protocol) {
    let mut request = RawRequest::get(CONFIGMAPS).protocol(protocol);
    request.method = http::Method::POST;
    request.content_type = Some("application/json".into());
    request.body = oversized_body();
    let response = server
        .send(request)
        .await
        .unwrap_or_else(|e| panic!("{protocol:?}: {e}"));
    let status = assert_status(&response, 413, "RequestEntityTooLarge");
    assert_eq!(
        status["message"],
        "Request entity too large: limit is 3145728"
    );
}

/// Over HTTP/2 (what kubectl and client-go speak).
async fn oversized_bodies(server: &TestServer) {
    post_oversized(server, Protocol::Negotiate).await;
    let manifest = std::str::from_utf8(&oversized_body())
        .expect("ASCII")
        .replace(
            "\"name\": \"big\"",
            "\"name\": \"big\", \"namespace\": \"bad\"",
        );
    let path = write_file(server, "big.json", &manifest);
    let refused = fails(server, &["create", "-f", &path]);
    assert!(
        refused.contains("(RequestEntityTooLarge)")
            && refused.contains("Request entity too large: limit is 3145728"),
        "{refused}"
    );
}

async fn unknown_paths_and_verbs(server: &TestServer) {
    for path in [
        "/api/v1/namespaces/bad/widgets",
        "/apis/nope.example.com/v1/things",
        "/apis/apps/v2/deployments",
        "/api/v1/namespaces/bad/configmaps/absent",
    ] {
        let response = send(server, "GET", path, None, "").await;
        assert_eq!(response.status, 404, "{path}");
    }
    let status = assert_status(
        &send(
            server,
            "GET",
            "/api/v1/namespaces/bad/configmaps/absent",
            None,
            "",
        )
        .await,
        404,
        "NotFound",
    );
    assert_eq!(status["message"], "configmaps \"absent\" not found");
    assert_eq!(
        status["details"],
        json!({"name": "absent", "kind": "configmaps"})
    );
    let status = assert_status(
        &send(
            server,
            "DELETE",
            "/apis/apps/v1/namespaces/bad/deployments/absent",
            None,
            "",
        )
        .await,
        404,
        "NotFound",
    );
    assert_eq!(status["message"], "deployments.apps \"absent\" not found");
    assert_eq!(status["details"]["group"], "apps");

    // Namespaces have no deletecollection; a named object takes no POST.
    let response = send(server, "DELETE", "/api/v1/namespaces", None, "").await;
    assert_status(&response, 405, "MethodNotAllowed");
    let response = post_json(
        server,
        &format!("{CONFIGMAPS}/kept"),
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}}"#,
    )
    .await;
    assert_status(&response, 405, "MethodNotAllowed");
}

async fn unsupported_media_types(server: &TestServer) {
    let body = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "typed"}}"#;
    for content_type in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
    ] {
        let response = send(server, "POST", CONFIGMAPS, Some(content_type), body).await;
        assert_status(&response, 415, "UnsupportedMediaType");
    }
    // A PATCH must name a patch type; plain JSON is not one.
    let response = send(
        server,
        "PATCH",
        &format!("{CONFIGMAPS}/kept"),
        Some("application/json"),
        r#"{"data": {}}"#,
    )
    .await;
    let status = assert_status(&response, 415, "UnsupportedMediaType");
    let message = status["message"].as_str().unwrap_or_default();
    for accepted in [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ] {
        assert!(message.contains(accepted), "{message}");
    }
}

async fn mismatches_and_conflicts(server: &TestServer) {
    let other_namespace = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x", "namespace": "other"}}"#;
    let status = assert_status(
        &post_json(server, CONFIGMAPS, other_namespace).await,
        400,
        "BadRequest",
    );
    assert_eq!(
        status["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
    let renamed = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "renamed"}}"#;
    let response = send(
        server,
        "PUT",
        &format!("{CONFIGMAPS}/kept"),
        Some("application/json"),
        renamed,
    )
    .await;
    let status = assert_status(&response, 400, "BadRequest");
    assert_eq!(
        status["message"],
        "the name of the object (renamed) does not match the name on the URL (kept)"
    );
    let stale = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept", "resourceVersion": "1"}, "data": {"k": "stale"}}"#;
    let response = send(
        server,
        "PUT",
        &format!("{CONFIGMAPS}/kept"),
        Some("application/json"),
        stale,
    )
    .await;
    let status = assert_status(&response, 409, "Conflict");
    assert_eq!(status["message"], "Operation cannot be fulfilled on configmaps \"kept\": the object has been modified; please apply your changes to the latest version and try again");
    let again = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "kept"}}"#;
    let status = assert_status(
        &post_json(server, CONFIGMAPS, again).await,
        409,
        "AlreadyExists",
    );
    assert_eq!(status["message"], "configmaps \"kept\" already exists");
    // A Service may not take an address another Service holds.
    let taken: Value = send(
        server,
        "GET",
        "/api/v1/namespaces/bad/services/svc",
        None,
        "",
    )
    .await
    .json();
    let ip = taken["spec"]["clusterIP"].as_str().unwrap_or_default();
    let copy = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "copy"},
        "spec": {"clusterIP": ip, "ports": [{"port": 80}]}})
    .to_string();
    let status = assert_status(
        &post_json(server, "/api/v1/namespaces/bad/services", &copy).await,
        422,
        "Invalid",
    );
    assert_eq!(cause_fields(&status), ["spec.clusterIPs"]);
}

/// Upstream decodes built-in kinds into their Go types: a field of the
/// wrong type is a 400 BadRequest and nothing is stored.
#[tokio::test]
async fn a_field_of_the_wrong_type_is_a_bad_request() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", "bad"]);
    let number_data = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "numbers"}, "data": {"a": 1}}"#;
    let status = assert_status(
        &post_json(&cluster, CONFIGMAPS, number_data).await,
        400,
        "BadRequest",
    );
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("cannot be handled as a ConfigMap"),
        "{status}"
    );
    let replicas = deployment(
        "words",
        json!({
            "replicas": "three",
            "selector": {"matchLabels": {"app": "a"}},
            "template": {"metadata": {"labels": {"app": "a"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}
        }),
    );
    assert_status(
        &post_json(&cluster, DEPLOYMENTS, &replicas).await,
        400,
        "BadRequest",
    );
    let missing = fails(&cluster, &["get", "-n", "bad", "cm", "numbers"]);
    assert!(missing.contains("(NotFound)"), "{missing}");
}

/// Unknown fields: `fieldValidation=Strict` (kubectl's default) refuses
/// them with 400; otherwise they are dropped, never stored.
#[tokio::test]
async fn unknown_fields_are_refused_or_dropped() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", "bad"]);
    let body = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "extra"}, "spec": {"x": 1}}"#;
    let strict = post_json(
        &cluster,
        &format!("{CONFIGMAPS}?fieldValidation=Strict"),
        body,
    )
    .await;
    let status = assert_status(&strict, 400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .unwrap_or_default()
            .contains("strict decoding error: unknown field \"spec\""),
        "{status}"
    );
    let lenient = post_json(
        &cluster,
        &format!("{CONFIGMAPS}?fieldValidation=Ignore"),
        body,
    )
    .await;
    assert_eq!(lenient.status, 201);
    assert!(
        lenient.json().get("spec").is_none(),
        "the unknown field was stored"
    );
    let manifest = write_file(
        &cluster,
        "extra.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra2, namespace: bad}\nspec: {x: 1}\n",
    );
    let refused = fails(&cluster, &["create", "-f", &manifest]);
    assert!(refused.contains("unknown field \"spec\""), "{refused}");
}

/// A PUT on a collection path has no route upstream: 405.
#[tokio::test]
async fn put_on_a_collection_is_method_not_allowed() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", "bad"]);
    let body = r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}"#;
    let response = send(&cluster, "PUT", CONFIGMAPS, Some("application/json"), body).await;
    assert_eq!(response.status, 405, "{:?}", response.body);
}

/// Over HTTP/1.1 the 413 must reach a client still sending its body: Go's
/// server drains or half-closes (lingering close) before closing, so the
/// response is not lost to a TCP reset.
#[tokio::test]
async fn an_oversized_body_over_http1_still_gets_413() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", "bad"]);
    post_oversized(&cluster, Protocol::Http1Only).await;
}
