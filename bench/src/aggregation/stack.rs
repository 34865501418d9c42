//! The two servers `bench aggregation` measures: a fresh `kube-apiserver`
//! (the front) and a `sample-apiserver` (the backend) that trusts the
//! front's front-proxy CA, each with a scratch directory under one
//! temporary directory.
//!
//! Dropping the [`Stack`] kills both processes and then removes the
//! directory, however the run ends.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use http::{HeaderMap, HeaderValue};
use rustls::pki_types::ServerName;
use tempfile::TempDir;

use crate::error::BenchError;
use crate::kubeconfig::{self, Endpoint};
use crate::startup::{self, Server};
use crate::tls;

/// How long either server may take to serve: the front generates its PKI
/// on first start, which takes tens of milliseconds; a busy machine may
/// stretch that a lot.
const START_WAIT: Duration = Duration::from_secs(30);
/// Time between two looks at a starting server.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// What the backend prints once it listens (its port follows).
const SERVING_LINE: &str = "serving on https://127.0.0.1:";

/// The names the backend's serving certificate carries: the one an
/// aggregator checks (`<service>.<namespace>.svc`), then the loopback ones.
const BACKEND_NAMES: [&str; 3] = ["api.wardle.svc", "localhost", "127.0.0.1"];

/// The identity the direct client claims in request headers, as the front
/// would forward it for its admin.
const DIRECT_USER: &str = "bench";
const DIRECT_GROUP: &str = "system:masters";

/// Both servers, running. Fields drop in order: the processes go before
/// the directory they write in.
pub struct Stack {
    front: Server,
    backend: Server,
    /// The front, as its admin kubeconfig reaches it.
    pub front_endpoint: Endpoint,
    /// The backend, reached the way the front reaches it: the front-proxy
    /// client certificate and identity headers.
    pub direct_endpoint: Endpoint,
    pub backend_port: u16,
    /// The backend's CA as an APIService `caBundle` (base64 of the PEM).
    pub ca_bundle: String,
    scratch: TempDir,
}

impl Stack {
    /// Starts the front, waits for its `/readyz`, then starts the backend
    /// and waits for its serving line.
    pub async fn start(server_bin: &Path, backend_bin: &Path) -> Result<Stack, BenchError> {
        let scratch = tempfile::Builder::new()
            .prefix("bench-aggregation-")
            .tempdir()?;
        let data_dir = scratch.path().join("front");
        std::fs::create_dir(&data_dir)?;
        let (front, front_endpoint) = start_front(server_bin, &data_dir, scratch.path()).await?;

        let pki = BackendPki::generate()?;
        let pki_dir = data_dir.join("pki");
        let (backend, backend_port) =
            start_backend(backend_bin, &pki, &pki_dir, scratch.path()).await?;
        let direct_endpoint = direct_endpoint(backend_port, &pki.ca_pem, &pki_dir)?;
        Ok(Stack {
            front,
            backend,
            front_endpoint,
            direct_endpoint,
            backend_port,
            ca_bundle: base64::engine::general_purpose::STANDARD.encode(&pki.ca_pem),
            scratch,
        })
    }

    pub fn front_pid(&self) -> u32 {
        self.front.0.id()
    }

    pub fn backend_pid(&self) -> u32 {
        self.backend.0.id()
    }

    /// The ends of both logs, for a report of what went wrong.
    pub fn log_tails(&self) -> String {
        let tail = |name: &str| startup::log_tail(&self.scratch.path().join(name));
        format!(
            "front log: {}\nbackend log: {}",
            tail("front.log"),
            tail("backend.log")
        )
    }
}

/// Runs `kube-apiserver --data-dir DIR --secure-port PORT` and returns it
/// once `/readyz` answers 200 with its admin kubeconfig.
async fn start_front(
    binary: &Path,
    data_dir: &Path,
    scratch: &Path,
) -> Result<(Server, Endpoint), BenchError> {
    let port = startup::free_port()?;
    let log_path = scratch.join("front.log");
    let log = std::fs::File::create(&log_path)?;
    let mut front = Server(
        Command::new(binary)
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--secure-port", &port.to_string()])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .map_err(|error| spawn_error(binary, error))?,
    );
    let deadline = Instant::now() + START_WAIT;
    let mut endpoint = None;
    while Instant::now() < deadline {
        if let Some(status) = front.0.try_wait()? {
            return Err(BenchError::Protocol(format!(
                "the front exited with {status}: {}",
                startup::log_tail(&log_path)
            )));
        }
        if endpoint.is_none() {
            endpoint = kubeconfig::load(&data_dir.join("admin.kubeconfig")).ok();
        }
        if let Some(endpoint) = &endpoint {
            if startup::is_ready(endpoint).await {
                return Ok((front, endpoint.clone()));
            }
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Err(BenchError::Protocol(format!(
        "the front was not ready within {START_WAIT:?}: {}",
        startup::log_tail(&log_path)
    )))
}

/// Runs `sample-apiserver` on a port of its choosing, trusting the front's
/// front-proxy CA for callers named `front-proxy-client`, and returns it
/// with its port once it prints its serving line.
async fn start_backend(
    binary: &Path,
    pki: &BackendPki,
    front_pki: &Path,
    scratch: &Path,
) -> Result<(Server, u16), BenchError> {
    let dir = scratch.join("backend");
    std::fs::create_dir(&dir)?;
    let (cert, key) = (dir.join("tls.crt"), dir.join("tls.key"));
    std::fs::write(&cert, &pki.cert_pem)?;
    std::fs::write(&key, &pki.key_pem)?;
    let log_path = scratch.join("backend.log");
    let log = std::fs::File::create(&log_path)?;
    let mut backend = Server(
        Command::new(binary)
            .arg("--cert")
            .arg(&cert)
            .arg("--key")
            .arg(&key)
            .args(["--port", "0"])
            .arg("--requestheader-client-ca-file")
            .arg(front_pki.join("front-proxy-ca.crt"))
            .args(["--requestheader-allowed-names", "front-proxy-client"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .map_err(|error| spawn_error(binary, error))?,
    );
    let deadline = Instant::now() + START_WAIT;
    while Instant::now() < deadline {
        let text = std::fs::read_to_string(&log_path).unwrap_or_default();
        if let Some(port) = serving_port(&text) {
            return Ok((backend, port));
        }
        if let Some(status) = backend.0.try_wait()? {
            return Err(BenchError::Protocol(format!(
                "the backend exited with {status}: {}",
                startup::log_tail(&log_path)
            )));
        }
        tokio::time::sleep(POLL_INTERVAL).await;
    }
    Err(BenchError::Protocol(format!(
        "the backend did not serve within {START_WAIT:?}: {}",
        startup::log_tail(&log_path)
    )))
}

fn spawn_error(binary: &Path, error: std::io::Error) -> BenchError {
    BenchError::Protocol(format!("starting {}: {error}", binary.display()))
}

/// The port of the backend's `serving on https://127.0.0.1:PORT` line.
pub fn serving_port(log: &str) -> Option<u16> {
    log.lines()
        .find_map(|line| line.strip_prefix(SERVING_LINE))
        .and_then(|port| port.trim().parse().ok())
}

/// The backend as the front sees it: its CA trusted, the front's
/// front-proxy client certificate presented, the caller named in headers.
fn direct_endpoint(port: u16, ca_pem: &str, front_pki: &Path) -> Result<Endpoint, BenchError> {
    let read = |name: &str| -> Result<Vec<u8>, BenchError> {
        let path: PathBuf = front_pki.join(name);
        std::fs::read(&path)
            .map_err(|error| BenchError::Certificate(format!("{}: {error}", path.display())))
    };
    let identity = tls::client_identity(
        &read("front-proxy-client.crt")?,
        &read("front-proxy-client.key")?,
    )?;
    let mut headers = HeaderMap::new();
    headers.insert("x-remote-user", HeaderValue::from_static(DIRECT_USER));
    headers.insert("x-remote-group", HeaderValue::from_static(DIRECT_GROUP));
    Ok(Endpoint {
        port,
        server_name: ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()),
        tls: Arc::new(tls::verifying_config(ca_pem.as_bytes(), Some(identity))?),
        bearer_token: None,
        headers,
    })
}

/// A CA made for this run and the backend's serving certificate it signed.
struct BackendPki {
    ca_pem: String,
    cert_pem: String,
    key_pem: String,
}

impl BackendPki {
    fn generate() -> Result<BackendPki, BenchError> {
        let ca_key = rcgen::KeyPair::generate().map_err(certificate_error)?;
        let mut ca =
            rcgen::CertificateParams::new(Vec::<String>::new()).map_err(certificate_error)?;
        ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        ca.distinguished_name = rcgen::DistinguishedName::new();
        ca.distinguished_name
            .push(rcgen::DnType::CommonName, "bench-aggregation-ca");
        let ca_pem = ca.self_signed(&ca_key).map_err(certificate_error)?.pem();
        let issuer = rcgen::Issuer::new(ca, ca_key);

        let key = rcgen::KeyPair::generate().map_err(certificate_error)?;
        let names = BACKEND_NAMES.map(String::from).to_vec();
        let mut leaf = rcgen::CertificateParams::new(names).map_err(certificate_error)?;
        leaf.distinguished_name = rcgen::DistinguishedName::new();
        leaf.distinguished_name
            .push(rcgen::DnType::CommonName, "sample-apiserver");
        leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        let cert = leaf.signed_by(&key, &issuer).map_err(certificate_error)?;
        Ok(BackendPki {
            ca_pem,
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}

fn certificate_error(error: rcgen::Error) -> BenchError {
    BenchError::Certificate(format!("making the backend's certificates: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serving_port_is_read_from_its_line() {
        let log = "request-header authentication: CA x, names front-proxy-client\n\
                   serving on https://127.0.0.1:40123\nrequest GET /apis user=a groups= extra=\n";
        assert_eq!(serving_port(log), Some(40123));
    }

    #[test]
    fn no_serving_line_yet_is_none() {
        assert_eq!(serving_port(""), None);
        assert_eq!(serving_port("serving on https://127.0.0.1:"), None);
        assert_eq!(serving_port("sample-apiserver: bad flag\n"), None);
    }

    #[test]
    fn backend_certificate_is_trusted_for_its_names() {
        use rustls::client::danger::ServerCertVerifier as _;
        use rustls::pki_types::pem::PemObject as _;
        use rustls::pki_types::{CertificateDer, UnixTime};

        let pki = BackendPki::generate().expect("certificates");
        let mut roots = rustls::RootCertStore::empty();
        roots
            .add(CertificateDer::from_pem_slice(pki.ca_pem.as_bytes()).expect("CA PEM"))
            .expect("a usable CA");
        let verifier = rustls::client::WebPkiServerVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .expect("a verifier");
        let leaf = CertificateDer::from_pem_slice(pki.cert_pem.as_bytes()).expect("leaf PEM");
        let names = [
            ServerName::try_from("api.wardle.svc").expect("a DNS name"),
            ServerName::try_from("localhost").expect("a DNS name"),
            ServerName::IpAddress(Ipv4Addr::LOCALHOST.into()),
        ];
        for name in names {
            verifier
                .verify_server_cert(&leaf, &[], &name, &[], UnixTime::now())
                .unwrap_or_else(|error| panic!("{name:?}: {error}"));
        }
        tls::client_identity(pki.cert_pem.as_bytes(), pki.key_pem.as_bytes())
            .expect("the key parses");
    }
}
