//! The front-proxy identity of the aggregation gateway: the generated
//! front-proxy CA and client certificate, request-header authentication
//! (a front proxy names the user in `X-Remote-*` headers), and the
//! `kube-system/extension-apiserver-authentication` ConfigMap that tells
//! aggregated API servers how to trust both. Storage plays no part, so one
//! backend is enough.

use std::process::Command;
use std::time::Duration;

use blackbox_tests::{binary_path, Credentials, RawRequest, TestServer};
use http::Method;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use serde_json::{json, Value};

const CONFIGMAP: &str =
    "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication";
const REVIEWS: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

/// A CA made here, and certificates it signs.
struct TestCa {
    cert_pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).expect("CA certificate");
        TestCa {
            cert_pem: cert.pem(),
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// A CA from its PEM files (the server's generated front-proxy CA).
    fn from_files(cert: &std::path::Path, key: &std::path::Path) -> TestCa {
        let cert_pem = std::fs::read_to_string(cert).expect("CA certificate");
        let key_pem = std::fs::read_to_string(key).expect("CA key");
        let key = rcgen::KeyPair::from_pem(&key_pem).expect("CA key parses");
        let issuer = rcgen::Issuer::from_ca_cert_pem(&cert_pem, key).expect("CA parses");
        TestCa { cert_pem, issuer }
    }

    /// A client certificate for `common_name`: (certificate, key) PEMs.
    fn client(&self, common_name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
        let cert = params.signed_by(&key, &self.issuer).expect("certificate");
        (cert.pem(), key.serialize_pem())
    }

    fn credentials(&self, common_name: &str) -> Credentials {
        let (cert_pem, key_pem) = self.client(common_name);
        Credentials::Certificate { cert_pem, key_pem }
    }
}

fn ders(pem: &str) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .expect("PEM certificates")
}

fn file_credentials(server: &TestServer, name: &str) -> Credentials {
    let read = |ext: &str| {
        std::fs::read_to_string(server.pki_file(&format!("{name}.{ext}"))).expect("pki file")
    };
    Credentials::Certificate {
        cert_pem: read("crt"),
        key_pem: read("key"),
    }
}

/// Who the server takes the sender of these credentials and headers for.
async fn review(
    server: &TestServer,
    credentials: Credentials,
    headers: &[(&str, &str)],
) -> blackbox_tests::RawResponse {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let mut request = RawRequest::new(Method::POST, REVIEWS)
        .json(&body)
        .credentials(credentials);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    server.call(request).await
}

async fn user_info(
    server: &TestServer,
    credentials: Credentials,
    headers: &[(&str, &str)],
) -> Value {
    let answer = review(server, credentials, headers).await.expect(201);
    answer["status"]["userInfo"].clone()
}

/// The ConfigMap once `accept` takes it, waiting up to ten seconds.
async fn configmap_when(server: &TestServer, accept: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    for _ in 0..100 {
        let response = server.call(RawRequest::get(CONFIGMAP)).await;
        if response.status == 200 {
            last = response.json();
            if accept(&last) {
                return last;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the ConfigMap never became as expected; last seen: {last}");
}

fn list(configmap: &Value, key: &str) -> Vec<String> {
    let text = configmap["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} missing: {configmap}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is not a JSON list ({e}): {text}"))
}

fn pem_of(configmap: &Value, key: &str) -> Vec<CertificateDer<'static>> {
    ders(
        configmap["data"][key]
            .as_str()
            .unwrap_or_else(|| panic!("{key} missing: {configmap}")),
    )
}

#[tokio::test]
async fn the_generated_front_proxy_names_users_and_is_published() {
    let server = TestServer::start().await;
    for file in [
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "front-proxy-client.crt",
        "front-proxy-client.key",
    ] {
        assert!(server.pki_file(file).exists(), "{file} not generated");
    }
    let front_proxy_ca =
        std::fs::read_to_string(server.pki_file("front-proxy-ca.crt")).expect("front-proxy CA");
    let ca = std::fs::read_to_string(server.pki_file("ca.crt")).expect("CA");
    assert_ne!(ders(&front_proxy_ca), ders(&ca), "a CA of its own");

    // The ConfigMap, with upstream's keys.
    let configmap = configmap_when(&server, |_| true).await;
    assert_eq!(pem_of(&configmap, "client-ca-file"), ders(&ca));
    assert_eq!(
        pem_of(&configmap, "requestheader-client-ca-file"),
        ders(&front_proxy_ca)
    );
    assert_eq!(
        list(&configmap, "requestheader-allowed-names"),
        ["front-proxy-client"]
    );
    assert_eq!(
        list(&configmap, "requestheader-username-headers"),
        ["X-Remote-User"]
    );
    assert_eq!(
        list(&configmap, "requestheader-group-headers"),
        ["X-Remote-Group"]
    );
    assert_eq!(
        list(&configmap, "requestheader-extra-headers-prefix"),
        ["X-Remote-Extra-"]
    );
    assert!(list(&configmap, "requestheader-uid-headers").is_empty());
    assert_eq!(configmap["data"].as_object().map(|d| d.len()), Some(7));

    // The front proxy names alice.
    let proxy = file_credentials(&server, "front-proxy-client");
    let alice_headers = [
        ("X-Remote-User", "alice"),
        ("X-Remote-Group", "dev"),
        ("X-Remote-Group", "ops"),
        ("X-Remote-Extra-Acme.com%2Fproject", "x"),
    ];
    let alice = user_info(&server, proxy.clone(), &alice_headers).await;
    assert_eq!(alice["username"], "alice", "{alice}");
    assert_eq!(
        alice["groups"],
        json!(["dev", "ops", "system:authenticated"]),
        "{alice}"
    );
    assert_eq!(
        alice["extra"],
        json!({"acme.com/project": ["x"]}),
        "{alice}"
    );

    // Impersonation still applies after a front proxy named the user.
    let carol = user_info(
        &server,
        proxy.clone(),
        &[("X-Remote-User", "alice"), ("Impersonate-User", "carol")],
    )
    .await;
    assert_eq!(carol["username"], "carol", "{carol}");

    // The front-proxy certificate alone is nobody: 401, not
    // "front-proxy-client" by way of its common name.
    review(&server, proxy, &[])
        .await
        .expect_failure(401, "Unauthorized");

    // The front-proxy CA signed it, but the name is not allowed.
    let signer = TestCa::from_files(
        &server.pki_file("front-proxy-ca.crt"),
        &server.pki_file("front-proxy-ca.key"),
    );
    review(&server, signer.credentials("stranger"), &alice_headers)
        .await
        .expect_failure(401, "Unauthorized");

    // A user's certificate cannot name someone else in the headers.
    let admin = user_info(
        &server,
        Credentials::Admin,
        &[("X-Remote-User", "mallory"), ("X-Remote-Group", "evil")],
    )
    .await;
    assert_eq!(admin["username"], "kubernetes-admin", "{admin}");
    assert_eq!(
        admin["groups"],
        json!(["system:masters", "system:authenticated"]),
        "{admin}"
    );
    let bob = user_info(&server, Credentials::Admin, &[("Impersonate-User", "bob")]).await;
    assert_eq!(bob["username"], "bob", "{bob}");
}

#[tokio::test]
async fn the_configmap_comes_back_when_deleted_or_edited() {
    let server = TestServer::start().await;
    let first = configmap_when(&server, |_| true).await;

    server
        .call(RawRequest::new(Method::DELETE, CONFIGMAP))
        .await
        .expect(200);
    let again = configmap_when(&server, |c| {
        c["metadata"]["uid"] != first["metadata"]["uid"]
    })
    .await;
    assert_eq!(again["data"], first["data"]);

    let patch = json!({"data": {"requestheader-username-headers": null, "made-up": "x"}});
    server
        .call(RawRequest::new(Method::PATCH, CONFIGMAP).body_with_type(
            patch.to_string().into_bytes(),
            "application/merge-patch+json",
        ))
        .await
        .expect(200);
    let fixed = configmap_when(&server, |c| c["data"] == first["data"]).await;
    assert_eq!(fixed["metadata"]["uid"], again["metadata"]["uid"]);
}

#[tokio::test]
async fn given_front_proxy_files_and_names_are_honoured() {
    let files = tempfile::tempdir().expect("temp dir");
    let ca = TestCa::new("my-front-proxy-ca");
    let ca_path = files.path().join("proxy-ca.crt");
    std::fs::write(&ca_path, &ca.cert_pem).expect("CA written");
    let (cert_pem, key_pem) = ca.client("my-aggregator");
    let (cert_path, key_path) = (files.path().join("p.crt"), files.path().join("p.key"));
    std::fs::write(&cert_path, &cert_pem).expect("certificate written");
    std::fs::write(&key_path, &key_pem).expect("key written");
    // Some settings come from the config file, in its list form.
    let config = files.path().join("config.yaml");
    std::fs::write(
        &config,
        "requestheader-uid-headers: [X-Remote-Uid]\nrequestheader-group-headers: X-Teams\n",
    )
    .expect("config file");

    let path = |p: &std::path::Path| p.display().to_string();
    let server = TestServer::start_with(&[
        "--config",
        &path(&config),
        "--proxy-client-cert-file",
        &path(&cert_path),
        "--proxy-client-key-file",
        &path(&key_path),
        "--requestheader-client-ca-file",
        &path(&ca_path),
        "--requestheader-allowed-names=my-aggregator,other-aggregator",
    ])
    .await;
    for file in ["front-proxy-ca.crt", "front-proxy-client.crt"] {
        assert!(!server.pki_file(file).exists(), "{file} generated anyway");
    }

    let configmap = configmap_when(&server, |_| true).await;
    assert_eq!(
        pem_of(&configmap, "requestheader-client-ca-file"),
        ders(&ca.cert_pem)
    );
    assert_eq!(
        list(&configmap, "requestheader-allowed-names"),
        ["my-aggregator", "other-aggregator"]
    );
    assert_eq!(
        list(&configmap, "requestheader-uid-headers"),
        ["X-Remote-Uid"]
    );
    assert_eq!(list(&configmap, "requestheader-group-headers"), ["X-Teams"]);

    let proxy = Credentials::Certificate { cert_pem, key_pem };
    let bob = user_info(
        &server,
        proxy,
        &[
            ("X-Remote-User", "bob"),
            ("X-Remote-Uid", "1234"),
            ("X-Teams", "blue"),
            ("X-Remote-Group", "ignored"),
        ],
    )
    .await;
    assert_eq!(bob["username"], "bob", "{bob}");
    assert_eq!(bob["uid"], "1234", "{bob}");
    assert_eq!(
        bob["groups"],
        json!(["blue", "system:authenticated"]),
        "{bob}"
    );

    let other = user_info(
        &server,
        ca.credentials("other-aggregator"),
        &[("X-Remote-User", "eve")],
    )
    .await;
    assert_eq!(other["username"], "eve", "{other}");
    review(
        &server,
        ca.credentials("stranger"),
        &[("X-Remote-User", "eve")],
    )
    .await
    .expect_failure(401, "Unauthorized");
}

#[test]
fn a_proxy_client_certificate_without_its_key_stops_the_server() {
    let files = tempfile::tempdir().expect("temp dir");
    let output = Command::new(binary_path())
        .args(["--proxy-client-cert-file", "p.crt", "--data-dir", "data"])
        .current_dir(files.path())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--proxy-client-key-file: required with --proxy-client-cert-file"),
        "{stderr}"
    );
}
