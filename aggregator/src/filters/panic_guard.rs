//! Turns a panic anywhere below into a 500 `Status`, so one bad request
//! costs its caller an error rather than the connection (and, on HTTP/2,
//! every other request multiplexed on it). upstream: `WithPanicRecovery`.

use std::convert::Infallible;
use std::panic::AssertUnwindSafe;
use std::task::{Context, Poll};

use apiserver::error::ApiError;
use apiserver::server::error_response;
use futures::FutureExt;
use http::Request;
use tower::{Layer, Service};

use super::{Response, ResponseFuture};

#[derive(Debug, Clone, Default)]
pub struct PanicGuardLayer;

impl<S> Layer<S> for PanicGuardLayer {
    type Service = PanicGuard<S>;

    fn layer(&self, inner: S) -> Self::Service {
        PanicGuard { inner }
    }
}

#[derive(Debug, Clone)]
pub struct PanicGuard<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for PanicGuard<S>
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

    fn call(&mut self, request: Request<B>) -> Self::Future {
        // The layers below hold no state a panic could leave half-changed
        // that a later request would see, which is what unwind safety asks.
        let called = std::panic::catch_unwind(AssertUnwindSafe(|| self.inner.call(request)));
        let future = match called {
            Ok(future) => future,
            Err(payload) => return Box::pin(async move { Ok(panicked(payload)) }),
        };
        Box::pin(async move {
            match AssertUnwindSafe(future).catch_unwind().await {
                Ok(response) => response,
                Err(payload) => Ok(panicked(payload)),
            }
        })
    }
}

fn panicked(payload: Box<dyn std::any::Any + Send>) -> Response {
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string());
    tracing::error!(panic = %message, "request handler panicked");
    // The panic message may hold internals; the client gets upstream's
    // wording and the details stay in the log.
    error_response(&ApiError::Internal(
        "this request caused the server to panic; look in the server log for details".into(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panic_in_the_handler_becomes_a_500_status() {
        let handler = tower::service_fn(|_: Request<()>| async {
            if true {
                panic!("boom");
            }
            Ok::<Response, Infallible>(error_response(&ApiError::UnknownPath))
        });
        let response = PanicGuardLayer
            .layer(handler)
            .oneshot(Request::new(()))
            .await
            .expect("infallible");
        assert_eq!(response.status(), 500);
    }
}
