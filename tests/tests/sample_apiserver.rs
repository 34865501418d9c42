//! The `sample-apiserver` test binary on its own, talked to directly as an
//! aggregator would: a TLS client certificate from the request-header CA
//! with an allowed common name, and the caller in `X-Remote-*` headers, as
//! upstream's request-header authenticator takes them. The aggregation
//! tests (aggregation.rs) rely on everything checked here.

mod aggregation_support;
mod crd_support;
mod support;

use std::time::Duration;

use aggregation_support::{
    flunders, upgrade, SampleApiserver, TestCa, Trust, CREATED_BY, CREATED_BY_GROUPS,
    FRONT_PROXY_CN, GROUP,
};
use blackbox_tests::{Credentials, Endpoint, RawRequest, RawResponse, StreamItem, TestServer};
use http::Method;
use serde_json::{json, Value};
use support::{ok, write_file};

/// The namespace the direct tests put Flunders in.
const NS: &str = "direct";
const WAIT: Duration = Duration::from_secs(10);

/// A client of the backend: its endpoint and the front-proxy certificate.
struct Front {
    endpoint: Endpoint,
    proxy: Credentials,
}

impl Front {
    /// `request` as the front proxy sends it for `user` in `groups`.
    fn as_user(&self, request: RawRequest, user: &str, groups: &[&str]) -> RawRequest {
        let mut request = request
            .credentials(self.proxy.clone())
            .header("X-Remote-User", user);
        for group in groups {
            request = request.header("X-Remote-Group", group);
        }
        request
    }

    async fn send(&self, request: RawRequest) -> RawResponse {
        let what = format!("{} {}", request.method, request.path);
        self.endpoint
            .send(request)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    /// `method path` (JSON body when given) as user `alice` in `devs`.
    async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> RawResponse {
        let mut request = RawRequest::new(method, path);
        if let Some(body) = body {
            request = request.json(body);
        }
        self.send(self.as_user(request, "alice", &["devs"])).await
    }
}

fn flunder_json(version: &str, name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/{version}"),
        "kind": "Flunder",
        "metadata": {"name": name, "labels": labels},
        "spec": {"reference": "other", "referenceType": "Flunder"},
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_serves_flunders_to_a_trusted_front_proxy() {
    let serving_ca = TestCa::new("wardle-serving-ca");
    let proxy_ca = TestCa::new("front-proxy-ca");
    let mut backend = SampleApiserver::start(
        &serving_ca,
        Trust::ClientCa {
            ca: &proxy_ca,
            allowed_names: &[FRONT_PROXY_CN],
        },
    );
    let front = Front {
        endpoint: backend.endpoint(),
        proxy: proxy_ca.client(FRONT_PROXY_CN).credentials(),
    };

    only_the_front_proxy_identity_is_accepted(&front, &proxy_ca, &backend).await;
    discovery_lists_the_group_in_both_forms(&front).await;
    openapi_describes_flunders(&front).await;
    flunders_are_created_read_and_listed(&front).await;
    writes_check_the_resource_version(&front).await;
    a_watch_sees_changes_as_they_happen(&front).await;
    flunders_are_deleted(&front).await;
    extras_reach_the_log_decoded(&front, &backend).await;
    an_upgrade_echoes_bytes(&front).await;

    // A restart keeps the port (the aggregation tests rely on it) and
    // forgets every Flunder.
    let port = backend.port();
    backend.restart();
    assert_eq!(backend.port(), port);
    let after = front
        .call(Method::GET, &flunders("v1alpha1", NS), None)
        .await
        .expect(200);
    assert_eq!(names(&after), Vec::<String>::new());

    let stopped = backend.stop().expect("the backend was running");
    assert!(stopped.success(), "{stopped}\n{}", backend.log());
    assert!(backend.log().contains("shutting down"), "{}", backend.log());
}

/// No certificate, one from another CA, a CN not allowed, or no username
/// header: each is a 401 `Status`. Health checks need no credentials.
async fn only_the_front_proxy_identity_is_accepted(
    front: &Front,
    proxy_ca: &TestCa,
    backend: &SampleApiserver,
) {
    let health = front
        .send(RawRequest::get("/healthz").credentials(Credentials::None))
        .await;
    assert_eq!(health.status, 200);
    assert_eq!(&health.body[..], b"ok");

    let path = "/apis/wardle.example.com/v1alpha1";
    let stranger = TestCa::new("stranger-ca").client(FRONT_PROXY_CN);
    let refused = [
        ("no certificate", Credentials::None, true),
        ("another CA", stranger.credentials(), true),
        (
            "a CN not allowed",
            proxy_ca.client("someone-else").credentials(),
            true,
        ),
        ("no username header", front.proxy.clone(), false),
    ];
    for (what, credentials, with_user) in refused {
        let mut request = RawRequest::get(path).credentials(credentials);
        if with_user {
            request = request.header("X-Remote-User", "alice");
        }
        let response = front.send(request).await;
        let status = response.expect_failure(401, "Unauthorized");
        assert_eq!(status["message"], "Unauthorized", "{what}");
    }
    let log = backend.log();
    for reason in [
        "refused: no client certificate",
        "refused: client certificate not trusted",
        "refused: subject with cn=someone-else is not in the allowed list",
        "refused: no username header",
    ] {
        assert!(log.contains(reason), "{reason} not logged:\n{log}");
    }

    let allowed = front
        .send(front.as_user(RawRequest::get(path), "alice", &[]))
        .await;
    assert_eq!(allowed.status, 200, "{allowed:?}");
    assert_eq!(allowed.version, http::Version::HTTP_2, "ALPN picks h2");
}

async fn discovery_lists_the_group_in_both_forms(front: &Front) {
    let groups = front.call(Method::GET, "/apis", None).await.expect(200);
    assert_eq!(groups["kind"], "APIGroupList");
    let wardle = &groups["groups"][0];
    assert_eq!(wardle["name"], GROUP);
    let versions: Vec<&str> = wardle["versions"]
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["version"].as_str())
        .collect();
    assert_eq!(versions, ["v1beta1", "v1alpha1"]);
    assert_eq!(
        wardle["preferredVersion"]["groupVersion"],
        "wardle.example.com/v1beta1"
    );

    let group = front
        .call(Method::GET, "/apis/wardle.example.com", None)
        .await
        .expect(200);
    assert_eq!(group["kind"], "APIGroup");
    assert_eq!(group["preferredVersion"]["version"], "v1beta1");

    let resources = front
        .call(Method::GET, "/apis/wardle.example.com/v1alpha1", None)
        .await
        .expect(200);
    assert_eq!(resources["groupVersion"], "wardle.example.com/v1alpha1");
    let flunders = &resources["resources"][0];
    assert_eq!(flunders["name"], "flunders");
    assert_eq!(flunders["kind"], "Flunder");
    assert_eq!(flunders["namespaced"], true);
    assert_eq!(flunders["shortNames"], json!(["fl"]));
    assert_eq!(
        flunders["verbs"],
        json!([
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch"
        ])
    );
    assert_eq!(resources["resources"].as_array().map(Vec::len), Some(1));

    let aggregated = front
        .send(front.as_user(
            RawRequest::get("/apis").header(
                "Accept",
                "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
            ),
            "alice",
            &[],
        ))
        .await;
    assert_eq!(
        aggregated.headers["content-type"],
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    );
    let aggregated = aggregated.expect(200);
    assert_eq!(aggregated["kind"], "APIGroupDiscoveryList");
    assert_eq!(aggregated["apiVersion"], "apidiscovery.k8s.io/v2");
    let item = &aggregated["items"][0];
    assert_eq!(item["metadata"]["name"], GROUP);
    assert_eq!(item["versions"][0]["version"], "v1beta1");
    assert_eq!(item["versions"][1]["version"], "v1alpha1");
    let resource = &item["versions"][1]["resources"][0];
    assert_eq!(resource["resource"], "flunders");
    assert_eq!(resource["scope"], "Namespaced");
    assert_eq!(resource["responseKind"]["kind"], "Flunder");
    assert_eq!(resource["shortNames"], json!(["fl"]));

    front
        .call(Method::GET, "/apis/wardle.example.com/v2", None)
        .await
        .expect_failure(404, "NotFound");
    front
        .call(Method::GET, "/api/v1/pods", None)
        .await
        .expect_failure(404, "NotFound");
}

async fn openapi_describes_flunders(front: &Front) {
    let v2 = front
        .call(Method::GET, "/openapi/v2", None)
        .await
        .expect(200);
    let flunder = &v2["definitions"]["com.example.wardle.v1alpha1.Flunder"];
    assert_eq!(
        flunder["x-kubernetes-group-version-kind"],
        json!([{"group": GROUP, "version": "v1alpha1", "kind": "Flunder"}])
    );
    assert!(v2["definitions"]["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"].is_object());

    let index = front
        .call(Method::GET, "/openapi/v3", None)
        .await
        .expect(200);
    for version in ["v1alpha1", "v1beta1"] {
        let url = index["paths"][format!("apis/{GROUP}/{version}")]["serverRelativeURL"]
            .as_str()
            .unwrap_or_else(|| panic!("no {version} in {index}"))
            .to_string();
        assert!(url.contains("?hash="), "{url}");
        let document = front.call(Method::GET, &url, None).await.expect(200);
        let schemas = &document["components"]["schemas"];
        let spec = &schemas[format!("com.example.wardle.{version}.FlunderSpec")];
        assert!(
            spec["properties"]["reference"]["description"]
                .as_str()
                .is_some_and(|d| d.contains("another flunder")),
            "{spec}"
        );
        assert_eq!(
            spec["properties"]["referenceType"]["enum"],
            json!(["Fischer", "Flunder"])
        );
        assert!(schemas[format!("com.example.wardle.{version}.FlunderList")].is_object());
    }
}

async fn flunders_are_created_read_and_listed(front: &Front) {
    let collection = flunders("v1alpha1", NS);
    let created = front
        .call(
            Method::POST,
            &collection,
            Some(&flunder_json("v1alpha1", "one", json!({"app": "wardle"}))),
        )
        .await
        .expect(201);
    let metadata = &created["metadata"];
    assert_eq!(metadata["namespace"], NS);
    assert!(metadata["uid"].as_str().is_some_and(|u| u.len() == 36));
    assert!(metadata["creationTimestamp"].is_string());
    assert!(metadata["resourceVersion"].is_string());
    assert_eq!(metadata["annotations"][CREATED_BY], "alice");
    assert_eq!(metadata["annotations"][CREATED_BY_GROUPS], "devs");
    assert_eq!(created["spec"]["reference"], "other");

    let duplicate = front
        .call(
            Method::POST,
            &collection,
            Some(&flunder_json("v1alpha1", "one", json!({}))),
        )
        .await;
    let status = duplicate.expect_failure(409, "AlreadyExists");
    assert_eq!(
        status["message"],
        "flunders.wardle.example.com \"one\" already exists"
    );

    front
        .call(
            Method::POST,
            &flunders("v1beta1", NS),
            Some(&flunder_json("v1beta1", "two", json!({"app": "other"}))),
        )
        .await
        .expect(201);

    // The same object in the other version.
    let read = front
        .call(
            Method::GET,
            &format!("{}/one", flunders("v1beta1", NS)),
            None,
        )
        .await
        .expect(200);
    assert_eq!(read["apiVersion"], "wardle.example.com/v1beta1");
    assert_eq!(read["kind"], "Flunder");
    assert_eq!(read["metadata"]["uid"], created["metadata"]["uid"]);

    let missing = front
        .call(Method::GET, &format!("{collection}/nope"), None)
        .await;
    let status = missing.expect_failure(404, "NotFound");
    assert_eq!(
        status["message"],
        "flunders.wardle.example.com \"nope\" not found"
    );
    assert_eq!(
        status["details"],
        json!({"name": "nope", "group": GROUP, "kind": "flunders"})
    );

    let list = front.call(Method::GET, &collection, None).await.expect(200);
    assert_eq!(list["kind"], "FlunderList");
    assert_eq!(list["apiVersion"], "wardle.example.com/v1alpha1");
    assert!(list["metadata"]["resourceVersion"].is_string());
    assert_eq!(names(&list), ["one", "two"]);

    let selected = front
        .call(
            Method::GET,
            &format!("{collection}?labelSelector=app%3Dwardle"),
            None,
        )
        .await
        .expect(200);
    assert_eq!(names(&selected), ["one"]);
    let everywhere = front
        .call(
            Method::GET,
            "/apis/wardle.example.com/v1beta1/flunders",
            None,
        )
        .await
        .expect(200);
    assert_eq!(names(&everywhere), ["one", "two"]);
    let elsewhere = front
        .call(Method::GET, &flunders("v1beta1", "elsewhere"), None)
        .await
        .expect(200);
    assert_eq!(names(&elsewhere), Vec::<String>::new());

    let refused = front
        .call(
            Method::POST,
            &collection,
            Some(&json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}})),
        )
        .await;
    refused.expect_failure(400, "BadRequest");
    let unknown_field = front
        .call(
            Method::POST,
            &format!("{collection}?fieldValidation=Strict"),
            Some(
                &json!({"apiVersion": "wardle.example.com/v1alpha1", "kind": "Flunder",
                "metadata": {"name": "strict"}, "spec": {"colour": "red"}}),
            ),
        )
        .await;
    let status = unknown_field.expect_failure(400, "BadRequest");
    assert_eq!(
        status["message"],
        "strict decoding error: unknown field \"spec.colour\""
    );
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// PUT with a stale resourceVersion is a Conflict; a current one and a
/// merge patch both write.
async fn writes_check_the_resource_version(front: &Front) {
    let path = format!("{}/one", flunders("v1alpha1", NS));
    let current = front.call(Method::GET, &path, None).await.expect(200);
    let mut changed = current.clone();
    changed["spec"]["reference"] = json!("changed");
    let updated = front
        .call(Method::PUT, &path, Some(&changed))
        .await
        .expect(200);
    assert_eq!(updated["spec"]["reference"], "changed");
    assert_ne!(
        updated["metadata"]["resourceVersion"],
        current["metadata"]["resourceVersion"]
    );

    let stale = front.call(Method::PUT, &path, Some(&current)).await;
    let status = stale.expect_failure(409, "Conflict");
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on flunders.wardle.example.com \"one\": the object has \
         been modified; please apply your changes to the latest version and try again"
    );

    let patch =
        json!({"metadata": {"labels": {"patched": "yes"}}, "spec": {"referenceType": "Fischer"}});
    let request = RawRequest::new(Method::PATCH, &path).body_with_type(
        patch.to_string().into_bytes(),
        "application/merge-patch+json",
    );
    let patched = front
        .send(front.as_user(request, "alice", &[]))
        .await
        .expect(200);
    assert_eq!(patched["metadata"]["labels"]["patched"], "yes");
    assert_eq!(patched["metadata"]["labels"]["app"], "wardle");
    assert_eq!(patched["spec"]["referenceType"], "Fischer");
    assert_eq!(patched["spec"]["reference"], "changed");
    assert_eq!(patched["metadata"]["uid"], current["metadata"]["uid"]);

    let strategic = RawRequest::new(Method::PATCH, &path)
        .body_with_type(b"{}".to_vec(), "application/strategic-merge-patch+json");
    front
        .send(front.as_user(strategic, "alice", &[]))
        .await
        .expect_failure(415, "UnsupportedMediaType");
}

/// A watch from now sees the existing objects as ADDED, then each change
/// as it happens; one from a resourceVersion replays what came after it.
async fn a_watch_sees_changes_as_they_happen(front: &Front) {
    let collection = flunders("v1beta1", NS);
    let mut watch = front
        .endpoint
        .stream(front.as_user(
            RawRequest::get(&format!("{collection}?watch=1&labelSelector=app%3Dwardle")),
            "alice",
            &[],
        ))
        .await
        .expect("the watch starts");
    assert_eq!(watch.status, 200);
    let first = next_event(&mut watch).await;
    assert_eq!(first["type"], "ADDED");
    assert_eq!(first["object"]["metadata"]["name"], "one");
    assert_eq!(first["object"]["apiVersion"], "wardle.example.com/v1beta1");

    let created = front
        .call(
            Method::POST,
            &collection,
            Some(&flunder_json("v1beta1", "three", json!({"app": "wardle"}))),
        )
        .await
        .expect(201);
    let added = next_event(&mut watch).await;
    assert_eq!(added["type"], "ADDED");
    assert_eq!(added["object"]["metadata"]["name"], "three");

    // Leaving the selection is a deletion for this watcher.
    let path = format!("{collection}/three");
    let relabel = json!({"metadata": {"labels": {"app": "gone"}}});
    let request = RawRequest::new(Method::PATCH, &path).body_with_type(
        relabel.to_string().into_bytes(),
        "application/merge-patch+json",
    );
    front
        .send(front.as_user(request, "alice", &[]))
        .await
        .expect(200);
    let left = next_event(&mut watch).await;
    assert_eq!(left["type"], "DELETED");
    assert_eq!(left["object"]["metadata"]["name"], "three");

    // From the creation's resourceVersion: the relabel, then nothing.
    let from = created["metadata"]["resourceVersion"]
        .as_str()
        .expect("a resourceVersion");
    let mut replay = front
        .endpoint
        .stream(front.as_user(
            RawRequest::get(&format!(
                "{collection}?watch=true&resourceVersion={from}&timeoutSeconds=1"
            )),
            "alice",
            &[],
        ))
        .await
        .expect("the watch starts");
    let modified = next_event(&mut replay).await;
    assert_eq!(modified["type"], "MODIFIED");
    assert_eq!(modified["object"]["metadata"]["labels"]["app"], "gone");
    match replay.next_json(WAIT).await {
        StreamItem::End => {}
        other => panic!("the watch should end after timeoutSeconds: {other:?}"),
    }

    front.call(Method::DELETE, &path, None).await.expect(200);
    let quiet = watch.next_json(Duration::from_millis(300)).await;
    assert!(
        matches!(quiet, StreamItem::Timeout),
        "an object outside the selection: {quiet:?}"
    );
}

async fn next_event(watch: &mut blackbox_tests::RawStream) -> Value {
    match watch.next_json(WAIT).await {
        StreamItem::Json(event) => event,
        other => panic!("no watch event within {WAIT:?}: {other:?}"),
    }
}

/// DELETE answers with upstream's Success `Status` naming the object; the
/// object is gone after, and a second DELETE is NotFound.
async fn flunders_are_deleted(front: &Front) {
    let path = format!("{}/two", flunders("v1alpha1", NS));
    let uid = front.call(Method::GET, &path, None).await.expect(200)["metadata"]["uid"].clone();
    let deleted = front.call(Method::DELETE, &path, None).await.expect(200);
    assert_eq!(deleted["kind"], "Status");
    assert_eq!(deleted["status"], "Success");
    assert_eq!(
        deleted["details"],
        json!({"name": "two", "group": GROUP, "kind": "flunders", "uid": uid})
    );
    front
        .call(Method::GET, &path, None)
        .await
        .expect_failure(404, "NotFound");
    front
        .call(Method::DELETE, &path, None)
        .await
        .expect_failure(404, "NotFound");
}

/// Extra headers become extras: the key lower-cased and percent-decoded,
/// every value kept in order.
async fn extras_reach_the_log_decoded(front: &Front, backend: &SampleApiserver) {
    let request = front
        .as_user(
            RawRequest::get("/apis/wardle.example.com/v1alpha1?extras=1"),
            "bob",
            &["g1", "g2"],
        )
        .header("X-Remote-Extra-Scopes", "read")
        .header("X-Remote-Extra-Scopes", "write")
        .header("X-Remote-Extra-Example.org%2FTeam", "blue");
    front.send(request).await.expect(200);
    let line = backend
        .requests()
        .into_iter()
        .find(|line| line.contains("?extras=1"))
        .expect("the request was logged");
    assert_eq!(
        line,
        "request GET /apis/wardle.example.com/v1alpha1?extras=1 user=bob groups=g1,g2 \
         extra=example.org/team=blue;scopes=read|write"
    );
}

async fn an_upgrade_echoes_bytes(front: &Front) {
    let path = "/apis/wardle.example.com/v1alpha1/namespaces/direct/flunders/x/echo";
    let payload = b"bytes through the tunnel\x00\xff";
    let upgraded = upgrade(
        &front.endpoint,
        &front.proxy,
        path,
        "SPDY/3.1",
        &[("X-Remote-User", "alice")],
        payload,
    )
    .await
    .expect("the upgrade is answered");
    assert!(
        upgraded.head.starts_with("HTTP/1.1 101"),
        "{}",
        upgraded.head
    );
    assert!(
        upgraded
            .head
            .to_ascii_lowercase()
            .contains("upgrade: spdy/3.1"),
        "{}",
        upgraded.head
    );
    assert_eq!(upgraded.echoed, payload);

    let anonymous = upgrade(&front.endpoint, &front.proxy, path, "websocket", &[], b"x")
        .await
        .expect("the upgrade is answered");
    assert!(
        anonymous.head.starts_with("HTTP/1.1 401"),
        "{}",
        anonymous.head
    );
}

/// With `--authentication-kubeconfig` the backend takes the request-header
/// CA, allowed names and header names from the ConfigMap
/// `kube-system/extension-apiserver-authentication` of that server. The
/// test writes the ConfigMap itself (with `kubectl apply`, so it also works
/// when the server has already written its own), naming header names of
/// its own to show they are read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backend_reads_request_header_settings_from_the_cluster() {
    let server = TestServer::start().await;
    let proxy_ca = TestCa::new("cluster-front-proxy-ca");
    let indented: String = proxy_ca
        .pem()
        .lines()
        .map(|line| format!("    {line}\n"))
        .collect();
    let configmap = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extension-apiserver-authentication\n  \
         namespace: kube-system\ndata:\n  requestheader-client-ca-file: |\n{indented}  \
         requestheader-allowed-names: '[\"{FRONT_PROXY_CN}\"]'\n  \
         requestheader-username-headers: '[\"X-Test-User\"]'\n  \
         requestheader-group-headers: '[\"X-Test-Group\"]'\n  \
         requestheader-extra-headers-prefix: '[\"X-Test-Extra-\"]'\n"
    );
    ok(
        &server,
        &[
            "apply",
            "-f",
            &write_file(&server, "authentication.yaml", &configmap),
        ],
    );

    let serving_ca = TestCa::new("wardle-serving-ca");
    let backend = SampleApiserver::start(&serving_ca, Trust::Kubeconfig(server.kubeconfig()));
    let endpoint = backend.endpoint();
    let proxy = proxy_ca.client(FRONT_PROXY_CN).credentials();
    let request = RawRequest::get("/apis/wardle.example.com/v1beta1")
        .credentials(proxy.clone())
        .header("X-Test-User", "carol")
        .header("X-Test-Group", "team")
        .header("X-Test-Extra-Reason", "testing");
    let response = endpoint.send(request).await.expect("an answer");
    assert_eq!(response.status, 200, "{}", backend.log());
    let line = backend
        .requests()
        .pop()
        .unwrap_or_else(|| panic!("nothing logged:\n{}", backend.log()));
    assert_eq!(
        line,
        "request GET /apis/wardle.example.com/v1beta1 user=carol groups=team extra=reason=testing"
    );
}
