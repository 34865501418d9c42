//! The generic REST machinery driven in-process through `ApiServer::handle`
//! over a real embedded store: create/get/list/update/patch/delete, paging,
//! optimistic concurrency, finalizers and watch. The black-box suite in
//! tests/ covers the same ground through HTTPS and kubectl.

use std::sync::Arc;
use std::time::Duration;

use apiserver::server::{ApiServer, ApiServerConfig};
use apiserver::storage::embedded::EmbeddedStore;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use serde_json::{json, Value};

struct Harness {
    server: ApiServer,
    _dir: tempfile::TempDir,
}

async fn harness() -> Harness {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = EmbeddedStore::open(dir.path()).expect("open store");
    let server = ApiServer::new(ApiServerConfig {
        store: Arc::new(store),
        storage_prefix: "/registry".into(),
        service_cluster_ip_range: "10.96.0.0/12".into(),
        event_ttl: Duration::from_secs(3600),
        advertise_address: "127.0.0.1:6443".into(),
    })
    .await
    .expect("server");
    Harness { server, _dir: dir }
}

impl Harness {
    async fn call(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: Value,
    ) -> (u16, Value) {
        let bytes = if body.is_null() {
            Bytes::new()
        } else {
            Bytes::from(serde_json::to_vec(&body).unwrap())
        };
        let request = http::Request::builder()
            .method(method)
            .uri(path)
            .header("content-type", content_type)
            .body(Full::new(bytes))
            .unwrap();
        let response = self.server.handle(request).await;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let value = serde_json::from_slice(&body)
            .unwrap_or(Value::String(String::from_utf8_lossy(&body).into()));
        (status, value)
    }

    async fn json(&self, method: &str, path: &str, body: Value) -> (u16, Value) {
        self.call(method, path, "application/json", body).await
    }
}

fn configmap(name: &str, data: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "labels": {"app": name}}, "data": data})
}

#[tokio::test]
async fn create_get_update_delete_configmap() {
    let h = harness().await;
    let (code, created) = h
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            configmap("a", json!({"k": "v"})),
        )
        .await;
    assert_eq!(code, 201, "{created}");
    assert!(created["metadata"]["uid"].is_string());
    let rv = created["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();

    let (code, again) = h
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            configmap("a", json!({})),
        )
        .await;
    assert_eq!(
        (code, again["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );

    let (code, got) = h
        .json(
            "GET",
            "/api/v1/namespaces/default/configmaps/a",
            Value::Null,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(got["data"]["k"], "v");

    let mut stale = got.clone();
    stale["metadata"]["resourceVersion"] = json!("1");
    stale["data"]["k"] = json!("w");
    let (code, conflict) = h
        .json("PUT", "/api/v1/namespaces/default/configmaps/a", stale)
        .await;
    assert_eq!((code, conflict["reason"].as_str()), (409, Some("Conflict")));

    let mut fresh = got.clone();
    fresh["data"]["k"] = json!("w");
    let (code, updated) = h
        .json("PUT", "/api/v1/namespaces/default/configmaps/a", fresh)
        .await;
    assert_eq!(code, 200, "{updated}");
    assert_ne!(updated["metadata"]["resourceVersion"].as_str().unwrap(), rv);

    let (code, patched) = h
        .call(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/a",
            "application/merge-patch+json",
            json!({"data": {"x": "y"}}),
        )
        .await;
    assert_eq!(code, 200, "{patched}");
    assert_eq!(patched["data"], json!({"k": "w", "x": "y"}));

    let (code, _) = h
        .json(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/a",
            Value::Null,
        )
        .await;
    assert_eq!(code, 200);
    let (code, missing) = h
        .json(
            "GET",
            "/api/v1/namespaces/default/configmaps/a",
            Value::Null,
        )
        .await;
    assert_eq!(
        (code, missing["message"].as_str()),
        (404, Some("configmaps \"a\" not found"))
    );
}

#[tokio::test]
async fn list_pages_with_continue_and_selectors() {
    let h = harness().await;
    for i in 0..7 {
        let (code, _) = h
            .json(
                "POST",
                "/api/v1/namespaces/default/configmaps",
                configmap(&format!("cm{i}"), json!({})),
            )
            .await;
        assert_eq!(code, 201);
    }
    let (code, page) = h
        .json(
            "GET",
            "/api/v1/namespaces/default/configmaps?limit=3",
            Value::Null,
        )
        .await;
    assert_eq!(code, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 3);
    assert_eq!(page["metadata"]["remainingItemCount"], 4);
    let token = page["metadata"]["continue"].as_str().unwrap().to_string();
    // A write after the first page is not seen by the pinned continuation.
    h.json(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        configmap("cm99", json!({})),
    )
    .await;
    let mut names = Vec::new();
    let mut next = Some(token);
    while let Some(token) = next {
        let (code, page) = h
            .json(
                "GET",
                &format!("/api/v1/namespaces/default/configmaps?limit=3&continue={token}"),
                Value::Null,
            )
            .await;
        assert_eq!(code, 200, "{page}");
        names.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["metadata"]["name"].as_str().unwrap().to_string()),
        );
        next = page["metadata"]["continue"].as_str().map(str::to_string);
    }
    assert_eq!(names, ["cm3", "cm4", "cm5", "cm6"]);

    let (_, selected) = h
        .json(
            "GET",
            "/api/v1/namespaces/default/configmaps?labelSelector=app%20in%20(cm1,cm2)",
            Value::Null,
        )
        .await;
    assert_eq!(selected["items"].as_array().unwrap().len(), 2);
    let (_, by_name) = h
        .json(
            "GET",
            "/api/v1/configmaps?fieldSelector=metadata.name%3Dcm4",
            Value::Null,
        )
        .await;
    assert_eq!(by_name["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn finalizers_hold_deletion_until_removed() {
    let h = harness().await;
    let mut cm = configmap("f", json!({}));
    cm["metadata"]["finalizers"] = json!(["example.com/hold"]);
    h.json("POST", "/api/v1/namespaces/default/configmaps", cm)
        .await;
    let (code, marked) = h
        .json(
            "DELETE",
            "/api/v1/namespaces/default/configmaps/f",
            Value::Null,
        )
        .await;
    assert_eq!(code, 200);
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    let (code, _) = h
        .json(
            "GET",
            "/api/v1/namespaces/default/configmaps/f",
            Value::Null,
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = h
        .call(
            "PATCH",
            "/api/v1/namespaces/default/configmaps/f",
            "application/json-patch+json",
            json!([{"op": "remove", "path": "/metadata/finalizers"}]),
        )
        .await;
    assert_eq!(code, 200);
    let (code, _) = h
        .json(
            "GET",
            "/api/v1/namespaces/default/configmaps/f",
            Value::Null,
        )
        .await;
    assert_eq!(code, 404);
}

#[tokio::test]
async fn missing_namespace_and_bad_input() {
    let h = harness().await;
    let (code, body) = h
        .json(
            "POST",
            "/api/v1/namespaces/nope/configmaps",
            configmap("a", json!({})),
        )
        .await;
    assert_eq!(
        (code, body["message"].as_str()),
        (404, Some("namespaces \"nope\" not found"))
    );
    let (code, body) = h
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            configmap("Bad_Name", json!({})),
        )
        .await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(body["details"]["causes"][0]["field"], "metadata.name");
    let (code, _) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "application/json",
            Value::String("{".into()),
        )
        .await;
    assert_eq!(code, 400);
    let (code, _) = h
        .json("GET", "/api/v1/namespaces/default/widgets", Value::Null)
        .await;
    assert_eq!(code, 404);
    let (code, _) = h
        .call(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            "text/html",
            configmap("a", json!({})),
        )
        .await;
    assert_eq!(code, 415);
}

#[tokio::test]
async fn watch_replays_from_a_revision() {
    let h = harness().await;
    let (_, first) = h
        .json(
            "POST",
            "/api/v1/namespaces/default/configmaps",
            configmap("w1", json!({})),
        )
        .await;
    let rv = first["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    h.json(
        "POST",
        "/api/v1/namespaces/default/configmaps",
        configmap("w2", json!({})),
    )
    .await;
    h.json(
        "DELETE",
        "/api/v1/namespaces/default/configmaps/w1",
        Value::Null,
    )
    .await;
    let request = http::Request::builder()
        .uri(format!(
            "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion={rv}"
        ))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = h.server.handle(request).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut text = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while text.lines().count() < 2 && tokio::time::Instant::now() < deadline {
        let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Some(data) = frame.data_ref() {
            text.push_str(&String::from_utf8_lossy(data));
        }
    }
    let events: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "w2");
    assert_eq!(events[1]["type"], "DELETED");
    assert_eq!(events[1]["object"]["metadata"]["name"], "w1");
}
