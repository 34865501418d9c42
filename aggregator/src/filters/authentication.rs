//! Who is calling, asked in upstream's order: a front proxy's request
//! headers, the client certificate, a bearer token from
//! `--token-auth-file`, else (with `--anonymous-auth`) the anonymous user;
//! anything else is answered 401 `Unauthorized`.
//!
//! As upstream:
//! - a front proxy (a client certificate from a front-proxy CA with an
//!   allowed common name) names the user in request headers; without a
//!   username header the other ways are tried, and the proxy's own
//!   certificate names nobody unless a client CA signed it too;
//! - a certificate from a client CA names the user (CommonName) and the
//!   groups (Organizations); one without a CommonName does not
//!   authenticate;
//! - a way that fails (a proxy with a name not allowed, a certificate only
//!   a front-proxy CA signed, an unknown token) makes the answer a 401
//!   unless a later way succeeds, even when anonymous requests are
//!   allowed: a client that sent credentials wants to be told they are
//!   wrong, not served as someone else;
//! - every authenticated user is also in `system:authenticated`; the
//!   anonymous user is `system:anonymous` in `system:unauthenticated`;
//! - the `Authorization` header is removed once used, so it is never
//!   passed on (to an aggregated API server, say), and the request-header
//!   names are removed from every request, whoever sent them.

mod request_header;

pub(crate) use self::request_header::unescape_key as unescape_extra_key;
pub use self::request_header::RequestHeader;

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
    /// How front proxies name users (`--requestheader-*`).
    pub request_header: RequestHeader,
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
    /// A front-proxy certificate whose common name is not allowed.
    ProxyNotAllowed,
    /// A certificate no client CA signed (a front-proxy CA did).
    CertificateNotFromClientCa,
    UnknownToken,
}

impl Authenticator {
    /// Tries each way in turn, as upstream's union authenticator: the
    /// first that names a user wins; a way that failed is the answer only
    /// when none does.
    fn authenticate<B>(&self, request: &Request<B>) -> Result<UserInfo, Rejection> {
        let mut failure = None;
        let certificate = request
            .extensions()
            .get::<ConnectionInfo>()
            .and_then(|connection| connection.client_certificate.as_ref());
        if let Some(proxy) = certificate.filter(|c| c.is_from_requestheader_ca) {
            if !self.request_header.allows(&proxy.common_name) {
                failure = Some(Rejection::ProxyNotAllowed);
            } else if let Some(user) = self.request_header.user(request.headers()) {
                return Ok(with_authenticated_group(user));
            }
        }
        if let Some(certificate) = certificate {
            if !certificate.is_from_client_ca {
                failure.get_or_insert(Rejection::CertificateNotFromClientCa);
            } else if !certificate.common_name.is_empty() {
                return Ok(with_authenticated_group(UserInfo {
                    name: certificate.common_name.clone(),
                    groups: certificate.organizations.clone(),
                    ..UserInfo::default()
                }));
            }
        }
        if let (Some(tokens), Some(token)) = (&self.tokens, bearer_token(request)) {
            match tokens.user(token) {
                Some(user) => return Ok(with_authenticated_group(user.clone())),
                None => {
                    failure.get_or_insert(Rejection::UnknownToken);
                }
            }
        }
        if let Some(failure) = failure {
            return Err(failure);
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

/// Adds `system:authenticated`, as upstream's group adder does: not to the
/// anonymous user, nor to a user already in it or in
/// `system:unauthenticated`.
fn with_authenticated_group(mut user: UserInfo) -> UserInfo {
    if user.name == ANONYMOUS_USER {
        return user;
    }
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
        let authenticated = self.authenticator.authenticate(&request);
        self.authenticator
            .request_header
            .strip(request.headers_mut());
        match authenticated {
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
    use crate::config::RequestHeaderSettings;
    use crate::tls::ClientCertificate;

    fn tokens() -> TokenFile {
        TokenFile::parse("secret,alice,7,\"dev,ops\"\n").expect("test tokens")
    }

    fn with_front_proxy() -> Authenticator {
        Authenticator {
            request_header: RequestHeader::new(&RequestHeaderSettings {
                client_ca_file: None,
                allowed_names: vec!["front-proxy-client".into()],
                username_headers: vec!["X-Remote-User".into()],
                uid_headers: Vec::new(),
                group_headers: vec!["X-Remote-Group".into()],
                extra_headers_prefixes: vec!["X-Remote-Extra-".into()],
            }),
            ..Authenticator::default()
        }
    }

    /// Which CAs signed a test certificate.
    #[derive(Clone, Copy)]
    enum Signer {
        ClientCa,
        FrontProxyCa,
    }

    fn certificate(common_name: &str, signer: Signer) -> ClientCertificate {
        ClientCertificate {
            common_name: common_name.into(),
            organizations: vec!["system:masters".into()],
            is_from_client_ca: matches!(signer, Signer::ClientCa),
            is_from_requestheader_ca: matches!(signer, Signer::FrontProxyCa),
        }
    }

    fn request_with(
        bearer: Option<&str>,
        certificate: Option<ClientCertificate>,
        headers: &[(&str, &str)],
    ) -> Request<()> {
        let mut request = Request::get("/api").body(()).expect("test request");
        if let Some(token) = bearer {
            let value = format!("Bearer {token}").parse().expect("header value");
            request
                .headers_mut()
                .insert(http::header::AUTHORIZATION, value);
        }
        for (name, value) in headers {
            request.headers_mut().append(
                http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        request.extensions_mut().insert(ConnectionInfo {
            remote: "127.0.0.1:1".parse().expect("address"),
            client_certificate: certificate,
        });
        request
    }

    fn request(bearer: Option<&str>, common_name: Option<&str>) -> Request<()> {
        let certificate = common_name.map(|cn| certificate(cn, Signer::ClientCa));
        request_with(bearer, certificate, &[])
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
            ..Authenticator::default()
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
            ..Authenticator::default()
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
            allow_anonymous: true,
            ..Authenticator::default()
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

    #[test]
    fn a_front_proxy_names_the_user_in_headers() {
        let proxy = certificate("front-proxy-client", Signer::FrontProxyCa);
        let headers = [("X-Remote-User", "alice"), ("X-Remote-Group", "dev")];
        let user = with_front_proxy()
            .authenticate(&request_with(None, Some(proxy), &headers))
            .expect("authenticated");
        assert_eq!(user.name, "alice");
        assert_eq!(user.groups, ["dev", "system:authenticated"]);
    }

    #[test]
    fn a_front_proxy_certificate_alone_is_nobody_even_with_anonymous_on() {
        let proxy = certificate("front-proxy-client", Signer::FrontProxyCa);
        let authenticator = Authenticator {
            allow_anonymous: true,
            ..with_front_proxy()
        };
        assert_eq!(
            authenticator.authenticate(&request_with(None, Some(proxy), &[])),
            Err(Rejection::CertificateNotFromClientCa)
        );
    }

    #[test]
    fn a_front_proxy_with_a_name_not_allowed_is_refused() {
        let stranger = certificate("stranger", Signer::FrontProxyCa);
        let headers = [("X-Remote-User", "alice")];
        assert_eq!(
            with_front_proxy().authenticate(&request_with(None, Some(stranger), &headers)),
            Err(Rejection::ProxyNotAllowed)
        );
    }

    #[test]
    fn a_token_still_works_beside_a_front_proxy_certificate() {
        let proxy = certificate("front-proxy-client", Signer::FrontProxyCa);
        let authenticator = Authenticator {
            tokens: Some(tokens()),
            ..with_front_proxy()
        };
        let user = authenticator
            .authenticate(&request_with(Some("secret"), Some(proxy), &[]))
            .expect("authenticated");
        assert_eq!(user.name, "alice");
    }

    #[test]
    fn headers_from_a_user_certificate_are_ignored() {
        let admin = certificate("kubernetes-admin", Signer::ClientCa);
        let headers = [("X-Remote-User", "mallory")];
        let user = with_front_proxy()
            .authenticate(&request_with(None, Some(admin), &headers))
            .expect("authenticated");
        assert_eq!(user.name, "kubernetes-admin");
    }

    #[test]
    fn a_front_proxy_naming_the_anonymous_user_adds_no_group() {
        let proxy = certificate("front-proxy-client", Signer::FrontProxyCa);
        let headers = [("X-Remote-User", "system:anonymous")];
        let user = with_front_proxy()
            .authenticate(&request_with(None, Some(proxy), &headers))
            .expect("authenticated");
        assert!(user.groups.is_empty());
    }

    /// The filter, in front of a handler that answers 200 when no
    /// request-header name reached it and 500 when one did.
    fn filter() -> Authentication<
        impl Service<Request<()>, Response = Response, Error = Infallible, Future: Send + 'static>
            + Clone,
    > {
        let handler = tower::service_fn(|request: Request<()>| async move {
            let leaked = request
                .headers()
                .keys()
                .any(|name| name.as_str().starts_with("x-remote-"));
            let code = if leaked { 500 } else { 200 };
            let mut response = Response::new(apiserver::server::full_body(""));
            *response.status_mut() = http::StatusCode::from_u16(code).expect("a status code");
            Ok::<_, Infallible>(response)
        });
        AuthenticationLayer::new(with_front_proxy()).layer(handler)
    }

    #[tokio::test]
    async fn request_header_names_never_reach_the_handler() {
        let forged = [
            ("X-Remote-User", "mallory"),
            ("X-Remote-Group", "system:masters"),
            ("X-Remote-Extra-Scopes", "all"),
        ];
        let admin = certificate("kubernetes-admin", Signer::ClientCa);
        let response = filter()
            .call(request_with(None, Some(admin), &forged))
            .await
            .expect("infallible");
        assert_eq!(response.status(), 200);

        let proxy = certificate("front-proxy-client", Signer::FrontProxyCa);
        let response = filter()
            .call(request_with(None, Some(proxy), &forged))
            .await
            .expect("infallible");
        assert_eq!(response.status(), 200);
    }
}
