//! [`ResponseFuture`]: waits for the inner service inside the request span, turns a panic
//! into a 500, decorates the response and hands the rest of the bookkeeping to the body.

use super::ServerConfig;
use super::body::ResponseBody;
use crate::classify::{GRPC_SERVER_ERRORS, grpc_status, is_grpc, status_text};
use crate::metrics_cache::FinishedKey;
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use metrics::Gauge;
use pin_project_lite::pin_project;
use sdk_core::catalogue::HTTP_SERVER_PANICS;
use sdk_core::semconv::{error, http as keys};
use sdk_core::spans::AttrValue;
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
    /// Counter of a request body that was not over at the start.
    pub(crate) request_bytes: Option<Arc<AtomicU64>>,
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
        handles.request_size.record(
            self.request_bytes
                .as_ref()
                .map_or(0, |c| c.load(Ordering::Relaxed)) as f64,
        );
        handles.response_size.record(response_bytes as f64);
        active.decrement(1.0);
    }
}

impl Drop for Finish {
    /// A request dropped before its response (the client went away, an outer timeout)
    /// is no longer active; having no response, it records no duration.
    fn drop(&mut self) {
        if let Some(active) = self.active.take() {
            active.decrement(1.0);
        }
    }
}

static SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
static TRACEPARENT: HeaderName = HeaderName::from_static(sdk_core::propagation::w3c::TRACEPARENT);

/// `Server-Timing: traceparent;desc="…"`, built on the stack.
fn server_timing(traceparent: &[u8]) -> Option<HeaderValue> {
    const PREFIX: &[u8; 18] = b"traceparent;desc=\"";
    const LEN: usize = 55;
    if traceparent.len() != LEN {
        return None;
    }
    let mut out = [b'"'; PREFIX.len() + LEN + 1];
    out[..PREFIX.len()].copy_from_slice(PREFIX);
    out[PREFIX.len()..PREFIX.len() + LEN].copy_from_slice(traceparent);
    HeaderValue::from_bytes(&out).ok()
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
        let polled = {
            let Some(finish) = this.finish.as_ref() else {
                return Poll::Pending;
            };
            let _entered = finish.span.enter();
            let inner = this.inner;
            catch_unwind(AssertUnwindSafe(|| inner.poll(cx)))
        };
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
                sdk_core::spans::with_record(&finish.span, |record| {
                    record.set(
                        keys::RESPONSE_STATUS_CODE,
                        AttrValue::I64(i64::from(status.as_u16())),
                    );
                });
                if finish.config.classify.is_error(status) {
                    finish.key.error_type = Some(status_text(status));
                    finish.span.record(error::TYPE, status_text(status));
                    finish.span.record("otel.status_code", "error");
                }
                if finish.config.grpc
                    && is_grpc(response.headers())
                    && let Some(code) = grpc_status(response.headers())
                {
                    finish.apply_grpc(code);
                }
                let headers = response.headers_mut();
                if let Some(traceparent) = this.traceparent.take() {
                    if let Some(timing) = server_timing(traceparent.as_bytes()) {
                        headers.append(SERVER_TIMING.clone(), timing);
                    }
                    headers.insert(TRACEPARENT.clone(), traceparent);
                }
                if let Some(request_id) = this.request_id.take() {
                    headers.insert(crate::request_id::HEADER_NAME.clone(), request_id);
                }
                Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, finish))))
            }
            Ok(Poll::Ready(Err(err))) => {
                finish.key.status = status_text(StatusCode::INTERNAL_SERVER_ERROR);
                finish.span.record(error::TYPE, error::OTHER);
                finish.span.record("otel.status_code", "error");
                finish.done(0, Some(error::OTHER));
                Poll::Ready(Err(err))
            }
            Err(payload) => {
                let message = crate::panic::message(payload.as_ref());
                let location = crate::panic::take_location().unwrap_or_default();
                finish.span.record(error::TYPE, "panic");
                finish.span.record("otel.status_code", "error");
                finish.span.record("otel.status_message", message.as_str());
                finish.span.record(error::STACK, location.as_str());
                sdk_core::spans::with_record(&finish.span, |record| {
                    record.set(keys::RESPONSE_STATUS_CODE, AttrValue::I64(500));
                });
                finish.span.in_scope(|| tracing::error!(panic.message = %message, panic.location = %location, "handler panicked"));
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
                    response
                        .headers_mut()
                        .insert(crate::request_id::HEADER_NAME.clone(), request_id);
                }
                Poll::Ready(Ok(response))
            }
        }
    }
}
