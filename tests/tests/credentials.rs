//! Credentials on resource requests (front_door.rs covers the handshake
//! and discovery paths): a request without credentials is refused with a
//! 401 `Status` and changes nothing; a bearer token from
//! `--token-auth-file` is a user who can work with resources, and the
//! server reports who that user is as upstream does. Storage plays no part,
//! so one backend is enough.

use blackbox_tests::{Credentials, RawRequest, TestServer};
use http::Method;
use serde_json::{json, Value};

const TOKEN: &str = "t0ken-for-alice";
const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";

async fn start_with_tokens() -> (tempfile::TempDir, TestServer) {
    let files = tempfile::tempdir().expect("temp dir");
    let path = files.path().join("tokens.csv");
    std::fs::write(&path, format!("{TOKEN},alice,1001,\"dev,ops\"\n")).expect("token file");
    let server = TestServer::start_with(&["--token-auth-file", &path.display().to_string()]).await;
    (files, server)
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
}

#[tokio::test]
async fn resource_requests_need_credentials_and_a_token_user_can_use_resources() {
    let (_files, server) = start_with_tokens().await;

    let anonymous = [
        RawRequest::new(Method::POST, CONFIGMAPS).json(&configmap("sneaky")),
        RawRequest::get(CONFIGMAPS),
        RawRequest::get(&format!("{CONFIGMAPS}?watch=1")),
        RawRequest::new(Method::DELETE, "/api/v1/namespaces/kube-public"),
    ];
    for request in anonymous {
        let what = format!("{} {}", request.method, request.path);
        let response = server.call(request.credentials(Credentials::None)).await;
        let status = response.expect_failure(401, "Unauthorized");
        assert_eq!(status["message"], "Unauthorized", "{what}");
    }
    server
        .call(RawRequest::get(&format!("{CONFIGMAPS}/sneaky")))
        .await
        .expect_failure(404, "NotFound");
    server
        .call(RawRequest::get("/api/v1/namespaces/kube-public"))
        .await
        .expect(200);

    let alice = Credentials::Bearer(TOKEN.to_string());
    let created = server
        .call(
            RawRequest::new(Method::POST, CONFIGMAPS)
                .json(&configmap("from-alice"))
                .credentials(alice.clone()),
        )
        .await
        .expect(201);
    assert_eq!(created["metadata"]["name"], "from-alice");
    let read = server
        .call(RawRequest::get(&format!("{CONFIGMAPS}/from-alice")).credentials(alice.clone()))
        .await
        .expect(200);
    assert_eq!(read["metadata"]["uid"], created["metadata"]["uid"]);

    let wrong = Credentials::Bearer(format!("{TOKEN}x"));
    server
        .call(RawRequest::get(CONFIGMAPS).credentials(wrong))
        .await
        .expect_failure(401, "Unauthorized");

    // Who the server thinks the token is, as `kubectl auth whoami` asks.
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let answer = server
        .call(
            RawRequest::new(
                Method::POST,
                "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            )
            .json(&review)
            .credentials(alice),
        )
        .await
        .expect(201);
    let user = &answer["status"]["userInfo"];
    assert_eq!(user["username"], "alice", "{answer}");
    assert_eq!(user["uid"], "1001", "{answer}");
    let groups: Vec<&str> = user["groups"]
        .as_array()
        .map(|g| g.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for group in ["dev", "ops", "system:authenticated"] {
        assert!(groups.contains(&group), "{group} missing: {answer}");
    }
}
