//! Who is calling: the verified client certificate, else a bearer token
//! from `--token-auth-file`, else (with `--anonymous-auth`) the anonymous
//! user; anything else is answered 401 `Unauthorized`.
//!
//! As upstream:
//! - a certificate's CommonName is the user and its Organizations the
//!   groups; a certificate without a CommonName does not authenticate;
//! - a bearer token that matches no user is a 401 even when anonymous
//!   requests are allowed: a client that sent credentials wants to be
//!   told they are wrong, not served as someone else;
//! - every authenticated user is also in `system:authenticated`; the
//!   anonymous user is `system:anonymous` in `system:unauthenticated`;
//! - the `Authorization` header is removed once used, so it is never
//!   passed on (to an aggregated API server, say).

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use apiserver::error::ApiError;
use apiserver::server::{error_response, UserInfo};
use http::Request;
use tower::{Layer, Service};

use super::token_file::TokenFile;
use super::{Response, ResponseFuture};
use crate::listener::ConnectionInfo;

const AUTHENTICATED_GROUP: &str = "system:authenticated";
const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";
const ANONYMOUS_USER: &str = "system:anonymous";

/// The ways a caller may prove who they are.
#[derive(Debug, Clone, Default)]
pub struct Authenticator {
    /// Tokens from `--token-auth-file`, when given.
    pub tokens: Option<TokenFile>,
    /// `--anonymous-auth`.
    pub allow_anonymous: bool,
}

/// Why a request was not authenticated (logged, never sent: the client
/// sees upstream's bare "Unauthorized").
#[derive(Debug, PartialEq, Eq)]
enum Rejection {
    NoCredentials,
    UnknownToken,
}

impl Authenticator {
    fn authenticate<B>(&self, request: &Request<B>) -> Result<UserInfo, Rejection> {
        let certificate = request
            .extensions()
            .get::<ConnectionInfo>()
            .and_then(|connection| connection.client_certificate.as_ref())
            .filter(|certificate| !certificate.common_name.is_empty());
        if let Some(certificate) = certificate {
            return Ok(with_authenticated_group(UserInfo {
                name: certificate.common_name.clone(),
                groups: certificate.organizations.clone(),
                ..UserInfo::default()
            }));
        }
        if let (Some(tokens), Some(token)) = (&self.tokens, bearer_token(request)) {
            return match tokens.user(token) {
                Some(user) => Ok(with_authenticated_group(user.clone())),
                None => Err(Rejection::UnknownToken),
            };
        }
        if self.allow_anonymous {
            return Ok(UserInfo {
                name: ANONYMOUS_USER.into(),
                groups: vec![UNAUTHENTICATED_GROUP.into()],
                ..UserInfo::default()
            });
        }
        Err(Rejection::NoCredentials)
    }
}

/// The token of an `Authorization: Bearer TOKEN` header; the scheme is
/// matched without regard to case, as upstream does.
fn bearer_token<B>(request: &Request<B>) -> Option<&str> {
    let value = request
        .headers()
        .get(http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    let has_group = user
        .groups
        .iter()
        .any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP);
    if !has_group {
        user.groups.push(AUTHENTICATED_GROUP.into());
    }
    user
}

#[derive(Debug, Clone)]
pub struct AuthenticationLayer {
    authenticator: Arc<Authenticator>,
}

impl AuthenticationLayer {
    pub fn new(authenticator: Authenticator) -> Self {
        AuthenticationLayer {
            authenticator: Arc::new(authenticator),
        }
    }
}

impl<S> Layer<S> for AuthenticationLayer {
    type Service = Authentication<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Authentication {
            inner,
            authenticator: self.authenticator.clone(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Authentication<S> {
    inner: S,
    authenticator: Arc<Authenticator>,
}

impl<S, B> Service<Request<B>> for Authentication<S>
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
        match self.authenticator.authenticate(&request) {
            Ok(user) => {
                tracing::Span::current().record("user", user.name.as_str());
                request.headers_mut().remove(http::header::AUTHORIZATION);
                request.extensions_mut().insert(user);
                Box::pin(self.inner.call(request))
            }
            Err(rejection) => {
                tracing::debug!(?rejection, "request not authenticated");
                Box::pin(async { Ok(error_response(&ApiError::Unauthorized)) })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::ClientCertificate;

    fn tokens() -> TokenFile {
        TokenFile::parse("secret,alice,7,\"dev,ops\"\n").expect("test tokens")
    }

    fn request(bearer: Option<&str>, common_name: Option<&str>) -> Request<()> {
        let mut request = Request::get("/api").body(()).expect("test request");
        if let Some(token) = bearer {
            let value = format!("Bearer {token}").parse().expect("header value");
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        request.extensions_mut().insert(ConnectionInfo {
            remote: "127.0.0.1:1".parse().expect("address"),
            client_certificate: common_name.map(|cn| ClientCertificate {
                common_name: cn.into(),
                organizations: vec!["system:masters".into()],
            }),
        });
        request
    }

    #[test]
    fn a_client_certificate_names_user_and_groups() {
        let user = Authenticator::default()
            .authenticate(&request(None, Some("kubernetes-admin")))
            .expect("authenticated");
        assert_eq!(user.name, "kubernetes-admin");
        assert_eq!(user.groups, ["system:masters", "system:authenticated"]);
    }

    #[test]
    fn a_known_token_authenticates() {
        let authenticator = Authenticator {
            tokens: Some(tokens()),
            allow_anonymous: false,
        };
        let user = authenticator
            .authenticate(&request(Some("secret"), None))
            .expect("authenticated");
        assert_eq!(user.name, "alice");
        assert_eq!(user.uid, "7");
        assert_eq!(user.groups, ["dev", "ops", "system:authenticated"]);
    }

    #[test]
    fn an_unknown_token_is_refused_even_with_anonymous_on() {
        let authenticator = Authenticator {
            tokens: Some(tokens()),
            allow_anonymous: true,
        };
        assert_eq!(
            authenticator.authenticate(&request(Some("wrong"), None)),
            Err(Rejection::UnknownToken)
        );
    }

    #[test]
    fn no_credentials_is_anonymous_only_when_allowed() {
        let closed = Authenticator::default();
        assert_eq!(
            closed.authenticate(&request(None, None)),
            Err(Rejection::NoCredentials)
        );
        let open = Authenticator {
            tokens: None,
            allow_anonymous: true,
        };
        let user = open.authenticate(&request(None, None)).expect("anonymous");
        assert_eq!(user.name, "system:anonymous");
        assert_eq!(user.groups, ["system:unauthenticated"]);
    }

    #[test]
    fn a_certificate_without_a_common_name_does_not_authenticate() {
        assert_eq!(
            Authenticator::default().authenticate(&request(None, Some(""))),
            Err(Rejection::NoCredentials)
        );
    }
}
