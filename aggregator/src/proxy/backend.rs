//! The connection to one aggregated API server: TLS as its APIService
//! asks (trusting its `caBundle`, or nothing with `insecureSkipTLSVerify`),
//! presenting the front-proxy client certificate, to the address its
//! Service resolves to, with a pool of kept-alive HTTP/1.1 connections.
//!
//! The Service is resolved when a connection is opened, not per request:
//! pooled connections stay on the endpoint they were opened to until they
//! close, as upstream's transport does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use apiserver::service_resolver::{self, ServiceRef};
use apiserver::storage::Store;
use base64::Engine;
use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection};
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::pem::PemObject;
use serde_json::Value;
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// Request bodies sent to a backend.
pub type OutBody = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long opening a connection (TCP and TLS) may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long an idle pooled connection is kept.
const IDLE_TIMEOUT: Duration = Duration::from_secs(90);

/// The certificate the aggregator shows backends (`--proxy-client-*`).
pub struct ClientIdentity {
    pub chain: Vec<CertificateDer<'static>>,
    pub key: PrivateKeyDer<'static>,
}

/// One APIService's way to its server.
pub struct Backend {
    connector: Connector,
    client: Client<Connector, OutBody>,
}

impl Backend {
    /// The backend an APIService's spec describes, or why none can be built
    /// (upstream answers such APIServices' requests with a 500).
    pub fn new(
        spec: &Value,
        identity: Option<&ClientIdentity>,
        store: Arc<dyn Store>,
        prefix: &str,
    ) -> Result<Backend, String> {
        let service = spec
            .get("service")
            .filter(|s| !s.is_null())
            .ok_or("no service")?;
        let text = |f: &str| {
            service
                .get(f)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        let port = service.get("port").and_then(Value::as_u64).unwrap_or(443);
        let service = ServiceRef {
            namespace: text("namespace"),
            name: text("name"),
            port: u16::try_from(port).map_err(|_| format!("bad service port {port}"))?,
        };
        let insecure = spec
            .get("insecureSkipTLSVerify")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let bundle = spec.get("caBundle").and_then(Value::as_str);
        let tls = Arc::new(tls_config(bundle, insecure, identity)?);
        let connector = Connector {
            target: Arc::new(Target {
                service,
                tls,
                store,
                prefix: prefix.to_string(),
            }),
        };
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(IDLE_TIMEOUT)
            .build(connector.clone());
        Ok(Backend { connector, client })
    }

    pub fn service(&self) -> &ServiceRef {
        &self.connector.target.service
    }

    /// The authority requests carry (the pool's key; the connector
    /// resolves the real address).
    pub fn authority(&self) -> String {
        let s = self.service();
        format!("{}:{}", s.server_name(), s.port)
    }

    /// Sends one request over a pooled connection.
    pub async fn send(
        &self,
        request: http::Request<OutBody>,
    ) -> Result<http::Response<hyper::body::Incoming>, String> {
        self.client.request(request).await.map_err(|e| {
            // "client error (Connect)" says nothing the cause does not.
            match std::error::Error::source(&e) {
                Some(cause) if e.is_connect() => chain(cause),
                _ => chain(&e),
            }
        })
    }

    /// `GET path` as the aggregator itself (`system:kube-aggregator` in
    /// `system:masters`, as upstream's own calls are), reading at most
    /// `limit` bytes of the answer, within `timeout`.
    pub async fn get(
        &self,
        path: &str,
        limit: usize,
        timeout: Duration,
    ) -> Result<(http::StatusCode, Bytes), FetchError> {
        self.call(http::Method::GET, path, limit, timeout).await
    }

    /// `method path` as the aggregator itself, as [`Backend::get`].
    pub async fn call(
        &self,
        method: http::Method,
        path: &str,
        limit: usize,
        timeout: Duration,
    ) -> Result<(http::StatusCode, Bytes), FetchError> {
        let request = self
            .own_request(method, path)
            .map_err(|e| FetchError::Failed(e.to_string()))?;
        let exchange = async {
            let response = self.send(request).await?;
            let status = response.status();
            let body = Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| FetchError::TimedOut)?
            .map_err(FetchError::Failed)
    }

    /// `GET path` as the aggregator itself, answered as soon as the
    /// response head arrives: for watches, whose body streams on.
    pub async fn open(&self, path: &str) -> Result<http::Response<hyper::body::Incoming>, String> {
        let request = self
            .own_request(http::Method::GET, path)
            .map_err(|e| e.to_string())?;
        self.send(request).await
    }

    /// A bodiless request made by the aggregator itself.
    fn own_request(
        &self,
        method: http::Method,
        path: &str,
    ) -> Result<http::Request<OutBody>, http::Error> {
        http::Request::builder()
            .method(method)
            .uri(format!("https://{}{path}", self.authority()))
            .header("x-remote-user", "system:kube-aggregator")
            .header("x-remote-group", "system:masters")
            .header(http::header::ACCEPT, "application/json")
            .body(
                Empty::<Bytes>::new()
                    .map_err(|never| match never {})
                    .boxed_unsync(),
            )
    }

    /// Sends an upgrade request over a connection of its own, which the
    /// upgrade then takes over.
    pub async fn send_upgrade(
        &self,
        request: http::Request<OutBody>,
    ) -> Result<http::Response<hyper::body::Incoming>, String> {
        let io = self
            .connector
            .target
            .connect()
            .await
            .map_err(|e| chain(e.as_ref()))?;
        let (mut sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|e| chain(&e))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "upgraded backend connection ended");
            }
        });
        sender.send_request(request).await.map_err(|e| chain(&e))
    }
}

/// Why a [`Backend::get`] brought nothing.
#[derive(Debug)]
pub enum FetchError {
    TimedOut,
    Failed(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::TimedOut => f.write_str("timed out"),
            FetchError::Failed(why) => f.write_str(why),
        }
    }
}

/// An error with its causes, as one line.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The client TLS configuration of one APIService.
fn tls_config(
    bundle: Option<&str>,
    insecure: bool,
    identity: Option<&ClientIdentity>,
) -> Result<rustls::ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?;
    let builder = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
    } else {
        let mut roots = rustls::RootCertStore::empty();
        if let Some(bundle) = bundle.filter(|b| !b.is_empty()) {
            let pem = base64::engine::general_purpose::STANDARD
                .decode(bundle)
                .map_err(|e| format!("caBundle is not base64: {e}"))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| format!("caBundle holds a bad certificate: {e}"))?;
                roots
                    .add(cert)
                    .map_err(|e| format!("caBundle holds a bad certificate: {e}"))?;
            }
        }
        builder.with_root_certificates(roots)
    };
    match identity {
        Some(identity) => builder
            .with_client_auth_cert(identity.chain.clone(), identity.key.clone_key())
            .map_err(|e| format!("the proxy client certificate: {e}")),
        None => Ok(builder.with_no_client_auth()),
    }
}

/// `insecureSkipTLSVerify`: any certificate is accepted (its signatures
/// are still checked, so the handshake itself is sound).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Where connections go and how they are secured.
struct Target {
    service: ServiceRef,
    tls: Arc<rustls::ClientConfig>,
    store: Arc<dyn Store>,
    prefix: String,
}

impl Target {
    async fn connect(&self) -> Result<BackendIo, BoxError> {
        let open = async {
            let endpoint =
                service_resolver::resolve(self.store.as_ref(), &self.prefix, &self.service).await?;
            let tcp = TcpStream::connect((endpoint.host.as_str(), endpoint.port))
                .await
                .map_err(|e| {
                    // Go's wording, which upstream's messages carry.
                    format!(
                        "dial tcp {}:{}: connect: {}",
                        endpoint.host,
                        endpoint.port,
                        e.kind()
                    )
                })?;
            tcp.set_nodelay(true)?;
            let name = ServerName::try_from(self.service.server_name())?;
            let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
                .connect(name, tcp)
                .await
                .map_err(|e| format!("tls: {e}"))?;
            Ok::<_, BoxError>(BackendIo(TokioIo::new(tls)))
        };
        tokio::time::timeout(CONNECT_TIMEOUT, open)
            .await
            .map_err(|_| format!("connecting took longer than {CONNECT_TIMEOUT:?}"))?
    }
}

/// Opens connections for the pool (a `tower::Service<Uri>`; the URI is
/// ignored: every connection of a backend goes to its Service).
#[derive(Clone)]
struct Connector {
    target: Arc<Target>,
}

impl tower::Service<http::Uri> for Connector {
    type Response = BackendIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<BackendIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let target = self.target.clone();
        Box::pin(async move { target.connect().await })
    }
}

/// A TLS connection to a backend, as the pool needs it.
pub struct BackendIo(TokioIo<TlsStream<TcpStream>>);

impl Connection for BackendIo {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl Read for BackendIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl Write for BackendIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}
