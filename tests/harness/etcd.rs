//! A real single-member etcd (Debian's `/usr/bin/etcd`) on free loopback
//! ports with a temp data dir, for the storage tests; killed and removed
//! on drop.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Empty, Full};
use hyper_util::rt::TokioIo;
use tempfile::TempDir;
use tokio::net::TcpStream;

use crate::free_port;

/// etcd's path; `$ETCD_BIN` overrides it.
fn etcd_binary() -> PathBuf {
    std::env::var_os("ETCD_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/etcd"))
}

pub struct TestEtcd {
    child: Option<Child>,
    dir: TempDir,
    client_port: u16,
}

impl TestEtcd {
    /// Starts etcd and waits until `/health` says it is healthy. A port
    /// taken between picking it and etcd binding it (another test, another
    /// process) means a fresh try on new ports.
    pub async fn start() -> TestEtcd {
        for _ in 0..5 {
            let mut etcd = TestEtcd::spawn();
            match etcd.wait_healthy().await {
                Ok(()) => return etcd,
                Err(log) if log.contains("address already in use") => continue,
                Err(log) => panic!("etcd did not become healthy:\n{log}"),
            }
        }
        panic!("etcd found no free ports in 5 tries");
    }

    fn spawn() -> TestEtcd {
        let dir = tempfile::tempdir().expect("a temp dir for etcd");
        let client_port = free_port();
        let peer_port = free_port();
        let client_url = format!("http://127.0.0.1:{client_port}");
        let peer_url = format!("http://127.0.0.1:{peer_port}");
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("etcd log file");
        let stderr = log.try_clone().expect("log handle clones");
        let child = Command::new(etcd_binary())
            .arg("--name=test")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=test={peer_url}"))
            .arg("--log-level=warn")
            .arg("--logger=zap")
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("running {}: {e}", etcd_binary().display()));
        TestEtcd {
            child: Some(child),
            dir,
            client_port,
        }
    }

    /// Ok once healthy; the log when etcd exits or the wait runs out.
    async fn wait_healthy(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(body) = self.get("/health").await {
                if body.contains("\"health\":\"true\"") {
                    return Ok(());
                }
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if exited.is_some() || Instant::now() > deadline {
                return Err(self.log());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// A plain HTTP GET against etcd's client port.
    async fn get(&self, path: &str) -> Result<String, String> {
        let tcp = TcpStream::connect(("127.0.0.1", self.client_port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::get(path)
            .header(
                http::header::HOST,
                format!("127.0.0.1:{}", self.client_port),
            )
            .body(Empty::<Bytes>::new())
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// A JSON POST to etcd's gRPC gateway (`/v3/...`), answering JSON.
    async fn post(
        &self,
        path: &str,
        body: &serde_json::Value,
    ) -> Result<serde_json::Value, String> {
        let tcp = TcpStream::connect(("127.0.0.1", self.client_port))
            .await
            .map_err(|e| e.to_string())?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tcp))
            .await
            .map_err(|e| e.to_string())?;
        tokio::spawn(connection);
        let request = http::Request::post(path)
            .header(
                http::header::HOST,
                format!("127.0.0.1:{}", self.client_port),
            )
            .header(http::header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        if !status.is_success() {
            return Err(format!(
                "{path}: {status} {}",
                String::from_utf8_lossy(&bytes)
            ));
        }
        serde_json::from_slice(&bytes).map_err(|e| e.to_string())
    }

    /// The revision etcd last wrote `key` at (its `mod_revision`), or None
    /// when the key does not exist.
    pub async fn mod_revision(&self, key: &str) -> Option<u64> {
        let base64 = base64::engine::general_purpose::STANDARD;
        let answer = self
            .post(
                "/v3/kv/range",
                &serde_json::json!({ "key": base64.encode(key) }),
            )
            .await
            .unwrap_or_else(|e| panic!("etcd range {key}: {e}"));
        // The gateway writes 64-bit integers as strings.
        answer["kvs"][0]["mod_revision"]
            .as_str()
            .and_then(|revision| revision.parse().ok())
    }

    /// Compacts etcd's history up to `revision`, as the API server's
    /// periodic compaction does; older revisions can no longer be read.
    pub async fn compact(&self, revision: u64) {
        self.post(
            "/v3/kv/compaction",
            &serde_json::json!({ "revision": revision.to_string(), "physical": true }),
        )
        .await
        .unwrap_or_else(|e| panic!("etcd compaction at {revision}: {e}"));
    }

    /// The client URL, for `--etcd-servers`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.client_port)
    }

    /// Whether etcd reports itself healthy now.
    pub async fn is_healthy(&self) -> bool {
        self.get("/health")
            .await
            .is_ok_and(|body| body.contains("\"health\":\"true\""))
    }

    /// What etcd has logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }
}

impl Drop for TestEtcd {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
