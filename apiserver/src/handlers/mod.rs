//! The generic REST handlers: one implementation of every verb for every
//! resource, driven by its [`ResourceDescriptor`] and strategy.

pub mod query;
mod read;
mod respond;
pub mod scale;
mod watch;
mod write;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::Value;

use crate::error::ApiError;
use crate::negotiation::{self, Output};
use crate::openapi::{OpenApi, Published};
use crate::registry::Registry;
use crate::request_info::ResourceRequest;
use crate::resource::ResourceDescriptor;
use crate::server::{Body, UserInfo};
use crate::storage::Store;
use crate::watch_cache::WatchCache;

pub use query::Query;

/// What every handler shares: the store, the registry and the caches.
pub struct Context {
    pub store: Arc<dyn Store>,
    pub registry: Arc<Registry>,
    /// Storage key prefix, `/registry` by default.
    pub prefix: String,
    caches: Mutex<HashMap<String, Arc<WatchCache>>>,
    /// The published OpenAPI, built on first use (it is large and slow to
    /// build, so a server that is never asked for it never pays); writes
    /// check built-in kinds against its schemas.
    pub openapi: Published,
    /// What empties terminating namespaces of content other processes
    /// serve; set by the front door when it proxies to any.
    pub remote_content: crate::namespaces::RemoteContentSlot,
}

impl Context {
    pub fn new(store: Arc<dyn Store>, registry: Arc<Registry>, prefix: String) -> Self {
        Context {
            store,
            registry,
            prefix: prefix.trim_end_matches('/').to_string(),
            caches: Mutex::new(HashMap::new()),
            openapi: Published::default(),
            remote_content: Default::default(),
        }
    }

    /// The OpenAPI of the built-in kinds, whose schemas writes check.
    pub async fn builtin_openapi(&self) -> Result<Arc<OpenApi>, ApiError> {
        self.openapi.builtin(&self.registry).await
    }

    /// `/registry/<storage_path>/` — every object of the resource.
    pub fn resource_prefix(&self, descriptor: &ResourceDescriptor) -> String {
        format!("{}/{}/", self.prefix, descriptor.storage_path)
    }

    /// The keys of one namespace, or of the whole resource.
    pub fn collection_prefix(
        &self,
        descriptor: &ResourceDescriptor,
        namespace: Option<&str>,
    ) -> String {
        match namespace {
            Some(ns) if descriptor.namespaced => {
                format!("{}{ns}/", self.resource_prefix(descriptor))
            }
            _ => self.resource_prefix(descriptor),
        }
    }

    pub fn key(
        &self,
        descriptor: &ResourceDescriptor,
        namespace: Option<&str>,
        name: &str,
    ) -> String {
        format!("{}{name}", self.collection_prefix(descriptor, namespace))
    }

    /// Stops and forgets the watch cache of a storage path no resource
    /// serves any more (a deleted CRD's), so it stops watching the store.
    pub fn forget_cache(&self, descriptor: &ResourceDescriptor) {
        let prefix = self.resource_prefix(descriptor);
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cache) = caches.remove(&prefix) {
            cache.stop();
        }
    }

    /// The watch cache of a resource's storage path, started on first use.
    pub fn cache(&self, descriptor: &ResourceDescriptor) -> Arc<WatchCache> {
        let prefix = self.resource_prefix(descriptor);
        let mut caches = self.caches.lock().unwrap_or_else(|p| p.into_inner());
        caches
            .entry(prefix.clone())
            .or_insert_with(|| WatchCache::start(self.store.clone(), prefix))
            .clone()
    }
}

/// One resource request, decoded as far as the verb needs.
pub struct Call {
    pub descriptor: Arc<ResourceDescriptor>,
    pub request: ResourceRequest,
    pub query: Query,
    pub output: Output,
    pub content_type: Option<String>,
    pub body: Bytes,
    pub user: UserInfo,
}

impl Call {
    pub fn namespace(&self) -> Option<&str> {
        if self.descriptor.namespaced {
            self.request.namespace.as_deref()
        } else {
            None
        }
    }

    pub fn name(&self) -> &str {
        self.request.name.as_deref().unwrap_or_default()
    }

    /// The body as a JSON object (create and update).
    pub fn decode_body(&self) -> Result<Value, ApiError> {
        let format = negotiation::body_format(self.content_type.as_deref())?;
        negotiation::decode_body(format, &self.body)
    }
}

/// Serves a resource request against its descriptor.
pub async fn serve(ctx: &Context, call: Call) -> Result<http::Response<Body>, ApiError> {
    let subresource = call.request.subresource.clone();
    match subresource.as_deref() {
        None => {}
        Some("status") if call.descriptor.has_status => {}
        Some("scale") if call.descriptor.strategy.scale().is_some() => {}
        Some("finalize")
            if call.descriptor.plural == "namespaces" && call.descriptor.group.is_empty() => {}
        Some(_) => return Err(ApiError::UnknownPath),
    }
    let verb = call.request.verb.clone();
    if matches!(verb.as_str(), "update" | "patch") && call.request.name.is_none() {
        // Collections take no PUT or PATCH, as upstream routes them.
        return Err(ApiError::MethodNotAllowed);
    }
    if let Some(reason) = call.descriptor.strategy.refusal(&verb) {
        return Err(ApiError::VerbRefused(reason));
    }
    let allowed = match (verb.as_str(), subresource.is_some()) {
        ("get" | "update" | "patch", true) => true,
        (_, true) => false,
        (v, false) => call.descriptor.has_verb(v),
    };
    if !allowed {
        return Err(ApiError::MethodNotAllowed);
    }
    let response = match verb.as_str() {
        "get" => read::get(ctx, &call).await,
        "list" => read::list(ctx, &call).await,
        "watch" => watch::watch(ctx, &call).await,
        "create" => write::create(ctx, &call).await,
        "update" => write::update(ctx, &call).await,
        "patch" => write::patch(ctx, &call).await,
        "delete" => write::delete(ctx, &call).await,
        "deletecollection" => write::delete_collection(ctx, &call).await,
        _ => Err(ApiError::MethodNotAllowed),
    };
    match call.descriptor.strategy.deprecation_warning() {
        Some(warning) => response.map(|r| with_warnings(r, &[warning])),
        None => response,
    }
}

/// Adds `Warning: 299 - "..."` headers, as upstream sends warnings.
fn with_warnings(mut response: http::Response<Body>, warnings: &[String]) -> http::Response<Body> {
    for warning in warnings {
        let text = format!(
            "299 - \"{}\"",
            warning.replace('\\', "\\\\").replace('"', "\\\"")
        );
        if let Ok(value) = http::HeaderValue::from_str(&text) {
            response.headers_mut().append(http::header::WARNING, value);
        }
    }
    response
}

pub use write::delete_object;
