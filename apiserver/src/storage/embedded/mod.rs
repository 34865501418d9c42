//! The embedded backend: one redb file, one writer thread, group commit.
//!
//! A single thread owns every write. Callers send their write on a bounded
//! channel (when it is full they wait: backpressure reaches the HTTP layer
//! as latency, never as lost writes). The writer drains whatever is queued,
//! applies the whole batch in one redb write transaction, commits once (the
//! fsync), and only then answers each caller and publishes the changes to
//! watchers in revision order. Reads use redb read transactions and never
//! wait for the writer.
//!
//! Tables:
//! - `kv`: key -> (create revision, mod revision, expiry, value)
//! - `changes`: revision -> the change with the previous value, kept until
//!   compaction; it feeds watch replay and reads at an older revision
//!   (the current state with newer changes undone).
//! - `meta`: the current and the compacted revision.
//! - `expiring`: key -> expiry time, for the keys created with a TTL.
//!
//! `writer.rs` holds the writer thread, `record.rs` the byte layout of the
//! stored entries and change records.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use bytes::Bytes;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{broadcast, mpsc, oneshot};

mod record;
mod writer;

use record::{decode_change, decode_entry};
use writer::Writer;

use super::{Change, KeyValue, ListPage, Revision, Store, StoreError, WatchStream};

const KV: TableDefinition<&str, &[u8]> = TableDefinition::new("kv");
const CHANGES: TableDefinition<i64, &[u8]> = TableDefinition::new("changes");
const META: TableDefinition<&str, i64> = TableDefinition::new("meta");
/// Keys with a TTL, so expiry scans do not read the whole keyspace.
const EXPIRING: TableDefinition<&str, i64> = TableDefinition::new("expiring");

/// How many queued writes may wait for the writer before callers wait too.
const WRITE_QUEUE: usize = 4096;
/// The most writes applied in one transaction; bounds commit latency.
const MAX_BATCH: usize = 1024;
/// redb's own page cache. Reads that miss it go to the OS page cache, so a
/// small one costs little speed and keeps the server's resident memory
/// close to what it holds (the watch cache already keeps every object).
const PAGE_CACHE_BYTES: usize = 8 * 1024 * 1024;
/// Committed batches buffered for watchers; a watcher further behind is cut
/// off with an error (the watch cache then re-lists), never stalls the writer.
const WATCH_BUFFER: usize = 1024;

enum Op {
    Create {
        key: String,
        value: Bytes,
        expires_ms: i64,
    },
    Update {
        key: String,
        value: Bytes,
        expected: Revision,
    },
    Delete {
        key: String,
        expected: Revision,
    },
    ExpireDue,
    Compact {
        revision: Revision,
    },
}

enum Done {
    Written(Revision, Option<KeyValue>),
    /// History up to this revision is gone once the batch commits.
    Compacted(Revision),
    Nothing,
}

struct Request {
    op: Op,
    reply: oneshot::Sender<Result<Done, StoreError>>,
}

/// The embedded store; cheap to clone.
#[derive(Clone)]
pub struct EmbeddedStore {
    inner: Arc<Inner>,
}

struct Inner {
    db: Arc<Database>,
    writes: mpsc::Sender<Request>,
    committed: broadcast::Sender<Arc<Vec<Change>>>,
    revision: Arc<AtomicI64>,
    compacted: Arc<AtomicI64>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    /// Closes the write queue and waits for the writer to finish what was
    /// queued and let go of the database file. Without the wait, opening the
    /// same directory right after dropping the store failed with redb's
    /// "Database already open" while the writer thread was still winding down.
    /// The wait is short: the writer never waits on the async runtime.
    fn drop(&mut self) {
        let (closed, _) = mpsc::channel(1);
        drop(std::mem::replace(&mut self.writes, closed));
        if let Some(writer) = self.writer.take() {
            if writer.join().is_err() {
                tracing::error!("store writer thread panicked");
            }
        }
    }
}

fn internal(e: impl std::fmt::Display) -> StoreError {
    StoreError::Internal(e.to_string())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

impl EmbeddedStore {
    /// Opens (or creates) the store in `dir/store.redb` and starts its writer
    /// thread and expiry timer.
    pub fn open(dir: &Path) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(internal)?;
        let db = Arc::new(
            redb::Builder::new()
                .set_cache_size(PAGE_CACHE_BYTES)
                .create(dir.join("store.redb"))
                .map_err(internal)?,
        );
        let (revision, compacted) = {
            let txn = db.begin_write().map_err(internal)?;
            let (rev, comp) = {
                let meta = txn.open_table(META).map_err(internal)?;
                txn.open_table(KV).map_err(internal)?;
                txn.open_table(CHANGES).map_err(internal)?;
                txn.open_table(EXPIRING).map_err(internal)?;
                let rev = meta.get("revision").map_err(internal)?.map(|v| v.value());
                let comp = meta.get("compacted").map_err(internal)?.map(|v| v.value());
                (rev.unwrap_or(1), comp.unwrap_or(0))
            };
            txn.commit().map_err(internal)?;
            (rev, comp)
        };
        let (writes, queue) = mpsc::channel(WRITE_QUEUE);
        let (committed, _) = broadcast::channel(WATCH_BUFFER);
        let revision = Arc::new(AtomicI64::new(revision));
        let compacted = Arc::new(AtomicI64::new(compacted));
        let writer = Writer {
            db: db.clone(),
            revision: revision.clone(),
            compacted: compacted.clone(),
            committed: committed.clone(),
        };
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer.run(queue))
            .map_err(internal)?;
        let store = EmbeddedStore {
            inner: Arc::new(Inner {
                db,
                writes,
                committed,
                revision,
                compacted,
                writer: Some(writer),
            }),
        };
        store.spawn_expiry_timer();
        Ok(store)
    }

    /// Deletes expired TTL keys once a second. The task ends when the store
    /// is dropped. It holds the queue only for a `try_send`, never across an
    /// await, so it cannot keep the writer alive while the store shuts down;
    /// when the queue is full the writer is busy and expiry waits a tick.
    fn spawn_expiry_timer(&self) {
        let writes = self.inner.writes.downgrade();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let Some(writes) = writes.upgrade() else {
                        return;
                    };
                    let (reply, _) = oneshot::channel();
                    let request = Request {
                        op: Op::ExpireDue,
                        reply,
                    };
                    if let Err(mpsc::error::TrySendError::Closed(_)) = writes.try_send(request) {
                        return;
                    }
                }
            });
        }
    }

    async fn submit(&self, op: Op) -> Result<Done, StoreError> {
        let (reply, answer) = oneshot::channel();
        self.inner
            .writes
            .send(Request { op, reply })
            .await
            .map_err(|_| StoreError::Unavailable("store writer stopped".into()))?;
        answer
            .await
            .map_err(|_| StoreError::Unavailable("store writer stopped".into()))?
    }

    fn read<T>(
        &self,
        f: impl FnOnce(&redb::ReadTransaction) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.inner.db.begin_read().map_err(internal)?;
        f(&txn)
    }
}

#[async_trait]
impl Store for EmbeddedStore {
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.inner.revision.load(Ordering::Acquire))
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.read(|txn| {
            let kv = txn.open_table(KV).map_err(internal)?;
            let found = kv.get(key).map_err(internal)?;
            Ok(found.map(|v| decode_entry(key, v.value()).0))
        })
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: Revision,
    ) -> Result<ListPage, StoreError> {
        self.read(|txn| {
            let current = read_meta(txn, "revision", 1)?;
            let compacted = read_meta(txn, "compacted", 0)?;
            let at = if revision == 0 { current } else { revision };
            if at > current {
                return Err(StoreError::FutureRevision {
                    requested: at,
                    current,
                });
            }
            if at < compacted {
                return Err(StoreError::Compacted {
                    requested: at,
                    compacted,
                });
            }
            let kv = txn.open_table(KV).map_err(internal)?;
            let start = match start_after {
                Some(after) if after >= prefix => format!("{after}\0"),
                _ => prefix.to_string(),
            };
            // Keys newer than `at` are undone from the change log; until then
            // collect the current state of the range.
            let mut state: BTreeMap<String, KeyValue> = BTreeMap::new();
            let page_target = if limit == 0 { usize::MAX } else { limit };
            let mut remaining_current = 0u64;
            for entry in kv.range(start.as_str()..).map_err(internal)? {
                let (k, v) = entry.map_err(internal)?;
                let key = k.value();
                if !key.starts_with(prefix) {
                    break;
                }
                if at == current && state.len() >= page_target {
                    remaining_current += 1;
                    continue;
                }
                state.insert(key.to_string(), decode_entry(key, v.value()).0);
            }
            if at < current {
                undo_changes_after(txn, at, prefix, &start, &mut state)?;
            }
            let mut items: Vec<KeyValue> = state.into_values().collect();
            let remaining = if at == current {
                remaining_current
            } else {
                let extra = items.len().saturating_sub(page_target);
                items.truncate(page_target);
                extra as u64
            };
            Ok(ListPage {
                items,
                revision: at,
                remaining,
            })
        })
    }

    async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<Revision, StoreError> {
        let expires_ms = ttl
            .map(|t| now_ms().saturating_add(i64::try_from(t.as_millis()).unwrap_or(i64::MAX)))
            .unwrap_or(0);
        match self
            .submit(Op::Create {
                key: key.to_string(),
                value,
                expires_ms,
            })
            .await?
        {
            Done::Written(rev, _) => Ok(rev),
            _ => Err(internal("create wrote nothing")),
        }
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<Revision, StoreError> {
        match self
            .submit(Op::Update {
                key: key.to_string(),
                value,
                expected,
            })
            .await?
        {
            Done::Written(rev, _) => Ok(rev),
            _ => Err(internal("update wrote nothing")),
        }
    }

    async fn delete(
        &self,
        key: &str,
        expected: Revision,
    ) -> Result<(Revision, KeyValue), StoreError> {
        match self
            .submit(Op::Delete {
                key: key.to_string(),
                expected,
            })
            .await?
        {
            Done::Written(rev, Some(prev)) => Ok((rev, prev)),
            _ => Err(internal("delete wrote nothing")),
        }
    }

    async fn watch(&self, prefix: &str, revision: Revision) -> Result<WatchStream, StoreError> {
        // Subscribe before reading history so nothing committed in between
        // is missed; duplicates are skipped by revision.
        let mut live = self.inner.committed.subscribe();
        let history = self.read(|txn| {
            // Checked in the same snapshot as the history is read from: a
            // compaction committed in between would otherwise remove changes
            // the watch then silently skips.
            let compacted = read_meta(txn, "compacted", 0)?;
            if revision < compacted {
                return Err(StoreError::Compacted {
                    requested: revision,
                    compacted,
                });
            }
            let changes = txn.open_table(CHANGES).map_err(internal)?;
            let mut out = Vec::new();
            for entry in changes.range(revision + 1..).map_err(internal)? {
                let (_, v) = entry.map_err(internal)?;
                let change = decode_change(v.value());
                if change.key().starts_with(prefix) {
                    out.push(change);
                }
            }
            Ok(out)
        })?;
        let (tx, rx) = mpsc::channel(1024);
        let prefix = prefix.to_string();
        tokio::spawn(async move {
            let mut last = revision;
            for change in history {
                last = change.revision();
                if tx.send(Ok(change)).await.is_err() {
                    return;
                }
            }
            loop {
                let batch = match live.recv().await {
                    Ok(batch) => batch,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        let _ = tx
                            .send(Err(StoreError::Unavailable(
                                "watcher fell too far behind".into(),
                            )))
                            .await;
                        return;
                    }
                    Err(broadcast::error::RecvError::Closed) => {
                        let _ = tx
                            .send(Err(StoreError::Unavailable("store closed".into())))
                            .await;
                        return;
                    }
                };
                for change in batch.iter() {
                    if change.revision() <= last || !change.key().starts_with(&prefix) {
                        continue;
                    }
                    last = change.revision();
                    if tx.send(Ok(change.clone())).await.is_err() {
                        return;
                    }
                }
                let batch_end = batch.last().map(Change::revision).unwrap_or(last);
                if batch_end > last {
                    // Advisory: tells the watcher it is current; dropped when
                    // its queue is full.
                    last = batch_end;
                    let _ = tx.try_send(Ok(Change::Progress {
                        revision: batch_end,
                    }));
                }
            }
        });
        Ok(rx)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        self.submit(Op::Compact { revision }).await.map(|_| ())
    }

    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.inner.compacted.load(Ordering::Acquire))
    }
}

/// A `meta` value as of the transaction's snapshot.
fn read_meta(txn: &redb::ReadTransaction, name: &str, default: i64) -> Result<i64, StoreError> {
    let meta = txn.open_table(META).map_err(internal)?;
    let value = meta.get(name).map_err(internal)?;
    Ok(value.map(|v| v.value()).unwrap_or(default))
}

/// Restores the state at `at` for keys in `[start, prefix..)` by undoing,
/// newest first, every logged change after `at`.
fn undo_changes_after(
    txn: &redb::ReadTransaction,
    at: Revision,
    prefix: &str,
    start: &str,
    state: &mut BTreeMap<String, KeyValue>,
) -> Result<(), StoreError> {
    let changes = txn.open_table(CHANGES).map_err(internal)?;
    for entry in changes.range(at + 1..).map_err(internal)?.rev() {
        let (_, v) = entry.map_err(internal)?;
        let change = decode_change(v.value());
        let key = change.key();
        if !key.starts_with(prefix) || key < start {
            continue;
        }
        match change {
            Change::Put { kv, prev } => match prev {
                Some(prev) => {
                    state.insert(prev.key.clone(), prev);
                }
                None => {
                    state.remove(&kv.key);
                }
            },
            Change::Delete { prev, .. } => {
                state.insert(prev.key.clone(), prev);
            }
            Change::Progress { .. } => {}
        }
    }
    Ok(())
}
