//! [`CatchPanicFuture`] and the [`PanicBody`] of its responses.

use super::{ERROR_TYPE, PanicCaught, message, take_location};
use http::{Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use sdk_core::record::with_record;
use sdk_core::semconv::error;
use sdk_core::spans::AttrValue;
use std::borrow::Cow;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

/// The status message of a panicked request when messages are not recorded.
const PANICKED: &str = "handler panicked";

pin_project! {
    /// The future of [`CatchPanic`](super::CatchPanic).
    pub struct CatchPanicFuture<F> {
        #[pin]
        inner: F,
        done: bool,
        record_messages: bool,
    }
}

impl<F> CatchPanicFuture<F> {
    pub(crate) fn new(inner: F, record_messages: bool) -> Self {
        Self {
            inner,
            done: false,
            record_messages,
        }
    }
}

impl<F, B, E> Future for CatchPanicFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = Result<Response<PanicBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if *this.done {
            // A panicked future is not polled again.
            return Poll::Pending;
        }
        let inner = this.inner;
        match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                *this.done = true;
                Poll::Ready(result.map(|response| response.map(PanicBody::new)))
            }
            Err(payload) => {
                *this.done = true;
                let message = this.record_messages.then(|| message(payload.as_ref()));
                let location = take_location();
                let span = tracing::Span::current();
                with_record(&span, |record| {
                    record.set(error::TYPE, AttrValue::Str(Cow::Borrowed(ERROR_TYPE)));
                    record.error(message.as_deref().unwrap_or(PANICKED));
                    if let Some(location) = &location {
                        record.set(error::STACK, AttrValue::Str(Cow::Owned(location.clone())));
                    }
                });
                let location = location.unwrap_or_default();
                match &message {
                    Some(message) => {
                        tracing::error!(panic.message = %message, panic.location = %location, "handler panicked")
                    }
                    None => tracing::error!(panic.location = %location, "handler panicked"),
                }
                let mut response = Response::new(PanicBody::empty());
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                response.extensions_mut().insert(PanicCaught);
                Poll::Ready(Ok(response))
            }
        }
    }
}

pin_project! {
    /// The inner service's body, or an empty one for a panicked handler.
    pub struct PanicBody<B> {
        #[pin]
        inner: Option<B>,
    }
}

impl<B> PanicBody<B> {
    fn new(inner: B) -> Self {
        Self { inner: Some(inner) }
    }

    fn empty() -> Self {
        Self { inner: None }
    }
}

impl<B: Body> Body for PanicBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        match self.project().inner.as_pin_mut() {
            Some(inner) => inner.poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(Body::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), Body::size_hint)
    }
}
