//! A CRD conversion webhook for the black-box tests, the kind of service
//! `spec.conversion.webhook.clientConfig` points at.
//!
//! ```text
//! conversion-webhook --cert FILE --key FILE [--port P]
//! ```
//!
//! It serves HTTPS on 127.0.0.1 (port 0, the default, takes a free one) and
//! answers `POST /convert` with a ConversionReview, as upstream's
//! apiextensions-apiserver expects: `response.uid` is the request's uid,
//! every object comes back in `request.desiredAPIVersion` with its metadata
//! untouched, and `result.status` is `Success`, or `Failure` with a message
//! when an object cannot be converted.
//!
//! The conversion is the tests' `Shape` kind, in any group: `v1` holds
//! `spec.size: "3x4"`, `v2` holds `spec.width: 3` and `spec.height: 4`.
//!
//! Everything the tests read goes to stderr, one line each: `serving on
//! https://127.0.0.1:PORT/convert` once listening, `review uid=..
//! desiredAPIVersion=.. objects=N from=a,b` for every review, and
//! `shutting down` on SIGTERM, after which it exits with status 0.

use std::convert::Infallible;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{json, Map, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio::signal::unix::{signal, SignalKind};
use tokio_rustls::TlsAcceptor;

/// The largest review accepted: upstream's 3 MiB request body limit, which
/// bounds what an API server can send.
const MAX_REVIEW_BYTES: usize = 3 * 1024 * 1024;

/// The command line.
struct Args {
    port: u16,
    cert: PathBuf,
    key: PathBuf,
}

impl Args {
    fn parse(mut words: impl Iterator<Item = String>) -> Result<Args, String> {
        let (mut port, mut cert, mut key) = (0, None, None);
        while let Some(flag) = words.next() {
            let value = words
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))?;
            match flag.as_str() {
                "--port" => port = value.parse().map_err(|e| format!("--port {value}: {e}"))?,
                "--cert" => cert = Some(PathBuf::from(value)),
                "--key" => key = Some(PathBuf::from(value)),
                _ => return Err(format!("unknown flag {flag}")),
            }
        }
        Ok(Args {
            port,
            cert: cert.ok_or("--cert FILE is required")?,
            key: key.ok_or("--key FILE is required")?,
        })
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("conversion-webhook: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Serves until SIGTERM. Connections still open then are dropped with the
/// runtime: a test webhook owes its callers nothing after it is told to go.
async fn run() -> Result<(), String> {
    let args = Args::parse(std::env::args().skip(1))?;
    let acceptor = tls_acceptor(&args)?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("binding 127.0.0.1:{}: {e}", args.port))?;
    let address = listener.local_addr().map_err(|e| e.to_string())?;
    let mut terminate = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    eprintln!("serving on https://{address}/convert");
    loop {
        tokio::select! {
            _ = terminate.recv() => {
                eprintln!("shutting down");
                return Ok(());
            }
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(acceptor.clone(), stream));
                }
                Err(e) => eprintln!("accept failed: {e}"),
            },
        }
    }
}

fn tls_acceptor(args: &Args) -> Result<TlsAcceptor, String> {
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
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| format!("serving certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// One TLS connection, HTTP/1.1. A failed handshake is logged: the tests
/// read it when an API server distrusts this webhook's certificate.
async fn serve_connection(acceptor: TlsAcceptor, stream: TcpStream) {
    let tls = match acceptor.accept(stream).await {
        Ok(tls) => tls,
        Err(e) => {
            eprintln!("tls handshake failed: {e}");
            return;
        }
    };
    let service = hyper::service::service_fn(handle);
    if let Err(e) = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(tls), service)
        .await
    {
        eprintln!("connection failed: {e}");
    }
}

async fn handle(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    if request.method() != Method::POST || request.uri().path() != "/convert" {
        return Ok(reply(
            StatusCode::NOT_FOUND,
            "only POST /convert is served\n",
        ));
    }
    let body = match Limited::new(request.into_body(), MAX_REVIEW_BYTES)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => return Ok(reply(StatusCode::BAD_REQUEST, &format!("{e}\n"))),
    };
    let answer = serde_json::from_slice::<Value>(&body)
        .map_err(|e| format!("the body is not JSON: {e}"))
        .and_then(|review| answer(&review));
    Ok(match answer {
        Ok(review) => {
            let mut response = reply(StatusCode::OK, &review.to_string());
            response.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/json"),
            );
            response
        }
        Err(message) => reply(StatusCode::BAD_REQUEST, &format!("{message}\n")),
    })
}

fn reply(status: StatusCode, body: &str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response
}

/// The ConversionReview answering `review`, in the review's own apiVersion;
/// `Err` when `review` is not a ConversionReview request at all.
fn answer(review: &Value) -> Result<Value, String> {
    let request = review
        .get("request")
        .ok_or("the ConversionReview has no request")?;
    let uid = text(request, "uid")?;
    let desired = text(request, "desiredAPIVersion")?;
    let objects = request
        .get("objects")
        .and_then(Value::as_array)
        .ok_or("request.objects is not a list")?;
    let from: Vec<&str> = objects
        .iter()
        .map(|o| o.get("apiVersion").and_then(Value::as_str).unwrap_or("?"))
        .collect();
    eprintln!(
        "review uid={uid} desiredAPIVersion={desired} objects={} from={}",
        objects.len(),
        from.join(",")
    );
    let converted: Result<Vec<Value>, String> = objects
        .iter()
        .map(|object| convert(object.clone(), desired))
        .collect();
    let response = match converted {
        Ok(objects) => json!({
            "uid": uid,
            "convertedObjects": objects,
            "result": {"status": "Success"},
        }),
        Err(message) => json!({
            "uid": uid,
            "convertedObjects": [],
            "result": {"status": "Failure", "message": message},
        }),
    };
    let api_version = review
        .get("apiVersion")
        .and_then(Value::as_str)
        .unwrap_or("apiextensions.k8s.io/v1");
    Ok(json!({
        "apiVersion": api_version,
        "kind": "ConversionReview",
        "response": response,
    }))
}

fn text<'a>(request: &'a Value, field: &str) -> Result<&'a str, String> {
    request
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("request.{field} is not a string"))
}

/// `object` in `desired` (`group/version`): only `apiVersion` and `spec`
/// change, so metadata comes back exactly as it was sent.
fn convert(mut object: Value, desired: &str) -> Result<Value, String> {
    let current = object
        .get("apiVersion")
        .and_then(Value::as_str)
        .ok_or("an object has no apiVersion")?
        .to_string();
    let from = version_of(&current);
    let to = version_of(desired);
    if let Some(spec) = object.get_mut("spec").and_then(Value::as_object_mut) {
        match (from, to) {
            (from, to) if from == to => {}
            ("v1", "v2") => size_to_sides(spec)?,
            ("v2", "v1") => sides_to_size(spec)?,
            (from, to) => return Err(format!("cannot convert a Shape from {from} to {to}")),
        }
    }
    object["apiVersion"] = json!(desired);
    Ok(object)
}

fn version_of(api_version: &str) -> &str {
    api_version
        .rsplit_once('/')
        .map_or(api_version, |(_, version)| version)
}

/// v1 → v2: `size: "3x4"` becomes `width: 3, height: 4`.
fn size_to_sides(spec: &mut Map<String, Value>) -> Result<(), String> {
    let Some(size) = spec.remove("size") else {
        return Ok(());
    };
    let sides = size
        .as_str()
        .and_then(|s| s.split_once('x'))
        .and_then(|(w, h)| Some((w.parse::<u64>().ok()?, h.parse::<u64>().ok()?)));
    let Some((width, height)) = sides else {
        return Err(format!("spec.size {size} is not <width>x<height>"));
    };
    spec.insert("width".into(), json!(width));
    spec.insert("height".into(), json!(height));
    Ok(())
}

/// v2 → v1: `width: 3, height: 4` becomes `size: "3x4"`.
fn sides_to_size(spec: &mut Map<String, Value>) -> Result<(), String> {
    match (spec.remove("width"), spec.remove("height")) {
        (None, None) => Ok(()),
        (Some(width), Some(height)) => {
            spec.insert("size".into(), json!(format!("{width}x{height}")));
            Ok(())
        }
        _ => Err("spec.width and spec.height come together".into()),
    }
}
