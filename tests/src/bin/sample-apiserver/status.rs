//! What a request can be refused for, and the one way a refusal becomes a
//! `Status` response, with upstream's reasons, codes and message forms.

use http::StatusCode;
use serde_json::{json, Value};

use crate::GROUP;

/// The resource as upstream's messages name it: `<plural>.<group>`.
const QUALIFIED: &str = "flunders.wardle.example.com";

/// Why a request failed.
#[derive(Debug)]
pub enum ApiError {
    /// No trusted front-proxy identity came with the request.
    Unauthorized,
    /// The Flunder does not exist.
    NotFound { name: String },
    /// Nothing is served at this path.
    PathNotFound,
    /// A Flunder of this name exists already.
    AlreadyExists { name: String },
    /// The write names a resourceVersion that is no longer current.
    Conflict { name: String },
    /// The method means nothing at this path.
    MethodNotAllowed,
    /// The request itself is malformed.
    BadRequest(String),
    /// The object breaks a rule: `field` and upstream's `Required value` detail.
    Required {
        name: String,
        field: &'static str,
        detail: &'static str,
    },
    /// The body's media type is not one this path takes.
    UnsupportedMediaType(String),
    /// A watch asked to start before the oldest change still kept.
    Expired { requested: u64, oldest: u64 },
}

impl ApiError {
    pub fn code(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::NotFound { .. } | ApiError::PathNotFound => StatusCode::NOT_FOUND,
            ApiError::AlreadyExists { .. } | ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) => StatusCode::BAD_REQUEST,
            ApiError::Required { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Expired { .. } => StatusCode::GONE,
        }
    }

    /// The `Status` object upstream sends for this error.
    pub fn status(&self) -> Value {
        let (reason, message, details) = match self {
            ApiError::Unauthorized => ("Unauthorized", "Unauthorized".to_string(), None),
            ApiError::NotFound { name } => (
                "NotFound",
                format!("{QUALIFIED} \"{name}\" not found"),
                Some(details(name)),
            ),
            ApiError::PathNotFound => (
                "NotFound",
                "the server could not find the requested resource".to_string(),
                Some(json!({})),
            ),
            ApiError::AlreadyExists { name } => (
                "AlreadyExists",
                format!("{QUALIFIED} \"{name}\" already exists"),
                Some(details(name)),
            ),
            ApiError::Conflict { name } => (
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {QUALIFIED} \"{name}\": the object has been \
                     modified; please apply your changes to the latest version and try again"
                ),
                Some(details(name)),
            ),
            ApiError::MethodNotAllowed => (
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource".to_string(),
                Some(json!({})),
            ),
            ApiError::BadRequest(message) => ("BadRequest", message.clone(), None),
            ApiError::Required {
                name,
                field,
                detail,
            } => {
                let mut details = details(name);
                details["kind"] = json!("Flunder");
                details["causes"] = json!([{
                    "reason": "FieldValueRequired",
                    "message": format!("Required value: {detail}"),
                    "field": field,
                }]);
                (
                    "Invalid",
                    format!(
                        "Flunder.{GROUP} \"{name}\" is invalid: {field}: Required value: {detail}"
                    ),
                    Some(details),
                )
            }
            ApiError::UnsupportedMediaType(content_type) => (
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types \
                     include: application/merge-patch+json (got {content_type:?})"
                ),
                None,
            ),
            ApiError::Expired { requested, oldest } => (
                "Expired",
                format!("too old resource version: {requested} ({oldest})"),
                None,
            ),
        };
        let code = self.code().as_u16();
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        });
        if let Some(details) = details {
            status["details"] = details;
        }
        status
    }
}

/// `details` naming one Flunder; upstream puts the resource in `kind`.
fn details(name: &str) -> Value {
    json!({"name": name, "group": GROUP, "kind": "flunders"})
}

/// The `Status` a DELETE of a Flunder answers with: upstream's generic
/// registry returns this, not the object, for resources that do not ask for
/// the deleted object back (the sample-apiserver's flunders do not).
pub fn deleted(name: &str, uid: &Value) -> Value {
    let mut details = details(name);
    details["uid"] = uid.clone();
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    })
}
