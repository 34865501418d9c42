//! Who a request comes from, as upstream's request-header authenticator
//! (`k8s.io/apiserver/pkg/authentication/request/headerrequest`) decides it:
//! the aggregator in front proves itself with a TLS client certificate
//! signed by the request-header CA, whose common name is allowed, and states
//! the user it forwards for in headers (`X-Remote-User`, `X-Remote-Group`,
//! `X-Remote-Extra-<key>` by default).
//!
//! The TLS layer asks for a client certificate but accepts any, as Go's
//! `tls.RequestClientCert` does upstream; the chain is checked here, per
//! request, so a wrong certificate gets a 401 rather than a failed
//! handshake.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::HeaderMap;
use k8s_openapi::api::core::v1::ConfigMap;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, RootCertStore, SignatureScheme};
use rustls_pki_types::pem::PemObject;

use crate::route::percent_decode;

/// The ConfigMap upstream's kube-apiserver publishes for aggregated servers.
const CONFIGMAP_NAMESPACE: &str = "kube-system";
const CONFIGMAP_NAME: &str = "extension-apiserver-authentication";

/// How long start-up waits for the ConfigMap to carry the request-header CA:
/// the API server writes it shortly after it starts serving.
const CONFIGMAP_WAIT: Duration = Duration::from_secs(30);

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct User {
    pub name: String,
    pub groups: Vec<String>,
    /// Extra keys (lower-case, percent-decoded) and their values in order.
    pub extra: BTreeMap<String, Vec<String>>,
}

impl User {
    /// `user=NAME groups=a,b extra=key=v1|v2;key2=v`, as the request log
    /// prints it.
    pub fn describe(&self) -> String {
        let extra: Vec<String> = self
            .extra
            .iter()
            .map(|(key, values)| format!("{key}={}", values.join("|")))
            .collect();
        format!(
            "user={} groups={} extra={}",
            self.name,
            self.groups.join(","),
            extra.join(";")
        )
    }
}

/// Why a request has no user.
#[derive(Debug)]
pub enum Refusal {
    /// The TLS client presented no certificate.
    NoCertificate,
    /// The certificate does not chain to the request-header CA.
    Untrusted(rustls::Error),
    /// The certificate's common name is not in the allowed list.
    NameNotAllowed(String),
    /// None of the username headers has a value.
    NoUsername,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::NoCertificate => write!(f, "no client certificate"),
            Refusal::Untrusted(e) => write!(f, "client certificate not trusted: {e}"),
            Refusal::NameNotAllowed(cn) => {
                write!(f, "subject with cn={cn} is not in the allowed list")
            }
            Refusal::NoUsername => write!(f, "no username header"),
        }
    }
}

/// The request-header settings, as the ConfigMap's keys name them.
#[derive(Debug)]
pub struct RequestHeaderConfig {
    pub client_ca_pem: String,
    /// Common names the front proxy's certificate may have; empty means any.
    pub allowed_names: Vec<String>,
    pub username_headers: Vec<String>,
    pub group_headers: Vec<String>,
    pub extra_prefixes: Vec<String>,
}

impl RequestHeaderConfig {
    /// The flag form: a CA file, the allowed names and upstream's default
    /// header names.
    pub fn from_flags(ca_file: &Path, allowed_names: Vec<String>) -> Result<Self, String> {
        let client_ca_pem = std::fs::read_to_string(ca_file)
            .map_err(|e| format!("reading {}: {e}", ca_file.display()))?;
        Ok(RequestHeaderConfig {
            client_ca_pem,
            allowed_names,
            username_headers: vec!["X-Remote-User".into()],
            group_headers: vec!["X-Remote-Group".into()],
            extra_prefixes: vec!["X-Remote-Extra-".into()],
        })
    }

    /// Reads `kube-system/extension-apiserver-authentication` through the
    /// server `kubeconfig` points at, waiting until it carries
    /// `requestheader-client-ca-file`.
    pub async fn from_kubeconfig(kubeconfig: &Path) -> Result<Self, String> {
        let config = kube::config::Kubeconfig::read_from(kubeconfig)
            .map_err(|e| format!("reading {}: {e}", kubeconfig.display()))?;
        let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
            .await
            .map_err(|e| format!("{}: {e}", kubeconfig.display()))?;
        let client = kube::Client::try_from(config).map_err(|e| e.to_string())?;
        let configmaps: kube::Api<ConfigMap> = kube::Api::namespaced(client, CONFIGMAP_NAMESPACE);
        let deadline = Instant::now() + CONFIGMAP_WAIT;
        loop {
            let last = match configmaps.get_opt(CONFIGMAP_NAME).await {
                Ok(Some(configmap)) => match RequestHeaderConfig::from_configmap(&configmap) {
                    Ok(config) => return Ok(config),
                    Err(e) => e,
                },
                Ok(None) => format!("{CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME} does not exist"),
                Err(e) => format!("reading {CONFIGMAP_NAMESPACE}/{CONFIGMAP_NAME}: {e}"),
            };
            if Instant::now() > deadline {
                return Err(format!("after {CONFIGMAP_WAIT:?}: {last}"));
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// The list keys hold JSON arrays in strings, as upstream writes them;
    /// a missing list is empty.
    fn from_configmap(configmap: &ConfigMap) -> Result<Self, String> {
        let data = configmap.data.clone().unwrap_or_default();
        let client_ca_pem = data
            .get("requestheader-client-ca-file")
            .filter(|pem| !pem.trim().is_empty())
            .cloned()
            .ok_or("the ConfigMap has no requestheader-client-ca-file yet")?;
        let list = |key: &str| -> Result<Vec<String>, String> {
            match data.get(key) {
                None => Ok(Vec::new()),
                Some(text) if text.trim().is_empty() => Ok(Vec::new()),
                Some(text) => serde_json::from_str(text)
                    .map_err(|e| format!("{key} is not a JSON list of strings ({e}): {text}")),
            }
        };
        Ok(RequestHeaderConfig {
            client_ca_pem,
            allowed_names: list("requestheader-allowed-names")?,
            username_headers: list("requestheader-username-headers")?,
            group_headers: list("requestheader-group-headers")?,
            extra_prefixes: list("requestheader-extra-headers-prefix")?,
        })
    }
}

/// Checks requests against one [`RequestHeaderConfig`].
pub struct Authenticator {
    config: RequestHeaderConfig,
    /// Verifies a chain against the request-header CA (client-auth usage).
    verifier: Arc<dyn ClientCertVerifier>,
}

impl Authenticator {
    pub fn new(config: RequestHeaderConfig) -> Result<Authenticator, String> {
        let mut roots = RootCertStore::empty();
        for cert in CertificateDer::pem_slice_iter(config.client_ca_pem.as_bytes()) {
            let cert = cert.map_err(|e| format!("request-header CA: {e}"))?;
            roots
                .add(cert)
                .map_err(|e| format!("request-header CA: {e}"))?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| format!("request-header CA: {e}"))?;
        Ok(Authenticator { config, verifier })
    }

    /// One line for the log: what start-up settled on.
    pub fn describe(&self) -> String {
        let c = &self.config;
        format!(
            "requestheader allowed-names={:?} username-headers={:?} group-headers={:?} extra-prefixes={:?}",
            c.allowed_names, c.username_headers, c.group_headers, c.extra_prefixes
        )
    }

    /// The verifier for the TLS layer: it asks for a certificate, takes any,
    /// and leaves the chain to [`Authenticator::authenticate`].
    pub fn tls_verifier(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::new(RequestAnyCertificate(self.verifier.clone()))
    }

    /// The user of a request whose TLS client sent `peer` (leaf first).
    pub fn authenticate(
        &self,
        peer: &[CertificateDer<'static>],
        headers: &HeaderMap,
    ) -> Result<User, Refusal> {
        let (leaf, intermediates) = peer.split_first().ok_or(Refusal::NoCertificate)?;
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map_err(Refusal::Untrusted)?;
        let cn = common_name(leaf).unwrap_or_default();
        if !self.config.allowed_names.is_empty() && !self.config.allowed_names.contains(&cn) {
            return Err(Refusal::NameNotAllowed(cn));
        }
        let name = self
            .config
            .username_headers
            .iter()
            .find_map(|header| {
                headers
                    .get(header.as_str())
                    .and_then(|v| v.to_str().ok())
                    .filter(|v| !v.is_empty())
            })
            .ok_or(Refusal::NoUsername)?
            .to_string();
        let groups = self
            .config
            .group_headers
            .iter()
            .flat_map(|header| headers.get_all(header.as_str()))
            .filter_map(|v| v.to_str().ok())
            .map(String::from)
            .collect();
        Ok(User {
            name,
            groups,
            extra: self.extra(headers),
        })
    }

    /// Every header under an extra prefix: the rest of its name, lower-cased
    /// then percent-decoded, is the key; each of its values is kept.
    fn extra(&self, headers: &HeaderMap) -> BTreeMap<String, Vec<String>> {
        let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for prefix in &self.config.extra_prefixes {
            let prefix = prefix.to_ascii_lowercase();
            for name in headers.keys() {
                // Header names arrive lower-cased.
                let Some(key) = name.as_str().strip_prefix(&prefix) else {
                    continue;
                };
                let values = headers
                    .get_all(name)
                    .iter()
                    .filter_map(|v| v.to_str().ok())
                    .map(String::from);
                extra.entry(percent_decode(key)).or_default().extend(values);
            }
        }
        extra
    }
}

/// The subject's common name, if the certificate parses and has one.
fn common_name(cert: &CertificateDer<'_>) -> Option<String> {
    let (_, parsed) = x509_parser::parse_x509_certificate(cert.as_ref()).ok()?;
    let cn = parsed.subject().iter_common_name().next()?;
    cn.as_str().ok().map(String::from)
}

/// Asks every TLS client for a certificate and accepts whatever comes (the
/// handshake signature is still checked, so the client holds the key).
#[derive(Debug)]
struct RequestAnyCertificate(Arc<dyn ClientCertVerifier>);

impl ClientCertVerifier for RequestAnyCertificate {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
