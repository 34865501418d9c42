//! `kubectl get` prints the server's Table: these tests check the columns
//! and the cells that carry meaning for each built-in kind, as upstream's
//! printers fill them (pkg/printers/internalversion). One server; each
//! test works in its own namespace.

mod support;

use support::{ok, write_file, Backend, Cluster, Table};

fn get_table(cluster: &Cluster, args: &[&str]) -> Table {
    let mut all = vec!["get"];
    all.extend_from_slice(args);
    Table::parse(&ok(cluster, &all))
}

fn create(cluster: &Cluster, name: &str, manifest: &str) {
    ok(
        cluster,
        &["create", "-f", &write_file(cluster, name, manifest)],
    );
}

fn assert_headers(table: &Table, expected: &[&str]) {
    assert_eq!(table.headers, expected, "{table:?}");
}

#[tokio::test]
async fn tables_of_every_builtin_kind() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    config_and_accounts(&cluster);
    services(&cluster);
    endpoints_and_slices(&cluster);
    pods(&cluster);
    deployments(&cluster);
    events(&cluster);
    leases(&cluster);
}

fn config_and_accounts(cluster: &Cluster) {
    ok(cluster, &["create", "namespace", "config"]);
    ok(
        cluster,
        &[
            "create",
            "configmap",
            "-n",
            "config",
            "two",
            "--from-literal=a=1",
            "--from-literal=b=2",
        ],
    );
    ok(cluster, &["create", "configmap", "-n", "config", "empty"]);
    let table = get_table(cluster, &["configmaps", "-n", "config"]);
    assert_headers(&table, &["NAME", "DATA", "AGE"]);
    assert_eq!(table.cell("two", "DATA"), "2");
    assert_eq!(table.cell("empty", "DATA"), "0");
    assert!(table.cell("two", "AGE").ends_with('s'), "{table:?}");

    ok(
        cluster,
        &[
            "create",
            "secret",
            "generic",
            "-n",
            "config",
            "opaque",
            "--from-literal=a=1",
        ],
    );
    ok(
        cluster,
        &[
            "create",
            "secret",
            "docker-registry",
            "-n",
            "config",
            "pull",
            "--docker-server=r",
            "--docker-username=u",
            "--docker-password=p",
        ],
    );
    let table = get_table(cluster, &["secrets", "-n", "config"]);
    assert_headers(&table, &["NAME", "TYPE", "DATA", "AGE"]);
    assert_eq!(table.cell("opaque", "TYPE"), "Opaque");
    assert_eq!(table.cell("opaque", "DATA"), "1");
    assert_eq!(table.cell("pull", "TYPE"), "kubernetes.io/dockerconfigjson");

    ok(
        cluster,
        &["create", "serviceaccount", "-n", "config", "robot"],
    );
    let table = get_table(cluster, &["serviceaccounts", "-n", "config"]);
    assert_headers(&table, &["NAME", "SECRETS", "AGE"]);
    assert_eq!(table.cell("robot", "SECRETS"), "0");

    let table = get_table(cluster, &["namespaces"]);
    assert_headers(&table, &["NAME", "STATUS", "AGE"]);
    assert_eq!(table.cell("config", "STATUS"), "Active");
    assert_eq!(table.cell("default", "STATUS"), "Active");
    let labels = get_table(cluster, &["namespace", "config", "--show-labels"]);
    assert_eq!(
        labels.cell("config", "LABELS"),
        "kubernetes.io/metadata.name=config"
    );
}

fn services(cluster: &Cluster) {
    let ns = "svc";
    ok(cluster, &["create", "namespace", ns]);
    create(
        cluster,
        "services.yaml",
        &format!(
            r#"apiVersion: v1
kind: Service
metadata: {{name: plain, namespace: {ns}}}
spec:
  selector: {{app: web, tier: front}}
  ports: [{{name: http, port: 80, targetPort: 8080}}, {{name: dns, port: 53, protocol: UDP}}]
---
apiVersion: v1
kind: Service
metadata: {{name: headless, namespace: {ns}}}
spec:
  clusterIP: None
  ports: [{{port: 5432}}]
---
apiVersion: v1
kind: Service
metadata: {{name: nodeport, namespace: {ns}}}
spec:
  type: NodePort
  externalIPs: [192.0.2.10]
  ports: [{{port: 443, nodePort: 30443}}]
---
apiVersion: v1
kind: Service
metadata: {{name: balancer, namespace: {ns}}}
spec:
  type: LoadBalancer
  ports: [{{port: 8443}}]
---
apiVersion: v1
kind: Service
metadata: {{name: alias, namespace: {ns}}}
spec:
  type: ExternalName
  externalName: db.example.com
"#
        ),
    );
    let table = get_table(cluster, &["services", "-n", ns, "-o", "wide"]);
    assert_headers(
        &table,
        &[
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
            "SELECTOR",
        ],
    );
    assert_eq!(table.cell("plain", "TYPE"), "ClusterIP");
    assert!(
        table.cell("plain", "CLUSTER-IP").starts_with("10."),
        "{table:?}"
    );
    assert_eq!(table.cell("plain", "EXTERNAL-IP"), "<none>");
    assert_eq!(table.cell("plain", "PORT(S)"), "80/TCP,53/UDP");
    assert_eq!(table.cell("plain", "SELECTOR"), "app=web,tier=front");
    assert_eq!(table.cell("headless", "CLUSTER-IP"), "None");
    assert_eq!(table.cell("headless", "SELECTOR"), "<none>");
    assert_eq!(table.cell("nodeport", "TYPE"), "NodePort");
    assert_eq!(table.cell("nodeport", "EXTERNAL-IP"), "192.0.2.10");
    assert_eq!(table.cell("nodeport", "PORT(S)"), "443:30443/TCP");
    assert_eq!(table.cell("balancer", "TYPE"), "LoadBalancer");
    assert_eq!(table.cell("balancer", "EXTERNAL-IP"), "<pending>");
    let balancer_ports = table.cell("balancer", "PORT(S)");
    assert!(
        balancer_ports.starts_with("8443:3") && balancer_ports.ends_with("/TCP"),
        "a LoadBalancer gets a node port: {balancer_ports}"
    );
    assert_eq!(table.cell("alias", "TYPE"), "ExternalName");
    assert_eq!(table.cell("alias", "CLUSTER-IP"), "<none>");
    assert_eq!(table.cell("alias", "EXTERNAL-IP"), "db.example.com");
    assert_eq!(table.cell("alias", "PORT(S)"), "<none>");
    let plain = get_table(cluster, &["services", "-n", ns]);
    assert_headers(
        &plain,
        &[
            "NAME",
            "TYPE",
            "CLUSTER-IP",
            "EXTERNAL-IP",
            "PORT(S)",
            "AGE",
        ],
    );
}

fn endpoints_and_slices(cluster: &Cluster) {
    let ns = "eps";
    ok(cluster, &["create", "namespace", ns]);
    create(
        cluster,
        "endpoints.yaml",
        &format!(
            r#"apiVersion: v1
kind: Endpoints
metadata: {{name: few, namespace: {ns}}}
subsets:
- addresses: [{{ip: 10.0.0.1}}, {{ip: 10.0.0.2}}]
  ports: [{{port: 8080}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: many, namespace: {ns}}}
subsets:
- addresses: [{{ip: 10.0.0.1}}, {{ip: 10.0.0.2}}, {{ip: 10.0.0.3}}, {{ip: 10.0.0.4}}, {{ip: 10.0.0.5}}]
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: Endpoints
metadata: {{name: none, namespace: {ns}}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: slice, namespace: {ns}}}
addressType: IPv4
endpoints: [{{addresses: [10.0.0.1]}}, {{addresses: [10.0.0.2]}}]
ports: [{{name: http, port: 8080}}, {{name: admin, port: 9090}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: bare, namespace: {ns}}}
addressType: IPv6
endpoints: []
"#
        ),
    );
    let table = get_table(cluster, &["endpoints", "-n", ns]);
    assert_headers(&table, &["NAME", "ENDPOINTS", "AGE"]);
    assert_eq!(
        table.cell("few", "ENDPOINTS"),
        "10.0.0.1:8080,10.0.0.2:8080"
    );
    assert_eq!(
        table.cell("many", "ENDPOINTS"),
        "10.0.0.1:80,10.0.0.2:80,10.0.0.3:80 + 2 more..."
    );
    assert_eq!(table.cell("none", "ENDPOINTS"), "<none>");

    let table = get_table(cluster, &["endpointslices", "-n", ns]);
    assert_headers(
        &table,
        &["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"],
    );
    assert_eq!(table.cell("slice", "ADDRESSTYPE"), "IPv4");
    assert_eq!(table.cell("slice", "PORTS"), "8080,9090");
    assert_eq!(table.cell("slice", "ENDPOINTS"), "10.0.0.1,10.0.0.2");
    assert_eq!(table.cell("bare", "ADDRESSTYPE"), "IPv6");
    assert_eq!(table.cell("bare", "PORTS"), "<unset>");
    assert_eq!(table.cell("bare", "ENDPOINTS"), "<unset>");
}

/// Pod status is written through `/status`, as a kubelet would.
fn pods(cluster: &Cluster) {
    let ns = "pods";
    ok(cluster, &["create", "namespace", ns]);
    create(
        cluster,
        "pods.yaml",
        &format!(
            r#"apiVersion: v1
kind: Pod
metadata: {{name: fresh, namespace: {ns}}}
spec: {{containers: [{{name: a, image: busybox}}, {{name: b, image: busybox}}]}}
---
apiVersion: v1
kind: Pod
metadata: {{name: running, namespace: {ns}}}
spec: {{containers: [{{name: a, image: busybox}}, {{name: b, image: busybox}}], nodeName: node-1}}
---
apiVersion: v1
kind: Pod
metadata: {{name: done, namespace: {ns}}}
spec: {{restartPolicy: Never, containers: [{{name: a, image: busybox}}]}}
"#
        ),
    );
    let finished = minutes_ago(30);
    let running_status = format!(
        r#"{{"status":{{"phase":"Running","podIP":"10.244.0.7","podIPs":[{{"ip":"10.244.0.7"}}],
          "conditions":[{{"type":"Ready","status":"False"}}],
          "containerStatuses":[
            {{"name":"a","ready":true,"restartCount":0,"image":"busybox","imageID":"","state":{{"running":{{"startedAt":"{finished}"}}}}}},
            {{"name":"b","ready":false,"restartCount":3,"image":"busybox","imageID":"",
              "state":{{"waiting":{{"reason":"CrashLoopBackOff"}}}},
              "lastState":{{"terminated":{{"exitCode":1,"finishedAt":"{finished}"}}}}}}]}}}}"#
    );
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "pod",
            "running",
            "--subresource=status",
            "--type=merge",
            "-p",
            &running_status,
        ],
    );
    let done_status = r#"{"status":{"phase":"Succeeded","containerStatuses":[
        {"name":"a","ready":false,"restartCount":0,"image":"busybox","imageID":"",
         "state":{"terminated":{"exitCode":0,"reason":"Completed"}}}]}}"#;
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "pod",
            "done",
            "--subresource=status",
            "--type=merge",
            "-p",
            done_status,
        ],
    );

    let table = get_table(cluster, &["pods", "-n", ns]);
    assert_headers(&table, &["NAME", "READY", "STATUS", "RESTARTS", "AGE"]);
    assert_eq!(table.cell("fresh", "READY"), "0/2");
    assert_eq!(table.cell("fresh", "STATUS"), "Pending");
    assert_eq!(table.cell("fresh", "RESTARTS"), "0");
    assert_eq!(table.cell("running", "READY"), "1/2");
    assert_eq!(table.cell("running", "STATUS"), "CrashLoopBackOff");
    assert_eq!(table.cell("running", "RESTARTS"), "3 (30m ago)");
    assert_eq!(table.cell("done", "READY"), "0/1");
    assert_eq!(table.cell("done", "STATUS"), "Completed");

    let wide = get_table(cluster, &["pods", "-n", ns, "-o", "wide"]);
    assert_headers(
        &wide,
        &[
            "NAME",
            "READY",
            "STATUS",
            "RESTARTS",
            "AGE",
            "IP",
            "NODE",
            "NOMINATED NODE",
            "READINESS GATES",
        ],
    );
    assert_eq!(wide.cell("running", "IP"), "10.244.0.7");
    assert_eq!(wide.cell("running", "NODE"), "node-1");
    assert_eq!(wide.cell("fresh", "IP"), "<none>");
    assert_eq!(wide.cell("fresh", "NODE"), "<none>");
    assert_eq!(wide.cell("fresh", "READINESS GATES"), "<none>");

    // A pod being deleted (held by a finalizer) shows Terminating.
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "pod",
            "fresh",
            "-p",
            r#"{"metadata":{"finalizers":["example.com/hold"]}}"#,
        ],
    );
    ok(
        cluster,
        &["delete", "-n", ns, "pod", "fresh", "--wait=false"],
    );
    let table = get_table(cluster, &["pods", "-n", ns]);
    assert_eq!(table.cell("fresh", "STATUS"), "Terminating");
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "pod",
            "fresh",
            "--type=json",
            "-p",
            r#"[{"op":"remove","path":"/metadata/finalizers"}]"#,
        ],
    );
}

fn deployments(cluster: &Cluster) {
    let ns = "deploys";
    ok(cluster, &["create", "namespace", ns]);
    ok(
        cluster,
        &[
            "create",
            "deployment",
            "-n",
            ns,
            "web",
            "--image=nginx:1.25",
            "--image=envoy:1.0",
            "--replicas=3",
        ],
    );
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "deploy",
            "web",
            "--subresource=status",
            "--type=merge",
            "-p",
            r#"{"status":{"replicas":3,"readyReplicas":2,"updatedReplicas":3,"availableReplicas":1}}"#,
        ],
    );
    let table = get_table(cluster, &["deployments", "-n", ns, "-o", "wide"]);
    assert_headers(
        &table,
        &[
            "NAME",
            "READY",
            "UP-TO-DATE",
            "AVAILABLE",
            "AGE",
            "CONTAINERS",
            "IMAGES",
            "SELECTOR",
        ],
    );
    assert_eq!(table.cell("web", "READY"), "2/3");
    assert_eq!(table.cell("web", "UP-TO-DATE"), "3");
    assert_eq!(table.cell("web", "AVAILABLE"), "1");
    assert_eq!(table.cell("web", "CONTAINERS"), "nginx,envoy");
    assert_eq!(table.cell("web", "IMAGES"), "nginx:1.25,envoy:1.0");
    assert_eq!(table.cell("web", "SELECTOR"), "app=web");
}

fn events(cluster: &Cluster) {
    let ns = "events";
    ok(cluster, &["create", "namespace", ns]);
    create(
        cluster,
        "events.yaml",
        &format!(
            r#"apiVersion: v1
kind: Event
metadata: {{name: pulled, namespace: {ns}}}
involvedObject: {{kind: Pod, name: web-1, namespace: {ns}, fieldPath: "spec.containers{{main}}"}}
reason: Pulled
message: "  Successfully pulled image  "
type: Normal
count: 4
source: {{component: kubelet, host: node-1}}
firstTimestamp: "{first}"
lastTimestamp: "{last}"
---
apiVersion: events.k8s.io/v1
kind: Event
metadata: {{name: scaled, namespace: {ns}}}
eventTime: "{last_micro}"
reportingController: deployment-controller
reportingInstance: ctl-0
action: Scale
reason: ScalingReplicaSet
note: Scaled up replica set web-1 to 3
type: Warning
regarding: {{kind: Deployment, name: web, namespace: {ns}}}
"#,
            first = minutes_ago(90),
            last = minutes_ago(30),
            last_micro = minutes_ago(30).replace('Z', ".000000Z"),
        ),
    );
    let output = ok(cluster, &["get", "events", "-n", ns, "-o", "wide"]);
    let table = Table::parse(&output);
    let row = |name: &str| -> Vec<String> {
        let index = table
            .headers
            .iter()
            .rposition(|h| h == "NAME")
            .expect("a NAME column");
        table
            .rows
            .iter()
            .find(|row| row[index] == name)
            .unwrap_or_else(|| panic!("no event {name} in {output}"))
            .clone()
    };
    let column = |name: &str| {
        table
            .headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("{name} in {output}"))
    };
    let pulled = row("pulled");
    assert_eq!(pulled[column("LAST SEEN")], "30m");
    assert_eq!(pulled[column("TYPE")], "Normal");
    assert_eq!(pulled[column("REASON")], "Pulled");
    assert_eq!(pulled[column("OBJECT")], "pod/web-1");
    assert_eq!(pulled[column("SUBOBJECT")], "spec.containers{main}");
    assert_eq!(pulled[column("SOURCE")], "kubelet, node-1");
    assert_eq!(pulled[column("MESSAGE")], "Successfully pulled image");
    assert_eq!(pulled[column("FIRST SEEN")], "90m");
    assert_eq!(pulled[column("COUNT")], "4");
    let scaled = row("scaled");
    assert_eq!(scaled[column("TYPE")], "Warning");
    assert_eq!(scaled[column("OBJECT")], "deployment/web");
    assert_eq!(scaled[column("SOURCE")], "deployment-controller, ctl-0");
    assert_eq!(
        scaled[column("MESSAGE")],
        "Scaled up replica set web-1 to 3"
    );
    assert_eq!(scaled[column("LAST SEEN")], "30m");
    assert_eq!(scaled[column("COUNT")], "1", "a singleton event counts one");
    // The same rows come back through events.k8s.io/v1.
    let v1 = Table::parse(&ok(cluster, &["get", "events.events.k8s.io", "-n", ns]));
    assert!(v1.headers.contains(&"REASON".to_string()), "{v1:?}");
    assert_eq!(v1.rows.len(), 2, "{v1:?}");
}

/// Upstream's event table has no NAME column first: `kubectl get events`
/// prints LAST SEEN TYPE REASON OBJECT MESSAGE (NAME only with -o wide, last).
#[tokio::test]
async fn event_table_starts_with_last_seen() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    create(
        &cluster,
        "event.yaml",
        r#"apiVersion: v1
kind: Event
metadata: {name: pulled}
involvedObject: {kind: Pod, name: web-1}
reason: Pulled
type: Normal
"#,
    );
    let table = get_table(&cluster, &["events"]);
    assert_headers(
        &table,
        &["LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"],
    );
    let wide = get_table(&cluster, &["events", "-o", "wide"]);
    assert_headers(
        &wide,
        &[
            "LAST SEEN",
            "TYPE",
            "REASON",
            "OBJECT",
            "SUBOBJECT",
            "SOURCE",
            "MESSAGE",
            "FIRST SEEN",
            "COUNT",
            "NAME",
        ],
    );
}

fn leases(cluster: &Cluster) {
    let ns = "leases";
    ok(cluster, &["create", "namespace", ns]);
    create(
        cluster,
        "leases.yaml",
        &format!(
            r#"apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: held, namespace: {ns}}}
spec: {{holderIdentity: node-a_1234, leaseDurationSeconds: 15}}
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata: {{name: free, namespace: {ns}}}
spec: {{}}
"#
        ),
    );
    let table = get_table(cluster, &["leases", "-n", ns]);
    assert_headers(&table, &["NAME", "HOLDER", "AGE"]);
    assert_eq!(table.cell("held", "HOLDER"), "node-a_1234");
    assert_eq!(table.cell("free", "HOLDER"), "");
}

/// An RFC 3339 UTC timestamp `minutes` ago, from `date` (the tests carry no
/// time crate).
fn minutes_ago(minutes: u32) -> String {
    let output = std::process::Command::new("date")
        .args([
            "-u",
            "-d",
            &format!("{minutes} minutes ago"),
            "+%Y-%m-%dT%H:%M:%SZ",
        ])
        .output()
        .expect("date runs");
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}
