//! The front door seen from outside: TLS, HTTP versions, authentication.
//! Until the core API lands every authenticated request is a 404 `Status`;
//! what matters here is that it is not a 401 and that it came over TLS.

use blackbox_tests::{Credentials, Protocol, RawRequest, TestServer};

/// Asserts the response is a Kubernetes `Status` with this code and reason.
fn assert_status(response: &blackbox_tests::RawResponse, code: u16, reason: &str) {
    assert_eq!(response.status, code, "body: {:?}", response.body);
    let status = response.json();
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["apiVersion"], "v1");
    assert_eq!(status["status"], "Failure");
    assert_eq!(status["code"], code);
    assert_eq!(status["reason"], reason);
}

/// An authenticated request reaches the API handler: 200 once the core
/// serves the path, 404 before. Never 401 or 403.
fn assert_reached_the_handler(response: &blackbox_tests::RawResponse) {
    assert!(
        response.status == 200 || response.status == 404,
        "expected the handler's answer, got {} {:?}",
        response.status,
        response.body
    );
}

#[tokio::test]
async fn kubectl_with_the_admin_kubeconfig_is_authenticated_over_tls() {
    let server = TestServer::start().await;
    let kubeconfig = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig written");
    assert!(kubeconfig.contains(&format!("server: https://127.0.0.1:{}", server.port())));

    let output = server.kubectl(&["get", "--raw", "/version"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || stderr.contains("(NotFound)"),
        "kubectl failed other than with NotFound: {stderr}"
    );
    assert!(!stderr.contains("Unauthorized"), "{stderr}");
    assert!(!stderr.contains("certificate"), "{stderr}");
}

#[tokio::test]
async fn kube_rs_with_the_admin_kubeconfig_is_authenticated() {
    let server = TestServer::start().await;
    let client = server.client().await;
    match client.apiserver_version().await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) => assert_eq!(status.code, 404, "{status:?}"),
        Err(other) => panic!("kube-rs could not reach the server: {other}"),
    }
}

#[tokio::test]
async fn a_request_without_credentials_gets_401_unauthorized_status() {
    let server = TestServer::start().await;
    let response = server.get("/api", Credentials::None).await;
    assert_status(&response, 401, "Unauthorized");
    assert_eq!(response.json()["message"], "Unauthorized");
}

#[tokio::test]
async fn the_admin_certificate_reaches_the_handler() {
    let server = TestServer::start().await;
    let response = server.get("/api/v1/namespaces", Credentials::Admin).await;
    assert_reached_the_handler(&response);
    if response.status == 404 {
        assert_status(&response, 404, "NotFound");
    }
}

fn write_token_file(dir: &std::path::Path) -> String {
    let path = dir.join("tokens.csv");
    std::fs::write(&path, "s3cr3t,alice,1001,\"dev,ops\"\n").expect("token file written");
    path.display().to_string()
}

#[tokio::test]
async fn a_bearer_token_from_the_token_auth_file_authenticates() {
    let files = tempfile::tempdir().expect("temp dir");
    let tokens = write_token_file(files.path());
    let server = TestServer::start_with(&["--token-auth-file", &tokens]).await;

    let known = server
        .get("/api", Credentials::Bearer("s3cr3t".into()))
        .await;
    assert_reached_the_handler(&known);

    let unknown = server
        .get("/api", Credentials::Bearer("guess".into()))
        .await;
    assert_status(&unknown, 401, "Unauthorized");
}

#[tokio::test]
async fn an_unknown_bearer_token_is_refused_even_with_anonymous_auth() {
    let files = tempfile::tempdir().expect("temp dir");
    let tokens = write_token_file(files.path());
    let server =
        TestServer::start_with(&["--token-auth-file", &tokens, "--anonymous-auth=true"]).await;
    let unknown = server
        .get("/api", Credentials::Bearer("guess".into()))
        .await;
    assert_status(&unknown, 401, "Unauthorized");
}

#[tokio::test]
async fn anonymous_auth_lets_requests_without_credentials_through() {
    let server = TestServer::start_with(&["--anonymous-auth"]).await;
    let response = server.get("/api", Credentials::None).await;
    assert_reached_the_handler(&response);
}

#[tokio::test]
async fn http2_is_negotiated_and_http1_still_works() {
    let server = TestServer::start().await;
    let h2 = server.get("/api", Credentials::Admin).await;
    assert_eq!(h2.version, http::Version::HTTP_2);

    let h1 = server
        .send(RawRequest::get("/api").protocol(Protocol::Http1Only))
        .await
        .expect("an HTTP/1.1 response");
    assert_eq!(h1.version, http::Version::HTTP_11);
    assert_eq!(h1.status, h2.status);
}

#[tokio::test]
async fn a_client_certificate_signed_by_client_ca_file_authenticates() {
    let files = tempfile::tempdir().expect("temp dir");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params.distinguished_name = rcgen::DistinguishedName::new();
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "outside-ca");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let ca_path = files.path().join("client-ca.crt");
    std::fs::write(&ca_path, ca_cert.pem()).expect("ca written");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);

    let user_key = rcgen::KeyPair::generate().expect("key");
    let mut user_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    user_params.distinguished_name = rcgen::DistinguishedName::new();
    user_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "jane");
    user_params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let user_cert = user_params
        .signed_by(&user_key, &issuer)
        .expect("user cert");
    let jane = Credentials::Certificate {
        cert_pem: user_cert.pem(),
        key_pem: user_key.serialize_pem(),
    };

    let server =
        TestServer::start_with(&["--client-ca-file", &ca_path.display().to_string()]).await;
    let response = server.get("/api", jane).await;
    assert_reached_the_handler(&response);
    // The generated CA still works beside the extra one.
    assert_reached_the_handler(&server.get("/api", Credentials::Admin).await);
}

#[tokio::test]
async fn a_client_certificate_from_an_unknown_ca_is_refused() {
    let server = TestServer::start().await;
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "mallory");
    params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ClientAuth];
    let cert = params.self_signed(&key).expect("cert");
    let mallory = Credentials::Certificate {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    };
    match server
        .send(RawRequest::get("/api").credentials(mallory))
        .await
    {
        Err(_) => {}
        Ok(response) => panic!("served a self-signed client: {}", response.status),
    }
}

#[tokio::test]
async fn sigterm_stops_the_server_cleanly() {
    let mut server = TestServer::start().await;
    let status = server.stop().expect("the server was running");
    assert!(status.success(), "exit status {status}\n{}", server.log());
    assert!(server.log().contains("shutting down"));
}

#[tokio::test]
async fn plain_http_gets_a_400_and_is_never_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let server = TestServer::start_with(&["--anonymous-auth"]).await;
    let mut tcp = tokio::net::TcpStream::connect(server.address())
        .await
        .expect("connects");
    tcp.write_all(b"GET /api HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("writes");
    let mut reply = String::new();
    tcp.read_to_string(&mut reply).await.expect("reads");
    assert!(reply.starts_with("HTTP/1.0 400 Bad Request"), "{reply}");
    assert!(reply.contains("Client sent an HTTP request to an HTTPS server."));
}

#[tokio::test]
async fn a_given_serving_certificate_is_used_and_trusted_by_the_kubeconfig() {
    let files = tempfile::tempdir().expect("temp dir");
    let ca_key = rcgen::KeyPair::generate().expect("key");
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "my-serving-ca");
    let ca_cert = ca_params.self_signed(&ca_key).expect("ca cert");
    let issuer = rcgen::Issuer::new(ca_params, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let params = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()]).expect("params");
    let cert = params.signed_by(&key, &issuer).expect("serving cert");
    let cert_path = files.path().join("serving.crt");
    let key_path = files.path().join("serving.key");
    std::fs::write(&cert_path, format!("{}{}", cert.pem(), ca_cert.pem())).expect("written");
    std::fs::write(&key_path, key.serialize_pem()).expect("written");

    let server = TestServer::start_with(&[
        "--tls-cert-file",
        &cert_path.display().to_string(),
        "--tls-private-key-file",
        &key_path.display().to_string(),
    ])
    .await;

    assert!(!server.pki_file("apiserver.crt").exists());
    let output = server.kubectl(&["get", "--raw", "/version"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success() || stderr.contains("(NotFound)"),
        "kubectl failed other than with NotFound: {stderr}"
    );
}
