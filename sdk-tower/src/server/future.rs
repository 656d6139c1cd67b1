//! [`ResponseFuture`]: waits for the inner service inside the request span, decorates the
//! response and hands the end of the request to the body.

use super::body::ResponseBody;
use super::finish::{Request, end};
use super::grpc::read_grpc_status;
use crate::classify::{is_grpc, status_text};
use crate::panic::PanicCaught;
use http::{HeaderName, HeaderValue, Response};
use pin_project_lite::pin_project;
use sdk_core::catalogue::HTTP_SERVER_PANICS;
use sdk_core::semconv::{error, http as keys};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

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

pin_project! {
    /// The future of [`HttpServer`](super::HttpServer).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        request: Option<Request>,
        // Headers to add to the response.
        traceparent: Option<HeaderValue>,
        request_id: Option<HeaderValue>,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(
        inner: F,
        request: Request,
        traceparent: Option<HeaderValue>,
        request_id: Option<HeaderValue>,
    ) -> Self {
        Self {
            inner,
            request: Some(request),
            traceparent,
            request_id,
        }
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = match this.request.as_ref() {
            Some(request) => {
                let _entered = request.span().enter();
                ready!(this.inner.poll(cx))
            }
            None => return Poll::Pending,
        };
        let Some(mut request) = this.request.take() else {
            return Poll::Pending;
        };
        match polled {
            Ok(mut response) => {
                let status = response.status();
                let panicked = response.extensions().get::<PanicCaught>().is_some();
                let mut grpc = false;
                if let Some(state) = request.state_mut() {
                    grpc = state.config.grpc;
                    state.key.status = Some(status_text(status));
                    state.status_code = Some(status.as_u16());
                    if panicked {
                        state.fail(crate::panic::ERROR_TYPE);
                        let method = metrics::SharedString::const_str(state.key.method);
                        let mut labels = vec![(keys::REQUEST_METHOD, method)];
                        if let Some(route) = &state.key.route {
                            labels.push((keys::ROUTE, route.to_string().into()));
                        }
                        HTTP_SERVER_PANICS.counter(&labels).increment(1);
                    } else if state.config.classify.is_error(status) {
                        state.fail(status_text(status));
                    }
                }
                if grpc && is_grpc(response.headers()) {
                    read_grpc_status(&mut request, response.headers());
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
                Poll::Ready(Ok(response.map(|body| ResponseBody::new(body, request))))
            }
            Err(err) => {
                if let Some(state) = request.state_mut() {
                    state.key.status = Some(status_text(http::StatusCode::INTERNAL_SERVER_ERROR));
                    state.fail(error::OTHER);
                }
                end(&mut request);
                Poll::Ready(Err(err))
            }
        }
    }
}
