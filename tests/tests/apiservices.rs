//! apiregistration.k8s.io/v1 APIServices as upstream's aggregator keeps
//! them: one local APIService per served group/version, always Available,
//! with upstream's priorities; CRD groups come and go with their CRDs; and
//! upstream's validation of what users create.

mod crd_support;
mod support;

use std::time::{Duration, Instant};

use crd_support::{define_crontabs, CRONTABS};
use serde_json::Value;
use support::{fails, get_json, ok, write_file, Backend, Cluster, Table};

/// How long the local-APIService controller may take to act.
const SETTLE: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_api_services_follow_what_is_served() {
    let cluster = Cluster::start(Backend::Embedded, &[]).await;
    let server = &*cluster;

    let table = Table::parse(&ok(server, &["get", "apiservices"]));
    for name in [
        "v1.",
        "v1.apps",
        "v1.apiextensions.k8s.io",
        "v1.apiregistration.k8s.io",
        "v1.coordination.k8s.io",
    ] {
        assert_eq!(table.cell(name, "SERVICE"), "Local", "{name}");
        assert_eq!(table.cell(name, "AVAILABLE"), "True", "{name}");
    }

    let apps = get_json(server, &["apiservice", "v1.apps"]);
    assert_eq!(apps["spec"]["group"], "apps");
    assert_eq!(apps["spec"]["version"], "v1");
    assert_eq!(apps["spec"]["groupPriorityMinimum"], 17800);
    assert_eq!(apps["spec"]["versionPriority"], 15);
    assert_eq!(
        apps["metadata"]["labels"]["kube-aggregator.kubernetes.io/automanaged"],
        "onstart"
    );
    let available = &apps["status"]["conditions"][0];
    assert_eq!(available["type"], "Available");
    assert_eq!(available["reason"], "Local");
    assert_eq!(
        available["message"],
        "Local APIServices are always available"
    );

    // A CRD's group/version gets its own, with the CRD registration
    // controller's priorities, and loses it with the CRD.
    define_crontabs(server);
    let crd_service = wait_for(server, "v1.stable.example.com", true).await;
    assert_eq!(crd_service["spec"]["groupPriorityMinimum"], 1000);
    assert_eq!(crd_service["spec"]["versionPriority"], 100);
    assert_eq!(
        crd_service["metadata"]["labels"]["kube-aggregator.kubernetes.io/automanaged"],
        "true"
    );
    ok(server, &["delete", "crd", CRONTABS]);
    wait_for(server, "v1.stable.example.com", false).await;

    // What users create is checked with upstream's rules.
    let bad = write_file(
        server,
        "bad-apiservice.yaml",
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata: {name: wrong}\n\
         spec: {group: wardle.example.com, version: v1alpha1, groupPriorityMinimum: 0,\n\
         \x20 versionPriority: 15, service: {namespace: wardle, name: api}}\n",
    );
    let refused = fails(server, &["apply", "-f", &bad]);
    assert!(
        refused.contains(
            "metadata.name: Invalid value: \"wrong\": must be `spec.version+\".\"+spec.group`: \"v1alpha1.wardle.example.com\""
        ),
        "{refused}"
    );
    assert!(
        refused.contains(
            "spec.groupPriorityMinimum: Invalid value: 0: must be positive and less than 20000"
        ),
        "{refused}"
    );
}

/// Polls until the APIService `name` exists (`present`) or is gone.
async fn wait_for(server: &blackbox_tests::TestServer, name: &str, present: bool) -> Value {
    let deadline = Instant::now() + SETTLE;
    loop {
        let output = server.kubectl(&["get", "apiservice", name, "-o", "json"]);
        if output.status.success() == present {
            return serde_json::from_slice(&output.stdout).unwrap_or(Value::Null);
        }
        assert!(
            Instant::now() < deadline,
            "APIService {name} present={present} not reached: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
