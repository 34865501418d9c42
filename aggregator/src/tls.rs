//! The rustls server configuration, and what a verified client certificate
//! says about its holder.
//!
//! A client certificate is requested but not required, as upstream does
//! (Go's `VerifyClientCertIfGiven`): a client may instead send a bearer
//! token, or nothing. A certificate that is sent must chain to our CA or to
//! one in --client-ca-file, or the handshake fails.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::pki::{self, Pki, PkiError};

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate file could not be read.
    #[error(transparent)]
    Pki(#[from] PkiError),
    /// rustls refused a certificate, key or the verifier setup.
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    /// The client CA set could not be built.
    #[error("client CA: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// A client CA certificate was not usable as a trust anchor.
    #[error("client CA certificate: {0}")]
    BadCa(String),
}

/// The server config: our serving certificate, client certificates checked
/// against our CA plus `client_ca_file`, ALPN for HTTP/2 and HTTP/1.1.
pub fn server_config(
    pki: &Pki,
    client_ca_file: Option<&Path>,
) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(pki.ca_pem.as_bytes()) {
        let ca = ca.map_err(|e| TlsError::BadCa(e.to_string()))?;
        roots.add(ca)?;
    }
    if let Some(path) = client_ca_file {
        for ca in pki::read_certificates(path)? {
            roots
                .add(ca)
                .map_err(|e| TlsError::BadCa(format!("{}: {e}", path.display())))?;
        }
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .allow_unauthenticated()
        .build()?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(verifier)
        .with_single_cert(pki.serving_chain.clone(), pki.serving_key.clone_key())?;
    // h2 first: kubectl, client-go and kube-rs all speak it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// The subject of the verified client certificate of a connection; put in
/// every request's extensions for authentication to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's CommonName (empty when it has none).
    pub common_name: String,
    /// The subject's Organizations, in order.
    pub organizations: Vec<String>,
}

impl ClientCertificate {
    /// Reads the subject of the leaf certificate rustls has verified.
    /// `None` when there is no certificate or its subject is unreadable.
    pub fn from_verified_chain(chain: &[CertificateDer<'_>]) -> Option<ClientCertificate> {
        let leaf = chain.first()?;
        let (_, cert) = x509_parser::parse_x509_certificate(leaf).ok()?;
        let subject = cert.subject();
        let text = |attr: &x509_parser::x509::AttributeTypeAndValue<'_>| {
            attr.as_str().ok().map(str::to_string)
        };
        let common_name = subject
            .iter_common_name()
            .next()
            .and_then(text)
            .unwrap_or_default();
        let organizations = subject.iter_organization().filter_map(text).collect();
        Some(ClientCertificate {
            common_name,
            organizations,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawConfig, Settings};

    #[test]
    fn the_admin_certificate_reads_as_kubernetes_admin_in_system_masters() {
        let dir = tempfile::tempdir().expect("temp dir");
        let settings = Settings::resolve(RawConfig {
            data_dir: Some(dir.path().to_owned()),
            ..RawConfig::default()
        })
        .expect("settings");
        let pki = pki::ensure(&settings).expect("pki");
        assert!(server_config(&pki, None).is_ok());

        let chain = pki::read_certificates(&dir.path().join("pki/admin.crt")).expect("admin cert");
        let subject = ClientCertificate::from_verified_chain(&chain).expect("readable subject");
        assert_eq!(subject.common_name, "kubernetes-admin");
        assert_eq!(subject.organizations, ["system:masters"]);
    }
}
