//! A lean HTTP/2 client for the API server under test.
//!
//! kube-rs 5 is not used here: its rustls connector speaks HTTP/1.1 only,
//! while kubectl and client-go talk HTTP/2 to the API server, and the issue
//! asks for HTTP/2. A request here is one hyper `SendRequest` call on an
//! open multiplexed connection, with no middleware or (de)serialisation, so
//! the client's own cost stays small next to the server's.
//!
//! Every connection goes to 127.0.0.1 on the endpoint's port, whatever name
//! the TLS handshake uses.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{header, HeaderMap, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::client::conn::http2::{self, SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::error::BenchError;
use crate::kubeconfig::Endpoint;

/// Per-stream receive window. Large lists (10,000 objects, ~13 MB) would
/// crawl through the 64 KiB HTTP/2 default; this matches what Go's client uses.
const STREAM_WINDOW: u32 = 4 << 20;
/// Connection receive window, shared by all streams on one connection.
const CONNECTION_WINDOW: u32 = 64 << 20;

/// Longest wait for one whole answer (or for a watch's response head), so
/// that no loop can hang on a stuck server.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);

/// One or more HTTP/2 connections used round-robin.
pub struct ApiClient {
    base: String,
    bearer: Option<String>,
    headers: HeaderMap,
    senders: Vec<SendRequest<Full<Bytes>>>,
    next: AtomicUsize,
}

/// A whole response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Bytes,
}

impl Reply {
    /// A short description for error reports: the status and the start of the body.
    pub fn describe(&self) -> String {
        let end = self.body.len().min(200);
        format!(
            "{} {}",
            self.status,
            String::from_utf8_lossy(&self.body[..end])
        )
    }
}

impl ApiClient {
    /// Opens `connections` (at least one) HTTP/2 connections to the endpoint.
    pub async fn connect(endpoint: &Endpoint, connections: usize) -> Result<Arc<Self>, BenchError> {
        let mut senders = Vec::with_capacity(connections.max(1));
        for _ in 0..connections.max(1) {
            senders.push(dial(endpoint).await?);
        }
        Ok(Arc::new(Self {
            base: format!("https://127.0.0.1:{}", endpoint.port),
            bearer: endpoint.bearer_token.clone(),
            headers: endpoint.headers.clone(),
            senders,
            next: AtomicUsize::new(0),
        }))
    }

    /// Sends a request and reads the whole body, within [`REQUEST_TIMEOUT`].
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Reply, BenchError> {
        let exchange = async {
            let response = self.send(method, path, body).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok(Reply { status, body })
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| BenchError::Timeout(REQUEST_TIMEOUT))?
    }

    /// Sends a request and returns as soon as the response head arrives
    /// (within [`REQUEST_TIMEOUT`]); used by watches, which read the body as
    /// it streams and bound that themselves.
    pub async fn open(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Response<Incoming>, BenchError> {
        tokio::time::timeout(REQUEST_TIMEOUT, self.send(method, path, body))
            .await
            .map_err(|_| BenchError::Timeout(REQUEST_TIMEOUT))?
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<Response<Incoming>, BenchError> {
        let mut builder = Request::builder()
            .method(method)
            .uri(format!("{}{}", self.base, path))
            .header(header::ACCEPT, "application/json");
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        if let Some(token) = &self.bearer {
            builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(headers) = builder.headers_mut().filter(|_| !self.headers.is_empty()) {
            headers.extend(self.headers.clone());
        }
        let request = builder
            .body(Full::new(body.map(Bytes::from).unwrap_or_default()))
            .map_err(|error| BenchError::Protocol(format!("building request: {error}")))?;
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.senders.len();
        let mut sender = self.senders[index].clone();
        Ok(sender.send_request(request).await?)
    }
}

/// Percent-encodes everything but RFC 3986 unreserved characters, for
/// query values such as continue tokens and selectors.
pub fn percent_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || b"-_.~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// Opens one TLS connection to 127.0.0.1 and starts HTTP/2 on it.
pub async fn dial(endpoint: &Endpoint) -> Result<SendRequest<Full<Bytes>>, BenchError> {
    let tcp = TcpStream::connect((Ipv4Addr::LOCALHOST, endpoint.port)).await?;
    tcp.set_nodelay(true)?;
    let handshake =
        TlsConnector::from(endpoint.tls.clone()).connect(endpoint.server_name.clone(), tcp);
    let tls = tokio::time::timeout(REQUEST_TIMEOUT, handshake)
        .await
        .map_err(|_| BenchError::Timeout(REQUEST_TIMEOUT))??;
    if tls.get_ref().1.alpn_protocol() != Some(b"h2") {
        return Err(BenchError::Protocol(
            "the server did not agree to HTTP/2 (ALPN h2)".into(),
        ));
    }
    let (sender, connection) = http2::Builder::new(TokioExecutor::new())
        .initial_stream_window_size(STREAM_WINDOW)
        .initial_connection_window_size(CONNECTION_WINDOW)
        .handshake(TokioIo::new(tls))
        .await?;
    // The connection task ends by itself once every sender is dropped.
    tokio::spawn(async move {
        let _ = connection.await;
    });
    Ok(sender)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_values_are_percent_encoded() {
        assert_eq!(percent_encode("ab+/=-_.~"), "ab%2B%2F%3D-_.~");
        assert_eq!(percent_encode("a=b,c=d"), "a%3Db%2Cc%3Dd");
    }
}
