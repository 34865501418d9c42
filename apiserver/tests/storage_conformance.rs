//! One suite, two backends: every test body here runs against the embedded
//! store (in a temp dir) and against a real etcd process that the suite
//! starts itself (`/usr/bin/etcd`, Debian's etcd-server package), each test
//! with a store of its own so compaction in one cannot disturb another.
//!
//! The bodies state the storage contract of `apiserver::storage`; a backend
//! that needs a test of its own (durability across a reopen and a SIGKILL,
//! stores sharing one etcd, an unreachable etcd) has it at the bottom.
//! A missing `/usr/bin/etcd` fails the etcd tests; it never skips them.

use std::collections::{BTreeMap, HashSet};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use apiserver::storage::embedded::EmbeddedStore;
use apiserver::storage::etcd::EtcdStore;
use apiserver::storage::{Change, KeyValue, Revision, Store, StoreError, WatchStream};
use bytes::Bytes;
use tempfile::TempDir;

const ETCD_BINARY: &str = "/usr/bin/etcd";
/// How long a test waits for one expected watch event before failing.
const EVENT_WAIT: Duration = Duration::from_secs(10);

/// A store under test and whatever must outlive it (its directory, its etcd
/// process). Fields drop in order: the store first, then its backing.
struct Backend {
    store: Arc<dyn Store>,
    _backing: Backing,
}

enum Backing {
    Directory { _dir: TempDir },
    Etcd { _process: EtcdProcess },
}

fn embedded_backend() -> Backend {
    let dir = TempDir::new().expect("temp dir for the embedded store");
    let store = EmbeddedStore::open(dir.path()).expect("open the embedded store");
    Backend {
        store: Arc::new(store),
        _backing: Backing::Directory { _dir: dir },
    }
}

async fn etcd_backend() -> Backend {
    let (etcd, store) = EtcdProcess::start_and_connect().await;
    Backend {
        store: Arc::new(store),
        _backing: Backing::Etcd { _process: etcd },
    }
}

/// A single-member etcd on free loopback ports with a temp data dir; killed
/// and removed on drop, also when the test panics.
struct EtcdProcess {
    child: Child,
    endpoint: String,
    dir: TempDir,
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free loopback port");
    listener.local_addr().expect("local address").port()
}

impl EtcdProcess {
    fn start() -> EtcdProcess {
        assert!(
            Path::new(ETCD_BINARY).exists(),
            "{ETCD_BINARY} is missing: the etcd conformance tests need a real etcd \
             (install Debian's etcd-server package: apt-get install etcd-server)"
        );
        let dir = TempDir::new().expect("temp dir for etcd");
        let client_url = format!("http://127.0.0.1:{}", free_port());
        let peer_url = format!("http://127.0.0.1:{}", free_port());
        let log = std::fs::File::create(dir.path().join("etcd.log")).expect("etcd log file");
        // Short heartbeat and election times make the single member leader
        // within a fraction of a second, and bring etcd's minimum lease TTL
        // down to one second for the TTL test.
        let child = Command::new(ETCD_BINARY)
            .arg("--name=conformance")
            .arg(format!("--data-dir={}", dir.path().join("data").display()))
            .arg(format!("--listen-client-urls={client_url}"))
            .arg(format!("--advertise-client-urls={client_url}"))
            .arg(format!("--listen-peer-urls={peer_url}"))
            .arg(format!("--initial-advertise-peer-urls={peer_url}"))
            .arg(format!("--initial-cluster=conformance={peer_url}"))
            .arg("--heartbeat-interval=10")
            .arg("--election-timeout=100")
            .arg("--logger=zap")
            .arg("--log-level=warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {ETCD_BINARY}: {e}"));
        EtcdProcess {
            child,
            endpoint: client_url,
            dir,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default()
    }

    /// Starts etcd and connects once it answers. A free port can be taken
    /// by a parallel test between our probe and etcd's bind, so an etcd that
    /// exits at once is started again on new ports, a few times.
    async fn start_and_connect() -> (EtcdProcess, EtcdStore) {
        for _ in 0..3 {
            let mut etcd = EtcdProcess::start();
            if let Some(store) = etcd.connect().await {
                return (etcd, store);
            }
        }
        panic!("etcd exited at start three times; see its log above");
    }

    /// Connects once etcd answers; `None` if etcd exited. Fails with etcd's
    /// log if it neither answers nor exits within ten seconds.
    async fn connect(&mut self) -> Option<EtcdStore> {
        let deadline = Instant::now() + Duration::from_secs(10);
        let endpoints = [self.endpoint.clone()];
        loop {
            let last_error = match EtcdStore::connect(&endpoints, "/registry").await {
                Ok(store) => match store.current_revision().await {
                    Ok(_) => return Some(store),
                    Err(e) => e,
                },
                Err(e) => e,
            };
            if let Ok(Some(status)) = self.child.try_wait() {
                eprintln!("etcd exited with {status}:\n{}", self.log());
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "etcd at {} did not come up: {last_error}\n{}",
                self.endpoint,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A second store on the same running etcd, as another replica has.
    async fn connect_again(&self) -> EtcdStore {
        EtcdStore::connect(std::slice::from_ref(&self.endpoint), "/registry")
            .await
            .expect("connect to a running etcd")
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for EtcdProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs each named test body once per backend, as
/// `embedded::<name>` and `etcd::<name>`.
macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod embedded {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = super::embedded_backend();
                    super::$name(backend.store.clone()).await;
                }
            )*
        }
        mod etcd {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let backend = super::etcd_backend().await;
                    super::$name(backend.store.clone()).await;
                }
            )*
        }
    };
}

conformance!(
    create_get_update_delete_compare_and_swap,
    revisions_strictly_increase_store_wide,
    list_pages_at_a_fixed_revision_see_the_old_snapshot,
    watch_yields_every_change_after_the_revision_in_order,
    watch_under_concurrent_writers_sees_each_change_once_in_order,
    compacted_revisions_fail_list_and_watch,
    ttl_key_disappears_and_watch_sees_the_delete,
    update_keeps_the_ttl,
    future_revision_fails,
);

fn bytes(text: &str) -> Bytes {
    Bytes::copy_from_slice(text.as_bytes())
}

/// The next key change; progress notices are advisory and skipped.
async fn next_change(stream: &mut WatchStream) -> Change {
    loop {
        match tokio::time::timeout(EVENT_WAIT, stream.recv()).await {
            Ok(Some(Ok(Change::Progress { .. }))) => continue,
            Ok(Some(Ok(change))) => return change,
            Ok(Some(Err(e))) => panic!("watch failed: {e}"),
            Ok(None) => panic!("watch ended early"),
            Err(_) => panic!("no watch event within {EVENT_WAIT:?}"),
        }
    }
}

/// The contract allows a compacted watch to fail at once or as the
/// stream's first item (etcd checks the revision after creating the watch).
async fn assert_watch_compacted(store: &dyn Store, prefix: &str, revision: Revision) {
    let mut stream = match store.watch(prefix, revision).await {
        Err(StoreError::Compacted { requested, .. }) => {
            assert_eq!(requested, revision);
            return;
        }
        Err(e) => panic!("watch from compacted {revision}: expected Compacted, got {e}"),
        Ok(stream) => stream,
    };
    match tokio::time::timeout(EVENT_WAIT, stream.recv()).await {
        Ok(Some(Err(StoreError::Compacted { requested, .. }))) => assert_eq!(requested, revision),
        Ok(other) => panic!("watch from compacted {revision}: expected Compacted, got {other:?}"),
        Err(_) => panic!("watch from compacted {revision} neither failed nor ended"),
    }
}

async fn create_get_update_delete_compare_and_swap(store: Arc<dyn Store>) {
    let key = "/registry/configmaps/default/cas";
    let created = store.create(key, bytes("v1"), None).await.expect("create");
    let got = store.get(key).await.expect("get").expect("key present");
    assert_eq!(
        got,
        KeyValue {
            key: key.into(),
            value: bytes("v1"),
            create_revision: created,
            mod_revision: created,
        }
    );

    match store.create(key, bytes("again"), None).await {
        Err(StoreError::AlreadyExists { key: k }) => assert_eq!(k, key),
        other => panic!("second create: expected AlreadyExists, got {other:?}"),
    }

    let updated = store
        .update(key, bytes("v2"), created)
        .await
        .expect("update at the current revision");
    assert!(updated > created);
    let got = store.get(key).await.expect("get").expect("key present");
    assert_eq!(got.value, bytes("v2"));
    assert_eq!(got.create_revision, created);
    assert_eq!(got.mod_revision, updated);

    match store.update(key, bytes("stale"), created).await {
        Err(StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (created, updated)),
        other => panic!("stale update: expected Conflict, got {other:?}"),
    }
    match store.update(key, bytes("zero"), 0).await {
        Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, updated),
        other => panic!("update expecting 0: expected Conflict, got {other:?}"),
    }
    let missing = "/registry/configmaps/default/missing";
    match store.update(missing, bytes("x"), 0).await {
        Err(StoreError::NotFound { key: k }) => assert_eq!(k, missing),
        other => panic!("update of a missing key (expected 0): got {other:?}"),
    }
    match store.update(missing, bytes("x"), updated).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("update of a missing key: expected NotFound, got {other:?}"),
    }
    match store.delete(key, created).await {
        Err(StoreError::Conflict {
            expected, actual, ..
        }) => assert_eq!((expected, actual), (created, updated)),
        other => panic!("stale delete: expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.get(key).await.expect("get").map(|kv| kv.value),
        Some(bytes("v2")),
        "a failed compare-and-swap changes nothing"
    );

    let (deleted, prev) = store.delete(key, updated).await.expect("delete");
    assert!(deleted > updated);
    assert_eq!(prev.value, bytes("v2"));
    assert_eq!(prev.mod_revision, updated);
    assert_eq!(store.get(key).await.expect("get"), None);
    match store.delete(key, 0).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("delete of a deleted key: expected NotFound, got {other:?}"),
    }
    match store.delete(key, updated).await {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("delete of a deleted key at a revision: got {other:?}"),
    }

    // Recreating starts a new life: a new create revision.
    let recreated = store
        .create(key, bytes("v3"), None)
        .await
        .expect("recreate");
    assert!(recreated > deleted);
    let (gone, prev) = store.delete(key, 0).await.expect("unconditional delete");
    assert!(gone > recreated);
    assert_eq!(prev.create_revision, recreated);
}

async fn revisions_strictly_increase_store_wide(store: Arc<dyn Store>) {
    let mut last = store.current_revision().await.expect("current revision");
    for i in 0..20 {
        // Writes under different resources share one revision sequence.
        let key = format!("/registry/kind{}/default/object{i}", i % 3);
        let created = store.create(&key, bytes("a"), None).await.expect("create");
        assert!(created > last, "create at {created} after {last}");
        let updated = store
            .update(&key, bytes("b"), created)
            .await
            .expect("update");
        assert!(updated > created);
        last = updated;
        if i % 2 == 0 {
            let (deleted, _) = store.delete(&key, updated).await.expect("delete");
            assert!(deleted > updated);
            last = deleted;
        }
        assert_eq!(store.current_revision().await.expect("current"), last);
    }
    // A failed write takes no revision.
    let failed = store
        .create("/registry/kind1/default/object1", bytes("x"), None)
        .await;
    assert!(matches!(failed, Err(StoreError::AlreadyExists { .. })));
    assert_eq!(store.current_revision().await.expect("current"), last);
}

async fn list_pages_at_a_fixed_revision_see_the_old_snapshot(store: Arc<dyn Store>) {
    let prefix = "/registry/pods/";
    let mut revisions = BTreeMap::new();
    for i in 0..10 {
        let key = format!("{prefix}default/pod{i:02}");
        let rev = store
            .create(&key, bytes(&format!("v{i}")), None)
            .await
            .expect("create");
        revisions.insert(key, rev);
    }
    // Keys that share the prefix's characters but not the prefix.
    store
        .create("/registry/podsx", bytes("no"), None)
        .await
        .expect("create");
    store
        .create("/registry/pod", bytes("no"), None)
        .await
        .expect("create");

    let first = store.list(prefix, None, 4, 0).await.expect("first page");
    let snapshot = first.revision;
    assert_eq!(snapshot, store.current_revision().await.expect("current"));
    let names: Vec<&str> = first.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        names,
        [
            "/registry/pods/default/pod00",
            "/registry/pods/default/pod01",
            "/registry/pods/default/pod02",
            "/registry/pods/default/pod03"
        ]
    );
    assert_eq!(first.remaining, 6);

    // Writes after the snapshot: an update, a delete, and new keys before
    // and after the continue point.
    let pod05 = "/registry/pods/default/pod05";
    store
        .update(pod05, bytes("changed"), revisions[pod05])
        .await
        .expect("update");
    store
        .delete("/registry/pods/default/pod07", 0)
        .await
        .expect("delete");
    store
        .create("/registry/pods/default/pod035", bytes("new"), None)
        .await
        .expect("create");
    store
        .create("/registry/pods/default/pod99", bytes("new"), None)
        .await
        .expect("create");
    store
        .create("/registry/pods/default/pod01a", bytes("new"), None)
        .await
        .expect("create");

    let last_key = first
        .items
        .last()
        .map(|kv| kv.key.clone())
        .expect("a full page");
    let second = store
        .list(prefix, Some(&last_key), 4, snapshot)
        .await
        .expect("page 2");
    assert_eq!(second.revision, snapshot);
    let expected: Vec<KeyValue> = (4..8)
        .map(|i| {
            let key = format!("{prefix}default/pod{i:02}");
            KeyValue {
                value: bytes(&format!("v{i}")),
                create_revision: revisions[&key],
                mod_revision: revisions[&key],
                key,
            }
        })
        .collect();
    assert_eq!(second.items, expected, "page 2 shows the snapshot");
    assert_eq!(second.remaining, 2);

    let last_key = second
        .items
        .last()
        .map(|kv| kv.key.clone())
        .expect("a full page");
    let third = store
        .list(prefix, Some(&last_key), 4, snapshot)
        .await
        .expect("page 3");
    let names: Vec<&str> = third.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        names,
        [
            "/registry/pods/default/pod08",
            "/registry/pods/default/pod09"
        ]
    );
    assert_eq!(third.remaining, 0);

    // The whole prefix at the snapshot, and now.
    let all_then = store
        .list(prefix, None, 0, snapshot)
        .await
        .expect("list then");
    assert_eq!(all_then.items.len(), 10);
    assert_eq!(all_then.remaining, 0);
    let now = store.list(prefix, None, 0, 0).await.expect("list now");
    assert!(now.revision > snapshot);
    let names: Vec<&str> = now.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        names,
        [
            "/registry/pods/default/pod00",
            "/registry/pods/default/pod01",
            "/registry/pods/default/pod01a",
            "/registry/pods/default/pod02",
            "/registry/pods/default/pod03",
            "/registry/pods/default/pod035",
            "/registry/pods/default/pod04",
            "/registry/pods/default/pod05",
            "/registry/pods/default/pod06",
            "/registry/pods/default/pod08",
            "/registry/pods/default/pod09",
            "/registry/pods/default/pod99",
        ]
    );
    assert_eq!(now.items[7].value, bytes("changed"));

    // A continue from the current state counts what is left now.
    let page = store
        .list(prefix, Some("/registry/pods/default/pod04"), 3, 0)
        .await
        .expect("page now");
    let names: Vec<&str> = page.items.iter().map(|kv| kv.key.as_str()).collect();
    assert_eq!(
        names,
        [
            "/registry/pods/default/pod05",
            "/registry/pods/default/pod06",
            "/registry/pods/default/pod08"
        ]
    );
    assert_eq!(page.remaining, 2);
}

async fn watch_yields_every_change_after_the_revision_in_order(store: Arc<dyn Store>) {
    let prefix = "/registry/secrets/";
    let a = "/registry/secrets/default/a";
    let b = "/registry/secrets/default/b";
    let a1 = store.create(a, bytes("a1"), None).await.expect("create a");
    let start = store.current_revision().await.expect("current");
    let a2 = store.update(a, bytes("a2"), a1).await.expect("update a");
    store
        .create("/registry/secretsx", bytes("other"), None)
        .await
        .expect("create");
    let b1 = store.create(b, bytes("b1"), None).await.expect("create b");
    let (a_gone, _) = store.delete(a, a2).await.expect("delete a");

    let mut stream = store.watch(prefix, start).await.expect("watch");
    match next_change(&mut stream).await {
        Change::Put { kv, prev } => {
            assert_eq!(
                (kv.key.as_str(), kv.mod_revision, kv.create_revision),
                (a, a2, a1)
            );
            assert_eq!(kv.value, bytes("a2"));
            let prev = prev.expect("an update carries the previous value");
            assert_eq!((prev.value, prev.mod_revision), (bytes("a1"), a1));
        }
        other => panic!("expected the update of a, got {other:?}"),
    }
    match next_change(&mut stream).await {
        Change::Put { kv, prev } => {
            assert_eq!((kv.key.as_str(), kv.mod_revision), (b, b1));
            assert_eq!(prev, None, "a create has no previous value");
        }
        other => panic!("expected the create of b, got {other:?}"),
    }
    match next_change(&mut stream).await {
        Change::Delete { prev, revision } => {
            assert_eq!(revision, a_gone);
            assert_eq!((prev.key.as_str(), prev.value), (a, bytes("a2")));
            assert_eq!(prev.mod_revision, a2);
        }
        other => panic!("expected the delete of a, got {other:?}"),
    }

    // Live changes follow the replayed ones on the same stream.
    let b2 = store.update(b, bytes("b2"), b1).await.expect("update b");
    let change = next_change(&mut stream).await;
    assert_eq!((change.key(), change.revision()), (b, b2));

    // Nothing else arrives: the key outside the prefix stays unseen.
    store
        .create("/registry/secretsy", bytes("other"), None)
        .await
        .expect("create");
    // Progress notices may come (they are advisory); no key change may.
    let quiet = tokio::time::timeout(Duration::from_millis(300), async {
        loop {
            match stream.recv().await {
                Some(Ok(Change::Progress { revision })) => assert!(revision > b2),
                other => return other,
            }
        }
    })
    .await;
    assert!(quiet.is_err(), "unexpected watch item: {quiet:?}");

    // Watching from the newest revision yields only what comes after it.
    let now = store.current_revision().await.expect("current");
    let mut from_now = store.watch(prefix, now).await.expect("watch from now");
    let b3 = store.update(b, bytes("b3"), b2).await.expect("update b");
    let change = next_change(&mut from_now).await;
    assert_eq!((change.key(), change.revision()), (b, b3));
}

async fn watch_under_concurrent_writers_sees_each_change_once_in_order(store: Arc<dyn Store>) {
    const WRITERS: usize = 8;
    const WRITES: usize = 200;
    let prefix = "/registry/leases/";
    let start = store.current_revision().await.expect("current");
    let mut live = store.watch(prefix, start).await.expect("watch");

    let mut tasks = Vec::new();
    for writer in 0..WRITERS {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let key = format!("{prefix}default/writer{writer}");
            let mut acked = Vec::with_capacity(WRITES);
            let mut rev = store.create(&key, bytes("0"), None).await.expect("create");
            acked.push(rev);
            for n in 1..WRITES {
                rev = store
                    .update(&key, bytes(&n.to_string()), rev)
                    .await
                    .expect("update");
                acked.push(rev);
            }
            acked
        }));
    }
    let reader = tokio::spawn(async move {
        let mut seen = Vec::with_capacity(WRITERS * WRITES);
        while seen.len() < WRITERS * WRITES {
            seen.push(next_change(&mut live).await);
        }
        seen
    });
    let mut acked = HashSet::new();
    for task in tasks {
        for rev in task.await.expect("writer task") {
            assert!(acked.insert(rev), "revision {rev} acknowledged twice");
        }
    }
    let live = reader.await.expect("watch reader");
    check_concurrent_history(&live, &acked, start);

    // Replay from the same revision after the fact gives the same history.
    let mut replay = store.watch(prefix, start).await.expect("replay watch");
    let mut replayed = Vec::with_capacity(live.len());
    while replayed.len() < live.len() {
        replayed.push(next_change(&mut replay).await);
    }
    assert_eq!(replayed, live, "replay differs from the live watch");
}

/// Every acknowledged write appears once, in revision order, and each key's
/// values follow its writer's order with the right previous value.
fn check_concurrent_history(seen: &[Change], acked: &HashSet<Revision>, start: Revision) {
    let mut last = start;
    let mut per_key: BTreeMap<&str, (usize, Revision)> = BTreeMap::new();
    for change in seen {
        let rev = change.revision();
        assert!(
            rev > last,
            "revision {rev} after {last}: out of order or repeated"
        );
        last = rev;
        assert!(
            acked.contains(&rev),
            "revision {rev} was never acknowledged"
        );
        let Change::Put { kv, prev } = change else {
            panic!("unexpected delete {change:?}");
        };
        let n: usize = std::str::from_utf8(&kv.value)
            .ok()
            .and_then(|v| v.parse().ok())
            .expect("a counter value");
        match per_key.get(kv.key.as_str()) {
            None => {
                assert_eq!(n, 0);
                assert_eq!(*prev, None);
            }
            Some(&(before, before_rev)) => {
                assert_eq!(n, before + 1, "{} skipped a value", kv.key);
                assert_eq!(prev.as_ref().map(|p| p.mod_revision), Some(before_rev));
            }
        }
        per_key.insert(kv.key.as_str(), (n, rev));
    }
    assert_eq!(seen.len(), acked.len());
}

async fn compacted_revisions_fail_list_and_watch(store: Arc<dyn Store>) {
    let prefix = "/registry/events/";
    let key = "/registry/events/default/e";
    let mut revs = vec![store.create(key, bytes("0"), None).await.expect("create")];
    for n in 1..6 {
        let prev = revs[n - 1];
        revs.push(
            store
                .update(key, bytes(&n.to_string()), prev)
                .await
                .expect("update"),
        );
    }
    let compact_at = revs[3];
    store.compact(compact_at).await.expect("compact");
    assert_eq!(
        store.compacted_revision().await.expect("compacted"),
        compact_at
    );

    match store.list(prefix, None, 0, revs[2]).await {
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => {
            assert_eq!(requested, revs[2]);
            assert!(compacted > revs[2]);
        }
        other => panic!("list before the compaction: expected Compacted, got {other:?}"),
    }
    assert_watch_compacted(store.as_ref(), prefix, revs[2]).await;
    assert_watch_compacted(store.as_ref(), prefix, 0).await;

    // The compacted revision itself and everything after stay readable.
    let page = store
        .list(prefix, None, 0, compact_at)
        .await
        .expect("list at compaction");
    assert_eq!(page.items[0].value, bytes("3"));
    let mut stream = store
        .watch(prefix, compact_at)
        .await
        .expect("watch at compaction");
    for (n, rev) in revs.iter().enumerate().skip(4) {
        let change = next_change(&mut stream).await;
        assert_eq!(change.revision(), *rev);
        let Change::Put { kv, .. } = change else {
            panic!("expected a put");
        };
        assert_eq!(kv.value, bytes(&n.to_string()));
    }

    // Compacting an older revision again changes nothing; a future one fails.
    store
        .compact(revs[1])
        .await
        .expect("compact below the last compaction");
    assert_eq!(
        store.compacted_revision().await.expect("compacted"),
        compact_at
    );
    let current = store.current_revision().await.expect("current");
    match store.compact(current + 10).await {
        Err(StoreError::FutureRevision { requested, .. }) => assert_eq!(requested, current + 10),
        other => panic!("compact in the future: expected FutureRevision, got {other:?}"),
    }
    store
        .compact(current)
        .await
        .expect("compact at the newest revision");
    assert_eq!(
        store.compacted_revision().await.expect("compacted"),
        current
    );
    assert_watch_compacted(store.as_ref(), prefix, compact_at).await;
}

async fn ttl_key_disappears_and_watch_sees_the_delete(store: Arc<dyn Store>) {
    let prefix = "/registry/events/";
    let short = "/registry/events/default/short";
    let lasting = "/registry/events/default/lasting";
    let start = store.current_revision().await.expect("current");
    let mut stream = store.watch(prefix, start).await.expect("watch");
    let created = store
        .create(short, bytes("expires"), Some(Duration::from_secs(1)))
        .await
        .expect("create with ttl");
    store
        .create(lasting, bytes("stays"), None)
        .await
        .expect("create");
    assert!(store.get(short).await.expect("get").is_some());

    let mut saw_put = 0;
    let expired = loop {
        match next_change(&mut stream).await {
            Change::Put { .. } => saw_put += 1,
            Change::Delete { prev, revision } => {
                assert_eq!(prev.key, short);
                assert_eq!(prev.mod_revision, created);
                break revision;
            }
            Change::Progress { .. } => unreachable!("next_change skips progress notices"),
        }
    };
    assert_eq!(saw_put, 2);
    assert!(expired > created);
    assert_eq!(store.get(short).await.expect("get"), None);
    assert!(store.get(lasting).await.expect("get").is_some());
    assert!(store.current_revision().await.expect("current") >= expired);
}

/// An update changes the value, not the lifetime: the key still expires
/// (an object written with a TTL, such as an Event, keeps it when patched).
async fn update_keeps_the_ttl(store: Arc<dyn Store>) {
    let key = "/registry/events/default/patched";
    let start = store.current_revision().await.expect("current");
    let mut stream = store
        .watch("/registry/events/", start)
        .await
        .expect("watch");
    let created = store
        .create(key, bytes("v1"), Some(Duration::from_secs(1)))
        .await
        .expect("create with ttl");
    let updated = store
        .update(key, bytes("v2"), created)
        .await
        .expect("update");
    let mut last = None;
    while last.is_none() {
        if let Change::Delete { prev, revision } = next_change(&mut stream).await {
            last = Some((prev, revision));
        }
    }
    let (prev, revision) = last.expect("a delete");
    assert_eq!((prev.value, prev.mod_revision), (bytes("v2"), updated));
    assert!(revision > updated);
    assert_eq!(store.get(key).await.expect("get"), None);
}

async fn future_revision_fails(store: Arc<dyn Store>) {
    store
        .create("/registry/nodes/n1", bytes("n"), None)
        .await
        .expect("create");
    let current = store.current_revision().await.expect("current");
    match store.list("/registry/nodes/", None, 0, current + 5).await {
        Err(StoreError::FutureRevision {
            requested,
            current: reported,
        }) => {
            assert_eq!(requested, current + 5);
            assert!(reported >= current);
        }
        other => panic!("list in the future: expected FutureRevision, got {other:?}"),
    }
    let page = store
        .list("/registry/nodes/", None, 0, current)
        .await
        .expect("list now");
    assert_eq!(page.items.len(), 1);
}

/// Every write acknowledged before the store is dropped is there when the
/// same directory is opened again, with its revisions, history and
/// compaction, and new writes continue the revision sequence.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_keeps_acknowledged_writes_across_reopen() {
    let dir = TempDir::new().expect("temp dir");
    let store = Arc::new(EmbeddedStore::open(dir.path()).expect("open"));
    let mut tasks = Vec::new();
    for writer in 0..4 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..50 {
                let key = format!("/registry/configmaps/ns{writer}/cm{n:02}");
                let rev = store
                    .create(&key, bytes(&n.to_string()), None)
                    .await
                    .expect("create");
                acked.push((key, rev));
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for task in tasks {
        acked.extend(task.await.expect("writer task"));
    }
    let first = acked.iter().map(|(_, rev)| *rev).min().expect("writes");
    store.compact(first).await.expect("compact");
    let last = store.current_revision().await.expect("current");
    drop(store);

    let store = EmbeddedStore::open(dir.path()).expect("reopen the same directory");
    assert_eq!(store.current_revision().await.expect("current"), last);
    assert_eq!(store.compacted_revision().await.expect("compacted"), first);
    for (key, rev) in &acked {
        let kv = store
            .get(key)
            .await
            .expect("get")
            .unwrap_or_else(|| panic!("{key} lost"));
        assert_eq!(kv.mod_revision, *rev, "{key}");
    }
    let mut replay = store
        .watch("/registry/configmaps/", first)
        .await
        .expect("watch");
    for _ in 1..acked.len() {
        let change = next_change(&mut replay).await;
        assert!(change.revision() > first && change.revision() <= last);
    }
    let next = store
        .create("/registry/configmaps/ns0/after", bytes("x"), None)
        .await
        .expect("create after reopen");
    assert!(next > last);
    assert_eq!(next_change(&mut replay).await.revision(), next);
}

/// Set in the child process of the kill test: the directory to write into.
const CRASH_CHILD_DIR: &str = "STORAGE_CONFORMANCE_CRASH_DIR";
/// Acknowledged writes the kill test waits for before killing the writer.
const ACKS_BEFORE_KILL: usize = 300;

/// Kills the writer process if the test fails before it does.
struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A writer process killed with SIGKILL in the middle of a stream of writes
/// loses none that it acknowledged, and leaves a store whose every revision
/// is one whole write. The test runs itself as the writer process.
#[test]
fn embedded_keeps_acknowledged_writes_after_a_kill() {
    use std::io::BufRead;

    if let Ok(dir) = std::env::var(CRASH_CHILD_DIR) {
        write_until_killed(Path::new(&dir));
        return;
    }
    let dir = TempDir::new().expect("temp dir");
    let exe = std::env::current_exe().expect("path of the test binary");
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "embedded_keeps_acknowledged_writes_after_a_kill",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_CHILD_DIR, dir.path())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the writer process");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut child = KillOnDrop(child);
    let mut acked = Vec::new();
    let mut lines = std::io::BufReader::new(stdout).lines();
    while acked.len() < ACKS_BEFORE_KILL {
        let line = lines
            .next()
            .expect("the writer process ended early")
            .expect("read the writer's output");
        if let Some(ack) = parse_ack(&line) {
            acked.push(ack);
        }
    }
    child.0.kill().expect("kill the writer process");
    // Lines printed before the kill were acknowledged too.
    acked.extend(lines.map_while(Result::ok).filter_map(|l| parse_ack(&l)));
    let _ = child.0.wait();

    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = EmbeddedStore::open(dir.path()).expect("open after the kill");
        for (key, rev) in &acked {
            let kv = store.get(key).await.expect("get");
            let kv = kv.unwrap_or_else(|| panic!("acknowledged {key} at {rev} was lost"));
            assert_eq!(kv.mod_revision, *rev, "{key}");
        }
        // Every write was a create from revision 1 on, so a store with no
        // torn batch has exactly one key per revision.
        let current = store.current_revision().await.expect("current");
        let all = store
            .list("/registry/crash/", None, 0, 0)
            .await
            .expect("list");
        assert_eq!(all.items.len() as i64, current - 1);
        let mut replay = store.watch("/registry/crash/", 1).await.expect("watch");
        for rev in 2..=current {
            assert_eq!(next_change(&mut replay).await.revision(), rev);
        }
    });
}

fn parse_ack(line: &str) -> Option<(String, Revision)> {
    let mut words = line.strip_prefix("acked ")?.split(' ');
    let key = words.next()?.to_string();
    let rev = words.next()?.parse().ok()?;
    Some((key, rev))
}

/// The child side of the kill test: four concurrent writers print each
/// write once it is acknowledged. It stops on its own after a while in case
/// the parent died without killing it.
fn write_until_killed(dir: &Path) {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let store = Arc::new(EmbeddedStore::open(dir).expect("open"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut tasks = Vec::new();
        for writer in 0..4 {
            let store = store.clone();
            tasks.push(tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < deadline {
                    let key = format!("/registry/crash/w{writer}/k{n:06}");
                    let rev = store.create(&key, bytes("x"), None).await.expect("create");
                    println!("acked {key} {rev}");
                    n += 1;
                }
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    });
}

/// Two API servers sharing one etcd: each sees the other's writes, a
/// compare-and-swap against a stale revision fails across them, and a
/// compaction by one makes old reads fail on the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_stores_sharing_one_cluster_agree() {
    let (etcd, first) = EtcdProcess::start_and_connect().await;
    let second = etcd.connect_again().await;
    let key = "/registry/configmaps/default/shared";
    let start = second.current_revision().await.expect("current");
    let mut stream = second
        .watch("/registry/configmaps/", start)
        .await
        .expect("watch");

    let created = first.create(key, bytes("one"), None).await.expect("create");
    let seen = second
        .get(key)
        .await
        .expect("get")
        .expect("visible to the other");
    assert_eq!(seen.mod_revision, created);
    let updated = second
        .update(key, bytes("two"), created)
        .await
        .expect("update");
    match first.update(key, bytes("stale"), created).await {
        Err(StoreError::Conflict { actual, .. }) => assert_eq!(actual, updated),
        other => panic!("stale update from the other store: got {other:?}"),
    }
    assert_eq!(next_change(&mut stream).await.revision(), created);
    assert_eq!(next_change(&mut stream).await.revision(), updated);

    first.compact(updated).await.expect("compact");
    match second.list("/registry/configmaps/", None, 0, created).await {
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => {
            assert_eq!(requested, created);
            assert!(compacted > created);
        }
        other => panic!("read below another store's compaction: got {other:?}"),
    }
    assert_watch_compacted(&second, "/registry/configmaps/", created).await;
    assert_eq!(
        second.compacted_revision().await.expect("compacted"),
        updated
    );
}

/// An etcd that cannot be reached gives `Unavailable` (never a panic or a
/// hang): both one that was never there and one that stops mid-session,
/// where an open watch ends with an error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_down_gives_unavailable() {
    let nowhere = [format!("http://127.0.0.1:{}", free_port())];
    let limit = Duration::from_secs(30);
    let attempt = tokio::time::timeout(limit, async {
        let store = EtcdStore::connect(&nowhere, "/registry").await?;
        store.get("/registry/pods/default/p").await
    })
    .await
    .expect("a call to an absent etcd returns");
    match attempt {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("absent etcd: expected Unavailable, got {other:?}"),
    }

    let (mut etcd, store) = EtcdProcess::start_and_connect().await;
    let start = store.current_revision().await.expect("current");
    let mut stream = store.watch("/registry/", start).await.expect("watch");
    store
        .create("/registry/pods/default/p", bytes("p"), None)
        .await
        .expect("create");
    next_change(&mut stream).await;
    etcd.kill();

    let read = tokio::time::timeout(limit, store.get("/registry/pods/default/p"))
        .await
        .expect("a read from a stopped etcd returns");
    match read {
        Err(StoreError::Unavailable(_)) => {}
        other => panic!("stopped etcd: expected Unavailable, got {other:?}"),
    }
    match tokio::time::timeout(limit, stream.recv()).await {
        Ok(Some(Err(StoreError::Unavailable(_)))) => {}
        other => panic!("watch on a stopped etcd: expected Unavailable, got {other:?}"),
    }
}
