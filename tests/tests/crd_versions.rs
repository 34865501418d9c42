//! CRDs with several versions, as upstream's apiextensions-apiserver
//! serves them: only served versions are routed and discovered (the
//! preferred one is the highest by Kubernetes version order), conversion
//! strategy None rewrites apiVersion and keeps the rest, a deprecated
//! version answers with upstream's deprecation warning (or the CRD's own),
//! and status.storedVersions records every storage version ever used and
//! guards its versions from removal.
//!
//! Webhook conversion, with a webhook process the tests start, is in
//! `crd_conversion.rs`.

mod crd_support;
mod support;

use crd_support::{define, eventually, find, get, post, wait_for_status, warnings, SETTLE};
use serde_json::{json, Value};
use support::{fails, get_json, ok, write_file, Backend, Cluster};

const TOOLS_CRD: &str = "tools.multi.example.com";
const NS: &str = "versions";

/// Tools: v1alpha1 defined but not served, v1beta1 served, deprecated and
/// (at first) the storage version, v1 served. The same schema in each.
fn tool_crd(storage: &str, deprecation: Option<&str>) -> String {
    let schema = r#"    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {type: string}
              count: {type: integer}
"#;
    let warning = deprecation
        .map(|w| format!("    deprecationWarning: \"{w}\"\n"))
        .unwrap_or_default();
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: tools.multi.example.com
spec:
  group: multi.example.com
  scope: Namespaced
  names: {{plural: tools, singular: tool, kind: Tool}}
  conversion: {{strategy: None}}
  versions:
  - name: v1alpha1
    served: false
    storage: false
{schema}  - name: v1beta1
    served: true
    storage: {beta_storage}
    deprecated: true
{warning}{schema}  - name: v1
    served: true
    storage: {v1_storage}
{schema}"#,
        beta_storage = storage == "v1beta1",
        v1_storage = storage == "v1",
    )
}

fn tools(version: &str) -> String {
    format!("/apis/multi.example.com/{version}/namespaces/{NS}/tools")
}

fn tool(version: &str, name: &str) -> Value {
    json!({
        "apiVersion": format!("multi.example.com/{version}"),
        "kind": "Tool",
        "metadata": {"name": name},
        "spec": {"size": "large", "count": 2},
    })
}

const DEFAULT_WARNING: &str =
    "multi.example.com/v1beta1 Tool is deprecated; use multi.example.com/v1 Tool";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_are_served_converted_deprecated_and_recorded() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "namespace", NS]);
    define(
        &cluster,
        "tool-crd.yaml",
        &tool_crd("v1beta1", None),
        TOOLS_CRD,
    );
    only_served_versions_are_routed_and_discovered(&cluster).await;
    conversion_none_rewrites_the_api_version(&cluster).await;
    deprecated_versions_warn(&cluster).await;
    stored_versions_record_every_storage_version(&cluster).await;
}

async fn only_served_versions_are_routed_and_discovered(cluster: &Cluster) {
    let group = get(cluster, "/apis/multi.example.com").await.expect(200);
    let versions: Vec<&str> = group["versions"]
        .as_array()
        .map(|vs| vs.iter().filter_map(|v| v["version"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        versions,
        ["v1", "v1beta1"],
        "served versions, highest first: {group}"
    );
    assert_eq!(
        group["preferredVersion"],
        json!({"groupVersion": "multi.example.com/v1", "version": "v1"})
    );
    for version in ["v1", "v1beta1"] {
        let list = get(cluster, &format!("/apis/multi.example.com/{version}"))
            .await
            .expect(200);
        assert!(
            find(&list, "resources", "name", "tools").is_some(),
            "{list}"
        );
    }
    get(cluster, "/apis/multi.example.com/v1alpha1")
        .await
        .expect_failure(404, "NotFound");
    get(cluster, &tools("v1alpha1"))
        .await
        .expect_failure(404, "NotFound");

    let crd = get_json(cluster, &["crd", TOOLS_CRD]);
    assert_eq!(crd["status"]["storedVersions"], json!(["v1beta1"]));
}

/// An object written in v1beta1 reads back in v1 (and the reverse) with
/// only apiVersion changed.
async fn conversion_none_rewrites_the_api_version(cluster: &Cluster) {
    post(cluster, &tools("v1beta1"), &tool("v1beta1", "hammer"))
        .await
        .expect(201);
    let as_v1 = get(cluster, &format!("{}/hammer", tools("v1")))
        .await
        .expect(200);
    assert_eq!(as_v1["apiVersion"], "multi.example.com/v1", "{as_v1}");
    assert_eq!(as_v1["kind"], "Tool");
    assert_eq!(as_v1["spec"], json!({"size": "large", "count": 2}));
    let as_beta = get(cluster, &format!("{}/hammer", tools("v1beta1")))
        .await
        .expect(200);
    assert_eq!(as_beta["apiVersion"], "multi.example.com/v1beta1");
    assert_eq!(as_beta["metadata"]["uid"], as_v1["metadata"]["uid"]);
    assert_eq!(
        as_beta["metadata"]["resourceVersion"],
        as_v1["metadata"]["resourceVersion"]
    );

    post(cluster, &tools("v1"), &tool("v1", "saw"))
        .await
        .expect(201);
    let list = get(cluster, &tools("v1beta1")).await.expect(200);
    assert_eq!(list["apiVersion"], "multi.example.com/v1beta1", "{list}");
    let items = list["items"].as_array().cloned().unwrap_or_default();
    assert_eq!(items.len(), 2, "{list}");
    assert!(
        items
            .iter()
            .all(|i| i["apiVersion"] == "multi.example.com/v1beta1"),
        "{list}"
    );

    // kubectl picks a version by resource.version.group.
    let beta = get_json(
        cluster,
        &["-n", NS, "tools.v1beta1.multi.example.com", "saw"],
    );
    assert_eq!(beta["apiVersion"], "multi.example.com/v1beta1");
    let preferred = get_json(cluster, &["-n", NS, "tools", "saw"]);
    assert_eq!(preferred["apiVersion"], "multi.example.com/v1");
}

/// Requests to a deprecated version carry a 299 warning: upstream's
/// default text, or the CRD's deprecationWarning; other versions none.
async fn deprecated_versions_warn(cluster: &Cluster) {
    let response = get(cluster, &format!("{}/hammer", tools("v1beta1"))).await;
    assert_eq!(warnings(&response), [DEFAULT_WARNING]);
    let response = post(cluster, &tools("v1beta1"), &tool("v1beta1", "drill")).await;
    assert_eq!(warnings(&response), [DEFAULT_WARNING]);
    response.expect(201);
    let response = get(cluster, &format!("{}/hammer", tools("v1"))).await;
    assert!(warnings(&response).is_empty(), "{:?}", response.headers);

    let manifest = format!(
        "apiVersion: multi.example.com/v1beta1\nkind: Tool\nmetadata: {{name: wrench, namespace: {NS}}}\nspec: {{size: small}}\n"
    );
    let output = cluster.kubectl(&[
        "apply",
        "-f",
        &write_file(cluster, "wrench.yaml", &manifest),
    ]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains(&format!("Warning: {DEFAULT_WARNING}")),
        "{stderr}"
    );

    let custom = "v1beta1 tools go away in 2027; move to v1";
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(
                cluster,
                "tool-crd-custom.yaml",
                &tool_crd("v1beta1", Some(custom)),
            ),
        ],
    );
    let path = format!("{}/hammer", tools("v1beta1"));
    eventually(
        "the CRD's own deprecation warning is used",
        SETTLE,
        || async {
            let said = warnings(&get(cluster, &path).await);
            if said == [custom] {
                Ok(())
            } else {
                Err(format!("{said:?}"))
            }
        },
    )
    .await;
}

/// Moving storage to v1 adds it to storedVersions; a version listed
/// there cannot be dropped from spec.versions until the objects are
/// rewritten and the list is trimmed through /status.
async fn stored_versions_record_every_storage_version(cluster: &Cluster) {
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "tool-crd-v1.yaml", &tool_crd("v1", None)),
        ],
    );
    let crd = get_json(cluster, &["crd", TOOLS_CRD]);
    assert_eq!(
        crd["status"]["storedVersions"],
        json!(["v1beta1", "v1"]),
        "{crd}"
    );
    post(cluster, &tools("v1"), &tool("v1", "chisel"))
        .await
        .expect(201);
    // Upstream's migration: write every object again so it is stored in
    // v1, before v1beta1 may leave storedVersions.
    let migrated = ok(
        cluster,
        &["label", "tools", "-n", NS, "--all", "migrated=true"],
    );
    assert_eq!(migrated.lines().count(), 5, "{migrated}");

    let without_beta = tool_crd("v1", None);
    let start = without_beta
        .find("  - name: v1beta1")
        .unwrap_or_else(|| panic!("{without_beta}"));
    let end = without_beta
        .find("  - name: v1\n")
        .unwrap_or_else(|| panic!("{without_beta}"));
    let without_beta = format!("{}{}", &without_beta[..start], &without_beta[end..]);
    let path = write_file(cluster, "tool-crd-no-beta.yaml", &without_beta);
    let refused = fails(cluster, &["apply", "-f", &path]);
    assert!(
        refused.contains(
            "status.storedVersions[0]: Invalid value: \"v1beta1\": missing from spec.versions"
        ),
        "{refused}"
    );

    let trimmed = ok(
        cluster,
        &[
            "patch",
            "crd",
            TOOLS_CRD,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"storedVersions":["v1"]}}"#,
        ],
    );
    assert!(trimmed.contains("patched"), "{trimmed}");
    ok(cluster, &["apply", "-f", &path]);
    let crd = get_json(cluster, &["crd", TOOLS_CRD]);
    assert_eq!(crd["status"]["storedVersions"], json!(["v1"]));
    let names: Vec<&str> = crd["spec"]["versions"]
        .as_array()
        .map(|vs| vs.iter().filter_map(|v| v["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["v1alpha1", "v1"]);
    wait_for_status(cluster, &tools("v1beta1"), 404).await;
    let list = get(cluster, &tools("v1")).await.expect(200);
    let mut listed: Vec<&str> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i["metadata"]["name"].as_str())
                .collect()
        })
        .unwrap_or_default();
    listed.sort_unstable();
    assert_eq!(listed, ["chisel", "drill", "hammer", "saw", "wrench"]);
    eventually("discovery lists v1 alone", SETTLE, || async {
        let group = get(cluster, "/apis/multi.example.com").await.expect(200);
        let versions: Vec<String> = group["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter_map(|v| v["version"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if versions == ["v1"] {
            Ok(())
        } else {
            Err(group.to_string())
        }
    })
    .await;
}
