//! One in-memory cache per storage prefix, above the storage trait, for
//! every backend: it holds the current objects and a window of recent
//! events, fed by one store watch. It serves watches (replay from a recent
//! revision, then live) and lists at resourceVersion 0, at a recent
//! revision, or consistent ones (after catching up with the store).
//!
//! Objects are kept as the JSON bytes clients get (resourceVersion set), not
//! as parsed values: a list is a concatenation, and memory stays close to
//! the stored size.
//!
//! A watcher that falls behind by more than the broadcast buffer is cut off
//! (its stream ends; the client re-watches and, if its revision has left
//! the window, gets 410 and re-lists). Writers never wait for watchers.

use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::{broadcast, watch};

use crate::object;
use crate::storage::{Change, KeyValue, Revision, Store, StoreError};

/// Events kept for watch replay, per prefix.
const HISTORY: usize = 10_000;
/// How many revisions before the store's head a new cache starts from.
const BOOTSTRAP_WINDOW: Revision = 1_000;
/// How long a consistent read waits for the cache before reading the store
/// instead. The embedded store sends progress notices with every commit, so
/// its caches catch up within a millisecond; an etcd cache hears only of
/// its own prefix and is often left to the store read.
const CATCH_UP_WAIT: Duration = Duration::from_millis(250);
/// Events buffered per watcher before it is cut off.
const WATCHER_BUFFER: usize = 10_000;

/// One object as the cache keeps it.
#[derive(Debug)]
pub struct CachedObject {
    pub key: String,
    pub namespace: String,
    pub name: String,
    pub labels: BTreeMap<String, String>,
    /// The stored form's apiVersion (a resource may read another version's form).
    pub api_version: String,
    /// The stored form with `metadata.resourceVersion` set.
    pub json: Bytes,
    pub revision: Revision,
}

impl CachedObject {
    /// Builds the cached form from a stored key/value: parses once, sets the
    /// resourceVersion, keeps the selector inputs.
    pub fn from_kv(kv: &KeyValue) -> Result<CachedObject, StoreError> {
        let mut value: Value = serde_json::from_slice(&kv.value).map_err(|e| {
            StoreError::Internal(format!("stored object {} is not JSON: {e}", kv.key))
        })?;
        object::set_meta(
            &mut value,
            "resourceVersion",
            Value::String(kv.mod_revision.to_string()),
        );
        let json = serde_json::to_vec(&value).map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(CachedObject {
            key: kv.key.clone(),
            namespace: object::namespace(&value).to_string(),
            name: object::name(&value).to_string(),
            labels: object::labels(&value),
            api_version: value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            json: Bytes::from(json),
            revision: kv.mod_revision,
        })
    }

    /// This object as of a later revision (a watcher's DELETED event for an
    /// object that left its selector shows the last state it matched).
    pub fn at_revision(&self, revision: Revision) -> Result<CachedObject, StoreError> {
        let mut value = self.value()?;
        object::set_meta(
            &mut value,
            "resourceVersion",
            Value::String(revision.to_string()),
        );
        let json = serde_json::to_vec(&value).map_err(|e| StoreError::Internal(e.to_string()))?;
        Ok(CachedObject {
            key: self.key.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            labels: self.labels.clone(),
            api_version: self.api_version.clone(),
            json: Bytes::from(json),
            revision,
        })
    }

    pub fn value(&self) -> Result<Value, StoreError> {
        serde_json::from_slice(&self.json).map_err(|e| StoreError::Internal(e.to_string()))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// One change as watchers see it. For a deletion `object` is the last state
/// with the deletion's resourceVersion, as upstream sends it.
#[derive(Debug)]
pub struct CacheEvent {
    pub kind: EventType,
    pub object: Arc<CachedObject>,
    pub prev: Option<Arc<CachedObject>>,
    pub revision: Revision,
    /// The JSON watch frame of this event in the stored version, built by
    /// the first watcher that sends it and shared by the rest: with many
    /// watchers, encoding once per event instead of once per watcher.
    pub json_frame: std::sync::OnceLock<Bytes>,
}

/// What a watcher gets from [`WatchCache::watch`].
pub struct Subscription {
    /// Replayed events after the requested revision, oldest first.
    pub replay: Vec<Arc<CacheEvent>>,
    /// Live events after the replay.
    pub live: broadcast::Receiver<Arc<CacheEvent>>,
    /// The cache revision when the subscription was taken.
    pub revision: Revision,
}

/// Why the cache cannot serve a watch or read.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    /// The revision is older than the window of kept events.
    #[error("too old resource version: {requested} ({oldest})")]
    TooOld {
        requested: Revision,
        oldest: Revision,
    },
    /// The cache did not reach the revision in time.
    #[error("Too large resource version: {requested}, current resource version: {current}")]
    NotYet {
        requested: Revision,
        current: Revision,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

struct State {
    revision: Revision,
    items: BTreeMap<String, Arc<CachedObject>>,
    history: VecDeque<Arc<CacheEvent>>,
    /// Every event after this revision is in `history`.
    oldest: Revision,
    live: broadcast::Sender<Arc<CacheEvent>>,
}

pub struct WatchCache {
    prefix: String,
    state: RwLock<State>,
    /// The cache's revision, for waiters.
    revision: watch::Sender<Revision>,
    /// Set once the cache is no longer wanted (its resource went away).
    stopped: watch::Sender<bool>,
}

impl WatchCache {
    /// Starts a cache for `prefix` (e.g. `/registry/configmaps/`); it fills
    /// itself from the store in the background and keeps following it.
    pub fn start(store: Arc<dyn Store>, prefix: String) -> Arc<WatchCache> {
        let (live, _) = broadcast::channel(WATCHER_BUFFER);
        let cache = Arc::new(WatchCache {
            prefix,
            state: RwLock::new(State {
                revision: 0,
                items: BTreeMap::new(),
                history: VecDeque::new(),
                oldest: 0,
                live,
            }),
            revision: watch::channel(0).0,
            stopped: watch::channel(false).0,
        });
        let weak = Arc::downgrade(&cache);
        let mut stopped = cache.stopped.subscribe();
        tokio::spawn(async move {
            loop {
                let Some(cache) = weak.upgrade() else { return };
                tokio::select! {
                    result = cache.follow(store.as_ref()) => {
                        if let Err(e) = result {
                            tracing::warn!(prefix = %cache.prefix, error = %e, "watch cache restarting");
                        }
                    }
                    _ = stopped.wait_for(|s| *s) => {
                        // Watchers of a stopped cache end with their stream.
                        cache.write().live = broadcast::channel(1).0;
                        return;
                    }
                }
                drop(cache);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        cache
    }

    /// Stops following the store (the resource is no longer served); the
    /// cache's store watch ends and its watchers' streams close.
    pub fn stop(&self) {
        self.stopped.send_replace(true);
    }

    /// Lists the prefix a little in the past, then applies the store's
    /// watch from there until it fails. Starting behind the store's head
    /// fills the event window at once, so a client that read a revision
    /// from the store just before this cache started can still watch from it.
    async fn follow(&self, store: &dyn Store) -> Result<(), StoreError> {
        let current = store.current_revision().await?;
        let compacted = store.compacted_revision().await?;
        let start = (current - BOOTSTRAP_WINDOW).max(compacted + 1);
        let start = if start >= current || start <= 1 {
            0
        } else {
            start
        };
        let page = store.list(&self.prefix, None, 0, start).await?;
        let mut items = BTreeMap::new();
        for kv in &page.items {
            items.insert(kv.key.clone(), Arc::new(CachedObject::from_kv(kv)?));
        }
        let mut stream = store.watch(&self.prefix, page.revision).await?;
        {
            let mut state = self.write();
            state.items = items;
            state.history.clear();
            state.revision = page.revision;
            state.oldest = page.revision;
            // Watchers of the previous generation end; they resume or re-list.
            state.live = broadcast::channel(WATCHER_BUFFER).0;
        }
        self.revision.send_replace(page.revision);
        while let Some(change) = stream.recv().await {
            self.apply(change?)?;
        }
        Err(StoreError::Unavailable("store watch ended".into()))
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State> {
        self.state.write().unwrap_or_else(|p| p.into_inner())
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        self.state.read().unwrap_or_else(|p| p.into_inner())
    }

    fn apply(&self, change: Change) -> Result<(), StoreError> {
        let revision = change.revision();
        let event = match &change {
            Change::Progress { .. } => None,
            Change::Put { kv, .. } => Some(Arc::new(CachedObject::from_kv(kv)?)),
            Change::Delete { prev, revision } => {
                let mut last = prev.clone();
                last.mod_revision = *revision;
                Some(Arc::new(CachedObject::from_kv(&last)?))
            }
        };
        let mut state = self.write();
        if revision <= state.revision {
            return Ok(());
        }
        state.revision = revision;
        if let Some(object) = event {
            let prev = match change {
                Change::Delete { .. } => state.items.remove(&object.key),
                _ => state.items.insert(object.key.clone(), object.clone()),
            };
            let kind = match (&change, &prev) {
                (Change::Delete { .. }, _) => EventType::Deleted,
                (_, Some(_)) => EventType::Modified,
                (_, None) => EventType::Added,
            };
            let event = Arc::new(CacheEvent {
                kind,
                object,
                prev,
                revision,
                json_frame: std::sync::OnceLock::new(),
            });
            if state.history.len() >= HISTORY {
                if let Some(dropped) = state.history.pop_front() {
                    state.oldest = dropped.revision;
                }
            }
            state.history.push_back(event.clone());
            let _ = state.live.send(event);
        }
        drop(state);
        self.revision.send_replace(revision);
        Ok(())
    }

    /// Waits until the cache has seen `revision` (at most `timeout`).
    pub async fn wait_for(&self, revision: Revision, timeout: Duration) -> Result<(), CacheError> {
        let mut rx = self.revision.subscribe();
        let reached = tokio::time::timeout(timeout, rx.wait_for(|r| *r >= revision)).await;
        match reached {
            Ok(Ok(_)) => Ok(()),
            _ => Err(CacheError::NotYet {
                requested: revision,
                current: *self.revision.borrow(),
            }),
        }
    }

    /// Waits until the cache has seen everything the store has committed.
    pub async fn catch_up(&self, store: &dyn Store) -> Result<(), CacheError> {
        let current = store.current_revision().await?;
        if self.revision() >= current {
            return Ok(());
        }
        store.request_progress().await;
        self.wait_for(current, CATCH_UP_WAIT).await
    }

    pub fn revision(&self) -> Revision {
        self.read().revision
    }

    /// One object by key, as the cache last saw it.
    pub fn get(&self, key: &str) -> Option<Arc<CachedObject>> {
        self.read().items.get(key).cloned()
    }

    /// The objects under `prefix` (a sub-prefix of the cache's own, e.g. one
    /// namespace), in key order, with the revision they were read at.
    pub fn snapshot(&self, prefix: &str) -> (Revision, Vec<Arc<CachedObject>>) {
        let state = self.read();
        let items = state
            .items
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        (state.revision, items)
    }

    /// The objects under `prefix` as they were at `revision`, rebuilt by
    /// undoing the kept events after it; `None` when the window of kept
    /// events does not reach back that far (or the cache is not there yet).
    pub fn snapshot_at(&self, prefix: &str, revision: Revision) -> Option<Vec<Arc<CachedObject>>> {
        let state = self.read();
        if revision < state.oldest || revision > state.revision {
            return None;
        }
        let mut items: BTreeMap<&str, Arc<CachedObject>> = state
            .items
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, v)| (k.as_str(), v.clone()))
            .collect();
        for event in state
            .history
            .iter()
            .rev()
            .take_while(|e| e.revision > revision)
        {
            let key = event.object.key.as_str();
            if !key.starts_with(prefix) {
                continue;
            }
            match (&event.kind, &event.prev) {
                (EventType::Added, _) => {
                    items.remove(key);
                }
                (_, Some(prev)) => {
                    items.insert(key, prev.clone());
                }
                (_, None) => {
                    items.remove(key);
                }
            }
        }
        Some(items.into_values().collect())
    }

    /// Events after `revision`, then live ones.
    pub fn watch(&self, revision: Revision) -> Result<Subscription, CacheError> {
        let state = self.read();
        if revision < state.oldest {
            return Err(CacheError::TooOld {
                requested: revision,
                oldest: state.oldest,
            });
        }
        let replay = state
            .history
            .iter()
            .filter(|e| e.revision > revision)
            .cloned()
            .collect();
        Ok(Subscription {
            replay,
            live: state.live.subscribe(),
            revision: state.revision,
        })
    }

    /// The current objects and a live subscription taken at the same
    /// revision (for watches that start with the current state).
    pub fn snapshot_and_watch(&self, prefix: &str) -> (Vec<Arc<CachedObject>>, Subscription) {
        let state = self.read();
        let items = state
            .items
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, v)| v.clone())
            .collect();
        let sub = Subscription {
            replay: Vec::new(),
            live: state.live.subscribe(),
            revision: state.revision,
        };
        (items, sub)
    }
}
