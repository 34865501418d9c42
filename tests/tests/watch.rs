//! Watches as upstream serves them, on both backends: `watch=1` and
//! `watch=true`, timeoutSeconds, resuming from a resourceVersion, selector
//! filtering (objects leaving the selector are DELETED), 410 for a revision
//! older than the server keeps, and the initial-events-end BOOKMARK of
//! `sendInitialEvents`.

use std::time::{Duration, Instant};

use blackbox_tests::{
    on_each_backend, Backend, Cluster, Protocol, RawRequest, RawResponse, RawStream, StreamItem,
};
use http::Method;
use serde_json::{json, Value};

const CONFIGMAPS: &str = "/api/v1/namespaces/watched/configmaps";
const WAIT: Duration = Duration::from_secs(10);
/// How long a stream must stay silent to count as having nothing more.
const QUIET: Duration = Duration::from_millis(500);

async fn send(cluster: &Cluster, method: Method, path: &str, body: Option<Value>) -> RawResponse {
    let request = RawRequest::new(method, path);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    cluster.call(request).await
}

async fn create_namespace(cluster: &Cluster) {
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "watched"}});
    send(cluster, Method::POST, "/api/v1/namespaces", Some(namespace))
        .await
        .expect(201);
}

fn configmap(name: &str, labels: Value) -> Value {
    json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": { "name": name, "labels": labels }
    })
}

async fn create(cluster: &Cluster, name: &str, labels: Value) -> Value {
    send(
        cluster,
        Method::POST,
        CONFIGMAPS,
        Some(configmap(name, labels)),
    )
    .await
    .expect(201)
}

async fn relabel(cluster: &Cluster, name: &str, labels: Value) -> Value {
    let patch = json!({ "metadata": { "labels": labels } });
    let request = RawRequest::new(Method::PATCH, &format!("{CONFIGMAPS}/{name}")).body_with_type(
        patch.to_string().into_bytes(),
        "application/merge-patch+json",
    );
    cluster.call(request).await.expect(200)
}

async fn delete(cluster: &Cluster, name: &str) {
    send(
        cluster,
        Method::DELETE,
        &format!("{CONFIGMAPS}/{name}"),
        None,
    )
    .await
    .expect(200);
}

fn resource_version(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|rv| rv.parse().ok())
        .unwrap_or_else(|| panic!("resourceVersion is not a decimal revision: {object}"))
}

async fn open(cluster: &Cluster, query: &str) -> RawStream {
    let stream = cluster
        .stream(RawRequest::get(&format!("{CONFIGMAPS}?{query}")))
        .await;
    assert_eq!(stream.status, 200, "watch ?{query}");
    stream
}

async fn next_event(stream: &mut RawStream) -> Value {
    match stream.next_json(WAIT).await {
        StreamItem::Json(event) => event,
        other => panic!("expected a watch event, got {other:?}"),
    }
}

async fn assert_quiet(stream: &mut RawStream) {
    match stream.next_json(QUIET).await {
        StreamItem::Timeout => {}
        other => panic!("expected no more events, got {other:?}"),
    }
}

/// `(type, name)` of an event, for comparing sequences.
fn summary(event: &Value) -> (String, String) {
    (
        event["type"].as_str().unwrap_or_default().to_string(),
        event["object"]["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

fn expected(events: &[(&str, &str)]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|(kind, name)| (kind.to_string(), name.to_string()))
        .collect()
}

async fn watch_parameters_and_timeouts(cluster: &mut Cluster) {
    create_namespace(cluster).await;
    create(cluster, "first", json!({})).await;
    for flag in ["1", "true"] {
        let started = Instant::now();
        let response = send(
            cluster,
            Method::GET,
            &format!("{CONFIGMAPS}?watch={flag}&timeoutSeconds=1"),
            None,
        )
        .await;
        let elapsed = started.elapsed();
        assert_eq!(response.status, 200, "watch={flag}");
        let content_type = response
            .headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert!(
            content_type.starts_with("application/json"),
            "{content_type}"
        );
        let body = String::from_utf8_lossy(&response.body).to_string();
        let events: Vec<Value> = body
            .lines()
            .filter(|line| !line.trim().is_empty())
            .map(|line| serde_json::from_str(line).expect("each line is one JSON event"))
            .collect();
        assert_eq!(
            events.iter().map(summary).collect::<Vec<_>>(),
            expected(&[("ADDED", "first")]),
            "watch={flag} without a resourceVersion starts with the current state: {body}"
        );
        assert!(
            elapsed >= Duration::from_millis(900) && elapsed < Duration::from_secs(8),
            "timeoutSeconds=1 ended the stream after {elapsed:?}"
        );
    }

    // resourceVersion=0 also starts with the current state; over HTTP/1.1
    // the stream is chunked and works the same.
    let mut any = cluster
        .stream(
            RawRequest::get(&format!("{CONFIGMAPS}?watch=1&resourceVersion=0"))
                .protocol(Protocol::Http1Only),
        )
        .await;
    assert_eq!(any.status, 200);
    assert_eq!(
        summary(&next_event(&mut any).await),
        ("ADDED".into(), "first".into())
    );
    relabel(cluster, "first", json!({"seen": "yes"})).await;
    assert_eq!(
        summary(&next_event(&mut any).await),
        ("MODIFIED".into(), "first".into())
    );

    // A watch on one object by name, across namespaces.
    let mut by_name = cluster
        .stream(RawRequest::get(
            "/api/v1/configmaps?watch=true&fieldSelector=metadata.name%3Dsecond",
        ))
        .await;
    assert_eq!(by_name.status, 200);
    create(cluster, "other", json!({})).await;
    let second = create(cluster, "second", json!({})).await;
    let event = next_event(&mut by_name).await;
    assert_eq!(summary(&event), ("ADDED".into(), "second".into()));
    assert_eq!(event["object"]["metadata"]["namespace"], "watched");
    assert_eq!(event["object"]["kind"], "ConfigMap");
    assert_eq!(event["object"]["apiVersion"], "v1");
    assert_eq!(
        resource_version(&event["object"]),
        resource_version(&second)
    );
    assert_quiet(&mut by_name).await;
}
on_each_backend!(watch_parameters_and_timeouts);

async fn a_watch_resumes_after_its_resource_version(cluster: &mut Cluster) {
    create_namespace(cluster).await;
    let before = send(cluster, Method::GET, CONFIGMAPS, None)
        .await
        .expect(200);
    let start = resource_version(&before);

    let a = create(cluster, "a", json!({})).await;
    let b = create(cluster, "b", json!({})).await;
    let a2 = relabel(cluster, "a", json!({"step": "2"})).await;
    delete(cluster, "b").await;
    let c = create(cluster, "c", json!({})).await;
    let c2 = relabel(cluster, "c", json!({"step": "2"})).await;
    let all = expected(&[
        ("ADDED", "a"),
        ("ADDED", "b"),
        ("MODIFIED", "a"),
        ("DELETED", "b"),
        ("ADDED", "c"),
        ("MODIFIED", "c"),
    ]);

    let mut stream = open(cluster, &format!("watch=1&resourceVersion={start}")).await;
    let mut events = Vec::new();
    for _ in 0..all.len() {
        events.push(next_event(&mut stream).await);
    }
    assert_quiet(&mut stream).await;
    assert_eq!(events.iter().map(summary).collect::<Vec<_>>(), all);
    let revisions: Vec<u64> = events
        .iter()
        .map(|e| resource_version(&e["object"]))
        .collect();
    assert!(
        revisions.windows(2).all(|pair| pair[0] < pair[1]),
        "events come in revision order: {revisions:?}"
    );
    let written = [&a, &b, &a2, &c, &c2].map(resource_version);
    assert_eq!(
        [
            revisions[0],
            revisions[1],
            revisions[2],
            revisions[4],
            revisions[5]
        ],
        written,
        "each event carries the revision of its write"
    );
    assert!(revisions[3] > written[2] && revisions[3] < written[3]);
    assert_eq!(events[2]["object"]["metadata"]["labels"]["step"], "2");
    assert_eq!(events[3]["object"]["metadata"]["uid"], b["metadata"]["uid"]);

    // From the middle: only what came after.
    let mut later = open(
        cluster,
        &format!("watch=1&resourceVersion={}", resource_version(&a2)),
    )
    .await;
    let mut tail = Vec::new();
    for _ in 0..3 {
        tail.push(summary(&next_event(&mut later).await));
    }
    assert_eq!(tail, all[3..].to_vec());
    assert_quiet(&mut later).await;

    // Both streams stay open and see new writes once each.
    delete(cluster, "a").await;
    assert_eq!(
        summary(&next_event(&mut stream).await),
        ("DELETED".into(), "a".into())
    );
    assert_eq!(
        summary(&next_event(&mut later).await),
        ("DELETED".into(), "a".into())
    );
    assert_quiet(&mut stream).await;
}
on_each_backend!(a_watch_resumes_after_its_resource_version);

/// Watches `team=red` while objects enter and leave it; returns the four
/// events seen and the write that made `red` leave.
async fn watch_objects_enter_and_leave(cluster: &Cluster) -> (Vec<Value>, Value) {
    create_namespace(cluster).await;
    let list = send(cluster, Method::GET, CONFIGMAPS, None)
        .await
        .expect(200);
    let mut stream = open(
        cluster,
        &format!(
            "watch=1&labelSelector=team%3Dred&resourceVersion={}",
            resource_version(&list)
        ),
    )
    .await;
    create(cluster, "blue", json!({"team": "blue"})).await;
    create(cluster, "red", json!({"team": "red"})).await;
    relabel(cluster, "blue", json!({"team": "red"})).await;
    let left = relabel(cluster, "red", json!({"team": "green"})).await;
    relabel(cluster, "red", json!({"extra": "yes"})).await;
    delete(cluster, "blue").await;
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(next_event(&mut stream).await);
    }
    assert_quiet(&mut stream).await;
    (seen, left)
}

async fn a_selector_watch_sees_objects_enter_and_leave(cluster: &mut Cluster) {
    let (seen, left) = watch_objects_enter_and_leave(cluster).await;
    assert_eq!(
        seen.iter().map(summary).collect::<Vec<_>>(),
        expected(&[
            ("ADDED", "red"),
            ("ADDED", "blue"),
            ("DELETED", "red"),
            ("DELETED", "blue"),
        ]),
        "an object entering the selector is ADDED, one leaving it DELETED"
    );
    assert_eq!(
        resource_version(&seen[2]["object"]),
        resource_version(&left),
        "at the revision of the write that made it leave"
    );
}
on_each_backend!(a_selector_watch_sees_objects_enter_and_leave);

/// Upstream's cacheWatcher sends the previous object, at the event's
/// revision, when an update makes an object stop matching.
async fn leaving_the_selector_shows_the_last_matching_state(cluster: &mut Cluster) {
    let (seen, _) = watch_objects_enter_and_leave(cluster).await;
    assert_eq!(summary(&seen[2]), ("DELETED".into(), "red".into()));
    assert_eq!(
        seen[2]["object"]["metadata"]["labels"]["team"], "red",
        "{}",
        seen[2]
    );
}
on_each_backend!(leaving_the_selector_shows_the_last_matching_state);

async fn a_watch_older_than_the_server_keeps_gets_410(cluster: &mut Cluster) {
    create_namespace(cluster).await;
    create(cluster, "x", json!({})).await;
    // Revision 1 is the server's first write; it is before any watch
    // cache's window.
    let response = send(
        cluster,
        Method::GET,
        &format!("{CONFIGMAPS}?watch=1&resourceVersion=1"),
        None,
    )
    .await;
    assert_eq!(
        response.status, 200,
        "upstream reports it inside the stream"
    );
    let body = String::from_utf8_lossy(&response.body).to_string();
    let lines: Vec<&str> = body.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one ERROR event, then the end: {body}");
    let event: Value = serde_json::from_str(lines[0]).expect("the event is JSON");
    assert_eq!(event["type"], "ERROR", "{event}");
    let status = &event["object"];
    assert_eq!(status["kind"], "Status", "{event}");
    assert_eq!(status["code"], 410, "{event}");
    assert_eq!(status["reason"], "Expired", "{event}");
    assert!(
        status["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("too old resource version")),
        "{event}"
    );
}
on_each_backend!(a_watch_older_than_the_server_keeps_gets_410);

/// On etcd, a revision compacted away before the server started can only
/// be answered with 410: nothing holds it any more.
#[tokio::test]
async fn a_watch_at_a_compacted_revision_gets_410_after_restart() {
    let mut cluster = Cluster::start(Backend::Etcd, &[]).await;
    create_namespace(&cluster).await;
    let old = create(&cluster, "old", json!({})).await;
    let newer = create(&cluster, "newer", json!({})).await;
    let etcd = cluster.etcd.as_ref().expect("an etcd cluster has its etcd");
    etcd.compact(resource_version(&newer)).await;
    cluster.server.restart().await;

    let response = send(
        &cluster,
        Method::GET,
        &format!(
            "{CONFIGMAPS}?watch=1&resourceVersion={}",
            resource_version(&old)
        ),
        None,
    )
    .await;
    assert_eq!(response.status, 200);
    let event: Value = serde_json::from_slice(
        response
            .body
            .split(|b| *b == b'\n')
            .next()
            .unwrap_or_default(),
    )
    .expect("the first line is a JSON event");
    assert_eq!(event["type"], "ERROR", "{event}");
    assert_eq!(event["object"]["code"], 410, "{event}");
}

async fn initial_events_end_with_a_bookmark(cluster: &mut Cluster) {
    create_namespace(cluster).await;
    let mut last = 0;
    for name in ["one", "two", "three"] {
        last = resource_version(&create(cluster, name, json!({})).await);
    }
    let mut stream = open(
        cluster,
        "watch=1&sendInitialEvents=true&allowWatchBookmarks=true&resourceVersionMatch=NotOlderThan",
    )
    .await;
    let mut initial = Vec::new();
    for _ in 0..3 {
        initial.push(summary(&next_event(&mut stream).await));
    }
    initial.sort();
    assert_eq!(
        initial,
        expected(&[("ADDED", "one"), ("ADDED", "three"), ("ADDED", "two")])
    );
    let bookmark = next_event(&mut stream).await;
    assert_eq!(bookmark["type"], "BOOKMARK", "{bookmark}");
    assert_eq!(bookmark["object"]["kind"], "ConfigMap", "{bookmark}");
    assert_eq!(
        bookmark["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"], "true",
        "{bookmark}"
    );
    assert!(resource_version(&bookmark["object"]) >= last, "{bookmark}");

    create(cluster, "four", json!({})).await;
    assert_eq!(
        summary(&next_event(&mut stream).await),
        ("ADDED".into(), "four".into())
    );
}
on_each_backend!(initial_events_end_with_a_bookmark);

/// Upstream's validateWatchOptions: resourceVersionMatch on a watch only
/// goes with sendInitialEvents, and sendInitialEvents only with
/// resourceVersionMatch=NotOlderThan; both are 422 `Invalid` ListOptions.
async fn watch_options_are_validated(cluster: &mut Cluster) {
    create_namespace(cluster).await;
    for (query, message) in [
        (
            "watch=1&resourceVersion=1&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
            "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
        ),
        (
            "watch=1&sendInitialEvents=true&allowWatchBookmarks=true&timeoutSeconds=1",
            "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
        ),
    ] {
        let response = send(cluster, Method::GET, &format!("{CONFIGMAPS}?{query}"), None).await;
        let status = response.expect_failure(422, "Invalid");
        assert!(
            status["message"]
                .as_str()
                .is_some_and(|m| m.contains(message)),
            "{query}: {status}"
        );
    }
}
on_each_backend!(watch_options_are_validated);

/// A watch from a revision the server has not reached yet (a client that
/// read from another replica, say) is served as upstream's watch cache
/// serves it: the stream opens at once and delivers the changes after that
/// revision when they happen.
async fn a_watch_ahead_of_the_server_waits_for_its_revision(cluster: &mut Cluster) {
    create_namespace(cluster).await;
    let list = send(cluster, Method::GET, CONFIGMAPS, None)
        .await
        .expect(200);
    let ahead = resource_version(&list) + 1;
    let request = RawRequest::get(&format!("{CONFIGMAPS}?watch=1&resourceVersion={ahead}"));
    let mut stream = tokio::time::timeout(Duration::from_secs(2), cluster.stream(request))
        .await
        .expect("the watch opens without waiting for its revision");
    assert_eq!(stream.status, 200);

    let first = create(cluster, "at-the-revision", json!({})).await;
    assert_eq!(
        resource_version(&first),
        ahead,
        "the server is otherwise quiet"
    );
    create(cluster, "after-it", json!({})).await;
    let event = next_event(&mut stream).await;
    assert_eq!(
        summary(&event),
        ("ADDED".into(), "after-it".into()),
        "only changes after the requested revision"
    );
}
on_each_backend!(a_watch_ahead_of_the_server_waits_for_its_revision);

/// Concurrent writers: a watcher that was live during the writes and one
/// that replays them afterwards see the same changes, each once, in
/// strictly increasing revision order, with the revisions the writers were
/// given.
async fn concurrent_writes_reach_every_watcher_in_one_order(cluster: &mut Cluster) {
    create_namespace(cluster).await;
    let list = send(cluster, Method::GET, CONFIGMAPS, None)
        .await
        .expect(200);
    let start = resource_version(&list);
    let mut live = open(cluster, &format!("watch=1&resourceVersion={start}")).await;

    let cluster: &Cluster = cluster;
    let writes = (0..4).map(|writer| async move {
        let mut revisions = Vec::new();
        for n in 0..10 {
            let created = create(cluster, &format!("w{writer}-{n}"), json!({})).await;
            revisions.push(resource_version(&created));
        }
        revisions
    });
    let mut written: Vec<u64> = futures::future::join_all(writes)
        .await
        .into_iter()
        .flatten()
        .collect();
    written.sort_unstable();
    written.dedup();
    assert_eq!(written.len(), 40, "every write has its own revision");

    let mut replay = open(cluster, &format!("watch=1&resourceVersion={start}")).await;
    for stream in [&mut live, &mut replay] {
        let mut seen = Vec::new();
        for _ in 0..40 {
            let event = next_event(stream).await;
            assert_eq!(event["type"], "ADDED", "{event}");
            seen.push(resource_version(&event["object"]));
        }
        assert_quiet(stream).await;
        assert_eq!(seen, written, "each change once, in revision order");
    }
}
on_each_backend!(concurrent_writes_reach_every_watcher_in_one_order);
