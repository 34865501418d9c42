//! Acting as someone else: `Impersonate-User`, `Impersonate-Uid`,
//! `Impersonate-Group` (repeatable) and `Impersonate-Extra-<key>` headers
//! replace the authenticated [`UserInfo`], as upstream's impersonation
//! filter does (what `kubectl --as` and `--as-group` send). Authorization
//! allows every authenticated user everything for now, so anyone may
//! impersonate; the headers are removed once used.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::task::{Context, Poll};

use apiserver::error::ApiError;
use apiserver::server::{error_response, UserInfo};
use http::{HeaderMap, Request};
use tower::{Layer, Service};

use super::{Response, ResponseFuture};

const USER: &str = "impersonate-user";
const UID: &str = "impersonate-uid";
const GROUP: &str = "impersonate-group";
const EXTRA_PREFIX: &str = "impersonate-extra-";

/// The user the headers ask to act as; `Ok(None)` when there are none.
fn impersonated(headers: &HeaderMap) -> Result<Option<UserInfo>, ApiError> {
    let text = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .map(str::to_string)
            .collect()
    };
    let mut extra: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA_PREFIX) {
            let key = super::authentication::unescape_extra_key(key);
            if let Ok(value) = value.to_str() {
                extra.entry(key).or_default().push(value.to_string());
            }
        }
    }
    let groups = text(GROUP);
    let uid = text(UID).into_iter().next().unwrap_or_default();
    let Some(name) = text(USER).into_iter().next() else {
        if groups.is_empty() && extra.is_empty() && uid.is_empty() {
            return Ok(None);
        }
        return Err(ApiError::BadRequest(
            "impersonating groups, a uid or extra fields requires impersonating a user (Impersonate-User)".into(),
        ));
    };
    let mut user = UserInfo {
        name,
        uid,
        groups,
        extra,
    };
    // Upstream adds the implied groups of the impersonated identity.
    let mut implied = Vec::new();
    if let Some(rest) = user.name.strip_prefix("system:serviceaccount:") {
        if let Some((namespace, _)) = rest.split_once(':') {
            implied.push("system:serviceaccounts".to_string());
            implied.push(format!("system:serviceaccounts:{namespace}"));
        }
    }
    implied.push(if user.name == "system:anonymous" {
        "system:unauthenticated".to_string()
    } else {
        "system:authenticated".to_string()
    });
    for group in implied {
        if !user.groups.contains(&group) {
            user.groups.push(group);
        }
    }
    Ok(Some(user))
}

fn strip_headers(headers: &mut HeaderMap) {
    let names: Vec<_> = headers
        .keys()
        .filter(|n| {
            let n = n.as_str();
            n == USER || n == UID || n == GROUP || n.starts_with(EXTRA_PREFIX)
        })
        .cloned()
        .collect();
    for name in names {
        headers.remove(name);
    }
}

#[derive(Debug, Clone, Default)]
pub struct ImpersonationLayer;

impl<S> Layer<S> for ImpersonationLayer {
    type Service = Impersonation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Impersonation { inner }
    }
}

#[derive(Debug, Clone)]
pub struct Impersonation<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for Impersonation<S>
where
    S: Service<Request<B>, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        match impersonated(request.headers()) {
            Ok(None) => Box::pin(self.inner.call(request)),
            Ok(Some(user)) => {
                tracing::Span::current().record("user", user.name.as_str());
                strip_headers(request.headers_mut());
                request.extensions_mut().insert(user);
                Box::pin(self.inner.call(request))
            }
            Err(e) => Box::pin(async move { Ok(error_response(&e)) }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(
                http::header::HeaderName::from_bytes(k.as_bytes()).expect("name"),
                v.parse().expect("value"),
            );
        }
        map
    }

    #[test]
    fn user_groups_and_extra_are_taken() {
        let user = impersonated(&headers(&[
            ("Impersonate-User", "alice"),
            ("Impersonate-Group", "devs"),
            ("Impersonate-Group", "ops"),
            ("Impersonate-Extra-Scopes%2Fread", "x"),
        ]))
        .expect("valid")
        .expect("impersonating");
        assert_eq!(user.name, "alice");
        assert_eq!(user.groups, ["devs", "ops", "system:authenticated"]);
        assert_eq!(user.extra["scopes/read"], ["x"]);
    }

    #[test]
    fn groups_without_a_user_are_refused() {
        assert!(impersonated(&headers(&[("Impersonate-Group", "devs")])).is_err());
        assert!(impersonated(&headers(&[])).expect("valid").is_none());
    }
}
