//! The black-box test harness: runs the real `kube-apiserver` binary (and,
//! for storage tests, a real etcd) and talks to it only over the network,
//! with kubectl, kube-rs, or raw HTTPS requests.
//!
//! The harness builds nothing. Build the binary first:
//!
//! ```text
//! cargo build -p aggregator && cargo test -p blackbox-tests
//! ```
//!
//! It is found at `$KUBE_APISERVER_BIN`, else `$CARGO_TARGET_DIR/debug/`,
//! else `target/debug/` of this workspace.

mod backend;
mod etcd;
mod raw;
mod split;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

pub use backend::{Backend, Cluster};
pub use etcd::TestEtcd;
pub use raw::{Credentials, Endpoint, Protocol, RawRequest, RawResponse, RawStream, StreamItem};

/// How long a start may take before the test fails. The server's own
/// target is far lower; this only has to survive a loaded CI machine.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// The log line the server prints once it is listening.
const SERVING_MARKER: &str = "serving on https://";

/// A running `kube-apiserver` in its own temp dir; killed, and the dir
/// removed, on drop.
pub struct TestServer {
    child: Option<Child>,
    /// With `KUBE_TEST_CRD_ENGINE=external`, the CRD engine this server
    /// fronts (see `split.rs`); dropped before `dir`.
    crd_engine: Option<Box<split::CrdEngine>>,
    /// The server's working directory: its default ./data lands here, and
    /// server.log collects its output across restarts.
    dir: TempDir,
    args: Vec<String>,
    address: String,
    kubeconfig: PathBuf,
}

/// Where the binary under test is.
pub fn binary_path() -> PathBuf {
    if let Some(path) = std::env::var_os("KUBE_APISERVER_BIN") {
        return PathBuf::from(path);
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    target.join("debug/kube-apiserver")
}

/// A loopback port nothing listens on right now. Another process may take
/// it before the server binds; [`TestServer::start_with`] retries then.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|address| address.port())
        .expect("the OS hands out a free loopback port")
}

impl TestServer {
    /// A server with default settings on a free port.
    pub async fn start() -> TestServer {
        TestServer::start_with(&[]).await
    }

    /// A server on a free port with `--data-dir` in its temp dir, plus
    /// `args` (which may override both: the last flag wins). With
    /// `KUBE_TEST_CRD_ENGINE=external`, the front of a split whose CRD
    /// engine runs as another process (see `split.rs`).
    pub async fn start_with(args: &[&str]) -> TestServer {
        if split::is_split() {
            return split::start(args).await;
        }
        TestServer::start_alone(args).await
    }

    /// One process, as [`TestServer::start_with`] starts it unsplit.
    async fn start_alone(args: &[&str]) -> TestServer {
        for _ in 0..3 {
            let port = free_port().to_string();
            let mut all = vec!["--secure-port", &port, "--data-dir", "data"];
            all.extend_from_slice(args);
            match TestServer::launch(&all).await {
                Ok(server) => return server,
                Err(log) if log.contains("Address already in use") => continue,
                Err(log) => panic!("kube-apiserver did not start:\n{log}"),
            }
        }
        panic!("kube-apiserver found no free port in three tries");
    }

    /// A server with exactly `args`, nothing added: for tests of the
    /// defaults and the config file. It runs in a temp dir, so the default
    /// ./data stays there; the port is whatever the configuration says.
    pub async fn start_bare(args: &[&str]) -> TestServer {
        match TestServer::launch(args).await {
            Ok(server) => server,
            Err(log) => panic!("kube-apiserver did not start:\n{log}"),
        }
    }

    /// Starts the binary and waits until it serves; on failure, the log.
    async fn launch(args: &[&str]) -> Result<TestServer, String> {
        let dir = tempfile::tempdir().expect("a temp dir for the server");
        let mut server = TestServer {
            child: None,
            crd_engine: None,
            dir,
            args: args.iter().map(|a| a.to_string()).collect(),
            address: String::new(),
            kubeconfig: PathBuf::new(),
        };
        server.spawn_and_wait().await?;
        Ok(server)
    }

    async fn spawn_and_wait(&mut self) -> Result<(), String> {
        let binary = binary_path();
        assert!(
            binary.exists(),
            "{} does not exist: run `cargo build -p aggregator` first",
            binary.display()
        );
        let log_path = self.log_path();
        let log_start = std::fs::metadata(&log_path).map(|m| m.len()).unwrap_or(0);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("the server log file opens");
        let stderr = log.try_clone().expect("the log file handle clones");
        let child = Command::new(&binary)
            .args(&self.args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(stderr)
            .spawn()
            .map_err(|e| format!("running {}: {e}", binary.display()))?;
        self.child = Some(child);

        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let text = self.log_since(log_start);
            if let Some(line) = text.lines().find(|line| line.contains(SERVING_MARKER)) {
                self.read_serving_line(line);
                return Ok(());
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                self.child = None;
                return Err(format!("exited with {status}\n{text}"));
            }
            if Instant::now() > deadline {
                return Err(format!("not serving after {START_TIMEOUT:?}\n{text}"));
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Takes the address and kubeconfig path from the "serving on" line.
    fn read_serving_line(&mut self, line: &str) {
        let after = &line[line.find(SERVING_MARKER).unwrap_or(0) + SERVING_MARKER.len()..];
        self.address = after
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string();
        let kubeconfig = line
            .split_whitespace()
            .find_map(|field| field.strip_prefix("kubeconfig="))
            .unwrap_or("data/admin.kubeconfig");
        self.kubeconfig = self.dir.path().join(kubeconfig);
    }

    /// `host:port` the server listens on.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// The port the server listens on.
    pub fn port(&self) -> u16 {
        self.address
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .unwrap_or(0)
    }

    /// The server's working directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The admin kubeconfig the server wrote.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// The server's data dir (the kubeconfig sits at its top).
    pub fn data_dir(&self) -> &Path {
        self.kubeconfig.parent().unwrap_or(self.dir.path())
    }

    /// A file of the generated PKI, e.g. `pki_file("ca.crt")`.
    pub fn pki_file(&self, name: &str) -> PathBuf {
        self.data_dir().join("pki").join(name)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("server.log")
    }

    fn log_since(&self, offset: u64) -> String {
        let bytes = std::fs::read(self.log_path()).unwrap_or_default();
        let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    /// Everything the server has logged, across restarts; in a split,
    /// followed by what the CRD engine behind it has logged.
    pub fn log(&self) -> String {
        let mut log = self.log_since(0);
        if let Some(engine) = &self.crd_engine {
            log.push_str("\n===== the CRD engine behind this server (--crd-engine=only) =====\n");
            log.push_str(&engine.server.log());
        }
        log
    }

    /// Runs real kubectl against the server with the admin kubeconfig.
    pub fn kubectl(&self, args: &[&str]) -> Output {
        Command::new("kubectl")
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.dir.path().join("kubectl-cache"))
            .args(args)
            .env_remove("KUBECONFIG")
            .stdin(Stdio::null())
            .output()
            .expect("kubectl runs")
    }

    /// A kube-rs client from the admin kubeconfig.
    pub async fn client(&self) -> kube::Client {
        // kube-rs is built with ring; rustls needs a process default.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let kubeconfig =
            kube::config::Kubeconfig::read_from(&self.kubeconfig).expect("admin kubeconfig reads");
        let config = kube::Config::from_custom_kubeconfig(
            kubeconfig,
            &kube::config::KubeConfigOptions::default(),
        )
        .await
        .expect("admin kubeconfig is a valid kube-rs config");
        kube::Client::try_from(config).expect("kube-rs client builds")
    }

    /// Sends one raw HTTPS request; `Err` when no HTTP response came back
    /// (for example a refused TLS handshake).
    pub async fn send(&self, request: RawRequest) -> Result<RawResponse, String> {
        Endpoint::of(self)?.send(request).await
    }

    /// Where raw requests to this server go, with its CA and admin
    /// certificate; also for raw TLS connections ([`Endpoint::connect`]).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::of(self).unwrap_or_else(|e| panic!("the server's PKI: {e}"))
    }

    /// GET `path` with the given credentials, HTTP/2 or HTTP/1.1 as
    /// negotiated; panics when no response comes back.
    pub async fn get(&self, path: &str, credentials: Credentials) -> RawResponse {
        self.send(RawRequest::get(path).credentials(credentials))
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}\nserver log:\n{}", self.log()))
    }

    /// Sends one raw HTTPS request; panics, with the server log, when no
    /// response comes back.
    pub async fn call(&self, request: RawRequest) -> RawResponse {
        let what = format!("{} {}", request.method, request.path);
        self.send(request)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}\nserver log:\n{}", self.log()))
    }

    /// Sends one raw HTTPS request and returns as soon as the response head
    /// arrives, with the body left streaming (for watches).
    pub async fn stream(&self, request: RawRequest) -> RawStream {
        let what = format!("{} {}", request.method, request.path);
        self.endpoint()
            .stream(request)
            .await
            .unwrap_or_else(|e| panic!("{what}: {e}\nserver log:\n{}", self.log()))
    }

    /// Kills the server with SIGKILL, as a crash or power cut would, and
    /// waits for it to be gone (in a split, its CRD engine first).
    /// [`TestServer::restart`] starts it again.
    pub fn kill_hard(&mut self) {
        if let Some(engine) = &mut self.crd_engine {
            engine.server.kill_hard();
        }
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Stops the server with SIGTERM (SIGKILL after 10 s) and returns how
    /// it exited. In a split, the CRD engine is signalled first, and the
    /// front right after: the engine's open requests are the front's (its
    /// watch of the CRDs), which end only as the front exits.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        let engine = self
            .crd_engine
            .as_mut()
            .and_then(|engine| engine.server.terminate());
        let status = self.terminate().and_then(wait_or_kill);
        engine.and_then(wait_or_kill);
        status
    }

    /// Sends SIGTERM and hands over the process to wait for.
    fn terminate(&mut self) -> Option<Child> {
        let child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        Some(child)
    }

    /// Stops the server and starts it again with the same arguments and
    /// directory; in a split, the CRD engine comes back after it, and the
    /// restart waits until the CRD API is served through the front again.
    pub async fn restart(&mut self) {
        self.stop();
        if let Err(log) = self.spawn_and_wait().await {
            panic!("kube-apiserver did not restart:\n{log}");
        }
        let Some(engine) = &mut self.crd_engine else {
            return;
        };
        if let Err(log) = engine.server.spawn_and_wait().await {
            panic!("the CRD engine did not restart:\n{log}");
        }
        split::wait_until_served(self).await;
    }
}

/// Waits up to 10 s for a signalled process to exit, then kills it.
fn wait_or_kill(mut child: Child) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let _ = child.kill();
    child.wait().ok()
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
