//! What the aggregator knows of every APIService, rebuilt from the
//! APIService watch cache whenever one changes: which group/versions are
//! served elsewhere (and how to reach them, and whether they are
//! available), and every group/version's priorities, which order
//! discovery.
//!
//! A remote's connection pool is kept across rebuilds while its spec is
//! unchanged; a status change only flips its `available` flag.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use apiserver::handlers::Context;
use apiserver::object;
use apiserver::server::ApiServer;
use serde_json::Value;
use tokio::sync::broadcast::error::RecvError;

use super::backend::{Backend, ClientIdentity};
use crate::apiservices;

/// How long to wait before following the cache again after a failure.
const RETRY: Duration = Duration::from_secs(1);

/// One APIService served by another process.
pub struct Remote {
    pub name: String,
    pub group: String,
    pub version: String,
    spec: Value,
    /// How to reach it, or why that cannot be built.
    pub backend: Result<Backend, String>,
    /// How the availability probe reaches it: as `backend`, but without
    /// verifying the serving certificate, as upstream's probe does.
    pub probe: Result<Backend, String>,
    available: AtomicBool,
    /// Its last discovery document (`APIResourceList`), from the
    /// availability probe.
    discovery: Mutex<Option<Arc<Value>>>,
    /// Its OpenAPI documents, as last fetched.
    pub openapi: super::openapi::Fetched,
}

impl Remote {
    /// The APIService's spec.
    pub fn spec(&self) -> &Value {
        &self.spec
    }

    pub fn is_available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    pub fn discovery(&self) -> Option<Arc<Value>> {
        self.discovery
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn set_discovery(&self, document: Value) {
        *self.discovery.lock().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(document));
    }
}

/// A group/version with its APIService priorities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Priority {
    pub group: String,
    pub version: String,
    pub group_priority: i64,
    pub version_priority: i64,
}

/// One rebuild's view.
#[derive(Default)]
pub struct Index {
    /// (group, version) -> the remote serving it.
    pub remotes: HashMap<(String, String), Arc<Remote>>,
    /// Every APIService's priorities, local ones included.
    pub priorities: Vec<Priority>,
}

impl Index {
    pub fn remote(&self, group: &str, version: &str) -> Option<&Arc<Remote>> {
        self.remotes.get(&(group.to_string(), version.to_string()))
    }

    /// Whether any version of `group` is served remotely.
    pub fn has_remote_group(&self, group: &str) -> bool {
        self.remotes.keys().any(|(g, _)| g == group)
    }
}

/// The shared, current index.
pub struct Remotes {
    index: RwLock<Arc<Index>>,
    identity: Option<Arc<ClientIdentity>>,
    /// Counts rebuilds, for whoever wants to react to them.
    rebuilt: tokio::sync::watch::Sender<u64>,
}

impl Remotes {
    pub fn current(&self) -> Arc<Index> {
        self.index.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// An index that stays empty (nothing is followed).
    pub fn empty() -> Remotes {
        Remotes {
            index: RwLock::new(Arc::new(Index::default())),
            identity: None,
            rebuilt: tokio::sync::watch::Sender::new(0),
        }
    }

    /// Changes with every rebuild.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.rebuilt.subscribe()
    }

    /// Starts following the APIServices of `server`.
    pub fn follow(server: &ApiServer, identity: Option<ClientIdentity>) -> Arc<Remotes> {
        let remotes = Arc::new(Remotes {
            identity: identity.map(Arc::new),
            ..Remotes::empty()
        });
        let following = remotes.clone();
        let server = server.clone();
        tokio::spawn(async move { following.run(server).await });
        remotes
    }

    async fn run(&self, server: ApiServer) {
        let ctx = server.context();
        let descriptor = apiservices::descriptor();
        let cache = ctx.cache(&descriptor);
        let prefix = ctx.resource_prefix(&descriptor);
        loop {
            if let Err(error) = cache.catch_up(ctx.store.as_ref()).await {
                tracing::warn!(%error, "following APIServices failed; retrying");
                tokio::time::sleep(RETRY).await;
                continue;
            }
            let (items, mut subscription) = cache.snapshot_and_watch(&prefix);
            self.rebuild(ctx, &items);
            loop {
                match subscription.live.recv().await {
                    Ok(_) => {
                        // Events come in bursts; one rebuild covers a burst.
                        while subscription.live.try_recv().is_ok() {}
                        self.rebuild(ctx, &cache.snapshot(&prefix).1);
                    }
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }

    fn rebuild(&self, ctx: &Context, objects: &[Arc<apiserver::watch_cache::CachedObject>]) {
        let previous = self.current();
        let mut next = Index::default();
        for object in objects {
            let Ok(api_service) = object.value() else {
                continue;
            };
            let Some(spec) = api_service.get("spec") else {
                continue;
            };
            let text = |f: &str| {
                spec.get(f)
                    .and_then(Value::as_str)
                    .unwrap_or_default()
                    .to_string()
            };
            let number = |f: &str| spec.get(f).and_then(Value::as_i64).unwrap_or_default();
            let (group, version) = (text("group"), text("version"));
            next.priorities.push(Priority {
                group: group.clone(),
                version: version.clone(),
                group_priority: number("groupPriorityMinimum"),
                version_priority: number("versionPriority"),
            });
            if spec.get("service").is_none_or(Value::is_null) {
                continue;
            }
            let name = object::name(&api_service).to_string();
            let available = apiservices::is_available(&api_service);
            let key = (group.clone(), version.clone());
            let remote = match previous.remotes.get(&key) {
                Some(remote) if remote.name == name && &remote.spec == spec => {
                    remote.available.store(available, Ordering::Relaxed);
                    remote.clone()
                }
                _ => Arc::new(Remote {
                    backend: self.backend(ctx, spec),
                    probe: {
                        let mut unverified = spec.clone();
                        unverified["insecureSkipTLSVerify"] = Value::Bool(true);
                        self.backend(ctx, &unverified)
                    },
                    name,
                    group,
                    version,
                    spec: spec.clone(),
                    available: AtomicBool::new(available),
                    discovery: Mutex::new(None),
                    openapi: Default::default(),
                }),
            };
            next.remotes.insert(key, remote);
        }
        *self.index.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(next);
        self.rebuilt.send_modify(|n| *n += 1);
    }

    fn backend(&self, ctx: &Context, spec: &Value) -> Result<Backend, String> {
        Backend::new(
            spec,
            self.identity.as_deref(),
            ctx.store.clone(),
            &ctx.prefix,
        )
    }
}
