//! The entry point the front door calls: one authenticated request in, one
//! response out. Everything behind it (routing, handlers, storage) is this
//! crate's business; TLS, authentication and the filter chain are the
//! aggregator's.

use std::collections::BTreeMap;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use serde_json::Value;

use serde_json::json;

use crate::codec;
use crate::discovery;
use crate::error::ApiError;
use crate::handlers::{self, Call, Context, Query};
use crate::negotiation;
use crate::registry::Registry;
use crate::request_info::RequestInfo;
use crate::storage::Store;
use crate::{bootstrap, builtin, compaction, health, namespaces, reviews};

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
    bytes_response(code, "application/json", bytes)
}

/// A complete response of `content_type`; every fixed-body response is
/// built here.
pub fn bytes_response(
    code: u16,
    content_type: &str,
    bytes: impl Into<Bytes>,
) -> http::Response<Body> {
    http::Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(full_body(bytes))
        .expect("our status codes and content types are valid header values")
}

/// The `Status` response for an error.
pub fn error_response(error: &ApiError) -> http::Response<Body> {
    json_response(error.code(), &error.to_status())
}

/// Settings the core apiserver takes from the binary's resolved configuration.
#[derive(Clone)]
pub struct ApiServerConfig {
    pub store: Arc<dyn Store>,
    /// Storage key prefix (`--etcd-prefix`, `/registry` by default).
    pub storage_prefix: String,
    /// The range ClusterIPs are allocated from (`--service-cluster-ip-range`).
    pub service_cluster_ip_range: String,
    /// How long Events live after their last write (`--event-ttl`).
    pub event_ttl: std::time::Duration,
    /// host:port clients reach this server at, for `/api` discovery.
    pub advertise_address: String,
}

/// The core apiserver: the built-in groups over one store.
#[derive(Clone)]
pub struct ApiServer {
    inner: Arc<ApiServerInner>,
}

struct ApiServerInner {
    context: Context,
    advertise_address: String,
}

impl ApiServer {
    /// Registers the built-in groups, creates the system namespaces when
    /// missing, and starts the background controllers.
    pub async fn new(config: ApiServerConfig) -> Result<Self, ApiError> {
        let registry = Arc::new(Registry::default());
        let options = builtin::BuiltinOptions {
            service_cluster_ip_range: config.service_cluster_ip_range.clone(),
            event_ttl: config.event_ttl,
        };
        registry.add(builtin::descriptors(&options).map_err(ApiError::BadRequest)?);
        registry.add(reviews::descriptors());
        let context = Context::new(
            config.store.clone(),
            registry.clone(),
            config.storage_prefix.clone(),
        );
        let server = ApiServer {
            inner: Arc::new(ApiServerInner {
                context,
                advertise_address: config.advertise_address.clone(),
            }),
        };
        bootstrap::ensure(
            &server.inner.context,
            &config.service_cluster_ip_range,
            &config.advertise_address,
        )
        .await?;
        // Caches start with the server, as upstream's do, so watches from
        // any revision served since start can resume.
        for descriptor in server.inner.context.registry.snapshot().resources() {
            if descriptor.has_verb("watch") {
                server.inner.context.cache(&descriptor);
            }
        }
        namespaces::spawn_controller(server.inner.clone_context());
        compaction::spawn(config.store.clone());
        Ok(server)
    }

    /// The registry, for API groups that plug in at run time.
    pub fn registry(&self) -> Arc<Registry> {
        self.inner.context.registry.clone()
    }

    /// What the handlers share (store, registry, caches), for API groups
    /// that plug in with controllers of their own (the CRD engine).
    pub fn context(&self) -> &Context {
        &self.inner.context
    }

    /// Serves one request. The caller's [`UserInfo`] is in the request's
    /// extensions.
    pub async fn handle<B>(&self, request: http::Request<B>) -> http::Response<Body>
    where
        B: http_body::Body<Data = Bytes>,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let (parts, body) = request.into_parts();
        let is_head = parts.method == http::Method::HEAD;
        let body = match read_body(body, &parts).await {
            Ok(b) => b,
            Err(e) => return error_response(&e),
        };
        let response = match self.route(parts, body).await {
            Ok(response) => response,
            Err(e) => error_response(&e),
        };
        if is_head {
            // HEAD answers carry the headers only; HTTP/2 refuses a body.
            let (parts, _) = response.into_parts();
            return http::Response::from_parts(parts, full_body(Bytes::new()));
        }
        response
    }

    async fn route(
        &self,
        parts: http::request::Parts,
        body: Bytes,
    ) -> Result<http::Response<Body>, ApiError> {
        let path = parts.uri.path().to_string();
        let query = parts.uri.query().unwrap_or_default().to_string();
        let header = |name: http::header::HeaderName| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let accept = header(http::header::ACCEPT);
        match RequestInfo::parse(&parts.method, &path, &query) {
            RequestInfo::NonResource { path, .. } => {
                self.non_resource(&parts.method, &path, &query, accept.as_deref())
                    .await
            }
            RequestInfo::Resource(request) => {
                let snapshot = self.inner.context.registry.snapshot();
                let descriptor = snapshot
                    .lookup(&request.group, &request.version, &request.resource)
                    .ok_or(ApiError::UnknownPath)?;
                // A cluster-scoped resource has no path under a namespace
                // (a namespace's own path names it twice, by design).
                let namespace_itself = request.group.is_empty() && request.resource == "namespaces";
                if !descriptor.namespaced && request.namespace.is_some() && !namespace_itself {
                    return Err(ApiError::UnknownPath);
                }
                let protobuf_ok =
                    codec::protobuf::supports(&descriptor.api_version(), &descriptor.kind);
                let call = Call {
                    output: negotiation::output(accept.as_deref(), protobuf_ok)?,
                    query: Query::parse(&query)?,
                    descriptor,
                    request,
                    content_type: header(http::header::CONTENT_TYPE),
                    body,
                    user: parts
                        .extensions
                        .get::<UserInfo>()
                        .cloned()
                        .unwrap_or_default(),
                };
                handlers::serve(&self.inner.context, call).await
            }
        }
    }

    async fn non_resource(
        &self,
        method: &http::Method,
        path: &str,
        query: &str,
        accept: Option<&str>,
    ) -> Result<http::Response<Body>, ApiError> {
        if method != http::Method::GET && method != http::Method::HEAD {
            return Err(ApiError::MethodNotAllowed);
        }
        if let Some(rest) = path.strip_prefix("/openapi/") {
            return self.openapi(rest, accept).await;
        }
        let snapshot = self.inner.context.registry.snapshot();
        let trimmed = path.trim_end_matches('/');
        let parts: Vec<&str> = trimmed.trim_start_matches('/').split('/').collect();
        let value = match parts.as_slice() {
            [endpoint @ ("healthz" | "livez" | "readyz"), rest @ ..] if rest.len() <= 1 => {
                let store = self.inner.context.store.as_ref();
                return match health::answer(store, endpoint, rest.first().copied(), query).await {
                    Some((code, text)) => Ok(text_response(code, text)),
                    None => Err(ApiError::UnknownPath),
                };
            }
            ["version"] => version(),
            ["api"] if discovery::wants_aggregated(accept) => {
                return Ok(aggregated_response(&discovery::aggregated(&snapshot, true)))
            }
            ["api"] => discovery::legacy_versions(&self.inner.advertise_address),
            ["apis"] if discovery::wants_aggregated(accept) => {
                return Ok(aggregated_response(&discovery::aggregated(
                    &snapshot, false,
                )))
            }
            ["apis"] => discovery::group_list(&snapshot),
            ["api", version] => {
                discovery::resource_list(&snapshot, "", version).ok_or(ApiError::UnknownPath)?
            }
            ["apis", group] => discovery::group(&snapshot, group).ok_or(ApiError::UnknownPath)?,
            ["apis", group, version] => {
                discovery::resource_list(&snapshot, group, version).ok_or(ApiError::UnknownPath)?
            }
            _ => return Err(ApiError::UnknownPath),
        };
        Ok(json_response(200, &value))
    }
}

impl ApiServer {
    /// `/openapi/v2` (JSON only: the protobuf form is not built) and
    /// `/openapi/v3[/<group-version path>]`.
    async fn openapi(
        &self,
        rest: &str,
        accept: Option<&str>,
    ) -> Result<http::Response<Body>, ApiError> {
        let ctx = &self.inner.context;
        let rest = rest.trim_end_matches('/');
        let bytes = match rest {
            "v2" => {
                let json_ok = accept.is_none_or(|a| {
                    a.split(',').any(|r| {
                        let essence = r.split(';').next().unwrap_or_default().trim();
                        matches!(essence, "application/json" | "*/*" | "application/*" | "")
                    })
                });
                if !json_ok {
                    return Err(ApiError::NotAcceptable {
                        accepted: "application/json".into(),
                    });
                }
                ctx.openapi.v2(&ctx.registry).await?
            }
            "v3" => ctx.openapi.v3_index(&ctx.registry).await?,
            other => {
                let path = other.strip_prefix("v3/").ok_or(ApiError::UnknownPath)?;
                ctx.openapi
                    .v3_document(&ctx.registry, path)
                    .await?
                    .ok_or(ApiError::UnknownPath)?
            }
        };
        Ok(bytes_response(200, "application/json", bytes))
    }
}

impl ApiServerInner {
    fn clone_context(self: &Arc<Self>) -> Arc<ApiServerInner> {
        self.clone()
    }
}

impl std::ops::Deref for ApiServerInner {
    type Target = Context;
    fn deref(&self) -> &Context {
        &self.context
    }
}

fn text_response(code: u16, text: impl Into<Bytes>) -> http::Response<Body> {
    bytes_response(code, "text/plain; charset=utf-8", text)
}

fn aggregated_response(value: &Value) -> http::Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    bytes_response(200, discovery::AGGREGATED_V2, bytes)
}

/// The Kubernetes version this server implements.
fn version() -> Value {
    json!({
        "major": "1",
        "minor": "34",
        "gitVersion": "v1.34.0",
        "gitCommit": "",
        "gitTreeState": "clean",
        "buildDate": "",
        "goVersion": "",
        "compiler": "rustc",
        "platform": format!("{}/{}", std::env::consts::OS, go_arch()),
    })
}

/// The architecture as Go names it, which clients print.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    }
}

/// Reads the whole body, refusing more than upstream's 3 MiB limit.
async fn read_body<B>(body: B, _parts: &http::request::Parts) -> Result<Bytes, ApiError>
where
    B: http_body::Body<Data = Bytes>,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let limit = negotiation::MAX_BODY_BYTES;
    let mut body = std::pin::pin!(body);
    let mut collected = bytes::BytesMut::new();
    let mut seen = 0usize;
    // An oversized body is still read (and dropped) up to a bound, so the
    // 413 reaches clients that only read the response after sending
    // everything; past the bound the connection is given up.
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|e| {
            ApiError::BadRequest(format!("unable to read the request body: {}", e.into()))
        })?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        seen += data.len();
        if seen <= limit {
            collected.extend_from_slice(&data);
        } else if seen > DISCARD_LIMIT {
            break;
        }
    }
    if seen > limit {
        return Err(ApiError::TooLarge { limit });
    }
    Ok(collected.freeze())
}

/// How much of an oversized body is read and dropped before giving up.
const DISCARD_LIMIT: usize = 64 * 1024 * 1024;
