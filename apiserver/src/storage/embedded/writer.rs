//! The writer thread: applies queued writes in batches, one redb
//! transaction (one fsync) per batch, then answers and publishes them.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use redb::{Database, ReadableTable};
use tokio::sync::{broadcast, mpsc};

use super::record::{decode_entry, encode_change, encode_entry};
use super::{internal, now_ms, Done, Op, Request, CHANGES, EXPIRING, KV, MAX_BATCH, META};
use crate::storage::{Change, KeyValue, Revision, StoreError};

/// Owns the database's write side; runs on its own thread.
pub(super) struct Writer {
    pub(super) db: Arc<Database>,
    pub(super) revision: Arc<AtomicI64>,
    pub(super) compacted: Arc<AtomicI64>,
    pub(super) committed: broadcast::Sender<Arc<Vec<Change>>>,
}

impl Writer {
    pub(super) fn run(self, mut queue: mpsc::Receiver<Request>) {
        while let Some(first) = queue.blocking_recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match queue.try_recv() {
                    Ok(next) => batch.push(next),
                    Err(_) => break,
                }
            }
            self.commit_batch(batch);
        }
    }

    fn commit_batch(&self, batch: Vec<Request>) {
        let start_rev = self.revision.load(Ordering::Acquire);
        let mut outcomes = Vec::with_capacity(batch.len());
        let mut changes = Vec::new();
        let result = (|| -> Result<Revision, StoreError> {
            let txn = self.db.begin_write().map_err(internal)?;
            let mut rev = start_rev;
            {
                let mut kv = txn.open_table(KV).map_err(internal)?;
                let mut log = txn.open_table(CHANGES).map_err(internal)?;
                let mut meta = txn.open_table(META).map_err(internal)?;
                let mut expiring = txn.open_table(EXPIRING).map_err(internal)?;
                let mut tables = Tables {
                    kv: &mut kv,
                    log: &mut log,
                    meta: &mut meta,
                    expiring: &mut expiring,
                };
                for request in &batch {
                    let outcome = tables.apply(&request.op, &mut rev, &mut changes);
                    // A failing table operation may have left the write half
                    // applied (the value without its change record); abort
                    // the whole transaction rather than commit that.
                    if let Err(StoreError::Internal(e)) = &outcome {
                        return Err(internal(e));
                    }
                    outcomes.push(outcome);
                }
                tables.meta.insert("revision", rev).map_err(internal)?;
            }
            txn.commit().map_err(internal)?;
            Ok(rev)
        })();
        match result {
            Ok(rev) => {
                self.revision.store(rev, Ordering::Release);
                // Published only now: a failed commit compacted nothing.
                for outcome in &outcomes {
                    if let Ok(Done::Compacted(target)) = outcome {
                        self.compacted.fetch_max(*target, Ordering::AcqRel);
                    }
                }
                if !changes.is_empty() {
                    let _ = self.committed.send(Arc::new(changes));
                }
                for (request, outcome) in batch.into_iter().zip(outcomes) {
                    let _ = request.reply.send(outcome);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed");
                for request in batch {
                    let _ = request.reply.send(Err(internal(&e)));
                }
            }
        }
    }
}

struct Tables<'a, 't> {
    kv: &'a mut redb::Table<'t, &'static str, &'static [u8]>,
    log: &'a mut redb::Table<'t, i64, &'static [u8]>,
    meta: &'a mut redb::Table<'t, &'static str, i64>,
    expiring: &'a mut redb::Table<'t, &'static str, i64>,
}

impl Tables<'_, '_> {
    fn current(&self, key: &str) -> Result<Option<(KeyValue, i64)>, StoreError> {
        Ok(self
            .kv
            .get(key)
            .map_err(internal)?
            .map(|v| decode_entry(key, v.value())))
    }

    fn apply(
        &mut self,
        op: &Op,
        rev: &mut Revision,
        changes: &mut Vec<Change>,
    ) -> Result<Done, StoreError> {
        match op {
            Op::Create {
                key,
                value,
                expires_ms,
            } => {
                if self.current(key)?.is_some() {
                    return Err(StoreError::AlreadyExists { key: key.clone() });
                }
                *rev += 1;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: *rev,
                    mod_revision: *rev,
                };
                self.put(kv, None, *expires_ms, changes)?;
                Ok(Done::Written(*rev, None))
            }
            Op::Update {
                key,
                value,
                expected,
            } => {
                let Some((prev, expires_ms)) = self.current(key)? else {
                    return Err(StoreError::NotFound { key: key.clone() });
                };
                if prev.mod_revision != *expected {
                    return Err(StoreError::Conflict {
                        key: key.clone(),
                        expected: *expected,
                        actual: prev.mod_revision,
                    });
                }
                *rev += 1;
                let kv = KeyValue {
                    key: key.clone(),
                    value: value.clone(),
                    create_revision: prev.create_revision,
                    mod_revision: *rev,
                };
                self.put(kv, Some(prev), expires_ms, changes)?;
                Ok(Done::Written(*rev, None))
            }
            Op::Delete { key, expected } => {
                let Some((prev, _)) = self.current(key)? else {
                    return Err(StoreError::NotFound { key: key.clone() });
                };
                if *expected != 0 && prev.mod_revision != *expected {
                    return Err(StoreError::Conflict {
                        key: key.clone(),
                        expected: *expected,
                        actual: prev.mod_revision,
                    });
                }
                *rev += 1;
                self.remove(prev.clone(), *rev, changes)?;
                Ok(Done::Written(*rev, Some(prev)))
            }
            Op::ExpireDue => {
                let now = now_ms();
                let mut due = Vec::new();
                for entry in self.expiring.iter().map_err(internal)? {
                    let (k, v) = entry.map_err(internal)?;
                    if v.value() <= now {
                        due.push(k.value().to_string());
                    }
                }
                for key in due {
                    if let Some((prev, _)) = self.current(&key)? {
                        *rev += 1;
                        self.remove(prev, *rev, changes)?;
                    }
                }
                Ok(Done::Nothing)
            }
            Op::Compact { revision } => self.compact(*revision, *rev),
        }
    }

    /// Forgets the history at and before `target`. As etcd does, a revision
    /// newer than the store is refused; unlike etcd, compacting at or below
    /// the last compaction is a quiet no-op (periodic compactors of several
    /// replicas may race), and it never moves the compaction back, which the
    /// old code did on disk, reopening with history it no longer had.
    fn compact(&mut self, target: Revision, current: Revision) -> Result<Done, StoreError> {
        if target > current {
            return Err(StoreError::FutureRevision {
                requested: target,
                current,
            });
        }
        let compacted = self
            .meta
            .get("compacted")
            .map_err(internal)?
            .map(|v| v.value())
            .unwrap_or(0);
        if target <= compacted {
            return Ok(Done::Nothing);
        }
        self.log
            .retain_in(..=target, |_, _| false)
            .map_err(internal)?;
        self.meta.insert("compacted", target).map_err(internal)?;
        Ok(Done::Compacted(target))
    }

    fn put(
        &mut self,
        kv: KeyValue,
        prev: Option<KeyValue>,
        expires_ms: i64,
        changes: &mut Vec<Change>,
    ) -> Result<(), StoreError> {
        self.kv
            .insert(kv.key.as_str(), encode_entry(&kv, expires_ms).as_slice())
            .map_err(internal)?;
        if expires_ms > 0 {
            self.expiring
                .insert(kv.key.as_str(), expires_ms)
                .map_err(internal)?;
        }
        let change = Change::Put { kv, prev };
        self.log
            .insert(change.revision(), encode_change(&change).as_slice())
            .map_err(internal)?;
        changes.push(change);
        Ok(())
    }

    fn remove(
        &mut self,
        prev: KeyValue,
        rev: Revision,
        changes: &mut Vec<Change>,
    ) -> Result<(), StoreError> {
        self.kv.remove(prev.key.as_str()).map_err(internal)?;
        self.expiring.remove(prev.key.as_str()).map_err(internal)?;
        let change = Change::Delete {
            prev,
            revision: rev,
        };
        self.log
            .insert(rev, encode_change(&change).as_slice())
            .map_err(internal)?;
        changes.push(change);
        Ok(())
    }
}
