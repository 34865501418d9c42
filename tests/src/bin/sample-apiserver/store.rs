//! The Flunders, kept in memory, and the changes watches follow.
//!
//! Invariants: every write takes the next revision of one counter, which
//! becomes the object's `metadata.resourceVersion`; a change is recorded in
//! the history and sent to live watchers under the same lock as the write,
//! so a watch that starts from a snapshot or a revision misses nothing and
//! sees nothing twice.
//!
//! The lock is a std `Mutex`: it is never held across an `.await`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::status::ApiError;

/// How many changes are kept for watches that start from a revision; an
/// older start is refused with 410 Expired, as upstream's watch cache does.
const HISTORY: usize = 1000;

/// How many changes a live watcher may fall behind. One that falls further
/// has its stream ended (the client re-lists), as upstream drops a watcher
/// it cannot feed.
const WATCH_BUFFER: usize = 256;

/// Where a Flunder lives: namespace and name.
pub type Key = (String, String);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    Added,
    Modified,
    Deleted,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Added => "ADDED",
            ChangeKind::Modified => "MODIFIED",
            ChangeKind::Deleted => "DELETED",
        }
    }
}

/// One write. A deletion carries the object as it was, at the revision of
/// the deletion.
#[derive(Debug, Clone)]
pub struct Change {
    pub kind: ChangeKind,
    pub revision: u64,
    pub object: Value,
    /// The object before a modification, so a filtered watch can tell an
    /// object entering or leaving its selection.
    pub previous: Option<Value>,
}

struct State {
    objects: BTreeMap<Key, Value>,
    revision: u64,
    history: VecDeque<Change>,
}

pub struct Store {
    state: Mutex<State>,
    changes: broadcast::Sender<Change>,
}

/// Where a new watch starts.
pub enum WatchStart {
    /// Every current object as ADDED, then what follows.
    Snapshot(Vec<Value>),
    /// The kept changes after the requested revision, then what follows.
    Replay(Vec<Change>),
}

impl Store {
    pub fn new() -> Store {
        Store {
            state: Mutex::new(State {
                objects: BTreeMap::new(),
                revision: 0,
                history: VecDeque::new(),
            }),
            changes: broadcast::channel(WATCH_BUFFER).0,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock leaves plain data behind; go on.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn get(&self, key: &Key) -> Option<Value> {
        self.lock().objects.get(key).cloned()
    }

    /// The objects in `namespace` (all when `None`), by namespace and name,
    /// and the revision the list is at.
    pub fn list(&self, namespace: Option<&str>) -> (Vec<Value>, u64) {
        let state = self.lock();
        let objects = state
            .objects
            .iter()
            .filter(|((ns, _), _)| namespace.is_none_or(|wanted| wanted == ns))
            .map(|(_, object)| object.clone())
            .collect();
        (objects, state.revision)
    }

    /// Stores a new object; `AlreadyExists` when the key is taken.
    pub fn create(&self, key: Key, mut object: Value) -> Result<Value, ApiError> {
        let mut state = self.lock();
        if state.objects.contains_key(&key) {
            return Err(ApiError::AlreadyExists { name: key.1 });
        }
        let revision = state.revision + 1;
        object["metadata"]["resourceVersion"] = json!(revision.to_string());
        state.objects.insert(key, object.clone());
        self.record(&mut state, ChangeKind::Added, object.clone(), None);
        Ok(object)
    }

    /// Replaces an object with what `change` makes of the current one.
    /// When the result names a resourceVersion, it must be the current one.
    pub fn update(
        &self,
        key: &Key,
        change: impl FnOnce(&Value) -> Result<Value, ApiError>,
    ) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let current = state
            .objects
            .get(key)
            .cloned()
            .ok_or_else(|| ApiError::NotFound {
                name: key.1.clone(),
            })?;
        let mut object = change(&current)?;
        let asked = object["metadata"]["resourceVersion"].as_str().unwrap_or("");
        if !asked.is_empty() && asked != current["metadata"]["resourceVersion"] {
            return Err(ApiError::Conflict {
                name: key.1.clone(),
            });
        }
        let revision = state.revision + 1;
        object["metadata"]["resourceVersion"] = json!(revision.to_string());
        state.objects.insert(key.clone(), object.clone());
        self.record(
            &mut state,
            ChangeKind::Modified,
            object.clone(),
            Some(current),
        );
        Ok(object)
    }

    /// Removes an object and returns it as it was.
    pub fn delete(&self, key: &Key) -> Result<Value, ApiError> {
        let mut state = self.lock();
        let mut object = state
            .objects
            .remove(key)
            .ok_or_else(|| ApiError::NotFound {
                name: key.1.clone(),
            })?;
        let revision = state.revision + 1;
        object["metadata"]["resourceVersion"] = json!(revision.to_string());
        self.record(&mut state, ChangeKind::Deleted, object.clone(), None);
        Ok(object)
    }

    fn record(&self, state: &mut State, kind: ChangeKind, object: Value, previous: Option<Value>) {
        state.revision += 1;
        let change = Change {
            kind,
            revision: state.revision,
            object,
            previous,
        };
        if state.history.len() == HISTORY {
            state.history.pop_front();
        }
        state.history.push_back(change.clone());
        // No receiver is not an error: nobody watches.
        let _ = self.changes.send(change);
    }

    /// Starts a watch: from a snapshot when `from` is `None` (or 0), else
    /// after revision `from`; the receiver yields every later change.
    pub fn watch(
        &self,
        from: Option<u64>,
    ) -> Result<(WatchStart, broadcast::Receiver<Change>), ApiError> {
        let state = self.lock();
        let receiver = self.changes.subscribe();
        let start = match from {
            None | Some(0) => WatchStart::Snapshot(state.objects.values().cloned().collect()),
            Some(revision) => {
                let oldest = state
                    .history
                    .front()
                    .map_or(state.revision, |c| c.revision - 1);
                if revision < oldest {
                    return Err(ApiError::Expired {
                        requested: revision,
                        oldest,
                    });
                }
                WatchStart::Replay(
                    state
                        .history
                        .iter()
                        .filter(|c| c.revision > revision)
                        .cloned()
                        .collect(),
                )
            }
        };
        Ok((start, receiver))
    }
}
