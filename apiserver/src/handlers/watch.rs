//! Watch streams, served from the watch cache.
//!
//! A stream moves through these states:
//! - `Initial`: sends the current objects as ADDED (when the watch starts
//!   from "now" or asks for initial events), then, for sendInitialEvents,
//!   a BOOKMARK marking their end;
//! - `Replay`: sends cached events after the requested revision;
//! - `Live`: forwards events as they happen, with periodic bookmarks when
//!   the client allows them, until the timeout or the client leaves.
//!
//! Objects a selector stops matching are sent as DELETED, ones it starts
//! matching as ADDED, as upstream does.

use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use http_body_util::StreamBody;
use hyper::body::Frame;
use serde_json::{json, Value};
use tokio::sync::{broadcast, mpsc};

use super::read::selected;
use super::respond::{self, internal};
use super::{Call, Context};
use crate::codec::protobuf;
use crate::error::ApiError;
use crate::negotiation::Output;
use crate::server::Body;
use crate::watch_cache::{CacheEvent, CachedObject, EventType};

/// A JSON watch frame around an object's bytes, spliced without re-encoding.
fn json_frame(kind: EventType, object: &[u8]) -> Bytes {
    let mut frame = Vec::with_capacity(object.len() + 32);
    frame.extend_from_slice(b"{\"type\":\"");
    frame.extend_from_slice(kind.as_str().as_bytes());
    frame.extend_from_slice(b"\",\"object\":");
    frame.extend_from_slice(object);
    frame.extend_from_slice(b"}\n");
    Bytes::from(frame)
}

/// Events taken from the broadcast in one wake-up before sending.
const MAX_COALESCED: usize = 256;
/// Queued bytes that are sent without waiting for the end of a wake-up.
const FLUSH_BYTES: usize = 64 * 1024;
/// How often an idle watch that allows bookmarks gets one.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(15);
/// Frames buffered towards one client before its writer waits.
const CLIENT_BUFFER: usize = 256;

pub async fn watch(ctx: &Context, call: &Call) -> Result<http::Response<Body>, ApiError> {
    let descriptor = call.descriptor.clone();
    let cache = ctx.cache(&descriptor);
    let prefix = ctx.collection_prefix(&descriptor, call.namespace());
    let revision = call.query.revision()?;
    let send_initial = call.query.send_initial_events.unwrap_or(false);
    call.query.validate_list_options(true)?;
    // "" and "0" start from the current state; a revision resumes after it
    // (one the cache has not reached yet included: changes up to it are
    // skipped as they arrive, so there is nothing to wait for).
    let resume_after = revision.unwrap_or(0);
    let (initial, subscription) = match revision {
        Some(rv) if rv > 0 && !send_initial => match cache.watch(rv) {
            Ok(sub) => (Vec::new(), sub),
            Err(e) => return Ok(error_stream(call, ApiError::from(e))),
        },
        _ => {
            match revision {
                None => {
                    let _ = cache.catch_up(ctx.store.as_ref()).await;
                }
                Some(rv) if rv > 0 => cache.wait_for(rv, Duration::from_secs(3)).await?,
                Some(_) => {}
            }
            cache.snapshot_and_watch(&prefix)
        }
    };
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::io::Error>>(CLIENT_BUFFER);
    let writer = Writer {
        call: Call {
            descriptor,
            request: call.request.clone(),
            query: call.query.clone(),
            output: call.output,
            content_type: None,
            body: Bytes::new(),
            user: call.user.clone(),
        },
        prefix,
        tx,
        sent_columns: false,
        batch: BytesMut::new(),
    };
    let timeout = call.query.timeout_seconds.map(Duration::from_secs);
    tokio::spawn(writer.run(initial, subscription, send_initial, resume_after, timeout));
    let body = StreamBody::new(tokio_stream_from(rx));
    let content_type = match call.output {
        Output::Protobuf => format!("{};stream=watch", protobuf::MEDIA_TYPE),
        _ => "application/json".to_string(),
    };
    http::Response::builder()
        .status(200)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(http_body_util::BodyExt::boxed_unsync(body))
        .map_err(internal)
}

fn tokio_stream_from(
    mut rx: mpsc::Receiver<Result<Frame<Bytes>, std::io::Error>>,
) -> impl futures::Stream<Item = Result<Frame<Bytes>, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx)).boxed()
}

/// A watch that fails before it starts still answers 200 with one ERROR
/// event, as upstream does for a too-old resourceVersion.
fn error_stream(call: &Call, error: ApiError) -> http::Response<Body> {
    let frame = json!({ "type": "ERROR", "object": error.to_status() });
    let mut bytes = serde_json::to_vec(&frame).unwrap_or_default();
    bytes.push(b'\n');
    let _ = call;
    crate::server::bytes_response(200, "application/json", bytes)
}

struct Writer {
    call: Call,
    prefix: String,
    tx: mpsc::Sender<Result<Frame<Bytes>, std::io::Error>>,
    sent_columns: bool,
    /// Frames waiting to go out together: one body frame per wake-up
    /// rather than per event, which is what lets a busy stream keep up.
    batch: BytesMut,
}

impl Writer {
    async fn run(
        mut self,
        initial: Vec<Arc<CachedObject>>,
        mut subscription: crate::watch_cache::Subscription,
        send_initial: bool,
        resume_after: i64,
        timeout: Option<Duration>,
    ) {
        let deadline = timeout.map(|t| tokio::time::Instant::now() + t);
        // Initial
        for item in &initial {
            if !self.matches(item) {
                continue;
            }
            if self.send_object(EventType::Added, item).await.is_err() {
                return;
            }
        }
        // A snapshot stream starts at its own revision; a resumed one after
        // the client's, even one the cache has not reached yet.
        let mut last_revision = if send_initial {
            subscription.revision
        } else {
            subscription.revision.max(resume_after)
        };
        if send_initial && self.send_bookmark(last_revision, true).await.is_err() {
            return;
        }
        // Replay
        for event in std::mem::take(&mut subscription.replay) {
            last_revision = event.revision;
            if self.send_event(&event).await.is_err() {
                return;
            }
        }
        if self.flush().await.is_err() {
            return;
        }
        // Live
        let mut bookmarks = tokio::time::interval(BOOKMARK_INTERVAL);
        bookmarks.tick().await;
        loop {
            let sleep_until = deadline
                .unwrap_or_else(|| tokio::time::Instant::now() + Duration::from_secs(3600 * 24));
            tokio::select! {
                received = subscription.live.recv() => {
                    let mut next = Some(received);
                    let mut taken = 0;
                    // This event, then whatever else is already waiting.
                    while let Some(received) = next.take() {
                        match received {
                            Ok(event) => {
                                if event.revision > last_revision {
                                    last_revision = event.revision;
                                    if self.send_event(&event).await.is_err() {
                                        return;
                                    }
                                }
                            }
                            Err(broadcast::error::RecvError::Lagged(_)) => {
                                let gone = ApiError::Gone(format!("too old resource version: {last_revision}: the watcher fell behind"));
                                let _ = self.send_frame("ERROR", &gone.to_status()).await;
                                let _ = self.flush().await;
                                return;
                            }
                            Err(broadcast::error::RecvError::Closed) => {
                                let _ = self.flush().await;
                                return;
                            }
                        }
                        taken += 1;
                        if taken < MAX_COALESCED {
                            next = match subscription.live.try_recv() {
                                Ok(event) => Some(Ok(event)),
                                Err(broadcast::error::TryRecvError::Lagged(n)) => Some(Err(broadcast::error::RecvError::Lagged(n))),
                                Err(broadcast::error::TryRecvError::Closed) => Some(Err(broadcast::error::RecvError::Closed)),
                                Err(broadcast::error::TryRecvError::Empty) => None,
                            };
                        }
                    }
                    if self.flush().await.is_err() {
                        return;
                    }
                }
                _ = bookmarks.tick() => {
                    if self.call.query.allow_watch_bookmarks
                        && (self.send_bookmark(last_revision, false).await.is_err() || self.flush().await.is_err())
                    {
                        return;
                    }
                }
                _ = tokio::time::sleep_until(sleep_until) => return,
                _ = self.tx.closed() => return,
            }
        }
    }

    fn matches(&self, item: &CachedObject) -> bool {
        item.key.starts_with(&self.prefix) && selected(&self.call, item).unwrap_or(false)
    }

    async fn send_event(&mut self, event: &CacheEvent) -> Result<(), ()> {
        let now = self.matches(&event.object);
        let before = event.prev.as_ref().is_some_and(|p| self.matches(p));
        let kind = match (event.kind, before, now) {
            (EventType::Deleted, _, true) => EventType::Deleted,
            (EventType::Modified, true, true) => EventType::Modified,
            (EventType::Modified, false, true) => EventType::Added,
            (EventType::Modified, true, false) => {
                // Left the selector: the last state that matched, at the
                // change's revision, as upstream sends it.
                let Some(prev) = &event.prev else {
                    return Ok(());
                };
                let last = prev.at_revision(event.revision).map_err(|_| ())?;
                return self.send_object(EventType::Deleted, &last).await;
            }
            (EventType::Added, _, true) => EventType::Added,
            _ => return Ok(()),
        };
        let shareable = kind == event.kind
            && self.call.output == Output::Json
            && self
                .call
                .descriptor
                .serves_stored_as_is(&event.object.api_version);
        if shareable {
            let frame = event
                .json_frame
                .get_or_init(|| json_frame(kind, &event.object.json))
                .clone();
            return self.push(frame).await;
        }
        self.send_object(kind, &event.object).await
    }

    async fn send_object(&mut self, kind: EventType, item: &CachedObject) -> Result<(), ()> {
        let descriptor = self.call.descriptor.clone();
        let object = match self.call.output {
            Output::Table => {
                let value = respond::client_value(&descriptor, item).map_err(|_| ())?;
                let with_columns = !self.sent_columns;
                self.sent_columns = true;
                respond::table(
                    &descriptor,
                    &self.call.query.include_object,
                    &[value],
                    json!({}),
                    with_columns,
                )
            }
            Output::PartialMetadata => respond::partial_metadata(&item.value().map_err(|_| ())?),
            Output::Json => {
                // Fast path: splice the cached bytes into the frame.
                let bytes = respond::object_bytes(&descriptor, item).map_err(|_| ())?;
                return self.push(json_frame(kind, &bytes)).await;
            }
            _ => respond::client_value(&descriptor, item).map_err(|_| ())?,
        };
        self.send_frame(kind.as_str(), &object).await
    }

    async fn send_bookmark(&mut self, revision: i64, initial_end: bool) -> Result<(), ()> {
        let mut metadata = json!({ "resourceVersion": revision.to_string() });
        if initial_end {
            metadata["annotations"] = json!({ "k8s.io/initial-events-end": "true" });
        }
        let object = json!({
            "kind": self.call.descriptor.kind,
            "apiVersion": self.call.descriptor.api_version(),
            "metadata": metadata,
        });
        self.send_frame("BOOKMARK", &object).await
    }

    async fn send_frame(&mut self, kind: &str, object: &Value) -> Result<(), ()> {
        let bytes = match self.call.output {
            Output::Protobuf => protobuf::encode_watch_event(kind, object).map_err(|_| ())?,
            Output::Yaml | Output::Json | Output::Table | Output::PartialMetadata => {
                let mut v = serde_json::to_vec(&json!({ "type": kind, "object": object }))
                    .map_err(|_| ())?;
                v.push(b'\n');
                v
            }
        };
        self.push(Bytes::from(bytes)).await
    }

    /// Queues bytes for the client, sending once enough has gathered.
    async fn push(&mut self, bytes: Bytes) -> Result<(), ()> {
        self.batch.extend_from_slice(&bytes);
        if self.batch.len() >= FLUSH_BYTES {
            self.flush().await?;
        }
        Ok(())
    }

    /// Sends what is queued as one body frame.
    async fn flush(&mut self) -> Result<(), ()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        let bytes = self.batch.split().freeze();
        self.tx.send(Ok(Frame::data(bytes))).await.map_err(|_| ())
    }
}
