//! An aggregated API server for the black-box tests, like upstream's
//! `k8s.io/sample-apiserver`: group `wardle.example.com`, versions
//! `v1alpha1` and `v1beta1`, one namespaced resource `flunders` (kind
//! `Flunder`, short name `fl`) kept in memory and served in both versions.
//!
//! ```text
//! sample-apiserver --cert FILE --key FILE [--port P]
//!     (--authentication-kubeconfig FILE
//!      | --requestheader-client-ca-file FILE [--requestheader-allowed-names a,b])
//! ```
//!
//! It serves HTTPS on 127.0.0.1 (port 0, the default, takes a free one),
//! HTTP/2 or HTTP/1.1 as ALPN decides. Callers are authenticated as an
//! aggregator's requests are upstream: see [`authentication`]. With
//! `--authentication-kubeconfig` the request-header settings come from the
//! ConfigMap `kube-system/extension-apiserver-authentication` of the server
//! that kubeconfig points at; with `--requestheader-client-ca-file`, from
//! the flags and upstream's default header names.
//!
//! Served: `/healthz`, `/readyz`, `/livez` (no credentials needed);
//! discovery (legacy and aggregated v2); `/openapi/v2` and `/openapi/v3`;
//! the Flunder verbs (see [`flunders`]); and
//! `.../namespaces/NS/flunders/NAME/echo`, which upgrades an HTTP/1.1
//! connection to whatever protocol the `Upgrade` header names and echoes
//! every byte back.
//!
//! Everything the tests read goes to stderr, one line each: `serving on
//! https://127.0.0.1:PORT` once listening, `request METHOD PATH?QUERY
//! user=NAME groups=a,b extra=key=v1|v2;key2=v` for every authenticated
//! request (`request METHOD PATH?QUERY refused: WHY` for the others), and
//! `shutting down` on SIGTERM, after which it exits with status 0.

mod authentication;
mod discovery;
mod flunders;
mod openapi;
mod route;
mod status;
mod store;

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use http::{header, HeaderValue, Request, Response, StatusCode};
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use authentication::{Authenticator, RequestHeaderConfig, User};
use flunders::Target;
use openapi::OpenApi;
use route::Route;
use status::ApiError;
use store::Store;

pub const GROUP: &str = "wardle.example.com";

/// A served version of the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1alpha1,
    V1beta1,
}

impl Version {
    /// In preference order: upstream's sample-apiserver prefers v1beta1.
    pub const ALL: [Version; 2] = [Version::V1beta1, Version::V1alpha1];

    pub fn as_str(self) -> &'static str {
        match self {
            Version::V1alpha1 => "v1alpha1",
            Version::V1beta1 => "v1beta1",
        }
    }

    pub fn parse(text: &str) -> Option<Version> {
        Version::ALL.into_iter().find(|v| v.as_str() == text)
    }

    /// `wardle.example.com/<version>`.
    pub fn api_version(self) -> String {
        format!("{GROUP}/{}", self.as_str())
    }

    pub fn from_api_version(text: &str) -> Option<Version> {
        let (group, version) = text.split_once('/')?;
        (group == GROUP).then(|| Version::parse(version))?
    }
}

/// Every response body: whole, or streamed for watches.
pub type Body = UnsyncBoxBody<Bytes, Infallible>;

pub fn json_response(code: StatusCode, value: &Value) -> Response<Body> {
    let mut response = Response::new(Full::new(Bytes::from(value.to_string())).boxed_unsync());
    *response.status_mut() = code;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

fn bytes_response(content_type: &'static str, bytes: Bytes) -> Response<Body> {
    let mut response = Response::new(Full::new(bytes).boxed_unsync());
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A 200 whose body is each chunk `chunks` yields, sent as it comes.
pub fn streaming_response(chunks: mpsc::Receiver<Bytes>) -> Response<Body> {
    let stream = futures::stream::unfold(chunks, |mut chunks| async move {
        let chunk = chunks.recv().await?;
        Some((Ok::<_, Infallible>(Frame::data(chunk)), chunks))
    });
    let mut response = Response::new(StreamBody::new(stream).boxed_unsync());
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The command line.
struct Args {
    port: u16,
    cert: PathBuf,
    key: PathBuf,
    trust: Trust,
}

/// Where the request-header settings come from.
enum Trust {
    Kubeconfig(PathBuf),
    Flags {
        client_ca: PathBuf,
        allowed_names: Vec<String>,
    },
}

impl Args {
    fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
        let (mut port, mut cert, mut key) = (0, None, None);
        let (mut kubeconfig, mut client_ca, mut allowed_names) = (None, None, Vec::new());
        while let Some(flag) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--port" => port = value.parse().map_err(|e| format!("--port {value}: {e}"))?,
                "--cert" => cert = Some(PathBuf::from(value)),
                "--key" => key = Some(PathBuf::from(value)),
                "--authentication-kubeconfig" => kubeconfig = Some(PathBuf::from(value)),
                "--requestheader-client-ca-file" => client_ca = Some(PathBuf::from(value)),
                "--requestheader-allowed-names" => {
                    allowed_names = value
                        .split(',')
                        .filter(|name| !name.is_empty())
                        .map(String::from)
                        .collect();
                }
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        let trust = match (kubeconfig, client_ca) {
            (Some(kubeconfig), None) if allowed_names.is_empty() => Trust::Kubeconfig(kubeconfig),
            (None, Some(client_ca)) => Trust::Flags {
                client_ca,
                allowed_names,
            },
            _ => {
                return Err("give either --authentication-kubeconfig FILE or \
                            --requestheader-client-ca-file FILE [--requestheader-allowed-names a,b]"
                    .into())
            }
        };
        Ok(Args {
            port,
            cert: cert.ok_or("--cert FILE is required")?,
            key: key.ok_or("--key FILE is required")?,
            trust,
        })
    }
}

/// What every request handler shares.
struct App {
    authenticator: Authenticator,
    store: Store,
    openapi: OpenApi,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("sample-apiserver: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until SIGTERM. Connections still open then are dropped with the
/// runtime: a test server owes its callers nothing after it is told to go.
async fn run() -> Result<(), String> {
    let args = Args::parse(std::env::args().skip(1))?;
    // kube-rs (for the ConfigMap) needs a process-wide rustls provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = match &args.trust {
        Trust::Kubeconfig(path) => RequestHeaderConfig::from_kubeconfig(path).await?,
        Trust::Flags {
            client_ca,
            allowed_names,
        } => RequestHeaderConfig::from_flags(client_ca, allowed_names.clone())?,
    };
    let authenticator = Authenticator::new(config)?;
    eprintln!("{}", authenticator.describe());
    let acceptor = tls_acceptor(&args, &authenticator)?;
    let app = Arc::new(App {
        authenticator,
        store: Store::new(),
        openapi: OpenApi::build(),
    });
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{}: {e}", args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    eprintln!("serving on https://{address}");
    loop {
        tokio::select! {
            _ = terminate.recv() => {
                eprintln!("shutting down");
                return Ok(());
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(app.clone(), acceptor.clone(), stream));
                }
                Err(e) => eprintln!("accept failed: {e}"),
            },
        }
    }
}

fn tls_acceptor(args: &Args, authenticator: &Authenticator) -> Result<TlsAcceptor, String> {
    let certs = CertificateDer::pem_file_iter(&args.cert)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("reading {}: {e}", args.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(&args.key)
        .map_err(|e| format!("reading {}: {e}", args.key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| e.to_string())?
    .with_client_cert_verifier(authenticator.tls_verifier())
    .with_single_cert(certs, key)
    .map_err(|e| format!("serving certificate: {e}"))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// One TLS connection, HTTP/2 or HTTP/1.1 (with upgrades). A failed
/// handshake is logged: tests read it when a client distrusts this server.
///
/// Nagle's algorithm is off, as Go's net package turns it off on every TCP
/// connection upstream's server accepts: with it on, the last frame of a
/// response written in several HTTP/2 frames (a list) waits for the
/// client's delayed ACK, about 40 ms.
async fn serve_connection(app: Arc<App>, acceptor: TlsAcceptor, stream: TcpStream) {
    if let Err(e) = stream.set_nodelay(true) {
        eprintln!("TCP_NODELAY not set: {e}");
    }
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("tls handshake failed: {e}");
            return;
        }
    };
    let peer: Arc<[CertificateDer<'static>]> = tls
        .get_ref()
        .1
        .peer_certificates()
        .unwrap_or_default()
        .iter()
        .map(|cert| cert.clone().into_owned())
        .collect();
    let service = hyper::service::service_fn(move |request| {
        let (app, peer) = (app.clone(), peer.clone());
        async move { Ok::<_, Infallible>(handle(&app, &peer, request).await) }
    });
    if let Err(e) = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
        .serve_connection_with_upgrades(TokioIo::new(tls), service)
        .await
    {
        eprintln!("connection failed: {e}");
    }
}

async fn handle(
    app: &App,
    peer: &[CertificateDer<'static>],
    request: Request<Incoming>,
) -> Response<Body> {
    let route = Route::parse(request.uri().path());
    if route == Route::Health {
        return bytes_response("text/plain; charset=utf-8", Bytes::from_static(b"ok"));
    }
    let what = format!(
        "request {} {}",
        request.method(),
        request.uri().path_and_query().map_or("/", |p| p.as_str())
    );
    let user = match app.authenticator.authenticate(peer, request.headers()) {
        Ok(user) => user,
        Err(refusal) => {
            eprintln!("{what} refused: {refusal}");
            return error_response(&ApiError::Unauthorized);
        }
    };
    eprintln!("{what} {}", user.describe());
    match serve(app, &user, route, request).await {
        Ok(response) => response,
        Err(error) => error_response(&error),
    }
}

fn error_response(error: &ApiError) -> Response<Body> {
    json_response(error.code(), &error.status())
}

async fn serve(
    app: &App,
    user: &User,
    route: Route,
    request: Request<Incoming>,
) -> Result<Response<Body>, ApiError> {
    let accept = request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok());
    let is_get = request.method() == http::Method::GET;
    let document = |value: Value| Ok(json_response(StatusCode::OK, &value));
    match route {
        Route::GroupList
        | Route::Group
        | Route::ResourceList(_)
        | Route::OpenApiV2
        | Route::OpenApiV3Index
        | Route::OpenApiV3(_)
            if !is_get =>
        {
            Err(ApiError::MethodNotAllowed)
        }
        Route::GroupList if discovery::wants_aggregated(accept) => {
            let mut response = json_response(StatusCode::OK, &discovery::aggregated());
            let headers = response.headers_mut();
            headers.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(discovery::AGGREGATED_V2),
            );
            headers.insert(header::VARY, HeaderValue::from_static("Accept"));
            Ok(response)
        }
        Route::GroupList => document(discovery::group_list()),
        Route::Group => document(discovery::group()),
        Route::ResourceList(version) => document(discovery::resource_list(version)),
        Route::OpenApiV2 => Ok(bytes_response("application/json", app.openapi.v2.clone())),
        Route::OpenApiV3Index => Ok(bytes_response(
            "application/json",
            app.openapi.v3_index.clone(),
        )),
        Route::OpenApiV3(version) => {
            Ok(bytes_response("application/json", app.openapi.v3(version)))
        }
        Route::Collection { version, namespace } => {
            let target = Target::Collection(namespace);
            flunders::serve(&app.store, user, version, target, request).await
        }
        Route::Object {
            version,
            namespace,
            name,
        } => {
            let target = Target::Object((namespace, name));
            flunders::serve(&app.store, user, version, target, request).await
        }
        Route::Echo { .. } => echo(request),
        Route::Health | Route::NotFound => Err(ApiError::PathNotFound),
    }
}

/// Answers an upgrade request with 101, naming the protocol the client
/// asked for, then echoes every byte the client sends until it closes its
/// side.
fn echo(mut request: Request<Incoming>) -> Result<Response<Body>, ApiError> {
    let asks_upgrade = request
        .headers()
        .get(header::CONNECTION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|t| t.trim().eq_ignore_ascii_case("upgrade"))
        });
    let protocol = request.headers().get(header::UPGRADE).cloned();
    let Some(protocol) = protocol.filter(|_| asks_upgrade) else {
        return Err(ApiError::BadRequest(
            "echo needs an HTTP/1.1 upgrade: Connection: Upgrade and an Upgrade header".into(),
        ));
    };
    let upgrade = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        let upgraded = match upgrade.await {
            Ok(upgraded) => upgraded,
            Err(e) => {
                eprintln!("upgrade failed: {e}");
                return;
            }
        };
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        if let Err(e) = tokio::io::copy(&mut reader, &mut writer).await {
            eprintln!("echo ended: {e}");
        }
        let _ = writer.shutdown().await;
    });
    let mut response = Response::new(Full::new(Bytes::new()).boxed_unsync());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::UPGRADE, protocol);
    Ok(response)
}
