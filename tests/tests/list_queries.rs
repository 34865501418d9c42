//! List query parameters as upstream serves them, on both backends: label
//! and field selectors, limit/continue pages pinned to one revision,
//! resourceVersion with resourceVersionMatch, and continue tokens that
//! compaction has made too old.

use std::time::Instant;

use blackbox_tests::{on_each_backend, Backend, Cluster, RawRequest, RawResponse};
use http::Method;
use serde_json::{json, Value};

const NAMESPACE: &str = "queries";
const CONFIGMAPS: &str = "/api/v1/namespaces/queries/configmaps";

async fn send(cluster: &Cluster, method: Method, path: &str, body: Option<Value>) -> RawResponse {
    let request = RawRequest::new(method, path);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    cluster.call(request).await
}

async fn list(cluster: &Cluster, query: &str) -> Value {
    send(cluster, Method::GET, &format!("{CONFIGMAPS}?{query}"), None)
        .await
        .expect(200)
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {list}"))
        .iter()
        .map(|item| {
            item["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

fn resource_version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_else(|| panic!("resourceVersion is not a decimal revision: {object}"))
}

fn continue_token(list: &Value) -> String {
    list["metadata"]["continue"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Ten ConfigMaps `cm-0` .. `cm-9`: `app=a` on even ones, `app=b` on odd
/// ones, `tier=x` on the first five.
async fn fill(cluster: &Cluster) {
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}});
    send(cluster, Method::POST, "/api/v1/namespaces", Some(namespace))
        .await
        .expect(201);
    for i in 0..10 {
        let mut labels = json!({ "app": if i % 2 == 0 { "a" } else { "b" } });
        if i < 5 {
            labels["tier"] = json!("x");
        }
        let body = json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": { "name": format!("cm-{i}"), "labels": labels }
        });
        send(cluster, Method::POST, CONFIGMAPS, Some(body))
            .await
            .expect(201);
    }
}

fn expected(indices: &[usize]) -> Vec<String> {
    indices.iter().map(|i| format!("cm-{i}")).collect()
}

async fn selectors_filter_lists(cluster: &mut Cluster) {
    fill(cluster).await;
    let cases: [(&str, &[usize]); 8] = [
        ("labelSelector=app%3Da", &[0, 2, 4, 6, 8]),
        ("labelSelector=app%3D%3Db", &[1, 3, 5, 7, 9]),
        ("labelSelector=app!%3Da", &[1, 3, 5, 7, 9]),
        ("labelSelector=tier", &[0, 1, 2, 3, 4]),
        ("labelSelector=!tier", &[5, 6, 7, 8, 9]),
        ("labelSelector=app%20in%20(a),tier", &[0, 2, 4]),
        ("labelSelector=app%20notin%20(a),!tier", &[5, 7, 9]),
        ("fieldSelector=metadata.name%3Dcm-3", &[3]),
    ];
    for (query, indices) in cases {
        assert_eq!(
            names(&list(cluster, query).await),
            expected(indices),
            "{query}"
        );
    }
    let not_three = names(&list(cluster, "fieldSelector=metadata.name!%3Dcm-3").await);
    assert_eq!(not_three, expected(&[0, 1, 2, 4, 5, 6, 7, 8, 9]));
    let both = list(
        cluster,
        "labelSelector=app%3Db&fieldSelector=metadata.name!%3Dcm-1",
    )
    .await;
    assert_eq!(names(&both), expected(&[3, 5, 7, 9]));

    let everywhere = send(
        cluster,
        Method::GET,
        "/api/v1/configmaps?fieldSelector=metadata.namespace%3Dqueries",
        None,
    )
    .await
    .expect(200);
    assert_eq!(names(&everywhere).len(), 10, "{everywhere}");
    assert_eq!(everywhere["kind"], "ConfigMapList");

    let unknown = send(
        cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?fieldSelector=data.key%3Dv"),
        None,
    )
    .await;
    unknown.expect_failure(400, "BadRequest");
    let malformed = send(
        cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?labelSelector=app%20in%20a"),
        None,
    )
    .await;
    malformed.expect_failure(400, "BadRequest");
}
on_each_backend!(selectors_filter_lists);

async fn pages_are_pinned_to_the_first_pages_revision(cluster: &mut Cluster) {
    fill(cluster).await;
    let first = list(cluster, "limit=4").await;
    assert_eq!(names(&first), expected(&[0, 1, 2, 3]));
    assert_eq!(first["metadata"]["remainingItemCount"], 6, "{first}");
    let token = continue_token(&first);
    assert!(
        !token.is_empty(),
        "a partial list has a continue token: {first}"
    );
    let pinned = resource_version(&first);

    // Writes after the first page: a new last name, a deletion, an update.
    let late = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm-9z"}});
    send(cluster, Method::POST, CONFIGMAPS, Some(late))
        .await
        .expect(201);
    send(cluster, Method::DELETE, &format!("{CONFIGMAPS}/cm-5"), None)
        .await
        .expect(200);
    let relabel = json!({"metadata": {"labels": {"late": "yes"}}});
    let request = RawRequest::new(Method::PATCH, &format!("{CONFIGMAPS}/cm-6")).body_with_type(
        relabel.to_string().into_bytes(),
        "application/merge-patch+json",
    );
    cluster.call(request).await.expect(200);

    let second = list(cluster, &format!("limit=4&continue={token}")).await;
    assert_eq!(
        names(&second),
        expected(&[4, 5, 6, 7]),
        "the deleted cm-5 is still there"
    );
    assert_eq!(resource_version(&second), pinned, "{second}");
    assert!(second["items"][2]["metadata"]["labels"]["late"].is_null());
    let third = list(
        cluster,
        &format!("limit=4&continue={}", continue_token(&second)),
    )
    .await;
    assert_eq!(names(&third), expected(&[8, 9]), "cm-9z came later");
    assert_eq!(resource_version(&third), pinned);
    assert_eq!(continue_token(&third), "", "the last page ends the list");
    assert!(third["metadata"]["remainingItemCount"].is_null(), "{third}");

    let now = list(cluster, "").await;
    let mut now_names = expected(&[0, 1, 2, 3, 4, 6, 7, 8, 9]);
    now_names.push("cm-9z".into());
    assert_eq!(names(&now), now_names);
    assert!(resource_version(&now) > pinned);

    // A filtered page holds only matches and still pages on.
    let filtered = list(cluster, "labelSelector=app%3Da&limit=2").await;
    assert_eq!(names(&filtered), expected(&[0, 2]));
    let rest = list(
        cluster,
        &format!(
            "labelSelector=app%3Da&limit=10&continue={}",
            continue_token(&filtered)
        ),
    )
    .await;
    assert_eq!(names(&rest), expected(&[4, 6, 8]));

    let garbage = send(
        cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?continue=notatoken"),
        None,
    )
    .await;
    garbage.expect_failure(400, "BadRequest");
}
on_each_backend!(pages_are_pinned_to_the_first_pages_revision);

async fn every_partial_page_counts_the_remaining_items(cluster: &mut Cluster) {
    fill(cluster).await;
    let first = list(cluster, "limit=4").await;
    assert_eq!(first["metadata"]["remainingItemCount"], 6, "{first}");
    let second = list(
        cluster,
        &format!("limit=4&continue={}", continue_token(&first)),
    )
    .await;
    assert_eq!(names(&second), expected(&[4, 5, 6, 7]));
    assert_eq!(second["metadata"]["remainingItemCount"], 2, "{second}");
}
on_each_backend!(every_partial_page_counts_the_remaining_items);

async fn resource_version_match_chooses_the_revision(cluster: &mut Cluster) {
    fill(cluster).await;
    let before = list(cluster, "").await;
    let then = resource_version(&before);
    send(cluster, Method::DELETE, &format!("{CONFIGMAPS}/cm-0"), None)
        .await
        .expect(200);
    let late = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}});
    send(cluster, Method::POST, CONFIGMAPS, Some(late))
        .await
        .expect(201);

    let exact = list(
        cluster,
        &format!("resourceVersion={then}&resourceVersionMatch=Exact"),
    )
    .await;
    assert_eq!(resource_version(&exact), then);
    assert_eq!(
        names(&exact),
        names(&before),
        "Exact shows the list as it was"
    );

    let newer = list(
        cluster,
        &format!("resourceVersion={then}&resourceVersionMatch=NotOlderThan"),
    )
    .await;
    assert!(resource_version(&newer) >= then, "{newer}");
    let any = list(cluster, "resourceVersion=0").await;
    assert!(resource_version(&any) > 0, "{any}");
    let latest = list(cluster, "").await;
    assert!(names(&latest).contains(&"late".to_string()));
    assert!(!names(&latest).contains(&"cm-0".to_string()));

    // A revision the server has not reached: it waits a few seconds for
    // it, then answers 504 with a retry hint, as upstream.
    let future = resource_version(&latest) + 1_000;
    let started = Instant::now();
    let too_large = send(
        cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?resourceVersion={future}&resourceVersionMatch=NotOlderThan"),
        None,
    )
    .await;
    let status = too_large.expect_failure(504, "Timeout");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.contains("Too large resource version")),
        "{status}"
    );
    assert!(started.elapsed().as_secs() < 30);
}
on_each_backend!(resource_version_match_chooses_the_revision);

/// Upstream validates ListOptions into a 422 `Invalid` Status.
async fn resource_version_match_needs_a_resource_version(cluster: &mut Cluster) {
    for query in [
        "resourceVersionMatch=Exact",
        "resourceVersionMatch=NotOlderThan",
    ] {
        let response = send(cluster, Method::GET, &format!("{CONFIGMAPS}?{query}"), None).await;
        let status = response.expect_failure(422, "Invalid");
        assert!(
            status["message"].as_str().is_some_and(|m| m
                .contains("resourceVersionMatch is forbidden unless resourceVersion is provided")),
            "{status}"
        );
    }
    let zero = send(
        cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?resourceVersion=0&resourceVersionMatch=Exact"),
        None,
    )
    .await;
    zero.expect_failure(422, "Invalid");
}
on_each_backend!(resource_version_match_needs_a_resource_version);

/// Fills the namespace, takes a first page of three, writes once more and
/// compacts etcd there: the page's continue token and revision are gone.
/// Returns the token and the revision. Compaction is only reachable from
/// outside on etcd.
async fn compact_after_a_first_page(cluster: &Cluster) -> (String, u64) {
    fill(cluster).await;
    let first = list(cluster, "limit=3").await;
    let late = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}});
    let made = send(cluster, Method::POST, CONFIGMAPS, Some(late))
        .await
        .expect(201);
    let etcd = cluster.etcd.as_ref().expect("an etcd cluster has its etcd");
    etcd.compact(resource_version(&made)).await;
    (continue_token(&first), resource_version(&first))
}

#[tokio::test]
async fn a_continue_token_older_than_compaction_is_expired() {
    let cluster = Cluster::start(Backend::Etcd, &[]).await;
    let (token, pinned) = compact_after_a_first_page(&cluster).await;

    let expired = send(
        &cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?limit=3&continue={token}"),
        None,
    )
    .await;
    let status = expired.expect_failure(410, "Expired");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("The provided continue parameter is too old")),
        "{status}"
    );

    let old = send(
        &cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?resourceVersion={pinned}&resourceVersionMatch=Exact"),
        None,
    )
    .await;
    old.expect_failure(410, "Expired");

    // A new list works.
    assert_eq!(names(&list(&cluster, "").await).len(), 11);
}

/// Upstream's 410 for an expired continue token carries a token that goes
/// on from the same key at the current revision.
#[tokio::test]
async fn an_expired_continue_token_is_answered_with_a_fresh_one() {
    let cluster = Cluster::start(Backend::Etcd, &[]).await;
    let (token, _) = compact_after_a_first_page(&cluster).await;
    let expired = send(
        &cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?limit=3&continue={token}"),
        None,
    )
    .await;
    let status = expired.expect_failure(410, "Expired");
    let fresh = status["metadata"]["continue"].as_str().unwrap_or_default();
    assert!(!fresh.is_empty(), "{status}");
    let rest = list(&cluster, &format!("limit=3&continue={fresh}")).await;
    assert_eq!(names(&rest), expected(&[3, 4, 5]));
}
