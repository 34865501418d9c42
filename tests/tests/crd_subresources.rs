//! The status and scale subresources of custom resources, as upstream's
//! apiextensions-apiserver serves them: spec changes bump
//! metadata.generation and status changes do not; the main endpoint
//! ignores status and /status ignores everything else; `kubectl patch
//! --subresource=status` and `kubectl scale` work; /scale reads and writes
//! the CRD's replica and selector paths as an autoscaling/v1 Scale.
//! Without the status subresource, status is ordinary content.

mod crd_support;
mod support;

use blackbox_tests::on_each_backend;
use crd_support::{
    crontab, define, define_crontabs, get, merge_patch, put, wait_for_status, CRONTAB_V1,
};
use serde_json::json;
use support::{ok, write_file, Backend, Cluster};

const NS: &str = "subresources";

fn nightly() -> String {
    format!("{CRONTAB_V1}/namespaces/{NS}/crontabs/nightly")
}

async fn status_and_scale_subresources(cluster: &mut Cluster) {
    define_crontabs(cluster);
    ok(cluster, &["create", "namespace", NS]);
    let manifest = crontab(NS, "nightly", "0 3 * * *", "example/nightly:1");
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "nightly.yaml", &manifest),
        ],
    );
    stored_under_upstreams_etcd_keys(cluster).await;
    status_changes_leave_the_generation_alone(cluster).await;
    spec_changes_bump_the_generation(cluster).await;
    the_main_endpoint_ignores_status(cluster).await;
    status_is_validated_against_the_schema(cluster).await;
    scale_reads_and_writes_the_replica_paths(cluster).await;
    without_a_status_subresource_status_is_content(cluster).await;
}
on_each_backend!(status_and_scale_subresources);

/// On etcd, the CRD and its resources sit under upstream's keys, and a
/// resourceVersion is the key's mod_revision.
async fn stored_under_upstreams_etcd_keys(cluster: &Cluster) {
    let Some(etcd) = cluster
        .etcd
        .as_ref()
        .filter(|_| cluster.backend == Backend::Etcd)
    else {
        return;
    };
    let object = get(cluster, &nightly()).await.expect(200);
    let revision = etcd
        .mod_revision(&format!(
            "/registry/stable.example.com/crontabs/{NS}/nightly"
        ))
        .await
        .expect("the CronTab is at /registry/<group>/<plural>/<namespace>/<name>");
    assert_eq!(
        object["metadata"]["resourceVersion"],
        revision.to_string(),
        "resourceVersion is etcd's mod_revision"
    );
    assert!(
        etcd.mod_revision(
            "/registry/apiextensions.k8s.io/customresourcedefinitions/crontabs.stable.example.com"
        )
        .await
        .is_some(),
        "the CRD is at /registry/apiextensions.k8s.io/customresourcedefinitions/<name>"
    );
}

/// `kubectl patch --subresource=status` sets status, keeps spec and the
/// generation; PUT to /status does the same.
async fn status_changes_leave_the_generation_alone(cluster: &Cluster) {
    let created = get(cluster, &nightly()).await.expect(200);
    assert_eq!(created["metadata"]["generation"], 1, "{created}");
    assert!(created.get("status").is_none(), "{created}");

    let patched = ok(
        cluster,
        &[
            "patch",
            "ct",
            "nightly",
            "-n",
            NS,
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"replicas":2,"labelSelector":"app=nightly"},"spec":{"image":"ignored"}}"#,
        ],
    );
    assert_eq!(patched.trim(), "crontab.stable.example.com/nightly patched");
    let after = get(cluster, &nightly()).await.expect(200);
    assert_eq!(
        after["status"],
        json!({"replicas": 2, "labelSelector": "app=nightly"})
    );
    assert_eq!(
        after["spec"]["image"], "example/nightly:1",
        "/status ignores spec"
    );
    assert_eq!(after["metadata"]["generation"], 1, "{after}");
    assert_ne!(
        after["metadata"]["resourceVersion"],
        created["metadata"]["resourceVersion"]
    );

    let through_status = get(cluster, &format!("{}/status", nightly()))
        .await
        .expect(200);
    assert_eq!(
        through_status["kind"], "CronTab",
        "GET /status is the whole object"
    );
    assert_eq!(through_status["spec"], after["spec"]);
    assert_eq!(through_status["status"], after["status"]);

    let mut replaced = through_status.clone();
    replaced["status"]["lastScheduleTime"] = json!("2026-01-02T03:04:05Z");
    replaced["spec"]["cronSpec"] = json!("* * * * *");
    let updated = put(cluster, &format!("{}/status", nightly()), &replaced)
        .await
        .expect(200);
    assert_eq!(
        updated["status"]["lastScheduleTime"],
        "2026-01-02T03:04:05Z"
    );
    assert_eq!(
        updated["spec"]["cronSpec"], "0 3 * * *",
        "PUT /status ignores spec"
    );
    assert_eq!(updated["metadata"]["generation"], 1);
}

/// A spec change bumps the generation by one; a metadata-only change
/// does not.
async fn spec_changes_bump_the_generation(cluster: &Cluster) {
    let changed = merge_patch(
        cluster,
        &nightly(),
        &json!({"spec": {"image": "example/nightly:2"}}),
    )
    .await
    .expect(200);
    assert_eq!(changed["metadata"]["generation"], 2, "{changed}");
    let labelled = ok(cluster, &["label", "ct", "nightly", "-n", NS, "tier=batch"]);
    assert_eq!(
        labelled.trim(),
        "crontab.stable.example.com/nightly labeled"
    );
    let after = get(cluster, &nightly()).await.expect(200);
    assert_eq!(after["metadata"]["generation"], 2, "labels are not spec");
    let same = merge_patch(
        cluster,
        &nightly(),
        &json!({"spec": {"image": "example/nightly:2"}}),
    )
    .await
    .expect(200);
    assert_eq!(same["metadata"]["generation"], 2, "no change, no bump");
}

/// With the status subresource on, status sent to the main endpoint is
/// dropped, on patch and on update, and on create.
async fn the_main_endpoint_ignores_status(cluster: &Cluster) {
    let before = get(cluster, &nightly()).await.expect(200);
    let patched = merge_patch(
        cluster,
        &nightly(),
        &json!({"status": {"replicas": 9}, "spec": {"replicas": 2}}),
    )
    .await
    .expect(200);
    assert_eq!(
        patched["status"], before["status"],
        "status kept: {patched}"
    );
    assert_eq!(patched["spec"]["replicas"], 2);
    assert_eq!(patched["metadata"]["generation"], 3);

    let mut replaced = patched.clone();
    replaced["status"] = json!({"replicas": 7});
    let updated = put(cluster, &nightly(), &replaced).await.expect(200);
    assert_eq!(updated["status"], before["status"], "{updated}");

    let with_status =
        crontab(NS, "born-with-status", "0 4 * * *", "example/born:1") + "status:\n  replicas: 5\n";
    ok(
        cluster,
        &[
            "apply",
            "-f",
            &write_file(cluster, "born.yaml", &with_status),
        ],
    );
    let born = get(
        cluster,
        &format!("{CRONTAB_V1}/namespaces/{NS}/crontabs/born-with-status"),
    )
    .await
    .expect(200);
    assert!(born.get("status").is_none(), "create drops status: {born}");
}

/// A status that breaks the schema is refused at /status with the usual
/// 422 and cause.
async fn status_is_validated_against_the_schema(cluster: &Cluster) {
    let status = merge_patch(
        cluster,
        &format!("{}/status", nightly()),
        &json!({"status": {"replicas": "many"}}),
    )
    .await
    .expect_failure(422, "Invalid");
    crd_support::assert_exact_cause(
        &status,
        "status.replicas",
        "FieldValueTypeInvalid",
        "Invalid value: \"string\": status.replicas in body must be of type integer: \"string\"",
    );
}

/// GET /scale is an autoscaling/v1 Scale built from specReplicasPath,
/// statusReplicasPath and labelSelectorPath; `kubectl scale` and PUT
/// /scale write spec.replicas (and are validated like the object).
async fn scale_reads_and_writes_the_replica_paths(cluster: &Cluster) {
    let scale_path = format!("{}/scale", nightly());
    let scale = get(cluster, &scale_path).await.expect(200);
    assert_eq!(scale["kind"], "Scale", "{scale}");
    assert_eq!(scale["apiVersion"], "autoscaling/v1");
    assert_eq!(scale["metadata"]["name"], "nightly");
    assert_eq!(scale["metadata"]["namespace"], NS);
    assert_eq!(scale["spec"]["replicas"], 2);
    assert_eq!(scale["status"]["replicas"], 2);
    assert_eq!(scale["status"]["selector"], "app=nightly");

    let scaled = ok(cluster, &["scale", "ct/nightly", "-n", NS, "--replicas=4"]);
    assert_eq!(scaled.trim(), "crontab.stable.example.com/nightly scaled");
    let object = get(cluster, &nightly()).await.expect(200);
    assert_eq!(object["spec"]["replicas"], 4);
    assert_eq!(object["metadata"]["generation"], 4, "scaling changes spec");
    assert_eq!(
        object["status"]["replicas"], 2,
        "status is left to controllers"
    );

    let mut scale = get(cluster, &scale_path).await.expect(200);
    assert_eq!(scale["spec"]["replicas"], 4);
    scale["spec"]["replicas"] = json!(6);
    let written = put(cluster, &scale_path, &scale).await.expect(200);
    assert_eq!(written["kind"], "Scale");
    assert_eq!(written["spec"]["replicas"], 6);
    let object = get(cluster, &nightly()).await.expect(200);
    assert_eq!(object["spec"]["replicas"], 6);

    scale = written.clone();
    scale["spec"]["replicas"] = json!(11);
    let response = put(cluster, &scale_path, &scale).await;
    assert_eq!(
        response.status,
        422,
        "the schema's maximum holds through /scale: {}",
        String::from_utf8_lossy(&response.body)
    );
    let object = get(cluster, &nightly()).await.expect(200);
    assert_eq!(object["spec"]["replicas"], 6);
}

/// A CRD without subresources: /status is 404, status written through the
/// main endpoint is kept, and any non-metadata change bumps the
/// generation.
async fn without_a_status_subresource_status_is_content(cluster: &Cluster) {
    let manifest = r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: jobs.plain.example.com
spec:
  group: plain.example.com
  scope: Namespaced
  names: {plural: jobs, singular: job, kind: Job}
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
              command: {type: string}
          status:
            type: object
            properties:
              phase: {type: string}
"#;
    define(cluster, "jobs-crd.yaml", manifest, "jobs.plain.example.com");
    let job = format!(
        "apiVersion: plain.example.com/v1\nkind: Job\nmetadata: {{name: once, namespace: {NS}}}\nspec: {{command: run}}\nstatus: {{phase: Pending}}\n"
    );
    ok(
        cluster,
        &["apply", "-f", &write_file(cluster, "job.yaml", &job)],
    );
    let path = format!("/apis/plain.example.com/v1/namespaces/{NS}/jobs/once");
    let created = get(cluster, &path).await.expect(200);
    assert_eq!(created["status"], json!({"phase": "Pending"}), "{created}");
    assert_eq!(created["metadata"]["generation"], 1);
    let changed = merge_patch(cluster, &path, &json!({"status": {"phase": "Done"}}))
        .await
        .expect(200);
    assert_eq!(changed["status"]["phase"], "Done");
    assert_eq!(changed["metadata"]["generation"], 2, "{changed}");
    wait_for_status(cluster, &format!("{path}/status"), 404).await;
    wait_for_status(cluster, &format!("{path}/scale"), 404).await;
}
