//! The one error type of the bench tool.

/// What can stop a benchmark run (a single failed request is counted, not raised).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The kubeconfig is missing, unreadable or lacks what we need.
    #[error("kubeconfig: {0}")]
    Kubeconfig(String),
    /// The target is not on 127.0.0.1; this tool sends traffic to loopback only.
    #[error("refusing to send traffic to {0}: only 127.0.0.1 is allowed")]
    NotLoopback(String),
    /// A PEM certificate or key could not be read.
    #[error("certificate: {0}")]
    Certificate(String),
    /// Building the TLS configuration or the handshake failed.
    #[error("TLS: {0}")]
    Tls(#[from] rustls::Error),
    /// A socket, file or process operation failed.
    #[error("I/O: {0}")]
    Io(#[from] std::io::Error),
    /// The HTTP/2 connection failed.
    #[error("HTTP: {0}")]
    Http(#[from] hyper::Error),
    /// A request got no (complete) answer in time.
    #[error("no answer within {0:?}")]
    Timeout(std::time::Duration),
    /// The server answered something we could not use.
    #[error("{0}")]
    Protocol(String),
    /// The etcd client failed.
    #[error("etcd: {0}")]
    Etcd(#[from] etcd_client::Error),
}
