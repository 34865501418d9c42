//! The REST verbs on Flunders, as upstream's generic registry serves them
//! for the sample-apiserver: create, get, list, watch, update, merge patch,
//! delete and deletecollection. Objects are the same in both versions; an
//! answer carries the apiVersion of the path it was asked on.
//!
//! Each create records who asked, in the annotations [`CREATED_BY`] and
//! [`CREATED_BY_GROUPS`], so tests see the identity the aggregator
//! forwarded.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use crate::authentication::User;
use crate::route::query_pairs;
use crate::status::{self, ApiError};
use crate::store::{Change, ChangeKind, Key, Store, WatchStart};
use crate::{json_response, streaming_response, Body, Version};

pub const CREATED_BY: &str = "wardle.example.com/created-by";
pub const CREATED_BY_GROUPS: &str = "wardle.example.com/created-by-groups";

/// Upstream's request body limit.
const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// How many encoded watch events may wait for a slow client before the
/// watch waits for it in turn.
const WATCH_QUEUE: usize = 16;

/// The fields a Flunder has; `fieldValidation=Strict` refuses others.
const TOP_LEVEL_FIELDS: [&str; 5] = ["apiVersion", "kind", "metadata", "spec", "status"];
const SPEC_FIELDS: [&str; 2] = ["reference", "referenceType"];

/// What a request names: one namespace's Flunders (or all), or one.
pub enum Target {
    Collection(Option<String>),
    Object(Key),
}

/// Serves one request on Flunders.
pub async fn serve(
    store: &Store,
    user: &User,
    version: Version,
    target: Target,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, ApiError> {
    let query = Query::parse(request.uri().query())?;
    let method = request.method().clone();
    let headers = request.headers().clone();
    match (method, target) {
        (Method::GET, Target::Collection(namespace)) if query.is_watch => {
            watch(store, version, namespace, query)
        }
        (Method::GET, Target::Collection(namespace)) => {
            let (objects, revision) = store.list(namespace.as_deref());
            let items = objects.iter().filter(|o| query.matches(o)).collect();
            Ok(json_response(
                StatusCode::OK,
                &list(version, items, revision),
            ))
        }
        (Method::POST, Target::Collection(Some(namespace))) => {
            let body = read_body(request).await?;
            create(store, user, version, &namespace, &body, &query)
        }
        (Method::DELETE, Target::Collection(Some(namespace))) => {
            let (objects, revision) = store.list(Some(&namespace));
            let mut deleted = Vec::new();
            for object in objects.iter().filter(|o| query.matches(o)) {
                deleted.push(store.delete(&key_of(object))?);
            }
            let items = deleted.iter().collect();
            Ok(json_response(
                StatusCode::OK,
                &list(version, items, revision),
            ))
        }
        (Method::GET, Target::Object(key)) => {
            let object = store.get(&key).ok_or(ApiError::NotFound { name: key.1 })?;
            Ok(json_response(StatusCode::OK, &present(object, version)))
        }
        (Method::PUT, Target::Object(key)) => {
            let body = read_body(request).await?;
            let object = replacement(&body, version, &key, &query)?;
            let updated = store.update(&key, |current| Ok(keep_identity(object, current)))?;
            Ok(json_response(StatusCode::OK, &present(updated, version)))
        }
        (Method::PATCH, Target::Object(key)) => {
            let patch = merge_patch(&headers, &read_body(request).await?)?;
            let updated = store.update(&key, |current| {
                let mut next = present(current.clone(), version);
                json_patch::merge(&mut next, &patch);
                Ok(keep_identity(next, current))
            })?;
            Ok(json_response(StatusCode::OK, &present(updated, version)))
        }
        (Method::DELETE, Target::Object(key)) => {
            let deleted = store.delete(&key)?;
            Ok(json_response(
                StatusCode::OK,
                &status::deleted(&key.1, &deleted["metadata"]["uid"]),
            ))
        }
        _ => Err(ApiError::MethodNotAllowed),
    }
}

/// The query parameters this server heeds.
struct Query {
    is_watch: bool,
    resource_version: Option<u64>,
    timeout: Option<Duration>,
    labels: Vec<(String, bool, String)>,
    fields: Vec<(String, bool, String)>,
    is_strict: bool,
}

impl Query {
    fn parse(query: Option<&str>) -> Result<Query, ApiError> {
        let mut parsed = Query {
            is_watch: false,
            resource_version: None,
            timeout: None,
            labels: Vec::new(),
            fields: Vec::new(),
            is_strict: false,
        };
        for (key, value) in query_pairs(query) {
            match key.as_str() {
                "watch" => parsed.is_watch = matches!(value.as_str(), "1" | "true"),
                "resourceVersion" if !value.is_empty() => {
                    let revision = value.parse().map_err(|_| {
                        ApiError::BadRequest(format!("invalid resource version: {value}"))
                    })?;
                    parsed.resource_version = Some(revision);
                }
                "timeoutSeconds" => {
                    let seconds = value.parse().map_err(|_| {
                        ApiError::BadRequest(format!("invalid timeoutSeconds: {value}"))
                    })?;
                    parsed.timeout = Some(Duration::from_secs(seconds));
                }
                "labelSelector" => parsed.labels = requirements(&value)?,
                "fieldSelector" => {
                    parsed.fields = requirements(&value)?;
                    if let Some((field, _, _)) = parsed
                        .fields
                        .iter()
                        .find(|(f, _, _)| f != "metadata.name" && f != "metadata.namespace")
                    {
                        return Err(ApiError::BadRequest(format!(
                            "\"{field}\" is not a known field selector: only \"metadata.name\", \
                             \"metadata.namespace\""
                        )));
                    }
                }
                "fieldValidation" => parsed.is_strict = value == "Strict",
                _ => {}
            }
        }
        Ok(parsed)
    }

    /// Whether `object` passes the label and field selectors.
    fn matches(&self, object: &Value) -> bool {
        let metadata = &object["metadata"];
        let labels_match = self.labels.iter().all(|(key, is_equal, value)| {
            let actual = metadata["labels"][key].as_str();
            (actual == Some(value.as_str())) == *is_equal
        });
        let fields_match = self.fields.iter().all(|(field, is_equal, value)| {
            let actual = match field.as_str() {
                "metadata.name" => metadata["name"].as_str(),
                _ => metadata["namespace"].as_str(),
            };
            (actual == Some(value.as_str())) == *is_equal
        });
        labels_match && fields_match
    }

    /// What a watcher of this query sees of `change`: an object entering the
    /// selection is ADDED, one leaving it DELETED (as it was, at the
    /// change's revision), as upstream's watch cache reports them.
    fn event(&self, change: &Change) -> Option<(ChangeKind, Value)> {
        let is_match = self.matches(&change.object);
        let was_match = change.previous.as_ref().is_some_and(|p| self.matches(p));
        match (change.kind, was_match, is_match) {
            (ChangeKind::Modified, true, true) => {
                Some((ChangeKind::Modified, change.object.clone()))
            }
            (ChangeKind::Modified, false, true) => Some((ChangeKind::Added, change.object.clone())),
            (ChangeKind::Modified, true, false) => {
                let mut previous = change.previous.clone().unwrap_or_default();
                previous["metadata"]["resourceVersion"] = json!(change.revision.to_string());
                Some((ChangeKind::Deleted, previous))
            }
            (ChangeKind::Modified, false, false) => None,
            (kind, _, true) => Some((kind, change.object.clone())),
            (_, _, false) => None,
        }
    }
}

/// `a=b,c!=d` as (key, is-equality, value); `==` is `=`.
fn requirements(selector: &str) -> Result<Vec<(String, bool, String)>, ApiError> {
    selector
        .split(',')
        .map(str::trim)
        .filter(|term| !term.is_empty())
        .map(|term| {
            let (key, is_equal, value) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::BadRequest(format!(
                    "unable to parse requirement: {term}: only =, == and != are served here"
                )));
            };
            Ok((key.trim().to_string(), is_equal, value.trim().to_string()))
        })
        .collect()
}

async fn read_body(request: hyper::Request<Incoming>) -> Result<Bytes, ApiError> {
    Limited::new(request.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .map_err(|e| ApiError::BadRequest(format!("reading the request body: {e}")))
}

/// `object` with the apiVersion and kind of `version`.
fn present(mut object: Value, version: Version) -> Value {
    object["apiVersion"] = json!(version.api_version());
    object["kind"] = json!("Flunder");
    object
}

fn list(version: Version, items: Vec<&Value>, revision: u64) -> Value {
    // Items of a typed list carry no apiVersion or kind upstream.
    let items: Vec<Value> = items
        .into_iter()
        .map(|item| {
            let mut item = item.clone();
            if let Some(fields) = item.as_object_mut() {
                fields.remove("apiVersion");
                fields.remove("kind");
            }
            item
        })
        .collect();
    json!({
        "apiVersion": version.api_version(),
        "kind": "FlunderList",
        "metadata": {"resourceVersion": revision.to_string()},
        "items": items,
    })
}

fn key_of(object: &Value) -> Key {
    let text = |field: &str| {
        object["metadata"][field]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    (text("namespace"), text("name"))
}

/// The body as a Flunder of this group: JSON, kind Flunder, one of the
/// served versions, and under `fieldValidation=Strict` no unknown field.
fn decode(body: &[u8], version: Version, is_strict: bool) -> Result<Value, ApiError> {
    let object: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the body is not a JSON object: {e}")))?;
    if !object.is_object() {
        return Err(ApiError::BadRequest("the body is not a JSON object".into()));
    }
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    if Version::from_api_version(api_version).is_none() {
        return Err(ApiError::BadRequest(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            version.api_version()
        )));
    }
    let kind = object["kind"].as_str().unwrap_or_default();
    if kind != "Flunder" {
        return Err(ApiError::BadRequest(format!(
            "the kind in the data ({kind}) does not match the expected kind (Flunder)"
        )));
    }
    if is_strict {
        let unknown = unknown_fields(&object);
        if !unknown.is_empty() {
            let list: Vec<String> = unknown
                .iter()
                .map(|f| format!("unknown field \"{f}\""))
                .collect();
            return Err(ApiError::BadRequest(format!(
                "strict decoding error: {}",
                list.join(", ")
            )));
        }
    }
    Ok(object)
}

fn unknown_fields(object: &Value) -> Vec<String> {
    let mut unknown = Vec::new();
    let keys = |value: &Value| -> Vec<String> {
        value
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    for key in keys(object) {
        if !TOP_LEVEL_FIELDS.contains(&key.as_str()) {
            unknown.push(key);
        }
    }
    for key in keys(&object["spec"]) {
        if !SPEC_FIELDS.contains(&key.as_str()) {
            unknown.push(format!("spec.{key}"));
        }
    }
    unknown
}

/// The namespace of the body must be the path's, or absent.
fn check_namespace(object: &mut Value, namespace: &str) -> Result<(), ApiError> {
    match object["metadata"]["namespace"].as_str() {
        None | Some("") => {
            object["metadata"]["namespace"] = json!(namespace);
            Ok(())
        }
        Some(given) if given == namespace => Ok(()),
        Some(_) => Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
    }
}

fn create(
    store: &Store,
    user: &User,
    version: Version,
    namespace: &str,
    body: &[u8],
    query: &Query,
) -> Result<hyper::Response<Body>, ApiError> {
    let mut object = decode(body, version, query.is_strict)?;
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    check_namespace(&mut object, namespace)?;
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if name.is_empty() {
        return Err(ApiError::Required {
            name,
            field: "metadata.name",
            detail: "name or generateName is required",
        });
    }
    let metadata = object["metadata"]
        .as_object_mut()
        .expect("metadata was made an object above");
    for server_set in [
        "uid",
        "resourceVersion",
        "creationTimestamp",
        "deletionTimestamp",
    ] {
        metadata.remove(server_set);
    }
    metadata.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
    metadata.insert(
        "creationTimestamp".into(),
        json!(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)),
    );
    if !object["metadata"]["annotations"].is_object() {
        object["metadata"]["annotations"] = json!({});
    }
    let annotations = &mut object["metadata"]["annotations"];
    annotations[CREATED_BY] = json!(user.name);
    annotations[CREATED_BY_GROUPS] = json!(user.groups.join(","));
    let created = store.create((namespace.to_string(), name), object)?;
    Ok(json_response(
        StatusCode::CREATED,
        &present(created, version),
    ))
}

/// The body of a PUT, checked against the path it was sent to.
fn replacement(body: &[u8], version: Version, key: &Key, query: &Query) -> Result<Value, ApiError> {
    let mut object = decode(body, version, query.is_strict)?;
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    check_namespace(&mut object, &key.0)?;
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    if name != key.1 {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({name}) does not match the name on the URL ({})",
            key.1
        )));
    }
    Ok(object)
}

/// `next` with the fields a write cannot change taken from `current`.
fn keep_identity(mut next: Value, current: &Value) -> Value {
    if !next["metadata"].is_object() {
        next["metadata"] = json!({});
    }
    for field in ["name", "namespace", "uid", "creationTimestamp"] {
        next["metadata"][field] = current["metadata"][field].clone();
    }
    next
}

/// A merge patch body; other patch types are not served here.
fn merge_patch(headers: &HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let media = content_type.split(';').next().unwrap_or_default().trim();
    if media != "application/merge-patch+json" {
        return Err(ApiError::UnsupportedMediaType(content_type.to_string()));
    }
    serde_json::from_slice(body)
        .map_err(|e| ApiError::BadRequest(format!("the patch is not JSON: {e}")))
}

/// A watch: a stream of `{"type":..,"object":..}` lines, each flushed as it
/// is written, until the client goes away, `timeoutSeconds` passes, or the
/// watcher falls too far behind.
fn watch(
    store: &Store,
    version: Version,
    namespace: Option<String>,
    mut query: Query,
) -> Result<hyper::Response<Body>, ApiError> {
    let (start, changes) = store.watch(query.resource_version)?;
    if let Some(namespace) = namespace {
        query
            .fields
            .push(("metadata.namespace".into(), true, namespace));
    }
    let (sender, receiver) = mpsc::channel(WATCH_QUEUE);
    tokio::spawn(feed_watch(start, changes, query, version, sender));
    Ok(streaming_response(receiver))
}

fn encode_event(kind: ChangeKind, object: Value, version: Version) -> Bytes {
    let event = json!({"type": kind.as_str(), "object": present(object, version)});
    Bytes::from(format!("{event}\n"))
}

async fn feed_watch(
    start: WatchStart,
    mut changes: broadcast::Receiver<Change>,
    query: Query,
    version: Version,
    sender: mpsc::Sender<Bytes>,
) {
    let first: Vec<(ChangeKind, Value)> = match start {
        WatchStart::Snapshot(objects) => objects
            .into_iter()
            .filter(|o| query.matches(o))
            .map(|o| (ChangeKind::Added, o))
            .collect(),
        WatchStart::Replay(history) => history.iter().filter_map(|c| query.event(c)).collect(),
    };
    for (kind, object) in first {
        if sender
            .send(encode_event(kind, object, version))
            .await
            .is_err()
        {
            return;
        }
    }
    // Without timeoutSeconds the watch lasts until the client leaves.
    let deadline = query
        .timeout
        .unwrap_or(Duration::from_secs(365 * 24 * 3600));
    let expired = tokio::time::sleep(deadline);
    tokio::pin!(expired);
    loop {
        let change = tokio::select! {
            _ = &mut expired => return,
            _ = sender.closed() => return,
            change = changes.recv() => change,
        };
        // Lagged or closed: the stream ends and the client starts again.
        let Ok(change) = change else { return };
        if let Some((kind, object)) = query.event(&change) {
            if sender
                .send(encode_event(kind, object, version))
                .await
                .is_err()
            {
                return;
            }
        }
    }
}
