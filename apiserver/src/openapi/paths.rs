//! The REST operations of each served resource, as upstream publishes them,
//! rendered as Swagger 2.0 or OpenAPI 3.0 path items.
//!
//! Clients read more than the schemas: kubectl decides whether the server
//! validates fields itself by looking for the `fieldValidation` parameter on
//! the PATCH operation whose `x-kubernetes-group-version-kind` matches the
//! object it sends; without it kubectl falls back to client-side checks.

use serde_json::{json, Map, Value};

use super::builtin::{API_RESOURCE_LIST, DELETE_OPTIONS, PATCH, STATUS, WATCH_EVENT};
use super::definitions::{gvk, reference, v3_reference};
use super::ServedKind;

/// A query or path parameter, written once and rendered for either format.
struct Parameter {
    name: &'static str,
    in_path: bool,
    type_: &'static str,
    description: &'static str,
}

const fn query(name: &'static str, type_: &'static str, description: &'static str) -> Parameter {
    Parameter {
        name,
        in_path: false,
        type_,
        description,
    }
}

const NAMESPACE: Parameter = Parameter {
    name: "namespace",
    in_path: true,
    type_: "string",
    description: "object name and auth scope, such as for teams and projects",
};
const NAME: Parameter = Parameter {
    name: "name",
    in_path: true,
    type_: "string",
    description: "name of the object",
};
const PRETTY: Parameter = query(
    "pretty",
    "string",
    "If 'true', the response is indented for reading.",
);
const DRY_RUN: Parameter = query(
    "dryRun",
    "string",
    "When present, the request is processed in full but nothing is persisted. The only valid value is All; anything else is rejected.",
);
const FIELD_MANAGER: Parameter = query(
    "fieldManager",
    "string",
    "The name of the actor making the change, recorded in managedFields. At most 128 printable characters. Required for apply patches.",
);
const FIELD_VALIDATION: Parameter = query(
    "fieldValidation",
    "string",
    "How the server treats unknown or duplicate fields in the request object: Ignore drops them, Warn drops them and returns a warning for each, Strict rejects the request. Defaults to Warn.",
);
const FORCE: Parameter = query(
    "force",
    "boolean",
    "Force an apply patch to take ownership of fields other managers own, instead of failing with a conflict. Must be unset for other patch types.",
);
const GRACE_PERIOD: Parameter = query(
    "gracePeriodSeconds",
    "integer",
    "Seconds to wait before the object is deleted; zero deletes at once. Unset uses the kind's default.",
);
const ORPHAN_DEPENDENTS: Parameter = query(
    "orphanDependents",
    "boolean",
    "Deprecated: use propagationPolicy. Whether dependents are orphaned rather than garbage collected.",
);
const PROPAGATION_POLICY: Parameter = query(
    "propagationPolicy",
    "string",
    "How dependents are garbage collected: Orphan, Background or Foreground.",
);
const LABEL_SELECTOR: Parameter = query(
    "labelSelector",
    "string",
    "Only objects whose labels match this selector. Defaults to everything.",
);
const FIELD_SELECTOR: Parameter = query(
    "fieldSelector",
    "string",
    "Only objects whose fields match this selector. Defaults to everything.",
);
const RESOURCE_VERSION: Parameter = query(
    "resourceVersion",
    "string",
    "Which resource versions the request may be served from. See https://kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions",
);
const RESOURCE_VERSION_MATCH: Parameter = query(
    "resourceVersionMatch",
    "string",
    "How resourceVersion applies to a list: Exact or NotOlderThan. Recommended whenever resourceVersion is set.",
);
const LIMIT: Parameter = query(
    "limit",
    "integer",
    "The most items to return; when more exist the list metadata carries a continue token for the rest, read from the same snapshot.",
);
const CONTINUE: Parameter = query(
    "continue",
    "string",
    "The continue token of a previous limited list, to read the next page. An expired token gives 410 Gone.",
);
const TIMEOUT: Parameter = query(
    "timeoutSeconds",
    "integer",
    "Ends the list or watch call after this many seconds, whatever its activity.",
);
const WATCH: Parameter = query(
    "watch",
    "boolean",
    "Stream added, modified and deleted events instead of returning a list. Start from a resourceVersion.",
);
const ALLOW_BOOKMARKS: Parameter = query(
    "allowWatchBookmarks",
    "boolean",
    "Ask for BOOKMARK events, which carry only a newer resourceVersion. The server sends them at its discretion.",
);
const SEND_INITIAL_EVENTS: Parameter = query(
    "sendInitialEvents",
    "boolean",
    "Start a watch with synthetic ADDED events for the current state, followed by a bookmark marking their end. Needs resourceVersionMatch=NotOlderThan.",
);

/// The query parameters of a list or watch.
const LIST_PARAMETERS: &[&Parameter] = &[
    &ALLOW_BOOKMARKS,
    &CONTINUE,
    &FIELD_SELECTOR,
    &LABEL_SELECTOR,
    &LIMIT,
    &RESOURCE_VERSION,
    &RESOURCE_VERSION_MATCH,
    &SEND_INITIAL_EVENTS,
    &TIMEOUT,
    &WATCH,
];
const WRITE_PARAMETERS: &[&Parameter] = &[&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION];
const PATCH_PARAMETERS: &[&Parameter] = &[&DRY_RUN, &FIELD_MANAGER, &FIELD_VALIDATION, &FORCE];
const DELETE_PARAMETERS: &[&Parameter] = &[
    &GRACE_PERIOD,
    &ORPHAN_DEPENDENTS,
    &PROPAGATION_POLICY,
    &DRY_RUN,
];
const DELETE_COLLECTION_PARAMETERS: &[&Parameter] = &[
    &GRACE_PERIOD,
    &ORPHAN_DEPENDENTS,
    &PROPAGATION_POLICY,
    &DRY_RUN,
    &CONTINUE,
    &FIELD_SELECTOR,
    &LABEL_SELECTOR,
    &LIMIT,
    &RESOURCE_VERSION,
    &RESOURCE_VERSION_MATCH,
    &SEND_INITIAL_EVENTS,
    &TIMEOUT,
];

/// What an operation carries in its body.
enum Body {
    None,
    /// The object itself (create, replace).
    Object(String),
    /// One of the patch formats; the schema is the opaque `Patch`.
    Patch,
    DeleteOptions,
}

/// One HTTP method on one path.
struct Operation {
    method: &'static str,
    /// `x-kubernetes-action`: upstream's verb for the operation.
    action: &'static str,
    id: String,
    description: String,
    parameters: &'static [&'static Parameter],
    body: Body,
    /// Status codes and their response definition.
    responses: Vec<(u16, String)>,
    /// Whether the response may be a watch stream.
    is_streaming: bool,
}

/// One path with its operations and the parameters they share.
struct PathItem {
    path: String,
    parameters: Vec<&'static Parameter>,
    operations: Vec<Operation>,
    /// The GVK every operation on this path acts on; `None` for discovery.
    group_version_kind: Option<Value>,
    is_builtin: bool,
}

/// `/api/v1` or `/apis/apps/v1`.
pub(super) fn group_version_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

/// Upstream's operation-id spelling of a group/version: `CoreV1`, `AppsV1`,
/// `RbacAuthorizationV1`, `StableExampleComV1`.
fn group_version_id(group: &str, version: &str) -> String {
    let group = group.strip_suffix(".k8s.io").unwrap_or(group);
    let mut id: String = if group.is_empty() {
        "Core".to_owned()
    } else {
        group.split(['.', '-']).map(capitalize).collect()
    };
    id.push_str(&capitalize(version));
    id
}

/// Upstream's tag for a group/version: `core_v1`, `rbacAuthorization_v1`.
fn tag(group: &str, version: &str) -> String {
    let id = group_version_id(group, version);
    let group_part = &id[..id.len() - version.len()];
    let mut chars = group_part.chars();
    let first = chars.next().map(|c| c.to_ascii_lowercase());
    format!(
        "{}{}_{version}",
        first.into_iter().collect::<String>(),
        chars.as_str()
    )
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// The path items of every kind in one group/version, plus its discovery path.
fn path_items(group: &str, version: &str, kinds: &[&ServedKind]) -> Vec<PathItem> {
    let prefix = group_version_prefix(group, version);
    let gv = group_version_id(group, version);
    let mut items = vec![PathItem {
        path: format!("{prefix}/"),
        parameters: Vec::new(),
        operations: vec![Operation {
            method: "get",
            action: "",
            id: format!("get{gv}APIResources"),
            description: "get available resources".to_owned(),
            parameters: &[],
            body: Body::None,
            responses: vec![(200, API_RESOURCE_LIST.to_owned())],
            is_streaming: false,
        }],
        group_version_kind: None,
        is_builtin: kinds.iter().all(|kind| kind.is_builtin),
    }];
    for kind in kinds {
        items.extend(kind_path_items(&prefix, &gv, kind));
    }
    items
}

/// The paths of one kind: its collection, its items, status, and the
/// deprecated `/watch/` forms, each with only the verbs it serves.
fn kind_path_items(prefix: &str, gv: &str, served: &ServedKind) -> Vec<PathItem> {
    let resource = &served.descriptor;
    let kind = &resource.kind;
    let plural = &resource.plural;
    let verb = |name: &str| resource.has_verb(name);
    let object = served.definition.clone();
    let list = served.list_definition.clone();
    let (scope, scope_parameters): (&str, Vec<&'static Parameter>) = if resource.namespaced {
        ("Namespaced", vec![&NAMESPACE])
    } else {
        ("", Vec::new())
    };
    let collection = if resource.namespaced {
        format!("{prefix}/namespaces/{{namespace}}/{plural}")
    } else {
        format!("{prefix}/{plural}")
    };
    let watch_collection = if resource.namespaced {
        format!("{prefix}/watch/namespaces/{{namespace}}/{plural}")
    } else {
        format!("{prefix}/watch/{plural}")
    };
    let path_item = |path: String, parameters: Vec<&'static Parameter>, operations| PathItem {
        path,
        parameters,
        operations,
        group_version_kind: Some(gvk(&resource.group, &resource.version, kind)),
        is_builtin: served.is_builtin,
    };
    let with = |mut base: Vec<&'static Parameter>, extra: &[&'static Parameter]| {
        base.extend_from_slice(extra);
        base
    };
    let operation =
        |method, action, id: String, description: String, parameters, body, responses| Operation {
            method,
            action,
            id,
            description,
            parameters,
            body,
            responses,
            is_streaming: false,
        };

    let mut items = Vec::new();

    let mut collection_ops = Vec::new();
    if verb("list") {
        let mut list_op = operation(
            "get",
            "list",
            format!("list{gv}{scope}{kind}"),
            format!("list or watch objects of kind {kind}"),
            LIST_PARAMETERS,
            Body::None,
            vec![(200, list.clone())],
        );
        list_op.is_streaming = true;
        collection_ops.push(list_op);
    }
    if verb("create") {
        collection_ops.push(operation(
            "post",
            "post",
            format!("create{gv}{scope}{kind}"),
            format!("create a {kind}"),
            WRITE_PARAMETERS,
            Body::Object(object.clone()),
            vec![
                (200, object.clone()),
                (201, object.clone()),
                (202, object.clone()),
            ],
        ));
    }
    if verb("deletecollection") {
        collection_ops.push(operation(
            "delete",
            "deletecollection",
            format!("delete{gv}Collection{scope}{kind}"),
            format!("delete collection of {kind}"),
            DELETE_COLLECTION_PARAMETERS,
            Body::DeleteOptions,
            vec![(200, STATUS.to_owned())],
        ));
    }
    if !collection_ops.is_empty() {
        items.push(path_item(
            collection.clone(),
            with(scope_parameters.clone(), &[&PRETTY]),
            collection_ops,
        ));
    }

    let mut item_ops = Vec::new();
    if verb("get") {
        item_ops.push(operation(
            "get",
            "get",
            format!("read{gv}{scope}{kind}"),
            format!("read the specified {kind}"),
            &[],
            Body::None,
            vec![(200, object.clone())],
        ));
    }
    if verb("update") {
        item_ops.push(operation(
            "put",
            "put",
            format!("replace{gv}{scope}{kind}"),
            format!("replace the specified {kind}"),
            WRITE_PARAMETERS,
            Body::Object(object.clone()),
            vec![(200, object.clone()), (201, object.clone())],
        ));
    }
    if verb("patch") {
        item_ops.push(operation(
            "patch",
            "patch",
            format!("patch{gv}{scope}{kind}"),
            format!("partially update the specified {kind}"),
            PATCH_PARAMETERS,
            Body::Patch,
            vec![(200, object.clone()), (201, object.clone())],
        ));
    }
    if verb("delete") {
        item_ops.push(operation(
            "delete",
            "delete",
            format!("delete{gv}{scope}{kind}"),
            format!("delete a {kind}"),
            DELETE_PARAMETERS,
            Body::DeleteOptions,
            vec![(200, STATUS.to_owned()), (202, STATUS.to_owned())],
        ));
    }
    let item_parameters = with(vec![&NAME], &with(scope_parameters.clone(), &[&PRETTY]));
    if !item_ops.is_empty() {
        items.push(path_item(
            format!("{collection}/{{name}}"),
            item_parameters.clone(),
            item_ops,
        ));
    }

    if resource.has_status {
        let mut status_ops = Vec::new();
        if verb("get") {
            status_ops.push(operation(
                "get",
                "get",
                format!("read{gv}{scope}{kind}Status"),
                format!("read status of the specified {kind}"),
                &[],
                Body::None,
                vec![(200, object.clone())],
            ));
        }
        if verb("update") {
            status_ops.push(operation(
                "put",
                "put",
                format!("replace{gv}{scope}{kind}Status"),
                format!("replace status of the specified {kind}"),
                WRITE_PARAMETERS,
                Body::Object(object.clone()),
                vec![(200, object.clone()), (201, object.clone())],
            ));
        }
        if verb("patch") {
            status_ops.push(operation(
                "patch",
                "patch",
                format!("patch{gv}{scope}{kind}Status"),
                format!("partially update status of the specified {kind}"),
                PATCH_PARAMETERS,
                Body::Patch,
                vec![(200, object.clone()), (201, object.clone())],
            ));
        }
        if !status_ops.is_empty() {
            items.push(path_item(
                format!("{collection}/{{name}}/status"),
                item_parameters.clone(),
                status_ops,
            ));
        }
    }

    if verb("list") && resource.namespaced {
        let mut all = operation(
            "get",
            "list",
            format!("list{gv}{kind}ForAllNamespaces"),
            format!("list or watch objects of kind {kind}"),
            &[],
            Body::None,
            vec![(200, list.clone())],
        );
        all.is_streaming = true;
        items.push(path_item(
            format!("{prefix}/{plural}"),
            with(LIST_PARAMETERS.to_vec(), &[&PRETTY]),
            vec![all],
        ));
    }

    if verb("watch") {
        let watch = |action, id: String, description: String| {
            let mut op = operation(
                "get",
                action,
                id,
                description,
                &[],
                Body::None,
                vec![(200, WATCH_EVENT.to_owned())],
            );
            op.is_streaming = true;
            vec![op]
        };
        let deprecated = "deprecated: use the 'watch' parameter with a list operation instead";
        let list_parameters =
            |base: Vec<&'static Parameter>| with(with(base, LIST_PARAMETERS), &[&PRETTY]);
        items.push(path_item(
            watch_collection.clone(),
            list_parameters(scope_parameters.clone()),
            watch(
                "watchlist",
                format!("watch{gv}{scope}{kind}List"),
                format!("watch individual changes to a list of {kind}. {deprecated}."),
            ),
        ));
        items.push(path_item(
            format!("{watch_collection}/{{name}}"),
            list_parameters(with(vec![&NAME], &scope_parameters)),
            watch(
                "watch",
                format!("watch{gv}{scope}{kind}"),
                format!("watch changes to an object of kind {kind}. {deprecated}, filtered to a single item with the 'fieldSelector' parameter."),
            ),
        ));
        if resource.namespaced {
            items.push(path_item(
                format!("{prefix}/watch/{plural}"),
                list_parameters(Vec::new()),
                watch(
                    "watchlist",
                    format!("watch{gv}{kind}ListForAllNamespaces"),
                    format!("watch individual changes to a list of {kind}. {deprecated}."),
                ),
            ));
        }
    }
    items
}

/// The media types a response may come in. Custom resources have no
/// protobuf encoding upstream, so their documents do not offer it.
fn response_media_types(is_builtin: bool, is_streaming: bool) -> Vec<&'static str> {
    let mut types = vec!["application/json", "application/yaml"];
    if is_builtin {
        types.push("application/vnd.kubernetes.protobuf");
    }
    if is_streaming {
        types.push("application/json;stream=watch");
        if is_builtin {
            types.push("application/vnd.kubernetes.protobuf;stream=watch");
        }
    }
    types
}

/// The patch formats published for PATCH operations.
///
/// Strategic merge patch is accepted for built-in kinds but deliberately not
/// listed. When a document lists it, `kubectl apply` computes the patch from
/// the schema's `x-kubernetes-patch-strategy` and `-patch-merge-key`
/// extensions, which k8s-openapi's schemas do not carry; every list would
/// then be replaced whole (dropping list items other actors added). Unlisted,
/// kubectl builds the same patch from its compiled-in types, exactly as
/// against upstream. Custom resources never take it, upstream or here.
const PATCH_MEDIA_TYPES: &[&str] = &[
    "application/apply-patch+yaml",
    "application/json-patch+json",
    "application/merge-patch+json",
];

fn status_description(code: u16) -> &'static str {
    match code {
        201 => "Created",
        202 => "Accepted",
        _ => "OK",
    }
}

/// Adds the operation-level extensions both formats carry.
fn add_extensions(target: &mut Map<String, Value>, item: &PathItem, op: &Operation) {
    if !op.action.is_empty() {
        target.insert("x-kubernetes-action".into(), json!(op.action));
    }
    if let Some(group_version_kind) = &item.group_version_kind {
        target.insert(
            "x-kubernetes-group-version-kind".into(),
            group_version_kind.clone(),
        );
    }
}

/// The `paths` object of a Swagger 2.0 document.
pub(super) fn v2_paths(
    group: &str,
    version: &str,
    kinds: &[&ServedKind],
    paths: &mut Map<String, Value>,
) {
    let tag = tag(group, version);
    for item in path_items(group, version, kinds) {
        let mut path = Map::new();
        if !item.parameters.is_empty() {
            path.insert("parameters".into(), v2_parameters(&item.parameters));
        }
        for op in &item.operations {
            path.insert(op.method.into(), v2_operation(&item, op, &tag));
        }
        paths.insert(item.path, Value::Object(path));
    }
}

fn v2_parameters(parameters: &[&Parameter]) -> Value {
    parameters
        .iter()
        .map(|parameter| {
            let mut value = json!({
                "name": parameter.name,
                "in": if parameter.in_path { "path" } else { "query" },
                "type": parameter.type_,
                "uniqueItems": true,
                "description": parameter.description,
            });
            if parameter.in_path {
                value["required"] = json!(true);
            }
            value
        })
        .collect()
}

fn v2_operation(item: &PathItem, op: &Operation, tag: &str) -> Value {
    let mut parameters = v2_parameters(op.parameters);
    let body = match &op.body {
        Body::None => None,
        Body::Object(definition) => Some((definition.as_str(), true)),
        Body::Patch => Some((PATCH, true)),
        Body::DeleteOptions => Some((DELETE_OPTIONS, false)),
    };
    if let (Some((definition, required)), Some(list)) = (body, parameters.as_array_mut()) {
        list.insert(
            0,
            json!({
                "name": "body",
                "in": "body",
                "required": required,
                "schema": { "$ref": reference(definition) },
            }),
        );
    }
    let consumes = match op.body {
        Body::Patch => PATCH_MEDIA_TYPES.to_vec(),
        _ => vec!["*/*"],
    };
    let responses: Map<String, Value> = op
        .responses
        .iter()
        .map(|(code, definition)| {
            let response = json!({
                "description": status_description(*code),
                "schema": { "$ref": reference(definition) },
            });
            (code.to_string(), response)
        })
        .chain(std::iter::once((
            "401".to_owned(),
            json!({ "description": "Unauthorized" }),
        )))
        .collect();
    let mut operation = Map::new();
    operation.insert("description".into(), json!(op.description));
    operation.insert("operationId".into(), json!(op.id));
    operation.insert("consumes".into(), json!(consumes));
    operation.insert(
        "produces".into(),
        json!(response_media_types(item.is_builtin, op.is_streaming)),
    );
    operation.insert("schemes".into(), json!(["https"]));
    operation.insert("tags".into(), json!([tag]));
    operation.insert("responses".into(), Value::Object(responses));
    if !op.parameters.is_empty() || body.is_some() {
        operation.insert("parameters".into(), parameters);
    }
    add_extensions(&mut operation, item, op);
    Value::Object(operation)
}

/// The `paths` object of one group/version's OpenAPI 3.0 document.
pub(super) fn v3_paths(group: &str, version: &str, kinds: &[&ServedKind]) -> Map<String, Value> {
    let tag = tag(group, version);
    path_items(group, version, kinds)
        .into_iter()
        .map(|item| {
            let mut path = Map::new();
            if !item.parameters.is_empty() {
                path.insert("parameters".into(), v3_parameters(&item.parameters));
            }
            for op in &item.operations {
                path.insert(op.method.into(), v3_operation(&item, op, &tag));
            }
            (item.path, Value::Object(path))
        })
        .collect()
}

fn v3_parameters(parameters: &[&Parameter]) -> Value {
    parameters
        .iter()
        .map(|parameter| {
            let mut value = json!({
                "name": parameter.name,
                "in": if parameter.in_path { "path" } else { "query" },
                "description": parameter.description,
                "schema": { "type": parameter.type_, "uniqueItems": true },
            });
            if parameter.in_path {
                value["required"] = json!(true);
            }
            value
        })
        .collect()
}

fn v3_content(media_types: &[&str], definition: &str) -> Value {
    media_types
        .iter()
        .map(|media_type| {
            let schema = json!({ "schema": { "$ref": v3_reference(definition) } });
            (media_type.to_string(), schema)
        })
        .collect::<Map<String, Value>>()
        .into()
}

fn v3_operation(item: &PathItem, op: &Operation, tag: &str) -> Value {
    let media_types = response_media_types(item.is_builtin, op.is_streaming);
    let responses: Map<String, Value> = op
        .responses
        .iter()
        .map(|(code, definition)| {
            let response = json!({
                "description": status_description(*code),
                "content": v3_content(&media_types, definition),
            });
            (code.to_string(), response)
        })
        .collect();
    let mut operation = Map::new();
    operation.insert("description".into(), json!(op.description));
    operation.insert("operationId".into(), json!(op.id));
    operation.insert("tags".into(), json!([tag]));
    operation.insert("responses".into(), Value::Object(responses));
    if !op.parameters.is_empty() {
        operation.insert("parameters".into(), v3_parameters(op.parameters));
    }
    let request_body = match &op.body {
        Body::None => None,
        Body::Object(definition) => Some((vec!["*/*"], definition.as_str(), true)),
        Body::Patch => Some((PATCH_MEDIA_TYPES.to_vec(), PATCH, true)),
        Body::DeleteOptions => Some((vec!["*/*"], DELETE_OPTIONS, false)),
    };
    if let Some((media_types, definition, required)) = request_body {
        let mut body = json!({ "content": v3_content(&media_types, definition) });
        if required {
            body["required"] = json!(true);
        }
        operation.insert("requestBody".into(), body);
    }
    add_extensions(&mut operation, item, op);
    Value::Object(operation)
}
