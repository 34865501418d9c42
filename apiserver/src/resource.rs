//! A resource described once: names, scope, verbs and the strategy that
//! gives it behaviour. Discovery, OpenAPI, routing, storage and tables all
//! read this one description; a kind never gets a handler of its own.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::error::ApiError;
use crate::validation::FieldError;

/// The verbs a resource may serve, as discovery names them.
pub const ALL_VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];

/// A served resource at one group/version.
#[derive(Clone)]
pub struct ResourceDescriptor {
    /// API group; empty for the core group.
    pub group: String,
    pub version: String,
    pub kind: String,
    /// The URL segment, e.g. `configmaps`.
    pub plural: String,
    pub singular: String,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    /// Whether `/status` is served (the main endpoint then keeps status).
    pub has_status: bool,
    /// The storage resource: the key is `/<prefix>/<group>/<storage_resource>/...`
    /// with the group segment left out for the core group and for groups
    /// upstream stores without it.
    pub storage_path: String,
    pub strategy: Arc<dyn Strategy>,
}

impl ResourceDescriptor {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// `configmaps` or `deployments.apps`, as upstream names a resource in messages.
    pub fn group_resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.clone()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    pub fn has_verb(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    /// The verbs discovery shows: the served ones, less any the strategy
    /// hides for now (a terminating CRD's resources).
    pub fn discovery_verbs(&self) -> Vec<String> {
        let hidden = self.strategy.hidden_verbs();
        self.verbs
            .iter()
            .filter(|v| !hidden.contains(&v.as_str()))
            .cloned()
            .collect()
    }

    /// Upstream's `storageVersionHash` in discovery: the first 8 bytes of
    /// SHA-256 of `group/version/kind` of the stored form, in base64.
    /// Clients only compare it, to notice storage version changes.
    pub fn storage_version_hash(&self) -> String {
        use base64::Engine;
        use sha2::Digest;
        let stored = self
            .strategy
            .storage_api_version()
            .unwrap_or_else(|| self.api_version());
        let (group, version) = stored.split_once('/').unwrap_or(("", &stored));
        let digest = sha2::Sha256::digest(format!("{group}/{version}/{}", self.kind));
        base64::engine::general_purpose::STANDARD.encode(&digest[..8])
    }

    /// Whether an object stored as `stored_api_version` is served exactly as
    /// stored (so cached bytes can be sent untouched).
    pub fn serves_stored_as_is(&self, stored_api_version: &str) -> bool {
        stored_api_version == self.api_version() && !self.strategy.rewrites_stored()
    }
}

/// One column of a server-side Table, as `meta.k8s.io/v1` TableColumnDefinition.
/// Built-in kinds name theirs with static text; a CRD's printer columns are
/// read from the CRD, hence the `Cow`s.
#[derive(Debug, Clone)]
pub struct Column {
    pub name: Cow<'static, str>,
    pub type_: Cow<'static, str>,
    pub format: Cow<'static, str>,
    pub description: Cow<'static, str>,
    /// 0 shows by default; higher only with `-o wide`.
    pub priority: u32,
}

impl Column {
    pub const fn new(name: &'static str, type_: &'static str, description: &'static str) -> Self {
        Column {
            name: Cow::Borrowed(name),
            type_: Cow::Borrowed(type_),
            format: Cow::Borrowed(""),
            description: Cow::Borrowed(description),
            priority: 0,
        }
    }

    pub const fn wide(mut self) -> Self {
        self.priority = 1;
        self
    }

    pub fn format(mut self, format: &'static str) -> Self {
        self.format = Cow::Borrowed(format);
        self
    }

    pub fn definition(&self) -> Value {
        json!({
            "name": self.name,
            "type": self.type_,
            "format": self.format,
            "description": self.description,
            "priority": self.priority,
        })
    }
}

/// The NAME column every table starts with.
pub const NAME_COLUMN: Column = Column {
    name: Cow::Borrowed("Name"),
    type_: Cow::Borrowed("string"),
    format: Cow::Borrowed("name"),
    priority: 0,
    description: Cow::Borrowed("Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names"),
};

/// The AGE column most tables end with.
pub const AGE_COLUMN: Column = Column::new(
    "Age",
    "string",
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
);

/// What makes one kind behave differently from another. Everything has a
/// default that suits a plain object (a ConfigMap-like kind).
pub trait Strategy: Send + Sync {
    /// Sets defaults and clears what clients may not set, before validation
    /// on create (upstream `PrepareForCreate` plus defaulting).
    fn prepare_for_create(&self, _object: &mut Value) {}

    /// The same on update; `old` is the stored object.
    fn prepare_for_update(&self, _object: &mut Value, _old: &Value) {}

    /// Why `metadata.name` is not a valid name for this kind; most kinds
    /// take DNS subdomains.
    fn name_errors(&self, name: &str) -> Vec<String> {
        crate::validation::dns1123_subdomain_errors(name)
    }

    /// Validates a new object (metadata is validated by the caller).
    fn validate(&self, _object: &Value) -> Vec<FieldError> {
        Vec::new()
    }

    /// Validates an update; by default the same rules as create.
    fn validate_update(&self, object: &Value, _old: &Value) -> Vec<FieldError> {
        self.validate(object)
    }

    /// Whether `metadata.generation` is kept (set to 1 on create and bumped
    /// when anything outside metadata and status changes).
    fn tracks_generation(&self) -> bool {
        false
    }

    /// The part of an object whose change bumps `metadata.generation`:
    /// everything but metadata and status by default.
    fn generation_part(&self, object: &Value) -> Value {
        crate::object::spec_part(object)
    }

    /// Table columns after NAME (include AGE where upstream shows it).
    fn columns(&self) -> Vec<Column> {
        vec![AGE_COLUMN]
    }

    /// Cells for `columns()`, in order (use [`age_cell`] for AGE).
    fn cells(&self, object: &Value) -> Vec<Value> {
        vec![age_cell(object)]
    }

    /// Turns an object of this version into the form kept in storage. Two
    /// versions sharing one storage path (core/v1 and events.k8s.io/v1
    /// Events) convert here; the stored form carries its own apiVersion.
    /// Fails when a conversion that runs elsewhere (a CRD's conversion
    /// webhook) does.
    fn to_stored(&self, object: Value) -> Result<Value, ApiError> {
        Ok(object)
    }

    /// Turns a stored object into this version's form.
    fn read_stored(&self, stored: Value) -> Result<Value, ApiError> {
        Ok(stored)
    }

    /// Field-selector fields beyond metadata.name and metadata.namespace.
    fn selectable_fields(&self, _object: &Value) -> Vec<SelectableField> {
        Vec::new()
    }

    /// For kinds that bring their own schema (custom resources): drops the
    /// fields it does not define and returns their paths (`spec.foo`).
    /// `None` (the default) leaves it to the built-in OpenAPI schemas.
    fn prune(&self, _object: &mut Value) -> Option<Vec<String>> {
        None
    }

    /// The kind's own OpenAPI v3 schema (a CRD version's `openAPIV3Schema`)
    /// to publish; `None` (the default) means k8s-openapi describes it.
    fn openapi_schema(&self) -> Option<&Value> {
        None
    }

    /// `group/version` of the form objects are stored in, when it is not
    /// the resource's own (events.k8s.io/v1 Events are stored as core/v1;
    /// a CRD's non-storage versions).
    fn storage_api_version(&self) -> Option<String> {
        None
    }

    /// Verbs discovery leaves out for now though they are still served.
    fn hidden_verbs(&self) -> &'static [&'static str] {
        &[]
    }

    /// Why this verb, though the resource has it, is refused right now
    /// (a terminating CRD's resources take no creates); `None` to serve it.
    fn refusal(&self, _verb: &str) -> Option<String> {
        None
    }

    /// The warning every response for this resource carries (a deprecated
    /// CRD version's), if any.
    fn deprecation_warning(&self) -> Option<String> {
        None
    }

    /// Whether `read_stored` may change an object already in this
    /// resource's version (a CRD's defaults are applied on every read), so
    /// stored bytes can never be served untouched.
    fn rewrites_stored(&self) -> bool {
        false
    }

    /// Why this object may never be deleted (the system namespaces), if so.
    fn forbid_delete(&self, _object: &Value) -> Option<String> {
        None
    }

    /// Called before a deletion; returns true when the object must stay,
    /// marked with a deletionTimestamp, until something finalizes it (a
    /// Namespace with spec.finalizers). Metadata finalizers are handled
    /// for every kind by the caller.
    fn prepare_for_delete(&self, _object: &mut Value) -> bool {
        false
    }

    /// For kinds that are computed, not stored (SelfSubjectReview, access
    /// reviews): the response to a create, given the caller. `None` (the
    /// default) means the kind is stored as usual.
    fn review(&self, _object: &Value, _user: &crate::server::UserInfo) -> Option<Value> {
        None
    }

    /// Where the scale subresource finds replicas and the selector; `None`
    /// (the default) means the kind has no `/scale`.
    fn scale(&self) -> Option<ScaleSpec> {
        None
    }

    /// Objects of this kind expire this long after their last write (events).
    fn ttl(&self) -> Option<Duration> {
        None
    }
}

/// A field-selector field and its value in one object.
pub type SelectableField = (Cow<'static, str>, String);

/// Where a kind keeps what `/scale` shows (JSON pointers into the object).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScaleSpec {
    /// e.g. `/spec/replicas`.
    pub spec_replicas: String,
    /// e.g. `/status/replicas`.
    pub status_replicas: String,
    /// Where the selector is, and in which form.
    pub selector: ScaleSelector,
}

/// How a kind exposes the label selector Scale reports in `status.selector`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleSelector {
    /// None (a CRD scale subresource without labelSelectorPath).
    None,
    /// A `metav1.LabelSelector` object at this pointer (Deployment's
    /// `/spec/selector`), shown in its string form.
    LabelSelectorAt(String),
    /// A selector string already at this pointer (a CRD's labelSelectorPath).
    StringAt(String),
}

/// The strategy of a plain kind with no rules of its own.
pub struct PlainStrategy;

impl Strategy for PlainStrategy {}

/// The AGE cell: time since `metadata.creationTimestamp`, as kubectl shows it.
pub fn age_cell(object: &Value) -> Value {
    let created = object
        .pointer("/metadata/creationTimestamp")
        .and_then(Value::as_str)
        .and_then(age_since);
    Value::String(created.unwrap_or_else(|| "<unknown>".into()))
}

/// The human age of an RFC 3339 time (`5m`), as kubectl shows ages; `None`
/// when the text is not such a time.
pub fn age_since(time: &str) -> Option<String> {
    let t = chrono::DateTime::parse_from_rfc3339(time).ok()?;
    let seconds = (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds();
    Some(human_duration(seconds))
}

/// Upstream's `duration.HumanDuration`: two significant units at most.
pub fn human_duration(seconds: i64) -> String {
    if seconds < 0 {
        return "<invalid>".into();
    }
    let (s, m, h, d) = (seconds, seconds / 60, seconds / 3600, seconds / 86400);
    if s < 120 {
        return format!("{s}s");
    }
    if m < 10 {
        return if s % 60 == 0 {
            format!("{m}m")
        } else {
            format!("{m}m{}s", s % 60)
        };
    }
    if m < 180 {
        return format!("{m}m");
    }
    if h < 8 {
        return if m % 60 == 0 {
            format!("{h}h")
        } else {
            format!("{h}h{}m", m % 60)
        };
    }
    if h < 48 {
        return format!("{h}h");
    }
    if h < 24 * 8 {
        return if h % 24 == 0 {
            format!("{d}d")
        } else {
            format!("{d}d{}h", h % 24)
        };
    }
    if h < 24 * 365 * 2 {
        return format!("{d}d");
    }
    let y = d / 365;
    if h < 24 * 365 * 8 {
        let rest = d % 365;
        return if rest == 0 {
            format!("{y}y")
        } else {
            format!("{y}y{rest}d")
        };
    }
    format!("{y}y")
}
