//! The OpenAPI documents as served while the set of resources changes.
//!
//! Built-in kinds never change at run time: their documents (and the schema
//! pool pruning reads) are built once, on first use. Kinds that bring their
//! own schema (custom resources) come and go with their CRDs, so each of
//! their group/versions gets a document of its own, built when first asked
//! for after a change and kept until its inputs change again. A CRD change
//! therefore costs one small document, never a rebuild of everything; only
//! `/openapi/v2`, one document for all, is rebuilt whole (on request).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha512};

use super::{operations, OpenApi};
use crate::error::ApiError;
use crate::registry::{Registry, RegistrySnapshot};
use crate::resource::ResourceDescriptor;

/// A resource that publishes its own schema, with that schema.
type Custom = (ResourceDescriptor, Value);

/// What the custom group/versions of one registry generation look like.
struct CustomView {
    generation: u64,
    /// `apis/<group>/<version>` -> its resources and their fingerprint.
    by_path: BTreeMap<String, (Vec<Custom>, String)>,
    /// `/openapi/v3`, with the built-in and custom entries.
    index: Bytes,
}

#[derive(Default)]
pub struct Published {
    builtin: tokio::sync::OnceCell<Arc<OpenApi>>,
    /// The custom view of the newest registry generation asked about.
    view: Mutex<Option<Arc<CustomView>>>,
    /// Built custom documents by path, with the fingerprint they were
    /// built from.
    documents: Mutex<HashMap<String, (String, Bytes)>>,
    /// `/openapi/v2` with the generation it was built for.
    v2: Mutex<Option<(u64, Bytes)>>,
}

impl Published {
    /// The documents of the built-in kinds (those without a schema of their
    /// own), built on the blocking pool the first time anyone needs them.
    pub async fn builtin(&self, registry: &Registry) -> Result<Arc<OpenApi>, ApiError> {
        self.builtin
            .get_or_try_init(|| async {
                let resources: Vec<ResourceDescriptor> = registry
                    .snapshot()
                    .resources()
                    .iter()
                    .filter(|r| r.strategy.openapi_schema().is_none())
                    .map(|r| (**r).clone())
                    .collect();
                blocking(move || Arc::new(OpenApi::build(&resources))).await
            })
            .await
            .cloned()
    }

    /// `/openapi/v3`: where each group/version's document is.
    pub async fn v3_index(&self, registry: &Registry) -> Result<Bytes, ApiError> {
        Ok(self.view(registry).await?.index.clone())
    }

    /// `/openapi/v3/<path>`.
    pub async fn v3_document(
        &self,
        registry: &Registry,
        path: &str,
    ) -> Result<Option<Bytes>, ApiError> {
        let view = self.view(registry).await?;
        let Some((customs, fingerprint)) = view.by_path.get(path) else {
            return Ok(self.builtin(registry).await?.v3_group_version(path));
        };
        if let Some((built_from, bytes)) = lock(&self.documents).get(path) {
            if built_from == fingerprint {
                return Ok(Some(bytes.clone()));
            }
        }
        let customs = customs.clone();
        let document_path = path.to_string();
        let bytes = blocking(move || {
            OpenApi::build_with_extra(&[], &customs).v3_group_version(&document_path)
        })
        .await?
        .ok_or_else(|| ApiError::Internal(format!("no OpenAPI document was built for {path}")))?;
        lock(&self.documents).insert(path.to_string(), (fingerprint.clone(), bytes.clone()));
        Ok(Some(bytes))
    }

    /// `/openapi/v2`: every kind in one document.
    pub async fn v2(&self, registry: &Registry) -> Result<Bytes, ApiError> {
        let snapshot = registry.snapshot();
        let (builtin, customs) = split(&snapshot);
        if customs.is_empty() {
            return Ok(self.builtin(registry).await?.v2());
        }
        if let Some((generation, bytes)) = lock(&self.v2).as_ref() {
            if *generation == snapshot.generation() {
                return Ok(bytes.clone());
            }
        }
        let bytes = blocking(move || OpenApi::build_with_extra(&builtin, &customs).v2()).await?;
        *lock(&self.v2) = Some((snapshot.generation(), bytes.clone()));
        Ok(bytes)
    }

    /// The custom group/versions of the registry's current generation.
    async fn view(&self, registry: &Registry) -> Result<Arc<CustomView>, ApiError> {
        let snapshot = registry.snapshot();
        if let Some(view) = lock(&self.view).as_ref() {
            if view.generation == snapshot.generation() {
                return Ok(view.clone());
            }
        }
        let builtin = self.builtin(registry).await?;
        let (_, customs) = split(&snapshot);
        let mut by_path: BTreeMap<String, (Vec<Custom>, String)> = BTreeMap::new();
        for custom in customs {
            let path = operations::group_version_prefix(&custom.0.group, &custom.0.version)[1..]
                .to_owned();
            by_path.entry(path).or_default().0.push(custom);
        }
        for (customs, fingerprint) in by_path.values_mut() {
            *fingerprint = fingerprint_of(customs);
        }
        let index = index(&builtin, &by_path);
        let view = Arc::new(CustomView {
            generation: snapshot.generation(),
            by_path,
            index,
        });
        lock(&self.documents).retain(|path, _| view.by_path.contains_key(path));
        *lock(&self.view) = Some(view.clone());
        Ok(view)
    }
}

/// The built-in resources, and the custom ones with their schemas.
fn split(snapshot: &RegistrySnapshot) -> (Vec<ResourceDescriptor>, Vec<Custom>) {
    let mut builtin = Vec::new();
    let mut customs = Vec::new();
    for resource in snapshot.resources() {
        match resource.strategy.openapi_schema() {
            Some(schema) => customs.push(((*resource).clone(), schema.clone())),
            None => builtin.push((*resource).clone()),
        }
    }
    (builtin, customs)
}

/// Changes whenever anything a custom document is built from changes; it is
/// the `hash` in the index's URLs, as the document's own hash is upstream.
fn fingerprint_of(customs: &[Custom]) -> String {
    let mut hasher = Sha512::new();
    for (descriptor, schema) in customs {
        let inputs = json!([
            descriptor.kind,
            descriptor.plural,
            descriptor.namespaced,
            descriptor.has_status,
            descriptor.strategy.scale().is_some(),
            descriptor.verbs,
            schema,
        ]);
        hasher.update(serde_json::to_vec(&inputs).unwrap_or_default());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02X}"))
        .collect()
}

fn index(builtin: &OpenApi, custom: &BTreeMap<String, (Vec<Custom>, String)>) -> Bytes {
    let mut paths: Map<String, Value> = builtin.v3_paths().collect();
    for (path, (_, fingerprint)) in custom {
        let url = format!("/openapi/v3/{path}?hash={fingerprint}");
        paths.insert(path.clone(), json!({ "serverRelativeURL": url }));
    }
    let value = json!({ "paths": paths });
    Bytes::from(serde_json::to_vec(&value).expect("a JSON value always serializes"))
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ApiError::Internal(format!("building the OpenAPI documents failed: {e}")))
}

/// The locks guard plain maps and are never held across an await.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}
