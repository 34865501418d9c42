//! Which requests may run without end: watches, and the streaming
//! subresources (exec, attach, port-forward, proxy, followed logs). The
//! timeout and the in-flight limit leave these alone, as upstream's
//! `LongRunningRequestCheck` does.

use http::Request;

/// Subresources that hold their connection open.
const STREAMING_SUBRESOURCES: [&str; 4] = ["exec", "attach", "portforward", "proxy"];

/// Whether the request is long-running.
pub fn is_long_running<B>(request: &Request<B>) -> bool {
    let path = request.uri().path();
    let query = request.uri().query().unwrap_or("");
    if query_flag(query, "watch") {
        return true;
    }
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let Some(rest) = resource_segments(&segments) else {
        return false;
    };
    // The old watch form: /api/v1/watch/namespaces/default/pods.
    if rest.first() == Some(&"watch") {
        return true;
    }
    match rest.get(2) {
        Some(&"log") => query_flag(query, "follow"),
        Some(subresource) => STREAMING_SUBRESOURCES.contains(subresource),
        None => false,
    }
}

/// The segments after `/api/v1` or `/apis/GROUP/VERSION`, with a leading
/// `namespaces/NAME` dropped when a resource follows it: what is left is
/// `[resource, name, subresource, ...]` (or `watch/...`).
fn resource_segments<'a>(segments: &'a [&'a str]) -> Option<&'a [&'a str]> {
    let rest = match segments {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        _ => return None,
    };
    match rest {
        ["namespaces", _namespace, tail @ ..] if !tail.is_empty() => Some(tail),
        _ => Some(rest),
    }
}

/// Whether a boolean query parameter is true, read as Go's
/// `strconv.ParseBool` reads it (`1`, `t`, `true`, `TRUE`, `True`).
pub fn query_flag(query: &str, name: &str) -> bool {
    query_value(query, name)
        .is_some_and(|value| matches!(value, "1" | "t" | "T" | "true" | "TRUE" | "True"))
}

/// The first value of a query parameter (no percent-decoding: the
/// parameters read here never need it).
pub fn query_value<'a>(query: &'a str, name: &str) -> Option<&'a str> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then_some(value)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn long_running(uri: &str) -> bool {
        is_long_running(&Request::get(uri).body(()).expect("test uri"))
    }

    #[test]
    fn watches_are_long_running() {
        assert!(long_running("/api/v1/pods?watch=true"));
        assert!(long_running(
            "/api/v1/namespaces/a/pods?labelSelector=x&watch=1"
        ));
        assert!(long_running("/api/v1/watch/namespaces/a/pods"));
        assert!(long_running("/apis/apps/v1/watch/deployments"));
        assert!(!long_running("/api/v1/pods?watch=false"));
        assert!(!long_running("/api/v1/pods"));
    }

    #[test]
    fn streaming_subresources_are_long_running() {
        assert!(long_running("/api/v1/namespaces/a/pods/p/exec?command=sh"));
        assert!(long_running("/api/v1/namespaces/a/pods/p/log?follow=true"));
        assert!(!long_running("/api/v1/namespaces/a/pods/p/log"));
        assert!(!long_running("/api/v1/namespaces/a/pods/p/status"));
    }

    #[test]
    fn objects_named_like_subresources_are_not() {
        assert!(!long_running("/api/v1/namespaces/a/configmaps/exec"));
        assert!(!long_running("/api/v1/namespaces/watch"));
        assert!(!long_running("/version"));
    }
}
