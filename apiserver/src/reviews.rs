//! Review kinds: created, answered from the request, never stored.
//! SelfSubjectReview tells callers who they are (`kubectl auth whoami`);
//! the access reviews answer "may I" (`kubectl auth can-i`). Authorization
//! allows every authenticated user for now, so access reviews say yes.

use std::sync::Arc;

use serde_json::{json, Value};

use crate::resource::{ResourceDescriptor, Strategy};
use crate::server::UserInfo;

struct SelfSubjectReview;

impl Strategy for SelfSubjectReview {
    fn review(&self, _object: &Value, user: &UserInfo) -> Option<Value> {
        let mut info = json!({ "username": user.name });
        if !user.uid.is_empty() {
            info["uid"] = json!(user.uid);
        }
        if !user.groups.is_empty() {
            info["groups"] = json!(user.groups);
        }
        if !user.extra.is_empty() {
            info["extra"] = json!(user.extra);
        }
        Some(json!({
            "kind": "SelfSubjectReview",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": { "creationTimestamp": crate::object::now_timestamp() },
            "status": { "userInfo": info },
        }))
    }
}

/// Answers an access review of any of the three kinds: the spec comes back
/// with an allowing status.
struct AccessReview;

impl Strategy for AccessReview {
    fn review(&self, object: &Value, _user: &UserInfo) -> Option<Value> {
        let mut answer = object.clone();
        if let Some(map) = answer.as_object_mut() {
            map.entry("metadata").or_insert_with(|| json!({}));
        }
        answer["metadata"]["creationTimestamp"] = json!(crate::object::now_timestamp());
        answer["status"] = json!({
            "allowed": true,
            "reason": "every authenticated user is allowed (authorization is allow-all)",
        });
        Some(answer)
    }
}

/// Lists everything as allowed, matching the allow-all authorizer.
struct RulesReview;

impl Strategy for RulesReview {
    fn review(&self, object: &Value, _user: &UserInfo) -> Option<Value> {
        let mut answer = object.clone();
        answer["metadata"] = json!({ "creationTimestamp": crate::object::now_timestamp() });
        answer["status"] = json!({
            "resourceRules": [{ "verbs": ["*"], "apiGroups": ["*"], "resources": ["*"] }],
            "nonResourceRules": [{ "verbs": ["*"], "nonResourceURLs": ["*"] }],
            "incomplete": false,
        });
        Some(answer)
    }
}

fn review(
    group: &str,
    kind: &str,
    plural: &str,
    namespaced: bool,
    strategy: Arc<dyn Strategy>,
) -> ResourceDescriptor {
    ResourceDescriptor {
        group: group.into(),
        version: "v1".into(),
        kind: kind.into(),
        plural: plural.into(),
        singular: kind.to_ascii_lowercase(),
        short_names: Vec::new(),
        categories: Vec::new(),
        namespaced,
        verbs: vec!["create".into()],
        has_status: false,
        storage_path: plural.into(),
        strategy,
    }
}

pub fn descriptors() -> Vec<ResourceDescriptor> {
    let access: Arc<dyn Strategy> = Arc::new(AccessReview);
    vec![
        review(
            "authentication.k8s.io",
            "SelfSubjectReview",
            "selfsubjectreviews",
            false,
            Arc::new(SelfSubjectReview),
        ),
        review(
            "authorization.k8s.io",
            "SelfSubjectAccessReview",
            "selfsubjectaccessreviews",
            false,
            access.clone(),
        ),
        review(
            "authorization.k8s.io",
            "SelfSubjectRulesReview",
            "selfsubjectrulesreviews",
            false,
            Arc::new(RulesReview),
        ),
        review(
            "authorization.k8s.io",
            "SubjectAccessReview",
            "subjectaccessreviews",
            false,
            access.clone(),
        ),
        review(
            "authorization.k8s.io",
            "LocalSubjectAccessReview",
            "localsubjectaccessreviews",
            true,
            access,
        ),
    ]
}
