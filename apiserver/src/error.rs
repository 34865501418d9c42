//! The API layer's error, and the one place that turns any error into a
//! `meta.k8s.io/v1` `Status` with upstream's reason, code and message.

use serde_json::{json, Value};

use crate::storage::StoreError;
use crate::validation::FieldError;

/// What can go wrong serving an API request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The named object does not exist.
    #[error("{resource} \"{name}\" not found")]
    NotFound { resource: String, name: String },
    /// An object with this name exists already.
    #[error("{resource} \"{name}\" already exists")]
    AlreadyExists { resource: String, name: String },
    /// The write lost a race or named a stale resourceVersion.
    #[error("Operation cannot be fulfilled on {resource} \"{name}\": {detail}")]
    Conflict {
        resource: String,
        name: String,
        detail: String,
    },
    /// A server-side apply would take fields another manager applied with
    /// other values; causes are (message, field) pairs.
    #[error("{message}")]
    ApplyConflict {
        message: String,
        causes: Vec<(String, String)>,
    },
    /// A CRD conversion webhook failed. Upstream's conversion error is not
    /// an API status: a 500 with the bare message and no reason.
    #[error("{0}")]
    ConversionFailed(String),
    /// The object breaks the kind's rules; one cause per broken field.
    #[error("{}", invalid_message(.kind, .name, .causes))]
    Invalid {
        kind: String,
        name: String,
        causes: Vec<FieldError>,
    },
    /// A JSON patch that cannot be applied to the object (422, as upstream).
    #[error("{0}")]
    UnprocessablePatch(String),
    /// The request itself is malformed (body, query, path).
    #[error("{0}")]
    BadRequest(String),
    /// No credentials, or credentials that do not check out.
    #[error("Unauthorized")]
    Unauthorized,
    /// The caller may not do this, or the target refuses it (e.g. a
    /// terminating namespace).
    #[error("{0}")]
    Forbidden(String),
    /// A write into a namespace that is being deleted.
    #[error("{resource} \"{name}\" is forbidden: unable to create new content in namespace {namespace} because it is being terminated")]
    NamespaceTerminating {
        resource: String,
        name: String,
        namespace: String,
    },
    /// The path names nothing this server serves.
    #[error("the server could not find the requested resource")]
    UnknownPath,
    /// The resource exists but does not take this verb.
    #[error("the server does not allow this method on the requested resource")]
    MethodNotAllowed,
    /// The resource takes this verb, but not now; the message says why (a
    /// CRD being deleted takes no creates).
    #[error("{0}")]
    VerbRefused(String),
    /// The body's media type is not one we decode.
    #[error("the body of the request was in an unknown format - accepted media types include: {accepted}")]
    UnsupportedMediaType { accepted: String },
    /// None of the Accept header's media types can be produced.
    #[error("only the following media types are accepted: {accepted}")]
    NotAcceptable { accepted: String },
    /// The body is larger than the server takes.
    #[error("Request entity too large: limit is {limit}")]
    TooLarge { limit: usize },
    /// A watch or list asked for history that is gone.
    #[error("{0}")]
    Gone(String),
    /// A continue token whose revision was compacted; `fresh` goes on from
    /// the same key at the newest revision.
    #[error("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.")]
    ContinueExpired { fresh: String },
    /// A resourceVersion newer than the store; the client should retry.
    #[error("Too large resource version: {requested}, current resource version: {current}")]
    TooLargeResourceVersion { requested: i64, current: i64 },
    /// The server is overloaded.
    #[error("{0}")]
    TooManyRequests(String),
    /// The request did not finish in time.
    #[error("{0}")]
    Timeout(String),
    /// Storage or another dependency is down.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure; details are logged, not sent.
    #[error("Internal error occurred: {0}")]
    Internal(String),
}

fn invalid_message(kind: &str, name: &str, causes: &[FieldError]) -> String {
    let list: Vec<String> = causes.iter().map(|c| c.to_string()).collect();
    let body = if list.len() == 1 {
        list[0].clone()
    } else {
        format!("[{}]", list.join(", "))
    };
    format!("{kind} \"{name}\" is invalid: {body}")
}

impl ApiError {
    pub fn not_found(resource: impl Into<String>, name: impl Into<String>) -> Self {
        ApiError::NotFound {
            resource: resource.into(),
            name: name.into(),
        }
    }

    pub fn invalid(
        kind: impl Into<String>,
        name: impl Into<String>,
        causes: Vec<FieldError>,
    ) -> Self {
        ApiError::Invalid {
            kind: kind.into(),
            name: name.into(),
            causes,
        }
    }

    /// The HTTP status code upstream answers with.
    pub fn code(&self) -> u16 {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownPath => 404,
            ApiError::AlreadyExists { .. }
            | ApiError::Conflict { .. }
            | ApiError::ApplyConflict { .. } => 409,
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch(_) => 422,
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden(_) | ApiError::NamespaceTerminating { .. } => 403,
            ApiError::MethodNotAllowed | ApiError::VerbRefused(_) => 405,
            ApiError::NotAcceptable { .. } => 406,
            ApiError::Gone(_) | ApiError::ContinueExpired { .. } => 410,
            ApiError::TooLarge { .. } => 413,
            ApiError::UnsupportedMediaType { .. } => 415,
            ApiError::TooManyRequests(_) => 429,
            ApiError::Internal(_) | ApiError::ConversionFailed(_) => 500,
            ApiError::Unavailable(_) => 503,
            ApiError::Timeout(_) | ApiError::TooLargeResourceVersion { .. } => 504,
        }
    }

    /// upstream's `StatusReason`.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::NotFound { .. } | ApiError::UnknownPath => "NotFound",
            ApiError::AlreadyExists { .. } => "AlreadyExists",
            ApiError::Conflict { .. } | ApiError::ApplyConflict { .. } => "Conflict",
            ApiError::Invalid { .. } | ApiError::UnprocessablePatch(_) => "Invalid",
            ApiError::BadRequest(_) => "BadRequest",
            ApiError::Unauthorized => "Unauthorized",
            ApiError::Forbidden(_) | ApiError::NamespaceTerminating { .. } => "Forbidden",
            ApiError::MethodNotAllowed | ApiError::VerbRefused(_) => "MethodNotAllowed",
            ApiError::NotAcceptable { .. } => "NotAcceptable",
            ApiError::Gone(_) | ApiError::ContinueExpired { .. } => "Expired",
            ApiError::TooLarge { .. } => "RequestEntityTooLarge",
            ApiError::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            ApiError::TooManyRequests(_) => "TooManyRequests",
            ApiError::Internal(_) => "InternalError",
            ApiError::ConversionFailed(_) => "",
            ApiError::Unavailable(_) => "ServiceUnavailable",
            ApiError::Timeout(_) | ApiError::TooLargeResourceVersion { .. } => "Timeout",
        }
    }

    /// The `Status` object for this error; `group`/`kind` fill `details`
    /// the way upstream does for object errors.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.to_string(),
            "reason": self.reason(),
            "code": self.code(),
        });
        if self.reason().is_empty() {
            if let Some(map) = status.as_object_mut() {
                map.remove("reason");
            }
        }
        let details = match self {
            ApiError::NotFound { resource, name }
            | ApiError::AlreadyExists { resource, name }
            | ApiError::Conflict { resource, name, .. } => Some(resource_details(resource, name)),
            ApiError::Invalid { kind, name, causes } => {
                let (kind, group) = match kind.split_once('.') {
                    Some((k, g)) => (k.to_string(), g.to_string()),
                    None => (kind.clone(), String::new()),
                };
                let mut d = json!({ "name": name, "kind": kind });
                if !group.is_empty() {
                    d["group"] = json!(group);
                }
                d["causes"] = causes
                    .iter()
                    .map(|c| {
                        json!({
                            "reason": c.kind.cause_type(),
                            "message": c.message(),
                            "field": c.field,
                        })
                    })
                    .collect();
                Some(d)
            }
            ApiError::NamespaceTerminating {
                resource,
                name,
                namespace,
            } => {
                let mut d = resource_details(resource, name);
                d["causes"] = json!([{
                    "reason": "NamespaceTerminating",
                    "message": format!("namespace {namespace} is being terminated"),
                    "field": "metadata.namespace",
                }]);
                Some(d)
            }
            ApiError::TooLargeResourceVersion { .. } => Some(json!({
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1,
            })),
            ApiError::TooManyRequests(_) => Some(json!({ "retryAfterSeconds": 1 })),
            ApiError::ApplyConflict { causes, .. } => Some(json!({
                "causes": causes
                    .iter()
                    .map(|(message, field)| json!({
                        "reason": "FieldManagerConflict",
                        "message": message,
                        "field": field,
                    }))
                    .collect::<Vec<_>>(),
            })),
            _ => None,
        };
        if let Some(details) = details {
            status["details"] = details;
        }
        if let ApiError::ContinueExpired { fresh } = self {
            status["metadata"] = json!({ "continue": fresh });
        }
        status
    }
}

/// `configmaps` -> kind configmaps; `deployments.apps` -> group apps.
fn resource_details(resource: &str, name: &str) -> Value {
    let (kind, group) = match resource.split_once('.') {
        Some((k, g)) => (k, g),
        None => (resource, ""),
    };
    let mut d = json!({ "name": name, "kind": kind });
    if !group.is_empty() {
        d["group"] = json!(group);
    }
    d
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Compacted { .. } => {
                ApiError::Gone("The resourceVersion for the provided watch is too old.".into())
            }
            StoreError::FutureRevision { requested, current } => {
                ApiError::TooLargeResourceVersion { requested, current }
            }
            StoreError::Unavailable(m) => ApiError::Unavailable(m),
            other => {
                tracing::error!(error = %other, "unexpected storage error");
                ApiError::Internal(other.to_string())
            }
        }
    }
}
