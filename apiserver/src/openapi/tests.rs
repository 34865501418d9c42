use std::collections::BTreeSet;
use std::sync::Arc;

use serde_json::{json, Value};

use super::definitions::for_each_ref;
use super::OpenApi;
use crate::resource::{PlainStrategy, ResourceDescriptor, ALL_VERBS};

fn descriptor(
    group: &str,
    version: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
) -> ResourceDescriptor {
    ResourceDescriptor {
        group: group.into(),
        version: version.into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_lowercase(),
        short_names: Vec::new(),
        categories: Vec::new(),
        namespaced,
        verbs: ALL_VERBS.iter().map(|verb| verb.to_string()).collect(),
        has_status: matches!(kind, "Namespace" | "Pod" | "Service" | "Deployment"),
        storage_path: plural.into(),
        strategy: Arc::new(PlainStrategy),
    }
}

/// The resources the server is first meant to serve.
fn served() -> Vec<ResourceDescriptor> {
    vec![
        descriptor("", "v1", "Namespace", "namespaces", false),
        descriptor("", "v1", "ConfigMap", "configmaps", true),
        descriptor("", "v1", "Secret", "secrets", true),
        descriptor("", "v1", "ServiceAccount", "serviceaccounts", true),
        descriptor("", "v1", "Service", "services", true),
        descriptor("", "v1", "Endpoints", "endpoints", true),
        descriptor("", "v1", "Pod", "pods", true),
        descriptor("", "v1", "Event", "events", true),
        descriptor("apps", "v1", "Deployment", "deployments", true),
        descriptor("events.k8s.io", "v1", "Event", "events", true),
        descriptor("coordination.k8s.io", "v1", "Lease", "leases", true),
        descriptor(
            "discovery.k8s.io",
            "v1",
            "EndpointSlice",
            "endpointslices",
            true,
        ),
    ]
}

fn parse(bytes: bytes::Bytes) -> Value {
    serde_json::from_slice(&bytes).expect("documents are JSON")
}

fn v3(openapi: &OpenApi, path: &str) -> Value {
    parse(
        openapi
            .v3_group_version(path)
            .expect("the group/version is published"),
    )
}

fn group_version_paths(openapi: &OpenApi) -> Vec<String> {
    let index = parse(openapi.v3_index());
    index["paths"]
        .as_object()
        .expect("the index has paths")
        .keys()
        .cloned()
        .collect()
}

/// Every `$ref` target that has no definition under `prefix` in `schemas`.
fn dangling_refs(document: &Value, schemas: &Value, prefix: &str) -> BTreeSet<String> {
    let mut dangling = BTreeSet::new();
    for_each_ref(document, &mut |target| {
        let resolves = target
            .strip_prefix(prefix)
            .is_some_and(|name| schemas.get(name).is_some());
        if !resolves {
            dangling.insert(target.to_owned());
        }
    });
    dangling
}

#[test]
fn every_ref_resolves_in_v2_and_in_each_v3_document() {
    let openapi = OpenApi::build(&served());
    let v2 = parse(openapi.v2());
    assert_eq!(
        dangling_refs(&v2, &v2["definitions"], "#/definitions/"),
        BTreeSet::new()
    );
    for path in group_version_paths(&openapi) {
        let document = v3(&openapi, &path);
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            dangling_refs(&document, schemas, "#/components/schemas/"),
            BTreeSet::new(),
            "in {path}"
        );
    }
}

/// Every kind the built-in table names yields a complete document, so
/// adding a resource never publishes a dangling reference.
#[test]
fn every_known_kind_publishes_a_self_contained_document() {
    let resources: Vec<ResourceDescriptor> = super::builtin::KNOWN_KINDS
        .iter()
        .map(|(group, version, kind)| {
            let plural = format!("{}s", kind.to_lowercase());
            descriptor(group, version, kind, &plural, true)
        })
        .collect();
    let openapi = OpenApi::build(&resources);
    let v2 = parse(openapi.v2());
    let definitions = v2["definitions"].as_object().expect("definitions");
    for (group, version, kind) in super::builtin::KNOWN_KINDS {
        let tag = json!({ "group": group, "version": version, "kind": kind });
        let schema = definitions.values().find(|schema| {
            schema["x-kubernetes-group-version-kind"]
                .as_array()
                .is_some_and(|tags| tags.contains(&tag))
        });
        let schema = schema.unwrap_or_else(|| panic!("{group}/{version} {kind} has no schema"));
        assert!(
            schema.get("x-kubernetes-preserve-unknown-fields").is_none(),
            "{kind} fell back to the permissive schema"
        );
    }
    assert_eq!(
        dangling_refs(&v2, &v2["definitions"], "#/definitions/"),
        BTreeSet::new()
    );
    for path in group_version_paths(&openapi) {
        let document = v3(&openapi, &path);
        let schemas = &document["components"]["schemas"];
        assert_eq!(
            dangling_refs(&document, schemas, "#/components/schemas/"),
            BTreeSet::new(),
            "in {path}"
        );
    }
}

#[test]
fn index_lists_each_group_version_with_its_hash() {
    let openapi = OpenApi::build(&served());
    assert_eq!(
        group_version_paths(&openapi),
        [
            "api/v1",
            "apis/apps/v1",
            "apis/coordination.k8s.io/v1",
            "apis/discovery.k8s.io/v1",
            "apis/events.k8s.io/v1",
        ]
    );
    let index = parse(openapi.v3_index());
    let hash = openapi
        .v3_hash("apis/apps/v1")
        .expect("apps/v1 is published");
    assert_eq!(hash.len(), 128);
    assert_eq!(
        index["paths"]["apis/apps/v1"]["serverRelativeURL"],
        format!("/openapi/v3/apis/apps/v1?hash={hash}")
    );
    assert!(openapi.v3_group_version("apis/batch/v1").is_none());
}

#[test]
fn configmap_data_is_a_map_of_strings() {
    let openapi = OpenApi::build(&served());
    let document = v3(&openapi, "api/v1");
    let config_map = &document["components"]["schemas"]["io.k8s.api.core.v1.ConfigMap"];
    assert_eq!(
        config_map["properties"]["data"]["additionalProperties"],
        json!({ "type": "string" })
    );
    assert!(config_map["properties"]["data"]["description"].is_string());
    // Upstream does not require metadata; k8s-openapi's schema does.
    assert!(config_map.get("required").is_none());
}

#[test]
fn deployment_spec_has_strategy() {
    let openapi = OpenApi::build(&served());
    let document = v3(&openapi, "apis/apps/v1");
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.api.apps.v1.Deployment"]["properties"]["spec"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"
    );
    assert_eq!(
        schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["strategy"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.api.apps.v1.DeploymentStrategy"
    );
    assert!(
        schemas["io.k8s.api.apps.v1.DeploymentStrategy"]["properties"]["rollingUpdate"].is_object()
    );
}

#[test]
fn kinds_and_lists_carry_their_group_version_kind() {
    let openapi = OpenApi::build(&served());
    let cases = [
        (
            "api/v1",
            "io.k8s.api.core.v1.Pod",
            json!({"group": "", "version": "v1", "kind": "Pod"}),
        ),
        (
            "api/v1",
            "io.k8s.api.core.v1.PodList",
            json!({"group": "", "version": "v1", "kind": "PodList"}),
        ),
        (
            "apis/coordination.k8s.io/v1",
            "io.k8s.api.coordination.v1.Lease",
            json!({"group": "coordination.k8s.io", "version": "v1", "kind": "Lease"}),
        ),
        (
            "apis/events.k8s.io/v1",
            "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            json!({"group": "events.k8s.io", "version": "v1", "kind": "DeleteOptions"}),
        ),
    ];
    for (path, definition, expected) in cases {
        let document = v3(&openapi, path);
        let tags =
            &document["components"]["schemas"][definition]["x-kubernetes-group-version-kind"];
        let tags = tags
            .as_array()
            .unwrap_or_else(|| panic!("{definition} has no GVK"));
        assert!(tags.contains(&expected), "{definition}: {tags:?}");
    }
}

/// kubectl turns server-side field validation off when the PATCH operation
/// for the kind lacks `fieldValidation`.
#[test]
fn patch_operations_offer_field_validation() {
    let openapi = OpenApi::build(&served());
    let mut patches = 0;
    for path in group_version_paths(&openapi) {
        let document = v3(&openapi, &path);
        for (url, item) in document["paths"].as_object().expect("paths") {
            let Some(patch) = item.get("patch") else {
                continue;
            };
            patches += 1;
            let names: Vec<&str> = patch["parameters"]
                .as_array()
                .expect("patch has parameters")
                .iter()
                .filter_map(|parameter| parameter["name"].as_str())
                .collect();
            for expected in ["fieldValidation", "dryRun", "fieldManager", "force"] {
                assert!(names.contains(&expected), "{url} lacks {expected}");
            }
            assert!(
                patch["x-kubernetes-group-version-kind"]["kind"].is_string(),
                "{url}"
            );
        }
    }
    assert!(patches >= served().len());
}

#[test]
fn configmap_paths_follow_upstream() {
    let openapi = OpenApi::build(&served());
    let document = v3(&openapi, "api/v1");
    let paths = &document["paths"];
    let collection = &paths["/api/v1/namespaces/{namespace}/configmaps"];
    assert_eq!(
        collection["get"]["operationId"],
        "listCoreV1NamespacedConfigMap"
    );
    assert_eq!(
        collection["post"]["operationId"],
        "createCoreV1NamespacedConfigMap"
    );
    assert_eq!(
        collection["delete"]["operationId"],
        "deleteCoreV1CollectionNamespacedConfigMap"
    );
    let item = &paths["/api/v1/namespaces/{namespace}/configmaps/{name}"];
    assert_eq!(
        item["put"]["operationId"],
        "replaceCoreV1NamespacedConfigMap"
    );
    assert_eq!(item["patch"]["x-kubernetes-action"], "patch");
    let patch_types = &item["patch"]["requestBody"]["content"];
    assert!(patch_types["application/apply-patch+yaml"].is_object());
    assert!(patch_types["application/strategic-merge-patch+json"].is_null());
    assert!(paths["/api/v1/configmaps"]["get"].is_object());
    assert!(paths["/api/v1/namespaces/{name}/status"]["patch"].is_object());
    assert!(paths["/api/v1/namespaces/{namespace}/pods/{name}/status"]["put"].is_object());

    let v2 = parse(openapi.v2());
    let create = &v2["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments"]["post"];
    assert_eq!(create["operationId"], "createAppsV1NamespacedDeployment");
    assert_eq!(create["parameters"][0]["in"], "body");
}

#[test]
fn int_or_string_and_quantity_take_upstream_forms() {
    let openapi = OpenApi::build(&served());
    let v2 = parse(openapi.v2());
    let definitions = &v2["definitions"];
    let int_or_string = &definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"];
    assert_eq!(int_or_string["type"], "string");
    assert_eq!(int_or_string["format"], "int-or-string");
    assert_eq!(
        definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"]["type"],
        "string"
    );

    let document = v3(&openapi, "api/v1");
    let schemas = &document["components"]["schemas"];
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["oneOf"],
        json!([{ "type": "integer" }, { "type": "string" }])
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.api.resource.Quantity"]["oneOf"],
        json!([{ "type": "string" }, { "type": "number" }])
    );
    assert_eq!(
        schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["format"],
        "date-time"
    );
}

#[test]
fn unknown_kinds_get_a_permissive_schema_and_extra_kinds_their_own() {
    let unknown = descriptor("example.com", "v1", "Widget", "widgets", true);
    let crontab = descriptor("stable.example.com", "v1", "CronTab", "crontabs", true);
    let schema = json!({
        "type": "object",
        "properties": { "spec": { "type": "object", "properties": { "cronSpec": { "type": "string" } } } },
    });
    let openapi = OpenApi::build_with_extra(&[unknown], &[(crontab, schema)]);

    let document = v3(&openapi, "apis/example.com/v1");
    let widget = &document["components"]["schemas"]["com.example.v1.Widget"];
    assert_eq!(widget["x-kubernetes-preserve-unknown-fields"], true);
    assert_eq!(
        widget["properties"]["metadata"]["allOf"][0]["$ref"],
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    );

    let document = v3(&openapi, "apis/stable.example.com/v1");
    let schemas = &document["components"]["schemas"];
    let crontab = &schemas["com.example.stable.v1.CronTab"];
    assert_eq!(
        crontab["properties"]["spec"]["properties"]["cronSpec"]["type"],
        "string"
    );
    assert_eq!(
        crontab["x-kubernetes-group-version-kind"],
        json!([{ "group": "stable.example.com", "version": "v1", "kind": "CronTab" }])
    );
    assert!(schemas["com.example.stable.v1.CronTabList"].is_object());
    let patch = &document["paths"]
        ["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"];
    assert!(patch["requestBody"]["content"]["application/strategic-merge-patch+json"].is_null());
    assert_eq!(
        dangling_refs(&document, schemas, "#/components/schemas/"),
        BTreeSet::new()
    );
}
