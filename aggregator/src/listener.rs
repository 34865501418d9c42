//! The TLS listener: accepts TCP connections, completes the TLS handshake
//! (ALPN h2 and http/1.1, optional client certificate), serves HTTP/1.1 or
//! HTTP/2 through the filter chain, and on shutdown stops accepting and
//! lets open requests finish for a while. There is no plain-HTTP port.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use hyper_util::service::TowerToHyperService;
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

use crate::filters::Chain;
use crate::tls::{ClientCertificate, ClientTrust, ServerTls};

/// A client that has not finished its handshake by then is dropped, so
/// idle sockets cannot pile up.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long shutdown waits for open requests. Watches never finish on
/// their own, so this bounds every stop.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);
/// Streams one HTTP/2 connection may have open at once; kubectl and
/// controllers multiplex many watches on one connection. upstream's default
/// for kube-apiserver is also 1000.
const MAX_CONCURRENT_STREAMS: u32 = 1000;

/// What the listener knows about a request's connection, put in every
/// request's extensions.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    pub remote: SocketAddr,
    /// The client certificate's subject and the CAs it chains to, when one
    /// was sent.
    pub client_certificate: Option<ClientCertificate>,
}

/// Serves `listener` until `shutdown` completes, then drains.
pub async fn serve(
    listener: TcpListener,
    tls: ServerTls,
    chain: Chain,
    shutdown: impl Future<Output = ()>,
) {
    let acceptor = TlsAcceptor::from(tls.config);
    let trust = tls.client_trust;
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder.http1().timer(TokioTimer::new());
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(MAX_CONCURRENT_STREAMS);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, remote)) => {
                    tokio::spawn(serve_connection(
                        stream,
                        remote,
                        acceptor.clone(),
                        trust.clone(),
                        builder.clone(),
                        chain.clone(),
                        graceful.watcher(),
                    ));
                }
                Err(error) => {
                    // Usually out of file descriptors; pausing lets some
                    // connections close instead of spinning on the error.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            () = &mut shutdown => break,
        }
    }
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        "stopped accepting; waiting for open requests"
    );
    tokio::select! {
        () = graceful.shutdown() => tracing::info!("all connections closed"),
        () = tokio::time::sleep(SHUTDOWN_GRACE) => {
            tracing::warn!("closing connections still open after {SHUTDOWN_GRACE:?}");
        }
    }
}

async fn serve_connection(
    stream: TcpStream,
    remote: SocketAddr,
    acceptor: TlsAcceptor,
    trust: ClientTrust,
    builder: auto::Builder<TokioExecutor>,
    chain: Chain,
    watcher: Watcher,
) {
    // Small API responses should not wait for Nagle's algorithm.
    let _ = stream.set_nodelay(true);
    if is_plain_http(&stream).await {
        refuse_plain_http(stream, remote).await;
        return;
    }
    let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await {
        Ok(Ok(tls)) => tls,
        Ok(Err(error)) => {
            tracing::debug!(%remote, %error, "TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(%remote, "TLS handshake timed out");
            return;
        }
    };
    let connection = ConnectionInfo {
        remote,
        client_certificate: tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|chain| trust.certificate(chain)),
    };
    let service = tower::ServiceBuilder::new()
        .map_request(move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(connection.clone());
            request
        })
        .service(chain);
    let served = builder
        .serve_connection_with_upgrades(TokioIo::new(tls), TowerToHyperService::new(service))
        .into_owned();
    if let Err(error) = watcher.watch(served).await {
        tracing::debug!(%remote, %error, "connection ended with an error");
    }
}

/// Whether the client opened with plain HTTP instead of a TLS handshake:
/// a TLS connection starts with a handshake record (0x16), an HTTP/1
/// request with a method name in capitals.
async fn is_plain_http(stream: &TcpStream) -> bool {
    let mut first = [0u8; 1];
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, stream.peek(&mut first)).await {
        Ok(Ok(1)) => first[0].is_ascii_uppercase(),
        _ => false,
    }
}

/// Tells a plain-HTTP client what went wrong, in the words Go's TLS server
/// (and so upstream) uses, then closes. Nothing is served over plain HTTP.
async fn refuse_plain_http(mut stream: TcpStream, remote: SocketAddr) {
    tracing::debug!(%remote, "plain HTTP on the HTTPS port");
    let reply =
        b"HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n";
    let _ = stream.write_all(reply).await;
    let _ = stream.shutdown().await;
}
