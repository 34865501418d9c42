//! The filter chain every request passes before the API handlers: each
//! filter a small tower `Layer` + `Service` in its own module. Filters
//! share data only through request extensions ([`ConnectionInfo`] from the
//! listener, [`UserInfo`] from authentication).
//!
//! [`ConnectionInfo`]: crate::listener::ConnectionInfo
//! [`UserInfo`]: apiserver::server::UserInfo

pub mod authentication;
pub mod impersonation;
pub mod inflight;
pub mod long_running;
pub mod panic_guard;
pub mod request_log;
pub mod timeout;
pub mod token_file;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use apiserver::server::Body;
use http::Request;
use hyper::body::Incoming;
use tower::{Layer, Service};

use self::authentication::{Authentication, AuthenticationLayer, Authenticator};
use self::impersonation::{Impersonation, ImpersonationLayer};
use self::inflight::{InFlightLimit, InFlightLimitLayer};
use self::panic_guard::{PanicGuard, PanicGuardLayer};
use self::request_log::{RequestLog, RequestLogLayer};
use self::timeout::{Timeout, TimeoutLayer};
use crate::config::Settings;
use crate::proxy::Aggregator;

/// The response every filter returns.
pub type Response = http::Response<Body>;
/// The future every filter returns; boxed so the filters stay simple to
/// read and compose (one allocation per filter per request is noise next
/// to TLS and JSON).
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

/// The assembled chain (see [`chain`]).
pub type Chain =
    RequestLog<PanicGuard<Timeout<InFlightLimit<Authentication<Impersonation<ApiHandler>>>>>>;

/// Builds the chain, outermost first:
///
/// ```text
///  request
///    │
///    ▼  request_log     span per request; one info line with the code
///    ▼  panic_guard     a panic below becomes a 500 Status
///    ▼  timeout         504 past --request-timeout (watches exempt)
///    ▼  inflight        429 + Retry-After past --max-*-requests-inflight
///    ▼  authentication  front-proxy headers / client cert / bearer token /
///                      anonymous, else 401
///    ▼  impersonation   Impersonate-* headers replace the user
///    ▼  (authorization: every authenticated user may do anything, for now)
///    ▼  Aggregator::handle  proxied to an APIService's server, or
///                          ApiServer::handle
/// ```
///
/// The log is outermost so that it sees the final code of every request,
/// panics and rejections included; the in-flight limit comes before
/// authentication so that an overload is shed before any credential work.
pub fn chain(front: Aggregator, settings: &Settings, authenticator: Authenticator) -> Chain {
    let handler = ApiHandler { front };
    let impersonating = ImpersonationLayer.layer(handler);
    let authenticated = AuthenticationLayer::new(authenticator).layer(impersonating);
    let limited = InFlightLimitLayer::new(
        settings.max_requests_inflight,
        settings.max_mutating_requests_inflight,
    )
    .layer(authenticated);
    let timed = TimeoutLayer::new(settings.request_timeout).layer(limited);
    let guarded = PanicGuardLayer.layer(timed);
    RequestLogLayer.layer(guarded)
}

/// The end of the chain: the aggregator.
#[derive(Clone)]
pub struct ApiHandler {
    front: Aggregator,
}

impl Service<Request<Incoming>> for ApiHandler {
    type Response = Response;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Incoming>) -> Self::Future {
        let front = self.front.clone();
        Box::pin(async move { Ok(front.handle(request).await) })
    }
}
