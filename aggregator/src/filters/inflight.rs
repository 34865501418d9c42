//! Caps how many requests are served at once, read-only and mutating
//! counted apart, and answers the rest at once with 429 and `Retry-After:
//! 1` rather than queueing them (upstream's `WithMaxInFlightLimit`).
//! Long-running requests are not counted: a watch would hold its slot for
//! hours.
//!
//! This runs before authentication (see the chain), so unlike upstream it
//! cannot exempt `system:masters` from the limit.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use apiserver::error::ApiError;
use apiserver::server::error_response;
use http::{Method, Request};
use tokio::sync::Semaphore;
use tower::{Layer, Service};

use super::long_running::is_long_running;
use super::{Response, ResponseFuture};

/// upstream's fixed advice to clients turned away.
const RETRY_AFTER_SECONDS: &str = "1";

#[derive(Debug, Clone)]
pub struct InFlightLimitLayer {
    read_only: Option<Arc<Semaphore>>,
    mutating: Option<Arc<Semaphore>>,
}

impl InFlightLimitLayer {
    /// A limit of 0 is no limit, as upstream.
    pub fn new(read_only: usize, mutating: usize) -> Self {
        let pool = |limit: usize| (limit > 0).then(|| Arc::new(Semaphore::new(limit)));
        InFlightLimitLayer {
            read_only: pool(read_only),
            mutating: pool(mutating),
        }
    }
}

impl<S> Layer<S> for InFlightLimitLayer {
    type Service = InFlightLimit<S>;

    fn layer(&self, inner: S) -> Self::Service {
        InFlightLimit {
            inner,
            limits: self.clone(),
        }
    }
}

/// Clones share the same counters: the limit is for the whole server.
#[derive(Debug, Clone)]
pub struct InFlightLimit<S> {
    inner: S,
    limits: InFlightLimitLayer,
}

impl<S, B> Service<Request<B>> for InFlightLimit<S>
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
        let pool = if is_read_only(request.method()) {
            &self.limits.read_only
        } else {
            &self.limits.mutating
        };
        let permit = match pool.as_ref().map(|pool| pool.clone().try_acquire_owned()) {
            None => None,
            Some(Ok(permit)) => Some(permit),
            Some(Err(_)) => return Box::pin(async { Ok(too_many_requests()) }),
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await;
            drop(permit);
            response
        })
    }
}

/// upstream counts get, list and watch as read-only; all reach us as GET.
fn is_read_only(method: &Method) -> bool {
    method == Method::GET || method == Method::HEAD
}

fn too_many_requests() -> Response {
    let mut response = error_response(&ApiError::TooManyRequests(
        "Too many requests, please try again later.".into(),
    ));
    response.headers_mut().insert(
        http::header::RETRY_AFTER,
        http::HeaderValue::from_static(RETRY_AFTER_SECONDS),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use apiserver::server::json_response;
    use std::time::Duration;
    use tower::ServiceExt;

    #[tokio::test]
    async fn requests_past_the_limit_get_429_with_retry_after() {
        let (release, released) = tokio::sync::watch::channel(false);
        let handler = tower::service_fn(move |_: Request<()>| {
            let mut released = released.clone();
            async move {
                let _ = released.wait_for(|done| *done).await;
                Ok::<_, Infallible>(json_response(200, &serde_json::json!({})))
            }
        });
        let service = InFlightLimitLayer::new(1, 1).layer(handler);
        let first = tokio::spawn(service.clone().oneshot(Request::new(())));
        tokio::time::sleep(Duration::from_millis(20)).await;

        let second = service
            .clone()
            .oneshot(Request::new(()))
            .await
            .expect("infallible");
        assert_eq!(second.status(), 429);
        assert_eq!(second.headers()[http::header::RETRY_AFTER], "1");

        let write = Request::post("/api/v1/namespaces")
            .body(())
            .expect("request");
        let mutating = service.clone().oneshot(write);
        let _ = release.send(true);
        assert_eq!(mutating.await.expect("infallible").status(), 200);
        let first = first.await.expect("task").expect("infallible");
        assert_eq!(first.status(), 200);
    }

    #[tokio::test]
    async fn watches_are_not_counted() {
        let handler = tower::service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(json_response(200, &serde_json::json!({})))
        });
        let service = InFlightLimitLayer::new(1, 1).layer(handler);
        let held = service.limits.read_only.clone().expect("limited");
        let _all = held.try_acquire_owned().expect("one permit");
        let watch = Request::get("/api/v1/pods?watch=true")
            .body(())
            .expect("request");
        let response = service.oneshot(watch).await.expect("infallible");
        assert_eq!(response.status(), 200);
    }
}
