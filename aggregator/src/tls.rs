//! The rustls server configuration, and what a verified client certificate
//! says about its holder.
//!
//! A client certificate is requested but not required, as upstream does
//! (Go's `VerifyClientCertIfGiven`): a client may instead send a bearer
//! token, or nothing. A certificate that is sent must chain to one of two
//! sets of CAs, or the handshake fails:
//! - the client CAs (our CA and --client-ca-file): the certificate names
//!   its holder (x509 authentication);
//! - the front-proxy CAs (--requestheader-client-ca-file, else the
//!   generated front-proxy CA): the holder is a front proxy, which names
//!   the user in request headers.
//!
//! The handshake accepts either; [`ClientTrust`] then checks the chain
//! against each set apart, so that a certificate signed only by a
//! front-proxy CA is never taken as a user, as upstream's x509
//! authenticator trusts the client CAs alone.

use std::sync::Arc;

use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, UnixTime};

use crate::pki::Pki;

/// Why the TLS configuration could not be built.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// rustls refused a certificate, key or the verifier setup.
    #[error("TLS setup: {0}")]
    Rustls(#[from] rustls::Error),
    /// A set of client CAs could not be built.
    #[error("client CA: {0}")]
    ClientVerifier(#[from] rustls::server::VerifierBuilderError),
    /// A CA certificate was not usable as a trust anchor.
    #[error("{which} certificate: {message}")]
    BadCa {
        which: &'static str,
        message: String,
    },
}

/// What the listener needs: the rustls config for the handshake, and the
/// verifiers that tell which CAs a client certificate chains to.
#[derive(Clone)]
pub struct ServerTls {
    pub config: Arc<ServerConfig>,
    pub client_trust: ClientTrust,
}

/// The server config: our serving certificate, client certificates checked
/// against the client CAs and the front-proxy CAs, ALPN for HTTP/2 and
/// HTTP/1.1.
pub fn server_config(pki: &Pki) -> Result<ServerTls, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let client_roots = roots("client CA", &pki.client_ca_pem)?;
    let proxy_roots = roots("requestheader client CA", &pki.requestheader_ca_pem)?;
    let mut either = client_roots.clone();
    either.roots.extend(proxy_roots.roots.iter().cloned());

    let verifier = |roots: RootCertStore| {
        WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
    };
    let client_trust = ClientTrust {
        client_ca: verifier(client_roots).build()?,
        requestheader_ca: verifier(proxy_roots).build()?,
    };
    let handshake = verifier(either).allow_unauthenticated().build()?;
    let mut config = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(handshake)
        .with_single_cert(pki.serving_chain.clone(), pki.serving_key.clone_key())?;
    // h2 first: kubectl, client-go and kube-rs all speak it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(ServerTls {
        config: Arc::new(config),
        client_trust,
    })
}

fn roots(which: &'static str, pem: &str) -> Result<RootCertStore, TlsError> {
    let bad = |message: String| TlsError::BadCa { which, message };
    let mut roots = RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(pem.as_bytes()) {
        let ca = ca.map_err(|e| bad(e.to_string()))?;
        roots.add(ca).map_err(|e| bad(e.to_string()))?;
    }
    Ok(roots)
}

/// Checks a client's chain against the client CAs and the front-proxy CAs
/// separately (the handshake only knew it chains to one of them).
#[derive(Clone)]
pub struct ClientTrust {
    client_ca: Arc<dyn ClientCertVerifier>,
    requestheader_ca: Arc<dyn ClientCertVerifier>,
}

impl std::fmt::Debug for ClientTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTrust").finish_non_exhaustive()
    }
}

impl ClientTrust {
    /// What the chain the handshake accepted (leaf first) says; `None`
    /// when there is none or its subject is unreadable.
    pub fn certificate(&self, chain: &[CertificateDer<'_>]) -> Option<ClientCertificate> {
        let (leaf, intermediates) = chain.split_first()?;
        let now = UnixTime::now();
        let verifies = |verifier: &dyn ClientCertVerifier| {
            verifier
                .verify_client_cert(leaf, intermediates, now)
                .is_ok()
        };
        let mut certificate = ClientCertificate::read(leaf)?;
        certificate.is_from_client_ca = verifies(self.client_ca.as_ref());
        certificate.is_from_requestheader_ca = verifies(self.requestheader_ca.as_ref());
        Some(certificate)
    }
}

/// The subject of a connection's client certificate and which CAs vouch
/// for it; put in every request's extensions for authentication to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientCertificate {
    /// The subject's CommonName (empty when it has none).
    pub common_name: String,
    /// The subject's Organizations, in order.
    pub organizations: Vec<String>,
    /// It chains to a client CA: its subject is a user.
    pub is_from_client_ca: bool,
    /// It chains to a front-proxy CA: its holder may name users in headers.
    pub is_from_requestheader_ca: bool,
}

impl ClientCertificate {
    /// Reads a certificate's subject, vouched for by no CA yet. `None` when
    /// it is unreadable.
    pub fn read(certificate: &CertificateDer<'_>) -> Option<ClientCertificate> {
        let (_, cert) = x509_parser::parse_x509_certificate(certificate).ok()?;
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
            ..ClientCertificate::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{RawConfig, Settings};
    use crate::pki;

    fn start(dir: &std::path::Path) -> (Pki, ServerTls) {
        let settings = Settings::resolve(RawConfig {
            data_dir: Some(dir.to_owned()),
            ..RawConfig::default()
        })
        .expect("settings");
        let pki = pki::ensure(&settings).expect("pki");
        let tls = server_config(&pki).expect("tls config");
        (pki, tls)
    }

    #[test]
    fn the_admin_certificate_is_a_user_in_system_masters_and_no_proxy() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (_, tls) = start(dir.path());
        let chain = pki::read_certificates(&dir.path().join("pki/admin.crt")).expect("admin cert");
        let admin = tls.client_trust.certificate(&chain).expect("readable");
        assert_eq!(admin.common_name, "kubernetes-admin");
        assert_eq!(admin.organizations, ["system:masters"]);
        assert!(admin.is_from_client_ca);
        assert!(!admin.is_from_requestheader_ca);
    }

    #[test]
    fn the_front_proxy_client_is_a_proxy_and_no_user() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (pki, tls) = start(dir.path());
        let proxy = tls
            .client_trust
            .certificate(&pki.proxy_client_chain)
            .expect("readable");
        assert_eq!(proxy.common_name, "front-proxy-client");
        assert!(proxy.is_from_requestheader_ca);
        assert!(!proxy.is_from_client_ca);
    }
}
