//! API aggregation as upstream's kube-aggregator does it: an APIService
//! with a `service` sends `/apis/<group>/<version>/...` to an aggregated
//! API server (here the `sample-apiserver` binary, group
//! `wardle.example.com`), trusting its serving certificate through the
//! `caBundle` and the name `<service>.<namespace>.svc`, and telling it who
//! the caller is in `X-Remote-*` headers over a front-proxy client
//! certificate. The backend reads the request-header CA from the ConfigMap
//! `kube-system/extension-apiserver-authentication`, as real aggregated
//! servers do.
//!
//! The backend runs on loopback, so its Service is `type: ExternalName`
//! with `externalName: localhost` (Endpoints refuse loopback addresses).
//!
//! Availability is upstream's remote availability controller's: a missing
//! Service is `ServiceNotFound`, a ClusterIP Service without
//! EndpointSlices `EndpointsNotFound`, a backend that does not answer its
//! discovery path `FailedDiscoveryCheck`; while unavailable, requests get
//! upstream's plain-text 503 `service unavailable`.

mod aggregation_support;
mod crd_support;
mod support;

use aggregation_support::{
    available, external_name_service, flunder, flunders, register, upgrade, wait_for_available,
    SampleApiserver, TestCa, Trust, CREATED_BY, CREATED_BY_GROUPS, GROUP, NS, SERVICE,
    TOP_GROUP_PRIORITY, V1ALPHA1, V1BETA1,
};
use blackbox_tests::{Credentials, RawRequest, RawResponse, StreamItem, TestServer};
use crd_support::{eventually, SETTLE};
use http::Method;
use serde_json::{json, Value};
use support::{fails, get_json, ok, write_file, Table};

/// The namespace Flunders are made in.
const FLUNDERS_NS: &str = "flunders";

/// The Accept header of a client that wants aggregated discovery.
const AGGREGATED: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aggregated_group_is_served_through_the_front_door() {
    let server = TestServer::start().await;
    let ca = TestCa::new("wardle-ca");
    let backend = SampleApiserver::start(&ca, Trust::Kubeconfig(server.kubeconfig()));
    register(&server, &backend, &ca);
    ok(&server, &["create", "namespace", FLUNDERS_NS]);

    registered_api_services_are_available(&server);
    kubectl_creates_reads_and_deletes_flunders(&server).await;
    raw_requests_and_watches_pass_through(&server).await;
    the_backend_sees_the_callers_identity(&server, &backend).await;
    discovery_and_openapi_include_the_group(&server).await;
    group_priority_orders_the_group_list(&server).await;
    upgrades_reach_the_backend(&server, &backend).await;
    deleting_a_namespace_deletes_its_flunders(&server).await;
    the_ca_bundle_decides_whom_the_front_trusts(&server, &ca).await;
    deleting_the_api_services_removes_the_group(&server).await;
}

fn registered_api_services_are_available(server: &TestServer) {
    let table = Table::parse(&ok(server, &["get", "apiservices"]));
    for name in [V1ALPHA1, V1BETA1] {
        assert_eq!(table.cell(name, "SERVICE"), format!("{NS}/{SERVICE}"));
        assert_eq!(table.cell(name, "AVAILABLE"), "True", "{name}");
        let condition = available(server, name);
        assert_eq!(condition["status"], "True", "{condition}");
        assert_eq!(condition["reason"], "Passed", "{condition}");
        assert_eq!(condition["message"], "all checks passed", "{condition}");
    }
}

async fn kubectl_creates_reads_and_deletes_flunders(server: &TestServer) {
    let manifest = write_file(
        server,
        "one.yaml",
        &flunder("v1alpha1", FLUNDERS_NS, "one", "two"),
    );
    let created = ok(server, &["create", "-f", &manifest]);
    assert!(
        created.contains("flunder.wardle.example.com/one created"),
        "{created}"
    );

    let table = Table::parse(&ok(server, &["get", "flunders", "-n", FLUNDERS_NS]));
    assert_eq!(table.headers[0], "NAME", "{table:?}");
    table.cell("one", "NAME");

    // kubectl reads in the preferred version, v1beta1.
    let one = get_json(server, &["fl", "one", "-n", FLUNDERS_NS]);
    assert_eq!(one["apiVersion"], "wardle.example.com/v1beta1", "{one}");
    assert_eq!(one["kind"], "Flunder");
    assert_eq!(one["spec"]["reference"], "two");
    assert!(one["metadata"]["uid"].is_string(), "{one}");

    let resource = kube::api::ApiResource::from_gvk_with_plural(
        &kube::api::GroupVersionKind::gvk(GROUP, "v1alpha1", "Flunder"),
        "flunders",
    );
    let api: kube::Api<kube::api::DynamicObject> =
        kube::Api::namespaced_with(server.client().await, FLUNDERS_NS, &resource);
    let listed = api
        .list(&Default::default())
        .await
        .expect("kube-rs lists flunders");
    let names: Vec<String> = listed
        .items
        .iter()
        .filter_map(|item| item.metadata.name.clone())
        .collect();
    assert_eq!(names, ["one"]);

    let deleted = ok(server, &["delete", "fl", "one", "-n", FLUNDERS_NS]);
    assert!(
        deleted.contains("flunder.wardle.example.com \"one\" deleted"),
        "{deleted}"
    );
    let output = server.kubectl(&["get", "flunders", "-n", FLUNDERS_NS]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() && stderr.contains("No resources found"),
        "{stderr}"
    );
}

/// A namespace is emptied of what aggregated servers hold in it before it
/// goes, as upstream's namespace controller empties it through discovery.
async fn deleting_a_namespace_deletes_its_flunders(server: &TestServer) {
    let namespace = "doomed";
    ok(server, &["create", "namespace", namespace]);
    let path = format!("/apis/{GROUP}/v1beta1/namespaces/{namespace}/flunders");
    server
        .call(RawRequest::new(Method::POST, &path).json(&flunder_json("gone-with-it")))
        .await
        .expect(201);
    ok(
        server,
        &["delete", "namespace", namespace, "--wait", "--timeout=30s"],
    );
    let list = server.call(RawRequest::get(&path)).await.expect(200);
    assert_eq!(list["items"], json!([]), "{list}");
}

fn flunder_json(name: &str) -> Value {
    json!({
        "apiVersion": "wardle.example.com/v1beta1",
        "kind": "Flunder",
        "metadata": {"name": name},
        "spec": {"reference": "elsewhere"},
    })
}

async fn next_event(watch: &mut blackbox_tests::RawStream) -> Value {
    match watch.next_json(SETTLE).await {
        StreamItem::Json(event) => event,
        other => panic!("no watch event within {SETTLE:?}: {other:?}"),
    }
}

/// Raw requests and a watch go through the front door unchanged; the
/// watch's events arrive as they happen, not when the stream ends.
async fn raw_requests_and_watches_pass_through(server: &TestServer) {
    let collection = flunders("v1beta1", FLUNDERS_NS);
    let mut watch = server
        .stream(RawRequest::get(&format!("{collection}?watch=1")))
        .await;
    assert_eq!(watch.status, 200);

    let created = server
        .call(RawRequest::new(Method::POST, &collection).json(&flunder_json("raw")))
        .await
        .expect(201);
    assert_eq!(created["metadata"]["namespace"], FLUNDERS_NS);
    let added = next_event(&mut watch).await;
    assert_eq!(added["type"], "ADDED", "{added}");
    assert_eq!(added["object"]["metadata"]["name"], "raw");

    let list = server.call(RawRequest::get(&collection)).await.expect(200);
    assert_eq!(list["kind"], "FlunderList");
    assert_eq!(list["items"][0]["metadata"]["name"], "raw", "{list}");
    let read = server
        .call(RawRequest::get(&format!(
            "{}/raw",
            flunders("v1alpha1", FLUNDERS_NS)
        )))
        .await
        .expect(200);
    assert_eq!(read["apiVersion"], "wardle.example.com/v1alpha1");
    server
        .call(RawRequest::get(&format!("{collection}/missing")))
        .await
        .expect_failure(404, "NotFound");

    server
        .call(RawRequest::new(
            Method::DELETE,
            &format!("{collection}/raw"),
        ))
        .await
        .expect(200);
    let deleted = next_event(&mut watch).await;
    assert_eq!(deleted["type"], "DELETED", "{deleted}");
    assert_eq!(deleted["object"]["metadata"]["name"], "raw");
}

fn annotations(server: &TestServer, name: &str) -> (String, String) {
    let object = get_json(server, &["fl", name, "-n", FLUNDERS_NS]);
    let annotations = &object["metadata"]["annotations"];
    (
        annotations[CREATED_BY].as_str().unwrap_or_default().into(),
        annotations[CREATED_BY_GROUPS]
            .as_str()
            .unwrap_or_default()
            .into(),
    )
}

/// The front tells the backend who the caller is, after impersonation, and
/// nothing a client says in `X-Remote-*` headers of its own.
async fn the_backend_sees_the_callers_identity(server: &TestServer, backend: &SampleApiserver) {
    let manifest = |name: &str| {
        write_file(
            server,
            &format!("{name}.yaml"),
            &flunder("v1alpha1", FLUNDERS_NS, name, "x"),
        )
    };
    ok(server, &["create", "-f", &manifest("by-admin")]);
    assert_eq!(
        annotations(server, "by-admin"),
        (
            "kubernetes-admin".into(),
            "system:masters,system:authenticated".into()
        )
    );

    ok(
        server,
        &[
            "--as=jane",
            "--as-group=devs",
            "create",
            "-f",
            &manifest("by-jane"),
        ],
    );
    assert_eq!(
        annotations(server, "by-jane"),
        ("jane".into(), "devs,system:authenticated".into())
    );

    // kubectl 1.32 has no --as-user-extra; the header is what it would send.
    server
        .call(
            RawRequest::get(&format!("{}?who=extras", flunders("v1beta1", FLUNDERS_NS)))
                .header("Impersonate-User", "jane")
                .header("Impersonate-Extra-Scopes", "read"),
        )
        .await
        .expect(200);
    let seen = logged(backend, "?who=extras");
    assert!(
        seen.ends_with("user=jane groups=system:authenticated extra=scopes=read"),
        "{seen}"
    );

    let sneaky = RawRequest::new(Method::POST, &flunders("v1beta1", FLUNDERS_NS))
        .json(&flunder_json("by-mallory"))
        .header("X-Remote-User", "mallory")
        .header("X-Remote-Group", "evil")
        .header("X-Remote-Extra-Sneaky", "yes");
    server.call(sneaky).await.expect(201);
    assert_eq!(
        annotations(server, "by-mallory"),
        (
            "kubernetes-admin".into(),
            "system:masters,system:authenticated".into()
        )
    );
    let seen = logged(
        backend,
        &format!("POST {}", flunders("v1beta1", FLUNDERS_NS)),
    );
    assert!(
        seen.ends_with("user=kubernetes-admin groups=system:masters,system:authenticated extra="),
        "{seen}"
    );
}

/// The last request line the backend logged that contains `needle`.
fn logged(backend: &SampleApiserver, needle: &str) -> String {
    backend
        .requests()
        .into_iter()
        .rfind(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("the backend logged no {needle}:\n{}", backend.log()))
}

/// The names of the groups in `/apis`, in order.
async fn group_names(server: &TestServer) -> Vec<String> {
    let groups = server.call(RawRequest::get("/apis")).await.expect(200);
    groups["groups"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|g| g["name"].as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

async fn discovery_and_openapi_include_the_group(server: &TestServer) {
    let groups = server.call(RawRequest::get("/apis")).await.expect(200);
    let wardle = groups["groups"]
        .as_array()
        .and_then(|all| all.iter().find(|g| g["name"] == GROUP))
        .unwrap_or_else(|| panic!("no {GROUP} in {groups}"));
    assert_eq!(
        wardle["versions"],
        json!([
            {"groupVersion": "wardle.example.com/v1beta1", "version": "v1beta1"},
            {"groupVersion": "wardle.example.com/v1alpha1", "version": "v1alpha1"},
        ])
    );
    assert_eq!(wardle["preferredVersion"]["version"], "v1beta1");

    let aggregated = server
        .call(RawRequest::get("/apis").header("Accept", AGGREGATED))
        .await
        .expect(200);
    assert_eq!(aggregated["kind"], "APIGroupDiscoveryList", "{aggregated}");
    let item = aggregated["items"]
        .as_array()
        .and_then(|all| all.iter().find(|i| i["metadata"]["name"] == GROUP))
        .unwrap_or_else(|| panic!("no {GROUP} in {aggregated}"));
    let versions: Vec<&str> = item["versions"]
        .as_array()
        .map(|all| all.iter().filter_map(|v| v["version"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(versions, ["v1beta1", "v1alpha1"], "{item}");
    for version in item["versions"].as_array().into_iter().flatten() {
        assert_eq!(version["resources"][0]["resource"], "flunders", "{item}");
        assert_eq!(version["resources"][0]["shortNames"], json!(["fl"]));
    }

    let table = Table::parse(&ok(
        server,
        &["api-resources", "--api-group=wardle.example.com"],
    ));
    assert_eq!(table.cell("flunders", "SHORTNAMES"), "fl");
    assert_eq!(
        table.cell("flunders", "APIVERSION"),
        "wardle.example.com/v1beta1"
    );
    assert_eq!(table.cell("flunders", "NAMESPACED"), "true");
    assert_eq!(table.cell("flunders", "KIND"), "Flunder");

    // The aggregator fetches the backend's OpenAPI on its own schedule.
    let explained = eventually("kubectl explain flunders.spec", SETTLE, || async {
        let output = server.kubectl(&["explain", "flunders.spec"]);
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if output.status.success() && text.contains("The name of another flunder") {
            Ok(text)
        } else {
            Err(format!("{text}{}", String::from_utf8_lossy(&output.stderr)))
        }
    })
    .await;
    assert!(explained.contains("reference\t<string>"), "{explained}");

    let index = server
        .call(RawRequest::get("/openapi/v3"))
        .await
        .expect(200);
    let url = index["paths"]["apis/wardle.example.com/v1alpha1"]["serverRelativeURL"]
        .as_str()
        .unwrap_or_else(|| panic!("no wardle v1alpha1 in {index}"))
        .to_string();
    let document = server.call(RawRequest::get(&url)).await.expect(200);
    assert!(
        document["components"]["schemas"]["com.example.wardle.v1alpha1.Flunder"].is_object(),
        "{document}"
    );
    eventually(
        "/openapi/v2 has the Flunder definitions",
        SETTLE,
        || async {
            let v2 = server
                .call(RawRequest::get("/openapi/v2").header("Accept", "application/json"))
                .await;
            let definitions = &v2.json()["definitions"];
            if definitions["com.example.wardle.v1alpha1.Flunder"].is_object()
                && definitions["com.example.wardle.v1beta1.Flunder"].is_object()
            {
                Ok(())
            } else {
                Err(format!("{} definitions", v2.status))
            }
        },
    )
    .await;
}

/// Groups are ordered by their highest groupPriorityMinimum: 20000 puts
/// wardle first, above the core group's 18000; 100 puts it last, below
/// every built-in group and CRD groups (1000).
async fn group_priority_orders_the_group_list(server: &TestServer) {
    let names = group_names(server).await;
    assert_eq!(names.first().map(String::as_str), Some(GROUP), "{names:?}");

    set_group_priority(server, 100);
    eventually(&format!("{GROUP} is the last group"), SETTLE, || async {
        let names = group_names(server).await;
        if names.last().map(String::as_str) == Some(GROUP) {
            Ok(())
        } else {
            Err(format!("{names:?}"))
        }
    })
    .await;
    set_group_priority(server, TOP_GROUP_PRIORITY);
}

fn set_group_priority(server: &TestServer, priority: u32) {
    let patch = json!({"spec": {"groupPriorityMinimum": priority}}).to_string();
    for name in [V1ALPHA1, V1BETA1] {
        ok(
            server,
            &["patch", "apiservice", name, "--type=merge", "-p", &patch],
        );
    }
}

/// An HTTP/1.1 upgrade through the front door reaches the backend, which
/// answers 101 and echoes what is sent through the tunnel.
async fn upgrades_reach_the_backend(server: &TestServer, backend: &SampleApiserver) {
    let path = format!("{}/x/echo", flunders("v1alpha1", FLUNDERS_NS));
    let payload = b"through the front door and back";
    let upgraded = upgrade(
        &server.endpoint(),
        &Credentials::Admin,
        &path,
        "SPDY/3.1",
        &[],
        payload,
    )
    .await
    .unwrap_or_else(|e| panic!("upgrading {path}: {e}\n{}", server.log()));
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
    let seen = logged(backend, &path);
    assert!(seen.contains("user=kubernetes-admin"), "{seen}");
}

/// GETs `path` until the answer passes `done`; returns it.
async fn wait_for_answer(
    server: &TestServer,
    what: &str,
    path: &str,
    done: impl Fn(&RawResponse) -> bool,
) -> RawResponse {
    eventually(what, SETTLE, || async {
        let response = server.call(RawRequest::get(path)).await;
        if done(&response) {
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

/// A caBundle of another CA makes the front refuse the backend's
/// certificate: requests fail with 503 naming the certificate (upstream's
/// availability probe does not verify, so Available is not asserted).
/// `insecureSkipTLSVerify` without a caBundle trusts any certificate.
async fn the_ca_bundle_decides_whom_the_front_trusts(server: &TestServer, ca: &TestCa) {
    let path = flunders("v1alpha1", FLUNDERS_NS);
    let other = TestCa::new("some-other-ca");
    let patch = |spec: Value| {
        ok(
            server,
            &[
                "patch",
                "apiservice",
                V1ALPHA1,
                "--type=merge",
                "-p",
                &json!({ "spec": spec }).to_string(),
            ],
        );
    };
    patch(json!({"caBundle": other.ca_bundle()}));
    let refused = wait_for_answer(server, "a distrusted backend fails", &path, |r| {
        r.status == 503
    })
    .await;
    let body = String::from_utf8_lossy(&refused.body);
    assert!(body.contains("certificate"), "{body}");

    patch(json!({"caBundle": null, "insecureSkipTLSVerify": true}));
    wait_for_answer(server, "an unverified backend answers", &path, |r| {
        r.status == 200
    })
    .await;

    patch(json!({"caBundle": ca.ca_bundle(), "insecureSkipTLSVerify": null}));
    wait_for_answer(server, "the trusted backend answers", &path, |r| {
        r.status == 200
    })
    .await;
}

async fn deleting_the_api_services_removes_the_group(server: &TestServer) {
    ok(server, &["delete", "apiservice", V1ALPHA1, V1BETA1]);
    eventually(&format!("{GROUP} leaves /apis"), SETTLE, || async {
        let names = group_names(server).await;
        if names.iter().any(|name| name == GROUP) {
            Err(format!("{names:?}"))
        } else {
            Ok(())
        }
    })
    .await;
    wait_for_answer(
        server,
        "flunders are no longer served",
        &flunders("v1beta1", FLUNDERS_NS),
        |r| r.status == 404,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn availability_follows_the_backend_and_its_service() {
    let server = TestServer::start().await;
    let ca = TestCa::new("wardle-ca");
    let mut backend = SampleApiserver::start(&ca, Trust::Kubeconfig(server.kubeconfig()));
    register(&server, &backend, &ca);
    let path = flunders("v1alpha1", NS);
    // kubectl learns the resource (and caches discovery) while it is served.
    ok(&server, &["get", "flunders", "-n", NS]);

    let stopped = backend.stop().expect("the backend was running");
    assert!(stopped.success(), "{stopped}\n{}", backend.log());
    let down = wait_for_available(&server, V1ALPHA1, "False", "FailedDiscoveryCheck").await;
    let message = down["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("failing or missing response from https://"),
        "{down}"
    );
    let unavailable = server.call(RawRequest::get(&path)).await;
    assert_eq!(unavailable.status, 503, "{unavailable:?}");
    assert_eq!(
        String::from_utf8_lossy(&unavailable.body).trim(),
        "service unavailable"
    );
    let content_type = unavailable.headers["content-type"].to_str().unwrap_or("");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let refused = fails(&server, &["get", "flunders", "-n", NS]);
    assert!(
        refused.contains("Error from server (ServiceUnavailable)"),
        "{refused}"
    );

    backend.restart();
    wait_for_available(&server, V1ALPHA1, "True", "Passed").await;
    server.call(RawRequest::get(&path)).await.expect(200);

    ok(&server, &["delete", "service", SERVICE, "-n", NS]);
    let missing = wait_for_available(&server, V1ALPHA1, "False", "ServiceNotFound").await;
    assert_eq!(
        missing["message"],
        format!("service/{SERVICE} in \"{NS}\" is not present")
    );

    // A ClusterIP Service on the APIService's port, with no selector and
    // so no EndpointSlices.
    let cluster_ip = format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {SERVICE}\n  namespace: {NS}\n\
         spec:\n  ports:\n  - port: {}\n",
        backend.port()
    );
    ok(
        &server,
        &[
            "apply",
            "-f",
            &write_file(&server, "cluster-ip.yaml", &cluster_ip),
        ],
    );
    let no_endpoints = wait_for_available(&server, V1ALPHA1, "False", "EndpointsNotFound").await;
    assert_eq!(
        no_endpoints["message"],
        format!("cannot find endpointslices for service/{SERVICE} in \"{NS}\"")
    );

    ok(&server, &["delete", "service", SERVICE, "-n", NS]);
    ok(
        &server,
        &[
            "apply",
            "-f",
            &write_file(
                &server,
                "external-name.yaml",
                &external_name_service(backend.port()),
            ),
        ],
    );
    wait_for_available(&server, V1ALPHA1, "True", "Passed").await;
    server.call(RawRequest::get(&path)).await.expect(200);
}
