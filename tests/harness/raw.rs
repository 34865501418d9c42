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
use tokio_rustls::client::TlsStream;
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
    /// More headers, e.g. `Accept`.
    pub headers: Vec<(String, String)>,
}

impl RawRequest {
    pub fn get(path: &str) -> RawRequest {
        RawRequest::new(http::Method::GET, path)
    }

    /// A request with this method and path, as the admin, with no body.
    pub fn new(method: http::Method, path: &str) -> RawRequest {
        RawRequest {
            method,
            path: path.to_string(),
            credentials: Credentials::Admin,
            protocol: Protocol::Negotiate,
            body: Vec::new(),
            content_type: None,
            headers: Vec::new(),
        }
    }

    /// Sets a JSON body and `Content-Type: application/json`.
    pub fn json(self, body: &serde_json::Value) -> RawRequest {
        self.body_with_type(body.to_string().into_bytes(), "application/json")
    }

    /// Sets the body and its `Content-Type`.
    pub fn body_with_type(mut self, body: Vec<u8>, content_type: &str) -> RawRequest {
        self.body = body;
        self.content_type = Some(content_type.to_string());
        self
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> RawRequest {
        self.headers.push((name.to_string(), value.to_string()));
        self
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

    /// Asserts the HTTP status code and returns the body as JSON.
    #[track_caller]
    pub fn expect(&self, code: u16) -> serde_json::Value {
        assert_eq!(
            self.status,
            code,
            "unexpected HTTP status; body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self.json()
    }

    /// Asserts the response is a failure `Status` with this code and
    /// reason, as upstream sends, and returns it.
    #[track_caller]
    pub fn expect_failure(&self, code: u16, reason: &str) -> serde_json::Value {
        let status = self.expect(code);
        assert_eq!(status["kind"], "Status", "{status}");
        assert_eq!(status["apiVersion"], "v1", "{status}");
        assert_eq!(status["status"], "Failure", "{status}");
        assert_eq!(status["code"], code, "{status}");
        assert_eq!(status["reason"], reason, "{status}");
        status
    }
}

/// Where raw requests go: an HTTPS address on loopback, the CA its serving
/// certificate chains to, and the client certificate
/// [`Credentials::Admin`] stands for there, if any. A [`TestServer`]'s comes
/// from [`TestServer::endpoint`]; tests make their own for other servers
/// (an aggregated API server, a webhook).
#[derive(Debug, Clone)]
pub struct Endpoint {
    address: String,
    ca_pem: String,
    admin: Option<(String, String)>,
}

impl Endpoint {
    /// `address` is `host:port`; the serving certificate must be valid for
    /// 127.0.0.1 and signed by `ca_pem`.
    pub fn new(address: &str, ca_pem: &str) -> Endpoint {
        Endpoint {
            address: address.to_string(),
            ca_pem: ca_pem.to_string(),
            admin: None,
        }
    }

    /// What [`Credentials::Admin`] presents here (certificate, key, PEM).
    pub fn with_admin(mut self, cert_pem: &str, key_pem: &str) -> Endpoint {
        self.admin = Some((cert_pem.to_string(), key_pem.to_string()));
        self
    }

    pub fn address(&self) -> &str {
        &self.address
    }

    /// The endpoint of a running server: its address, its CA and the
    /// admin certificate, read from its PKI dir.
    pub(crate) fn of(server: &TestServer) -> Result<Endpoint, String> {
        let read = |name: &str| {
            let path = server.pki_file(name);
            std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))
        };
        Ok(Endpoint::new(server.address(), &read("ca.crt")?)
            .with_admin(&read("admin.crt")?, &read("admin.key")?))
    }

    /// Sends one request on a new connection; `Err` when no HTTP response
    /// came back (for example a refused TLS handshake).
    pub async fn send(&self, request: RawRequest) -> Result<RawResponse, String> {
        let response = open(self, request).await?;
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

    /// Sends one request and returns at the response head, the body left
    /// streaming (for watches).
    pub async fn stream(&self, request: RawRequest) -> Result<RawStream, String> {
        let response = open(self, request).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        Ok(RawStream {
            status,
            headers,
            body: response.into_body(),
            pending: Vec::new(),
            is_finished: false,
        })
    }

    /// A TLS connection and nothing more, for speaking HTTP by hand (an
    /// upgrade, say); ALPN offers what `protocol` says.
    pub async fn connect(
        &self,
        credentials: &Credentials,
        protocol: Protocol,
    ) -> Result<TlsStream<TcpStream>, String> {
        let config = self.client_config(credentials, protocol)?;
        let tcp = TcpStream::connect(&self.address)
            .await
            .map_err(|e| format!("connecting to {}: {e}", self.address))?;
        let name = ServerName::try_from("127.0.0.1").map_err(|e| e.to_string())?;
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))
    }

    fn client_config(
        &self,
        credentials: &Credentials,
        protocol: Protocol,
    ) -> Result<ClientConfig, String> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        for ca in CertificateDer::pem_slice_iter(self.ca_pem.as_bytes()) {
            roots
                .add(ca.map_err(|e| format!("the endpoint's CA: {e}"))?)
                .map_err(|e| e.to_string())?;
        }
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .with_root_certificates(roots);
        let pems = match credentials {
            Credentials::Admin => Some(
                self.admin
                    .clone()
                    .ok_or("this endpoint has no admin credentials")?,
            ),
            Credentials::Certificate { cert_pem, key_pem } => {
                Some((cert_pem.clone(), key_pem.clone()))
            }
            Credentials::None | Credentials::Bearer(_) => None,
        };
        let mut config = match pems {
            None => builder.with_no_client_auth(),
            Some((cert_pem, key_pem)) => {
                let chain = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| e.to_string())?;
                let key =
                    PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| e.to_string())?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| e.to_string())?
            }
        };
        config.alpn_protocols = match protocol {
            Protocol::Negotiate => vec![b"h2".to_vec(), b"http/1.1".to_vec()],
            Protocol::Http1Only => vec![b"http/1.1".to_vec()],
        };
        Ok(config)
    }
}

/// Connects, sends the request and returns the response head with its
/// body still streaming.
async fn open(
    endpoint: &Endpoint,
    request: RawRequest,
) -> Result<http::Response<hyper::body::Incoming>, String> {
    let tls = endpoint
        .connect(&request.credentials, request.protocol)
        .await?;
    let is_h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
    let address = endpoint.address();

    let mut builder = http::Request::builder()
        .method(request.method.clone())
        .uri(format!("https://{address}{}", request.path));
    if let Credentials::Bearer(token) = &request.credentials {
        builder = builder.header(http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if let Some(content_type) = &request.content_type {
        builder = builder.header(http::header::CONTENT_TYPE, content_type);
    }
    for (name, value) in &request.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    if !is_h2 {
        builder = builder.header(http::header::HOST, address);
    }
    let http_request = builder
        .body(Full::new(Bytes::from(request.body.clone())))
        .map_err(|e| e.to_string())?;

    let io = TokioIo::new(tls);
    if is_h2 {
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
    .map_err(|e| format!("sending the request: {e}"))
}

/// A response whose body is read as it arrives, one JSON document per
/// line: a watch.
pub struct RawStream {
    pub status: u16,
    pub headers: http::HeaderMap,
    body: hyper::body::Incoming,
    pending: Vec<u8>,
    is_finished: bool,
}

/// What [`RawStream::next_json`] found.
#[derive(Debug)]
pub enum StreamItem {
    /// One complete JSON document.
    Json(serde_json::Value),
    /// The server ended the body.
    End,
    /// Nothing arrived in time; the stream is still open.
    Timeout,
}

impl RawStream {
    /// The next newline-terminated JSON document, waiting at most `wait`.
    pub async fn next_json(&mut self, wait: std::time::Duration) -> StreamItem {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.pending.drain(..=end).collect();
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return StreamItem::Json(serde_json::from_slice(&line).unwrap_or_else(|e| {
                    panic!(
                        "watch line is not JSON ({e}): {}",
                        String::from_utf8_lossy(&line)
                    )
                }));
            }
            if self.is_finished {
                if self.pending.iter().all(u8::is_ascii_whitespace) {
                    return StreamItem::End;
                }
                let rest = std::mem::take(&mut self.pending);
                return StreamItem::Json(serde_json::from_slice(&rest).unwrap_or_else(|e| {
                    panic!(
                        "last watch line is not JSON ({e}): {}",
                        String::from_utf8_lossy(&rest)
                    )
                }));
            }
            match tokio::time::timeout_at(deadline, self.body.frame()).await {
                Err(_) => return StreamItem::Timeout,
                Ok(None) | Ok(Some(Err(_))) => self.is_finished = true,
                Ok(Some(Ok(frame))) => {
                    if let Ok(data) = frame.into_data() {
                        self.pending.extend_from_slice(&data);
                    }
                }
            }
        }
    }
}
