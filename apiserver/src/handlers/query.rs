//! The query parameters of resource requests, parsed once; a bad value is a
//! 400 naming the parameter.

use crate::error::ApiError;
use crate::selectors::{FieldSelector, LabelSelector};

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space).
pub fn percent_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Every `key=value` pair of a query string, decoded.
pub fn pairs(query: &str) -> Vec<(String, String)> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// How a list or watch names the revision to read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResourceVersionMatch {
    /// Not given.
    Unset,
    NotOlderThan,
    Exact,
}

/// The options of a resource request.
#[derive(Debug, Clone)]
pub struct Query {
    pub label_selector: LabelSelector,
    pub field_selector: FieldSelector,
    pub limit: usize,
    pub continue_token: Option<String>,
    /// `None` when absent; `Some("")` is treated as absent.
    pub resource_version: Option<String>,
    pub resource_version_match: ResourceVersionMatch,
    pub timeout_seconds: Option<u64>,
    pub allow_watch_bookmarks: bool,
    pub send_initial_events: Option<bool>,
    pub dry_run: bool,
    pub field_validation: String,
    pub propagation_policy: Option<String>,
    pub grace_period_seconds: Option<i64>,
    pub include_object: String,
    /// `fieldManager`: who a server-side apply records as the owner.
    pub field_manager: String,
    /// `force`: a server-side apply takes fields other managers own.
    pub force: bool,
}

fn bool_param(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" | "" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(ApiError::BadRequest(format!(
            "invalid value {other:?} for {name}: must be true or false"
        ))),
    }
}

impl Query {
    pub fn parse(query: &str) -> Result<Query, ApiError> {
        let mut q = Query {
            label_selector: LabelSelector::default(),
            field_selector: FieldSelector::default(),
            limit: 0,
            continue_token: None,
            resource_version: None,
            resource_version_match: ResourceVersionMatch::Unset,
            timeout_seconds: None,
            allow_watch_bookmarks: false,
            send_initial_events: None,
            dry_run: false,
            field_validation: String::new(),
            propagation_policy: None,
            grace_period_seconds: None,
            include_object: String::new(),
            field_manager: String::new(),
            force: false,
        };
        for (key, value) in pairs(query) {
            match key.as_str() {
                "labelSelector" => q.label_selector = LabelSelector::parse(&value)?,
                "fieldSelector" => q.field_selector = FieldSelector::parse(&value)?,
                "limit" => {
                    let n: i64 = value.parse().map_err(|_| {
                        ApiError::BadRequest(format!("invalid value {value:?} for limit"))
                    })?;
                    q.limit = n.max(0) as usize;
                }
                "continue" if !value.is_empty() => q.continue_token = Some(value),
                "resourceVersion" => q.resource_version = Some(value),
                "resourceVersionMatch" => {
                    q.resource_version_match = match value.as_str() {
                        "" => ResourceVersionMatch::Unset,
                        "NotOlderThan" => ResourceVersionMatch::NotOlderThan,
                        "Exact" => ResourceVersionMatch::Exact,
                        other => {
                            return Err(ApiError::BadRequest(format!(
                                "resourceVersionMatch: Unsupported value: \"{other}\": supported values: \"Exact\", \"NotOlderThan\""
                            )))
                        }
                    }
                }
                "timeoutSeconds" => {
                    q.timeout_seconds = Some(value.parse().map_err(|_| {
                        ApiError::BadRequest(format!("invalid value {value:?} for timeoutSeconds"))
                    })?)
                }
                "allowWatchBookmarks" => q.allow_watch_bookmarks = bool_param(&key, &value)?,
                "sendInitialEvents" => q.send_initial_events = Some(bool_param(&key, &value)?),
                "dryRun" => {
                    if value != "All" && !value.is_empty() {
                        return Err(ApiError::BadRequest(format!(
                            "dryRun: Unsupported value: \"{value}\": supported values: \"All\""
                        )));
                    }
                    q.dry_run = value == "All";
                }
                "fieldValidation" => q.field_validation = value,
                "propagationPolicy" => q.propagation_policy = Some(value),
                "gracePeriodSeconds" => q.grace_period_seconds = value.parse().ok(),
                "includeObject" => q.include_object = value,
                "fieldManager" => q.field_manager = value,
                "force" => q.force = bool_param(&key, &value)?,
                _ => {}
            }
        }
        Ok(q)
    }

    /// Upstream's ListOptions rules, which differ for lists and watches:
    /// breaking one is 422 Invalid on `ListOptions.meta.k8s.io`.
    pub fn validate_list_options(&self, is_watch: bool) -> Result<(), ApiError> {
        use crate::validation::FieldError;
        let mut errors = Vec::new();
        let rvm = self.resource_version_match;
        let forbid = |field: &str, detail: &str| FieldError::forbidden(field, detail);
        if is_watch {
            if self.send_initial_events.is_some() && rvm != ResourceVersionMatch::NotOlderThan {
                errors.push(forbid(
                    "resourceVersionMatch",
                    "sendInitialEvents requires setting resourceVersionMatch to NotOlderThan",
                ));
            }
            if rvm != ResourceVersionMatch::Unset {
                if self.send_initial_events.is_none() {
                    errors.push(forbid(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden for watch unless sendInitialEvents is provided",
                    ));
                }
                if rvm == ResourceVersionMatch::Exact {
                    errors.push(FieldError::not_supported(
                        "resourceVersionMatch",
                        serde_json::json!("Exact"),
                        &["NotOlderThan"],
                    ));
                }
                if self.continue_token.is_some() {
                    errors.push(forbid(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden when continue is provided",
                    ));
                }
            }
        } else {
            if rvm != ResourceVersionMatch::Unset {
                if self
                    .resource_version
                    .as_deref()
                    .unwrap_or_default()
                    .is_empty()
                {
                    errors.push(forbid(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden unless resourceVersion is provided",
                    ));
                }
                if self.continue_token.is_some() {
                    errors.push(forbid(
                        "resourceVersionMatch",
                        "resourceVersionMatch is forbidden when continue is provided",
                    ));
                }
                if rvm == ResourceVersionMatch::Exact
                    && self.resource_version.as_deref() == Some("0")
                {
                    errors.push(forbid(
                        "resourceVersionMatch",
                        "resourceVersionMatch \"exact\" is forbidden for resourceVersion \"0\"",
                    ));
                }
            }
            if self.send_initial_events.is_some() {
                errors.push(forbid(
                    "sendInitialEvents",
                    "sendInitialEvents is forbidden for list",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid("ListOptions.meta.k8s.io", "", errors))
        }
    }

    /// The resourceVersion as a revision: `None` when absent or empty.
    pub fn revision(&self) -> Result<Option<i64>, ApiError> {
        match self.resource_version.as_deref() {
            None | Some("") => Ok(None),
            Some(rv) => rv
                .parse::<i64>()
                .map(Some)
                .map_err(|_| ApiError::BadRequest(format!("invalid resource version: {rv:?}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_selectors() {
        let q = Query::parse("labelSelector=app%3Dweb%2Ctier+in+%28a%29&limit=5").unwrap();
        assert!(!q.label_selector.is_empty());
        assert_eq!(q.limit, 5);
        assert_eq!(percent_decode("a%2Fb+c"), "a/b c");
        assert_eq!(percent_decode("100%"), "100%");
    }
}
