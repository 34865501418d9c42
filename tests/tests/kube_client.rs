//! kube-rs, unchanged, against the server on both backends: typed CRUD on
//! ConfigMaps, the runtime watcher in both its list-then-watch and
//! streaming-list modes, and the status subresource of a Deployment.

use std::collections::BTreeMap;
use std::time::Duration;

use blackbox_tests::{on_each_backend, Cluster};
use futures::{Stream, StreamExt};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::watcher;
use serde_json::json;

const WAIT: Duration = Duration::from_secs(10);

fn configmap(name: &str, value: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([(
                "suite".to_string(),
                "kube-rs".to_string(),
            )])),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("key".to_string(), value.to_string())])),
        ..ConfigMap::default()
    }
}

fn value(configmap: &ConfigMap) -> Option<&str> {
    configmap.data.as_ref()?.get("key").map(String::as_str)
}

async fn configmap_crud(cluster: &mut Cluster) {
    let client = cluster.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");

    let created = api
        .create(&PostParams::default(), &configmap("crud", "1"))
        .await
        .expect("create");
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.resource_version.is_some());
    assert!(created.metadata.creation_timestamp.is_some());

    let read = api.get("crud").await.expect("get");
    assert_eq!(read.metadata.uid, created.metadata.uid);
    assert_eq!(value(&read), Some("1"));
    assert!(api.get_opt("absent").await.expect("get_opt").is_none());

    api.create(&PostParams::default(), &configmap("other", "x"))
        .await
        .expect("create another");
    let listed = api
        .list(&ListParams::default().labels("suite=kube-rs"))
        .await
        .expect("list");
    let names: Vec<_> = listed.iter().map(|cm| cm.metadata.name.clone()).collect();
    assert_eq!(names, [Some("crud".to_string()), Some("other".to_string())]);
    assert!(listed.metadata.resource_version.is_some());

    let mut changed = read.clone();
    changed.data = Some(BTreeMap::from([("key".to_string(), "2".to_string())]));
    let replaced = api
        .replace("crud", &PostParams::default(), &changed)
        .await
        .expect("replace");
    assert_eq!(value(&replaced), Some("2"));
    assert_ne!(
        replaced.metadata.resource_version,
        read.metadata.resource_version
    );

    // Replacing from the old read again is a conflict.
    match api.replace("crud", &PostParams::default(), &changed).await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 409, "{status:?}");
            assert_eq!(status.reason, "Conflict");
        }
        other => panic!("expected a 409 Conflict, got {other:?}"),
    }

    let patch = json!({ "data": { "added": "yes" } });
    let patched = api
        .patch("crud", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("merge patch");
    let data = patched.data.clone().unwrap_or_default();
    assert_eq!(data.get("key").map(String::as_str), Some("2"));
    assert_eq!(data.get("added").map(String::as_str), Some("yes"));

    let deleted = api
        .delete("crud", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(deleted.is_right(), "a ConfigMap delete answers a Status");
    match api.get("crud").await {
        Err(kube::Error::Api(status)) => {
            assert_eq!(status.code, 404, "{status:?}");
            assert_eq!(status.reason, "NotFound");
        }
        other => panic!("expected 404 after delete, got {other:?}"),
    }
}
on_each_backend!(configmap_crud);

/// The next event that is not part of a (re)initialisation.
async fn next_change<S>(events: &mut S) -> watcher::Event<ConfigMap>
where
    S: Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    loop {
        let event = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("a watcher event in time")
            .expect("the watcher stream goes on")
            .expect("no watcher error");
        match event {
            watcher::Event::Apply(_) | watcher::Event::Delete(_) => return event,
            _ => continue,
        }
    }
}

/// Waits until the watcher has finished its initial list (`InitDone`).
async fn wait_init_done<S>(events: &mut S)
where
    S: Stream<Item = Result<watcher::Event<ConfigMap>, watcher::Error>> + Unpin,
{
    loop {
        let event = tokio::time::timeout(WAIT, events.next())
            .await
            .expect("InitDone in time")
            .expect("the watcher stream goes on")
            .expect("no watcher error");
        if matches!(event, watcher::Event::InitDone) {
            return;
        }
    }
}

async fn watcher_sees_add_modify_delete(cluster: &mut Cluster) {
    let client = cluster.client().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &configmap("before", "0"))
        .await
        .expect("create before");

    for (mode, config) in [
        ("list-watch", watcher::Config::default()),
        (
            "streaming-list",
            watcher::Config::default().streaming_lists(),
        ),
    ] {
        let name = format!("watched-{mode}");
        let mut events = watcher(api.clone(), config).boxed();
        wait_init_done(&mut events).await;

        api.create(&PostParams::default(), &configmap(&name, "1"))
            .await
            .expect("create");
        match next_change(&mut events).await {
            watcher::Event::Apply(cm) => {
                assert_eq!(cm.metadata.name.as_deref(), Some(name.as_str()), "{mode}");
                assert_eq!(value(&cm), Some("1"), "{mode}");
            }
            other => panic!("{mode}: expected the add, got {other:?}"),
        }

        let patch = json!({ "data": { "key": "2" } });
        api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch");
        match next_change(&mut events).await {
            watcher::Event::Apply(cm) => {
                assert_eq!(cm.metadata.name.as_deref(), Some(name.as_str()), "{mode}");
                assert_eq!(value(&cm), Some("2"), "{mode}");
            }
            other => panic!("{mode}: expected the modification, got {other:?}"),
        }

        api.delete(&name, &DeleteParams::default())
            .await
            .expect("delete");
        match next_change(&mut events).await {
            watcher::Event::Delete(cm) => {
                assert_eq!(cm.metadata.name.as_deref(), Some(name.as_str()), "{mode}");
            }
            other => panic!("{mode}: expected the deletion, got {other:?}"),
        }
    }
}
on_each_backend!(watcher_sees_add_modify_delete);

async fn deployment_status_through_patch_status(cluster: &mut Cluster) {
    let client = cluster.client().await;
    let api: Api<Deployment> = Api::namespaced(client, "default");
    let deployment: Deployment = serde_json::from_value(json!({
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": { "name": "app" },
        "spec": {
            "replicas": 2,
            "selector": { "matchLabels": { "app": "app" } },
            "template": {
                "metadata": { "labels": { "app": "app" } },
                "spec": { "containers": [{ "name": "main", "image": "nginx" }] }
            }
        }
    }))
    .expect("a valid Deployment");
    let created = api
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create");
    assert_eq!(created.metadata.generation, Some(1));

    let patch = json!({
        "spec": { "replicas": 5 },
        "status": { "replicas": 2, "readyReplicas": 1, "observedGeneration": 1 }
    });
    let patched = api
        .patch_status("app", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch_status");
    let status = patched.status.clone().unwrap_or_default();
    assert_eq!(status.replicas, Some(2));
    assert_eq!(status.ready_replicas, Some(1));
    assert_eq!(status.observed_generation, Some(1));
    assert_eq!(
        patched.spec.replicas,
        Some(2),
        "patch_status leaves spec alone"
    );
    assert_eq!(patched.metadata.generation, Some(1));

    let read = api.get_status("app").await.expect("get_status");
    assert_eq!(read.status, patched.status);

    // The main endpoint ignores status.
    let main_patch = json!({ "status": { "readyReplicas": 9 } });
    let ignored = api
        .patch("app", &PatchParams::default(), &Patch::Merge(&main_patch))
        .await
        .expect("patch");
    assert_eq!(ignored.status, patched.status);

    let mut replace = read.clone();
    if let Some(status) = replace.status.as_mut() {
        status.available_replicas = Some(1);
    }
    let replaced = api
        .replace_status("app", &PostParams::default(), &replace)
        .await
        .expect("replace_status");
    let status = replaced.status.unwrap_or_default();
    assert_eq!(status.available_replicas, Some(1));
    assert_eq!(status.replicas, Some(2));
}
on_each_backend!(deployment_status_through_patch_status);
