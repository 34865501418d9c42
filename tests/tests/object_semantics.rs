//! Object semantics as upstream kube-apiserver has them, over raw HTTPS on
//! both backends: identity and versions set by the server, generateName,
//! optimistic concurrency, generation, the status subresource and
//! finalizers.

use std::time::Duration;

use blackbox_tests::{on_each_backend, Cluster, RawRequest, RawResponse, StreamItem};
use http::Method;
use serde_json::{json, Value};

const CONFIGMAPS: &str = "/api/v1/namespaces/default/configmaps";
const DEPLOYMENTS: &str = "/apis/apps/v1/namespaces/default/deployments";

async fn send(cluster: &Cluster, method: Method, path: &str, body: Option<Value>) -> RawResponse {
    let request = RawRequest::new(method, path);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    cluster.call(request).await
}

async fn merge_patch(cluster: &Cluster, path: &str, patch: Value) -> RawResponse {
    let request = RawRequest::new(Method::PATCH, path).body_with_type(
        patch.to_string().into_bytes(),
        "application/merge-patch+json",
    );
    cluster.call(request).await
}

fn resource_version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_else(|| panic!("resourceVersion is not a decimal revision: {object}"))
}

fn is_uuid(text: &str) -> bool {
    let groups: Vec<&str> = text.split('-').collect();
    let lengths: Vec<usize> = groups.iter().map(|g| g.len()).collect();
    lengths == [8, 4, 4, 4, 12]
        && groups
            .iter()
            .all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// RFC 3339 in whole seconds, UTC, as metav1.Time marshals:
/// `2006-01-02T15:04:05Z`.
fn is_rfc3339_seconds(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18];
    bytes.len() == 20
        && digits.iter().all(|&i| bytes[i].is_ascii_digit())
        && bytes[4] == b'-'
        && bytes[7] == b'-'
        && bytes[10] == b'T'
        && bytes[13] == b':'
        && bytes[16] == b':'
        && bytes[19] == b'Z'
}

fn configmap(name: &str, data: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": { "name": name },
        "data": { "key": data }
    })
}

async fn server_sets_identity_and_resource_versions(cluster: &mut Cluster) {
    let first = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("first", "1")),
    )
    .await
    .expect(201);
    let uid = first["metadata"]["uid"].as_str().unwrap_or_default();
    assert!(is_uuid(uid), "uid is not a UUID: {first}");
    let created = first["metadata"]["creationTimestamp"]
        .as_str()
        .unwrap_or_default();
    assert!(is_rfc3339_seconds(created), "creationTimestamp: {first}");
    let first_rv = resource_version(&first);
    if let Some(etcd) = &cluster.etcd {
        let revision = etcd
            .mod_revision("/registry/configmaps/default/first")
            .await;
        assert_eq!(
            revision,
            Some(first_rv),
            "resourceVersion is etcd's mod_revision"
        );
    }

    let second = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("second", "2")),
    )
    .await
    .expect(201);
    assert!(resource_version(&second) > first_rv, "{second}");
    assert_ne!(second["metadata"]["uid"], first["metadata"]["uid"]);

    let read = send(cluster, Method::GET, &format!("{CONFIGMAPS}/first"), None)
        .await
        .expect(200);
    assert_eq!(
        read["metadata"], first["metadata"],
        "GET returns what was created"
    );
    let list = send(cluster, Method::GET, CONFIGMAPS, None)
        .await
        .expect(200);
    assert!(
        resource_version(&list) >= resource_version(&second),
        "a list is read at or after the last acknowledged write: {list}"
    );

    // generateName: the prefix plus five random characters.
    let generated = json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "generateName": "gen-" }
    });
    let made = send(cluster, Method::POST, CONFIGMAPS, Some(generated.clone()))
        .await
        .expect(201);
    let name = made["metadata"]["name"].as_str().unwrap_or_default();
    assert!(name.starts_with("gen-") && name.len() == 9, "{made}");
    assert_eq!(made["metadata"]["generateName"], "gen-");
    let other = send(cluster, Method::POST, CONFIGMAPS, Some(generated))
        .await
        .expect(201);
    assert_ne!(other["metadata"]["name"], made["metadata"]["name"]);

    let duplicate = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("first", "x")),
    )
    .await;
    let status = duplicate.expect_failure(409, "AlreadyExists");
    assert_eq!(status["message"], "configmaps \"first\" already exists");
    assert_eq!(status["details"]["name"], "first");
    assert_eq!(status["details"]["kind"], "configmaps");
}
on_each_backend!(server_sets_identity_and_resource_versions);

async fn updates_are_optimistically_concurrent(cluster: &mut Cluster) {
    let path = format!("{CONFIGMAPS}/cm");
    let created = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("cm", "1")),
    )
    .await
    .expect(201);
    let stale_rv = created["metadata"]["resourceVersion"].clone();

    let mut update = created.clone();
    update["data"]["key"] = json!("2");
    let updated = send(cluster, Method::PUT, &path, Some(update.clone()))
        .await
        .expect(200);
    assert!(resource_version(&updated) > resource_version(&created));
    assert_eq!(updated["metadata"]["uid"], created["metadata"]["uid"]);
    assert_eq!(
        updated["metadata"]["creationTimestamp"],
        created["metadata"]["creationTimestamp"]
    );
    assert_eq!(updated["data"]["key"], "2");

    // The same body again carries a resourceVersion that is no longer current.
    update["data"]["key"] = json!("3");
    let conflict = send(cluster, Method::PUT, &path, Some(update)).await;
    let status = conflict.expect_failure(409, "Conflict");
    assert_eq!(
        status["message"],
        "Operation cannot be fulfilled on configmaps \"cm\": the object has been modified; \
         please apply your changes to the latest version and try again"
    );
    assert_eq!(status["details"]["name"], "cm");
    assert_eq!(status["details"]["kind"], "configmaps");
    let unchanged = send(cluster, Method::GET, &path, None).await.expect(200);
    assert_eq!(
        unchanged["data"]["key"], "2",
        "a conflicting write changes nothing"
    );
    assert_eq!(unchanged["metadata"], updated["metadata"]);

    // Without a resourceVersion a ConfigMap update is unconditional.
    let blind = send(cluster, Method::PUT, &path, Some(configmap("cm", "4")))
        .await
        .expect(200);
    assert_eq!(blind["data"]["key"], "4");
    assert!(resource_version(&blind) > resource_version(&updated));

    // A delete with a stale resourceVersion precondition is refused.
    let preconditions = json!({
        "kind": "DeleteOptions", "apiVersion": "v1",
        "preconditions": { "resourceVersion": stale_rv }
    });
    let refused = send(cluster, Method::DELETE, &path, Some(preconditions)).await;
    let status = refused.expect_failure(409, "Conflict");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("precondition")),
        "{status}"
    );
    send(cluster, Method::GET, &path, None).await.expect(200);

    let deleted = send(cluster, Method::DELETE, &path, None).await.expect(200);
    assert_eq!(deleted["kind"], "Status", "{deleted}");
    assert_eq!(deleted["status"], "Success", "{deleted}");
    assert_eq!(deleted["details"]["name"], "cm");
    assert_eq!(deleted["details"]["uid"], created["metadata"]["uid"]);
    let gone = send(cluster, Method::GET, &path, None).await;
    let status = gone.expect_failure(404, "NotFound");
    assert_eq!(status["message"], "configmaps \"cm\" not found");

    // The same name can be created again, as a new object.
    let again = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("cm", "5")),
    )
    .await
    .expect(201);
    assert_ne!(again["metadata"]["uid"], created["metadata"]["uid"]);
}
on_each_backend!(updates_are_optimistically_concurrent);

fn deployment(name: &str, replicas: u32) -> Value {
    json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": name },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "main", "image": "nginx" }] }
            }
        }
    })
}

async fn generation_follows_spec_and_status_has_its_own_endpoint(cluster: &mut Cluster) {
    let path = format!("{DEPLOYMENTS}/web");
    let status_path = format!("{path}/status");
    let created = send(
        cluster,
        Method::POST,
        DEPLOYMENTS,
        Some(deployment("web", 1)),
    )
    .await
    .expect(201);
    assert_eq!(created["metadata"]["generation"], 1, "{created}");

    let labelled = merge_patch(
        cluster,
        &path,
        json!({"metadata": {"labels": {"tier": "front"}}}),
    )
    .await
    .expect(200);
    assert_eq!(labelled["metadata"]["labels"]["tier"], "front");
    assert_eq!(
        labelled["metadata"]["generation"], 1,
        "metadata is not spec"
    );
    assert!(resource_version(&labelled) > resource_version(&created));

    let scaled = merge_patch(cluster, &path, json!({"spec": {"replicas": 3}}))
        .await
        .expect(200);
    assert_eq!(scaled["spec"]["replicas"], 3);
    assert_eq!(
        scaled["metadata"]["generation"], 2,
        "a spec change bumps it"
    );

    // PUT /status takes the status and ignores the spec it is sent with.
    let mut status_update = scaled.clone();
    status_update["spec"]["replicas"] = json!(9);
    status_update["status"] = json!({ "replicas": 3, "observedGeneration": 2 });
    let with_status = send(cluster, Method::PUT, &status_path, Some(status_update))
        .await
        .expect(200);
    assert_eq!(with_status["status"]["replicas"], 3, "{with_status}");
    assert_eq!(with_status["status"]["observedGeneration"], 2);
    assert_eq!(
        with_status["spec"]["replicas"], 3,
        "/status leaves spec alone"
    );
    assert_eq!(with_status["metadata"]["generation"], 2);

    let patched_status = merge_patch(
        cluster,
        &status_path,
        json!({"spec": {"replicas": 7}, "status": {"readyReplicas": 2}}),
    )
    .await
    .expect(200);
    assert_eq!(patched_status["status"]["readyReplicas"], 2);
    assert_eq!(patched_status["status"]["replicas"], 3);
    assert_eq!(patched_status["spec"]["replicas"], 3);
    assert_eq!(patched_status["metadata"]["generation"], 2);

    let read_status = send(cluster, Method::GET, &status_path, None)
        .await
        .expect(200);
    assert_eq!(read_status["kind"], "Deployment");
    assert_eq!(read_status["status"], patched_status["status"]);

    // The main endpoint takes the spec and ignores the status.
    let mut main_update = patched_status.clone();
    main_update["spec"]["replicas"] = json!(4);
    main_update["status"] = json!({ "replicas": 100, "readyReplicas": 100 });
    let replaced = send(cluster, Method::PUT, &path, Some(main_update))
        .await
        .expect(200);
    assert_eq!(replaced["spec"]["replicas"], 4);
    assert_eq!(replaced["status"], patched_status["status"], "{replaced}");
    assert_eq!(replaced["metadata"]["generation"], 3);

    let status_only = merge_patch(cluster, &path, json!({"status": {"readyReplicas": 50}}))
        .await
        .expect(200);
    assert_eq!(status_only["status"], patched_status["status"]);
    assert_eq!(status_only["metadata"]["generation"], 3);

    // /status is optimistically concurrent too.
    let mut stale = scaled.clone();
    stale["status"] = json!({ "replicas": 1 });
    let conflict = send(cluster, Method::PUT, &status_path, Some(stale)).await;
    conflict.expect_failure(409, "Conflict");
}
on_each_backend!(generation_follows_spec_and_status_has_its_own_endpoint);

async fn finalizers_hold_a_deleted_object_until_the_last_is_removed(cluster: &mut Cluster) {
    let path = format!("{CONFIGMAPS}/held");
    let mut body = configmap("held", "1");
    body["metadata"]["finalizers"] = json!(["example.com/one", "example.com/two"]);
    let created = send(cluster, Method::POST, CONFIGMAPS, Some(body))
        .await
        .expect(201);
    assert!(created["metadata"]["deletionTimestamp"].is_null());
    let mut watch = cluster
        .stream(RawRequest::get(&format!(
            "{CONFIGMAPS}?watch=1&fieldSelector=metadata.name%3Dheld&resourceVersion={}",
            resource_version(&created)
        )))
        .await;

    // Upstream answers 200 with the object, now marked for deletion.
    let marked = send(cluster, Method::DELETE, &path, None).await.expect(200);
    assert_eq!(marked["kind"], "ConfigMap", "{marked}");
    let deleted_at = marked["metadata"]["deletionTimestamp"]
        .as_str()
        .unwrap_or_default();
    assert!(is_rfc3339_seconds(deleted_at), "{marked}");
    assert_eq!(marked["metadata"]["deletionGracePeriodSeconds"], 0);
    assert!(resource_version(&marked) > resource_version(&created));

    let still_there = send(cluster, Method::GET, &path, None).await.expect(200);
    assert_eq!(still_there["metadata"]["deletionTimestamp"], deleted_at);
    assert_eq!(
        still_there["metadata"]["finalizers"],
        json!(["example.com/one", "example.com/two"])
    );

    // Deleting again changes nothing.
    let again = send(cluster, Method::DELETE, &path, None).await.expect(200);
    assert_eq!(again["metadata"]["deletionTimestamp"], deleted_at);

    let mut grow = still_there.clone();
    grow["metadata"]["finalizers"] =
        json!(["example.com/one", "example.com/two", "example.com/three"]);
    let refused = send(cluster, Method::PUT, &path, Some(grow)).await;
    let status = refused.expect_failure(422, "Invalid");
    assert!(
        status["message"].as_str().is_some_and(
            |m| m.contains("no new finalizers can be added if the object is being deleted")
        ),
        "{status}"
    );

    let mut shrink = still_there.clone();
    shrink["metadata"]["finalizers"] = json!(["example.com/two"]);
    let one_left = send(cluster, Method::PUT, &path, Some(shrink))
        .await
        .expect(200);
    assert_eq!(
        one_left["metadata"]["finalizers"],
        json!(["example.com/two"])
    );
    send(cluster, Method::GET, &path, None).await.expect(200);

    let last = merge_patch(cluster, &path, json!({"metadata": {"finalizers": null}})).await;
    assert_eq!(last.status, 200, "{:?}", last.body);
    send(cluster, Method::GET, &path, None)
        .await
        .expect_failure(404, "NotFound");
    if let Some(etcd) = &cluster.etcd {
        assert_eq!(
            etcd.mod_revision("/registry/configmaps/default/held").await,
            None
        );
    }

    // Watchers saw the marking, the first release, and the deletion; the
    // repeated DELETE and the refused update wrote nothing.
    let mut events = Vec::new();
    while let StreamItem::Json(event) = watch.next_json(Duration::from_millis(500)).await {
        events.push(event);
    }
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["MODIFIED", "MODIFIED", "DELETED"], "{events:?}");
    assert_eq!(
        events[0]["object"]["metadata"]["deletionTimestamp"],
        deleted_at
    );
    assert_eq!(
        events[2]["object"]["metadata"]["finalizers"],
        json!(["example.com/two"]),
        "the DELETED event shows the last stored state"
    );
}
on_each_backend!(finalizers_hold_a_deleted_object_until_the_last_is_removed);

async fn malformed_writes_are_refused_as_upstream_does(cluster: &mut Cluster) {
    let path = format!("{CONFIGMAPS}/cm");
    let created = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("cm", "1")),
    )
    .await
    .expect(201);

    let missing = send(
        cluster,
        Method::PUT,
        &format!("{CONFIGMAPS}/absent"),
        Some(configmap("absent", "1")),
    )
    .await;
    let status = missing.expect_failure(404, "NotFound");
    assert_eq!(status["message"], "configmaps \"absent\" not found");
    merge_patch(
        cluster,
        &format!("{CONFIGMAPS}/absent"),
        json!({"data": {}}),
    )
    .await
    .expect_failure(404, "NotFound");

    let renamed = send(cluster, Method::PUT, &path, Some(configmap("other", "1"))).await;
    let status = renamed.expect_failure(400, "BadRequest");
    assert_eq!(
        status["message"],
        "the name of the object (other) does not match the name on the URL (cm)"
    );

    let mut elsewhere = configmap("moved", "1");
    elsewhere["metadata"]["namespace"] = json!("kube-system");
    let moved = send(cluster, Method::POST, CONFIGMAPS, Some(elsewhere)).await;
    moved.expect_failure(400, "BadRequest");

    let nameless = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}});
    let status = send(cluster, Method::POST, CONFIGMAPS, Some(nameless))
        .await
        .expect_failure(422, "Invalid");
    assert_eq!(
        status["details"]["causes"][0]["field"], "metadata.name",
        "{status}"
    );

    let status = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("Bad_Name", "1")),
    )
    .await
    .expect_failure(422, "Invalid");
    assert_eq!(status["details"]["name"], "Bad_Name", "{status}");
    assert_eq!(status["details"]["kind"], "ConfigMap", "{status}");
    assert_eq!(
        status["details"]["causes"][0]["field"], "metadata.name",
        "{status}"
    );
    assert!(
        status["message"].as_str().is_some_and(|m| m.starts_with(
            "ConfigMap \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""
        )),
        "{status}"
    );

    // Server-owned metadata in an update body is ignored.
    let mut rewrite = created.clone();
    rewrite["metadata"]["creationTimestamp"] = json!("2001-01-01T00:00:00Z");
    let kept = send(cluster, Method::PUT, &path, Some(rewrite))
        .await
        .expect(200);
    assert_eq!(
        kept["metadata"]["creationTimestamp"],
        created["metadata"]["creationTimestamp"]
    );
    let unchanged = send(cluster, Method::GET, &path, None).await.expect(200);
    assert_eq!(unchanged["data"], created["data"]);
}
on_each_backend!(malformed_writes_are_refused_as_upstream_does);

/// Upstream takes a uid in an update body as a precondition.
async fn an_update_for_another_uid_is_a_conflict(cluster: &mut Cluster) {
    let path = format!("{CONFIGMAPS}/cm");
    let created = send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap("cm", "1")),
    )
    .await
    .expect(201);
    let mut other_uid = created.clone();
    other_uid["metadata"]["uid"] = json!("00000000-0000-0000-0000-000000000000");
    other_uid["data"]["key"] = json!("2");
    let status = send(cluster, Method::PUT, &path, Some(other_uid))
        .await
        .expect_failure(409, "Conflict");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("Precondition failed: UID in precondition")),
        "{status}"
    );
    let unchanged = send(cluster, Method::GET, &path, None).await.expect(200);
    assert_eq!(unchanged["data"]["key"], "1");
}
on_each_backend!(an_update_for_another_uid_is_a_conflict);

/// Upstream's registry bumps `metadata.generation` when it marks an object
/// that has one for deletion (markAsDeleting), so controllers see a new
/// generation to observe.
async fn marking_for_deletion_bumps_the_generation(cluster: &mut Cluster) {
    let mut body = deployment("held", 1);
    body["metadata"]["finalizers"] = json!(["example.com/hold"]);
    let created = send(cluster, Method::POST, DEPLOYMENTS, Some(body))
        .await
        .expect(201);
    assert_eq!(created["metadata"]["generation"], 1);
    let path = format!("{DEPLOYMENTS}/held");
    let marked = send(cluster, Method::DELETE, &path, None).await.expect(200);
    assert!(
        marked["metadata"]["deletionTimestamp"].is_string(),
        "{marked}"
    );
    assert_eq!(marked["metadata"]["generation"], 2, "{marked}");
    let again = send(cluster, Method::DELETE, &path, None).await.expect(200);
    assert_eq!(
        again["metadata"]["generation"], 2,
        "only the first marking bumps it"
    );
}
on_each_backend!(marking_for_deletion_bumps_the_generation);
