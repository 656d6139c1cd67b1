//! [`ResponseFuture`]: waits for the inner service inside the request span, decorates the
//! response and hands the end of the request to the body.

use super::body::ResponseBody;
use super::finish::{Request, end};
use super::grpc::read_grpc_status;
use crate::classify::{ServerErrors, is_error_or_default, is_grpc, status_text};
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

/// The headers the layer adds to a response: `traceparent`, `Server-Timing:
/// traceparent;desc="…"` (for the browser, which cannot read `traceparent`) and the request
/// id. They are slices of one buffer: one copy for all three.
#[derive(Default)]
pub(crate) struct ResponseHeaders {
    pub(crate) traceparent: Option<HeaderValue>,
    pub(crate) server_timing: Option<HeaderValue>,
    pub(crate) request_id: Option<HeaderValue>,
}

/// Room for `Server-Timing` (which holds `traceparent`) and a generated request id.
const HEADER_BYTES: usize = 18 + 55 + 1 + 32;

/// The bytes of [`ResponseHeaders`], owned by the `Bytes` they are sliced from.
struct HeaderBytes {
    bytes: [u8; HEADER_BYTES],
    len: usize,
}

impl HeaderBytes {
    fn push(&mut self, part: &[u8]) {
        if let Some(slot) = self.bytes.get_mut(self.len..self.len + part.len()) {
            slot.copy_from_slice(part);
            self.len += part.len();
        }
    }
}

impl AsRef<[u8]> for HeaderBytes {
    fn as_ref(&self) -> &[u8] {
        &self.bytes[..self.len]
    }
}

impl ResponseHeaders {
    /// The headers of a request whose span has `traceparent` and that echoes a `generated`
    /// request id.
    pub(crate) fn new(traceparent: Option<&[u8; 55]>, generated_id: Option<&[u8; 32]>) -> Self {
        const PREFIX: &[u8; 18] = b"traceparent;desc=\"";
        let mut buffer = HeaderBytes {
            bytes: [0; HEADER_BYTES],
            len: 0,
        };
        if let Some(traceparent) = traceparent {
            buffer.push(PREFIX);
            buffer.push(traceparent);
            buffer.push(b"\"");
        }
        let timing_end = buffer.len;
        if let Some(id) = generated_id {
            buffer.push(id);
        }
        if buffer.len == 0 {
            return Self::default();
        }
        // One allocation holds the buffer; the three values are counted references to it.
        let buffer = bytes::Bytes::from_owner(buffer);
        let value = |range: std::ops::Range<usize>| {
            (!range.is_empty()).then(|| {
                let bytes = buffer.slice(range);
                // SAFETY: the buffer holds only the ASCII prefix and quote above, the
                // hex digits and dashes of `traceparent` and the hex digits of a
                // generated request id: visible ASCII, which is a valid header value.
                #[allow(unsafe_code)]
                unsafe {
                    HeaderValue::from_maybe_shared_unchecked(bytes)
                }
            })
        };
        Self {
            traceparent: value(PREFIX.len().min(timing_end)..timing_end.saturating_sub(1)),
            server_timing: value(0..timing_end),
            request_id: value(timing_end..buffer.len()),
        }
    }
}

pin_project! {
    /// The future of [`HttpServer`](super::HttpServer).
    pub struct ResponseFuture<F> {
        #[pin]
        inner: F,
        request: Option<Request>,
        // Headers to add to the response.
        headers: ResponseHeaders,
    }
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: F, request: Request, headers: ResponseHeaders) -> Self {
        Self {
            inner,
            request: Some(request),
            headers,
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
                        if let Some(route) = &state.route.route {
                            labels.push((keys::ROUTE, route.to_string().into()));
                        }
                        HTTP_SERVER_PANICS.counter(&labels).increment(1);
                    } else if is_error_or_default(&*state.config.classify, ServerErrors, status) {
                        state.fail(status_text(status));
                    }
                }
                if grpc && is_grpc(response.headers()) {
                    read_grpc_status(&mut request, response.headers());
                }
                let headers = response.headers_mut();
                let added = std::mem::take(this.headers);
                if let Some(timing) = added.server_timing {
                    headers.append(SERVER_TIMING.clone(), timing);
                }
                if let Some(traceparent) = added.traceparent {
                    headers.insert(TRACEPARENT.clone(), traceparent);
                }
                if let Some(request_id) = added.request_id {
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
