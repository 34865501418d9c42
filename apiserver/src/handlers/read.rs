//! get and list. Gets read the store (always current); lists are served
//! from the watch cache when the requested revision allows it, from the
//! store at a pinned revision for continuations and exact reads.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use serde_json::{json, Value};

use super::query::ResourceVersionMatch;
use super::respond::{self, internal};
use super::{Call, Context};
use crate::error::ApiError;
use crate::object;
use crate::resource::ResourceDescriptor;
use crate::storage::{KeyValue, Revision, StoreError};
use crate::watch_cache::{CacheError, CachedObject};

/// How long a list waits for the cache to reach the requested revision.
const CACHE_WAIT: Duration = Duration::from_secs(3);

pub async fn get(ctx: &Context, call: &Call) -> Result<http::Response<super::Body>, ApiError> {
    let (_, object) = load(ctx, &call.descriptor, call.namespace(), call.name()).await?;
    if call.request.subresource.as_deref() == Some("scale") {
        let spec = call
            .descriptor
            .strategy
            .scale()
            .ok_or(ApiError::UnknownPath)?;
        return respond::encode(call.output, 200, &super::scale::to_scale(&spec, &object));
    }
    respond::object(call, 200, &object)
}

/// Reads one object in the descriptor's version, with its revision.
pub async fn load(
    ctx: &Context,
    descriptor: &ResourceDescriptor,
    namespace: Option<&str>,
    name: &str,
) -> Result<(KeyValue, Value), ApiError> {
    let key = ctx.key(descriptor, namespace, name);
    let kv = ctx
        .store
        .get(&key)
        .await?
        .ok_or_else(|| ApiError::not_found(descriptor.group_resource(), name))?;
    let mut value: Value = serde_json::from_slice(&kv.value).map_err(internal)?;
    object::set_meta(
        &mut value,
        "resourceVersion",
        Value::String(kv.mod_revision.to_string()),
    );
    Ok((kv, descriptor.strategy.read_stored(value)?))
}

impl From<CacheError> for ApiError {
    fn from(e: CacheError) -> Self {
        match e {
            CacheError::TooOld { .. } => ApiError::Gone(e.to_string()),
            CacheError::NotYet { requested, current } => {
                ApiError::TooLargeResourceVersion { requested, current }
            }
            CacheError::Store(e) => e.into(),
        }
    }
}

/// The continue token: the revision the list is pinned to and the last key
/// returned (relative to the resource prefix), as upstream encodes it.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    v: String,
    rv: i64,
    start: String,
}

fn encode_continue(revision: Revision, last_key: &str, resource_prefix: &str) -> String {
    let token = ContinueToken {
        v: "meta.k8s.io/v1".into(),
        rv: revision,
        start: format!(
            "{}\u{0}",
            last_key.strip_prefix(resource_prefix).unwrap_or(last_key)
        ),
    };
    let bytes = serde_json::to_vec(&token).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE.encode(bytes)
}

fn decode_continue(token: &str) -> Result<ContinueToken, ApiError> {
    let bad = || {
        ApiError::BadRequest("continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)".into())
    };
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(token)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token))
        .map_err(|_| bad())?;
    let token: ContinueToken = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    if token.v != "meta.k8s.io/v1" || token.rv <= 0 {
        return Err(bad());
    }
    Ok(token)
}

/// Whether an object passes the call's label and field selectors.
pub fn selected(call: &Call, item: &CachedObject) -> Result<bool, ApiError> {
    let q = &call.query;
    if !q.label_selector.matches(&item.labels) {
        return Ok(false);
    }
    if q.field_selector.is_empty() {
        return Ok(true);
    }
    let needs_object = q
        .field_selector
        .requirements
        .iter()
        .any(|r| r.field != "metadata.name" && r.field != "metadata.namespace");
    let value = if needs_object {
        Some(respond::client_value(&call.descriptor, item)?)
    } else {
        None
    };
    let extra = value
        .as_ref()
        .map(|v| call.descriptor.strategy.selectable_fields(v))
        .unwrap_or_default();
    Ok(q.field_selector.matches(&|field: &str| match field {
        "metadata.name" => Some(item.name.clone()),
        "metadata.namespace" => Some(item.namespace.clone()),
        other => extra
            .iter()
            .find(|(f, _)| *f == other)
            .map(|(_, v)| v.clone()),
    }))
}

/// Rejects field selectors on fields the resource does not support, as
/// upstream's "field label not supported".
fn check_field_labels(call: &Call) -> Result<(), ApiError> {
    let probe = call.descriptor.strategy.selectable_fields(&json!({}));
    for r in &call.query.field_selector.requirements {
        let known = r.field == "metadata.name"
            || r.field == "metadata.namespace"
            || probe.iter().any(|(f, _)| *f == r.field);
        if !known {
            return Err(ApiError::BadRequest(format!(
                "field label not supported: {}",
                r.field
            )));
        }
    }
    Ok(())
}

pub async fn list(ctx: &Context, call: &Call) -> Result<http::Response<super::Body>, ApiError> {
    call.query.validate_list_options(false)?;
    check_field_labels(call)?;
    let descriptor = &call.descriptor;
    let prefix = ctx.collection_prefix(descriptor, call.namespace());
    let resource_prefix = ctx.resource_prefix(descriptor);
    if let Some(token) = &call.query.continue_token {
        if call
            .query
            .resource_version
            .as_deref()
            .is_some_and(|rv| !rv.is_empty())
        {
            return Err(ApiError::BadRequest(
                "specifying resource version is not allowed when using continue".into(),
            ));
        }
        let token = decode_continue(token)?;
        let start = format!("{resource_prefix}{}", token.start);
        // The cache rebuilds the pinned revision while its event window
        // reaches back to it; older continuations read the store.
        let cache = ctx.cache(descriptor);
        // A revision the store has compacted away is expired even while the
        // cache could still rebuild it, as upstream's continuations are.
        let readable = ctx.store.check_revision(token.rv).await.is_ok();
        let rebuilt = readable
            .then(|| cache.snapshot_at(&prefix, token.rv))
            .flatten();
        return match rebuilt {
            Some(items) => {
                let after: Vec<_> = items
                    .into_iter()
                    .filter(|i| i.key.as_str() > start.as_str())
                    .collect();
                page_of(call, after, token.rv, &resource_prefix)
            }
            None => list_from_store(ctx, call, &prefix, Some(start), token.rv).await,
        };
    }
    let revision = call.query.revision()?;
    let cache = ctx.cache(descriptor);
    if call.query.resource_version_match == ResourceVersionMatch::Exact {
        let rv = revision.unwrap_or(0);
        let readable = rv > 0 && ctx.store.check_revision(rv).await.is_ok();
        let rebuilt = readable.then(|| cache.snapshot_at(&prefix, rv)).flatten();
        return match rebuilt {
            Some(items) => page_of(call, items, rv, &resource_prefix),
            None => list_from_store(ctx, call, &prefix, None, rv).await,
        };
    }
    match revision {
        None => {
            if cache.catch_up(ctx.store.as_ref()).await.is_err() {
                // The cache is behind (or still filling): read the store.
                return list_from_store(ctx, call, &prefix, None, 0).await;
            }
        }
        Some(0) => {}
        Some(rv) => cache.wait_for(rv, CACHE_WAIT).await?,
    }
    let (revision, items) = cache.snapshot(&prefix);
    page_of(call, items, revision, &resource_prefix)
}

/// Selects, then cuts one page of `limit` with a continue token pinned to
/// `revision` and, for unfiltered lists, the count of what is left.
fn page_of(
    call: &Call,
    items: Vec<Arc<CachedObject>>,
    revision: Revision,
    resource_prefix: &str,
) -> Result<http::Response<super::Body>, ApiError> {
    let limit = call.query.limit;
    let mut selected_items = Vec::with_capacity(items.len());
    for item in items {
        if selected(call, &item)? {
            selected_items.push(item);
        }
    }
    let mut continue_token = None;
    let mut remaining = None;
    if limit > 0 && selected_items.len() > limit {
        let rest = (selected_items.len() - limit) as u64;
        selected_items.truncate(limit);
        let last = selected_items
            .last()
            .map(|i| i.key.clone())
            .unwrap_or_default();
        continue_token = Some(encode_continue(revision, &last, resource_prefix));
        if call.query.label_selector.is_empty() && call.query.field_selector.is_empty() {
            remaining = Some(rest);
        }
    }
    respond::list(
        call,
        &selected_items,
        respond::list_metadata(revision, continue_token, remaining),
    )
}

/// Pages through the store at `revision` (0 = current) until `limit`
/// selected objects are found or the keys run out.
async fn list_from_store(
    ctx: &Context,
    call: &Call,
    prefix: &str,
    mut start_after: Option<String>,
    revision: Revision,
) -> Result<http::Response<super::Body>, ApiError> {
    let limit = call.query.limit;
    let resource_prefix = ctx.resource_prefix(&call.descriptor);
    let mut items: Vec<Arc<CachedObject>> = Vec::new();
    let mut read_at = revision;
    let mut more;
    let mut remaining;
    loop {
        let want = if limit == 0 {
            0
        } else {
            (limit - items.len()).max(1)
        };
        let page = match ctx
            .store
            .list(prefix, start_after.as_deref(), want, read_at)
            .await
        {
            Ok(page) => page,
            Err(StoreError::Compacted { .. }) if call.query.continue_token.is_some() => {
                // A fresh token goes on from the same key at the newest
                // revision, as upstream offers one.
                let current = ctx.store.current_revision().await?;
                let from = start_after.as_deref().unwrap_or(prefix);
                return Err(ApiError::ContinueExpired {
                    fresh: encode_continue(current, from.trim_end_matches('\0'), &resource_prefix),
                });
            }
            Err(e) => return Err(e.into()),
        };
        read_at = page.revision;
        for kv in &page.items {
            let item = Arc::new(CachedObject::from_kv(&KeyValue {
                mod_revision: kv.mod_revision,
                ..kv.clone()
            })?);
            start_after = Some(kv.key.clone());
            if selected(call, &item)? {
                items.push(item);
            }
        }
        more = page.remaining > 0;
        remaining = page.remaining;
        if !more || (limit > 0 && items.len() >= limit) || page.items.is_empty() {
            break;
        }
    }
    let continue_token = match (&start_after, more && limit > 0) {
        (Some(last), true) => Some(encode_continue(read_at, last, &resource_prefix)),
        _ => None,
    };
    let unfiltered = call.query.label_selector.is_empty() && call.query.field_selector.is_empty();
    let remaining = (unfiltered && continue_token.is_some()).then_some(remaining);
    respond::list(
        call,
        &items,
        respond::list_metadata(read_at, continue_token, remaining),
    )
}
