//! Ends a request that runs past its deadline with a 504 `Status`.
//!
//! The deadline is `--request-timeout`, or the request's own `timeout`
//! query parameter when that is shorter (upstream's `WithRequestDeadline`
//! and `WithTimeoutForNonLongRunningRequests`). Long-running requests
//! (watches, exec, ...) have no deadline here. On expiry the handler's
//! future is dropped, which is why handlers must leave nothing half-done
//! when dropped.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Duration;

use apiserver::error::ApiError;
use apiserver::server::error_response;
use http::Request;
use tower::{Layer, Service};

use super::long_running::{is_long_running, query_value};
use super::{Response, ResponseFuture};
use crate::duration;

#[derive(Debug, Clone)]
pub struct TimeoutLayer {
    limit: Duration,
}

impl TimeoutLayer {
    /// `limit` is the longest any request may take (`--request-timeout`).
    pub fn new(limit: Duration) -> Self {
        TimeoutLayer { limit }
    }
}

impl<S> Layer<S> for TimeoutLayer {
    type Service = Timeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Timeout {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Debug, Clone)]
pub struct Timeout<S> {
    inner: S,
    limit: Duration,
}

impl<S, B> Service<Request<B>> for Timeout<S>
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
        if is_long_running(&request) {
            return Box::pin(self.inner.call(request));
        }
        let deadline = match deadline(request.uri().query(), self.limit) {
            Ok(deadline) => deadline,
            Err(error) => return Box::pin(async move { Ok(error_response(&error)) }),
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            match tokio::time::timeout(deadline, future).await {
                Ok(response) => response,
                Err(_) => Ok(error_response(&ApiError::Timeout(
                    "Timeout: request did not complete within the allotted timeout".into(),
                ))),
            }
        })
    }
}

/// The request's deadline: its `timeout` parameter when given, positive and
/// shorter than `limit`, else `limit` (a `timeout` of 0 means "no wish").
fn deadline(query: Option<&str>, limit: Duration) -> Result<Duration, ApiError> {
    let Some(text) = query.and_then(|q| query_value(q, "timeout")) else {
        return Ok(limit);
    };
    match duration::parse(text) {
        Ok(asked) if !asked.is_zero() && asked < limit => Ok(asked),
        Ok(_) => Ok(limit),
        Err(_) => Err(ApiError::BadRequest(
            "invalid timeout specified in the request URL".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiserver::server::json_response;
    use tower::ServiceExt;

    fn slow_handler() -> impl Service<
        Request<()>,
        Response = Response,
        Error = Infallible,
        Future = impl std::future::Future<Output = Result<Response, Infallible>> + Send,
    > + Clone {
        tower::service_fn(|_: Request<()>| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(json_response(200, &serde_json::json!({})))
        })
    }

    async fn status_of(uri: &str, limit: Duration) -> u16 {
        let request = Request::get(uri).body(()).expect("test request");
        let response = TimeoutLayer::new(limit)
            .layer(slow_handler())
            .oneshot(request)
            .await
            .expect("infallible");
        response.status().as_u16()
    }

    #[tokio::test]
    async fn a_slow_request_gets_504() {
        assert_eq!(
            status_of("/api/v1/pods", Duration::from_millis(20)).await,
            504
        );
    }

    #[tokio::test]
    async fn the_timeout_parameter_shortens_the_deadline() {
        assert_eq!(
            status_of("/api/v1/pods?timeout=20ms", Duration::from_secs(60)).await,
            504
        );
    }

    #[tokio::test]
    async fn a_bad_timeout_parameter_is_a_bad_request() {
        assert_eq!(
            status_of("/api/v1/pods?timeout=soon", Duration::from_secs(60)).await,
            400
        );
    }

    #[test]
    fn the_deadline_never_exceeds_the_limit() {
        let limit = Duration::from_secs(60);
        assert_eq!(deadline(Some("timeout=2m"), limit).ok(), Some(limit));
        assert_eq!(deadline(Some("timeout=0s"), limit).ok(), Some(limit));
        assert_eq!(
            deadline(Some("timeout=5s"), limit).ok(),
            Some(Duration::from_secs(5))
        );
        assert_eq!(deadline(None, limit).ok(), Some(limit));
    }
}
