//! [`ResponseFuture`]: waits for the inner service inside the request span, turns a panic
//! into a 500, decorates the response and hands the rest of the bookkeeping to the body.

use super::ServerConfig;
use super::body::ResponseBody;
use crate::classify::{GRPC_SERVER_ERRORS, grpc_status, is_grpc, status_text};
use crate::metrics_cache::FinishedKey;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use metrics::Gauge;
use pin_project_lite::pin_project;
use sdk_core::catalogue::HTTP_SERVER_PANICS;
use sdk_core::semconv::{error, http as keys};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Instant;

/// What a request carries from the call to the end of its response body.
pub(crate) struct Finish {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) span: tracing::Span,
    pub(crate) started: Instant,
    pub(crate) active: Option<Gauge>,
    pub(crate) request_bytes: Arc<AtomicU64>,
    pub(crate) key: FinishedKey,
    /// `Some(code)` once a gRPC status was read.
    pub(crate) grpc: Option<u16>,
}

impl Finish {
    /// Reads the gRPC status from trailers.
    pub(crate) fn trailers(&mut self, trailers: &HeaderMap) {
        if self.config.grpc
            && let Some(code) = grpc_status(trailers)
        {
            self.apply_grpc(code);
        }
    }

    fn apply_grpc(&mut self, code: u16) {
        self.grpc = Some(code);
        self.span.record("rpc.grpc.status_code", code);
        if GRPC_SERVER_ERRORS.contains(&code) {
            self.key.error_type = Some(grpc_error_type(code));
            self.span.record(error::TYPE, grpc_error_type(code));
            self.span.record("otel.status_code", "error");
        }
    }

    /// Records duration and sizes, ends the active request and closes the span.
    pub(crate) fn done(mut self, response_bytes: u64, failure: Option<&'static str>) {
        if let Some(failure) = failure {
            self.key.error_type.get_or_insert(failure);
        }
        let Some(active) = self.active.take() else {
            return;
        };
        let handles = self.config.handles.finished(&self.key, self.config.scheme);
        handles
            .duration
            .record(self.started.elapsed().as_secs_f64());
        handles
            .request_size
            .record(self.request_bytes.load(Ordering::Relaxed) as f64);
        handles.response_size.record(response_bytes as f64);
        active.decrement(1.0);
    }
}

fn grpc_error_type(code: u16) -> &'static str {
    match code {
        2 => "UNKNOWN",
        4 => "DEADLINE_EXCEEDED",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        _ => error::OTHER,
    }
}

pin_project! {
    /// The future of [`HttpServer`](super::HttpServer).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        finish: Option<Finish>,
        // Headers to add to the response.
        traceparent: Option<HeaderValue>,
        request_id: Option<HeaderValue>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        finish: Finish,
        traceparent: Option<HeaderValue>,
        request_id: Option<HeaderValue>,
    ) -> Self {
        Self {
            inner,
            finish: Some(finish),
            traceparent,
            request_id,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Some(span) = this.finish.as_ref().map(|f| f.span.clone()) else {
            return Poll::Pending;
        };
        let entered = span.enter();
        let inner = this.inner;
        let polled = catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        drop(entered);
        let Some(mut finish) = this.finish.take() else {
            return Poll::Pending;
        };
        match polled {
            Ok(Poll::Pending) => {
                *this.finish = Some(finish);
                Poll::Pending
            }
            Ok(Poll::Ready(Ok(mut response))) => {
                let status = response.status();
                finish.key.status = status_text(status);
                span.record(keys::RESPONSE_STATUS_CODE, status.as_u16());
                if finish.config.classify.is_error(status) {
                    finish.key.error_type = Some(status_text(status));
                    span.record(error::TYPE, status_text(status));
                    span.record("otel.status_code", "error");
                }
                if finish.config.grpc
                    && is_grpc(response.headers())
                    && let Some(code) = grpc_status(response.headers())
                {
                    finish.apply_grpc(code);
                }
                let headers = response.headers_mut();
                if let Some(traceparent) = this.traceparent.take() {
                    let mut timing = Vec::with_capacity(76);
                    timing.extend_from_slice(b"traceparent;desc=\"");
                    timing.extend_from_slice(traceparent.as_bytes());
                    timing.push(b'"');
                    if let Ok(timing) = HeaderValue::from_bytes(&timing) {
                        headers.append(
                            http::header::HeaderName::from_static("server-timing"),
                            timing,
                        );
                    }
                    headers.insert(
                        http::header::HeaderName::from_static("traceparent"),
                        traceparent,
                    );
                }
                if let Some(request_id) = this.request_id.take() {
                    headers.insert(
                        http::header::HeaderName::from_static("x-request-id"),
                        request_id,
                    );
                }
                Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, finish))))
            }
            Ok(Poll::Ready(Err(err))) => {
                finish.key.status = status_text(StatusCode::INTERNAL_SERVER_ERROR);
                span.record(error::TYPE, error::OTHER);
                span.record("otel.status_code", "error");
                finish.done(0, Some(error::OTHER));
                Poll::Ready(Err(err))
            }
            Err(payload) => {
                let message = crate::panic::message(payload.as_ref());
                let location = crate::panic::take_location().unwrap_or_default();
                span.record(error::TYPE, "panic");
                span.record("otel.status_code", "error");
                span.record("otel.status_message", message.as_str());
                span.record(error::STACK, location.as_str());
                span.record(keys::RESPONSE_STATUS_CODE, 500u16);
                span.in_scope(|| tracing::error!(panic.message = %message, panic.location = %location, "handler panicked"));
                let method = metrics::SharedString::const_str(finish.key.method);
                let mut labels = vec![(keys::REQUEST_METHOD, method)];
                if let Some(route) = &finish.key.route {
                    labels.push((keys::ROUTE, route.to_string().into()));
                }
                HTTP_SERVER_PANICS.counter(&labels).increment(1);
                finish.key.status = status_text(StatusCode::INTERNAL_SERVER_ERROR);
                finish.key.error_type = Some("panic");
                let mut response = Response::new(ResponseBody::empty(finish));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                if let Some(request_id) = this.request_id.take() {
                    response.headers_mut().insert(
                        http::header::HeaderName::from_static("x-request-id"),
                        request_id,
                    );
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}
