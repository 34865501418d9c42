//! `KUBE_TEST_CRD_ENGINE=external`: every server a test starts is two, the
//! CRD engine split off as an aggregated API server. The front (what the
//! test talks to) runs with the test's flags and `--crd-engine=external`;
//! behind it, the same binary with `--crd-engine=only` serves
//! apiextensions.k8s.io and the CRD groups, registered through the front
//! as the APIService `v1.apiextensions.k8s.io` of the ExternalName Service
//! `kube-system/crd-engine`.
//!
//! Both keep their objects in one etcd (the test's, or one started for
//! them), so the engine sees the namespaces and Services written through
//! the front. The engine trusts the front's front-proxy client certificate
//! (request-header authentication) and serves a certificate for
//! `crd-engine.kube-system.svc` signed by a CA made here, which the
//! APIService names as its `caBundle`.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::{RawRequest, TestEtcd, TestServer, START_TIMEOUT};

/// The environment variable that selects the topology.
const VARIABLE: &str = "KUBE_TEST_CRD_ENGINE";
const NAMESPACE: &str = "kube-system";
const SERVICE: &str = "crd-engine";
const API_SERVICE: &str = "v1.apiextensions.k8s.io";
/// Where the front lists the APIService, and serves the CRD API.
const API_SERVICE_PATH: &str =
    "/apis/apiregistration.k8s.io/v1/apiservices/v1.apiextensions.k8s.io";
const CRD_API: &str = "/apis/apiextensions.k8s.io/v1";

/// Whether servers start split: `external` says so; unset, empty or
/// `embedded` is the usual single process.
pub(crate) fn is_split() -> bool {
    match std::env::var(VARIABLE).as_deref() {
        Err(_) | Ok("" | "embedded") => false,
        Ok("external") => true,
        Ok(other) => panic!("{VARIABLE}={other}: expected external or embedded"),
    }
}

/// The CRD engine behind a front server.
pub(crate) struct CrdEngine {
    pub(crate) server: TestServer,
    /// The etcd both use, when the harness started it (a test that passed
    /// `--etcd-servers` owns its own). Dropped after `server`.
    _etcd: Option<TestEtcd>,
    /// The engine's serving certificate, key and CA.
    _tls: TempDir,
}

/// Starts the split: etcd (unless `args` name one), the front with
/// `args`, the engine, and the APIService that joins them; returns the
/// front once it serves the CRD API.
pub(crate) async fn start(args: &[&str]) -> TestServer {
    let (etcd, endpoint) = match flag_value(args, "--etcd-servers") {
        Some(endpoint) => (None, endpoint.to_string()),
        None => {
            let etcd = TestEtcd::start().await;
            let endpoint = etcd.endpoint();
            (Some(etcd), endpoint)
        }
    };
    let mut front_args = vec!["--crd-engine=external"];
    if etcd.is_some() {
        front_args.extend(["--etcd-servers", &endpoint]);
    }
    front_args.extend_from_slice(args);
    let mut front = TestServer::start_alone(&front_args).await;

    let tls = Tls::new();
    let files = tempfile::tempdir().expect("a temp dir for the CRD engine's certificate");
    let cert = write(&files, "tls.crt", &tls.cert_pem);
    let key = write(&files, "tls.key", &tls.key_pem);
    let front_proxy_ca = front.pki_file("front-proxy-ca.crt");
    let mut engine_args = vec![
        "--crd-engine=only".to_string(),
        format!("--etcd-servers={endpoint}"),
        format!(
            "--requestheader-client-ca-file={}",
            front_proxy_ca.display()
        ),
        "--requestheader-allowed-names=front-proxy-client".to_string(),
        format!("--tls-cert-file={}", cert.display()),
        format!("--tls-private-key-file={}", key.display()),
    ];
    if let Some(prefix) = flag_value(args, "--etcd-prefix") {
        engine_args.push(format!("--etcd-prefix={prefix}"));
    }
    let engine_args: Vec<&str> = engine_args.iter().map(String::as_str).collect();
    let engine = TestServer::start_alone(&engine_args).await;
    let port = engine.port();
    front.crd_engine = Some(Box::new(CrdEngine {
        server: engine,
        _etcd: etcd,
        _tls: files,
    }));
    register(&front, port, &tls.ca_pem).await;
    wait_until_served(&front).await;
    front
}

/// The value of the last `--flag value` or `--flag=value` in `args`.
fn flag_value<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    let mut found = None;
    for (i, arg) in args.iter().enumerate() {
        if *arg == flag {
            found = args.get(i + 1).copied();
        } else if let Some(value) = arg.strip_prefix(flag).and_then(|v| v.strip_prefix('=')) {
            found = Some(value);
        }
    }
    found
}

fn write(dir: &TempDir, name: &str, contents: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, contents).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    path
}

/// A CA and the engine's serving certificate for its Service name, in PEM.
struct Tls {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl Tls {
    fn new() -> Tls {
        let ca_key = rcgen::KeyPair::generate().expect("a CA key");
        let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "crd-engine-ca");
        let ca_pem = ca.self_signed(&ca_key).expect("a CA certificate").pem();
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let key = rcgen::KeyPair::generate().expect("a serving key");
        // The name the aggregator checks: <service>.<namespace>.svc.
        let mut serving = rcgen::CertificateParams::new(vec![format!("{SERVICE}.{NAMESPACE}.svc")])
            .expect("serving params");
        serving.distinguished_name = rcgen::DistinguishedName::new();
        serving
            .distinguished_name
            .push(rcgen::DnType::CommonName, SERVICE);
        serving.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = serving
            .signed_by(&key, &issuer)
            .expect("a serving certificate");
        Tls {
            ca_pem,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }
}

/// Creates, through the front, the Service that leads to the engine and
/// the APIService that places apiextensions.k8s.io/v1 there.
async fn register(front: &TestServer, port: u16, ca_pem: &str) {
    let service = json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": SERVICE, "namespace": NAMESPACE},
        "spec": {"type": "ExternalName", "externalName": "localhost"},
    });
    create(
        front,
        &format!("/api/v1/namespaces/{NAMESPACE}/services"),
        &service,
    )
    .await;
    let ca_bundle = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    let api_service = json!({
        "apiVersion": "apiregistration.k8s.io/v1",
        "kind": "APIService",
        "metadata": {"name": API_SERVICE},
        "spec": {
            "group": "apiextensions.k8s.io",
            "version": "v1",
            "groupPriorityMinimum": 16700,
            "versionPriority": 15,
            "service": {"namespace": NAMESPACE, "name": SERVICE, "port": port},
            "caBundle": ca_bundle,
        },
    });
    create(
        front,
        "/apis/apiregistration.k8s.io/v1/apiservices",
        &api_service,
    )
    .await;
}

/// POSTs `object` to `path`, retrying while the front is still starting
/// (its system namespaces are created as it comes up).
async fn create(front: &TestServer, path: &str, object: &Value) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let response = front
            .call(RawRequest::new(http::Method::POST, path).json(object))
            .await;
        if response.status == 201 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "POST {path}: {} {}\n{}",
            response.status,
            String::from_utf8_lossy(&response.body),
            front.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the APIService is Available and the front serves the CRD
/// API through it.
pub(crate) async fn wait_until_served(front: &TestServer) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let api_service = front.call(RawRequest::get(API_SERVICE_PATH)).await;
        let is_available = api_service.status == 200
            && api_service.json()["status"]["conditions"]
                .as_array()
                .is_some_and(|conditions| {
                    conditions
                        .iter()
                        .any(|c| c["type"] == "Available" && c["status"] == "True")
                });
        if is_available && front.call(RawRequest::get(CRD_API)).await.status == 200 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the CRD engine is not served through the front after {START_TIMEOUT:?}: {}\n{}",
            String::from_utf8_lossy(&api_service.body),
            front.log()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_flag_value_counts_in_either_form() {
        let args = [
            "--etcd-servers",
            "http://a",
            "--x",
            "--etcd-servers=http://b",
        ];
        assert_eq!(flag_value(&args, "--etcd-servers"), Some("http://b"));
        assert_eq!(flag_value(&args[..2], "--etcd-servers"), Some("http://a"));
        assert_eq!(flag_value(&args, "--etcd-prefix"), None);
        assert_eq!(flag_value(&["--etcd-servers-x=1"], "--etcd-servers"), None);
    }
}
