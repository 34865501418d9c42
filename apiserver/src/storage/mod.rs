//! The storage contract: keys, bytes and revisions, nothing about objects.
//!
//! Invariants every backend keeps (the suite in `tests/storage_conformance.rs`
//! proves them for each backend):
//! - every write (create, update, delete, expiry of a TTL key) gets a new
//!   revision, higher than every revision before it, store-wide;
//! - a write acknowledged to the caller is seen by every later read and watch,
//!   and survives a crash of the process;
//! - `watch(prefix, rev)` yields every change to keys under `prefix` with a
//!   revision greater than `rev`, in revision order, exactly once;
//! - reading or watching from a revision older than the last compaction fails
//!   with [`StoreError::Compacted`];
//! - create fails on an existing key, update and delete fail with
//!   [`StoreError::Conflict`] when the key's revision moved (compare-and-swap).

pub mod embedded;
pub mod etcd;

use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

/// A store revision. Zero means "no revision": the empty store, or "now".
pub type Revision = i64;

/// One stored key with the revisions of its creation and last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: Bytes,
    pub create_revision: Revision,
    pub mod_revision: Revision,
}

/// One change seen by a watch, at `revision`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The key was created or updated; `kv.mod_revision` is the change's revision.
    Put {
        kv: KeyValue,
        prev: Option<KeyValue>,
    },
    /// The key was deleted (or expired) at `revision`; `prev` is its last value.
    Delete { prev: KeyValue, revision: Revision },
    /// Nothing under the watched prefix changed up to `revision`. Advisory:
    /// lets a watcher know it is current without waiting for its next change.
    Progress { revision: Revision },
}

impl Change {
    pub fn revision(&self) -> Revision {
        match self {
            Change::Put { kv, .. } => kv.mod_revision,
            Change::Delete { revision, .. } | Change::Progress { revision } => *revision,
        }
    }

    /// The changed key; empty for progress notices.
    pub fn key(&self) -> &str {
        match self {
            Change::Put { kv, .. } => &kv.key,
            Change::Delete { prev, .. } => &prev.key,
            Change::Progress { .. } => "",
        }
    }
}

/// A page of a list, read at `revision`.
#[derive(Debug, Clone)]
pub struct ListPage {
    pub items: Vec<KeyValue>,
    /// The revision the page was read at: pass it back to read the next page
    /// from the same snapshot.
    pub revision: Revision,
    /// How many keys under the prefix come after this page.
    pub remaining: u64,
}

/// What a watch stream carries: changes in order, or the error that ended it.
pub type WatchStream = mpsc::Receiver<Result<Change, StoreError>>;

/// What can go wrong inside the storage layer (no HTTP here).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Create found the key already present.
    #[error("key {key} already exists")]
    AlreadyExists { key: String },
    /// The key is not present.
    #[error("key {key} not found")]
    NotFound { key: String },
    /// The key changed since the caller read it.
    #[error("{key} is at revision {actual}, not {expected}")]
    Conflict {
        key: String,
        expected: Revision,
        actual: Revision,
    },
    /// The revision asked for was compacted away; `compacted` is the oldest
    /// revision still readable (the etcd backend only knows a lower bound).
    #[error("revision {requested} has been compacted (oldest kept is {compacted})")]
    Compacted {
        requested: Revision,
        compacted: Revision,
    },
    /// The revision asked for is newer than anything the store has.
    #[error("revision {requested} is in the future (current is {current})")]
    FutureRevision {
        requested: Revision,
        current: Revision,
    },
    /// The backend is down or timed out; the caller may retry.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The backend failed in a way a retry will not fix.
    #[error("storage failure: {0}")]
    Internal(String),
}

/// A key/value store with global revisions, compare-and-swap, watch and TTL.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// The newest revision of the store.
    async fn current_revision(&self) -> Result<Revision, StoreError>;

    /// The key's current value.
    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError>;

    /// Keys under `prefix` in key order, starting after `start_after` when
    /// given, at most `limit` of them (0 means no limit), read at `revision`
    /// (0 means the current revision).
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: Revision,
    ) -> Result<ListPage, StoreError>;

    /// Creates `key`; with a `ttl` the key is deleted once it expires.
    async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<Revision, StoreError>;

    /// Replaces `key` if its revision is still `expected`.
    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<Revision, StoreError>;

    /// Deletes `key` if its revision is still `expected` (0 means any).
    /// Returns the deletion's revision and the last value.
    async fn delete(
        &self,
        key: &str,
        expected: Revision,
    ) -> Result<(Revision, KeyValue), StoreError>;

    /// Every change under `prefix` after `revision`, in order. The stream
    /// ends with an error if the watch cannot go on (compaction, shutdown,
    /// a lost backend). A `revision` older than the last compaction fails
    /// with [`StoreError::Compacted`], either here or as the stream's first
    /// item (etcd only checks it once the watch exists).
    async fn watch(&self, prefix: &str, revision: Revision) -> Result<WatchStream, StoreError>;

    /// Forgets history before `revision`: reads and watches at `revision`
    /// itself still work, older ones fail with [`StoreError::Compacted`].
    /// A `revision` at or below the last compaction changes nothing; one
    /// newer than the store fails with [`StoreError::FutureRevision`].
    async fn compact(&self, revision: Revision) -> Result<(), StoreError>;

    /// The revision of the last compaction (0 if none).
    async fn compacted_revision(&self) -> Result<Revision, StoreError>;

    /// Fails with [`StoreError::Compacted`] when `revision` can no longer be
    /// read. Backends that always know their compaction answer from it;
    /// a shared etcd (compacted by any replica) is asked.
    async fn check_revision(&self, revision: Revision) -> Result<(), StoreError> {
        let compacted = self.compacted_revision().await?;
        if revision < compacted {
            return Err(StoreError::Compacted {
                requested: revision,
                compacted,
            });
        }
        Ok(())
    }

    /// Asks open watches to send a [`Change::Progress`] soon, so a watcher
    /// can tell it has seen everything up to the store's current revision.
    /// Backends that send progress with every commit need do nothing.
    async fn request_progress(&self) {}
}
