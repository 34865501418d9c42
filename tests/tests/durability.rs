//! No acknowledged write is lost when the server dies: concurrent writers
//! create ConfigMaps over HTTPS, the server is SIGKILLed in the middle and
//! started again on the same data, and every create that was answered 201
//! is there, with revisions still increasing. Run on both backends: on the
//! embedded store this is the store's crash safety, on etcd it shows that
//! nothing is acknowledged before etcd has it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use blackbox_tests::{on_each_backend, Cluster};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, ListParams, ObjectMeta, PostParams};

const WRITERS: usize = 8;
/// Acknowledged creates to wait for before the kill, so it lands mid-stream.
const BEFORE_KILL: usize = 150;
const ROUNDS: usize = 2;

/// An acknowledged create: name and the revision it was given.
type Acknowledged = Arc<Mutex<Vec<(String, u64)>>>;

fn configmap(name: &str) -> ConfigMap {
    ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("writer".to_string(), name.to_string())])),
        ..ConfigMap::default()
    }
}

/// Creates ConfigMaps `r{round}-w{writer}-{n}` one after another until a
/// create fails (the server is gone), recording each acknowledged one.
async fn write_until_failure(
    api: Api<ConfigMap>,
    round: usize,
    writer: usize,
    acked: Acknowledged,
) {
    for n in 0.. {
        let name = format!("r{round}-w{writer}-{n}");
        match api.create(&PostParams::default(), &configmap(&name)).await {
            Ok(created) => {
                let revision = created
                    .metadata
                    .resource_version
                    .and_then(|rv| rv.parse().ok())
                    .expect("a created object has a numeric resourceVersion");
                acked
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push((name, revision));
            }
            Err(_) => return,
        }
    }
}

fn count(acked: &Acknowledged) -> usize {
    acked.lock().unwrap_or_else(|p| p.into_inner()).len()
}

async fn acknowledged_creates_survive_sigkill(cluster: &mut Cluster) {
    let acked: Acknowledged = Arc::default();
    for round in 0..ROUNDS {
        let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
        let already = count(&acked);
        let writers: Vec<_> = (0..WRITERS)
            .map(|writer| {
                tokio::spawn(write_until_failure(
                    api.clone(),
                    round,
                    writer,
                    acked.clone(),
                ))
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(60);
        while count(&acked) < already + BEFORE_KILL {
            assert!(
                Instant::now() < deadline,
                "only {} creates acknowledged in round {round}\n{}",
                count(&acked) - already,
                cluster.log()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        cluster.server.kill_hard();
        for writer in writers {
            writer
                .await
                .expect("a writer task ends when its create fails");
        }
        cluster.server.restart().await;
    }

    let api: Api<ConfigMap> = Api::namespaced(cluster.client().await, "default");
    let stored: BTreeMap<String, ConfigMap> = api
        .list(&ListParams::default())
        .await
        .expect("list after restart")
        .items
        .into_iter()
        .filter_map(|cm| Some((cm.metadata.name.clone()?, cm)))
        .collect();
    let acked = acked.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let lost: Vec<&String> = acked
        .iter()
        .map(|(name, _)| name)
        .filter(|name| !stored.contains_key(*name))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged creates are gone: {lost:?}",
        lost.len(),
        acked.len()
    );
    for (name, revision) in &acked {
        let cm = &stored[name];
        assert_eq!(
            cm.data.as_ref().and_then(|d| d.get("writer")),
            Some(name),
            "{name} kept its data"
        );
        assert_eq!(
            cm.metadata.resource_version.as_deref(),
            Some(revision.to_string().as_str()),
            "{name} kept the revision it was acknowledged with"
        );
    }

    // Revisions go on increasing after the crashes.
    let highest = acked
        .iter()
        .map(|(_, revision)| *revision)
        .max()
        .unwrap_or(0);
    let after = api
        .create(&PostParams::default(), &configmap("after-the-crashes"))
        .await
        .expect("a create after restart");
    let after_revision: u64 = after
        .metadata
        .resource_version
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0);
    assert!(after_revision > highest, "{after_revision} <= {highest}");
}
on_each_backend!(acknowledged_creates_survive_sigkill);
