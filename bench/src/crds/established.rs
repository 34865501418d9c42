//! Seeing CRDs become Established through a watch.
//!
//! An [`EstablishedWatch`] is opened (and its response head received)
//! before the CRDs it follows are created, so no transition can be missed.
//! A reader task stamps each CRD the first time an event shows its
//! `Established` condition `True`; the stamp is taken when the frame
//! carrying the event arrives, before any parsing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::client::ApiClient;
use crate::error::BenchError;

use super::definitions::CRD_COLLECTION;

/// What the reader has seen so far.
#[derive(Default)]
struct Seen {
    established_at: HashMap<String, Instant>,
    /// Why the stream stopped early (an ERROR event, a failure, its end).
    ended: Option<String>,
}

/// A watch on CRDs that records when each became Established.
pub struct EstablishedWatch {
    /// A std lock: held only to read or insert, never across an await.
    seen: Arc<Mutex<Seen>>,
    /// Bumped after each frame the reader handled.
    changed: watch::Receiver<u64>,
    reader: JoinHandle<()>,
}

impl Drop for EstablishedWatch {
    fn drop(&mut self) {
        // Dropping the reader drops the body, which resets the stream.
        self.reader.abort();
    }
}

impl EstablishedWatch {
    /// Watches the CRDs matching `selector` (a query such as
    /// `fieldSelector=metadata.name%3Dx`), for at most `timeout_seconds`.
    pub async fn open(
        client: &ApiClient,
        selector: &str,
        timeout_seconds: u64,
    ) -> Result<Self, BenchError> {
        let path = format!("{CRD_COLLECTION}?watch=1&{selector}&timeoutSeconds={timeout_seconds}");
        let response = client.open(Method::GET, &path, None).await?;
        if response.status() != StatusCode::OK {
            return Err(BenchError::Protocol(format!(
                "watching CRDs ({selector}) answered {}",
                response.status()
            )));
        }
        let seen = Arc::new(Mutex::new(Seen::default()));
        let (bump, changed) = watch::channel(0);
        let reader = tokio::spawn(read(response.into_body(), seen.clone(), bump));
        Ok(Self {
            seen,
            changed,
            reader,
        })
    }

    /// When `name` was first seen Established, if it was.
    pub fn established_at(&self, name: &str) -> Option<Instant> {
        self.seen
            .lock()
            .ok()
            .and_then(|seen| seen.established_at.get(name).copied())
    }

    /// Waits until every name in `names` was seen Established, the stream
    /// stops, or `deadline` passes; the error says how far it got.
    pub async fn wait_for(&self, names: &[String], deadline: Instant) -> Result<(), String> {
        let mut changed = self.changed.clone();
        loop {
            changed.borrow_and_update();
            let (done, ended) = {
                let seen = self.seen.lock().map_err(|_| "poisoned lock".to_string())?;
                let done = names
                    .iter()
                    .filter(|name| seen.established_at.contains_key(*name))
                    .count();
                (done, seen.ended.clone())
            };
            if done == names.len() {
                return Ok(());
            }
            let progress = format!("{done} of {} established", names.len());
            if let Some(reason) = ended {
                return Err(format!("{reason} ({progress})"));
            }
            match tokio::time::timeout_at(deadline.into(), changed.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) => return Err(format!("the watch reader stopped ({progress})")),
                Err(_) => return Err(format!("timed out ({progress})")),
            }
        }
    }
}

/// Reads the stream line by line until it ends, recording what it sees.
async fn read(mut body: Incoming, seen: Arc<Mutex<Seen>>, bump: watch::Sender<u64>) {
    let mut pending: Vec<u8> = Vec::new();
    let ended = loop {
        let data = match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(_) => continue,
            },
            Some(Err(error)) => break format!("the CRD watch failed: {error}"),
            None => break "the server ended the CRD watch".to_string(),
        };
        let arrived = Instant::now();
        pending.extend_from_slice(&data);
        let mut consumed = 0;
        let mut stop = None;
        if let Ok(mut seen) = seen.lock() {
            for end in memchr::memchr_iter(b'\n', &pending) {
                let line = &pending[consumed..end];
                consumed = end + 1;
                match classify(line) {
                    Event::Established(name) => {
                        seen.established_at.entry(name).or_insert(arrived);
                    }
                    Event::Error(text) => stop = Some(text),
                    Event::Other => {}
                }
            }
        }
        pending.drain(..consumed);
        bump.send_modify(|count| *count += 1);
        if let Some(reason) = stop {
            break reason;
        }
    };
    if let Ok(mut seen) = seen.lock() {
        seen.ended = Some(ended);
    }
    bump.send_modify(|count| *count += 1);
}

/// What one watch event line means here.
#[derive(Debug, PartialEq, Eq)]
enum Event {
    /// An ADDED or MODIFIED CRD whose Established condition is True.
    Established(String),
    /// An ERROR event (its status message), or a line that is not JSON.
    Error(String),
    /// Anything else: not yet Established, deleted, a bookmark.
    Other,
}

fn classify(line: &[u8]) -> Event {
    let event: Value = match serde_json::from_slice(line) {
        Ok(event) => event,
        Err(error) => return Event::Error(format!("unreadable watch event: {error}")),
    };
    let object = &event["object"];
    match event["type"].as_str() {
        Some("ADDED" | "MODIFIED") if is_established(object) => {
            match object.pointer("/metadata/name").and_then(Value::as_str) {
                Some(name) => Event::Established(name.to_string()),
                None => Event::Other,
            }
        }
        Some("ERROR") => Event::Error(format!(
            "ERROR event on the CRD watch: {}",
            object["message"].as_str().unwrap_or("(no message)")
        )),
        _ => Event::Other,
    }
}

fn is_established(crd: &Value) -> bool {
    crd.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c["type"] == "Established" && c["status"] == "True")
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn established_condition_is_recognised() {
        let line = br#"{"type":"MODIFIED","object":{"metadata":{"name":"a.b.c"},"status":{"conditions":[{"type":"NamesAccepted","status":"True"},{"type":"Established","status":"True"}]}}}"#;
        assert_eq!(classify(line), Event::Established("a.b.c".into()));
    }

    #[test]
    fn not_yet_established_or_deleted_is_other() {
        let pending = br#"{"type":"ADDED","object":{"metadata":{"name":"a"},"status":{"conditions":[{"type":"Established","status":"False"}]}}}"#;
        assert_eq!(classify(pending), Event::Other);
        let fresh = br#"{"type":"ADDED","object":{"metadata":{"name":"a"}}}"#;
        assert_eq!(classify(fresh), Event::Other);
        let deleted = br#"{"type":"DELETED","object":{"metadata":{"name":"a"},"status":{"conditions":[{"type":"Established","status":"True"}]}}}"#;
        assert_eq!(classify(deleted), Event::Other);
    }

    #[test]
    fn error_events_and_garbage_stop_the_watch() {
        let gone = br#"{"type":"ERROR","object":{"kind":"Status","code":410,"message":"too old"}}"#;
        assert!(matches!(classify(gone), Event::Error(text) if text.contains("too old")));
        assert!(matches!(classify(b"{not json"), Event::Error(_)));
    }
}
