//! Forwarding one request to an aggregated API server, as upstream's
//! aggregator proxy does: bodies stream both ways (watches and chunked
//! lists are never buffered), the caller's identity goes in
//! `X-Remote-User`/`X-Remote-Group`/`X-Remote-Extra-*` (whatever such
//! headers the caller sent are dropped first), and upgrade requests
//! (SPDY, WebSocket) become a byte pipe between the two connections.
//!
//! Failures are answered the way upstream's aggregator answers them: plain
//! text, 503 for an unavailable or unreachable backend.

use apiserver::server::{bytes_response, full_body, Body, UserInfo};
use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use super::remotes::Remote;

const REMOTE_USER: &str = "x-remote-user";
const REMOTE_GROUP: &str = "x-remote-group";
const REMOTE_UID: &str = "x-remote-uid";
const REMOTE_EXTRA: &str = "x-remote-extra-";

/// Headers that describe one connection, never passed on (RFC 9110 7.6.1).
const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "proxy-connection",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Forwards `request` to `remote`.
pub async fn forward(
    remote: &Remote,
    mut request: http::Request<Incoming>,
) -> http::Response<Body> {
    if !remote.is_available() {
        return text(503, "service unavailable");
    }
    let backend = match &remote.backend {
        Ok(backend) => backend,
        Err(reason) => return text(500, reason),
    };
    let Some(user) = request.extensions().get::<UserInfo>().cloned() else {
        return text(500, "missing user");
    };
    let upgrade = is_upgrade(request.headers());
    let client_upgrade = upgrade.then(|| hyper::upgrade::on(&mut request));
    let (parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let uri = format!("https://{}{path_and_query}", backend.authority());
    let mut headers = parts.headers;
    strip_connection_headers(&mut headers, upgrade);
    set_identity(&mut headers, &user);
    headers.remove(header::HOST);
    let mut outgoing = http::Request::builder()
        .method(parts.method)
        .uri(uri)
        .version(http::Version::HTTP_11)
        .body(
            body.map_err(|e| Box::new(e) as Box<dyn std::error::Error + Send + Sync>)
                .boxed_unsync(),
        )
        .expect("the URI is built from valid parts");
    *outgoing.headers_mut() = headers;

    let Some(client_upgrade) = client_upgrade else {
        return match backend.send(outgoing).await {
            Ok(response) => streamed(response, false),
            Err(error) => unreachable_backend(&error),
        };
    };
    let mut response = match backend.send_upgrade(outgoing).await {
        Ok(response) => response,
        Err(error) => return unreachable_backend(&error),
    };
    if response.status() != http::StatusCode::SWITCHING_PROTOCOLS {
        return streamed(response, false);
    }
    let backend_upgrade = hyper::upgrade::on(&mut response);
    tokio::spawn(async move {
        let (client, backend) = match tokio::try_join!(client_upgrade, backend_upgrade) {
            Ok(pair) => pair,
            Err(error) => {
                tracing::debug!(%error, "an upgrade did not complete");
                return;
            }
        };
        let mut client = hyper_util::rt::TokioIo::new(client);
        let mut backend = hyper_util::rt::TokioIo::new(backend);
        if let Err(error) = tokio::io::copy_bidirectional(&mut client, &mut backend).await {
            tracing::debug!(%error, "an upgraded connection ended");
        }
    });
    streamed(response, true)
}

/// The backend's response with its body streaming through.
fn streamed(response: http::Response<Incoming>, upgraded: bool) -> http::Response<Body> {
    let (mut parts, body) = response.into_parts();
    if !upgraded {
        strip_connection_headers(&mut parts.headers, false);
    }
    let body = if upgraded {
        full_body(Bytes::new())
    } else {
        body.map_err(std::io::Error::other).boxed_unsync()
    };
    http::Response::from_parts(parts, body)
}

/// Upstream's answer when the backend cannot be reached.
fn unreachable_backend(error: &str) -> http::Response<Body> {
    tracing::warn!(%error, "an aggregated API server could not be reached");
    text(503, &format!("error trying to reach service: {error}"))
}

/// A plain-text error, as Go's `http.Error` writes it.
pub fn text(code: u16, message: &str) -> http::Response<Body> {
    let mut response = bytes_response(code, "text/plain; charset=utf-8", format!("{message}\n"));
    response.headers_mut().insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

fn is_upgrade(headers: &HeaderMap) -> bool {
    headers.contains_key(header::UPGRADE)
        && headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|token| token.trim().eq_ignore_ascii_case("upgrade"))
}

/// Drops hop-by-hop headers (and those `Connection` names); an upgrade
/// keeps `Connection: Upgrade` and `Upgrade`, which the backend needs.
fn strip_connection_headers(headers: &mut HeaderMap, upgrade: bool) {
    let named: Vec<HeaderName> = headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|token| HeaderName::try_from(token.trim()).ok())
        .filter(|name| !(upgrade && name == header::UPGRADE))
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in HOP_BY_HOP {
        if upgrade && (*name == "connection" || *name == "upgrade") {
            continue;
        }
        headers.remove(*name);
    }
    if upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    }
}

/// Replaces any identity headers with the caller's.
fn set_identity(headers: &mut HeaderMap, user: &UserInfo) {
    let stale: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            let name = name.as_str();
            name == REMOTE_USER
                || name == REMOTE_GROUP
                || name == REMOTE_UID
                || name.starts_with(REMOTE_EXTRA)
        })
        .cloned()
        .collect();
    for name in stale {
        headers.remove(name);
    }
    let mut add = |name: &str, value: &str| {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::from_str(value)) {
            headers.append(name, value);
        }
    };
    add(REMOTE_USER, &user.name);
    for group in &user.groups {
        add(REMOTE_GROUP, group);
    }
    for (key, values) in &user.extra {
        let name = format!("{REMOTE_EXTRA}{}", escape_key(key));
        for value in values {
            add(&name, value);
        }
    }
}

/// An extra's key as a header name: bytes that are not header token
/// characters, and `%` itself, are percent-encoded (as client-go does, so
/// that backends can decode any key).
fn escape_key(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for byte in key.bytes() {
        let token = byte.is_ascii_alphanumeric() || b"!#$&'*+-.^_`|~".contains(&byte);
        if token {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keys_are_escaped_like_client_go() {
        assert_eq!(escape_key("scopes"), "scopes");
        assert_eq!(escape_key("acme.com/project"), "acme.com%2Fproject");
        assert_eq!(escape_key("100%"), "100%25");
    }

    #[test]
    fn callers_identity_headers_are_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert("x-remote-user", HeaderValue::from_static("mallory"));
        headers.insert("x-remote-extra-evil", HeaderValue::from_static("1"));
        let user = UserInfo {
            name: "alice".into(),
            groups: vec!["a".into(), "b".into()],
            extra: [("acme.com/p".to_string(), vec!["x".to_string()])].into(),
            ..UserInfo::default()
        };
        set_identity(&mut headers, &user);
        assert_eq!(headers.get_all("x-remote-user").iter().count(), 1);
        assert_eq!(headers["x-remote-user"], "alice");
        let groups: Vec<_> = headers.get_all("x-remote-group").iter().collect();
        assert_eq!(groups, ["a", "b"]);
        assert!(headers.get("x-remote-extra-evil").is_none());
        assert_eq!(headers["x-remote-extra-acme.com%2Fp"], "x");
    }

    #[test]
    fn hop_by_hop_headers_go_except_for_upgrades() {
        let mut headers = HeaderMap::new();
        headers.insert("connection", HeaderValue::from_static("Upgrade, X-Private"));
        headers.insert("upgrade", HeaderValue::from_static("SPDY/3.1"));
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        assert!(is_upgrade(&headers));
        let mut upgrade = headers.clone();
        strip_connection_headers(&mut upgrade, true);
        assert_eq!(upgrade["upgrade"], "SPDY/3.1");
        assert_eq!(upgrade["connection"], "Upgrade");
        assert!(upgrade.get("x-private").is_none() && upgrade.get("keep-alive").is_none());
        strip_connection_headers(&mut headers, false);
        assert!(headers.is_empty());
    }
}
