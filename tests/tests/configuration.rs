//! `--config FILE` and flags: the file's values apply, flags given on the
//! command line win, and a bad file stops the server with a clear error.

use std::process::Command;

use blackbox_tests::{binary_path, free_port, Credentials, TestServer};

#[tokio::test]
async fn config_file_values_apply() {
    let files = tempfile::tempdir().expect("temp dir");
    let tokens = files.path().join("tokens.csv");
    std::fs::write(&tokens, "t0ken,bob,2\n").expect("token file");
    let port = free_port();
    let config = files.path().join("config.yaml");
    std::fs::write(
        &config,
        format!(
            "secure-port: {port}\ndata-dir: state\ntoken-auth-file: {}\n",
            tokens.display()
        ),
    )
    .expect("config file");

    let server = TestServer::start_bare(&["--config", &config.display().to_string()]).await;

    assert_eq!(server.port(), port);
    assert_eq!(
        server.kubeconfig(),
        server.dir().join("state/admin.kubeconfig")
    );
    assert!(server.kubeconfig().exists());
    let response = server
        .get("/api", Credentials::Bearer("t0ken".into()))
        .await;
    assert_ne!(response.status, 401);
}

#[tokio::test]
async fn flags_override_the_config_file() {
    let files = tempfile::tempdir().expect("temp dir");
    let (file_port, flag_port) = (free_port(), free_port());
    let config = files.path().join("config.yaml");
    std::fs::write(
        &config,
        format!("secure-port: {file_port}\nanonymous-auth: true\ndata-dir: from-file\n"),
    )
    .expect("config file");

    let server = TestServer::start_bare(&[
        "--config",
        &config.display().to_string(),
        "--secure-port",
        &flag_port.to_string(),
        "--anonymous-auth=false",
    ])
    .await;

    assert_eq!(server.port(), flag_port);
    // Unflagged settings still come from the file.
    assert_eq!(
        server.kubeconfig(),
        server.dir().join("from-file/admin.kubeconfig")
    );
    let response = server.get("/api", Credentials::None).await;
    assert_eq!(response.status, 401);
}

#[test]
fn an_unknown_key_in_the_config_file_stops_the_server() {
    let files = tempfile::tempdir().expect("temp dir");
    let config = files.path().join("config.yaml");
    std::fs::write(&config, "secure_port: 1\n").expect("config file");
    let output = Command::new(binary_path())
        .arg("--config")
        .arg(&config)
        .current_dir(files.path())
        .output()
        .expect("the binary runs");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("secure_port"), "{stderr}");
    assert!(!files.path().join("data").exists(), "nothing is created");
}
