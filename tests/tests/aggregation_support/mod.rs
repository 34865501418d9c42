//! What the aggregation tests share: a test CA that issues serving and
//! client certificates, the `sample-apiserver` process (this package's
//! binary, group `wardle.example.com`), the manifests that register it with
//! a server (namespace `wardle`, Service `wardle/api`, two APIServices), and
//! an HTTP/1.1 upgrade spoken by hand.
//!
//! Every test file that uses it compiles it next to `support` and
//! `crd_support`.
#![allow(dead_code, reason = "each test file uses a different part")]

use std::fs::File;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use blackbox_tests::{Credentials, Endpoint, Protocol, TestServer};
use serde_json::Value;
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::crd_support::eventually;
use crate::support::{ok, write_file};

pub const GROUP: &str = "wardle.example.com";
/// Where the backend's Service lives, and its name.
pub const NS: &str = "wardle";
pub const SERVICE: &str = "api";
pub const V1ALPHA1: &str = "v1alpha1.wardle.example.com";
pub const V1BETA1: &str = "v1beta1.wardle.example.com";
/// The common name the front proxy's client certificate has, kubeadm's.
pub const FRONT_PROXY_CN: &str = "front-proxy-client";
/// The annotations the backend records its caller in.
pub const CREATED_BY: &str = "wardle.example.com/created-by";
pub const CREATED_BY_GROUPS: &str = "wardle.example.com/created-by-groups";

/// How long the backend may take to start: with
/// `--authentication-kubeconfig` it waits up to 30 s for the ConfigMap.
const START_WAIT: Duration = Duration::from_secs(40);

/// How long an availability change may take to show.
pub const AVAILABILITY_WAIT: Duration = Duration::from_secs(15);

/// A certificate and its key, in PEM.
pub struct Issued {
    pub cert_pem: String,
    pub key_pem: String,
}

impl Issued {
    /// As client credentials for a raw request.
    pub fn credentials(&self) -> Credentials {
        Credentials::Certificate {
            cert_pem: self.cert_pem.clone(),
            key_pem: self.key_pem.clone(),
        }
    }
}

/// A certificate authority made for one test.
pub struct TestCa {
    pem: String,
    issuer: rcgen::Issuer<'static, rcgen::KeyPair>,
}

impl TestCa {
    pub fn new(name: &str) -> TestCa {
        let key = rcgen::KeyPair::generate().expect("a CA key");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let pem = params.self_signed(&key).expect("a CA certificate").pem();
        TestCa {
            pem,
            issuer: rcgen::Issuer::new(params, key),
        }
    }

    /// The CA certificate in PEM.
    pub fn pem(&self) -> &str {
        &self.pem
    }

    /// The CA as an APIService's `caBundle`: base64 of the PEM.
    pub fn ca_bundle(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.pem)
    }

    fn issue(&self, names: &[&str], cn: &str, usage: rcgen::ExtendedKeyUsagePurpose) -> Issued {
        let key = rcgen::KeyPair::generate().expect("a leaf key");
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = rcgen::CertificateParams::new(names).expect("leaf params");
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, cn);
        params.extended_key_usages = vec![usage];
        let cert = params
            .signed_by(&key, &self.issuer)
            .expect("a leaf certificate");
        Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        }
    }

    /// A serving certificate for the backend: the name an aggregator
    /// checks (`<service>.<namespace>.svc`), localhost and 127.0.0.1.
    pub fn backend_serving(&self) -> Issued {
        self.issue(
            &[&format!("{SERVICE}.{NS}.svc"), "localhost", "127.0.0.1"],
            "sample-apiserver",
            rcgen::ExtendedKeyUsagePurpose::ServerAuth,
        )
    }

    /// A client certificate with common name `cn`.
    pub fn client(&self, cn: &str) -> Issued {
        self.issue(&[], cn, rcgen::ExtendedKeyUsagePurpose::ClientAuth)
    }
}

/// Where the backend takes its request-header settings from.
pub enum Trust<'a> {
    /// `--authentication-kubeconfig`: the ConfigMap of that server.
    Kubeconfig(&'a Path),
    /// `--requestheader-client-ca-file` and `--requestheader-allowed-names`.
    ClientCa {
        ca: &'a TestCa,
        allowed_names: &'a [&'a str],
    },
}

/// The `sample-apiserver` process, its stderr in a file; killed on drop.
pub struct SampleApiserver {
    child: Option<Child>,
    dir: TempDir,
    args: Vec<String>,
    port: u16,
    ca_pem: String,
}

impl SampleApiserver {
    /// Starts the backend serving a certificate `ca` issues, trusting
    /// callers as `trust` says, and waits until it listens.
    pub fn start(ca: &TestCa, trust: Trust) -> SampleApiserver {
        let dir = tempfile::tempdir().expect("a temp dir for the backend");
        let serving = ca.backend_serving();
        let cert = dir.path().join("tls.crt");
        let key = dir.path().join("tls.key");
        std::fs::write(&cert, &serving.cert_pem).expect("certificate written");
        std::fs::write(&key, &serving.key_pem).expect("key written");
        let path = |p: &Path| p.display().to_string();
        let mut args = vec![
            "--cert".to_string(),
            path(&cert),
            "--key".into(),
            path(&key),
        ];
        match trust {
            Trust::Kubeconfig(kubeconfig) => {
                args.extend(["--authentication-kubeconfig".into(), path(kubeconfig)]);
            }
            Trust::ClientCa { ca, allowed_names } => {
                let ca_file = dir.path().join("front-proxy-ca.crt");
                std::fs::write(&ca_file, ca.pem()).expect("front-proxy CA written");
                args.extend(["--requestheader-client-ca-file".into(), path(&ca_file)]);
                if !allowed_names.is_empty() {
                    args.extend([
                        "--requestheader-allowed-names".into(),
                        allowed_names.join(","),
                    ]);
                }
            }
        }
        let mut backend = SampleApiserver {
            child: None,
            dir,
            args,
            port: 0,
            ca_pem: ca.pem().to_string(),
        };
        backend.spawn();
        backend
    }

    /// Runs the binary on `self.port` (0 at first) and waits for the
    /// serving line of this run.
    fn spawn(&mut self) {
        let log_path = self.dir.path().join("backend.log");
        let log_start = std::fs::metadata(&log_path).map_or(0, |m| m.len() as usize);
        let log = File::options()
            .create(true)
            .append(true)
            .open(&log_path)
            .expect("backend log file");
        let child = Command::new(env!("CARGO_BIN_EXE_sample-apiserver"))
            .args(&self.args)
            .args(["--port", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("sample-apiserver starts");
        self.child = Some(child);
        let marker = "serving on https://127.0.0.1:";
        let deadline = Instant::now() + START_WAIT;
        loop {
            let log = self.log();
            let run = log.get(log_start..).unwrap_or_default();
            let port = run
                .lines()
                .find_map(|line| line.strip_prefix(marker))
                .and_then(|port| port.trim().parse().ok());
            if let Some(port) = port {
                self.port = port;
                return;
            }
            let exited = self
                .child
                .as_mut()
                .and_then(|c| c.try_wait().ok().flatten());
            if let Some(status) = exited {
                panic!("sample-apiserver exited with {status}:\n{log}");
            }
            assert!(
                Instant::now() < deadline,
                "sample-apiserver not serving after {START_WAIT:?}:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Raw requests straight to the backend (no admin credentials: give a
    /// client certificate).
    pub fn endpoint(&self) -> Endpoint {
        Endpoint::new(&format!("127.0.0.1:{}", self.port), &self.ca_pem)
    }

    /// Everything the backend logged, across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("backend.log")).unwrap_or_default()
    }

    /// The `request ...` lines of the log, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter(|line| line.starts_with("request "))
            .map(String::from)
            .collect()
    }

    /// Stops the backend with SIGTERM (SIGKILL after 10 s) and returns how
    /// it exited.
    pub fn stop(&mut self) -> Option<ExitStatus> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
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

    /// Starts the backend again on the same port (its objects are gone: it
    /// keeps them in memory).
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }
}

impl Drop for SampleApiserver {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The Service `wardle/api` reaching a loopback backend: ExternalName
/// `localhost`, since Endpoints refuse loopback addresses.
pub fn external_name_service(port: u16) -> String {
    format!(
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: {SERVICE}\n  namespace: {NS}\n\
         spec:\n  type: ExternalName\n  externalName: localhost\n  ports:\n  - port: {port}\n"
    )
}

/// The APIService `<version>.wardle.example.com` for the backend behind
/// `wardle/api`; trusting `ca_bundle`, or skipping verification when
/// `None`.
pub fn api_service(
    version: &str,
    group_priority: u32,
    version_priority: u32,
    port: u16,
    ca_bundle: Option<&str>,
) -> String {
    let trust = match ca_bundle {
        Some(bundle) => format!("caBundle: {bundle}"),
        None => "insecureSkipTLSVerify: true".to_string(),
    };
    format!(
        "apiVersion: apiregistration.k8s.io/v1\nkind: APIService\nmetadata:\n  \
         name: {version}.{GROUP}\nspec:\n  group: {GROUP}\n  version: {version}\n  \
         groupPriorityMinimum: {group_priority}\n  versionPriority: {version_priority}\n  \
         service:\n    namespace: {NS}\n    name: {SERVICE}\n    port: {port}\n  {trust}\n"
    )
}

/// The group priority the tests register with: the highest allowed, above
/// every built-in group (the core group has 18000), so the group comes
/// first in `/apis`.
pub const TOP_GROUP_PRIORITY: u32 = 20000;

/// Registers `backend` with `server` the way a cluster would: namespace
/// `wardle`, the Service, APIServices v1alpha1 (version priority 15) and
/// v1beta1 (20) trusting `ca`; then waits until both are Available.
pub fn register(server: &TestServer, backend: &SampleApiserver, ca: &TestCa) {
    let port = backend.port();
    let bundle = ca.ca_bundle();
    let manifest = [
        format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {NS}\n"),
        external_name_service(port),
        api_service("v1alpha1", TOP_GROUP_PRIORITY, 15, port, Some(&bundle)),
        api_service("v1beta1", TOP_GROUP_PRIORITY, 20, port, Some(&bundle)),
    ]
    .join("---\n");
    ok(
        server,
        &["apply", "-f", &write_file(server, "wardle.yaml", &manifest)],
    );
    for name in [V1ALPHA1, V1BETA1] {
        ok(
            server,
            &[
                "wait",
                "--for=condition=Available",
                &format!("apiservice/{name}"),
                "--timeout=30s",
            ],
        );
    }
}

/// The Available condition of the APIService `name`.
pub fn available(server: &TestServer, name: &str) -> Value {
    let text = ok(server, &["get", "apiservice", name, "-o", "json"]);
    let service: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"));
    service["status"]["conditions"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["type"] == "Available"))
        .cloned()
        .unwrap_or(Value::Null)
}

/// Polls until the Available condition of `name` has `status` and
/// `reason`, and returns it.
pub async fn wait_for_available(
    server: &TestServer,
    name: &str,
    status: &str,
    reason: &str,
) -> Value {
    let what = format!("APIService {name} Available={status} reason {reason}");
    eventually(&what, AVAILABILITY_WAIT, || async {
        let condition = available(server, name);
        if condition["status"] == status && condition["reason"] == reason {
            Ok(condition)
        } else {
            Err(condition.to_string())
        }
    })
    .await
}

/// A Flunder manifest (YAML) in `ns`, in `version`, with label `app`.
pub fn flunder(version: &str, ns: &str, name: &str, reference: &str) -> String {
    format!(
        "apiVersion: {GROUP}/{version}\nkind: Flunder\nmetadata:\n  name: {name}\n  \
         namespace: {ns}\n  labels:\n    app: wardle\nspec:\n  reference: {reference}\n  \
         referenceType: Flunder\n"
    )
}

/// The path of the Flunders of `ns` in `version`.
pub fn flunders(version: &str, ns: &str) -> String {
    format!("/apis/{GROUP}/{version}/namespaces/{ns}/flunders")
}

/// What an upgrade spoken by hand got back: the response head and the
/// bytes echoed after it.
pub struct Upgraded {
    pub head: String,
    pub echoed: Vec<u8>,
}

/// Sends `GET path` on a new HTTP/1.1 TLS connection with `Connection:
/// Upgrade` and `Upgrade: protocol` (plus `headers`), reads the response
/// head, then writes `payload`, closes the writing side and reads what comes
/// back until the other side closes. A head other than 101 is returned with
/// nothing echoed.
pub async fn upgrade(
    endpoint: &Endpoint,
    credentials: &Credentials,
    path: &str,
    protocol: &str,
    headers: &[(&str, &str)],
    payload: &[u8],
) -> Result<Upgraded, String> {
    let mut tls = endpoint.connect(credentials, Protocol::Http1Only).await?;
    let mut request = format!(
        "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: {protocol}\r\n",
        endpoint.address()
    );
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let io = |e: std::io::Error| e.to_string();
    tls.write_all(request.as_bytes()).await.map_err(io)?;

    let mut received = Vec::new();
    let head_end = loop {
        if let Some(end) = received.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut chunk))
            .await
            .map_err(|_| "no response head within 10 s".to_string())?
            .map_err(io)?;
        if n == 0 {
            return Err(format!(
                "connection closed before the response head: {}",
                String::from_utf8_lossy(&received)
            ));
        }
        received.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&received[..head_end]).into_owned();
    if !head.starts_with("HTTP/1.1 101") {
        return Ok(Upgraded {
            head,
            echoed: Vec::new(),
        });
    }
    let mut echoed = received[head_end..].to_vec();
    tls.write_all(payload).await.map_err(io)?;
    // Wait for the echo before closing our side: a proxy may tear the
    // tunnel down as soon as one direction ends.
    while echoed.len() < payload.len() {
        let mut chunk = [0u8; 4096];
        let n = tokio::time::timeout(Duration::from_secs(10), tls.read(&mut chunk))
            .await
            .map_err(|_| format!("echo incomplete after 10 s: {echoed:?}"))?
            .map_err(io)?;
        if n == 0 {
            break;
        }
        echoed.extend_from_slice(&chunk[..n]);
    }
    let _ = tls.shutdown().await;
    Ok(Upgraded { head, echoed })
}
