//! Everyday kubectl workflows over every built-in kind, checked against
//! what upstream kube-apiserver does: create, get in every output, apply
//! (client-side, three-way), edit, replace, label, annotate, the three
//! patch types, delete, selectors, pagination, watch and server dry runs.
//!
//! The workflows that touch storage run on both backends (the harness's
//! `on_each_backend!`). One server per body; every check inside works in a
//! namespace of its own.

mod support;

use serde_json::Value;
use support::{
    fails, get_json, names, ok, ok_with_env, ok_with_stdin, watch_events, write_file, Backend,
    Cluster, Watch,
};

/// One object of every built-in kind, in namespace `ns` (created by the
/// same manifest).
fn every_kind(ns: &str) -> String {
    format!(
        r#"apiVersion: v1
kind: Namespace
metadata:
  name: {ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {ns}, labels: {{app: shop}}}}
data: {{color: blue, size: large}}
---
apiVersion: v1
kind: Secret
metadata: {{name: creds, namespace: {ns}, labels: {{app: shop}}}}
stringData: {{password: hunter2}}
---
apiVersion: v1
kind: ServiceAccount
metadata: {{name: robot, namespace: {ns}}}
---
apiVersion: v1
kind: Service
metadata: {{name: front, namespace: {ns}, labels: {{app: shop}}}}
spec:
  selector: {{app: shop}}
  ports: [{{name: http, port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: front, namespace: {ns}}}
subsets:
- addresses: [{{ip: 10.1.0.5}}]
  ports: [{{name: http, port: 8080}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: front-abc, namespace: {ns}, labels: {{kubernetes.io/service-name: front}}}}
addressType: IPv4
endpoints: [{{addresses: [10.1.0.5]}}]
ports: [{{name: http, port: 8080, protocol: TCP}}]
---
apiVersion: v1
kind: Pod
metadata: {{name: worker, namespace: {ns}, labels: {{app: shop}}}}
spec:
  containers: [{{name: main, image: busybox:1.36}}]
---
apiVersion: apps/v1
kind: Deployment
metadata: {{name: shop, namespace: {ns}, labels: {{app: shop}}}}
spec:
  selector: {{matchLabels: {{app: shop}}}}
  template:
    metadata: {{labels: {{app: shop}}}}
    spec:
      containers: [{{name: web, image: nginx:1.25}}]
---
apiVersion: v1
kind: Event
metadata: {{name: worker.1, namespace: {ns}}}
involvedObject: {{kind: Pod, name: worker, namespace: {ns}}}
reason: Pulled
message: image pulled
type: Normal
source: {{component: kubelet}}
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {{name: shop.1, namespace: {ns}}}
eventTime: "2026-01-02T03:04:05.000000Z"
reportingController: example.com/scaler
reportingInstance: scaler-0
action: Scale
reason: ScaledUp
note: scaled to one
type: Normal
regarding: {{kind: Deployment, name: shop, namespace: {ns}}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: leader, namespace: {ns}}}
spec: {{holderIdentity: node-a, leaseDurationSeconds: 15}}
"#
    )
}

/// `(resource argument, name, kind, apiVersion)` of every namespaced object
/// in [`every_kind`].
const NAMESPACED: &[(&str, &str, &str, &str)] = &[
    ("configmaps", "settings", "ConfigMap", "v1"),
    ("secrets", "creds", "Secret", "v1"),
    ("serviceaccounts", "robot", "ServiceAccount", "v1"),
    ("services", "front", "Service", "v1"),
    ("endpoints", "front", "Endpoints", "v1"),
    (
        "endpointslices.discovery.k8s.io",
        "front-abc",
        "EndpointSlice",
        "discovery.k8s.io/v1",
    ),
    ("pods", "worker", "Pod", "v1"),
    ("deployments.apps", "shop", "Deployment", "apps/v1"),
    ("events", "worker.1", "Event", "v1"),
    (
        "events.events.k8s.io",
        "shop.1",
        "Event",
        "events.k8s.io/v1",
    ),
    (
        "leases.coordination.k8s.io",
        "leader",
        "Lease",
        "coordination.k8s.io/v1",
    ),
];

blackbox_tests::on_each_backend!(create_get_and_delete_every_kind);
blackbox_tests::on_each_backend!(apply_edit_replace_label_annotate);
blackbox_tests::on_each_backend!(patches_of_each_type);
blackbox_tests::on_each_backend!(selectors_and_pagination);
blackbox_tests::on_each_backend!(watch_reports_each_change);
blackbox_tests::on_each_backend!(server_dry_runs_store_nothing);

async fn create_get_and_delete_every_kind(cluster: &mut Cluster) {
    let ns = "kinds";
    let manifest = write_file(cluster, "every-kind.yaml", &every_kind(ns));
    let created = ok(cluster, &["create", "-f", &manifest]);
    for line in [
        "namespace/kinds created",
        "configmap/settings created",
        "secret/creds created",
        "serviceaccount/robot created",
        "service/front created",
        "endpoints/front created",
        "endpointslice.discovery.k8s.io/front-abc created",
        "pod/worker created",
        "deployment.apps/shop created",
        "event/worker.1 created",
        "event.events.k8s.io/shop.1 created",
        "lease.coordination.k8s.io/leader created",
    ] {
        assert!(created.lines().any(|l| l == line), "{line:?} in {created}");
    }

    let again = fails(cluster, &["create", "-f", &manifest]);
    assert!(
        again.contains("(AlreadyExists)")
            && again.contains("configmaps \"settings\" already exists"),
        "{again}"
    );

    for (resource, name, kind, api_version) in NAMESPACED {
        let object = get_json(cluster, &["-n", ns, resource, name]);
        assert_eq!(object["kind"], *kind, "{resource}");
        assert_eq!(object["apiVersion"], *api_version, "{resource}");
        assert_eq!(object["metadata"]["name"], *name);
        assert_eq!(object["metadata"]["namespace"], ns);
        for field in ["uid", "resourceVersion", "creationTimestamp"] {
            assert!(
                object["metadata"][field]
                    .as_str()
                    .is_some_and(|v| !v.is_empty()),
                "{resource} metadata.{field}: {object}"
            );
        }
        // Output formats and describe do not depend on the store: once.
        if cluster.backend == Backend::Etcd {
            continue;
        }
        let yaml = ok(cluster, &["get", "-n", ns, resource, name, "-o", "yaml"]);
        assert!(yaml.lines().any(|l| l == format!("kind: {kind}")), "{yaml}");
        assert!(
            yaml.lines().any(|l| l == format!("  name: {name}")),
            "{yaml}"
        );
        let wide = ok(cluster, &["get", "-n", ns, resource, name, "-o", "wide"]);
        // Event tables put NAME last (LAST SEEN first); every other kind first.
        let row = wide.lines().nth(1).unwrap_or_default();
        let placed = if *kind == "Event" {
            row.trim_end().ends_with(name) && wide.starts_with("LAST SEEN")
        } else {
            row.starts_with(name)
        };
        assert!(placed, "{wide}");
    }

    let namespace = get_json(cluster, &["namespace", ns]);
    assert_eq!(namespace["status"]["phase"], "Active");
    assert_eq!(
        namespace["metadata"]["labels"]["kubernetes.io/metadata.name"],
        ns
    );

    let jsonpath = |args: &[&str]| ok(cluster, args);
    assert_eq!(
        jsonpath(&[
            "get",
            "-n",
            ns,
            "cm",
            "settings",
            "-o",
            "jsonpath={.data.color}"
        ]),
        "blue"
    );
    assert_eq!(
        jsonpath(&[
            "get",
            "-n",
            ns,
            "secret",
            "creds",
            "-o",
            "jsonpath={.data.password}"
        ]),
        "aHVudGVyMg==",
        "stringData is folded into base64 data"
    );
    assert_eq!(
        jsonpath(&["get", "-n", ns, "secret", "creds", "-o", "jsonpath={.type}"]),
        "Opaque"
    );
    assert_eq!(
        jsonpath(&[
            "get",
            "-n",
            ns,
            "deploy",
            "shop",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}"
        ]),
        "nginx:1.25"
    );
    assert_eq!(
        jsonpath(&[
            "get",
            "-n",
            ns,
            "cm",
            "-o",
            "jsonpath={.items[*].metadata.name}"
        ]),
        "settings"
    );
    // The events.k8s.io/v1 Event reads back through core/v1 too, converted.
    let core_view = get_json(cluster, &["-n", ns, "events", "shop.1"]);
    assert_eq!(core_view["involvedObject"]["name"], "shop");
    assert_eq!(core_view["message"], "scaled to one");
    assert_eq!(core_view["reportingComponent"], "example.com/scaler");
    let v1_view = get_json(cluster, &["-n", ns, "events.events.k8s.io", "worker.1"]);
    assert_eq!(v1_view["regarding"]["name"], "worker");
    assert_eq!(v1_view["note"], "image pulled");
    assert_eq!(v1_view["deprecatedSource"]["component"], "kubelet");

    // describe reads each kind (and, for some, its events) through typed clients.
    let presentation = if cluster.backend == Backend::Embedded {
        NAMESPACED
    } else {
        &[]
    };
    for (resource, name, _, _) in presentation {
        let described = ok(cluster, &["describe", "-n", ns, resource, name]);
        assert!(
            described
                .lines()
                .next()
                .is_some_and(|l| l.starts_with("Name:") && l.ends_with(name)),
            "{resource}: {described}"
        );
    }
    // kubectl finds a pod's events by kind, name, namespace and uid.
    let uid = get_json(cluster, &["-n", ns, "pod", "worker"])["metadata"]["uid"].clone();
    let event = format!(
        "apiVersion: v1\nkind: Event\nmetadata: {{name: worker.2, namespace: {ns}}}\ninvolvedObject: {{kind: Pod, name: worker, namespace: {ns}, uid: {uid}}}\nreason: Scheduled\nmessage: assigned to node-a\ntype: Normal\n"
    );
    ok_with_stdin(cluster, &["create", "-f", "-"], &event);
    let described = ok(cluster, &["describe", "-n", ns, "pod", "worker"]);
    assert!(described.contains("Status:       Pending"), "{described}");
    assert!(
        described.contains("assigned to node-a") && !described.contains("image pulled"),
        "describe lists the events of this pod only: {described}"
    );

    // Delete the objects, not the namespace (whose controller would race
    // kubectl for them).
    let text = every_kind(ns);
    let objects = text
        .split_once("---\n")
        .map(|(_, rest)| rest)
        .unwrap_or_default();
    let objects = write_file(cluster, "objects.yaml", objects);
    let deleted = ok(cluster, &["delete", "-f", &objects, "--wait=false"]);
    assert!(
        deleted.contains("configmap \"settings\" deleted"),
        "{deleted}"
    );
    for (resource, name, _, _) in NAMESPACED {
        let missing = fails(cluster, &["get", "-n", ns, resource, name]);
        assert!(missing.contains("(NotFound)"), "{resource}: {missing}");
    }

    // Deleting a namespace empties it first, then removes it.
    let manifest = write_file(cluster, "every-kind-again.yaml", &every_kind("doomed"));
    ok(cluster, &["create", "-f", &manifest]);
    let deleted = ok(cluster, &["delete", "namespace", "doomed", "--timeout=30s"]);
    assert!(
        deleted.contains("namespace \"doomed\" deleted"),
        "{deleted}"
    );
    let gone = fails(cluster, &["get", "namespace", "doomed"]);
    assert!(gone.contains("(NotFound)"), "{gone}");
    for (resource, _, _, _) in NAMESPACED {
        assert!(
            names(cluster, &[resource, "-n", "doomed"]).is_empty(),
            "{resource} left behind"
        );
    }
}

/// A ConfigMap and a Service: apply creates, re-apply with one value
/// changed and one field (a data key, a label, a port) removed.
async fn apply_edit_replace_label_annotate(cluster: &mut Cluster) {
    let ns = "apply";
    ok(cluster, &["create", "namespace", ns]);
    let first = format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: conf
  namespace: {ns}
  labels: {{team: a, stage: dev}}
data: {{keep: "1", change: old, drop: gone-soon}}
---
apiVersion: v1
kind: Service
metadata: {{name: api, namespace: {ns}}}
spec:
  selector: {{app: api}}
  ports:
  - {{name: http, port: 80, targetPort: 8080}}
  - {{name: metrics, port: 9090}}
"#
    );
    let created = ok_with_stdin(cluster, &["apply", "-f", "-"], &first);
    assert!(created.contains("configmap/conf created"), "{created}");
    assert!(created.contains("service/api created"), "{created}");
    let cluster_ip = ok(
        cluster,
        &[
            "get",
            "-n",
            ns,
            "svc",
            "api",
            "-o",
            "jsonpath={.spec.clusterIP}",
        ],
    );

    let second = first
        .replace(", stage: dev", "")
        .replace("change: old", "change: new")
        .replace(", drop: gone-soon", "")
        .replace("  - {name: metrics, port: 9090}\n", "");
    let configured = ok_with_stdin(cluster, &["apply", "-f", "-"], &second);
    assert!(
        configured.contains("configmap/conf configured"),
        "{configured}"
    );
    assert!(
        configured.contains("service/api configured"),
        "{configured}"
    );

    let conf = get_json(cluster, &["-n", ns, "cm", "conf"]);
    assert_eq!(
        conf["data"],
        serde_json::json!({"keep": "1", "change": "new"})
    );
    assert_eq!(conf["metadata"]["labels"], serde_json::json!({"team": "a"}));
    let last_applied = conf["metadata"]["annotations"]
        ["kubectl.kubernetes.io/last-applied-configuration"]
        .as_str()
        .expect("apply records the last applied configuration");
    assert!(last_applied.contains("\"change\":\"new\"") && !last_applied.contains("drop"));
    let api = get_json(cluster, &["-n", ns, "svc", "api"]);
    let ports = api["spec"]["ports"].as_array().expect("ports");
    assert_eq!(ports.len(), 1, "{api}");
    assert_eq!(ports[0]["name"], "http");
    assert_eq!(
        api["spec"]["clusterIP"],
        cluster_ip.as_str(),
        "apply keeps the ClusterIP"
    );

    // A Deployment: a removed container, env var, port and annotation go;
    // the rest of each list stays (strategic merge with kubectl's
    // `$setElementOrder` and deletion directives).
    let deployment = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: {ns}, annotations: {{team: a, drop: me}}}}
spec:
  replicas: 2
  selector: {{matchLabels: {{app: app}}}}
  template:
    metadata: {{labels: {{app: app}}}}
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env: [{{name: KEEP, value: "1"}}, {{name: DROP, value: "2"}}]
        ports: [{{containerPort: 80}}, {{containerPort: 9090}}]
      - name: side
        image: envoy:1.0
"#
    );
    ok_with_stdin(cluster, &["apply", "-f", "-"], &deployment);
    let trimmed = deployment
        .replace("replicas: 2", "replicas: 4")
        .replace(", drop: me", "")
        .replace(", {name: DROP, value: \"2\"}", "")
        .replace(", {containerPort: 9090}", "")
        .replace("      - name: side\n        image: envoy:1.0\n", "");
    ok_with_stdin(cluster, &["apply", "-f", "-"], &trimmed);
    let app = get_json(cluster, &["-n", ns, "deploy", "app"]);
    assert_eq!(app["spec"]["replicas"], 4);
    assert!(
        app["metadata"]["annotations"].get("drop").is_none(),
        "{app}"
    );
    assert_eq!(app["metadata"]["annotations"]["team"], "a");
    let containers = app["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 1, "{app}");
    assert_eq!(
        containers[0]["env"],
        serde_json::json!([{"name": "KEEP", "value": "1"}])
    );
    assert_eq!(
        containers[0]["ports"],
        serde_json::json!([{"containerPort": 80, "protocol": "TCP"}])
    );
    assert_eq!(app["metadata"]["generation"], 2);

    let unchanged = ok_with_stdin(cluster, &["apply", "-f", "-"], &second);
    assert!(
        unchanged.contains("configmap/conf unchanged"),
        "{unchanged}"
    );

    // edit: kubectl writes the object to a file, runs the editor, and
    // patches what changed.
    let editor = "sed -i -e s/keep:.*/keep:\\ edited/";
    let edited = ok_with_env(
        cluster,
        &["edit", "-n", ns, "cm", "conf"],
        &[("KUBE_EDITOR", editor)],
    );
    assert!(edited.contains("configmap/conf edited"), "{edited}");
    let conf = get_json(cluster, &["-n", ns, "cm", "conf"]);
    assert_eq!(conf["data"]["keep"], "edited");
    assert_eq!(conf["data"]["change"], "new");

    // replace: a PUT of the whole object, here with the resourceVersion it
    // was read at, so a stale copy is refused.
    let mut copy = conf.clone();
    copy["data"] = serde_json::json!({"only": "this"});
    let copy_path = write_file(cluster, "replace.json", &copy.to_string());
    let replaced = ok(cluster, &["replace", "-f", &copy_path]);
    assert!(replaced.contains("configmap/conf replaced"), "{replaced}");
    let conf = get_json(cluster, &["-n", ns, "cm", "conf"]);
    assert_eq!(conf["data"], serde_json::json!({"only": "this"}));
    let stale = fails(cluster, &["replace", "-f", &copy_path]);
    assert!(
        stale.contains("(Conflict)")
            && stale.contains("the object has been modified; please apply your changes to the latest version and try again"),
        "{stale}"
    );

    // label and annotate: add, refuse to overwrite without --overwrite,
    // overwrite, remove.
    ok(cluster, &["label", "-n", ns, "cm", "conf", "tier=web"]);
    let refused = fails(cluster, &["label", "-n", ns, "cm", "conf", "tier=db"]);
    assert!(
        refused.contains("'tier' already has a value (web)"),
        "{refused}"
    );
    ok(
        cluster,
        &["label", "-n", ns, "cm", "conf", "tier=db", "--overwrite"],
    );
    ok(cluster, &["label", "-n", ns, "cm", "conf", "team-"]);
    let labels = get_json(cluster, &["-n", ns, "cm", "conf"])["metadata"]["labels"].clone();
    assert_eq!(labels, serde_json::json!({"tier": "db"}));
    ok(
        cluster,
        &["annotate", "-n", ns, "svc", "api", "owner=alice", "note=x"],
    );
    ok(cluster, &["annotate", "-n", ns, "svc", "api", "note-"]);
    let annotations =
        get_json(cluster, &["-n", ns, "svc", "api"])["metadata"]["annotations"].clone();
    assert_eq!(annotations["owner"], "alice");
    assert!(annotations.get("note").is_none(), "{annotations}");
    // Labels on a kind with a spec that tracks generation leave it alone.
    ok(
        cluster,
        &[
            "create",
            "deployment",
            "-n",
            ns,
            "web",
            "--image=nginx:1.25",
        ],
    );
    ok(cluster, &["label", "-n", ns, "deploy", "web", "release=1"]);
    let web = get_json(cluster, &["-n", ns, "deploy", "web"]);
    assert_eq!(web["metadata"]["labels"]["release"], "1");
    assert_eq!(
        web["metadata"]["generation"], 1,
        "metadata changes keep the generation"
    );
}

async fn patches_of_each_type(cluster: &mut Cluster) {
    let ns = "patching";
    ok(cluster, &["create", "namespace", ns]);
    let deployment = format!(
        r#"{{"apiVersion": "apps/v1", "kind": "Deployment",
  "metadata": {{"name": "pair", "namespace": "{ns}"}},
  "spec": {{"selector": {{"matchLabels": {{"app": "pair"}}}},
    "template": {{"metadata": {{"labels": {{"app": "pair"}}}},
      "spec": {{"containers": [
        {{"name": "web", "image": "nginx:1.25", "ports": [{{"containerPort": 80}}]}},
        {{"name": "sidecar", "image": "envoy:1.0"}}]}}}}}}}}"#
    );
    ok(
        cluster,
        &[
            "create",
            "-f",
            &write_file(cluster, "pair.json", &deployment),
        ],
    );

    // Strategic merge: containers merge by name, so one image changes and
    // the other container stays.
    let patched = ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "deploy",
            "pair",
            "--type",
            "strategic",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}"#,
        ],
    );
    assert!(
        patched.contains("deployment.apps/pair patched"),
        "{patched}"
    );
    let pair = get_json(cluster, &["-n", ns, "deploy", "pair"]);
    let containers = pair["spec"]["template"]["spec"]["containers"]
        .as_array()
        .expect("containers");
    assert_eq!(containers.len(), 2, "{pair}");
    assert_eq!(containers[0]["image"], "nginx:1.27");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
    assert_eq!(containers[1]["name"], "sidecar");
    assert_eq!(containers[1]["image"], "envoy:1.0");
    assert_eq!(
        pair["metadata"]["generation"], 2,
        "a spec change bumps the generation"
    );

    // kubectl set image is a strategic merge patch too.
    ok(
        cluster,
        &["set", "image", "-n", ns, "deploy/pair", "sidecar=envoy:2.0"],
    );
    let images = ok(
        cluster,
        &[
            "get",
            "-n",
            ns,
            "deploy",
            "pair",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].image}",
        ],
    );
    assert_eq!(images, "nginx:1.27 envoy:2.0");

    // Merge patch: a list is replaced whole, null deletes a key.
    ok(
        cluster,
        &[
            "create",
            "configmap",
            "-n",
            ns,
            "conf",
            "--from-literal=a=1",
            "--from-literal=b=2",
        ],
    );
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "cm",
            "conf",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"a":null,"c":"3"}}"#,
        ],
    );
    let data = get_json(cluster, &["-n", ns, "cm", "conf"])["data"].clone();
    assert_eq!(data, serde_json::json!({"b": "2", "c": "3"}));
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "deploy",
            "pair",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"template":{"spec":{"containers":[{"name":"solo","image":"busybox"}]}}}}"#,
        ],
    );
    let names_after_merge = ok(
        cluster,
        &[
            "get",
            "-n",
            ns,
            "deploy",
            "pair",
            "-o",
            "jsonpath={.spec.template.spec.containers[*].name}",
        ],
    );
    assert_eq!(names_after_merge, "solo", "a merge patch replaces lists");

    // JSON patch: operations in order, a failed test op refuses the lot.
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "cm",
            "conf",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/data/d","value":"4"},{"op":"replace","path":"/data/b","value":"two"},{"op":"remove","path":"/data/c"}]"#,
        ],
    );
    let data = get_json(cluster, &["-n", ns, "cm", "conf"])["data"].clone();
    assert_eq!(data, serde_json::json!({"b": "two", "d": "4"}));
    let failed = fails(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "cm",
            "conf",
            "--type",
            "json",
            "-p",
            r#"[{"op":"add","path":"/data/e","value":"5"},{"op":"test","path":"/data/b","value":"nope"}]"#,
        ],
    );
    assert!(!failed.is_empty());
    let data = get_json(cluster, &["-n", ns, "cm", "conf"])["data"].clone();
    assert_eq!(
        data,
        serde_json::json!({"b": "two", "d": "4"}),
        "a failed patch changes nothing"
    );

    // Strategic merge on a Service's ports (merge key `port`) and a Pod's labels.
    ok(
        cluster,
        &[
            "create",
            "service",
            "clusterip",
            "-n",
            ns,
            "svc",
            "--tcp=80:8080",
        ],
    );
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "svc",
            "svc",
            "-p",
            r#"{"spec":{"ports":[{"port":443,"name":"https"}]}}"#,
        ],
    );
    let ports = ok(
        cluster,
        &[
            "get",
            "-n",
            ns,
            "svc",
            "svc",
            "-o",
            "jsonpath={.spec.ports[*].port}",
        ],
    );
    let mut ports: Vec<&str> = ports.split(' ').collect();
    ports.sort_unstable();
    assert_eq!(ports, ["443", "80"], "ports merge by their port number");
    let patch_on_missing = fails(cluster, &["patch", "-n", ns, "cm", "absent", "-p", "{}"]);
    assert!(
        patch_on_missing.contains("(NotFound)"),
        "{patch_on_missing}"
    );
}

async fn selectors_and_pagination(cluster: &mut Cluster) {
    let ns = "select";
    ok(cluster, &["create", "namespace", ns]);
    let mut manifest = String::new();
    for i in 0..25 {
        manifest.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i:02}, namespace: {ns}, labels: {{tier: t{}, number: \"{i}\"}}}}\n",
            i % 3
        ));
    }
    manifest.push_str(&format!(
        "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: bare, namespace: {ns}}}\n"
    ));
    ok(
        cluster,
        &["create", "-f", &write_file(cluster, "many.yaml", &manifest)],
    );

    let pick = |selector: &str| names(cluster, &["cm", "-n", ns, "-l", selector]);
    assert_eq!(pick("number=4"), ["cm-04"]);
    assert_eq!(pick("number==4"), ["cm-04"]);
    assert_eq!(pick("tier=t0,number!=0").len(), 8);
    assert_eq!(pick("number in (1,2,30)"), ["cm-01", "cm-02"]);
    assert_eq!(
        pick("tier notin (t0,t1)").len(),
        9,
        "notin also matches objects without the label"
    );
    assert_eq!(pick("tier").len(), 25);
    assert_eq!(pick("!tier"), ["bare"]);
    assert_eq!(pick("tier in (t2),number notin (2,5)").len(), 6);
    let bad = fails(cluster, &["get", "cm", "-n", ns, "-l", "tier in t0"]);
    assert!(
        bad.contains("unable to parse requirement") || bad.contains("found 't0', expected: '('"),
        "{bad}"
    );

    // Field selectors: metadata, then per-kind fields.
    assert_eq!(
        names(
            cluster,
            &[
                "cm",
                "-A",
                "--field-selector",
                &format!("metadata.namespace={ns},metadata.name=cm-07")
            ]
        ),
        ["cm-07"]
    );
    assert_eq!(
        names(
            cluster,
            &["cm", "-n", ns, "--field-selector", "metadata.name!=bare"]
        )
        .len(),
        25
    );
    ok(
        cluster,
        &[
            "create",
            "secret",
            "generic",
            "-n",
            ns,
            "plain",
            "--from-literal=k=v",
        ],
    );
    ok(
        cluster,
        &[
            "create",
            "secret",
            "docker-registry",
            "-n",
            ns,
            "pull",
            "--docker-server=r.example",
            "--docker-username=u",
            "--docker-password=p",
        ],
    );
    assert_eq!(
        names(
            cluster,
            &["secrets", "-n", ns, "--field-selector", "type=Opaque"]
        ),
        ["plain"]
    );
    assert_eq!(
        names(
            cluster,
            &[
                "secrets",
                "-n",
                ns,
                "--field-selector",
                "type=kubernetes.io/dockerconfigjson"
            ]
        ),
        ["pull"]
    );
    let events = format!(
        r#"apiVersion: v1
kind: Event
metadata: {{name: a.1, namespace: {ns}}}
involvedObject: {{kind: Pod, name: alpha, namespace: {ns}}}
reason: Created
type: Normal
---
apiVersion: v1
kind: Event
metadata: {{name: b.1, namespace: {ns}}}
involvedObject: {{kind: Pod, name: beta, namespace: {ns}}}
reason: Killing
type: Warning
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {{name: c.1, namespace: {ns}}}
eventTime: "2026-01-02T03:04:05.000000Z"
reportingController: example.com/ctl
reportingInstance: ctl-0
action: Sync
reason: Synced
type: Normal
regarding: {{kind: Pod, name: alpha, namespace: {ns}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: pending, namespace: {ns}}}
spec: {{containers: [{{name: c, image: busybox}}]}}
"#
    );
    ok(
        cluster,
        &["create", "-f", &write_file(cluster, "events.yaml", &events)],
    );
    assert_eq!(
        names(
            cluster,
            &[
                "events",
                "-n",
                ns,
                "--field-selector",
                "involvedObject.name=beta"
            ]
        ),
        ["b.1"]
    );
    assert_eq!(
        names(
            cluster,
            &["events", "-n", ns, "--field-selector", "type=Warning"]
        ),
        ["b.1"]
    );
    assert_eq!(
        names(
            cluster,
            &["events", "-n", ns, "--field-selector", "reason=Created"]
        ),
        ["a.1"]
    );
    assert_eq!(
        names(
            cluster,
            &["pods", "-n", ns, "--field-selector", "status.phase=Pending"]
        ),
        ["pending"]
    );
    assert!(names(
        cluster,
        &["pods", "-n", ns, "--field-selector", "status.phase=Running"]
    )
    .is_empty());
    assert_eq!(
        names(
            cluster,
            &[
                "pods",
                "-n",
                ns,
                "--field-selector",
                "spec.restartPolicy=Always"
            ]
        ),
        ["pending"]
    );
    // Events: core/v1 labels, `source` falling back to the reporting
    // controller; events.k8s.io/v1 takes its own spellings only.
    let event_names = |resource: &str, selector: &str| {
        names(cluster, &[resource, "-n", ns, "--field-selector", selector])
    };
    assert_eq!(
        event_names("events", "involvedObject.name=alpha"),
        ["a.1", "c.1"]
    );
    assert_eq!(event_names("events", "source=example.com/ctl"), ["c.1"]);
    assert_eq!(
        event_names("events", "reportingComponent=example.com/ctl"),
        ["c.1"]
    );
    let v1 = "events.events.k8s.io";
    assert_eq!(event_names(v1, "regarding.name=beta"), ["b.1"]);
    assert_eq!(
        event_names(v1, "regarding.kind=Pod,type=Normal"),
        ["a.1", "c.1"]
    );
    assert_eq!(
        event_names(v1, "reportingController=example.com/ctl"),
        ["c.1"]
    );
    let core_label = fails(
        cluster,
        &[
            "get",
            v1,
            "-n",
            ns,
            "--field-selector",
            "involvedObject.name=beta",
        ],
    );
    assert!(
        core_label.contains("field label not supported: involvedObject.name"),
        "{core_label}"
    );
    let unsupported = fails(
        cluster,
        &["get", "cm", "-n", ns, "--field-selector", "data.k=v"],
    );
    assert!(
        unsupported.contains("field label not supported: data.k"),
        "{unsupported}"
    );

    // --chunk-size: kubectl follows the continue tokens until the end.
    let trace = cluster.kubectl(&[
        "get",
        "cm",
        "-n",
        ns,
        "--chunk-size=7",
        "-o",
        "name",
        "-v=6",
    ]);
    assert!(trace.status.success());
    let listed = String::from_utf8_lossy(&trace.stdout);
    assert_eq!(listed.lines().count(), 26, "{listed}");
    let log = String::from_utf8_lossy(&trace.stderr);
    let pages = log
        .lines()
        .filter(|l| l.contains("GET") && l.contains("limit=7"))
        .count();
    assert_eq!(pages, 4, "26 objects in pages of 7:\n{log}");
    assert_eq!(log.matches("continue=").count(), 3, "{log}");
    // The table output pages the same way and prints one header.
    let table = ok(cluster, &["get", "cm", "-n", ns, "--chunk-size=10"]);
    assert_eq!(
        table.lines().filter(|l| l.starts_with("NAME")).count(),
        1,
        "{table}"
    );
    assert_eq!(table.lines().count(), 27);

    // delete --all removes one kind in one namespace, nothing else.
    ok(cluster, &["create", "namespace", "bystander"]);
    ok(cluster, &["create", "configmap", "-n", "bystander", "safe"]);
    let deleted = ok(cluster, &["delete", "cm", "--all", "-n", ns]);
    assert!(deleted.contains("configmap \"cm-13\" deleted"), "{deleted}");
    assert!(names(cluster, &["cm", "-n", ns]).is_empty());
    assert_eq!(names(cluster, &["secrets", "-n", ns]), ["plain", "pull"]);
    assert_eq!(names(cluster, &["cm", "-n", "bystander"]), ["safe"]);
    ok(
        cluster,
        &["delete", "events", "-n", ns, "-l", "absent-label"],
    );
    ok(
        cluster,
        &[
            "delete",
            "secrets",
            "-n",
            ns,
            "--field-selector",
            "type=Opaque",
        ],
    );
    assert_eq!(names(cluster, &["secrets", "-n", ns]), ["pull"]);
}

async fn watch_reports_each_change(cluster: &mut Cluster) {
    let ns = "watching";
    ok(cluster, &["create", "namespace", ns]);
    ok(cluster, &["create", "configmap", "-n", ns, "before"]);
    let watch = Watch::start(cluster, "cm", &["cm", "-n", ns, "--output-watch-events"]);
    ok(cluster, &["create", "configmap", "-n", ns, "live"]);
    ok(cluster, &["label", "-n", ns, "cm", "live", "changed=yes"]);
    ok(cluster, &["delete", "cm", "-n", ns, "live"]);
    let text = watch.wait_for(|line| line.starts_with("DELETED"));
    let events = watch_events(&text);
    let expected: Vec<(String, String)> = [
        ("ADDED", "before"),
        ("ADDED", "live"),
        ("MODIFIED", "live"),
        ("DELETED", "live"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(events, expected, "{text}");
    assert!(
        text.lines().next().is_some_and(|h| h.starts_with("EVENT")),
        "{text}"
    );

    // A label-selected watch on deployments sees only its objects: a label
    // change into the selection is an ADDED, out of it a DELETED.
    ok(
        cluster,
        &["create", "deployment", "-n", ns, "early", "--image=nginx"],
    );
    ok(
        cluster,
        &["label", "-n", ns, "deploy", "early", "watched=yes"],
    );
    let selected = Watch::start(
        cluster,
        "deploy",
        &[
            "deploy",
            "-n",
            ns,
            "-l",
            "watched=yes",
            "--output-watch-events",
        ],
    );
    ok(
        cluster,
        &["create", "deployment", "-n", ns, "other", "--image=nginx"],
    );
    ok(
        cluster,
        &["create", "deployment", "-n", ns, "mine", "--image=nginx"],
    );
    ok(
        cluster,
        &["label", "-n", ns, "deploy", "mine", "watched=yes"],
    );
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "deploy",
            "mine",
            "-p",
            r#"{"spec":{"replicas":3}}"#,
        ],
    );
    ok(
        cluster,
        &[
            "label",
            "-n",
            ns,
            "deploy",
            "mine",
            "watched=no",
            "--overwrite",
        ],
    );
    let text = selected.wait_for(|line| line.starts_with("DELETED"));
    let events = watch_events(&text);
    let expected: Vec<(String, String)> = [
        ("ADDED", "early"),
        ("ADDED", "mine"),
        ("MODIFIED", "mine"),
        ("DELETED", "mine"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(events, expected, "{text}");
}

async fn server_dry_runs_store_nothing(cluster: &mut Cluster) {
    let ns = "dry";
    ok(cluster, &["create", "namespace", ns]);
    let manifest = write_file(
        cluster,
        "dry.yaml",
        &every_kind(ns).replacen(
            "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: dry\n---\n",
            "",
            1,
        ),
    );
    let out = ok(cluster, &["create", "-f", &manifest, "--dry-run=server"]);
    assert_eq!(
        out.matches("(server dry run)").count(),
        NAMESPACED.len(),
        "{out}"
    );
    for (resource, _, _, _) in NAMESPACED {
        assert!(
            names(cluster, &[resource, "-n", ns]).is_empty(),
            "{resource} stored by a dry run"
        );
    }
    // A dry-run create still answers with the defaulted object.
    let svc = ok(
        cluster,
        &[
            "create",
            "service",
            "clusterip",
            "-n",
            ns,
            "preview",
            "--tcp=80",
            "--dry-run=server",
            "-o",
            "json",
        ],
    );
    let svc: Value = serde_json::from_str(&svc).expect("JSON");
    assert_eq!(svc["spec"]["type"], "ClusterIP");
    assert_eq!(svc["spec"]["sessionAffinity"], "None");

    ok(
        cluster,
        &[
            "create",
            "configmap",
            "-n",
            ns,
            "real",
            "--from-literal=k=v",
        ],
    );
    let before = get_json(cluster, &["-n", ns, "cm", "real"]);
    ok(
        cluster,
        &["label", "-n", ns, "cm", "real", "x=y", "--dry-run=server"],
    );
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "cm",
            "real",
            "-p",
            r#"{"data":{"k":"w"}}"#,
            "--dry-run=server",
        ],
    );
    ok(cluster, &["apply", "-f", &manifest, "--dry-run=server"]);
    let deleted = ok(
        cluster,
        &["delete", "cm", "-n", ns, "real", "--dry-run=server"],
    );
    assert!(deleted.contains("(server dry run)"), "{deleted}");
    ok(
        cluster,
        &["delete", "cm", "-n", ns, "--all", "--dry-run=server"],
    );
    let after = get_json(cluster, &["-n", ns, "cm", "real"]);
    assert_eq!(
        after, before,
        "dry runs change nothing, not even the resourceVersion"
    );
    assert_eq!(names(cluster, &["cm", "-n", ns]), ["real"]);
}

/// Discovery as kubectl shows it; the same on every backend, so once.
#[tokio::test]
async fn api_resources_versions_and_explain() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    let resources = ok(&cluster, &["api-resources", "--no-headers"]);
    let rows: Vec<Vec<&str>> = resources
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let row = |name: &str, api_version: &str| -> Vec<&str> {
        rows.iter()
            .find(|r| r[0] == name && r.contains(&api_version))
            .unwrap_or_else(|| panic!("{name} {api_version} missing from\n{resources}"))
            .clone()
    };
    assert_eq!(
        row("namespaces", "v1"),
        ["namespaces", "ns", "v1", "false", "Namespace"]
    );
    assert_eq!(
        row("configmaps", "v1"),
        ["configmaps", "cm", "v1", "true", "ConfigMap"]
    );
    assert_eq!(row("secrets", "v1"), ["secrets", "v1", "true", "Secret"]);
    assert_eq!(
        row("serviceaccounts", "v1"),
        ["serviceaccounts", "sa", "v1", "true", "ServiceAccount"]
    );
    assert_eq!(
        row("services", "v1"),
        ["services", "svc", "v1", "true", "Service"]
    );
    assert_eq!(
        row("endpoints", "v1"),
        ["endpoints", "ep", "v1", "true", "Endpoints"]
    );
    assert_eq!(row("pods", "v1"), ["pods", "po", "v1", "true", "Pod"]);
    assert_eq!(row("events", "v1"), ["events", "ev", "v1", "true", "Event"]);
    assert_eq!(
        row("deployments", "apps/v1"),
        ["deployments", "deploy", "apps/v1", "true", "Deployment"]
    );
    assert_eq!(
        row("events", "events.k8s.io/v1"),
        ["events", "ev", "events.k8s.io/v1", "true", "Event"]
    );
    assert_eq!(
        row("leases", "coordination.k8s.io/v1"),
        ["leases", "coordination.k8s.io/v1", "true", "Lease"]
    );
    assert_eq!(
        row("endpointslices", "discovery.k8s.io/v1"),
        [
            "endpointslices",
            "discovery.k8s.io/v1",
            "true",
            "EndpointSlice"
        ]
    );
    let wide = ok(
        &cluster,
        &["api-resources", "-o", "wide", "--api-group=apps"],
    );
    assert!(
        wide.lines().any(|l| l.contains("deployments")
            && l.contains("create,delete,deletecollection,get,list,patch,update,watch")
            && l.contains("all")),
        "{wide}"
    );
    let namespaced = ok(
        &cluster,
        &["api-resources", "--namespaced=false", "-o", "name"],
    );
    assert!(
        namespaced.lines().any(|l| l == "namespaces"),
        "{namespaced}"
    );
    assert!(!namespaced.lines().any(|l| l == "pods"), "{namespaced}");

    let versions = ok(&cluster, &["api-versions"]);
    for version in [
        "v1",
        "apps/v1",
        "coordination.k8s.io/v1",
        "discovery.k8s.io/v1",
        "events.k8s.io/v1",
    ] {
        assert!(
            versions.lines().any(|l| l == version),
            "{version} in {versions}"
        );
    }

    let explained = ok(&cluster, &["explain", "deployment.spec.strategy"]);
    assert!(explained.contains("GROUP:      apps"), "{explained}");
    assert!(explained.contains("KIND:       Deployment"), "{explained}");
    assert!(
        explained.contains("rollingUpdate\t<RollingUpdateDeployment>"),
        "{explained}"
    );
    let explained = ok(&cluster, &["explain", "pods.spec.restartPolicy"]);
    assert!(
        explained.contains("FIELD: restartPolicy <string>"),
        "{explained}"
    );
    assert!(explained.contains("Always"), "{explained}");
    let explained = ok(
        &cluster,
        &["explain", "leases", "--api-version=coordination.k8s.io/v1"],
    );
    assert!(explained.contains("KIND:       Lease"), "{explained}");
    let missing = fails(&cluster, &["explain", "configmaps.nosuchfield"]);
    assert!(
        missing.contains("field \"nosuchfield\" does not exist"),
        "{missing}"
    );
}

/// Upstream's strategic merge puts list items the patch adds before the
/// items only the server had (`normalizeElementOrder`): a new port or a new
/// container comes first.
#[tokio::test]
async fn strategic_merge_puts_new_list_items_first() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(
        &cluster,
        &["create", "service", "clusterip", "svc", "--tcp=80:8080"],
    );
    ok(
        &cluster,
        &[
            "patch",
            "svc",
            "svc",
            "-p",
            r#"{"spec":{"ports":[{"port":443,"name":"https"}]}}"#,
        ],
    );
    let ports = ok(
        &cluster,
        &["get", "svc", "svc", "-o", "jsonpath={.spec.ports[*].port}"],
    );
    assert_eq!(ports, "443 80");
}

/// `kubectl scale` reads and writes the `/scale` subresource of a
/// Deployment (autoscaling/v1 Scale).
#[tokio::test]
async fn kubectl_scale_uses_the_scale_subresource() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    ok(&cluster, &["create", "deployment", "web", "--image=nginx"]);
    let scaled = ok(&cluster, &["scale", "deploy", "web", "--replicas=3"]);
    assert!(scaled.contains("deployment.apps/web scaled"), "{scaled}");
    let replicas = ok(
        &cluster,
        &["get", "deploy", "web", "-o", "jsonpath={.spec.replicas}"],
    );
    assert_eq!(replicas, "3");
    let scale = ok(
        &cluster,
        &[
            "get",
            "--raw",
            "/apis/apps/v1/namespaces/default/deployments/web/scale",
        ],
    );
    let scale: serde_json::Value = serde_json::from_str(&scale).expect("a Scale in JSON");
    assert_eq!(scale["kind"], "Scale");
}
