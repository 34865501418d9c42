//! Turns a request's method, path and query into a [`RequestInfo`], as
//! upstream's RequestInfoFactory does: which API, verb, group, version,
//! namespace, resource, name and subresource it names.

/// What a request asks of the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestInfo {
    /// A path outside the resource API: discovery, /version, health, OpenAPI.
    NonResource { verb: String, path: String },
    /// A request on a resource.
    Resource(ResourceRequest),
}

/// A request on a resource of a group/version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRequest {
    /// get, list, watch, create, update, patch, delete, deletecollection.
    pub verb: String,
    /// Empty for the core group (`/api/v1`).
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Subresources of a namespace that are not resources inside it.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Whether the query asks for a watch (`watch=true` or `watch=1`).
pub fn query_wants_watch(query: &str) -> bool {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
}

impl RequestInfo {
    pub fn parse(method: &http::Method, path: &str, query: &str) -> RequestInfo {
        let verb_for_non_resource = method.as_str().to_ascii_lowercase();
        let non_resource = || RequestInfo::NonResource {
            verb: verb_for_non_resource.clone(),
            path: path.to_string(),
        };
        let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
        let (group, rest) = match parts.as_slice() {
            ["api", version, rest @ ..] if !rest.is_empty() => (("", *version), rest),
            ["apis", group, version, rest @ ..] if !rest.is_empty() => ((*group, *version), rest),
            _ => return non_resource(),
        };
        let mut rest: Vec<&str> = rest.to_vec();
        let mut is_watch_path = false;
        if rest.first() == Some(&"watch") {
            is_watch_path = true;
            rest.remove(0);
        }
        if rest.is_empty() || rest.iter().any(|p| p.is_empty()) {
            return non_resource();
        }
        let mut namespace = None;
        if rest[0] == "namespaces" && rest.len() > 1 {
            namespace = Some(rest[1].to_string());
            if rest.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&rest[2]) {
                rest.drain(..2);
            }
        }
        let resource = rest[0].to_string();
        let name = rest.get(1).map(|s| s.to_string());
        let subresource = rest.get(2).map(|s| s.to_string());
        if rest.len() > 3 {
            return non_resource();
        }
        // The namespace of a namespace is itself.
        if resource == "namespaces" && namespace.is_some() && name.is_some() {
            namespace = name.clone();
        }
        let verb = match *method {
            http::Method::GET | http::Method::HEAD => {
                if is_watch_path || query_wants_watch(query) {
                    "watch"
                } else if name.is_some() {
                    "get"
                } else {
                    "list"
                }
            }
            http::Method::POST => "create",
            http::Method::PUT => "update",
            http::Method::PATCH => "patch",
            http::Method::DELETE => {
                if name.is_some() {
                    "delete"
                } else {
                    "deletecollection"
                }
            }
            _ => return non_resource(),
        };
        RequestInfo::Resource(ResourceRequest {
            verb: verb.to_string(),
            group: group.0.to_string(),
            version: group.1.to_string(),
            namespace,
            resource,
            name,
            subresource,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::Method;

    fn resource(method: Method, path: &str, query: &str) -> ResourceRequest {
        match RequestInfo::parse(&method, path, query) {
            RequestInfo::Resource(r) => r,
            other => panic!("not a resource request: {other:?}"),
        }
    }

    #[test]
    fn namespaced_get() {
        let r = resource(Method::GET, "/api/v1/namespaces/ns/configmaps/cm", "");
        assert_eq!(r.verb, "get");
        assert_eq!(r.namespace.as_deref(), Some("ns"));
        assert_eq!(r.resource, "configmaps");
        assert_eq!(r.name.as_deref(), Some("cm"));
    }

    #[test]
    fn group_list_and_watch() {
        let r = resource(Method::GET, "/apis/apps/v1/deployments", "watch=1");
        assert_eq!((r.verb.as_str(), r.group.as_str()), ("watch", "apps"));
        let r = resource(
            Method::GET,
            "/apis/apps/v1/watch/namespaces/a/deployments",
            "",
        );
        assert_eq!(r.verb, "watch");
        assert_eq!(r.namespace.as_deref(), Some("a"));
    }

    #[test]
    fn namespace_itself_and_its_status() {
        let r = resource(Method::PUT, "/api/v1/namespaces/ns/status", "");
        assert_eq!(r.resource, "namespaces");
        assert_eq!(r.name.as_deref(), Some("ns"));
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = resource(Method::DELETE, "/api/v1/namespaces/ns", "");
        assert_eq!(r.verb, "delete");
        assert_eq!(r.namespace.as_deref(), Some("ns"));
    }

    #[test]
    fn subresource_and_collection_delete() {
        let r = resource(
            Method::PATCH,
            "/apis/apps/v1/namespaces/a/deployments/d/status",
            "",
        );
        assert_eq!(r.subresource.as_deref(), Some("status"));
        let r = resource(Method::DELETE, "/api/v1/namespaces/a/configmaps", "");
        assert_eq!(r.verb, "deletecollection");
    }

    #[test]
    fn discovery_is_not_a_resource() {
        assert!(matches!(
            RequestInfo::parse(&Method::GET, "/apis/apps/v1", ""),
            RequestInfo::NonResource { .. }
        ));
        assert!(matches!(
            RequestInfo::parse(&Method::GET, "/api", ""),
            RequestInfo::NonResource { .. }
        ));
    }
}
