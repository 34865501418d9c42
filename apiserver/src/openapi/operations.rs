//! The REST operations of each served resource, as upstream publishes them:
//! which paths a kind has, which verbs each serves, their operation ids,
//! parameters, bodies and responses. [`super::paths`] renders them.

use serde_json::Value;

use super::builtin::{API_RESOURCE_LIST, STATUS, WATCH_EVENT};
use super::definitions::gvk;
use super::ServedKind;

/// A query or path parameter, written once and rendered for either format.
pub(super) struct Parameter {
    pub(super) name: &'static str,
    pub(super) in_path: bool,
    pub(super) type_: &'static str,
    pub(super) description: &'static str,
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
pub(super) enum Body {
    None,
    /// The object itself (create, replace).
    Object(String),
    /// One of the patch formats; the schema is the opaque `Patch`.
    Patch,
    DeleteOptions,
}

/// One HTTP method on one path.
pub(super) struct Operation {
    pub(super) method: &'static str,
    /// `x-kubernetes-action`: upstream's verb for the operation.
    pub(super) action: &'static str,
    pub(super) id: String,
    pub(super) description: String,
    pub(super) parameters: &'static [&'static Parameter],
    pub(super) body: Body,
    /// Status codes and their response definition.
    pub(super) responses: Vec<(u16, String)>,
    /// Whether the response may be a watch stream.
    pub(super) is_streaming: bool,
}

impl Operation {
    fn new(method: &'static str, action: &'static str, id: String, description: String) -> Self {
        Operation {
            method,
            action,
            id,
            description,
            parameters: &[],
            body: Body::None,
            responses: Vec::new(),
            is_streaming: false,
        }
    }

    fn parameters(mut self, parameters: &'static [&'static Parameter]) -> Self {
        self.parameters = parameters;
        self
    }

    fn body(mut self, body: Body) -> Self {
        self.body = body;
        self
    }

    /// The same definition for each status code.
    fn responses(mut self, codes: &[u16], definition: &str) -> Self {
        self.responses = codes
            .iter()
            .map(|code| (*code, definition.to_owned()))
            .collect();
        self
    }

    fn streaming(mut self) -> Self {
        self.is_streaming = true;
        self
    }
}

/// One path with its operations and the parameters they share.
pub(super) struct PathItem {
    pub(super) path: String,
    pub(super) parameters: Vec<&'static Parameter>,
    pub(super) operations: Vec<Operation>,
    /// The GVK every operation on this path acts on; `None` for discovery.
    pub(super) group_version_kind: Option<Value>,
    pub(super) is_builtin: bool,
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
pub(super) fn tag(group: &str, version: &str) -> String {
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
pub(super) fn path_items(group: &str, version: &str, kinds: &[&ServedKind]) -> Vec<PathItem> {
    let prefix = group_version_prefix(group, version);
    let gv = group_version_id(group, version);
    let discovery = Operation::new(
        "get",
        "",
        format!("get{gv}APIResources"),
        "get available resources".to_owned(),
    )
    .responses(&[200], API_RESOURCE_LIST);
    let mut items = vec![PathItem {
        path: format!("{prefix}/"),
        parameters: Vec::new(),
        operations: vec![discovery],
        group_version_kind: None,
        is_builtin: kinds.iter().all(|kind| kind.is_builtin),
    }];
    for kind in kinds {
        items.extend(KindPaths::new(&prefix, &gv, kind).all());
    }
    items
}

/// Builds the paths of one kind: its collection, its objects, their status,
/// the all-namespaces list, and the deprecated `/watch/` forms, each with
/// only the verbs the kind serves.
struct KindPaths<'a> {
    served: &'a ServedKind,
    prefix: &'a str,
    /// The group/version as operation ids spell it: `CoreV1`.
    gv: &'a str,
    /// `Namespaced` or empty, as operation ids spell the scope.
    scope: &'static str,
    scope_parameters: Vec<&'static Parameter>,
    /// `/api/v1/namespaces/{namespace}/configmaps` or `/api/v1/nodes`.
    collection: String,
}

impl<'a> KindPaths<'a> {
    fn new(prefix: &'a str, gv: &'a str, served: &'a ServedKind) -> Self {
        let resource = &served.descriptor;
        let (scope, scope_parameters, collection) = if resource.namespaced {
            let collection = format!("{prefix}/namespaces/{{namespace}}/{}", resource.plural);
            ("Namespaced", vec![&NAMESPACE], collection)
        } else {
            ("", Vec::new(), format!("{prefix}/{}", resource.plural))
        };
        KindPaths {
            served,
            prefix,
            gv,
            scope,
            scope_parameters,
            collection,
        }
    }

    fn all(&self) -> Vec<PathItem> {
        let mut items: Vec<PathItem> = [
            self.collection_item(),
            self.object_item(),
            self.status_item(),
            self.scale_item(),
            self.all_namespaces_item(),
        ]
        .into_iter()
        .flatten()
        .collect();
        items.extend(self.watch_items());
        items
    }

    fn kind(&self) -> &str {
        &self.served.descriptor.kind
    }

    fn serves(&self, verb: &str) -> bool {
        self.served.descriptor.has_verb(verb)
    }

    /// An operation id: `verb` + group/version + scope + kind + `suffix`.
    fn id(&self, verb: &str, suffix: &str) -> String {
        format!("{verb}{}{}{}{suffix}", self.gv, self.scope, self.kind())
    }

    /// A path item, or `None` when the kind serves none of its operations.
    fn item(
        &self,
        path: String,
        parameters: Vec<&'static Parameter>,
        operations: Vec<Operation>,
    ) -> Option<PathItem> {
        if operations.is_empty() {
            return None;
        }
        let resource = &self.served.descriptor;
        Some(PathItem {
            path,
            parameters,
            operations,
            group_version_kind: Some(gvk(&resource.group, &resource.version, &resource.kind)),
            is_builtin: self.served.is_builtin,
        })
    }

    fn with_scope(&self, parameters: &[&'static Parameter]) -> Vec<&'static Parameter> {
        let mut all = self.scope_parameters.clone();
        all.extend_from_slice(parameters);
        all
    }

    fn collection_item(&self) -> Option<PathItem> {
        let kind = self.kind();
        let object = &self.served.definition;
        let mut operations = Vec::new();
        if self.serves("list") {
            let description = format!("list or watch objects of kind {kind}");
            let list = Operation::new("get", "list", self.id("list", ""), description)
                .parameters(LIST_PARAMETERS)
                .responses(&[200], &self.served.list_definition)
                .streaming();
            operations.push(list);
        }
        if self.serves("create") {
            let create = Operation::new(
                "post",
                "post",
                self.id("create", ""),
                format!("create a {kind}"),
            )
            .parameters(WRITE_PARAMETERS)
            .body(Body::Object(object.clone()))
            .responses(&[200, 201, 202], object);
            operations.push(create);
        }
        if self.serves("deletecollection") {
            let id = format!("delete{}Collection{}{kind}", self.gv, self.scope);
            let description = format!("delete collection of {kind}");
            let delete = Operation::new("delete", "deletecollection", id, description)
                .parameters(DELETE_COLLECTION_PARAMETERS)
                .body(Body::DeleteOptions)
                .responses(&[200], STATUS);
            operations.push(delete);
        }
        self.item(
            self.collection.clone(),
            self.with_scope(&[&PRETTY]),
            operations,
        )
    }

    fn object_item(&self) -> Option<PathItem> {
        let kind = self.kind();
        let mut operations = self.get_replace_patch(
            "",
            &format!("the specified {kind}"),
            &self.served.definition,
        );
        if self.serves("delete") {
            let delete = Operation::new(
                "delete",
                "delete",
                self.id("delete", ""),
                format!("delete a {kind}"),
            )
            .parameters(DELETE_PARAMETERS)
            .body(Body::DeleteOptions)
            .responses(&[200, 202], STATUS);
            operations.push(delete);
        }
        let path = format!("{}/{{name}}", self.collection);
        self.item(path, self.object_parameters(), operations)
    }

    fn status_item(&self) -> Option<PathItem> {
        if !self.served.descriptor.has_status {
            return None;
        }
        let kind = self.kind();
        let operations = self.get_replace_patch(
            "Status",
            &format!("status of the specified {kind}"),
            &self.served.definition,
        );
        let path = format!("{}/{{name}}/status", self.collection);
        self.item(path, self.object_parameters(), operations)
    }

    fn scale_item(&self) -> Option<PathItem> {
        self.served.descriptor.strategy.scale()?;
        let kind = self.kind();
        let operations = self.get_replace_patch(
            "Scale",
            &format!("scale of the specified {kind}"),
            super::builtin::SCALE,
        );
        let path = format!("{}/{{name}}/scale", self.collection);
        self.item(path, self.object_parameters(), operations)
    }

    /// `name`, the scope and `pretty`: the parameters of one object's paths.
    fn object_parameters(&self) -> Vec<&'static Parameter> {
        let mut parameters = vec![&NAME];
        parameters.extend(self.with_scope(&[&PRETTY]));
        parameters
    }

    /// read, replace and patch of an object, or of its status or scale
    /// (`suffix`), whose body is `object`'s definition.
    fn get_replace_patch(&self, suffix: &str, what: &str, object: &str) -> Vec<Operation> {
        let mut operations = Vec::new();
        if self.serves("get") {
            let read = Operation::new(
                "get",
                "get",
                self.id("read", suffix),
                format!("read {what}"),
            )
            .responses(&[200], object);
            operations.push(read);
        }
        if self.serves("update") {
            let replace = Operation::new(
                "put",
                "put",
                self.id("replace", suffix),
                format!("replace {what}"),
            )
            .parameters(WRITE_PARAMETERS)
            .body(Body::Object(object.to_string()))
            .responses(&[200, 201], object);
            operations.push(replace);
        }
        if self.serves("patch") {
            let description = format!("partially update {what}");
            let patch = Operation::new("patch", "patch", self.id("patch", suffix), description)
                .parameters(PATCH_PARAMETERS)
                .body(Body::Patch)
                .responses(&[200, 201], object);
            operations.push(patch);
        }
        operations
    }

    fn all_namespaces_item(&self) -> Option<PathItem> {
        if !self.served.descriptor.namespaced || !self.serves("list") {
            return None;
        }
        let kind = self.kind();
        let id = format!("list{}{kind}ForAllNamespaces", self.gv);
        let list = Operation::new(
            "get",
            "list",
            id,
            format!("list or watch objects of kind {kind}"),
        )
        .responses(&[200], &self.served.list_definition)
        .streaming();
        let path = format!("{}/{}", self.prefix, self.served.descriptor.plural);
        let mut parameters = LIST_PARAMETERS.to_vec();
        parameters.push(&PRETTY);
        self.item(path, parameters, vec![list])
    }

    /// The deprecated watch paths upstream still publishes.
    fn watch_items(&self) -> Vec<PathItem> {
        if !self.serves("watch") {
            return Vec::new();
        }
        let kind = self.kind();
        let plural = &self.served.descriptor.plural;
        let deprecated = "deprecated: use the 'watch' parameter with a list operation instead";
        let watch = |action, id: String, description: String| {
            let operation = Operation::new("get", action, id, description)
                .responses(&[200], WATCH_EVENT)
                .streaming();
            vec![operation]
        };
        let list_parameters = |mut parameters: Vec<&'static Parameter>| {
            parameters.extend_from_slice(LIST_PARAMETERS);
            parameters.push(&PRETTY);
            parameters
        };
        let collection = match self.served.descriptor.namespaced {
            true => format!("{}/watch/namespaces/{{namespace}}/{plural}", self.prefix),
            false => format!("{}/watch/{plural}", self.prefix),
        };
        let mut object_parameters = vec![&NAME];
        object_parameters.extend(self.scope_parameters.iter().copied());

        let list_description =
            format!("watch individual changes to a list of {kind}. {deprecated}.");
        let mut items = vec![
            self.item(
                collection.clone(),
                list_parameters(self.scope_parameters.clone()),
                watch("watchlist", self.id("watch", "List"), list_description.clone()),
            ),
            self.item(
                format!("{collection}/{{name}}"),
                list_parameters(object_parameters),
                watch(
                    "watch",
                    self.id("watch", ""),
                    format!("watch changes to an object of kind {kind}. {deprecated}, filtered to a single item with the 'fieldSelector' parameter."),
                ),
            ),
        ];
        if self.served.descriptor.namespaced {
            items.push(self.item(
                format!("{}/watch/{plural}", self.prefix),
                list_parameters(Vec::new()),
                watch(
                    "watchlist",
                    format!("watch{}{kind}ListForAllNamespaces", self.gv),
                    list_description,
                ),
            ));
        }
        items.into_iter().flatten().collect()
    }
}
