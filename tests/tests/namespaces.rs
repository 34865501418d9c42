//! The namespace lifecycle as upstream runs it, on both backends: system
//! namespaces at start, writes into a missing namespace, and deletion
//! (Terminating, content removed, new content refused, then gone) with an
//! object finalizer holding the namespace in Terminating meanwhile.

use std::time::{Duration, Instant};

use blackbox_tests::{on_each_backend, Cluster, RawRequest, RawResponse};
use http::Method;
use serde_json::{json, Value};

/// How long the namespace controller may take to act.
const SETTLE: Duration = Duration::from_secs(30);

async fn send(cluster: &Cluster, method: Method, path: &str, body: Option<Value>) -> RawResponse {
    let request = RawRequest::new(method, path);
    let request = match body {
        Some(body) => request.json(&body),
        None => request,
    };
    cluster.call(request).await
}

fn configmap(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}})
}

/// Polls GET `path` until it answers `status`, or panics after [`SETTLE`].
async fn wait_for_status(cluster: &Cluster, path: &str, status: u16) {
    let deadline = Instant::now() + SETTLE;
    loop {
        let response = send(cluster, Method::GET, path, None).await;
        if response.status == status {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "GET {path} still answers {} after {SETTLE:?}: {}",
            response.status,
            String::from_utf8_lossy(&response.body)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn system_namespaces_exist_and_missing_ones_are_404(cluster: &mut Cluster) {
    let list = send(cluster, Method::GET, "/api/v1/namespaces", None)
        .await
        .expect(200);
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        let namespace = list["items"]
            .as_array()
            .and_then(|items| items.iter().find(|ns| ns["metadata"]["name"] == name))
            .unwrap_or_else(|| panic!("no {name} namespace: {list}"));
        assert_eq!(namespace["status"]["phase"], "Active", "{namespace}");
        assert_eq!(
            namespace["metadata"]["labels"]["kubernetes.io/metadata.name"], name,
            "{namespace}"
        );
    }

    let output = cluster.kubectl(&["get", "namespaces", "-o", "name"]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    for name in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(stdout.contains(&format!("namespace/{name}")), "{stdout}");
    }

    let missing = send(
        cluster,
        Method::POST,
        "/api/v1/namespaces/ghost/configmaps",
        Some(configmap("cm")),
    )
    .await;
    let status = missing.expect_failure(404, "NotFound");
    assert_eq!(status["message"], "namespaces \"ghost\" not found");
    assert_eq!(status["details"]["name"], "ghost");
    assert_eq!(status["details"]["kind"], "namespaces");
    send(cluster, Method::GET, "/api/v1/namespaces/ghost", None)
        .await
        .expect_failure(404, "NotFound");
}
on_each_backend!(system_namespaces_exist_and_missing_ones_are_404);

/// Upstream's NamespaceLifecycle admission keeps the namespaces every
/// cluster relies on.
async fn system_namespaces_cannot_be_deleted(cluster: &mut Cluster) {
    for name in ["default", "kube-system", "kube-public"] {
        let refused = send(
            cluster,
            Method::DELETE,
            &format!("/api/v1/namespaces/{name}"),
            None,
        )
        .await;
        let status = refused.expect_failure(403, "Forbidden");
        assert_eq!(
            status["message"],
            format!("namespaces \"{name}\" is forbidden: this namespace may not be deleted")
        );
        let namespace = send(
            cluster,
            Method::GET,
            &format!("/api/v1/namespaces/{name}"),
            None,
        )
        .await
        .expect(200);
        assert_eq!(namespace["status"]["phase"], "Active");
    }
}
on_each_backend!(system_namespaces_cannot_be_deleted);

async fn deleting_a_namespace_empties_it_then_removes_it(cluster: &mut Cluster) {
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}});
    let created = send(cluster, Method::POST, "/api/v1/namespaces", Some(namespace))
        .await
        .expect(201);
    assert_eq!(created["status"]["phase"], "Active", "{created}");
    assert_eq!(created["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(
        created["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "doomed"
    );

    let configmaps = "/api/v1/namespaces/doomed/configmaps";
    send(cluster, Method::POST, configmaps, Some(configmap("plain")))
        .await
        .expect(201);
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    send(cluster, Method::POST, configmaps, Some(held))
        .await
        .expect(201);
    let lease = json!({
        "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
        "metadata": {"name": "lock"}, "spec": {"holderIdentity": "me"}
    });
    let leases = "/apis/coordination.k8s.io/v1/namespaces/doomed/leases";
    send(cluster, Method::POST, leases, Some(lease))
        .await
        .expect(201);

    let deleting = send(cluster, Method::DELETE, "/api/v1/namespaces/doomed", None)
        .await
        .expect(200);
    assert_eq!(deleting["kind"], "Namespace", "{deleting}");
    assert_eq!(deleting["status"]["phase"], "Terminating", "{deleting}");
    assert!(deleting["metadata"]["deletionTimestamp"].is_string());

    // Content without finalizers goes; the held object stays, marked.
    wait_for_status(cluster, &format!("{configmaps}/plain"), 404).await;
    wait_for_status(cluster, &format!("{leases}/lock"), 404).await;
    let held = send(cluster, Method::GET, &format!("{configmaps}/held"), None)
        .await
        .expect(200);
    assert!(held["metadata"]["deletionTimestamp"].is_string(), "{held}");
    let terminating = send(cluster, Method::GET, "/api/v1/namespaces/doomed", None)
        .await
        .expect(200);
    assert_eq!(terminating["status"]["phase"], "Terminating");

    let refused = send(cluster, Method::POST, configmaps, Some(configmap("late"))).await;
    let status = refused.expect_failure(403, "Forbidden");
    assert!(
        status["message"].as_str().is_some_and(|m| m.contains(
            "unable to create new content in namespace doomed because it is being terminated"
        )),
        "{status}"
    );

    // Releasing the last finalizer lets both go.
    let release = json!({"metadata": {"finalizers": null}});
    let request = RawRequest::new(Method::PATCH, &format!("{configmaps}/held")).body_with_type(
        release.to_string().into_bytes(),
        "application/merge-patch+json",
    );
    cluster.call(request).await.expect(200);
    wait_for_status(cluster, &format!("{configmaps}/held"), 404).await;
    wait_for_status(cluster, "/api/v1/namespaces/doomed", 404).await;

    // The name is free again, for a new namespace.
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}});
    let again = send(cluster, Method::POST, "/api/v1/namespaces", Some(namespace))
        .await
        .expect(201);
    assert_ne!(again["metadata"]["uid"], created["metadata"]["uid"]);
    let empty = send(cluster, Method::GET, configmaps, None)
        .await
        .expect(200);
    assert_eq!(empty["items"], json!([]), "{empty}");

    // kubectl's own delete waits, through a watch, until the namespace is gone.
    let ok = |output: std::process::Output| {
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    };
    ok(cluster.kubectl(&[
        "create",
        "configmap",
        "c",
        "-n",
        "doomed",
        "--from-literal=k=v",
    ]));
    ok(cluster.kubectl(&["delete", "namespace", "doomed", "--timeout=30s"]));
    let gone = cluster.kubectl(&["get", "namespace", "doomed"]);
    assert!(!gone.status.success());
    let stderr = String::from_utf8_lossy(&gone.stderr);
    assert!(
        stderr.contains("Error from server (NotFound): namespaces \"doomed\" not found"),
        "{stderr}"
    );
}
on_each_backend!(deleting_a_namespace_empties_it_then_removes_it);

/// Upstream's Forbidden for new content in a Terminating namespace names
/// the object and carries the `NamespaceTerminating` cause that clients
/// (client-go's `HasStatusCause`) look for.
async fn new_content_in_a_terminating_namespace_names_the_cause(cluster: &mut Cluster) {
    let namespace =
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "closing"}});
    send(cluster, Method::POST, "/api/v1/namespaces", Some(namespace))
        .await
        .expect(201);
    let configmaps = "/api/v1/namespaces/closing/configmaps";
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    send(cluster, Method::POST, configmaps, Some(held))
        .await
        .expect(201);
    send(cluster, Method::DELETE, "/api/v1/namespaces/closing", None)
        .await
        .expect(200);

    let refused = send(cluster, Method::POST, configmaps, Some(configmap("late"))).await;
    let status = refused.expect_failure(403, "Forbidden");
    assert_eq!(status["details"]["name"], "late", "{status}");
    assert_eq!(status["details"]["kind"], "configmaps", "{status}");
    let cause = &status["details"]["causes"][0];
    assert_eq!(cause["reason"], "NamespaceTerminating", "{status}");
    assert_eq!(cause["field"], "metadata.namespace", "{status}");
}
on_each_backend!(new_content_in_a_terminating_namespace_names_the_cause);

/// Upstream's namespace controller reports in the namespace's status why
/// deletion is waiting (`kubectl describe namespace` shows it).
async fn a_terminating_namespace_reports_remaining_finalizers(cluster: &mut Cluster) {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "stuck"}});
    send(cluster, Method::POST, "/api/v1/namespaces", Some(namespace))
        .await
        .expect(201);
    let mut held = configmap("held");
    held["metadata"]["finalizers"] = json!(["example.com/hold"]);
    send(
        cluster,
        Method::POST,
        "/api/v1/namespaces/stuck/configmaps",
        Some(held),
    )
    .await
    .expect(201);
    send(cluster, Method::DELETE, "/api/v1/namespaces/stuck", None)
        .await
        .expect(200);

    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let namespace = send(cluster, Method::GET, "/api/v1/namespaces/stuck", None)
            .await
            .expect(200);
        let condition = namespace["status"]["conditions"]
            .as_array()
            .and_then(|all| {
                all.iter()
                    .find(|c| c["type"] == "NamespaceFinalizersRemaining")
            })
            .cloned();
        if let Some(condition) = condition {
            assert_eq!(condition["status"], "True", "{condition}");
            assert_eq!(condition["reason"], "SomeFinalizersRemain", "{condition}");
            assert!(
                condition["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("example.com/hold")),
                "{condition}"
            );
            return;
        }
        assert!(
            Instant::now() < deadline,
            "no NamespaceFinalizersRemaining condition: {namespace}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
on_each_backend!(a_terminating_namespace_reports_remaining_finalizers);
