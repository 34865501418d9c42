//! The CRD controller: follows the CustomResourceDefinitions in the watch
//! cache and makes the server serve what they define.
//!
//! For each CRD, as upstream's naming, establishing and finalizer
//! controllers do together:
//! - decides whether its names are free in its group (NamesAccepted, with
//!   acceptedNames) and, once they are, marks it Established;
//! - registers one resource per served version (schema, CEL rules, columns
//!   compiled here, once per CRD generation) before Established is written,
//!   so a client that saw Established can use the resource at once;
//! - on deletion, stops creates, deletes every custom resource, then lets
//!   the CRD go.
//!
//! Work is driven by cache events; a lagged subscription or a failed write
//! falls back to a full pass over every CRD.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use apiserver::handlers::{delete_object, Context};
use apiserver::object;
use apiserver::registry::version_priority;
use apiserver::resource::{ResourceDescriptor, ALL_VERBS};
use apiserver::server::ApiServer;
use apiserver::storage::StoreError;
use apiserver::watch_cache::{CacheEvent, EventType};
use serde_json::{json, Value};
use tokio::sync::broadcast::error::RecvError;

use crate::cel::Rules;
use crate::conversion::Conversion;
use crate::crd_validation::{self, ClaimedNames, Condition, ESTABLISHED};
use crate::custom_resource::{self, CustomResourceStrategy};
use crate::definition::{self, CLEANUP_FINALIZER};
use crate::jsonpath::JsonPath;
use crate::schema::Schema;

/// How long to wait before a full pass after something failed, and between
/// sweeps of a terminating CRD's remaining custom resources.
const RETRY: Duration = Duration::from_secs(1);

pub fn spawn(server: ApiServer) {
    let controller = Controller {
        crds: Arc::new(definition::descriptor()),
        server,
        known: HashMap::new(),
        cleaning: Arc::new(Mutex::new(HashSet::new())),
    };
    tokio::spawn(controller.run());
}

/// What the controller remembers of one CRD.
struct Known {
    group: String,
    /// `status.acceptedNames`: the names it holds, even when some other
    /// name it asked for is taken.
    accepted_names: Value,
    /// Whether every name it asked for is accepted.
    fully_accepted: bool,
    /// What the registered resources were built from.
    served: Option<ServedKey>,
    /// (group, version, plural) of every registered resource.
    registered: Vec<(String, String, String)>,
}

/// Registered resources are rebuilt when any of this changes.
#[derive(Clone, PartialEq, Eq)]
struct ServedKey {
    uid: String,
    generation: i64,
    terminating: bool,
}

struct Controller {
    server: ApiServer,
    crds: Arc<ResourceDescriptor>,
    known: HashMap<String, Known>,
    /// CRDs whose custom resources are being deleted by a task.
    cleaning: Arc<Mutex<HashSet<String>>>,
}

impl Controller {
    fn ctx(&self) -> &Context {
        self.server.context()
    }

    async fn run(mut self) {
        let cache = self.ctx().cache(&self.crds);
        let prefix = self.ctx().resource_prefix(&self.crds);
        loop {
            if cache.catch_up(self.ctx().store.as_ref()).await.is_err() {
                tokio::time::sleep(RETRY).await;
                continue;
            }
            let (items, mut subscription) = cache.snapshot_and_watch(&prefix);
            let mut healthy = self
                .full_pass(items.iter().filter_map(|i| i.value().ok()))
                .await;
            loop {
                let event = if healthy {
                    subscription.live.recv().await
                } else {
                    tokio::select! {
                        event = subscription.live.recv() => event,
                        _ = tokio::time::sleep(RETRY) => break,
                    }
                };
                match event {
                    Ok(event) => healthy &= self.on_event(&event).await,
                    Err(RecvError::Lagged(_)) => break,
                    Err(RecvError::Closed) => return,
                }
            }
        }
    }

    /// Reconciles every CRD, forgetting those that are gone. False when
    /// something failed and should be tried again.
    async fn full_pass(&mut self, crds: impl Iterator<Item = Value>) -> bool {
        let crds: Vec<Value> = crds.collect();
        let present: HashSet<String> = crds.iter().map(|c| object::name(c).to_string()).collect();
        let gone: Vec<String> = self
            .known
            .keys()
            .filter(|name| !present.contains(*name))
            .cloned()
            .collect();
        for name in gone {
            self.forget(&name);
        }
        let mut healthy = true;
        // Older CRDs first: on a name conflict the first one keeps its names.
        let mut crds = crds;
        crds.sort_by(|a, b| {
            let created = |c: &Value| object::meta_str(c, "creationTimestamp").map(str::to_string);
            created(a).cmp(&created(b))
        });
        for crd in crds {
            healthy &= self.reconcile(crd).await;
        }
        healthy
    }

    async fn on_event(&mut self, event: &CacheEvent) -> bool {
        let Ok(crd) = event.object.value() else {
            return false;
        };
        if event.kind != EventType::Deleted {
            return self.reconcile(crd).await;
        }
        let name = object::name(&crd).to_string();
        let group = self.known.get(&name).map(|k| k.group.clone());
        self.forget(&name);
        // Names it held may now be free for another CRD of its group.
        let Some(group) = group else {
            return true;
        };
        let waiting: Vec<String> = self
            .known
            .iter()
            .filter(|(_, k)| k.group == group && !k.fully_accepted)
            .map(|(n, _)| n.clone())
            .collect();
        let mut healthy = true;
        for other in waiting {
            let key = format!("{}{other}", self.ctx().resource_prefix(&self.crds));
            if let Some(Ok(crd)) = self.ctx().cache(&self.crds).get(&key).map(|c| c.value()) {
                healthy &= self.reconcile(crd).await;
            }
        }
        healthy
    }

    /// Stops serving a CRD's resources, and stops their watch cache (all
    /// versions share one storage path).
    fn forget(&mut self, name: &str) {
        let Some(known) = self.known.remove(name) else {
            return;
        };
        let snapshot = self.ctx().registry.snapshot();
        let served = known
            .registered
            .iter()
            .find_map(|(g, v, p)| snapshot.lookup(g, v, p));
        self.unregister(&known.registered);
        if let Some(descriptor) = served {
            self.ctx().forget_cache(&descriptor);
        }
    }

    fn unregister(&self, registered: &[(String, String, String)]) {
        if registered.is_empty() {
            return;
        }
        self.ctx().registry.replace(
            |d| {
                registered
                    .iter()
                    .any(|(g, v, p)| &d.group == g && &d.version == v && &d.plural == p)
            },
            Vec::new(),
        );
    }

    /// Brings one CRD's status and served resources in line with its spec.
    async fn reconcile(&mut self, crd: Value) -> bool {
        let name = object::name(&crd).to_string();
        let group = crd
            .pointer("/spec/group")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let terminating = object::is_deleting(&crd);
        if terminating
            && object::finalizers(&crd)
                .iter()
                .any(|f| f == CLEANUP_FINALIZER)
        {
            self.start_cleanup(&name);
        }

        let claimed = self.claimed_in_group(&group, &name);
        let verdict = crd_validation::names_accepted(&crd, &claimed);
        let mut next = crd.clone();
        let now = object::now_timestamp();
        crd_validation::set_condition(&mut next, &verdict.condition(), &now);
        // Names that conflict keep what was accepted before; the rest are
        // accepted even when another one conflicts, as upstream.
        next["status"]["acceptedNames"] = verdict.accepted_names.clone();
        if verdict.accepted {
            // One server: nothing else has to agree before serving.
            crd_validation::set_condition(&mut next, &Condition::established(), &now);
        } else {
            crd_validation::set_condition(&mut next, &verdict.established_condition(&crd), &now);
        }
        let serve = crd_validation::is_condition_true(&next, ESTABLISHED);

        let mut healthy = true;
        let key = ServedKey {
            uid: object::uid(&crd).to_string(),
            generation: crd
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .unwrap_or(0),
            terminating,
        };
        let known = self.known.remove(&name);
        let (served, registered) = match known {
            Some(k) if serve && k.served.as_ref() == Some(&key) => (k.served, k.registered),
            previous => {
                let old = previous.map(|k| k.registered).unwrap_or_default();
                if serve {
                    let store = self.ctx().store.clone();
                    match served_resources(&crd, terminating, store, &self.ctx().prefix) {
                        Ok(descriptors) => {
                            let now: Vec<(String, String, String)> = descriptors
                                .iter()
                                .map(|d| (d.group.clone(), d.version.clone(), d.plural.clone()))
                                .collect();
                            self.ctx().registry.replace(
                                |d| {
                                    old.iter().any(|(g, v, p)| {
                                        &d.group == g && &d.version == v && &d.plural == p
                                    })
                                },
                                descriptors,
                            );
                            (Some(key), now)
                        }
                        Err(error) => {
                            tracing::warn!(crd = %name, %error, "cannot serve this CRD");
                            self.unregister(&old);
                            (None, Vec::new())
                        }
                    }
                } else {
                    self.unregister(&old);
                    (None, Vec::new())
                }
            }
        };
        self.known.insert(
            name.clone(),
            Known {
                group,
                accepted_names: verdict.accepted_names.clone(),
                fully_accepted: verdict.accepted,
                served,
                registered,
            },
        );

        if next.get("status") != crd.get("status") {
            healthy &= self.write(&name, &crd, next).await;
        }
        healthy
    }

    /// The names other CRDs of the group hold.
    fn claimed_in_group(&self, group: &str, except: &str) -> ClaimedNames {
        let mut claimed = ClaimedNames::default();
        for (name, known) in &self.known {
            if name == except || known.group != group {
                continue;
            }
            let names = &known.accepted_names;
            let text = |field: &str| {
                names
                    .get(field)
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
            };
            claimed.plurals.extend(text("plural"));
            claimed.singulars.extend(text("singular"));
            claimed.kinds.extend(text("kind"));
            claimed.list_kinds.extend(text("listKind"));
            if let Some(short) = names.get("shortNames").and_then(Value::as_array) {
                claimed
                    .short_names
                    .extend(short.iter().filter_map(Value::as_str).map(str::to_string));
            }
        }
        claimed
    }

    /// Writes a CRD's new status over the revision it was read at. A lost
    /// race is fine: the newer CRD brings its own event.
    async fn write(&self, name: &str, current: &Value, mut next: Value) -> bool {
        let key = format!("{}{name}", self.ctx().resource_prefix(&self.crds));
        let Ok(revision) = object::resource_version(current).parse::<i64>() else {
            return false;
        };
        object::remove_meta(&mut next, "resourceVersion");
        let Ok(bytes) = serde_json::to_vec(&next) else {
            return false;
        };
        match self.ctx().store.update(&key, bytes.into(), revision).await {
            Ok(_) | Err(StoreError::Conflict { .. }) | Err(StoreError::NotFound { .. }) => true,
            Err(error) => {
                tracing::warn!(crd = %name, %error, "writing the CRD's status failed");
                false
            }
        }
    }

    fn start_cleanup(&self, name: &str) {
        let mut cleaning = self.cleaning.lock().unwrap_or_else(|p| p.into_inner());
        if !cleaning.insert(name.to_string()) {
            return;
        }
        let server = self.server.clone();
        let cleaning = self.cleaning.clone();
        let name = name.to_string();
        tokio::spawn(async move {
            loop {
                match clean_up(server.context(), &name).await {
                    Ok(true) => break,
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(crd = %name, %error, "deleting the CRD's custom resources failed")
                    }
                }
                tokio::time::sleep(RETRY).await;
            }
            cleaning
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&name);
        });
    }
}

/// One sweep of a terminating CRD: deletes its custom resources and, when
/// none is left, drops the cleanup finalizer (deleting the CRD when it was
/// the last). True when the CRD needs nothing more.
async fn clean_up(ctx: &Context, name: &str) -> Result<bool, String> {
    let crds = definition::descriptor();
    let crd_key = format!("{}{name}", ctx.resource_prefix(&crds));
    let Some(kv) = ctx.store.get(&crd_key).await.map_err(|e| e.to_string())? else {
        return Ok(true);
    };
    let mut crd: Value = serde_json::from_slice(&kv.value).map_err(|e| e.to_string())?;
    if !object::finalizers(&crd)
        .iter()
        .any(|f| f == CLEANUP_FINALIZER)
    {
        return Ok(true);
    }
    let mut revision = kv.mod_revision;
    // Say the deletion is under way before it starts, as upstream does.
    let mut in_progress = crd.clone();
    crd_validation::set_condition(
        &mut in_progress,
        &Condition::deletion_in_progress(),
        &object::now_timestamp(),
    );
    if in_progress != crd {
        let bytes = serde_json::to_vec(&in_progress).map_err(|e| e.to_string())?;
        match ctx.store.update(&crd_key, bytes.into(), revision).await {
            Ok(written) => {
                revision = written;
                crd = in_progress;
            }
            Err(StoreError::Conflict { .. }) => return Ok(false),
            Err(e) => return Err(e.to_string()),
        }
    }
    let group = crd
        .pointer("/spec/group")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let plural = crd
        .pointer("/spec/names/plural")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let prefix = format!("{}/{group}/{plural}/", ctx.prefix);
    // The storage version when served: reading through it converts nothing
    // (no webhook has to be up for the cleanup).
    let storage = crd_validation::storage_version(&crd).unwrap_or_default();
    let mut candidates: Vec<_> = ctx
        .registry
        .snapshot()
        .resources()
        .into_iter()
        .filter(|d| d.group == group && d.plural == plural)
        .collect();
    candidates.sort_by_key(|d| d.version != storage);
    let served = candidates.into_iter().next();
    let page = ctx
        .store
        .list(&prefix, None, 0, 0)
        .await
        .map_err(|e| e.to_string())?;
    if let Some(descriptor) = &served {
        for item in &page.items {
            let Ok(value) = serde_json::from_slice::<Value>(&item.value) else {
                continue;
            };
            let namespace = Some(object::namespace(&value)).filter(|n| !n.is_empty());
            // Failures show up as objects still there below.
            let _ = delete_object(
                ctx,
                descriptor,
                namespace,
                object::name(&value),
                false,
                |_| Ok(()),
            )
            .await;
        }
    }
    let remaining = ctx
        .store
        .list(&prefix, None, 0, 0)
        .await
        .map_err(|e| e.to_string())?
        .items
        .len();
    let gone = remaining == 0;
    if !gone {
        return Ok(false);
    }
    let mut next = crd.clone();
    let finalizers: Vec<String> = object::finalizers(&crd)
        .into_iter()
        .filter(|f| f != CLEANUP_FINALIZER)
        .collect();
    let result = if finalizers.is_empty() {
        ctx.store.delete(&crd_key, revision).await.map(drop)
    } else {
        object::set_meta(&mut next, "finalizers", json!(finalizers));
        let bytes = serde_json::to_vec(&next).map_err(|e| e.to_string())?;
        ctx.store
            .update(&crd_key, bytes.into(), revision)
            .await
            .map(drop)
    };
    match result {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict { .. }) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

/// A deprecated version's warning: its own text, or upstream's default,
/// which points at the newest served, not deprecated, newer version.
fn deprecation(crd: &Value, version: &Value, group: &str, kind: &str) -> Option<String> {
    if version.get("deprecated").and_then(Value::as_bool) != Some(true) {
        return None;
    }
    if let Some(text) = version.get("deprecationWarning").and_then(Value::as_str) {
        return Some(text.to_string());
    }
    let name = version
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let mut warning = format!("{group}/{name} {kind} is deprecated");
    let newer = definition::versions(crd)
        .into_iter()
        .filter(|v| v.get("served").and_then(Value::as_bool) == Some(true))
        .filter(|v| v.get("deprecated").and_then(Value::as_bool) != Some(true))
        .filter_map(|v| v.get("name").and_then(Value::as_str).map(str::to_string))
        .filter(|v| version_priority(v) > version_priority(name))
        .max_by_key(|v| version_priority(v));
    if let Some(newer) = newer {
        warning.push_str(&format!("; use {group}/{newer} {kind}"));
    }
    Some(warning)
}

/// One resource per served version of an established CRD.
fn served_resources(
    crd: &Value,
    terminating: bool,
    store: Arc<dyn apiserver::storage::Store>,
    prefix: &str,
) -> Result<Vec<ResourceDescriptor>, String> {
    let text = |pointer: &str| {
        crd.pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let list = |pointer: &str| -> Vec<String> {
        crd.pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    };
    let group = text("/spec/group");
    let plural = text("/spec/names/plural");
    let kind = text("/spec/names/kind");
    let singular = match text("/spec/names/singular") {
        s if s.is_empty() => kind.to_lowercase(),
        s => s,
    };
    let storage = crd_validation::storage_version(crd).ok_or("no storage version")?;
    let verbs: Vec<String> = ALL_VERBS.iter().map(|v| v.to_string()).collect();
    let conversion = Arc::new(Conversion::of(crd, store, prefix));
    let mut out = Vec::new();
    for (i, version) in definition::versions(crd).iter().enumerate() {
        if version.get("served").and_then(Value::as_bool) != Some(true) {
            continue;
        }
        let name = version
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let schema_json = version
            .pointer("/schema/openAPIV3Schema")
            .cloned()
            .unwrap_or_else(
                || json!({"type": "object", "x-kubernetes-preserve-unknown-fields": true}),
            );
        let base = format!("spec.versions[{i}].schema.openAPIV3Schema");
        let schema = Schema::compile(&schema_json, &base).map_err(|e| format!("{e:?}"))?;
        let rules = Rules::compile(&schema_json, &base).map_err(|e| format!("{e:?}"))?;
        let selectable = version
            .get("selectableFields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|f| f.get("jsonPath").and_then(Value::as_str))
            .filter_map(|p| {
                Some((
                    p.trim_start_matches('.').to_string(),
                    JsonPath::parse(p).ok()?,
                ))
            })
            .collect();
        let strategy = CustomResourceStrategy {
            api_version: format!("{group}/{name}"),
            storage_api_version: format!("{group}/{storage}"),
            schema: Arc::new(schema),
            schema_json,
            rules: Arc::new(rules),
            has_status: version
                .pointer("/subresources/status")
                .is_some_and(Value::is_object),
            scale: version
                .pointer("/subresources/scale")
                .and_then(custom_resource::scale_spec),
            columns: custom_resource::printer_columns(version),
            selectable,
            deprecation: deprecation(crd, version, &group, &kind),
            terminating,
            kind: kind.clone(),
            conversion: conversion.clone(),
        };
        out.push(ResourceDescriptor {
            group: group.clone(),
            version: name,
            kind: kind.clone(),
            plural: plural.clone(),
            singular: singular.clone(),
            short_names: list("/spec/names/shortNames"),
            categories: list("/spec/names/categories"),
            namespaced: text("/spec/scope") != "Cluster",
            verbs: verbs.clone(),
            has_status: strategy.has_status,
            storage_path: format!("{group}/{plural}"),
            strategy: Arc::new(strategy),
        });
    }
    Ok(out)
}
