//! The etcd backend: the storage contract over the etcd v3 API.
//!
//! Revisions are etcd's own, so several API servers sharing one etcd cluster
//! agree on them. Every conditional write is one etcd transaction, which makes
//! the compare-and-swap atomic on the server:
//! - create: `create_revision(key) == 0` then put (attached to a lease when
//!   the key has a TTL; see [`LeaseReuse`]);
//! - update: the key exists and `mod_revision(key) == expected`, then put
//!   keeping the key's lease, else read the key to say why it failed;
//! - delete: `mod_revision(key) == expected`, then delete returning the last
//!   value, else read the key (expected 0 deletes whatever is there).
//!
//! Keys given to the trait are full etcd keys: the registry builds them with
//! the configured prefix (`/registry` by default) already in front, so this
//! store adds nothing to them. The prefix given to [`EtcdStore::connect`] only
//! names the store's home key, read to learn the current revision.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use etcd_client::{
    Client, CompactionOptions, Compare, CompareOp, ConnectOptions, DeleteOptions, EventType,
    GetOptions, PutOptions, Txn, TxnOp, TxnOpResponse, TxnResponse, WatchOptions,
};
use tokio::sync::mpsc;

use super::{Change, KeyValue, ListPage, Revision, Store, StoreError, WatchStream};

/// How long to wait for a connection to an etcd member; upstream's 20s,
/// chosen there because shorter ones failed TLS handshakes on loaded hosts.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// The longest a unary request may wait for its answer before the caller
/// sees `Unavailable`, so a hung member cannot hold a request forever. Well
/// under upstream's 60s API request timeout. Streams (watches) are not
/// bounded by it: it only covers the wait for the response to begin.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// HTTP/2 pings detect a dead member on an idle connection (a quiet watch);
/// upstream's kube-apiserver uses the same 30s / 10s for its etcd client.
const KEEP_ALIVE_INTERVAL: Duration = Duration::from_secs(30);
const KEEP_ALIVE_TIMEOUT: Duration = Duration::from_secs(10);
/// Changes buffered per watcher. When it is full the forwarding task stops
/// reading from etcd, whose flow control then holds the events back: a slow
/// watcher waits, it never loses a change.
const WATCH_BUFFER: usize = 1024;

/// The etcd store; cheap to clone (clones share the connection).
#[derive(Clone)]
pub struct EtcdStore {
    client: Client,
    /// Watches run on a connection of their own, so their event streams
    /// never queue behind (or ahead of) reads and writes.
    watch_client: Client,
    home_key: String,
    /// The newest compaction this process has seen, by its own compact calls
    /// or from etcd's reports; etcd has no request that returns it.
    compacted: Arc<AtomicI64>,
    leases: Arc<LeaseReuse>,
    /// Wakes every open watch to ask etcd for a progress notice.
    progress: Arc<tokio::sync::Notify>,
}

/// Shares one etcd lease among keys created with a TTL close together, as
/// upstream's etcd3 lease manager does: a lease per key would double the
/// writes of a busy Event stream (a lease grant is a raft write too).
///
/// A lease is granted for the TTL plus a slack (5% of the TTL, at most a
/// minute) and reused while it still outlives a new key's TTL by no more than
/// that slack, so a key expires on time or up to the slack late, never early.
#[derive(Default)]
struct LeaseReuse {
    /// The last lease granted and when it ends. A std mutex: it guards two
    /// words and is never held across an await.
    last: Mutex<Option<(i64, Instant)>>,
}

/// Upstream's bounds on how much later than asked a shared lease may end.
const LEASE_SLACK_FRACTION: f64 = 0.05;
const LEASE_SLACK_MAX: Duration = Duration::from_secs(60);

impl LeaseReuse {
    fn slack(ttl: Duration) -> Duration {
        ttl.mul_f64(LEASE_SLACK_FRACTION).min(LEASE_SLACK_MAX)
    }

    /// The last lease, if it ends between `ttl` and `ttl + slack` from now.
    fn reusable(&self, ttl: Duration) -> Option<i64> {
        let last = *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (id, ends) = last?;
        let wanted = Instant::now().checked_add(ttl)?;
        let latest = wanted.checked_add(Self::slack(ttl))?;
        (ends >= wanted && ends <= latest).then_some(id)
    }

    fn remember(&self, id: i64, ends: Instant) {
        *self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some((id, ends));
    }
}

/// What an etcd error means for the storage contract.
enum Failure {
    /// The revision asked for was compacted away.
    Compacted,
    /// The revision asked for is newer than the store.
    FutureRevision,
    Other(StoreError),
}

impl From<etcd_client::Error> for Failure {
    fn from(error: etcd_client::Error) -> Self {
        use etcd_client::Error as E;
        use tonic::Code;
        match error {
            // A status made on our side of the connection carries the error
            // behind it (a reset connection, an h2 error); one sent by etcd
            // does not. The first kind means etcd could not be talked to.
            E::GRpcStatus(status) if std::error::Error::source(&status).is_some() => {
                Failure::Other(StoreError::Unavailable(format!(
                    "etcd connection: {status}"
                )))
            }
            E::GRpcStatus(status) => {
                // etcd reports both revision errors as OutOfRange; only the
                // message tells them apart (rpctypes ErrGRPCCompacted/FutureRev).
                let message = status.message();
                match status.code() {
                    Code::OutOfRange if message.contains("compacted") => Failure::Compacted,
                    Code::OutOfRange if message.contains("future revision") => {
                        Failure::FutureRevision
                    }
                    Code::Unavailable
                    | Code::DeadlineExceeded
                    | Code::Cancelled
                    | Code::Aborted
                    | Code::ResourceExhausted => {
                        Failure::Other(StoreError::Unavailable(format!("etcd: {message}")))
                    }
                    _ => Failure::Other(StoreError::Internal(format!("etcd: {message}"))),
                }
            }
            E::TransportError(e) => {
                Failure::Other(StoreError::Unavailable(format!("etcd transport: {e}")))
            }
            E::IoError(e) => Failure::Other(StoreError::Unavailable(format!("etcd i/o: {e}"))),
            E::WatchError(e) => Failure::Other(StoreError::Unavailable(format!("etcd watch: {e}"))),
            other => Failure::Other(StoreError::Internal(format!("etcd: {other}"))),
        }
    }
}

/// Maps an etcd error from a call that names no revision, where the revision
/// errors cannot happen.
fn store_error(error: etcd_client::Error) -> StoreError {
    match Failure::from(error) {
        Failure::Other(e) => e,
        Failure::Compacted | Failure::FutureRevision => {
            StoreError::Internal("etcd reported a revision error for a request without one".into())
        }
    }
}

fn internal(message: impl Into<String>) -> StoreError {
    StoreError::Internal(message.into())
}

fn convert_kv(kv: &etcd_client::KeyValue) -> Result<KeyValue, StoreError> {
    let key = kv
        .key_str()
        .map_err(|_| internal("etcd returned a key that is not UTF-8"))?;
    Ok(KeyValue {
        key: key.to_string(),
        value: Bytes::copy_from_slice(kv.value()),
        create_revision: kv.create_revision(),
        mod_revision: kv.mod_revision(),
    })
}

fn header_revision(header: Option<&etcd_client::ResponseHeader>) -> Result<Revision, StoreError> {
    header
        .map(|h| h.revision())
        .ok_or_else(|| internal("etcd response without a header"))
}

/// The first key after every key that starts with `prefix`, as etcd's
/// `clientv3.GetPrefixRangeEnd`: drop trailing 0xff bytes, then add one to
/// the last byte. `\0` (every key) when no such key exists.
fn prefix_end(prefix: &str) -> Vec<u8> {
    let mut end = prefix.as_bytes().to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// The key read by a conditional write's failure branch, explaining why the
/// compare did not hold.
fn key_after_failed_compare(response: &TxnResponse) -> Result<Option<KeyValue>, StoreError> {
    for op in response.op_responses() {
        if let TxnOpResponse::Get(get) = op {
            return get.kvs().first().map(convert_kv).transpose();
        }
    }
    Err(internal("etcd transaction answered without the read"))
}

impl EtcdStore {
    /// Connects to the etcd cluster at `endpoints` (`http://host:port`).
    /// `prefix` is the registry prefix the keys already carry; see the module
    /// doc. The connection is made lazily, so an unreachable etcd shows up
    /// as `Unavailable` from the first call; a malformed endpoint fails here.
    pub async fn connect(endpoints: &[String], prefix: &str) -> Result<Self, StoreError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(CONNECT_TIMEOUT)
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(KEEP_ALIVE_INTERVAL, KEEP_ALIVE_TIMEOUT);
        let client = Client::connect(endpoints, Some(options.clone()))
            .await
            .map_err(store_error)?;
        let watch_client = Client::connect(endpoints, Some(options))
            .await
            .map_err(store_error)?;
        let home_key = if prefix.is_empty() { "/" } else { prefix };
        Ok(EtcdStore {
            client,
            watch_client,
            home_key: home_key.to_string(),
            compacted: Arc::new(AtomicI64::new(0)),
            leases: Arc::default(),
            progress: Arc::default(),
        })
    }

    fn note_compacted(&self, revision: Revision) {
        self.compacted.fetch_max(revision, Ordering::AcqRel);
    }

    /// The error for a read at a compacted revision. etcd does not say how
    /// far it compacted, so the newest compaction seen here stands in, and is
    /// at least one past the revision that failed.
    fn compacted_error(&self, requested: Revision) -> StoreError {
        let known = self.compacted.load(Ordering::Acquire);
        StoreError::Compacted {
            requested,
            compacted: known.max(requested + 1),
        }
    }

    async fn future_error(&self, requested: Revision) -> StoreError {
        match self.current_revision().await {
            Ok(current) => StoreError::FutureRevision { requested, current },
            Err(e) => e,
        }
    }

    /// A lease for a key that should live `ttl`: a shared recent one, or a
    /// new one for `ttl` plus the reuse slack, in whole seconds (etcd's unit,
    /// rounded up; etcd may raise it to its minimum TTL).
    async fn lease_for(&self, ttl: Duration) -> Result<i64, StoreError> {
        if let Some(id) = self.leases.reusable(ttl) {
            return Ok(id);
        }
        let asked = Instant::now();
        let lifetime = ttl.saturating_add(LeaseReuse::slack(ttl));
        let seconds = lifetime.as_secs() + u64::from(lifetime.subsec_nanos() > 0);
        let seconds = seconds.max(1);
        let granted = self
            .client
            .lease_client()
            .grant(i64::try_from(seconds).unwrap_or(i64::MAX), None)
            .await
            .map_err(store_error)?;
        if !granted.error().is_empty() {
            return Err(internal(format!("etcd lease grant: {}", granted.error())));
        }
        // Counted from before the request: etcd's clock started later, so
        // the lease ends no earlier than this.
        if let Some(ends) = asked.checked_add(Duration::from_secs(seconds)) {
            self.leases.remember(granted.id(), ends);
        }
        Ok(granted.id())
    }
}

#[async_trait]
impl Store for EtcdStore {
    async fn current_revision(&self) -> Result<Revision, StoreError> {
        let response = self
            .client
            .kv_client()
            .get(
                self.home_key.as_str(),
                Some(GetOptions::new().with_count_only()),
            )
            .await
            .map_err(store_error)?;
        header_revision(response.header())
    }

    async fn get(&self, key: &str) -> Result<Option<KeyValue>, StoreError> {
        let response = self
            .client
            .kv_client()
            .get(key, None)
            .await
            .map_err(store_error)?;
        response.kvs().first().map(convert_kv).transpose()
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
        revision: Revision,
    ) -> Result<ListPage, StoreError> {
        let start = match start_after {
            Some(after) if after >= prefix => format!("{after}\0"),
            _ => prefix.to_string(),
        };
        let mut options = GetOptions::new()
            .with_range(prefix_end(prefix))
            .with_revision(revision);
        if limit > 0 {
            options = options.with_limit(i64::try_from(limit).unwrap_or(i64::MAX));
        }
        let response = match self.client.kv_client().get(start, Some(options)).await {
            Ok(response) => response,
            Err(e) => {
                return Err(match Failure::from(e) {
                    Failure::Compacted => self.compacted_error(revision),
                    Failure::FutureRevision => self.future_error(revision).await,
                    Failure::Other(e) => e,
                })
            }
        };
        let items = response
            .kvs()
            .iter()
            .map(convert_kv)
            .collect::<Result<Vec<_>, _>>()?;
        // etcd counts every key in the range, unaffected by the limit.
        let count = u64::try_from(response.count()).unwrap_or(0);
        let remaining = count.saturating_sub(items.len() as u64);
        let revision = if revision == 0 {
            header_revision(response.header())?
        } else {
            revision
        };
        Ok(ListPage {
            items,
            revision,
            remaining,
        })
    }

    async fn create(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<Revision, StoreError> {
        // A lease left unused (the key existed) simply expires; it may be
        // shared, so it is never revoked here.
        let lease = match ttl {
            Some(ttl) => self.lease_for(ttl).await?,
            None => 0,
        };
        let txn = Txn::new()
            .when([Compare::create_revision(key, CompareOp::Equal, 0)])
            .and_then([TxnOp::put(
                key,
                value.to_vec(),
                Some(PutOptions::new().with_lease(lease)),
            )]);
        let response = self
            .client
            .kv_client()
            .txn(txn)
            .await
            .map_err(store_error)?;
        if response.succeeded() {
            return header_revision(response.header());
        }
        Err(StoreError::AlreadyExists {
            key: key.to_string(),
        })
    }

    async fn update(
        &self,
        key: &str,
        value: Bytes,
        expected: Revision,
    ) -> Result<Revision, StoreError> {
        // The create_revision compare keeps an update of a missing key from
        // matching `expected == 0` (a missing key's mod_revision is 0).
        let txn = Txn::new()
            .when([
                Compare::create_revision(key, CompareOp::Greater, 0),
                Compare::mod_revision(key, CompareOp::Equal, expected),
            ])
            .and_then([TxnOp::put(
                key,
                value.to_vec(),
                // Keeps the key's TTL, as the embedded store does.
                Some(PutOptions::new().with_ignore_lease()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let response = self
            .client
            .kv_client()
            .txn(txn)
            .await
            .map_err(store_error)?;
        if response.succeeded() {
            return header_revision(response.header());
        }
        Err(match key_after_failed_compare(&response)? {
            Some(actual) => StoreError::Conflict {
                key: key.to_string(),
                expected,
                actual: actual.mod_revision,
            },
            None => StoreError::NotFound {
                key: key.to_string(),
            },
        })
    }

    async fn delete(
        &self,
        key: &str,
        expected: Revision,
    ) -> Result<(Revision, KeyValue), StoreError> {
        if expected == 0 {
            let mut response = self
                .client
                .kv_client()
                .delete(key, Some(DeleteOptions::new().with_prev_key()))
                .await
                .map_err(store_error)?;
            let prev = response.take_prev_kvs();
            let Some(prev) = prev.first() else {
                return Err(StoreError::NotFound {
                    key: key.to_string(),
                });
            };
            return Ok((header_revision(response.header())?, convert_kv(prev)?));
        }
        let txn = Txn::new()
            .when([Compare::mod_revision(key, CompareOp::Equal, expected)])
            .and_then([TxnOp::delete(
                key,
                Some(DeleteOptions::new().with_prev_key()),
            )])
            .or_else([TxnOp::get(key, None)]);
        let response = self
            .client
            .kv_client()
            .txn(txn)
            .await
            .map_err(store_error)?;
        if !response.succeeded() {
            return Err(match key_after_failed_compare(&response)? {
                Some(actual) => StoreError::Conflict {
                    key: key.to_string(),
                    expected,
                    actual: actual.mod_revision,
                },
                None => StoreError::NotFound {
                    key: key.to_string(),
                },
            });
        }
        let revision = header_revision(response.header())?;
        for op in response.op_responses() {
            if let TxnOpResponse::Delete(deleted) = op {
                if let Some(prev) = deleted.prev_kvs().first() {
                    return Ok((revision, convert_kv(prev)?));
                }
            }
        }
        Err(internal(
            "etcd deleted a key without returning its last value",
        ))
    }

    /// Asks etcd for every event from `revision` itself (etcd refuses a start
    /// below its compaction, which makes a compacted `revision` fail exactly
    /// as the contract says) and drops the event at `revision`. A compacted
    /// revision shows up as the stream's first item, since etcd only checks
    /// it after the watch is created.
    async fn watch(&self, prefix: &str, revision: Revision) -> Result<WatchStream, StoreError> {
        let options = WatchOptions::new()
            .with_prefix()
            .with_start_revision(revision.max(1))
            .with_prev_key();
        let watch = self
            .watch_client
            .watch_client()
            .watch(prefix, Some(options))
            .await
            .map_err(store_error)?;
        let (tx, rx) = mpsc::channel(WATCH_BUFFER);
        let forward = Forward {
            watch,
            tx,
            after: revision,
            compacted: self.compacted.clone(),
            progress: self.progress.clone(),
        };
        tokio::spawn(forward.run());
        Ok(rx)
    }

    async fn compact(&self, revision: Revision) -> Result<(), StoreError> {
        // Physical: return only once the history is gone, so a read at the
        // compacted revision right after fails on every member. A compaction
        // that outlasts the request timeout goes on in etcd; the caller's
        // next compaction then finds it done.
        let result = self
            .client
            .kv_client()
            .compact(revision, Some(CompactionOptions::new().with_physical()))
            .await;
        match result {
            Ok(_) => {
                self.note_compacted(revision);
                Ok(())
            }
            // Already compacted at or past `revision`: nothing left to do.
            Err(e) => match Failure::from(e) {
                Failure::Compacted => Ok(()),
                Failure::FutureRevision => Err(self.future_error(revision).await),
                Failure::Other(e) => Err(e),
            },
        }
    }

    async fn compacted_revision(&self) -> Result<Revision, StoreError> {
        Ok(self.compacted.load(Ordering::Acquire))
    }

    async fn check_revision(&self, revision: Revision) -> Result<(), StoreError> {
        // One count-only read of one key at that revision: etcd refuses it
        // once the revision is compacted, whoever compacted it.
        let options = GetOptions::new().with_count_only().with_revision(revision);
        match self
            .client
            .kv_client()
            .get(self.home_key.as_str(), Some(options))
            .await
        {
            Ok(_) => Ok(()),
            Err(e) => Err(match Failure::from(e) {
                Failure::Compacted => self.compacted_error(revision),
                Failure::FutureRevision => self.future_error(revision).await,
                Failure::Other(e) => e,
            }),
        }
    }

    async fn request_progress(&self) {
        self.progress.notify_waiters();
    }
}

/// Moves one etcd watch into a [`WatchStream`] until either side ends.
struct Forward {
    watch: etcd_client::WatchStream,
    tx: mpsc::Sender<Result<Change, StoreError>>,
    /// Changes at or before this revision were asked to be skipped.
    after: Revision,
    compacted: Arc<AtomicI64>,
    progress: Arc<tokio::sync::Notify>,
}

impl Forward {
    /// Ends when the receiver is dropped (dropping the etcd stream cancels the
    /// watch on the server) or, after sending the error, when etcd ends it.
    async fn run(mut self) {
        loop {
            let message = tokio::select! {
                _ = self.tx.closed() => return,
                _ = self.progress.notified() => {
                    // The answer arrives as an event-less response below.
                    let _ = self.watch.request_progress().await;
                    continue;
                }
                message = self.watch.message() => message,
            };
            let response = match message {
                Ok(Some(response)) => response,
                Ok(None) => {
                    self.fail(StoreError::Unavailable("etcd ended the watch".into()))
                        .await;
                    return;
                }
                Err(e) => {
                    // Whatever broke the stream (a reset connection shows up
                    // as an h2 protocol error), watching again may work.
                    let reason = format!("etcd watch broke: {e}");
                    self.fail(StoreError::Unavailable(reason)).await;
                    return;
                }
            };
            if response.compact_revision() != 0 {
                let compacted = response.compact_revision();
                self.compacted.fetch_max(compacted, Ordering::AcqRel);
                let requested = self.after;
                self.fail(StoreError::Compacted {
                    requested,
                    compacted,
                })
                .await;
                return;
            }
            if response.canceled() {
                let reason = format!("etcd cancelled the watch: {}", response.cancel_reason());
                self.fail(StoreError::Unavailable(reason)).await;
                return;
            }
            if response.created() {
                // The header of the creation response is the store's head,
                // not progress: older changes may still be on their way.
                continue;
            }
            if response.events().is_empty() {
                // A progress notice (etcd sends them only to synced
                // watchers): nothing under the prefix changed up to the
                // header's revision. Advisory, so dropped when full.
                if let Some(header) = response.header() {
                    if header.revision() > self.after {
                        self.after = header.revision();
                        let _ = self.tx.try_send(Ok(Change::Progress {
                            revision: header.revision(),
                        }));
                    }
                }
                continue;
            }
            for event in response.events() {
                let change = match convert_event(event) {
                    Ok(change) => change,
                    Err(e) => {
                        self.fail(e).await;
                        return;
                    }
                };
                if change.revision() <= self.after {
                    continue;
                }
                self.after = change.revision();
                if self.tx.send(Ok(change)).await.is_err() {
                    return;
                }
            }
        }
    }

    async fn fail(&self, error: StoreError) {
        let _ = self.tx.send(Err(error)).await;
    }
}

fn convert_event(event: &etcd_client::Event) -> Result<Change, StoreError> {
    let kv = event
        .kv()
        .ok_or_else(|| internal("etcd watch event without a key"))?;
    let prev = event.prev_kv().map(convert_kv).transpose()?;
    match event.event_type() {
        EventType::Put => Ok(Change::Put {
            kv: convert_kv(kv)?,
            prev,
        }),
        EventType::Delete => {
            let deleted = convert_kv(kv)?;
            // etcd omits the previous value when that revision was already
            // compacted; the key and the deletion's revision still hold.
            let prev = prev.unwrap_or_else(|| KeyValue {
                key: deleted.key.clone(),
                value: Bytes::new(),
                create_revision: 0,
                mod_revision: 0,
            });
            Ok(Change::Delete {
                prev,
                revision: deleted.mod_revision,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end("/registry/pods/"), b"/registry/pods0".to_vec());
        assert_eq!(prefix_end("a\u{7f}"), b"a\x80".to_vec());
        assert_eq!(prefix_end(""), vec![0]);
    }

    #[test]
    fn a_lease_is_shared_only_while_it_ends_within_the_slack() {
        let leases = LeaseReuse::default();
        let ttl = Duration::from_secs(100);
        assert_eq!(leases.reusable(ttl), None);

        // Ends 3s after a new key's TTL would: within the 5s slack.
        leases.remember(7, Instant::now() + Duration::from_secs(103));
        assert_eq!(leases.reusable(ttl), Some(7));

        // Would end before the key's TTL: the key would expire early.
        leases.remember(8, Instant::now() + Duration::from_secs(99));
        assert_eq!(leases.reusable(ttl), None);

        // Would outlive the key by more than the slack.
        leases.remember(9, Instant::now() + Duration::from_secs(110));
        assert_eq!(leases.reusable(ttl), None);
    }
}
