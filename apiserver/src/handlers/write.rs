//! create, update, patch, delete and deletecollection. Every write goes
//! through the same steps: decode, admit (namespace lifecycle), prepare
//! (strategy defaults), validate, then one compare-and-swap in the store.
//! Nothing is written when any step fails, or when the request is a dry run.

use serde_json::{json, Value};

use super::read::load;
use super::respond::{self, internal};
use super::scale;
use super::{with_warnings, Call, Context};
use crate::apply;
use crate::error::ApiError;
use crate::object;
use crate::patch;
use crate::pruning;
use crate::resource::ResourceDescriptor;
use crate::storage::{KeyValue, StoreError};
use crate::validation::{self, FieldError};

/// How often an update without a resourceVersion retries a lost race.
const MAX_RETRIES: usize = 8;

/// Characters upstream uses for generateName suffixes (no vowels, no
/// look-alikes).
const NAME_ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

fn random_suffix() -> String {
    let bytes = uuid::Uuid::new_v4().into_bytes();
    bytes[..5]
        .iter()
        .map(|b| NAME_ALPHABET[*b as usize % NAME_ALPHABET.len()] as char)
        .collect()
}

/// Checks the body's apiVersion/kind against the URL, filling them when
/// absent as upstream's decoder defaults them from the path.
fn check_type(descriptor: &ResourceDescriptor, object: &mut Value) -> Result<(), ApiError> {
    let api_version = descriptor.api_version();
    let map = object
        .as_object_mut()
        .ok_or_else(|| ApiError::BadRequest("the body must be an object".into()))?;
    match map.get("apiVersion").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("apiVersion".into(), json!(api_version));
        }
        Some(v) if v == api_version => {}
        Some(v) => {
            return Err(ApiError::BadRequest(format!(
                "the API version in the data ({v}) does not match the expected API version ({api_version})"
            )))
        }
    }
    match map.get("kind").and_then(Value::as_str) {
        None | Some("") => {
            map.insert("kind".into(), json!(descriptor.kind));
        }
        Some(k) if k == descriptor.kind => {}
        Some(k) => {
            return Err(ApiError::BadRequest(format!(
                "the kind in the data ({k}) does not match the expected kind ({})",
                descriptor.kind
            )))
        }
    }
    Ok(())
}

/// Namespace lifecycle admission: the namespace must exist and not be
/// terminating.
async fn admit_namespace(ctx: &Context, call: &Call, name: &str) -> Result<(), ApiError> {
    let Some(namespace) = call.namespace() else {
        return Ok(());
    };
    let key = format!("{}/namespaces/{namespace}", ctx.prefix);
    // The namespace cache answers most of the time, as upstream's informer
    // does; one it has not seen yet (just created) is read from the store.
    let cached = ctx
        .registry
        .snapshot()
        .lookup("", "v1", "namespaces")
        .and_then(|d| ctx.cache(&d).get(&key));
    let ns: Value = match cached {
        Some(cached) => cached.value()?,
        None => match ctx.store.get(&key).await? {
            Some(kv) => serde_json::from_slice(&kv.value).map_err(internal)?,
            None => return Err(ApiError::not_found("namespaces", namespace)),
        },
    };
    if object::is_deleting(&ns) {
        return Err(ApiError::NamespaceTerminating {
            resource: call.descriptor.group_resource(),
            name: name.to_string(),
            namespace: namespace.to_string(),
        });
    }
    Ok(())
}

fn invalid(descriptor: &ResourceDescriptor, object: &Value, causes: Vec<FieldError>) -> ApiError {
    let kind = if descriptor.group.is_empty() {
        descriptor.kind.clone()
    } else {
        format!("{}.{}", descriptor.kind, descriptor.group)
    };
    ApiError::invalid(kind, object::name(object), causes)
}

/// Serialises the stored form: the descriptor's conversion, and no
/// resourceVersion (the store's revision is the version).
fn stored_bytes(descriptor: &ResourceDescriptor, object: &Value) -> Result<bytes::Bytes, ApiError> {
    let mut stored = descriptor.strategy.to_stored(object.clone())?;
    object::remove_meta(&mut stored, "resourceVersion");
    Ok(bytes::Bytes::from(
        serde_json::to_vec(&stored).map_err(internal)?,
    ))
}

fn store_conflict(descriptor: &ResourceDescriptor, name: &str) -> ApiError {
    ApiError::Conflict {
        resource: descriptor.group_resource(),
        name: name.to_string(),
        detail: "the object has been modified; please apply your changes to the latest version and try again".into(),
    }
}

pub async fn create(ctx: &Context, call: &Call) -> Result<http::Response<super::Body>, ApiError> {
    if call.request.subresource.is_some() || call.request.name.is_some() {
        return Err(ApiError::MethodNotAllowed);
    }
    let object = call.decode_body()?;
    create_object(ctx, call, object).await
}

/// Creates `object` (a decoded body, or a server-side apply's result).
async fn create_object(
    ctx: &Context,
    call: &Call,
    mut object: Value,
) -> Result<http::Response<super::Body>, ApiError> {
    let descriptor = &call.descriptor;
    check_type(descriptor, &mut object)?;
    if let Some(answer) = descriptor.strategy.review(&object, &call.user) {
        return respond::object(call, 201, &answer);
    }
    let warnings = unknown_fields(ctx, call, &mut object).await?;
    match (call.namespace(), object::namespace(&object)) {
        (Some(url), body) if !body.is_empty() && body != url => return Err(ApiError::BadRequest(
            "the namespace of the provided object does not match the namespace sent on the request"
                .into(),
        )),
        (Some(url), _) => object::set_meta(&mut object, "namespace", json!(url)),
        (None, _) => object::remove_meta(&mut object, "namespace"),
    }
    if object::name(&object).is_empty() {
        if let Some(base) = object::meta_str(&object, "generateName").map(str::to_string) {
            if !base.is_empty() {
                object::set_meta(
                    &mut object,
                    "name",
                    json!(format!("{base}{}", random_suffix())),
                );
            }
        }
    }
    let name = object::name(&object).to_string();
    admit_namespace(ctx, call, &name).await?;
    for field in [
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
    ] {
        object::remove_meta(&mut object, field);
    }
    object::set_meta(&mut object, "uid", json!(uuid::Uuid::new_v4().to_string()));
    object::set_meta(
        &mut object,
        "creationTimestamp",
        json!(object::now_timestamp()),
    );
    if descriptor.strategy.tracks_generation() {
        object::set_meta(&mut object, "generation", json!(1));
    } else {
        object::remove_meta(&mut object, "generation");
    }
    descriptor.strategy.prepare_for_create(&mut object);
    let mut errors = descriptor.strategy.validate(&object);
    errors.splice(
        0..0,
        validation::descriptor_meta_errors(descriptor, &object, &errors),
    );
    if !errors.is_empty() {
        return Err(invalid(descriptor, &object, errors));
    }
    if call.query.dry_run {
        return respond::object(call, 201, &object).map(|r| with_warnings(r, &warnings));
    }
    let key = ctx.key(descriptor, call.namespace(), &name);
    let revision = match ctx
        .store
        .create(
            &key,
            stored_bytes(descriptor, &object)?,
            descriptor.strategy.ttl(),
        )
        .await
    {
        Ok(rev) => rev,
        Err(StoreError::AlreadyExists { .. }) => {
            return Err(ApiError::AlreadyExists {
                resource: descriptor.group_resource(),
                name,
            })
        }
        Err(e) => return Err(e.into()),
    };
    object::set_meta(&mut object, "resourceVersion", json!(revision.to_string()));
    respond::object(call, 201, &object).map(|r| with_warnings(r, &warnings))
}

/// Checks value types against the kind's schema (a wrong type is a 400, as
/// upstream's typed decode) and drops the fields the kind does not define:
/// `fieldValidation=Strict` refuses them; `Warn` (the default) names them
/// in warnings; `Ignore` drops them silently.
async fn unknown_fields(
    ctx: &Context,
    call: &Call,
    object: &mut Value,
) -> Result<Vec<String>, ApiError> {
    let mode = call.query.field_validation.as_str();
    if !matches!(mode, "" | "Strict" | "Warn" | "Ignore") {
        return Err(ApiError::BadRequest(format!(
            "fieldValidation: Unsupported value: \"{mode}\": supported values: \"Ignore\", \"Strict\", \"Warn\""
        )));
    }
    let d = &call.descriptor;
    let unknown = match d.strategy.prune(object) {
        Some(unknown) => unknown,
        None => {
            let openapi = ctx.builtin_openapi().await?;
            let Some(checked) = openapi.prune(&d.group, &d.version, &d.kind, object) else {
                return Ok(Vec::new());
            };
            checked.map_err(|mismatch| {
                ApiError::BadRequest(format!(
                    "{kind} in version \"{version}\" cannot be handled as a {kind}: {mismatch}",
                    kind = d.kind,
                    version = d.version
                ))
            })?
        }
    };
    if unknown.is_empty() {
        return Ok(Vec::new());
    }
    match mode {
        "Strict" => Err(ApiError::BadRequest(pruning::strict_message(&unknown))),
        "Ignore" => Ok(Vec::new()),
        _ => Ok(unknown
            .iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect()),
    }
}

/// What an update does to the stored object: the new object, computed from
/// the current one.
enum Mutation<'a> {
    /// PUT: the client's whole object.
    Replace(Value),
    /// PATCH: a patch document applied to the current object.
    Patch {
        content_type: &'a str,
        body: &'a [u8],
    },
    /// PUT or PATCH of the scale subresource: a new Scale (or a patch to the
    /// current one) whose replicas go into the object.
    Scale(Box<Mutation<'a>>),
    /// A server-side apply of this configuration.
    Apply(apply::ApplyRequest<'a>),
}

impl Mutation<'_> {
    /// The object the client asks for, given the current one.
    fn apply(&self, call: &Call, current: &Value) -> Result<Value, ApiError> {
        match self {
            Mutation::Replace(object) => Ok(object.clone()),
            Mutation::Patch { content_type, body } => patch::apply(content_type, current, body),
            Mutation::Apply(request) => apply::apply(Some(current), request),
            Mutation::Scale(change) => {
                let spec = call
                    .descriptor
                    .strategy
                    .scale()
                    .ok_or(ApiError::UnknownPath)?;
                let current_scale = scale::to_scale(&spec, current);
                let wanted = change.apply(call, &current_scale)?;
                scale::apply_scale(&spec, current, &wanted)
            }
        }
    }
}

pub async fn update(ctx: &Context, call: &Call) -> Result<http::Response<super::Body>, ApiError> {
    let descriptor = &call.descriptor;
    let mut object = call.decode_body()?;
    if call.request.subresource.as_deref() == Some("scale") {
        let (object, warnings) = apply_update(
            ctx,
            call,
            Mutation::Scale(Box::new(Mutation::Replace(object))),
        )
        .await?;
        return respond_scale(call, &object, &warnings);
    }
    check_type(descriptor, &mut object)?;
    let body_name = object::name(&object);
    if !body_name.is_empty() && body_name != call.name() {
        return Err(ApiError::BadRequest(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({})",
            call.name()
        )));
    }
    if let Some(url) = call.namespace() {
        let body_ns = object::namespace(&object);
        if !body_ns.is_empty() && body_ns != url {
            return Err(ApiError::BadRequest(
                "the namespace of the provided object does not match the namespace sent on the request".into(),
            ));
        }
    }
    let (object, warnings) = apply_update(ctx, call, Mutation::Replace(object)).await?;
    respond::object(call, 200, &object).map(|r| with_warnings(r, &warnings))
}

pub async fn patch(ctx: &Context, call: &Call) -> Result<http::Response<super::Body>, ApiError> {
    let content_type = call
        .content_type
        .as_deref()
        .map(|c| c.split(';').next().unwrap_or_default().trim().to_string())
        .unwrap_or_default();
    if content_type == patch::APPLY_PATCH {
        return server_side_apply(ctx, call).await;
    }
    let body = call.body.clone();
    let patch = Mutation::Patch {
        content_type: &content_type,
        body: &body,
    };
    if call.request.subresource.as_deref() == Some("scale") {
        let (object, warnings) = apply_update(ctx, call, Mutation::Scale(Box::new(patch))).await?;
        return respond_scale(call, &object, &warnings);
    }
    let (object, warnings) = apply_update(ctx, call, patch).await?;
    respond::object(call, 200, &object).map(|r| with_warnings(r, &warnings))
}

/// `application/apply-patch+yaml`: applies to the object, or creates it.
async fn server_side_apply(
    ctx: &Context,
    call: &Call,
) -> Result<http::Response<super::Body>, ApiError> {
    if call.query.field_manager.is_empty() {
        return Err(ApiError::invalid(
            "PatchOptions.meta.k8s.io".to_string(),
            "",
            vec![FieldError::required(
                "fieldManager",
                "is required for apply patch",
            )],
        ));
    }
    if call.request.subresource.as_deref() == Some("scale") {
        return Err(ApiError::UnsupportedMediaType {
            accepted: format!(
                "{}, {}, {}",
                patch::JSON_PATCH,
                patch::MERGE_PATCH,
                patch::STRATEGIC_MERGE_PATCH
            ),
        });
    }
    let config = apply::parse_config(&call.body)?;
    let api_version = call.descriptor.api_version();
    let request = apply::ApplyRequest {
        manager: &call.query.field_manager,
        force: call.query.force,
        config: &config,
        api_version: &api_version,
    };
    match apply_update(ctx, call, Mutation::Apply(request)).await {
        Ok((object, warnings)) => {
            respond::object(call, 200, &object).map(|r| with_warnings(r, &warnings))
        }
        Err(ApiError::NotFound { .. }) if call.request.subresource.is_none() => {
            let mut object = apply::apply(None, &request)?;
            if object::name(&object).is_empty() {
                object::set_meta(&mut object, "name", json!(call.name()));
            }
            create_object(ctx, call, object).await
        }
        Err(e) => Err(e),
    }
}

fn respond_scale(
    call: &Call,
    object: &Value,
    warnings: &[String],
) -> Result<http::Response<super::Body>, ApiError> {
    let spec = call
        .descriptor
        .strategy
        .scale()
        .ok_or(ApiError::UnknownPath)?;
    respond::encode(call.output, 200, &scale::to_scale(&spec, object))
        .map(|r| with_warnings(r, warnings))
}

/// Reads, mutates, prepares, validates and compare-and-swaps, retrying a lost
/// race unless the client pinned a resourceVersion. Returns the object as
/// stored (or as it would be, for a dry run) and any warnings.
async fn apply_update(
    ctx: &Context,
    call: &Call,
    mutation: Mutation<'_>,
) -> Result<(Value, Vec<String>), ApiError> {
    let descriptor = &call.descriptor;
    for _ in 0..MAX_RETRIES {
        let (kv, current) = load(ctx, descriptor, call.namespace(), call.name()).await?;
        let mut object = mutation.apply(call, &current)?;
        let warnings = match mutation {
            Mutation::Scale(_) => Vec::new(),
            _ => unknown_fields(ctx, call, &mut object).await?,
        };
        check_type(descriptor, &mut object)?;
        let requested_rv = object::resource_version(&object).to_string();
        if !requested_rv.is_empty() && requested_rv != kv.mod_revision.to_string() {
            return Err(store_conflict(descriptor, call.name()));
        }
        let requested_uid = object::uid(&object);
        if !requested_uid.is_empty() && requested_uid != object::uid(&current) {
            return Err(ApiError::Conflict {
                resource: descriptor.group_resource(),
                name: call.name().to_string(),
                detail: format!(
                    "Precondition failed: UID in precondition: {requested_uid}, UID in object meta: {}",
                    object::uid(&current)
                ),
            });
        }
        let object = prepare_update(call, object, &current)?;
        if call.query.dry_run {
            return Ok((object, warnings));
        }
        match persist(ctx, call, &kv, &current, object).await {
            Err(ApiError::Conflict { .. }) if requested_rv.is_empty() => continue,
            other => return other.map(|object| (object, warnings)),
        }
    }
    Err(store_conflict(descriptor, call.name()))
}

/// Carries over what clients may not change, applies the status-subresource
/// split, then the strategy's defaults and rules.
fn prepare_update(call: &Call, mut object: Value, current: &Value) -> Result<Value, ApiError> {
    let descriptor = &call.descriptor;
    let subresource = call.request.subresource.as_deref();
    if subresource == Some("status") {
        // Only status changes through /status.
        let status = object.get("status").cloned();
        let mut next = current.clone();
        match status {
            Some(s) => next["status"] = s,
            None => {
                if let Some(map) = next.as_object_mut() {
                    map.remove("status");
                }
            }
        }
        object::set_meta(
            &mut next,
            "resourceVersion",
            json!(object::resource_version(&object)),
        );
        object = next;
    } else if descriptor.has_status {
        match current.get("status") {
            Some(s) => object["status"] = s.clone(),
            None => {
                if let Some(map) = object.as_object_mut() {
                    map.remove("status");
                }
            }
        }
    }
    for field in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match current.pointer(&format!("/metadata/{field}")) {
            Some(v) => object::set_meta(&mut object, field, v.clone()),
            None => object::remove_meta(&mut object, field),
        }
    }
    // A write that leaves managedFields out keeps them, as upstream.
    if object.pointer("/metadata/managedFields").is_none() {
        if let Some(fields) = current.pointer("/metadata/managedFields") {
            object::set_meta(&mut object, "managedFields", fields.clone());
        }
    }
    if object::is_deleting(current) {
        let old: Vec<String> = object::finalizers(current);
        if let Some(added) = object::finalizers(&object)
            .into_iter()
            .find(|f| !old.contains(f))
        {
            return Err(invalid(descriptor, &object, vec![FieldError::forbidden(
                "metadata.finalizers",
                format!("no new finalizers can be added if the object is being deleted, found new finalizers []string{{\"{added}\"}}"),
            )]));
        }
    }
    if subresource != Some("status") {
        descriptor.strategy.prepare_for_update(&mut object, current);
    }
    if descriptor.strategy.tracks_generation()
        && descriptor.strategy.generation_part(&object)
            != descriptor.strategy.generation_part(current)
    {
        let generation = current
            .pointer("/metadata/generation")
            .and_then(Value::as_i64)
            .unwrap_or(0);
        object::set_meta(&mut object, "generation", json!(generation + 1));
    }
    let mut errors = descriptor.strategy.validate_update(&object, current);
    errors.splice(
        0..0,
        validation::descriptor_meta_errors(descriptor, &object, &errors),
    );
    if !errors.is_empty() {
        return Err(invalid(descriptor, &object, errors));
    }
    Ok(object)
}

/// Writes an update, or finishes a deletion whose last finalizer is gone.
async fn persist(
    ctx: &Context,
    call: &Call,
    kv: &KeyValue,
    current: &Value,
    mut object: Value,
) -> Result<Value, ApiError> {
    let descriptor = &call.descriptor;
    if object::is_deleting(&object) && object::finalizers(&object).is_empty() {
        return match ctx.store.delete(&kv.key, kv.mod_revision).await {
            Ok((revision, _)) => {
                object::set_meta(&mut object, "resourceVersion", json!(revision.to_string()));
                Ok(object)
            }
            Err(StoreError::Conflict { .. }) => Err(store_conflict(descriptor, call.name())),
            Err(StoreError::NotFound { .. }) => Err(ApiError::not_found(
                descriptor.group_resource(),
                call.name(),
            )),
            Err(e) => Err(e.into()),
        };
    }
    let mut unchanged = object.clone();
    object::set_meta(
        &mut unchanged,
        "resourceVersion",
        json!(kv.mod_revision.to_string()),
    );
    if &unchanged == current {
        // Upstream skips writes that change nothing; the version stays.
        return Ok(current.clone());
    }
    match ctx
        .store
        .update(&kv.key, stored_bytes(descriptor, &object)?, kv.mod_revision)
        .await
    {
        Ok(revision) => {
            object::set_meta(&mut object, "resourceVersion", json!(revision.to_string()));
            Ok(object)
        }
        Err(StoreError::Conflict { .. }) => Err(store_conflict(descriptor, call.name())),
        Err(StoreError::NotFound { .. }) => Err(ApiError::not_found(
            descriptor.group_resource(),
            call.name(),
        )),
        Err(e) => Err(e.into()),
    }
}

/// DeleteOptions from the body (optional) and the query.
struct DeleteOptions {
    precondition_uid: Option<String>,
    precondition_rv: Option<String>,
    dry_run: bool,
}

fn delete_options(call: &Call) -> Result<DeleteOptions, ApiError> {
    let mut options = DeleteOptions {
        precondition_uid: None,
        precondition_rv: None,
        dry_run: call.query.dry_run,
    };
    if call.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(options);
    }
    let body = call.decode_body()?;
    options.precondition_uid = body
        .pointer("/preconditions/uid")
        .and_then(Value::as_str)
        .map(str::to_string);
    options.precondition_rv = body
        .pointer("/preconditions/resourceVersion")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(dry) = body.get("dryRun").and_then(Value::as_array) {
        options.dry_run |= dry.iter().any(|v| v == "All");
    }
    Ok(options)
}

pub async fn delete(ctx: &Context, call: &Call) -> Result<http::Response<super::Body>, ApiError> {
    let options = delete_options(call)?;
    let (code, value) = delete_object(ctx, &call.descriptor, call.namespace(), call.name(), options.dry_run, |current| {
        let conflict = |detail: String| ApiError::Conflict {
            resource: call.descriptor.group_resource(),
            name: call.name().to_string(),
            detail,
        };
        if let Some(uid) = &options.precondition_uid {
            if uid != object::uid(current) {
                return Err(conflict(format!(
                    "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                    object::uid(current)
                )));
            }
        }
        if let Some(rv) = &options.precondition_rv {
            if rv != object::resource_version(current) {
                return Err(conflict(format!(
                    "Precondition failed: ResourceVersion in precondition: {rv}, ResourceVersion in object meta: {}",
                    object::resource_version(current)
                )));
            }
        }
        Ok(())
    })
    .await?;
    respond::object(call, code, &value)
}

/// Deletes one object: with finalizers it is marked (deletionTimestamp) and
/// stays; without, it is removed. Returns the status code and the body
/// upstream answers with (the object while it stays, a Status once gone).
pub async fn delete_object(
    ctx: &Context,
    descriptor: &ResourceDescriptor,
    namespace: Option<&str>,
    name: &str,
    dry_run: bool,
    check: impl Fn(&Value) -> Result<(), ApiError>,
) -> Result<(u16, Value), ApiError> {
    for _ in 0..MAX_RETRIES {
        let (kv, current) = load(ctx, descriptor, namespace, name).await?;
        check(&current)?;
        if let Some(reason) = descriptor.strategy.forbid_delete(&current) {
            return Err(ApiError::Forbidden(format!(
                "{} \"{name}\" is forbidden: {reason}",
                descriptor.group_resource()
            )));
        }
        let mut marked = current.clone();
        let stays = descriptor.strategy.prepare_for_delete(&mut marked)
            || !object::finalizers(&current).is_empty();
        if stays {
            if object::is_deleting(&current) {
                return Ok((200, current));
            }
            object::set_meta(
                &mut marked,
                "deletionTimestamp",
                json!(object::now_timestamp()),
            );
            object::set_meta(&mut marked, "deletionGracePeriodSeconds", json!(0));
            // Upstream bumps the generation of objects that track one when
            // it marks them for deletion.
            if let Some(generation) = current
                .pointer("/metadata/generation")
                .and_then(Value::as_i64)
                .filter(|g| *g > 0)
            {
                object::set_meta(&mut marked, "generation", json!(generation + 1));
            }
            if dry_run {
                return Ok((200, marked));
            }
            match ctx
                .store
                .update(&kv.key, stored_bytes(descriptor, &marked)?, kv.mod_revision)
                .await
            {
                Ok(revision) => {
                    object::set_meta(&mut marked, "resourceVersion", json!(revision.to_string()));
                    return Ok((200, marked));
                }
                Err(StoreError::Conflict { .. }) => continue,
                Err(StoreError::NotFound { .. }) => break,
                Err(e) => return Err(e.into()),
            }
        }
        if dry_run {
            return Ok((200, respond::deleted_status(descriptor, &current)));
        }
        match ctx.store.delete(&kv.key, kv.mod_revision).await {
            Ok(_) => return Ok((200, respond::deleted_status(descriptor, &current))),
            Err(StoreError::Conflict { .. }) => continue,
            Err(StoreError::NotFound { .. }) => break,
            Err(e) => return Err(e.into()),
        }
    }
    Err(ApiError::not_found(descriptor.group_resource(), name))
}

pub async fn delete_collection(
    ctx: &Context,
    call: &Call,
) -> Result<http::Response<super::Body>, ApiError> {
    let options = delete_options(call)?;
    let descriptor = &call.descriptor;
    let prefix = ctx.collection_prefix(descriptor, call.namespace());
    let page = ctx.store.list(&prefix, None, 0, 0).await?;
    let mut deleted = Vec::new();
    for kv in &page.items {
        let item = crate::watch_cache::CachedObject::from_kv(kv)?;
        if !super::read::selected(call, &item)? {
            continue;
        }
        let namespace = (!item.namespace.is_empty()).then_some(item.namespace.as_str());
        match delete_object(
            ctx,
            descriptor,
            namespace,
            &item.name,
            options.dry_run,
            |_| Ok(()),
        )
        .await
        {
            Ok(_) => deleted.push(respond::client_value(descriptor, &item)?),
            Err(ApiError::NotFound { .. }) => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "kind": descriptor.list_kind(),
        "apiVersion": descriptor.api_version(),
        "metadata": { "resourceVersion": page.revision.to_string() },
        "items": deleted,
    });
    respond::encode(call.output, 200, &list)
}
