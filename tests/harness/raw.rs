//! Raw HTTPS requests with full control of credentials and protocol, for
//! tests of status codes, authentication and ALPN that kubectl and kube-rs
//! would hide. One connection per request.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::TestServer;

/// What the client presents.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// The generated admin client certificate.
    Admin,
    /// Nothing at all.
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// A client certificate and key, in PEM.
    Certificate { cert_pem: String, key_pem: String },
}

/// Which protocols the client offers in ALPN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// h2 and http/1.1, as kubectl does; the server picks.
    Negotiate,
    /// http/1.1 only.
    Http1Only,
}

/// One request to send with [`TestServer::send`].
#[derive(Debug, Clone)]
pub struct RawRequest {
    pub method: http::Method,
    pub path: String,
    pub credentials: Credentials,
    pub protocol: Protocol,
    pub body: Vec<u8>,
    pub content_type: Option<String>,
}

impl RawRequest {
    pub fn get(path: &str) -> RawRequest {
        RawRequest {
            method: http::Method::GET,
            path: path.to_string(),
            credentials: Credentials::Admin,
            protocol: Protocol::Negotiate,
            body: Vec::new(),
            content_type: None,
        }
    }

    pub fn credentials(mut self, credentials: Credentials) -> RawRequest {
        self.credentials = credentials;
        self
    }

    pub fn protocol(mut self, protocol: Protocol) -> RawRequest {
        self.protocol = protocol;
        self
    }
}

/// What came back.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: Bytes,
}

impl RawResponse {
    /// The body as JSON; panics with the body when it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "response body is not JSON ({e}): {}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

fn client_config(
    server: &TestServer,
    credentials: &Credentials,
    protocol: Protocol,
) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    let ca_path = server.pki_file("ca.crt");
    for ca in CertificateDer::pem_file_iter(&ca_path).map_err(|e| format!("{ca_path:?}: {e}"))? {
        roots
            .add(ca.map_err(|e| e.to_string())?)
            .map_err(|e| e.to_string())?;
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let (cert_pem, key_pem) = match credentials {
        Credentials::Admin => (
            std::fs::read_to_string(server.pki_file("admin.crt")).map_err(|e| e.to_string())?,
            std::fs::read_to_string(server.pki_file("admin.key")).map_err(|e| e.to_string())?,
        ),
        Credentials::Certificate { cert_pem, key_pem } => (cert_pem.clone(), key_pem.clone()),
        Credentials::None | Credentials::Bearer(_) => (String::new(), String::new()),
    };
    let mut config = if cert_pem.is_empty() {
        builder.with_no_client_auth()
    } else {
        let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        let key = PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
        builder
            .with_client_auth_cert(chain, key)
            .map_err(|e| e.to_string())?
    };
    config.alpn_protocols = match protocol {
        Protocol::Negotiate => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
        Protocol::Http1Only => vec![b"http/1.1".to_vec()],
    };
    Ok(config)
}

pub(crate) async fn send(server: &TestServer, request: RawRequest) -> Result<RawResponse, String> {
    let config = client_config(server, &request.credentials, request.protocol)?;
    let tcp = TcpStream::connect(server.address())
        .await
        .map_err(|e| format!("connecting to {}: {e}", server.address()))?;
    let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
    let tls = TlsConnector::from(Arc::new(config))
        .connect(name, tcp)
        .await
        .map_err(|e| format!("TLS handshake: {e}"))?;
    let is_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");

    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(format!("https://{}{}", server.address(), request.path));
    if let Credentials::Bearer(token) = &request.credentials {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = &request.content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    if !is_h2 {
        builder = builder.header(http::header::HOST, server.address());
    }
    let http_request = builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|e| e.to_string())?;

    let io = TokioIo::new(tls);
    let response = if is_h2 {
        let (mut sender, connection) =
            hyper::client::conn::http2::handshake(TokioExecutor::new(), io)
                .await
                .map_err(|e| format!("HTTP/2 handshake: {e}"))?;
        tokio::spawn(connection);
        sender.send_request(http_request).await
    } else {
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| format!("HTTP/1.1 handshake: {e}"))?;
        tokio::spawn(connection);
        sender.send_request(http_request).await
    }
    .map_err(|e| format!("sending the request: {e}"))?;

    let status = response.status().as_u16();
    let version = response.version();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("reading the body: {e}"))?
        .to_bytes();
    Ok(RawResponse {
        status,
        version,
        headers,
        body,
    })
}
