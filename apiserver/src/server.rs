//! The entry point the front door calls: one authenticated request in, one
//! response out. Everything behind it (routing, handlers, storage) is this
//! crate's business; TLS, authentication and the filter chain are the
//! aggregator's.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use serde_json::Value;

use crate::error::ApiError;
use crate::storage::Store;

/// The response body type every layer uses.
pub type Body = UnsyncBoxBody<Bytes, std::io::Error>;

/// Wraps bytes as a response body.
pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// The authenticated caller, put into request extensions by authentication.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserInfo {
    pub name: String,
    pub uid: String,
    pub groups: Vec<String>,
    pub extra: BTreeMap<String, Vec<String>>,
}

/// A JSON response with the given status code.
pub fn json_response(code: u16, value: &Value) -> http::Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    http::Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(full_body(bytes))
        .expect("static response parts are valid")
}

/// The `Status` response for an error.
pub fn error_response(error: &ApiError) -> http::Response<Body> {
    json_response(error.code(), &error.to_status())
}

/// Settings the core apiserver takes from the binary's resolved configuration.
#[derive(Clone)]
pub struct ApiServerConfig {
    pub store: Arc<dyn Store>,
    /// The range ClusterIPs are allocated from (`--service-cluster-ip-range`).
    pub service_cluster_ip_range: String,
}

/// The core apiserver: the built-in groups over one store.
#[derive(Clone)]
pub struct ApiServer {
    inner: Arc<ApiServerInner>,
}

struct ApiServerInner {
    #[allow(dead_code, reason = "used as the handlers land")]
    config: ApiServerConfig,
}

impl ApiServer {
    pub async fn new(config: ApiServerConfig) -> Result<Self, ApiError> {
        Ok(ApiServer {
            inner: Arc::new(ApiServerInner { config }),
        })
    }

    /// Serves one request. The caller's [`UserInfo`] is in the request's
    /// extensions.
    pub async fn handle(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> http::Response<Body> {
        let _ = (&self.inner, request);
        error_response(&ApiError::UnknownPath)
    }
}
