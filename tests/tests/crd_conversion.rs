//! CRD conversion strategy Webhook, as upstream's apiextensions-apiserver
//! runs it (`pkg/apiserver/conversion/webhook_converter.go`): an object
//! read or written in a version other than the one it is in goes to the
//! CRD's webhook as a ConversionReview v1 over HTTPS, trusted through the
//! CRD's `caBundle`. The webhook is a real process, this package's
//! `conversion-webhook` binary, serving a certificate the test makes.
//!
//! The Shape CRD: v1 (served) holds `spec.size: "3x4"`, v2 (served, the
//! storage version) holds `spec.width: 3, spec.height: 4`.
//!
//! When a conversion fails, upstream's error is not an API status, so the
//! client gets a 500 `Status` with no reason (kubectl prints `Error from
//! server: MESSAGE`) and the message `conversion webhook for
//! <group>/<version>, Kind=<kind> failed: <cause>`, naming the version the
//! object was in. The cause is the webhook's own `result.message` when it
//! refused, else the transport's error (upstream's Go wording, e.g. `Post
//! "https://...": dial tcp ...: connect: connection refused`, is not
//! asserted beyond its meaning).

mod crd_support;
mod support;

use std::fs::File;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use blackbox_tests::{on_each_backend, RawRequest, RawResponse, StreamItem};
use crd_support::{define, delete, etcd_json, get, merge_patch, post};
use serde_json::{json, Value};
use support::{fails, get_json, ok, write_file, Backend, Cluster, Table};
use tempfile::TempDir;

const NS: &str = "conversion";
const GROUP: &str = "convert.example.com";
const SHAPES: &str = "shapes.convert.example.com";
/// A second group whose CRD trusts a CA that did not sign the webhook's
/// certificate.
const DISTRUSTING_GROUP: &str = "distrust.example.com";
/// A CRD whose webhook is given by a Service, and that Service.
const SERVICE_GROUP: &str = "by-service.example.com";
const SERVICE_SHAPES: &str = "shapes.by-service.example.com";
const SERVICE: &str = "converter";
const DISTRUSTING_SHAPES: &str = "shapes.distrust.example.com";

/// How long a watch event or the webhook's start may take.
const WAIT: Duration = Duration::from_secs(10);

/// A CA and a serving certificate it signed for 127.0.0.1 and localhost,
/// in PEM.
struct Pki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Pki {
    fn new(ca_name: &str) -> Pki {
        let ca_key = rcgen::KeyPair::generate().expect("a CA key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, ca_name);
        let ca_pem = ca.self_signed(&ca_key).expect("a CA certificate").pem();
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let key = rcgen::KeyPair::generate().expect("a serving key");
        let mut serving = rcgen::CertificateParams::new(vec![
            "127.0.0.1".to_string(),
            "localhost".to_string(),
            // The name a webhook reached through a Service must carry.
            format!("{SERVICE}.{NS}.svc"),
        ])
        .expect("serving params");
        serving.distinguished_name = rcgen::DistinguishedName::new();
        serving
            .distinguished_name
            .push(rcgen::DnType::CommonName, "conversion-webhook");
        serving.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = serving
            .signed_by(&key, &issuer)
            .expect("a serving certificate");
        Pki {
            ca_pem,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// The CA as a CRD's `caBundle`: base64 of the PEM.
    fn ca_bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.ca_pem)
    }
}

/// The `conversion-webhook` process on a port of its choosing, its stderr
/// in a file; killed on drop.
struct Webhook {
    child: Option<Child>,
    dir: TempDir,
    port: u16,
}

/// One ConversionReview the webhook logged.
#[derive(Debug)]
struct Review {
    desired: String,
    /// The apiVersion of each object sent.
    from: Vec<String>,
}

impl Webhook {
    /// Starts the webhook serving `pki`'s certificate and waits until it
    /// listens. Cargo builds the binary for this package's tests.
    fn start(pki: &Pki) -> Webhook {
        let dir = tempfile::tempdir().expect("a temp dir for the webhook");
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        std::fs::write(&cert, &pki.cert_pem).expect("certificate written");
        std::fs::write(&key, &pki.key_pem).expect("key written");
        let log = File::create(dir.path().join("webhook.log")).expect("webhook log file");
        let child = Command::new(env!("CARGO_BIN_EXE_conversion-webhook"))
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--port", "0"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("conversion-webhook starts");
        let mut webhook = Webhook {
            child: Some(child),
            dir,
            port: 0,
        };
        webhook.port = webhook.wait_until_serving();
        webhook
    }

    fn wait_until_serving(&mut self) -> u16 {
        let marker = "serving on https://127.0.0.1:";
        let deadline = Instant::now() + WAIT;
        loop {
            let log = self.log();
            let port = log
                .lines()
                .find_map(|line| line.strip_prefix(marker))
                .and_then(|rest| rest.split('/').next())
                .and_then(|port| port.parse().ok());
            if let Some(port) = port {
                return port;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("conversion-webhook exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "conversion-webhook not serving after {WAIT:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The URL for the CRD's `clientConfig`.
    fn url(&self) -> String {
        format!("https://127.0.0.1:{}/convert", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("webhook.log")).unwrap_or_default()
    }

    /// Every review the webhook answered, in order.
    fn reviews(&self) -> Vec<Review> {
        self.log()
            .lines()
            .filter(|line| line.starts_with("review "))
            .map(|line| {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|word| word.strip_prefix(name))
                        .unwrap_or_default()
                        .to_string()
                };
                Review {
                    desired: field("desiredAPIVersion="),
                    from: field("from=")
                        .split(',')
                        .filter(|v| !v.is_empty())
                        .map(String::from)
                        .collect(),
                }
            })
            .collect()
    }

    /// Stops the webhook with SIGTERM (SIGKILL after 10 s) and returns how
    /// it exited.
    fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
        child.wait().ok()
    }
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The Shape CRD in `group`, converted by the webhook at `url`, trusting
/// the CA in `ca_bundle`. Each version prints its own columns.
fn shape_crd(group: &str, url: &str, ca_bundle: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: shapes.{group}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: shapes, singular: shape, kind: Shape}}
  conversion:
    strategy: Webhook
    webhook:
      conversionReviewVersions: [v1]
      clientConfig:
        url: {url}
        caBundle: {ca_bundle}
  versions:
  - name: v1
    served: true
    storage: false
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              size: {{type: string}}
    additionalPrinterColumns:
    - {{name: Size, type: string, jsonPath: .spec.size}}
  - name: v2
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              width: {{type: integer}}
              height: {{type: integer}}
    additionalPrinterColumns:
    - {{name: Width, type: integer, jsonPath: .spec.width}}
    - {{name: Height, type: integer, jsonPath: .spec.height}}
"#
    )
}

/// The Shape collection of `group` in `version`.
fn shapes(group: &str, version: &str) -> String {
    format!("/apis/{group}/{version}/namespaces/{NS}/shapes")
}

/// One Shape of [`GROUP`] in `version`.
fn shape(version: &str, name: &str) -> String {
    format!("{}/{name}", shapes(GROUP, version))
}

fn shape_v1(name: &str, size: &str) -> Value {
    json!({
        "apiVersion": format!("{GROUP}/v1"),
        "kind": "Shape",
        "metadata": {"name": name},
        "spec": {"size": size},
    })
}

fn shape_v2(group: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": format!("{group}/v2"),
        "kind": "Shape",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// `(name, apiVersion, spec)` of each item of a list, by name.
fn items(list: &Value) -> Vec<(String, String, Value)> {
    let mut all: Vec<(String, String, Value)> = list["items"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|item| {
                    (
                        item["metadata"]["name"].as_str().unwrap_or_default().into(),
                        item["apiVersion"].as_str().unwrap_or_default().into(),
                        item["spec"].clone(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

/// Asserts `response` is upstream's answer to a failed conversion of an
/// object in `from` (`group/version`): a 500 `Status` without a reason and
/// a message starting `conversion webhook for <from>, Kind=Shape failed: `.
/// Returns the message.
#[track_caller]
fn conversion_failure(response: &RawResponse, from: &str) -> String {
    let status = response.expect(500);
    assert_eq!(status["kind"], "Status", "{status}");
    assert_eq!(status["status"], "Failure", "{status}");
    assert_eq!(status["code"], 500, "{status}");
    assert!(
        status.get("reason").is_none_or(|r| r == ""),
        "upstream's conversion errors carry no reason: {status}"
    );
    let message = status["message"].as_str().unwrap_or_default();
    let prefix = format!("conversion webhook for {from}, Kind=Shape failed: ");
    assert!(
        message.starts_with(&prefix),
        "expected {prefix:?}…: {status}"
    );
    message.to_string()
}

on_each_backend!(a_webhook_converts_between_versions);

async fn a_webhook_converts_between_versions(cluster: &mut Cluster) {
    let pki = Pki::new("conversion-webhook-ca");
    let mut webhook = Webhook::start(&pki);
    ok(cluster, &["create", "namespace", NS]);
    define(
        cluster,
        "shape-crd.yaml",
        &shape_crd(GROUP, &webhook.url(), &pki.ca_bundle()),
        SHAPES,
    );

    writes_through_v1_are_stored_in_v2(cluster).await;
    reads_convert_to_the_requested_version(cluster).await;
    lists_convert_every_item(cluster).await;
    patches_through_v1_convert_both_ways(cluster).await;
    a_watch_through_v1_sees_v1_objects(cluster).await;
    the_webhooks_refusals_reach_the_client(cluster).await;
    only_objects_in_another_version_are_sent(&webhook);
    a_wrong_ca_bundle_fails_verification(cluster, &webhook).await;
    a_webhook_by_service_reference_converts(cluster, &webhook, &pki).await;

    let stopped = webhook.stop().expect("the webhook was running");
    assert!(stopped.success(), "{stopped}\n{}", webhook.log());
    a_down_webhook_fails_only_what_needs_it(cluster).await;
}

/// A Shape written in v1 is converted to v2 before it is stored, and the
/// answer to the write comes back in v1; a v2 write is stored as sent.
async fn writes_through_v1_are_stored_in_v2(cluster: &Cluster) {
    let manifest = format!(
        "apiVersion: {GROUP}/v1\nkind: Shape\nmetadata:\n  name: rect\n  namespace: {NS}\n  labels: {{outline: rectangle}}\nspec:\n  size: \"3x4\"\n"
    );
    let applied = ok(
        cluster,
        &["apply", "-f", &write_file(cluster, "rect.yaml", &manifest)],
    );
    assert!(applied.contains("created"), "{applied}");

    let created = post(cluster, &shapes(GROUP, "v1"), &shape_v1("square", "2x2"))
        .await
        .expect(201);
    assert_eq!(created["apiVersion"], format!("{GROUP}/v1"), "{created}");
    assert_eq!(created["spec"], json!({"size": "2x2"}), "{created}");
    let created = post(
        cluster,
        &shapes(GROUP, "v2"),
        &shape_v2(GROUP, "strip", json!({"width": 1, "height": 9})),
    )
    .await
    .expect(201);
    assert_eq!(created["spec"], json!({"width": 1, "height": 9}));

    // v2 is the storage version: reading it converts nothing.
    let stored = get(cluster, &shape("v2", "rect")).await.expect(200);
    assert_eq!(stored["apiVersion"], format!("{GROUP}/v2"), "{stored}");
    assert_eq!(stored["kind"], "Shape");
    assert_eq!(stored["spec"], json!({"width": 3, "height": 4}), "{stored}");
    assert_eq!(
        stored["metadata"]["labels"],
        json!({"outline": "rectangle"})
    );

    // Only etcd can be read behind the server's back; on the embedded
    // store, the down webhook at the end shows v2 reads convert nothing.
    if cluster.backend == Backend::Embedded {
        return;
    }
    let etcd = cluster.etcd.as_ref().expect("an etcd cluster has its etcd");
    for (name, spec) in [
        ("rect", json!({"width": 3, "height": 4})),
        ("square", json!({"width": 2, "height": 2})),
        ("strip", json!({"width": 1, "height": 9})),
    ] {
        let key = format!("/registry/{GROUP}/shapes/{NS}/{name}");
        let value = etcd_json(etcd, &key)
            .await
            .unwrap_or_else(|| panic!("nothing stored at {key}"));
        assert_eq!(value["apiVersion"], format!("{GROUP}/v2"), "{key}: {value}");
        assert_eq!(value["spec"], spec, "{key}: {value}");
    }
}

/// Each version reads the same object in its own form, with the same
/// metadata; kubectl's default is the preferred version, v2.
async fn reads_convert_to_the_requested_version(cluster: &Cluster) {
    let v1 = get(cluster, &shape("v1", "rect")).await.expect(200);
    assert_eq!(v1["apiVersion"], format!("{GROUP}/v1"), "{v1}");
    assert_eq!(v1["kind"], "Shape");
    assert_eq!(v1["spec"], json!({"size": "3x4"}), "{v1}");
    let v2 = get(cluster, &shape("v2", "rect")).await.expect(200);
    assert_eq!(v1["metadata"], v2["metadata"], "metadata is the stored one");
    let strip = get(cluster, &shape("v1", "strip")).await.expect(200);
    assert_eq!(strip["spec"], json!({"size": "1x9"}), "{strip}");

    let preferred = get_json(cluster, &["-n", NS, "shapes", "rect"]);
    assert_eq!(preferred["apiVersion"], format!("{GROUP}/v2"));
    assert_eq!(preferred["spec"], json!({"width": 3, "height": 4}));
    let old = get_json(
        cluster,
        &["-n", NS, "shapes.v1.convert.example.com", "rect"],
    );
    assert_eq!(old["apiVersion"], format!("{GROUP}/v1"));
    assert_eq!(old["spec"], json!({"size": "3x4"}));

    let table = Table::parse(&ok(
        cluster,
        &["get", "-n", NS, "shapes.v1.convert.example.com"],
    ));
    assert_eq!(table.cell("rect", "SIZE"), "3x4", "{table:?}");
    assert_eq!(table.cell("square", "SIZE"), "2x2", "{table:?}");
    assert_eq!(table.cell("strip", "SIZE"), "1x9", "{table:?}");
    let table = Table::parse(&ok(
        cluster,
        &["get", "-n", NS, "shapes.v2.convert.example.com"],
    ));
    assert_eq!(table.cell("rect", "WIDTH"), "3", "{table:?}");
    assert_eq!(table.cell("rect", "HEIGHT"), "4", "{table:?}");
}

/// A list converts every item to the version asked for.
async fn lists_convert_every_item(cluster: &Cluster) {
    let list = get(cluster, &shapes(GROUP, "v1")).await.expect(200);
    assert_eq!(list["apiVersion"], format!("{GROUP}/v1"), "{list}");
    assert_eq!(list["kind"], "ShapeList");
    let v1 = format!("{GROUP}/v1");
    assert_eq!(
        items(&list),
        [
            ("rect".into(), v1.clone(), json!({"size": "3x4"})),
            ("square".into(), v1.clone(), json!({"size": "2x2"})),
            ("strip".into(), v1, json!({"size": "1x9"})),
        ],
        "{list}"
    );

    let list = get(cluster, &shapes(GROUP, "v2")).await.expect(200);
    assert_eq!(list["apiVersion"], format!("{GROUP}/v2"), "{list}");
    let v2 = format!("{GROUP}/v2");
    assert_eq!(
        items(&list),
        [
            ("rect".into(), v2.clone(), json!({"width": 3, "height": 4})),
            (
                "square".into(),
                v2.clone(),
                json!({"width": 2, "height": 2})
            ),
            ("strip".into(), v2, json!({"width": 1, "height": 9})),
        ],
        "{list}"
    );
}

/// A merge patch sent to v1 applies to the v1 form and is stored in v2.
async fn patches_through_v1_convert_both_ways(cluster: &Cluster) {
    let patched = merge_patch(
        cluster,
        &shape("v1", "rect"),
        &json!({"spec": {"size": "5x6"}}),
    )
    .await
    .expect(200);
    assert_eq!(patched["apiVersion"], format!("{GROUP}/v1"), "{patched}");
    assert_eq!(patched["spec"], json!({"size": "5x6"}), "{patched}");
    let stored = get(cluster, &shape("v2", "rect")).await.expect(200);
    assert_eq!(stored["spec"], json!({"width": 5, "height": 6}), "{stored}");
    assert_eq!(
        stored["metadata"]["labels"],
        json!({"outline": "rectangle"})
    );
}

/// Events of a watch through v1 carry v1 objects, whatever version the
/// change was written in.
async fn a_watch_through_v1_sees_v1_objects(cluster: &Cluster) {
    let list = get(cluster, &shapes(GROUP, "v1")).await.expect(200);
    let revision = list["metadata"]["resourceVersion"]
        .as_str()
        .unwrap_or_else(|| panic!("no resourceVersion: {list}"));
    let path = format!(
        "{}?watch=true&resourceVersion={revision}",
        shapes(GROUP, "v1")
    );
    let mut watch = cluster.stream(RawRequest::get(&path)).await;
    assert_eq!(watch.status, 200);

    post(
        cluster,
        &shapes(GROUP, "v2"),
        &shape_v2(GROUP, "tile", json!({"width": 7, "height": 8})),
    )
    .await
    .expect(201);
    merge_patch(
        cluster,
        &shape("v2", "tile"),
        &json!({"spec": {"width": 9}}),
    )
    .await
    .expect(200);
    merge_patch(
        cluster,
        &shape("v1", "square"),
        &json!({"metadata": {"labels": {"seen": "yes"}}}),
    )
    .await
    .expect(200);

    let mut seen = Vec::new();
    for _ in 0..3 {
        match watch.next_json(WAIT).await {
            StreamItem::Json(event) => seen.push((
                event["type"].as_str().unwrap_or_default().to_string(),
                event["object"]["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                event["object"]["apiVersion"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                event["object"]["spec"].clone(),
            )),
            other => panic!("expected a watch event after {seen:?}, got {other:?}"),
        }
    }
    let v1 = format!("{GROUP}/v1");
    assert_eq!(
        seen,
        [
            (
                "ADDED".into(),
                "tile".into(),
                v1.clone(),
                json!({"size": "7x8"})
            ),
            (
                "MODIFIED".into(),
                "tile".into(),
                v1.clone(),
                json!({"size": "9x8"})
            ),
            (
                "MODIFIED".into(),
                "square".into(),
                v1,
                json!({"size": "2x2"})
            ),
        ]
    );
}

/// A webhook's `Failure` result fails the request with its message: on a
/// write in v1 (nothing is stored) and on a read through v1 of an object
/// the webhook cannot express in v1.
async fn the_webhooks_refusals_reach_the_client(cluster: &Cluster) {
    let refused = post(cluster, &shapes(GROUP, "v1"), &shape_v1("blob", "big")).await;
    let message = conversion_failure(&refused, &format!("{GROUP}/v1"));
    assert_eq!(
        message,
        format!(
            "conversion webhook for {GROUP}/v1, Kind=Shape failed: spec.size \"big\" is not <width>x<height>"
        )
    );
    get(cluster, &shape("v2", "blob"))
        .await
        .expect_failure(404, "NotFound");

    post(
        cluster,
        &shapes(GROUP, "v2"),
        &shape_v2(GROUP, "line", json!({"width": 3})),
    )
    .await
    .expect(201);
    let message = conversion_failure(
        &get(cluster, &shape("v1", "line")).await,
        &format!("{GROUP}/v2"),
    );
    assert_eq!(
        message,
        format!(
            "conversion webhook for {GROUP}/v2, Kind=Shape failed: spec.width and spec.height come together"
        )
    );
    let stderr = fails(
        cluster,
        &["get", "-n", NS, "shapes.v1.convert.example.com", "line"],
    );
    assert!(
        stderr.contains(&format!("Error from server: {message}")),
        "{stderr}"
    );
    delete(cluster, &shape("v2", "line")).await.expect(200);
}

/// The webhook saw reviews both ways, and never an object already in the
/// desired version (upstream leaves those out of the review, and makes no
/// call when none is left).
fn only_objects_in_another_version_are_sent(webhook: &Webhook) {
    let reviews = webhook.reviews();
    let to = |version: &str| {
        reviews
            .iter()
            .filter(|r| r.desired == format!("{GROUP}/{version}"))
            .count()
    };
    assert!(to("v1") > 0, "no review to v1:\n{}", webhook.log());
    assert!(to("v2") > 0, "no review to v2:\n{}", webhook.log());
    for review in &reviews {
        assert!(!review.from.is_empty(), "an empty review: {review:?}");
        assert!(
            review.from.iter().all(|from| *from != review.desired),
            "{review:?} sends objects already in the desired version"
        );
    }
}

/// A CRD whose caBundle did not sign the webhook's certificate cannot
/// convert: the TLS handshake fails and no review arrives. Reads in the
/// storage version still work.
async fn a_wrong_ca_bundle_fails_verification(cluster: &Cluster, webhook: &Webhook) {
    let stranger = Pki::new("some-other-ca");
    define(
        cluster,
        "distrusting-crd.yaml",
        &shape_crd(DISTRUSTING_GROUP, &webhook.url(), &stranger.ca_bundle()),
        DISTRUSTING_SHAPES,
    );
    post(
        cluster,
        &shapes(DISTRUSTING_GROUP, "v2"),
        &shape_v2(
            DISTRUSTING_GROUP,
            "lonely",
            json!({"width": 1, "height": 1}),
        ),
    )
    .await
    .expect(201);
    let path = format!("{}/lonely", shapes(DISTRUSTING_GROUP, "v1"));
    let message = conversion_failure(
        &get(cluster, &path).await,
        &format!("{DISTRUSTING_GROUP}/v2"),
    );
    assert!(
        message.to_lowercase().contains("certificate"),
        "the cause names the certificate: {message}"
    );
    let path = format!("{}/lonely", shapes(DISTRUSTING_GROUP, "v2"));
    let read = get(cluster, &path).await.expect(200);
    assert_eq!(read["spec"], json!({"width": 1, "height": 1}));
    assert!(
        webhook
            .reviews()
            .iter()
            .all(|r| !r.desired.starts_with(DISTRUSTING_GROUP)),
        "a review passed a failed handshake:\n{}",
        webhook.log()
    );
}

/// A webhook given by `service` is reached through that Service (an
/// ExternalName one here, since Endpoints refuse loopback addresses), and
/// its certificate is checked for `<service>.<namespace>.svc`.
async fn a_webhook_by_service_reference_converts(cluster: &Cluster, webhook: &Webhook, pki: &Pki) {
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NS},
        "spec": {"type": "ExternalName", "externalName": "localhost"}
    });
    post(
        cluster,
        &format!("/api/v1/namespaces/{NS}/services"),
        &service,
    )
    .await
    .expect(201);
    let by_url = shape_crd(SERVICE_GROUP, &webhook.url(), &pki.ca_bundle());
    let by_service = by_url.replace(
        &format!("        url: {}\n", webhook.url()),
        &format!(
            "        service: {{namespace: {NS}, name: {SERVICE}, port: {}, path: /convert}}\n",
            webhook.port
        ),
    );
    assert_ne!(by_url, by_service, "the CRD names the Service");
    define(cluster, "by-service-crd.yaml", &by_service, SERVICE_SHAPES);
    post(
        cluster,
        &shapes(SERVICE_GROUP, "v1"),
        &json!({
            "apiVersion": format!("{SERVICE_GROUP}/v1"),
            "kind": "Shape",
            "metadata": {"name": "routed"},
            "spec": {"size": "5x6"}
        }),
    )
    .await
    .expect(201);
    let path = format!("{}/routed", shapes(SERVICE_GROUP, "v2"));
    let read = get(cluster, &path).await.expect(200);
    assert_eq!(read["spec"], json!({"width": 5, "height": 6}), "{read}");
    assert!(
        webhook
            .reviews()
            .iter()
            .any(|r| r.desired == format!("{SERVICE_GROUP}/v2")),
        "no review came through the Service:\n{}",
        webhook.log()
    );
}

/// With the webhook gone, a read through v1 fails with the connection's
/// error, while reads and writes in v2, the storage version, need no
/// conversion and go on working.
async fn a_down_webhook_fails_only_what_needs_it(cluster: &Cluster) {
    let message = conversion_failure(
        &get(cluster, &shape("v1", "rect")).await,
        &format!("{GROUP}/v2"),
    );
    assert!(
        message.to_lowercase().contains("connection refused"),
        "the cause is the refused connection: {message}"
    );
    let stderr = fails(
        cluster,
        &["get", "-n", NS, "shapes.v1.convert.example.com", "rect"],
    );
    assert!(
        stderr.contains(&format!(
            "Error from server: conversion webhook for {GROUP}/v2, Kind=Shape failed: "
        )),
        "{stderr}"
    );

    let read = get(cluster, &shape("v2", "rect")).await.expect(200);
    assert_eq!(read["spec"], json!({"width": 5, "height": 6}));
    let preferred = get_json(cluster, &["-n", NS, "shapes", "rect"]);
    assert_eq!(preferred["spec"], json!({"width": 5, "height": 6}));
    let list = get(cluster, &shapes(GROUP, "v2")).await.expect(200);
    let names: Vec<String> = items(&list).into_iter().map(|(name, ..)| name).collect();
    assert_eq!(names, ["rect", "square", "strip", "tile"], "{list}");
    post(
        cluster,
        &shapes(GROUP, "v2"),
        &shape_v2(GROUP, "late", json!({"width": 4, "height": 4})),
    )
    .await
    .expect(201);
}
