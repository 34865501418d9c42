//! Discovery, version, health and OpenAPI documents as upstream serves
//! them, on both backends; kubectl's discovery-driven commands on top.

use blackbox_tests::{on_each_backend, Cluster, RawRequest};
use serde_json::Value;

const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
/// What kubectl 1.32 sends for discovery.
const KUBECTL_DISCOVERY_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

async fn get_json(cluster: &Cluster, path: &str) -> Value {
    cluster.call(RawRequest::get(path)).await.expect(200)
}

fn find<'a>(list: &'a Value, array: &str, key: &str, name: &str) -> &'a Value {
    list[array]
        .as_array()
        .and_then(|items| items.iter().find(|item| item[key] == name))
        .unwrap_or_else(|| panic!("no {key}={name} in {array}: {list}"))
}

fn strings(value: &Value) -> Vec<&str> {
    value
        .as_array()
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

const ALL_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

fn assert_verbs(resource: &Value, verbs: &[&str]) {
    let mut actual = strings(&resource["verbs"]);
    actual.sort();
    let mut wanted = verbs.to_vec();
    wanted.sort();
    assert_eq!(actual, wanted, "{resource}");
}

async fn legacy_discovery_documents(cluster: &mut Cluster) {
    let api = get_json(cluster, "/api").await;
    assert_eq!(api["kind"], "APIVersions");
    assert_eq!(strings(&api["versions"]), ["v1"]);
    let addresses = api["serverAddressByClientCIDRs"].as_array();
    assert!(addresses.is_some_and(|a| !a.is_empty()), "{api}");

    let core = get_json(cluster, "/api/v1").await;
    assert_eq!(core["kind"], "APIResourceList");
    assert_eq!(core["groupVersion"], "v1");
    let configmaps = find(&core, "resources", "name", "configmaps");
    assert_eq!(configmaps["kind"], "ConfigMap");
    assert_eq!(configmaps["namespaced"], true);
    assert_eq!(configmaps["singularName"], "configmap");
    assert_eq!(strings(&configmaps["shortNames"]), ["cm"]);
    assert_verbs(configmaps, &ALL_VERBS);
    let namespaces = find(&core, "resources", "name", "namespaces");
    assert_eq!(namespaces["namespaced"], false);
    assert_eq!(namespaces["kind"], "Namespace");
    assert_verbs(
        namespaces,
        &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
    );
    let finalize = find(&core, "resources", "name", "namespaces/finalize");
    assert_verbs(finalize, &["update"]);
    let status = find(&core, "resources", "name", "namespaces/status");
    assert_verbs(status, &["get", "patch", "update"]);

    let groups = get_json(cluster, "/apis").await;
    assert_eq!(groups["kind"], "APIGroupList");
    assert_eq!(groups["apiVersion"], "v1");
    let apps = find(&groups, "groups", "name", "apps");
    assert_eq!(apps["preferredVersion"]["groupVersion"], "apps/v1");
    assert_eq!(apps["preferredVersion"]["version"], "v1");
    find(&groups, "groups", "name", "coordination.k8s.io");

    let apps = get_json(cluster, "/apis/apps").await;
    assert_eq!(apps["kind"], "APIGroup");
    assert_eq!(apps["name"], "apps");
    find(&apps, "versions", "groupVersion", "apps/v1");

    let apps_v1 = get_json(cluster, "/apis/apps/v1").await;
    assert_eq!(apps_v1["kind"], "APIResourceList");
    assert_eq!(apps_v1["groupVersion"], "apps/v1");
    let deployments = find(&apps_v1, "resources", "name", "deployments");
    assert_eq!(deployments["kind"], "Deployment");
    assert_eq!(deployments["namespaced"], true);
    assert_eq!(strings(&deployments["shortNames"]), ["deploy"]);
    assert!(strings(&deployments["categories"]).contains(&"all"));
    assert_verbs(deployments, &ALL_VERBS);
    let status = find(&apps_v1, "resources", "name", "deployments/status");
    assert_eq!(status["kind"], "Deployment");
    assert_verbs(status, &["get", "patch", "update"]);

    for missing in ["/apis/nope.example.com", "/apis/apps/v9", "/api/v2"] {
        let response = cluster.call(RawRequest::get(missing)).await;
        response.expect_failure(404, "NotFound");
    }
}
on_each_backend!(legacy_discovery_documents);

async fn aggregated_discovery(cluster: &mut Cluster) {
    for accept in [AGGREGATED_V2, KUBECTL_DISCOVERY_ACCEPT] {
        let response = cluster
            .call(RawRequest::get("/apis").header("Accept", accept))
            .await;
        let list = response.expect(200);
        let content_type = response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(content_type, AGGREGATED_V2, "Accept: {accept}");
        assert_eq!(list["kind"], "APIGroupDiscoveryList");
        assert_eq!(list["apiVersion"], "apidiscovery.k8s.io/v2");
        let items = list["items"].as_array().expect("items");
        let apps = items
            .iter()
            .find(|item| item["metadata"]["name"] == "apps")
            .unwrap_or_else(|| panic!("no apps group: {list}"));
        let v1 = find(apps, "versions", "version", "v1");
        assert_eq!(v1["freshness"], "Current");
        let deployments = find(v1, "resources", "resource", "deployments");
        assert_eq!(deployments["scope"], "Namespaced");
        assert_eq!(deployments["singularResource"], "deployment");
        assert_eq!(deployments["responseKind"]["group"], "apps");
        assert_eq!(deployments["responseKind"]["version"], "v1");
        assert_eq!(deployments["responseKind"]["kind"], "Deployment");
        assert_verbs(deployments, &ALL_VERBS);
        let status = find(deployments, "subresources", "subresource", "status");
        assert_eq!(status["responseKind"]["kind"], "Deployment");
        assert_verbs(status, &["get", "patch", "update"]);
        assert!(
            items.iter().all(|item| item["metadata"]["name"] != ""),
            "the core group is served at /api, not /apis"
        );
    }

    let response = cluster
        .call(RawRequest::get("/api").header("Accept", AGGREGATED_V2))
        .await;
    let core = response.expect(200);
    assert_eq!(
        response
            .headers
            .get(http::header::CONTENT_TYPE)
            .map(|v| v.as_bytes()),
        Some(AGGREGATED_V2.as_bytes())
    );
    assert_eq!(core["kind"], "APIGroupDiscoveryList");
    let items = core["items"].as_array().expect("items");
    assert_eq!(items.len(), 1, "{core}");
    let v1 = find(&items[0], "versions", "version", "v1");
    let configmaps = find(v1, "resources", "resource", "configmaps");
    assert_eq!(configmaps["scope"], "Namespaced");
    assert_eq!(strings(&configmaps["shortNames"]), ["cm"]);
    let namespaces = find(v1, "resources", "resource", "namespaces");
    assert_eq!(namespaces["scope"], "Cluster");
    assert_eq!(namespaces["responseKind"]["kind"], "Namespace");

    // Without the aggregated media type: the plain documents.
    let plain = cluster
        .call(RawRequest::get("/apis").header("Accept", "application/json"))
        .await
        .expect(200);
    assert_eq!(plain["kind"], "APIGroupList");

    // kubectl discovers through the aggregated documents.
    let output = cluster.kubectl(&["api-resources", "--no-headers"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let deployments = stdout
        .lines()
        .find(|line| line.starts_with("deployments "))
        .unwrap_or_else(|| panic!("{stdout}"));
    let columns: Vec<&str> = deployments.split_whitespace().collect();
    assert_eq!(
        columns,
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
}
on_each_backend!(aggregated_discovery);

async fn version_and_health(cluster: &mut Cluster) {
    let version = get_json(cluster, "/version").await;
    assert_eq!(version["major"], "1", "{version}");
    assert!(version["minor"].as_str().is_some_and(|m| !m.is_empty()));
    assert!(
        version["gitVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("v1.")),
        "{version}"
    );
    assert!(
        version["platform"]
            .as_str()
            .is_some_and(|p| p.contains('/')),
        "{version}"
    );

    for path in [
        "/healthz",
        "/livez",
        "/readyz",
        "/livez/ping",
        "/readyz/ping",
    ] {
        let response = cluster.call(RawRequest::get(path)).await;
        assert_eq!(response.status, 200, "{path}");
        assert_eq!(&response.body[..], b"ok", "{path}");
    }

    let output = cluster.kubectl(&["version", "-o", "json"]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let printed: Value = serde_json::from_slice(&output.stdout).expect("kubectl prints JSON");
    assert_eq!(
        printed["serverVersion"]["gitVersion"],
        version["gitVersion"]
    );
}
on_each_backend!(version_and_health);

/// Upstream's health endpoints list their checks with `?verbose` and answer
/// 404 for a check they do not have.
async fn health_checks_are_listed_and_unknown_ones_are_404(cluster: &mut Cluster) {
    for (path, passed) in [
        ("/healthz?verbose", "healthz check passed"),
        ("/livez?verbose", "livez check passed"),
        ("/readyz?verbose", "readyz check passed"),
    ] {
        let response = cluster.call(RawRequest::get(path)).await;
        assert_eq!(response.status, 200, "{path}");
        let body = String::from_utf8_lossy(&response.body);
        assert!(body.contains("[+]ping ok"), "{path}: {body}");
        assert!(body.trim_end().ends_with(passed), "{path}: {body}");
    }
    for path in ["/healthz/nope", "/livez/nope", "/readyz/nope"] {
        let response = cluster.call(RawRequest::get(path)).await;
        assert_eq!(response.status, 404, "{path}");
    }
}
on_each_backend!(health_checks_are_listed_and_unknown_ones_are_404);

async fn openapi_documents(cluster: &mut Cluster) {
    let index = get_json(cluster, "/openapi/v3").await;
    for group_version in ["api/v1", "apis/apps/v1"] {
        let url = index["paths"][group_version]["serverRelativeURL"]
            .as_str()
            .unwrap_or_else(|| panic!("no {group_version} in {index}"));
        assert!(
            url.starts_with(&format!("/openapi/v3/{group_version}?hash=")),
            "{url}"
        );
    }
    let apps_url = index["paths"]["apis/apps/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap_or_default();
    let apps = get_json(cluster, apps_url).await;
    assert!(
        apps["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.")),
        "openapi: {}",
        apps["openapi"]
    );
    let deployment = &apps["components"]["schemas"]["io.k8s.api.apps.v1.Deployment"];
    assert_eq!(
        deployment["x-kubernetes-group-version-kind"][0]["kind"], "Deployment",
        "{deployment}"
    );
    assert!(apps["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"].is_object());
    let without_hash = get_json(cluster, "/openapi/v3/apis/apps/v1").await;
    assert_eq!(without_hash["openapi"], apps["openapi"]);

    let response = cluster
        .call(RawRequest::get("/openapi/v2").header("Accept", "application/json"))
        .await;
    let swagger = response.expect(200);
    assert_eq!(swagger["swagger"], "2.0");
    assert!(swagger["definitions"]["io.k8s.api.core.v1.ConfigMap"].is_object());
    assert!(swagger["paths"]["/api/v1/namespaces/{namespace}/configmaps"].is_object());

    let output = cluster.kubectl(&["explain", "deployment.spec.replicas"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("FIELD: replicas <integer>"), "{stdout}");
}
on_each_backend!(openapi_documents);
