//! The generated PKI survives a restart: same CAs, same certificates, and
//! the kubeconfig written on first start keeps working.

use blackbox_tests::{Credentials, TestServer};

#[tokio::test]
async fn restart_keeps_the_same_ca_and_certificates() {
    let mut server = TestServer::start().await;
    let files = [
        "ca.crt",
        "ca.key",
        "apiserver.crt",
        "apiserver.key",
        "admin.crt",
        "admin.key",
        "front-proxy-ca.crt",
        "front-proxy-ca.key",
        "front-proxy-client.crt",
        "front-proxy-client.key",
    ];
    let read_all = |server: &TestServer| -> Vec<Vec<u8>> {
        files
            .iter()
            .map(|name| std::fs::read(server.pki_file(name)).expect("pki file exists"))
            .collect()
    };
    let before = read_all(&server);
    let kubeconfig_before = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig");

    server.restart().await;

    assert_eq!(read_all(&server), before);
    let kubeconfig_after = std::fs::read_to_string(server.kubeconfig()).expect("kubeconfig");
    assert_eq!(kubeconfig_after, kubeconfig_before);
    let response = server.get("/api", Credentials::Admin).await;
    assert_ne!(response.status, 401);
    // Two CAs on the first start (ours and the front proxy's), none after.
    assert_eq!(
        server
            .log()
            .matches("generated a new certificate authority")
            .count(),
        2
    );
}
