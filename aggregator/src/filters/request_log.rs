//! The outermost layer: a tracing span per request (method, path, client
//! address, and, once known, user and status code) and one line when the
//! response starts: debug for successes, info for 4xx, warn for 5xx.
//! Authentication records the user into this span.
//!
//! For a watch the line is written when the stream begins, not when it
//! ends; its duration is the time to the first byte.

use std::convert::Infallible;
use std::task::{Context, Poll};
use std::time::Instant;

use http::Request;
use tower::{Layer, Service};
use tracing::Instrument;

use super::{Response, ResponseFuture};
use crate::listener::ConnectionInfo;

#[derive(Debug, Clone, Default)]
pub struct RequestLogLayer;

impl<S> Layer<S> for RequestLogLayer {
    type Service = RequestLog<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestLog { inner }
    }
}

#[derive(Debug, Clone)]
pub struct RequestLog<S> {
    inner: S,
}

impl<S, B> Service<Request<B>> for RequestLog<S>
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
        let span = tracing::info_span!(
            "request",
            method = %request.method(),
            path = %request.uri().path(),
            remote = tracing::field::Empty,
            user = tracing::field::Empty,
            code = tracing::field::Empty,
        );
        if let Some(connection) = request.extensions().get::<ConnectionInfo>() {
            span.record("remote", tracing::field::display(connection.remote));
        }
        let started = Instant::now();
        // Entering the span for `call` too lets synchronous work below
        // (authentication) record into it.
        let future = span.in_scope(|| self.inner.call(request));
        let record_span = span.clone();
        Box::pin(
            async move {
                let response = future.await?;
                let code = response.status().as_u16();
                record_span.record("code", code);
                // One line per request costs real throughput at tens of
                // thousands of requests a second, so successes log at
                // debug (RUST_LOG=debug shows them) and failures louder.
                let latency = started.elapsed();
                match code {
                    500.. => tracing::warn!(?latency, "request failed"),
                    400.. => tracing::info!(?latency, "request refused"),
                    _ => tracing::debug!(?latency, "request served"),
                }
                Ok(response)
            }
            .instrument(span),
        )
    }
}
