//! CustomResourceDefinitions, defined with `kubectl apply` and served at
//! once, as upstream's apiextensions-apiserver does: the CRD's status
//! (NamesAccepted, Established, acceptedNames, storedVersions), name
//! conflicts, legacy and aggregated discovery, `kubectl api-resources` and
//! `kubectl get` by short name and category, withdrawal on delete, the
//! structural-schema rules a CRD must meet, printer columns, `kubectl
//! explain` and the published OpenAPI, label and field selectors, both
//! scopes, and the cleanup finalizer that deletes every custom resource
//! before its CRD.

mod crd_support;
mod support;

use std::time::Duration;

use blackbox_tests::{on_each_backend, RawRequest};
use crd_support::{
    assert_cause, assert_exact_cause, causes, condition, crontab, crontab_crd, define,
    define_crontabs, delete, eventually, find, get, merge_patch, post, sorted, strings,
    wait_for_status, CRONTABS, CRONTAB_V1, SETTLE,
};
use serde_json::{json, Value};
use support::{fails, get_json, names, ok, write_file, Backend, Cluster, Table};

const AGGREGATED_V2: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";
const CRDS: &str = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions";

/// What upstream lets a client do with a custom resource.
const CR_VERBS: [&str; 8] = [
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_are_established_discovered_and_withdrawn() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    established_within_a_second_with_upstream_status(&cluster);
    served_in_legacy_discovery(&cluster).await;
    served_in_aggregated_discovery(&cluster).await;
    the_crd_api_itself_is_discovered(&cluster).await;
    listed_by_kubectl_api_resources(&cluster);
    kubectl_get_by_short_name_singular_and_category(&cluster);
    a_second_crd_in_the_group_is_discovered_at_once(&cluster);
    name_conflicts_are_not_accepted_and_not_served(&cluster).await;
    deleting_the_crd_withdraws_it_from_discovery(&cluster).await;
}

/// `kubectl apply` then `kubectl wait --for condition=established` within
/// a second; the status carries upstream's conditions and accepted names,
/// and the spec upstream's defaults.
fn established_within_a_second_with_upstream_status(cluster: &Cluster) {
    let path = write_file(cluster, "crontab-crd.yaml", &crontab_crd());
    let applied = ok(cluster, &["apply", "-f", &path]);
    assert_eq!(
        applied.trim(),
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com created"
    );
    let waited = ok(
        cluster,
        &[
            "wait",
            "--for",
            "condition=established",
            "--timeout=1s",
            "crd/crontabs.stable.example.com",
        ],
    );
    assert_eq!(
        waited.trim(),
        "customresourcedefinition.apiextensions.k8s.io/crontabs.stable.example.com condition met"
    );

    let crd = get_json(cluster, &["crd", CRONTABS]);
    assert_eq!(crd["kind"], "CustomResourceDefinition");
    assert_eq!(crd["apiVersion"], "apiextensions.k8s.io/v1");
    assert_eq!(crd["metadata"]["generation"], 1, "{crd}");
    // Upstream's defaults for a v1 CRD.
    assert_eq!(crd["spec"]["names"]["listKind"], "CronTabList", "{crd}");
    assert_eq!(
        crd["spec"]["conversion"],
        json!({"strategy": "None"}),
        "{crd}"
    );

    let names = condition(&crd, "NamesAccepted").unwrap_or_else(|| panic!("{crd}"));
    assert_eq!(names["status"], "True", "{crd}");
    assert_eq!(names["reason"], "NoConflicts");
    assert_eq!(names["message"], "no conflicts found");
    assert!(names["lastTransitionTime"].is_string(), "{names}");
    let established = condition(&crd, "Established").unwrap_or_else(|| panic!("{crd}"));
    assert_eq!(established["status"], "True", "{crd}");
    assert_eq!(established["reason"], "InitialNamesAccepted");
    assert_eq!(
        established["message"],
        "the initial names have been accepted"
    );
    assert!(
        established["lastTransitionTime"].is_string(),
        "{established}"
    );
    assert_eq!(
        crd["status"]["acceptedNames"],
        json!({
            "plural": "crontabs",
            "singular": "crontab",
            "shortNames": ["ct"],
            "kind": "CronTab",
            "listKind": "CronTabList",
            "categories": ["example"],
        })
    );
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));

    // The CRD kind has no printer of its own upstream: NAME and CREATED AT.
    let table = Table::parse(&ok(cluster, &["get", "crd"]));
    assert_eq!(table.headers, ["NAME", "CREATED AT"]);
    let created = table.cell(CRONTABS, "CREATED AT");
    assert!(
        created.contains('T') && created.ends_with('Z'),
        "CREATED AT is an RFC 3339 time: {created:?}"
    );
}

fn verbs(resource: &Value) -> Vec<&str> {
    sorted(&resource["verbs"])
}

/// `/apis`, `/apis/<group>` and `/apis/<group>/<version>` list the group,
/// the resource (names, scope, verbs, short names, categories) and its
/// status and scale subresources as upstream's discovery controller does.
async fn served_in_legacy_discovery(cluster: &Cluster) {
    let groups = get(cluster, "/apis").await.expect(200);
    let group = find(&groups, "groups", "name", "stable.example.com")
        .unwrap_or_else(|| panic!("no stable.example.com in {groups}"));
    let v1 = json!({"groupVersion": "stable.example.com/v1", "version": "v1"});
    assert_eq!(group["versions"], json!([v1]));
    assert_eq!(group["preferredVersion"], v1);

    let group = get(cluster, "/apis/stable.example.com").await.expect(200);
    assert_eq!(group["kind"], "APIGroup", "{group}");
    assert_eq!(group["name"], "stable.example.com");
    assert_eq!(group["preferredVersion"], v1);

    let list = get(cluster, CRONTAB_V1).await.expect(200);
    assert_eq!(list["kind"], "APIResourceList", "{list}");
    assert_eq!(list["groupVersion"], "stable.example.com/v1");
    let crontabs = find(&list, "resources", "name", "crontabs")
        .unwrap_or_else(|| panic!("no crontabs in {list}"));
    assert_eq!(crontabs["singularName"], "crontab");
    assert_eq!(crontabs["namespaced"], true);
    assert_eq!(crontabs["kind"], "CronTab");
    assert_eq!(strings(&crontabs["shortNames"]), ["ct"]);
    assert_eq!(strings(&crontabs["categories"]), ["example"]);
    assert_eq!(verbs(crontabs), CR_VERBS);
    assert!(
        crontabs["storageVersionHash"]
            .as_str()
            .is_some_and(|h| !h.is_empty()),
        "{crontabs}"
    );
    let status = find(&list, "resources", "name", "crontabs/status")
        .unwrap_or_else(|| panic!("no crontabs/status in {list}"));
    assert_eq!(status["kind"], "CronTab");
    assert_eq!(status["namespaced"], true);
    assert_eq!(verbs(status), ["get", "patch", "update"]);
    let scale = find(&list, "resources", "name", "crontabs/scale")
        .unwrap_or_else(|| panic!("no crontabs/scale in {list}"));
    assert_eq!(scale["group"], "autoscaling", "{scale}");
    assert_eq!(scale["version"], "v1");
    assert_eq!(scale["kind"], "Scale");
    assert_eq!(verbs(scale), ["get", "patch", "update"]);
}

/// The aggregated discovery document (what kubectl reads) carries the
/// same resource, with its response kinds and subresources.
async fn served_in_aggregated_discovery(cluster: &Cluster) {
    let response = cluster
        .call(RawRequest::get("/apis").header("Accept", AGGREGATED_V2))
        .await;
    let list = response.expect(200);
    assert_eq!(list["kind"], "APIGroupDiscoveryList", "{list}");
    let group = list["items"]
        .as_array()
        .and_then(|items| {
            items
                .iter()
                .find(|item| item["metadata"]["name"] == "stable.example.com")
        })
        .unwrap_or_else(|| panic!("no stable.example.com in {list}"));
    let v1 = find(group, "versions", "version", "v1").unwrap_or_else(|| panic!("{group}"));
    assert_eq!(v1["freshness"], "Current", "{v1}");
    let crontabs = find(v1, "resources", "resource", "crontabs").unwrap_or_else(|| panic!("{v1}"));
    assert_eq!(crontabs["scope"], "Namespaced");
    assert_eq!(crontabs["singularResource"], "crontab");
    assert_eq!(
        crontabs["responseKind"],
        json!({"group": "stable.example.com", "version": "v1", "kind": "CronTab"})
    );
    assert_eq!(strings(&crontabs["shortNames"]), ["ct"]);
    assert_eq!(strings(&crontabs["categories"]), ["example"]);
    assert_eq!(verbs(crontabs), CR_VERBS);
    let status = find(crontabs, "subresources", "subresource", "status")
        .unwrap_or_else(|| panic!("no status subresource in {crontabs}"));
    assert_eq!(
        status["responseKind"],
        json!({"group": "stable.example.com", "version": "v1", "kind": "CronTab"})
    );
    assert_eq!(verbs(status), ["get", "patch", "update"]);
    let scale = find(crontabs, "subresources", "subresource", "scale")
        .unwrap_or_else(|| panic!("no scale subresource in {crontabs}"));
    assert_eq!(
        scale["responseKind"],
        json!({"group": "autoscaling", "version": "v1", "kind": "Scale"})
    );
    assert_eq!(verbs(scale), ["get", "patch", "update"]);
}

/// apiextensions.k8s.io/v1 itself: cluster-scoped, short names crd and
/// crds, category api-extensions, and a status subresource.
async fn the_crd_api_itself_is_discovered(cluster: &Cluster) {
    let list = get(cluster, "/apis/apiextensions.k8s.io/v1")
        .await
        .expect(200);
    let crds = find(&list, "resources", "name", "customresourcedefinitions")
        .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(crds["kind"], "CustomResourceDefinition");
    assert_eq!(crds["namespaced"], false);
    assert_eq!(crds["singularName"], "customresourcedefinition");
    assert_eq!(sorted(&crds["shortNames"]), ["crd", "crds"]);
    assert_eq!(strings(&crds["categories"]), ["api-extensions"]);
    assert_eq!(verbs(crds), CR_VERBS);
    let status = find(
        &list,
        "resources",
        "name",
        "customresourcedefinitions/status",
    )
    .unwrap_or_else(|| panic!("{list}"));
    assert_eq!(verbs(status), ["get", "patch", "update"]);
}

/// `kubectl api-resources` (wide) shows the short name, group/version,
/// scope, kind, verbs and categories; `--categories` finds it.
fn listed_by_kubectl_api_resources(cluster: &Cluster) {
    let wide = ok(
        cluster,
        &[
            "api-resources",
            "--api-group=stable.example.com",
            "-o",
            "wide",
        ],
    );
    let table = Table::parse(&wide);
    assert_eq!(
        table.headers,
        [
            "NAME",
            "SHORTNAMES",
            "APIVERSION",
            "NAMESPACED",
            "KIND",
            "VERBS",
            "CATEGORIES"
        ],
        "{wide}"
    );
    assert_eq!(table.rows.len(), 1, "{wide}");
    assert_eq!(table.cell("crontabs", "SHORTNAMES"), "ct");
    assert_eq!(
        table.cell("crontabs", "APIVERSION"),
        "stable.example.com/v1"
    );
    assert_eq!(table.cell("crontabs", "NAMESPACED"), "true");
    assert_eq!(table.cell("crontabs", "KIND"), "CronTab");
    assert_eq!(table.cell("crontabs", "CATEGORIES"), "example");
    let mut listed: Vec<&str> = table.cell("crontabs", "VERBS").split(',').collect();
    listed.sort_unstable();
    assert_eq!(listed, CR_VERBS);

    let by_category = ok(
        cluster,
        &["api-resources", "--categories=example", "--no-headers"],
    );
    let rows: Vec<&str> = by_category
        .lines()
        .filter(|l| !l.trim().is_empty())
        .collect();
    assert_eq!(rows.len(), 1, "{by_category}");
    assert!(rows[0].starts_with("crontabs "), "{by_category}");
    let cluster_scoped = ok(
        cluster,
        &["api-resources", "--namespaced=false", "--no-headers"],
    );
    assert!(
        cluster_scoped
            .lines()
            .any(|l| l.starts_with("customresourcedefinitions ")),
        "{cluster_scoped}"
    );
    assert!(
        !cluster_scoped.lines().any(|l| l.starts_with("crontabs ")),
        "crontabs are namespaced: {cluster_scoped}"
    );
}

/// The short name, the singular, the qualified names and the category all
/// reach the resource from `kubectl get`.
fn kubectl_get_by_short_name_singular_and_category(cluster: &Cluster) {
    let ns = "names";
    ok(cluster, &["create", "namespace", ns]);
    let manifest = write_file(
        cluster,
        "nightly.yaml",
        &crontab(ns, "nightly", "*/5 * * * *", "example/nightly:1"),
    );
    let created = ok(cluster, &["apply", "-f", &manifest]);
    assert_eq!(created.trim(), "crontab.stable.example.com/nightly created");
    for resource in [
        "ct",
        "crontab",
        "crontabs",
        "CronTab",
        "crontabs.stable.example.com",
        "crontabs.v1.stable.example.com",
    ] {
        assert_eq!(
            names(cluster, &["-n", ns, resource]),
            ["nightly"],
            "{resource}"
        );
    }
    let by_category = ok(cluster, &["get", "example", "-n", ns, "-o", "name"]);
    assert_eq!(by_category.trim(), "crontab.stable.example.com/nightly");
    let object = get_json(cluster, &["-n", ns, "ct", "nightly"]);
    assert_eq!(object["apiVersion"], "stable.example.com/v1");
    assert_eq!(object["kind"], "CronTab");
    assert_eq!(object["metadata"]["namespace"], ns);
    assert_eq!(object["metadata"]["generation"], 1, "{object}");
    assert_eq!(object["spec"]["cronSpec"], "*/5 * * * *");
}

/// A CRD added to a group/version already served is in kubectl's
/// discovery as soon as it is Established, as the group's first was.
/// (Regression: with the CRD engine split off, the front's aggregated
/// discovery kept the group/version's old document until its next
/// availability probe, up to 2 s.)
fn a_second_crd_in_the_group_is_discovered_at_once(cluster: &Cluster) {
    let manifest = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: schedules.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: schedules, singular: schedule, kind: Schedule}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;
    let name = "schedules.stable.example.com";
    define(cluster, "schedules-crd.yaml", manifest, name);
    let listed = ok(
        cluster,
        &[
            "api-resources",
            "--api-group=stable.example.com",
            "--no-headers",
        ],
    );
    let mut plurals: Vec<&str> = listed
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .collect();
    plurals.sort_unstable();
    assert_eq!(plurals, ["crontabs", "schedules"], "{listed}");
    let none = ok(cluster, &["get", "schedules", "-A"]);
    assert!(none.trim().is_empty(), "{none}");
    ok(cluster, &["delete", "crd", name]);
}

/// A second CRD in the group whose plural (or short name) another CRD
/// already holds gets NamesAccepted=False with upstream's reason and
/// message, is not Established, and is not served.
async fn name_conflicts_are_not_accepted_and_not_served(cluster: &Cluster) {
    let plural_clash = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: ct.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: ct, singular: ctthing, kind: CtThing}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;
    let short_name_clash = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: cronjobs.stable.example.com
spec:
  group: stable.example.com
  scope: Namespaced
  names: {plural: cronjobs, singular: cronjob, kind: CronJob, shortNames: [ct]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}
"#;
    for (file, manifest, name, reason) in [
        (
            "plural-clash.yaml",
            plural_clash,
            "ct.stable.example.com",
            "PluralConflict",
        ),
        (
            "short-name-clash.yaml",
            short_name_clash,
            "cronjobs.stable.example.com",
            "ShortNamesConflict",
        ),
    ] {
        let path = write_file(cluster, file, manifest);
        ok(cluster, &["apply", "-f", &path]);
        let crd = eventually(
            &format!("{name} has a NamesAccepted condition"),
            SETTLE,
            || async {
                let crd = get(cluster, &format!("{CRDS}/{name}")).await.json();
                if condition(&crd, "NamesAccepted").is_some() {
                    Ok(crd)
                } else {
                    Err(crd.to_string())
                }
            },
        )
        .await;
        let accepted = condition(&crd, "NamesAccepted").unwrap_or_default();
        assert_eq!(accepted["status"], "False", "{name}: {crd}");
        assert_eq!(accepted["reason"], reason, "{name}: {crd}");
        assert_eq!(accepted["message"], "\"ct\" is already in use", "{name}");
        let established = condition(&crd, "Established").unwrap_or_else(|| panic!("{crd}"));
        assert_eq!(established["status"], "False", "{name}: {crd}");
        assert_eq!(established["reason"], "NotAccepted", "{name}");
        assert_eq!(
            established["message"], "not all names are accepted",
            "{name}"
        );
        let refused = cluster.kubectl(&[
            "wait",
            "--for",
            "condition=established",
            "--timeout=1s",
            &format!("crd/{name}"),
        ]);
        assert!(
            !refused.status.success(),
            "{name} must not become Established"
        );
    }

    // The clashing names are not taken; the rest are.
    let crd = get(cluster, &format!("{CRDS}/ct.stable.example.com"))
        .await
        .json();
    let names = &crd["status"]["acceptedNames"];
    assert!(
        names["plural"].as_str().unwrap_or_default().is_empty(),
        "the plural ct stays with crontabs: {names}"
    );
    assert_eq!(names["kind"], "CtThing", "{names}");
    let crd = get(cluster, &format!("{CRDS}/cronjobs.stable.example.com"))
        .await
        .json();
    let names = &crd["status"]["acceptedNames"];
    assert_eq!(names["plural"], "cronjobs", "{names}");
    assert!(
        strings(&names["shortNames"]).is_empty(),
        "the short name ct stays with crontabs: {names}"
    );

    // Neither is served, nor discovered; the owner of the names still is.
    for path in [
        "/apis/stable.example.com/v1/namespaces/names/ct",
        "/apis/stable.example.com/v1/namespaces/names/cronjobs",
    ] {
        get(cluster, path).await.expect_failure(404, "NotFound");
    }
    let list = get(cluster, CRONTAB_V1).await.expect(200);
    for absent in ["ct", "cronjobs"] {
        assert!(
            find(&list, "resources", "name", absent).is_none(),
            "{absent} in {list}"
        );
    }
    assert_eq!(names_of_ct(cluster), ["nightly"]);

    for name in ["ct.stable.example.com", "cronjobs.stable.example.com"] {
        ok(cluster, &["delete", "crd", name]);
    }
}

fn names_of_ct(cluster: &Cluster) -> Vec<String> {
    names(cluster, &["-n", "names", "ct"])
}

/// Deleting the CRD takes it out of `/apis`, the group/version document,
/// aggregated discovery, the OpenAPI documents and kubectl's resource list.
async fn deleting_the_crd_withdraws_it_from_discovery(cluster: &Cluster) {
    let deleted = ok(cluster, &["delete", "crd", CRONTABS]);
    assert_eq!(
        deleted.trim(),
        "customresourcedefinition.apiextensions.k8s.io \"crontabs.stable.example.com\" deleted"
    );
    let gone = fails(cluster, &["get", "crd", CRONTABS]);
    assert!(gone.contains("(NotFound)"), "{gone}");
    wait_for_status(cluster, CRONTAB_V1, 404).await;
    wait_for_status(cluster, "/apis/stable.example.com", 404).await;
    eventually(
        "/apis no longer lists stable.example.com",
        SETTLE,
        || async {
            let groups = get(cluster, "/apis").await.expect(200);
            match find(&groups, "groups", "name", "stable.example.com") {
                None => Ok(()),
                Some(group) => Err(group.to_string()),
            }
        },
    )
    .await;
    eventually(
        "aggregated discovery no longer lists stable.example.com",
        SETTLE,
        || async {
            let list = cluster
                .call(RawRequest::get("/apis").header("Accept", AGGREGATED_V2))
                .await
                .expect(200);
            let listed = list["items"].as_array().is_some_and(|items| {
                items
                    .iter()
                    .any(|item| item["metadata"]["name"] == "stable.example.com")
            });
            if listed {
                Err(list.to_string())
            } else {
                Ok(())
            }
        },
    )
    .await;
    eventually(
        "/openapi/v3 no longer lists the group/version",
        SETTLE,
        || async {
            let index = get(cluster, "/openapi/v3").await.expect(200);
            if index["paths"].get("apis/stable.example.com/v1").is_none() {
                Ok(())
            } else {
                Err(index.to_string())
            }
        },
    )
    .await;
    eventually("/openapi/v2 no longer defines CronTab", SETTLE, || async {
        let swagger = cluster
            .call(RawRequest::get("/openapi/v2").header("Accept", "application/json"))
            .await
            .expect(200);
        if swagger["definitions"]
            .get("com.example.stable.v1.CronTab")
            .is_none()
        {
            Ok(())
        } else {
            Err("still defined".to_string())
        }
    })
    .await;
    let resources = ok(cluster, &["api-resources", "--no-headers"]);
    assert!(
        !resources.lines().any(|l| l.starts_with("crontabs ")),
        "{resources}"
    );
    let unknown = fails(cluster, &["get", "ct", "-n", "names"]);
    assert!(
        unknown.contains("the server doesn't have a resource type \"ct\"")
            || unknown.contains("(NotFound)"),
        "{unknown}"
    );
}

/// A CRD in JSON, for raw requests: `schema` is version v1's
/// openAPIV3Schema (none when null).
fn crd_json(plural: &str, kind: &str, schema: Value) -> Value {
    let mut version = json!({"name": "v1", "served": true, "storage": true});
    if !schema.is_null() {
        version["schema"] = json!({"openAPIV3Schema": schema});
    }
    json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": format!("{plural}.schemas.example.com")},
        "spec": {
            "group": "schemas.example.com",
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": kind.to_lowercase(), "kind": kind},
            "versions": [version],
        }
    })
}

/// A schema whose `spec` has these properties.
fn with_spec(properties: Value) -> Value {
    json!({
        "type": "object",
        "properties": {"spec": {"type": "object", "properties": properties}}
    })
}

/// Upstream judges a schema shared by every version (one version here) at
/// the top level of its internal form.
const SCHEMA: &str = "spec.validation.openAPIV3Schema";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crds_that_break_upstream_rules_are_refused() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    non_structural_schemas_are_refused_with_upstream_messages(&cluster).await;
    other_invalid_definitions_are_refused(&cluster).await;
    kubectl_shows_the_refusal(&cluster);
}

/// Each non-structural schema is a 422 Invalid naming the schema node,
/// with upstream's wording; nothing is stored.
async fn non_structural_schemas_are_refused_with_upstream_messages(cluster: &Cluster) {
    let cases: Vec<(&str, Value, String, &str, &str)> = vec![
        (
            "notypes",
            json!({"type": "object", "properties": {"spec": {"properties": {"x": {"type": "string"}}}}}),
            format!("{SCHEMA}.properties[spec].type"),
            "FieldValueRequired",
            "Required value: must not be empty for specified object fields",
        ),
        (
            "noroottypes",
            json!({"properties": {"spec": {"type": "object"}}}),
            format!("{SCHEMA}.type"),
            "FieldValueRequired",
            "Required value: must not be empty at the root",
        ),
        (
            "noschemas",
            Value::Null,
            // A missing schema is judged per version, before the internal form.
            "spec.versions[0].schema.openAPIV3Schema".to_string(),
            "FieldValueRequired",
            "Required value",
        ),
        (
            "uniques",
            with_spec(json!({"tags": {"type": "array", "uniqueItems": true, "items": {"type": "string"}}})),
            format!("{SCHEMA}.properties[spec].properties[tags].uniqueItems"),
            "FieldValueForbidden",
            "Forbidden: uniqueItems cannot be set to true since the runtime complexity becomes quadratic",
        ),
        (
            "mixedmaps",
            json!({"type": "object", "properties": {"spec": {
                "type": "object",
                "properties": {"x": {"type": "string"}},
                "additionalProperties": {"type": "string"}
            }}}),
            format!("{SCHEMA}.properties[spec].additionalProperties"),
            "FieldValueForbidden",
            "Forbidden: additionalProperties and properties are mutual exclusive",
        ),
        (
            "metas",
            json!({"type": "object", "properties": {
                "metadata": {"type": "object", "properties": {"labels": {"type": "object"}}}
            }}),
            format!("{SCHEMA}.properties[metadata]"),
            "FieldValueForbidden",
            "Forbidden: must not specify anything other than name and generateName, but metadata is implicitly specified",
        ),
        (
            "noitems",
            with_spec(json!({"tags": {"type": "array"}})),
            format!("{SCHEMA}.properties[spec].properties[tags].items"),
            "FieldValueRequired",
            "Required value: must be specified",
        ),
        (
            "mapkeys",
            with_spec(json!({"ports": {
                "type": "array",
                "x-kubernetes-list-type": "map",
                "items": {"type": "object", "properties": {"name": {"type": "string"}}}
            }})),
            format!("{SCHEMA}.properties[spec].properties[ports].x-kubernetes-list-map-keys"),
            "FieldValueRequired",
            "Required value: must not be empty if x-kubernetes-list-type is map",
        ),
        (
            "listtypes",
            with_spec(json!({"owner": {
                "type": "object",
                "x-kubernetes-list-type": "set"
            }})),
            format!("{SCHEMA}.properties[spec].properties[owner].type"),
            "FieldValueInvalid",
            "Invalid value: \"object\": must be array if x-kubernetes-list-type is specified",
        ),
        (
            "maptypes",
            with_spec(json!({"args": {
                "type": "array",
                "items": {"type": "string"},
                "x-kubernetes-map-type": "atomic"
            }})),
            format!("{SCHEMA}.properties[spec].properties[args].type"),
            "FieldValueInvalid",
            "Invalid value: \"array\": must be object if x-kubernetes-map-type is specified",
        ),
        (
            "rootmaps",
            json!({"type": "object", "additionalProperties": false}),
            format!("{SCHEMA}.additionalProperties"),
            "FieldValueForbidden",
            "Forbidden: must not be used at the root",
        ),
        (
            "incompletes",
            json!({
                "type": "object",
                "properties": {"spec": {"type": "object"}},
                "anyOf": [{"properties": {"extra": {}}}]
            }),
            format!("{SCHEMA}.properties[extra]"),
            "FieldValueRequired",
            "Required value: because it is defined in spec.validation.openAPIV3Schema.anyOf[0].properties[extra]",
        ),
        (
            "embeddeds",
            with_spec(json!({"template": {
                "type": "string",
                "x-kubernetes-embedded-resource": true
            }})),
            format!("{SCHEMA}.properties[spec].properties[template].type"),
            "FieldValueInvalid",
            "Invalid value: \"string\": must be object if x-kubernetes-embedded-resource is true",
        ),
    ];
    for (plural, schema, field, reason, message) in cases {
        let response = post(cluster, CRDS, &crd_json(plural, "Case", schema)).await;
        let status = response.expect_failure(422, "Invalid");
        let name = format!("{plural}.schemas.example.com");
        assert_eq!(
            status["message"]
                .as_str()
                .unwrap_or_default()
                .split(" is invalid: ")
                .next(),
            Some(format!("CustomResourceDefinition.apiextensions.k8s.io \"{name}\"").as_str()),
            "{status}"
        );
        assert_eq!(status["details"]["name"], name.as_str(), "{status}");
        assert_eq!(status["details"]["group"], "apiextensions.k8s.io");
        assert_eq!(status["details"]["kind"], "CustomResourceDefinition");
        assert_exact_cause(&status, &field, reason, message);
        get(cluster, &format!("{CRDS}/{name}"))
            .await
            .expect_failure(404, "NotFound");
    }
}

/// Names, storage flags and selectable fields that upstream refuses.
async fn other_invalid_definitions_are_refused(cluster: &Cluster) {
    let mut wrong_name = crd_json("gears", "Gear", with_spec(json!({})));
    wrong_name["metadata"]["name"] = json!("cogs.schemas.example.com");
    let status = post(cluster, CRDS, &wrong_name)
        .await
        .expect_failure(422, "Invalid");
    assert_exact_cause(
        &status,
        "metadata.name",
        "FieldValueInvalid",
        "Invalid value: \"cogs.schemas.example.com\": must be spec.names.plural+\".\"+spec.group",
    );

    let mut two_storages = crd_json("gears", "Gear", with_spec(json!({})));
    let second = json!({
        "name": "v2", "served": true, "storage": true,
        "schema": {"openAPIV3Schema": with_spec(json!({}))}
    });
    if let Some(versions) = two_storages["spec"]["versions"].as_array_mut() {
        versions.push(second);
    }
    let status = post(cluster, CRDS, &two_storages)
        .await
        .expect_failure(422, "Invalid");
    assert_cause(&status, "spec.versions", "FieldValueInvalid", |m| {
        m.ends_with("must have exactly one version marked as storage version")
    });

    let mut bad_selectable = crd_json(
        "gears",
        "Gear",
        with_spec(json!({"color": {"type": "string"}})),
    );
    bad_selectable["spec"]["versions"][0]["selectableFields"] = json!([{"jsonPath": ".spec.nope"}]);
    let status = post(cluster, CRDS, &bad_selectable)
        .await
        .expect_failure(422, "Invalid");
    assert!(
        causes(&status)
            .iter()
            // One version: judged at the top level of upstream's internal form.
            .any(|(_, field, _)| field == "spec.selectableFields[0].jsonPath"),
        "{status}"
    );
    get(cluster, &format!("{CRDS}/gears.schemas.example.com"))
        .await
        .expect_failure(404, "NotFound");
}

/// `kubectl apply` of a non-structural CRD prints upstream's sentence.
fn kubectl_shows_the_refusal(cluster: &Cluster) {
    let manifest = crontab_crd().replacen(
        "            description: What to run, and when.\n            type: object\n",
        "            description: What to run, and when.\n",
        1,
    );
    assert_ne!(
        manifest,
        crontab_crd(),
        "the fixture changed: fix the replacement"
    );
    let path = write_file(cluster, "no-type.yaml", &manifest);
    let refused = fails(cluster, &["apply", "-f", &path]);
    assert!(
        refused.contains(
            "The CustomResourceDefinition \"crontabs.stable.example.com\" is invalid: spec.validation.openAPIV3Schema.properties[spec].type: Required value: must not be empty for specified object fields"
        ),
        "{refused}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn custom_resources_print_explain_and_select_by_their_schema() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    define_crontabs(&cluster);
    let ns = "reading";
    ok(&cluster, &["create", "namespace", ns]);
    let manifest = [
        crontab(ns, "nightly", "0 3 * * *", "example/nightly:1"),
        crontab(ns, "hourly", "0 * * * *", "example/hourly:2").replace(
            "spec:\n",
            "  labels: {tier: frontend}\nspec:\n  replicas: 3\n  color: red\n",
        ),
        crontab(ns, "minutely", "* * * * *", "example/minutely:3").replace(
            "spec:\n",
            "  labels: {tier: backend}\nspec:\n  color: red\n",
        ),
        crontab(ns, "weekly", "0 0 * * 0", "example/weekly:4").replace(
            "spec:\n",
            "  labels: {tier: frontend}\nspec:\n  color: blue\n",
        ),
    ]
    .join("---\n");
    ok(
        &cluster,
        &[
            "apply",
            "-f",
            &write_file(&cluster, "crontabs.yaml", &manifest),
        ],
    );
    printer_columns_shape_kubectl_get(&cluster, ns).await;
    default_columns_without_printer_columns(&cluster).await;
    explain_shows_the_schema_descriptions(&cluster).await;
    openapi_v3_and_v2_publish_the_schema(&cluster).await;
    label_and_field_selectors_filter(&cluster, ns).await;
}

/// additionalPrinterColumns become the Table's columns (priority 1 only
/// in `-o wide`); the server renders the cells.
async fn printer_columns_shape_kubectl_get(cluster: &Cluster, ns: &str) {
    let table = Table::parse(&ok(cluster, &["get", "crontabs", "-n", ns]));
    assert_eq!(table.headers, ["NAME", "SPEC", "REPLICAS", "AGE"]);
    assert_eq!(table.cell("nightly", "SPEC"), "0 3 * * *");
    assert_eq!(table.cell("nightly", "REPLICAS"), "1", "the default shows");
    assert_eq!(table.cell("hourly", "REPLICAS"), "3");
    let age = table.cell("nightly", "AGE");
    assert!(
        age.ends_with('s') || age.ends_with('m'),
        "AGE is a duration: {age:?}"
    );

    let wide = Table::parse(&ok(cluster, &["get", "ct", "-n", ns, "-o", "wide"]));
    assert_eq!(wide.headers, ["NAME", "SPEC", "REPLICAS", "IMAGE", "AGE"]);
    assert_eq!(wide.cell("weekly", "IMAGE"), "example/weekly:4");

    let response = cluster
        .call(
            RawRequest::get(&format!("{CRONTAB_V1}/namespaces/{ns}/crontabs"))
                .header("Accept", TABLE),
        )
        .await;
    let table = response.expect(200);
    assert_eq!(table["kind"], "Table", "{table}");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    let columns = table["columnDefinitions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let described: Vec<(&str, &str, i64)> = columns
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default(),
                c["type"].as_str().unwrap_or_default(),
                c["priority"].as_i64().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        described,
        [
            ("Name", "string", 0),
            ("Spec", "string", 0),
            ("Replicas", "integer", 0),
            ("Image", "string", 1),
            ("Age", "date", 0),
        ],
        "{table}"
    );
    assert_eq!(columns[0]["format"], "name");
    assert_eq!(
        columns[1]["description"],
        "The cron spec defining the interval a CronJob is run"
    );
    let hourly = table["rows"]
        .as_array()
        .and_then(|rows| rows.iter().find(|r| r["cells"][0] == "hourly"))
        .unwrap_or_else(|| panic!("no hourly row in {table}"));
    assert_eq!(hourly["cells"][1], "0 * * * *");
    assert_eq!(hourly["cells"][2], 3, "an integer column is a JSON number");
    assert_eq!(hourly["cells"][3], "example/hourly:2");
    assert_eq!(hourly["object"]["metadata"]["name"], "hourly", "{hourly}");
}

/// A CRD without printer columns gets upstream's default: NAME and AGE.
async fn default_columns_without_printer_columns(cluster: &Cluster) {
    let manifest = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: notes.plain.example.com
spec:
  group: plain.example.com
  scope: Namespaced
  names: {plural: notes, singular: note, kind: Note}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          text: {type: string}
---
apiVersion: v1
kind: Namespace
metadata: {name: notes}
"#;
    define(
        cluster,
        "notes-crd.yaml",
        manifest,
        "notes.plain.example.com",
    );
    let note = "apiVersion: plain.example.com/v1\nkind: Note\nmetadata: {name: hello, namespace: notes}\ntext: hi\n";
    ok(
        cluster,
        &["apply", "-f", &write_file(cluster, "note.yaml", note)],
    );
    let table = Table::parse(&ok(cluster, &["get", "notes", "-n", "notes"]));
    assert_eq!(table.headers, ["NAME", "AGE"]);
    assert_eq!(table.rows.len(), 1);
    let wide = Table::parse(&ok(cluster, &["get", "notes", "-n", "notes", "-o", "wide"]));
    assert_eq!(wide.headers, ["NAME", "AGE"]);
}

/// `kubectl explain` reads the schema's descriptions and types; a changed
/// description reaches it once the CRD is updated.
async fn explain_shows_the_schema_descriptions(cluster: &Cluster) {
    let kind = ok(cluster, &["explain", "crontabs"]);
    let header = |label: &str| {
        kind.lines()
            .find(|l| l.starts_with(label))
            .map(|l| l[label.len()..].trim().to_string())
            .unwrap_or_default()
    };
    assert_eq!(header("GROUP:"), "stable.example.com", "{kind}");
    assert_eq!(header("KIND:"), "CronTab", "{kind}");
    assert_eq!(header("VERSION:"), "v1", "{kind}");
    assert!(
        kind.contains("CronTab runs an image on a cron schedule."),
        "{kind}"
    );

    let spec = ok(cluster, &["explain", "crontabs.spec"]);
    assert!(spec.contains("What to run, and when."), "{spec}");
    let required = spec
        .lines()
        .find(|l| l.trim_start().starts_with("cronSpec"))
        .unwrap_or_default();
    assert!(
        required.contains("<string>") && required.contains("-required-"),
        "{spec}"
    );

    let field = ok(cluster, &["explain", "ct.spec.cronSpec"]);
    assert!(field.contains("FIELD: cronSpec <string>"), "{field}");
    assert!(field.contains("The schedule, in cron format."), "{field}");

    let changed = crontab_crd().replace(
        "The schedule, in cron format.",
        "When to run, as five cron fields.",
    );
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "crontab-crd-v2.yaml", &changed),
        ],
    );
    eventually(
        "kubectl explain shows the new description",
        SETTLE,
        || async {
            let output = cluster.kubectl(&["explain", "ct.spec.cronSpec"]);
            let text = String::from_utf8_lossy(&output.stdout).into_owned();
            if text.contains("When to run, as five cron fields.") {
                Ok(())
            } else {
                Err(format!("{text}{}", String::from_utf8_lossy(&output.stderr)))
            }
        },
    )
    .await;
}

/// `/openapi/v3` lists the group/version and its document holds the kind
/// (upstream's reversed-group name) with the schema; `/openapi/v2` too.
async fn openapi_v3_and_v2_publish_the_schema(cluster: &Cluster) {
    let index = get(cluster, "/openapi/v3").await.expect(200);
    let url = index["paths"]["apis/stable.example.com/v1"]["serverRelativeURL"]
        .as_str()
        .unwrap_or_else(|| panic!("no apis/stable.example.com/v1 in {index}"))
        .to_string();
    assert!(
        url.starts_with("/openapi/v3/apis/stable.example.com/v1?hash="),
        "{url}"
    );
    let document = get(cluster, &url).await.expect(200);
    let kind = &document["components"]["schemas"]["com.example.stable.v1.CronTab"];
    assert!(
        kind.is_object(),
        "no com.example.stable.v1.CronTab in {document}"
    );
    assert_eq!(
        kind["x-kubernetes-group-version-kind"],
        json!([{"group": "stable.example.com", "kind": "CronTab", "version": "v1"}])
    );
    let spec = &kind["properties"]["spec"];
    assert_eq!(spec["properties"]["cronSpec"]["type"], "string", "{kind}");
    assert!(strings(&spec["required"]).contains(&"cronSpec"), "{spec}");
    assert!(
        document["components"]["schemas"]["com.example.stable.v1.CronTabList"].is_object(),
        "no CronTabList schema"
    );
    for path in [
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs",
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}",
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/status",
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}/scale",
    ] {
        assert!(
            document["paths"][path].is_object(),
            "no {path} in the v3 document"
        );
    }

    let swagger = cluster
        .call(RawRequest::get("/openapi/v2").header("Accept", "application/json"))
        .await
        .expect(200);
    let definition = &swagger["definitions"]["com.example.stable.v1.CronTab"];
    assert!(
        definition.is_object(),
        "no com.example.stable.v1.CronTab in /openapi/v2"
    );
    assert_eq!(
        definition["properties"]["spec"]["properties"]["image"]["description"],
        "The container image to run."
    );
    assert!(
        swagger["paths"]["/apis/stable.example.com/v1/namespaces/{namespace}/crontabs"].is_object(),
        "no crontabs path in /openapi/v2"
    );
}

/// Label selectors, and field selectors on metadata and on the CRD's
/// selectableFields, filter lists and watches; other fields are refused.
async fn label_and_field_selectors_filter(cluster: &Cluster, ns: &str) {
    let select = |args: &[&str]| {
        let mut all = vec!["-n", ns, "crontabs"];
        all.extend_from_slice(args);
        names(cluster, &all)
    };
    assert_eq!(select(&["-l", "tier=frontend"]), ["hourly", "weekly"]);
    assert_eq!(select(&["-l", "tier!=frontend"]), ["minutely", "nightly"]);
    assert_eq!(select(&["-l", "tier"]), ["hourly", "minutely", "weekly"]);
    assert_eq!(
        select(&["--field-selector", "spec.color=red"]),
        ["hourly", "minutely"]
    );
    assert_eq!(
        select(&["--field-selector", "spec.color!=red"]),
        ["nightly", "weekly"],
        "an absent selectable field is the empty string"
    );
    assert_eq!(
        select(&["--field-selector", "spec.color=red,metadata.name=minutely"]),
        ["minutely"]
    );
    assert_eq!(
        select(&["-l", "tier=frontend", "--field-selector", "spec.color=red"]),
        ["hourly"]
    );
    assert_eq!(
        select(&["--field-selector", "metadata.name=weekly"]),
        ["weekly"]
    );

    let refused = get(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/{ns}/crontabs?fieldSelector=spec.image%3Dx"),
    )
    .await;
    let status = refused.expect_failure(400, "BadRequest");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("spec.image")),
        "{status}"
    );
    let stderr = fails(
        cluster,
        &["get", "ct", "-n", ns, "--field-selector", "spec.image=x"],
    );
    assert!(stderr.contains("spec.image"), "{stderr}");

    // A watch with a field selector sees objects enter and leave the set.
    let mut watch = cluster
        .stream(RawRequest::get(&format!(
            "{CRONTAB_V1}/namespaces/{ns}/crontabs?watch=true&fieldSelector=spec.color%3Dblue"
        )))
        .await;
    assert_eq!(watch.status, 200);
    let next = |item| match item {
        blackbox_tests::StreamItem::Json(event) => event,
        other => panic!("expected a watch event, got {other:?}"),
    };
    let first = next(watch.next_json(Duration::from_secs(10)).await);
    assert_eq!(first["type"], "ADDED", "{first}");
    assert_eq!(first["object"]["metadata"]["name"], "weekly");
    merge_patch(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/{ns}/crontabs/nightly"),
        &json!({"spec": {"color": "blue"}}),
    )
    .await
    .expect(200);
    let entered = next(watch.next_json(Duration::from_secs(10)).await);
    assert_eq!(
        entered["type"], "ADDED",
        "an object entering the set: {entered}"
    );
    assert_eq!(entered["object"]["metadata"]["name"], "nightly");
    merge_patch(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/{ns}/crontabs/weekly"),
        &json!({"spec": {"color": "green"}}),
    )
    .await
    .expect(200);
    let left = next(watch.next_json(Duration::from_secs(10)).await);
    assert_eq!(left["type"], "DELETED", "an object leaving the set: {left}");
    assert_eq!(left["object"]["metadata"]["name"], "weekly");
}

/// Custom resources of a namespaced and a cluster-scoped CRD live at their
/// scope's paths, list across namespaces, and are all deleted (upstream's
/// customresourcecleanup finalizer) before their CRD goes.
async fn custom_resources_live_in_their_scope_and_go_with_their_crd(cluster: &mut Cluster) {
    define_crontabs(cluster);
    namespaced_resources_list_across_namespaces(cluster).await;
    deleting_a_namespace_deletes_its_custom_resources(cluster).await;
    cluster_scoped_resources_have_no_namespace(cluster).await;
    deleting_a_crd_deletes_its_resources_first(cluster).await;
}

/// A deleted namespace takes its custom resources with it, wherever the
/// CRD engine runs (with it in a process of its own, the front's namespace
/// controller must wait for the engine's content to go).
async fn deleting_a_namespace_deletes_its_custom_resources(cluster: &Cluster) {
    let manifest = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: doomed}}\n---\n{}",
        crontab("doomed", "last", "0 4 * * *", "example/last:1")
    );
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "doomed.yaml", &manifest),
        ],
    );
    ok(
        cluster,
        &["delete", "namespace", "doomed", "--wait", "--timeout=30s"],
    );
    get(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/doomed/crontabs/last"),
    )
    .await
    .expect_failure(404, "NotFound");
    let list = get(cluster, &format!("{CRONTAB_V1}/crontabs"))
        .await
        .expect(200);
    assert!(
        list["items"]
            .as_array()
            .is_some_and(|items| items.iter().all(|i| i["metadata"]["namespace"] != "doomed")),
        "{list}"
    );
}
on_each_backend!(custom_resources_live_in_their_scope_and_go_with_their_crd);

async fn namespaced_resources_list_across_namespaces(cluster: &Cluster) {
    let manifest = ["east", "west"]
        .iter()
        .map(|ns| {
            format!(
                "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\n{}",
                crontab(ns, "nightly", "0 3 * * *", "example/nightly:1")
            )
        })
        .collect::<Vec<_>>()
        .join("---\n");
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "two-namespaces.yaml", &manifest),
        ],
    );
    let all = Table::parse(&ok(cluster, &["get", "ct", "-A"]));
    assert_eq!(
        all.headers,
        ["NAMESPACE", "NAME", "SPEC", "REPLICAS", "AGE"]
    );
    let mut placed: Vec<(&str, &str)> = all
        .rows
        .iter()
        .map(|r| (r[0].as_str(), r[1].as_str()))
        .collect();
    placed.sort_unstable();
    assert_eq!(placed, [("east", "nightly"), ("west", "nightly")]);

    let list = get(cluster, &format!("{CRONTAB_V1}/crontabs"))
        .await
        .expect(200);
    assert_eq!(list["kind"], "CronTabList", "{list}");
    assert_eq!(list["apiVersion"], "stable.example.com/v1");
    assert!(list["metadata"]["resourceVersion"].is_string(), "{list}");
    assert_eq!(list["items"].as_array().map(Vec::len), Some(2), "{list}");

    let one = get(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/east/crontabs/nightly"),
    )
    .await
    .expect(200);
    assert_eq!(one["kind"], "CronTab");
    assert_eq!(one["apiVersion"], "stable.example.com/v1");
    assert_eq!(one["metadata"]["namespace"], "east");
    for field in ["uid", "resourceVersion", "creationTimestamp"] {
        assert!(
            one["metadata"][field].is_string(),
            "metadata.{field}: {one}"
        );
    }
    // A namespaced resource has no cluster-scoped item path.
    get(cluster, &format!("{CRONTAB_V1}/crontabs/nightly"))
        .await
        .expect_failure(404, "NotFound");
    get(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/north/crontabs/nightly"),
    )
    .await
    .expect_failure(404, "NotFound");
}

async fn cluster_scoped_resources_have_no_namespace(cluster: &Cluster) {
    let manifest = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: fleets.ops.example.com
spec:
  group: ops.example.com
  scope: Cluster
  names: {plural: fleets, singular: fleet, kind: Fleet}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              region: {type: string}
"#;
    define(
        cluster,
        "fleet-crd.yaml",
        manifest,
        "fleets.ops.example.com",
    );
    let fleet = "apiVersion: ops.example.com/v1\nkind: Fleet\nmetadata: {name: eu}\nspec: {region: eu-west}\n";
    let created = ok(
        cluster,
        &["apply", "-f", &write_file(cluster, "fleet.yaml", fleet)],
    );
    assert_eq!(created.trim(), "fleet.ops.example.com/eu created");
    let table = Table::parse(&ok(cluster, &["get", "fleets"]));
    assert_eq!(table.headers, ["NAME", "AGE"]);
    assert_eq!(table.rows.len(), 1);
    let object = get(cluster, "/apis/ops.example.com/v1/fleets/eu")
        .await
        .expect(200);
    assert!(object["metadata"].get("namespace").is_none(), "{object}");
    assert_eq!(object["spec"]["region"], "eu-west");
    get(
        cluster,
        "/apis/ops.example.com/v1/namespaces/default/fleets/eu",
    )
    .await
    .expect_failure(404, "NotFound");
    let scoped = ok(
        cluster,
        &[
            "api-resources",
            "--namespaced=false",
            "--api-group=ops.example.com",
            "--no-headers",
        ],
    );
    assert!(scoped.lines().any(|l| l.starts_with("fleets ")), "{scoped}");
    ok(cluster, &["delete", "crd", "fleets.ops.example.com"]);
    wait_for_status(cluster, "/apis/ops.example.com/v1/fleets", 404).await;
    define(
        cluster,
        "fleet-crd.yaml",
        manifest,
        "fleets.ops.example.com",
    );
    let list = get(cluster, "/apis/ops.example.com/v1/fleets")
        .await
        .expect(200);
    assert_eq!(
        list["items"],
        json!([]),
        "the old fleet was deleted: {list}"
    );
}

/// While a custom resource holds a finalizer, the deleted CRD stays
/// Terminating (InstanceDeletionInProgress), refuses creates with 405 and
/// narrows its verbs; once the resource goes, so does the CRD, and a new
/// CRD of the same name starts empty.
async fn deleting_a_crd_deletes_its_resources_first(cluster: &Cluster) {
    let held = crontab("west", "held", "0 0 * * *", "example/held:1").replace(
        "  namespace: west\n",
        "  namespace: west\n  finalizers: [example.com/hold]\n",
    );
    ok(
        cluster,
        &["apply", "-f", &write_file(cluster, "held.yaml", &held)],
    );
    ok(cluster, &["delete", "crd", CRONTABS, "--wait=false"]);

    let crd = get(cluster, &format!("{CRDS}/{CRONTABS}"))
        .await
        .expect(200);
    assert!(crd["metadata"]["deletionTimestamp"].is_string(), "{crd}");
    assert!(
        strings(&crd["metadata"]["finalizers"])
            .contains(&"customresourcecleanup.apiextensions.k8s.io"),
        "{crd}"
    );
    let crd = eventually("the CRD is Terminating", SETTLE, || async {
        let crd = get(cluster, &format!("{CRDS}/{CRONTABS}"))
            .await
            .expect(200);
        // InstanceDeletionPending comes first, then the finalizer starts.
        match condition(&crd, "Terminating") {
            Some(c) if c["reason"] == "InstanceDeletionInProgress" => Ok(crd.clone()),
            _ => Err(crd.to_string()),
        }
    })
    .await;
    let terminating = condition(&crd, "Terminating").unwrap_or_default();
    assert_eq!(terminating["reason"], "InstanceDeletionInProgress");
    assert_eq!(
        terminating["message"],
        "CustomResource deletion is in progress"
    );

    // The resources without finalizers go; the held one waits, deleted.
    for ns in ["east", "west"] {
        wait_for_status(
            cluster,
            &format!("{CRONTAB_V1}/namespaces/{ns}/crontabs/nightly"),
            404,
        )
        .await;
    }
    let held_path = format!("{CRONTAB_V1}/namespaces/west/crontabs/held");
    let object = eventually("the held CronTab is being deleted", SETTLE, || async {
        let object = get(cluster, &held_path).await.expect(200);
        if object["metadata"]["deletionTimestamp"].is_string() {
            Ok(object)
        } else {
            Err(object.to_string())
        }
    })
    .await;
    assert_eq!(
        strings(&object["metadata"]["finalizers"]),
        ["example.com/hold"]
    );

    let refused = post(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/west/crontabs"),
        &json!({
            "apiVersion": "stable.example.com/v1", "kind": "CronTab",
            "metadata": {"name": "late"},
            "spec": {"cronSpec": "* * * * *", "image": "late"}
        }),
    )
    .await;
    let status = refused.expect_failure(405, "MethodNotAllowed");
    assert_eq!(
        status["message"],
        "create not allowed while custom resource definition is terminating"
    );
    eventually(
        "a terminating CRD serves no create, update or patch in discovery",
        SETTLE,
        || async {
            let list = get(cluster, CRONTAB_V1).await.expect(200);
            let listed = find(&list, "resources", "name", "crontabs").map(verbs);
            if listed.as_deref()
                == Some(&["delete", "deletecollection", "get", "list", "watch"][..])
            {
                Ok(())
            } else {
                Err(list.to_string())
            }
        },
    )
    .await;

    merge_patch(
        cluster,
        &held_path,
        &json!({"metadata": {"finalizers": null}}),
    )
    .await
    .expect(200);
    wait_for_status(cluster, &held_path, 404).await;
    eventually("the CRD is gone", Duration::from_secs(60), || async {
        let response = get(cluster, &format!("{CRDS}/{CRONTABS}")).await;
        if response.status == 404 {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&response.body).into_owned())
        }
    })
    .await;
    wait_for_status(cluster, CRONTAB_V1, 404).await;

    define_crontabs(cluster);
    let list = get(cluster, &format!("{CRONTAB_V1}/crontabs"))
        .await
        .expect(200);
    assert_eq!(
        list["items"],
        json!([]),
        "no CronTab outlived its CRD: {list}"
    );
    delete(cluster, &format!("{CRDS}/{CRONTABS}"))
        .await
        .expect(200);
}
