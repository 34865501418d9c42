//! kubectl's typed commands (`create namespace`, `create configmap`, ...,
//! `auth whoami`, `auth can-i`) build typed objects and POST them as
//! protobuf, with no fallback to JSON. The server must decode them and
//! answer in protobuf too.

mod support;

use support::{fails, get_json, ok, write_file, Backend, Cluster};

/// Runs kubectl at -v=8 and returns (stdout, the request/response trace).
fn traced(cluster: &Cluster, args: &[&str]) -> (String, String) {
    let mut all = args.to_vec();
    all.push("-v=8");
    let output = cluster.kubectl(&all);
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        output.status.success(),
        "kubectl {args:?}\n{stdout}\n{stderr}"
    );
    (stdout, stderr)
}

/// The POST went out as protobuf and the answer came back as protobuf.
fn assert_protobuf_both_ways(trace: &str) {
    let post = trace
        .find("] POST https://")
        .unwrap_or_else(|| panic!("no POST in\n{trace}"));
    let content_types: Vec<&str> = trace[post..]
        .lines()
        .filter_map(|line| line.split("Content-Type: ").nth(1))
        .map(str::trim)
        .take(2)
        .collect();
    assert_eq!(
        content_types,
        [
            "application/vnd.kubernetes.protobuf",
            "application/vnd.kubernetes.protobuf"
        ],
        "request then response content type:\n{}",
        &trace[post..]
    );
}

#[tokio::test]
async fn typed_create_commands_post_protobuf() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;

    let (out, trace) = traced(&cluster, &["create", "namespace", "typed"]);
    assert_eq!(out.trim(), "namespace/typed created");
    assert_protobuf_both_ways(&trace);
    let ns = get_json(&cluster, &["namespace", "typed"]);
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(ns["spec"]["finalizers"], serde_json::json!(["kubernetes"]));

    let file = write_file(&cluster, "settings.properties", "color=blue\n");
    let (out, trace) = traced(
        &cluster,
        &[
            "create",
            "configmap",
            "-n",
            "typed",
            "conf",
            "--from-literal=a=1",
            &format!("--from-file={file}"),
        ],
    );
    assert_eq!(out.trim(), "configmap/conf created");
    assert_protobuf_both_ways(&trace);
    let conf = get_json(&cluster, &["-n", "typed", "cm", "conf"]);
    assert_eq!(conf["data"]["a"], "1");
    assert_eq!(conf["data"]["settings.properties"], "color=blue\n");

    let (_, trace) = traced(
        &cluster,
        &[
            "create",
            "secret",
            "generic",
            "-n",
            "typed",
            "creds",
            "--from-literal=password=s3cret",
            "--type=example.com/custom",
        ],
    );
    assert_protobuf_both_ways(&trace);
    let creds = get_json(&cluster, &["-n", "typed", "secret", "creds"]);
    assert_eq!(creds["type"], "example.com/custom");
    assert_eq!(creds["data"]["password"], "czNjcmV0");
    let cert = cluster.pki_file("admin.crt").display().to_string();
    let key = cluster.pki_file("admin.key").display().to_string();
    ok(
        &cluster,
        &[
            "create", "secret", "tls", "-n", "typed", "tls", "--cert", &cert, "--key", &key,
        ],
    );
    let tls = get_json(&cluster, &["-n", "typed", "secret", "tls"]);
    assert_eq!(tls["type"], "kubernetes.io/tls");
    assert!(tls["data"]["tls.crt"]
        .as_str()
        .is_some_and(|v| !v.is_empty()));

    let (_, trace) = traced(
        &cluster,
        &[
            "create",
            "deployment",
            "-n",
            "typed",
            "web",
            "--image=nginx:1.25",
            "--port=80",
            "--replicas=2",
        ],
    );
    assert_protobuf_both_ways(&trace);
    let web = get_json(&cluster, &["-n", "typed", "deploy", "web"]);
    assert_eq!(web["spec"]["replicas"], 2);
    assert_eq!(web["spec"]["selector"]["matchLabels"]["app"], "web");
    let container = &web["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "nginx:1.25");
    assert_eq!(container["ports"][0]["containerPort"], 80);
    assert_eq!(container["ports"][0]["protocol"], "TCP");

    let (_, trace) = traced(
        &cluster,
        &[
            "create",
            "service",
            "clusterip",
            "-n",
            "typed",
            "web",
            "--tcp=80:8080",
        ],
    );
    assert_protobuf_both_ways(&trace);
    let svc = get_json(&cluster, &["-n", "typed", "svc", "web"]);
    assert_eq!(svc["spec"]["ports"][0]["targetPort"], 8080);
    assert_eq!(svc["spec"]["selector"]["app"], "web");
    ok(
        &cluster,
        &[
            "create",
            "service",
            "nodeport",
            "-n",
            "typed",
            "np",
            "--tcp=443:8443",
            "--node-port=30443",
        ],
    );
    let np = get_json(&cluster, &["-n", "typed", "svc", "np"]);
    assert_eq!(np["spec"]["type"], "NodePort");
    assert_eq!(np["spec"]["ports"][0]["nodePort"], 30443);
    assert_eq!(np["spec"]["externalTrafficPolicy"], "Cluster");
    ok(
        &cluster,
        &[
            "create",
            "service",
            "externalname",
            "-n",
            "typed",
            "alias",
            "--external-name=db.example.com",
        ],
    );
    let alias = get_json(&cluster, &["-n", "typed", "svc", "alias"]);
    assert_eq!(alias["spec"]["type"], "ExternalName");
    assert!(alias["spec"].get("clusterIP").is_none(), "{alias}");

    let (_, trace) = traced(
        &cluster,
        &["create", "serviceaccount", "-n", "typed", "robot"],
    );
    assert_protobuf_both_ways(&trace);
    ok(&cluster, &["get", "-n", "typed", "sa", "robot"]);

    // A protobuf create that the server refuses still gets a readable Status.
    let refused = fails(&cluster, &["create", "configmap", "-n", "typed", "conf"]);
    assert!(
        refused.contains("configmaps \"conf\" already exists"),
        "{refused}"
    );
    let invalid = fails(
        &cluster,
        &[
            "create",
            "deployment",
            "-n",
            "typed",
            "Bad_Name",
            "--image=nginx",
        ],
    );
    assert!(
        invalid.contains(
            "Deployment.apps \"Bad_Name\" is invalid: metadata.name: Invalid value: \"Bad_Name\""
        ),
        "{invalid}"
    );
    // A dry run in protobuf returns the object and stores nothing.
    let preview = ok(
        &cluster,
        &[
            "create",
            "configmap",
            "-n",
            "typed",
            "preview",
            "--dry-run=server",
            "-o",
            "json",
        ],
    );
    let preview: serde_json::Value = serde_json::from_str(&preview).expect("JSON");
    assert_eq!(preview["metadata"]["name"], "preview");
    let missing = fails(&cluster, &["get", "-n", "typed", "cm", "preview"]);
    assert!(missing.contains("(NotFound)"), "{missing}");
}

#[tokio::test]
async fn auth_whoami_and_can_i() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    let (out, trace) = traced(&cluster, &["auth", "whoami"]);
    assert_protobuf_both_ways(&trace);
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines[0], ["ATTRIBUTE", "VALUE"], "{out}");
    assert_eq!(lines[1], ["Username", "kubernetes-admin"], "{out}");
    assert_eq!(
        lines[2],
        ["Groups", "[system:masters", "system:authenticated]"],
        "{out}"
    );
    let review = ok(&cluster, &["auth", "whoami", "-o", "json"]);
    let review: serde_json::Value = serde_json::from_str(&review).expect("JSON");
    assert_eq!(review["kind"], "SelfSubjectReview");
    assert_eq!(review["apiVersion"], "authentication.k8s.io/v1");
    assert_eq!(review["status"]["userInfo"]["username"], "kubernetes-admin");

    let (out, trace) = traced(&cluster, &["auth", "can-i", "create", "pods"]);
    assert_eq!(out.trim(), "yes");
    assert_protobuf_both_ways(&trace);
    assert_eq!(
        ok(
            &cluster,
            &["auth", "can-i", "delete", "secrets", "-n", "kube-system"]
        )
        .trim(),
        "yes"
    );
    assert_eq!(
        ok(&cluster, &["auth", "can-i", "get", "/healthz"]).trim(),
        "yes"
    );
    assert_eq!(ok(&cluster, &["auth", "can-i", "*", "*"]).trim(), "yes");
    let rules = ok(&cluster, &["auth", "can-i", "--list"]);
    assert!(
        rules
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["*.*", "[]", "[]", "[*]"]),
        "{rules}"
    );
}

/// Upstream serves `serviceaccounts/token` (TokenRequest): `kubectl create
/// token` prints a signed JWT for the account.
#[tokio::test]
#[ignore = "server gap outside builtin/: POST serviceaccounts/NAME/token is 404"]
async fn create_token_prints_a_jwt() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "serviceaccount", "robot"]);
    let token = ok(&cluster, &["create", "token", "robot", "--duration=10m"]);
    let parts: Vec<&str> = token.trim().split('.').collect();
    assert_eq!(parts.len(), 3, "a JWT: {token}");
}

/// Impersonation: `--as` and `--as-group` change who the request runs as,
/// for an admin allowed to impersonate.
#[tokio::test]
async fn whoami_honours_impersonation() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    let review = ok(
        &cluster,
        &[
            "auth",
            "whoami",
            "--as=alice",
            "--as-group=devs",
            "-o",
            "json",
        ],
    );
    let review: serde_json::Value = serde_json::from_str(&review).expect("JSON");
    assert_eq!(review["status"]["userInfo"]["username"], "alice");
    assert_eq!(
        review["status"]["userInfo"]["groups"],
        serde_json::json!(["devs", "system:authenticated"])
    );
}
