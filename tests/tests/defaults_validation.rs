//! What the server fills in and what it refuses, seen through kubectl:
//! upstream's defaulting for Deployments, Pods and Services (with ClusterIPs
//! from `--service-cluster-ip-range`), and validation errors with
//! upstream's wording. One server, a namespace per test body.

mod support;

use support::{fails, get_json, ok, ok_with_stdin, write_file, Backend, Cluster};

const RANGE: &str = "10.123.0.0/24";

#[tokio::test]
async fn defaults_and_validation_of_builtin_kinds() {
    let cluster = Cluster::start(Backend::Embedded, &["--service-cluster-ip-range", RANGE]).await;
    deployment_defaults(&cluster);
    pod_defaults(&cluster);
    service_defaults_and_cluster_ips(&cluster);
    refusals_name_the_field(&cluster);
}

fn deployment_defaults(cluster: &Cluster) {
    let ns = "deploy-defaults";
    ok(cluster, &["create", "namespace", ns]);
    let manifest = format!(
        r#"apiVersion: apps/v1
kind: Deployment
metadata: {{name: bare, namespace: {ns}}}
spec:
  selector: {{matchLabels: {{app: bare}}}}
  template:
    metadata: {{labels: {{app: bare}}}}
    spec:
      containers: [{{name: web, image: nginx, ports: [{{containerPort: 80}}]}}]
"#
    );
    ok_with_stdin(cluster, &["create", "-f", "-"], &manifest);
    let bare = get_json(cluster, &["-n", ns, "deploy", "bare"]);
    let spec = &bare["spec"];
    assert_eq!(spec["replicas"], 1);
    assert_eq!(spec["revisionHistoryLimit"], 10);
    assert_eq!(spec["progressDeadlineSeconds"], 600);
    assert_eq!(
        spec["strategy"],
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "25%", "maxSurge": "25%"}})
    );
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["restartPolicy"], "Always");
    assert_eq!(pod["dnsPolicy"], "ClusterFirst");
    assert_eq!(pod["schedulerName"], "default-scheduler");
    assert_eq!(pod["terminationGracePeriodSeconds"], 30);
    assert_eq!(pod["securityContext"], serde_json::json!({}));
    let container = &pod["containers"][0];
    assert_eq!(
        container["imagePullPolicy"], "Always",
        "an untagged image is :latest"
    );
    assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
    assert_eq!(container["terminationMessagePolicy"], "File");
    assert_eq!(container["ports"][0]["protocol"], "TCP");
    assert_eq!(bare["metadata"]["generation"], 1);
    assert!(
        pod.get("enableServiceLinks").is_none(),
        "only Pods default enableServiceLinks"
    );

    // A Recreate deployment gets no rollingUpdate block, and given values stay.
    let recreate = manifest.replace("name: bare,", "name: recreate,").replace(
        "spec:\n  selector",
        "spec:\n  replicas: 0\n  revisionHistoryLimit: 2\n  strategy: {type: Recreate}\n  selector",
    );
    ok_with_stdin(cluster, &["create", "-f", "-"], &recreate);
    let spec = get_json(cluster, &["-n", ns, "deploy", "recreate"])["spec"].clone();
    assert_eq!(spec["strategy"], serde_json::json!({"type": "Recreate"}));
    assert_eq!(spec["replicas"], 0);
    assert_eq!(spec["revisionHistoryLimit"], 2);
}

fn pod_defaults(cluster: &Cluster) {
    let ns = "pod-defaults";
    ok(cluster, &["create", "namespace", ns]);
    let manifest = format!(
        r#"apiVersion: v1
kind: Pod
metadata: {{name: bare, namespace: {ns}}}
spec:
  containers:
  - {{name: tagged, image: "busybox:1.36"}}
  - {{name: latest, image: "busybox:latest"}}
---
apiVersion: v1
kind: Pod
metadata: {{name: guaranteed, namespace: {ns}}}
spec:
  containers:
  - name: main
    image: busybox:1.36
    resources: {{limits: {{cpu: 100m, memory: 64Mi}}}}
---
apiVersion: v1
kind: Pod
metadata: {{name: burstable, namespace: {ns}}}
spec:
  containers:
  - name: main
    image: busybox:1.36
    resources: {{requests: {{cpu: 100m}}}}
"#
    );
    ok(
        cluster,
        &["create", "-f", &write_file(cluster, "pods.yaml", &manifest)],
    );
    let bare = get_json(cluster, &["-n", ns, "pod", "bare"]);
    let spec = &bare["spec"];
    assert_eq!(spec["restartPolicy"], "Always");
    assert_eq!(spec["dnsPolicy"], "ClusterFirst");
    assert_eq!(spec["schedulerName"], "default-scheduler");
    assert_eq!(spec["terminationGracePeriodSeconds"], 30);
    assert_eq!(spec["enableServiceLinks"], true);
    assert_eq!(spec["securityContext"], serde_json::json!({}));
    let containers = spec["containers"].as_array().expect("containers");
    for container in containers {
        assert_eq!(container["terminationMessagePath"], "/dev/termination-log");
        assert_eq!(container["terminationMessagePolicy"], "File");
        assert_eq!(container["resources"], serde_json::json!({}));
    }
    assert_eq!(containers[0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(containers[1]["imagePullPolicy"], "Always");
    assert_eq!(bare["status"]["phase"], "Pending");
    assert_eq!(bare["status"]["qosClass"], "BestEffort");

    // Limits alone default the requests, which makes the pod Guaranteed.
    let guaranteed = get_json(cluster, &["-n", ns, "pod", "guaranteed"]);
    assert_eq!(
        guaranteed["spec"]["containers"][0]["resources"]["requests"],
        serde_json::json!({"cpu": "100m", "memory": "64Mi"})
    );
    assert_eq!(guaranteed["status"]["qosClass"], "Guaranteed");
    let burstable = get_json(cluster, &["-n", ns, "pod", "burstable"]);
    assert_eq!(burstable["status"]["qosClass"], "Burstable");

    // A client cannot set a pod's status on create.
    let with_status = format!(
        "apiVersion: v1\nkind: Pod\nmetadata: {{name: sneaky, namespace: {ns}}}\nspec: {{containers: [{{name: c, image: busybox}}]}}\nstatus: {{phase: Running}}\n"
    );
    ok_with_stdin(cluster, &["create", "-f", "-"], &with_status);
    let sneaky = get_json(cluster, &["-n", ns, "pod", "sneaky"]);
    assert_eq!(sneaky["status"]["phase"], "Pending");
}

fn service_defaults_and_cluster_ips(cluster: &Cluster) {
    let ns = "svc-defaults";
    ok(cluster, &["create", "namespace", ns]);
    let manifest = format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: bare, namespace: {ns}}}
spec:
  selector: {{app: bare}}
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: Service
metadata: {{name: chosen, namespace: {ns}}}
# An address from the static band (the range's first sixteen), which
# allocation never hands out while the upper band has room.
spec:
  clusterIP: 10.123.0.10
  ports: [{{port: 80, targetPort: http}}]
---
apiVersion: v1
kind: Service
metadata: {{name: sticky, namespace: {ns}}}
spec: {{sessionAffinity: ClientIP, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: nodeport, namespace: {ns}}}
spec:
  type: NodePort
  ports: [{{port: 80}}]
"#
    );
    ok(
        cluster,
        &[
            "create",
            "-f",
            &write_file(cluster, "services.yaml", &manifest),
        ],
    );
    let bare = get_json(cluster, &["-n", ns, "svc", "bare"]);
    let spec = &bare["spec"];
    assert_eq!(spec["type"], "ClusterIP");
    assert_eq!(spec["sessionAffinity"], "None");
    assert_eq!(spec["ipFamilies"], serde_json::json!(["IPv4"]));
    assert_eq!(spec["ipFamilyPolicy"], "SingleStack");
    assert_eq!(spec["internalTrafficPolicy"], "Cluster");
    assert_eq!(spec["ports"][0]["protocol"], "TCP");
    assert_eq!(spec["ports"][0]["targetPort"], 80);
    let ip = spec["clusterIP"].as_str().expect("a ClusterIP");
    assert!(ip.starts_with("10.123.0."), "{ip} from {RANGE}");
    let last: u8 = ip
        .rsplit('.')
        .next()
        .and_then(|o| o.parse().ok())
        .expect("an IPv4 address");
    assert!(
        (1..255).contains(&last),
        "neither the network nor the broadcast address: {ip}"
    );
    assert_eq!(spec["clusterIPs"], serde_json::json!([ip]));

    let chosen = get_json(cluster, &["-n", ns, "svc", "chosen"]);
    assert_eq!(chosen["spec"]["clusterIP"], "10.123.0.10");
    assert_eq!(chosen["spec"]["ports"][0]["targetPort"], "http");

    let sticky = get_json(cluster, &["-n", ns, "svc", "sticky"]);
    assert_eq!(
        sticky["spec"]["sessionAffinityConfig"],
        serde_json::json!({"clientIP": {"timeoutSeconds": 10800}})
    );
    let nodeport = get_json(cluster, &["-n", ns, "svc", "nodeport"]);
    let port = nodeport["spec"]["ports"][0]["nodePort"]
        .as_i64()
        .expect("a node port");
    assert!((30000..=32767).contains(&port), "{port}");
    assert_eq!(nodeport["spec"]["externalTrafficPolicy"], "Cluster");

    // The same address twice, an address outside the range, and a change
    // of address are refused.
    let taken = fails(
        cluster,
        &[
            "create",
            "service",
            "clusterip",
            "-n",
            ns,
            "taken",
            "--tcp=80",
            "--clusterip=10.123.0.10",
        ],
    );
    assert!(
        taken.contains("provided IP is already allocated"),
        "{taken}"
    );
    let outside = fails(
        cluster,
        &[
            "create",
            "service",
            "clusterip",
            "-n",
            ns,
            "outside",
            "--tcp=80",
            "--clusterip=10.99.0.1",
        ],
    );
    assert!(
        outside.contains("spec.clusterIPs: Invalid value: []string{\"10.99.0.1\"}")
            && outside.contains(&format!("The range of valid IPs is {RANGE}")),
        "{outside}"
    );
    let moved = fails(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "svc",
            "chosen",
            "-p",
            r#"{"spec":{"clusterIP":"10.123.0.11","clusterIPs":["10.123.0.11"]}}"#,
        ],
    );
    assert!(
        moved.contains("spec.clusterIPs[0]: Invalid value")
            && moved.contains("may not change once set"),
        "{moved}"
    );
    // Changing type drops what only the old type needed (upstream
    // `dropTypeDependentFields`) and keeps the rest.
    ok(
        cluster,
        &[
            "create",
            "service",
            "loadbalancer",
            "-n",
            ns,
            "lb",
            "--tcp=80",
        ],
    );
    let lb = get_json(cluster, &["-n", ns, "svc", "lb"]);
    assert_eq!(lb["spec"]["allocateLoadBalancerNodePorts"], true);
    ok(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "svc",
            "lb",
            "--type=merge",
            "-p",
            r#"{"spec":{"type":"ExternalName","externalName":"db.example.com"}}"#,
        ],
    );
    let alias = get_json(cluster, &["-n", ns, "svc", "lb"])["spec"].clone();
    assert_eq!(alias["type"], "ExternalName");
    for gone in [
        "clusterIP",
        "clusterIPs",
        "ipFamilies",
        "ipFamilyPolicy",
        "externalTrafficPolicy",
        "allocateLoadBalancerNodePorts",
    ] {
        assert!(alias.get(gone).is_none(), "{gone} kept: {alias}");
    }
    assert!(alias["ports"][0].get("nodePort").is_none(), "{alias}");
    assert_eq!(
        alias["internalTrafficPolicy"], "Cluster",
        "upstream never wipes it"
    );
    // externalTrafficPolicy belongs to externally reachable Services; a
    // node-local LoadBalancer gets a health check node port of its own.
    let external = format!(
        r#"apiVersion: v1
kind: Service
metadata: {{name: external, namespace: {ns}}}
spec: {{externalIPs: [192.0.2.7], ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: local-lb, namespace: {ns}}}
spec: {{type: LoadBalancer, externalTrafficPolicy: Local, ports: [{{port: 80}}]}}
"#
    );
    ok_with_stdin(cluster, &["create", "-f", "-"], &external);
    let spec = get_json(cluster, &["-n", ns, "svc", "external"])["spec"].clone();
    assert_eq!(spec["externalTrafficPolicy"], "Cluster", "{spec}");
    let spec = get_json(cluster, &["-n", ns, "svc", "local-lb"])["spec"].clone();
    let health = spec["healthCheckNodePort"]
        .as_i64()
        .expect("a health check node port");
    assert!((30000..=32767).contains(&health), "{spec}");
    assert_ne!(Some(health), spec["ports"][0]["nodePort"].as_i64());
    let internal = fails(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "svc",
            "bare",
            "--type=merge",
            "-p",
            r#"{"spec":{"externalTrafficPolicy":"Local"}}"#,
        ],
    );
    assert!(
        internal.contains("spec.externalTrafficPolicy: Invalid value: \"Local\": may only be set for externally-accessible services"),
        "{internal}"
    );
    // Deleting a Service frees its address for the next one.
    ok(cluster, &["delete", "svc", "-n", ns, "chosen"]);
    ok(
        cluster,
        &[
            "create",
            "service",
            "clusterip",
            "-n",
            ns,
            "again",
            "--tcp=80",
            "--clusterip=10.123.0.10",
        ],
    );
}

/// Each refusal is a 422 Invalid naming the field, and stores nothing.
fn refusals_name_the_field(cluster: &Cluster) {
    let ns = "invalid";
    ok(cluster, &["create", "namespace", ns]);
    let cases: &[(&str, String, &str)] = &[
        (
            "selector-mismatch",
            format!(
                "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: mismatch, namespace: {ns}}}\nspec:\n  selector: {{matchLabels: {{app: a}}}}\n  template:\n    metadata: {{labels: {{app: b}}}}\n    spec: {{containers: [{{name: c, image: nginx}}]}}\n"
            ),
            "The Deployment \"mismatch\" is invalid: spec.template.metadata.labels: Invalid value: map[string]string{\"app\":\"b\"}: `selector` does not match template `labels`",
        ),
        (
            "no-containers",
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: empty, namespace: {ns}}}\nspec: {{containers: []}}\n"),
            "The Pod \"empty\" is invalid: spec.containers: Required value",
        ),
        (
            "bad-env",
            format!("apiVersion: v1\nkind: Pod\nmetadata: {{name: env, namespace: {ns}}}\nspec: {{containers: [{{name: c, image: busybox, env: [{{name: \"A=B\", value: x}}]}}]}}\n"),
            "The Pod \"env\" is invalid: spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
        ),
        (
            "bad-endpoints",
            format!("apiVersion: v1\nkind: Endpoints\nmetadata: {{name: e, namespace: {ns}}}\nsubsets: [{{addresses: [{{ip: 127.0.0.1}}], ports: [{{port: 80}}]}}]\n"),
            "The Endpoints \"e\" is invalid: subsets[0].addresses[0].ip: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)",
        ),
        (
            "bad-slice-address",
            format!("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: a, namespace: {ns}}}\naddressType: IPv4\nendpoints: [{{addresses: [300.1.1.1]}}]\n"),
            "The EndpointSlice \"a\" is invalid: endpoints[0].addresses[0]: Invalid value: \"300.1.1.1\": must be a valid IPv4 address",
        ),
        (
            "bad-affinity",
            format!("apiVersion: v1\nkind: Service\nmetadata: {{name: sticky, namespace: {ns}}}\nspec: {{sessionAffinity: ClientIP, sessionAffinityConfig: {{clientIP: {{timeoutSeconds: 90000}}}}, ports: [{{port: 80}}]}}\n"),
            "The Service \"sticky\" is invalid: spec.sessionAffinityConfig.clientIP.timeoutSeconds: Invalid value: 90000: must be greater than 0 and less than 86400",
        ),
        (
            "bad-key",
            format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: keys, namespace: {ns}}}\ndata: {{\"bad key\": v}}\n"),
            "The ConfigMap \"keys\" is invalid: data[bad key]: Invalid value: \"bad key\": a valid config key must consist of alphanumeric characters",
        ),
        (
            "bad-namespace-name",
            "apiVersion: v1\nkind: Namespace\nmetadata: {name: has.dots}\n".to_string(),
            "The Namespace \"has.dots\" is invalid: metadata.name: Invalid value: \"has.dots\": a lowercase RFC 1123 label must consist of",
        ),
        (
            "bad-lease",
            format!("apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata: {{name: l, namespace: {ns}}}\nspec: {{leaseDurationSeconds: 0}}\n"),
            "The Lease \"l\" is invalid: spec.leaseDurationSeconds: Invalid value: 0: must be greater than 0",
        ),
        (
            "bad-port",
            format!("apiVersion: v1\nkind: Service\nmetadata: {{name: p, namespace: {ns}}}\nspec: {{ports: [{{port: 70000, targetPort: 80}}]}}\n"),
            "The Service \"p\" is invalid: spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535, inclusive",
        ),
        (
            "bad-slice",
            format!("apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {{name: s, namespace: {ns}}}\naddressType: IPv5\nendpoints: []\n"),
            "The EndpointSlice \"s\" is invalid: addressType: Unsupported value: \"IPv5\": supported values: \"FQDN\", \"IPv4\", \"IPv6\"",
        ),
        (
            "bad-secret",
            format!("apiVersion: v1\nkind: Secret\nmetadata: {{name: tls, namespace: {ns}}}\ntype: kubernetes.io/tls\ndata: {{}}\n"),
            "The Secret \"tls\" is invalid: \n* data[tls.crt]: Required value\n* data[tls.key]: Required value",
        ),
    ];
    for (file, manifest, expected) in cases {
        let path = write_file(cluster, &format!("{file}.yaml"), manifest);
        let stderr = fails(cluster, &["create", "-f", &path]);
        assert!(
            stderr.contains(expected),
            "{file}: expected {expected:?} in\n{stderr}"
        );
    }
    for resource in [
        "deployments",
        "pods",
        "configmaps",
        "leases",
        "services",
        "endpointslices",
        "secrets",
    ] {
        let listed = ok(cluster, &["get", resource, "-n", ns, "-o", "name"]);
        assert!(
            listed.trim().is_empty(),
            "a refused {resource} was stored: {listed}"
        );
    }
    let namespaces = ok(cluster, &["get", "namespaces", "-o", "name"]);
    assert!(!namespaces.contains("has.dots"), "{namespaces}");

    // Updates have their own rules: a Deployment's selector is immutable.
    ok(
        cluster,
        &["create", "deployment", "-n", ns, "web", "--image=nginx"],
    );
    let changed = fails(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "deploy",
            "web",
            "--type=merge",
            "-p",
            r#"{"spec":{"selector":{"matchLabels":{"app":"web","x":"y"}},"template":{"metadata":{"labels":{"x":"y"}}}}}"#,
        ],
    );
    assert!(
        changed.contains("spec.selector: Invalid value") && changed.contains("field is immutable"),
        "{changed}"
    );
    // and a Pod's spec may change only in its images and a few fields.
    ok(
        cluster,
        &["run", "-n", ns, "runner", "--image=busybox:1.36"],
    );
    ok(
        cluster,
        &[
            "set",
            "image",
            "-n",
            ns,
            "pod/runner",
            "runner=busybox:1.37",
        ],
    );
    let restart = fails(
        cluster,
        &[
            "patch",
            "-n",
            ns,
            "pod",
            "runner",
            "-p",
            r#"{"spec":{"restartPolicy":"Never"}}"#,
        ],
    );
    assert!(
        restart.contains("pod updates may not change fields other than"),
        "{restart}"
    );
}

/// Upstream kube-apiserver keeps a `default/kubernetes` Service on the
/// first address of the range, with Endpoints and an EndpointSlice naming
/// the server itself.
#[tokio::test]
async fn the_kubernetes_service_holds_the_first_address() {
    let cluster = Cluster::start(Backend::Embedded, &["--service-cluster-ip-range", RANGE]).await;
    let service = get_json(&cluster, &["-n", "default", "svc", "kubernetes"]);
    assert_eq!(service["spec"]["clusterIP"], "10.123.0.1");
    assert_eq!(service["spec"]["ports"][0]["name"], "https");
    assert_eq!(service["spec"]["ports"][0]["port"], 443);
    let endpoints = get_json(&cluster, &["-n", "default", "endpoints", "kubernetes"]);
    assert_eq!(endpoints["subsets"][0]["ports"][0]["port"], cluster.port());
}
