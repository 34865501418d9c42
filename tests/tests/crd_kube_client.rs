//! kube-rs, unchanged, against custom resources on both backends: a
//! `#[derive(CustomResource)]` type installs its own CRD (`Kind::crd()`),
//! waits for it with kube-runtime's `conditions::is_crd_established`, and
//! round-trips through create, get, list with selectors, the runtime
//! watcher, and the status subresource.

use std::collections::BTreeMap;
use std::time::Duration;

use blackbox_tests::{on_each_backend, Cluster};
use futures::{Stream, StreamExt};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DeleteParams, ListParams, ObjectMeta, Patch, PatchParams, PostParams};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::watcher;
use kube::{CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(15);

/// What an operator author writes: the spec, and the status it reports.
#[derive(CustomResource, Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[kube(
    group = "kube.example.com",
    version = "v1",
    kind = "Backup",
    namespaced,
    status = "BackupStatus",
    shortname = "bk",
    category = "example",
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".spec.schedule"}"#,
    selectable = ".spec.target",
    derive = "PartialEq"
)]
#[serde(rename_all = "camelCase")]
pub struct BackupSpec {
    /// When to run, in cron format.
    pub schedule: String,
    /// What to back up.
    pub target: String,
    /// How many copies to keep.
    pub keep: Option<i32>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BackupStatus {
    pub last_run: Option<String>,
    pub succeeded: Option<i32>,
}

fn backup(name: &str, target: &str) -> Backup {
    let mut backup = Backup::new(
        name,
        BackupSpec {
            schedule: "0 2 * * *".to_string(),
            target: target.to_string(),
            keep: Some(3),
        },
    );
    backup.metadata = ObjectMeta {
        name: Some(name.to_string()),
        labels: Some(BTreeMap::from([(
            "suite".to_string(),
            "kube-rs".to_string(),
        )])),
        ..ObjectMeta::default()
    };
    backup
}

async fn install_crd(client: kube::Client) {
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let crd = Backup::crd();
    let name = crd.metadata.name.clone().unwrap_or_default();
    assert_eq!(name, "backups.kube.example.com");
    crds.create(&PostParams::default(), &crd)
        .await
        .expect("the derived CRD is accepted");
    let established = tokio::time::timeout(
        WAIT,
        await_condition(crds.clone(), &name, conditions::is_crd_established()),
    )
    .await
    .expect("the CRD is established in time")
    .expect("await_condition works");
    let established = established.expect("the CRD exists");
    let status = established.status.expect("the CRD has a status");
    let accepted = status.accepted_names.expect("acceptedNames");
    assert_eq!(accepted.kind, "Backup");
    assert_eq!(accepted.plural, "backups");
    assert_eq!(accepted.short_names, Some(vec!["bk".to_string()]));
    assert_eq!(status.stored_versions, Some(vec!["v1".to_string()]));
}

async fn derived_resources_round_trip(cluster: &mut Cluster) {
    let client = cluster.client().await;
    install_crd(client.clone()).await;
    let api: Api<Backup> = Api::namespaced(client, "default");

    let created = api
        .create(&PostParams::default(), &backup("nightly", "db"))
        .await
        .expect("create");
    assert_eq!(created.spec, backup("nightly", "db").spec);
    assert!(created.metadata.uid.is_some());
    assert!(created.metadata.resource_version.is_some());
    assert_eq!(created.metadata.generation, Some(1));
    assert_eq!(created.status, None);

    let read = api.get("nightly").await.expect("get");
    assert_eq!(read.spec, created.spec);
    assert_eq!(read.uid(), created.uid());
    assert!(api.get_opt("absent").await.expect("get_opt").is_none());

    api.create(&PostParams::default(), &backup("weekly", "files"))
        .await
        .expect("create another");
    let listed = api
        .list(&ListParams::default().labels("suite=kube-rs"))
        .await
        .expect("list by label");
    let names: Vec<String> = listed.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["nightly", "weekly"]);
    let by_field = api
        .list(&ListParams::default().fields("spec.target=files"))
        .await
        .expect("list by the selectable field");
    let names: Vec<String> = by_field.iter().map(ResourceExt::name_any).collect();
    assert_eq!(names, ["weekly"]);

    // Status through the subresource; spec sent along is ignored.
    let patch = json!({
        "spec": {"keep": 99},
        "status": {"lastRun": "2026-01-02T02:00:00Z", "succeeded": 1}
    });
    let patched = api
        .patch_status("nightly", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch_status");
    assert_eq!(
        patched.status,
        Some(BackupStatus {
            last_run: Some("2026-01-02T02:00:00Z".to_string()),
            succeeded: Some(1),
        })
    );
    assert_eq!(patched.spec.keep, Some(3), "patch_status leaves spec alone");
    assert_eq!(patched.metadata.generation, Some(1));
    let read = api.get_status("nightly").await.expect("get_status");
    assert_eq!(read.status, patched.status);

    let mut replace = read.clone();
    if let Some(status) = replace.status.as_mut() {
        status.succeeded = Some(2);
    }
    let replaced = api
        .replace_status("nightly", &PostParams::default(), &replace)
        .await
        .expect("replace_status");
    assert_eq!(replaced.status.and_then(|s| s.succeeded), Some(2));

    // A spec change through the main endpoint bumps the generation.
    let patch = json!({"spec": {"keep": 5}});
    let patched = api
        .patch("nightly", &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("patch");
    assert_eq!(patched.spec.keep, Some(5));
    assert_eq!(patched.metadata.generation, Some(2));

    // Server-side apply with a typed object.
    let mut applied = backup("monthly", "logs");
    applied.metadata.labels = None;
    let applied = api
        .patch(
            "monthly",
            &PatchParams::apply("crd-kube-client"),
            &Patch::Apply(&applied),
        )
        .await
        .expect("server-side apply");
    assert_eq!(applied.spec.target, "logs");
    assert!(
        applied
            .metadata
            .managed_fields
            .as_ref()
            .is_some_and(|fields| fields
                .iter()
                .any(|f| f.manager.as_deref() == Some("crd-kube-client"))),
        "{:?}",
        applied.metadata.managed_fields
    );

    api.delete("monthly", &DeleteParams::default())
        .await
        .expect("delete");
    assert!(api.get_opt("monthly").await.expect("get_opt").is_none());
    assert_eq!(
        Backup::api_version(&()),
        "kube.example.com/v1",
        "the derived type's apiVersion"
    );
}
on_each_backend!(derived_resources_round_trip);

/// The next event that is not part of a (re)initialisation.
async fn next_change<S>(events: &mut S) -> watcher::Event<Backup>
where
    S: Stream<Item = Result<watcher::Event<Backup>, watcher::Error>> + Unpin,
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

async fn wait_init_done<S>(events: &mut S)
where
    S: Stream<Item = Result<watcher::Event<Backup>, watcher::Error>> + Unpin,
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

async fn watcher_sees_typed_custom_resources(cluster: &mut Cluster) {
    let client = cluster.client().await;
    install_crd(client.clone()).await;
    let api: Api<Backup> = Api::namespaced(client, "default");
    api.create(&PostParams::default(), &backup("before", "db"))
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

        api.create(&PostParams::default(), &backup(&name, "db"))
            .await
            .expect("create");
        match next_change(&mut events).await {
            watcher::Event::Apply(b) => {
                assert_eq!(b.name_any(), name, "{mode}");
                assert_eq!(b.spec.target, "db", "{mode}");
            }
            other => panic!("{mode}: expected the add, got {other:?}"),
        }

        let patch = json!({"status": {"succeeded": 7}});
        api.patch_status(&name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .expect("patch_status");
        match next_change(&mut events).await {
            watcher::Event::Apply(b) => {
                assert_eq!(b.name_any(), name, "{mode}");
                assert_eq!(b.status.and_then(|s| s.succeeded), Some(7), "{mode}");
            }
            other => panic!("{mode}: expected the status change, got {other:?}"),
        }

        api.delete(&name, &DeleteParams::default())
            .await
            .expect("delete");
        match next_change(&mut events).await {
            watcher::Event::Delete(b) => assert_eq!(b.name_any(), name, "{mode}"),
            other => panic!("{mode}: expected the deletion, got {other:?}"),
        }
    }
}
on_each_backend!(watcher_sees_typed_custom_resources);
