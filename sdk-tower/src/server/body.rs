//! Bodies counted as they stream, and the response body that ends the request's telemetry.

use super::future::Finish;
use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll, ready};

pin_project! {
    /// A body that adds the size of every data frame to a shared counter.
    pub struct CountingBody<B> {
        #[pin]
        inner: B,
        counter: Arc<AtomicU64>,
    }
}

impl<B> CountingBody<B> {
    /// Counts `inner`'s bytes into `counter`.
    pub fn new(inner: B, counter: Arc<AtomicU64>) -> Self {
        Self { inner, counter }
    }
}

impl<B: Body> Body for CountingBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let frame = ready!(this.inner.poll_frame(cx));
        if let Some(Ok(frame)) = &frame
            && let Some(data) = frame.data_ref()
        {
            this.counter
                .fetch_add(data.remaining() as u64, Ordering::Relaxed);
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Request body types the server layer can count while keeping the type the inner
/// service expects.
pub trait RewrapBody: Body + Sized {
    /// This body, counting its bytes into `counter` as they are read.
    fn counted(self, counter: Arc<AtomicU64>) -> Self;
}

#[cfg(feature = "axum")]
impl RewrapBody for axum::body::Body {
    fn counted(self, counter: Arc<AtomicU64>) -> Self {
        axum::body::Body::new(CountingBody::new(self, counter))
    }
}

impl<E: 'static> RewrapBody for http_body_util::combinators::BoxBody<bytes::Bytes, E> {
    fn counted(self, counter: Arc<AtomicU64>) -> Self {
        http_body_util::combinators::BoxBody::new(CountingBody::new(self, counter))
    }
}

impl<E: 'static> RewrapBody for http_body_util::combinators::UnsyncBoxBody<bytes::Bytes, E> {
    fn counted(self, counter: Arc<AtomicU64>) -> Self {
        http_body_util::combinators::UnsyncBoxBody::new(CountingBody::new(self, counter))
    }
}

/// A complete body's size is known up front.
impl RewrapBody for http_body_util::Full<bytes::Bytes> {
    fn counted(self, counter: Arc<AtomicU64>) -> Self {
        counter.store(self.size_hint().exact().unwrap_or(0), Ordering::Relaxed);
        self
    }
}

impl RewrapBody for http_body_util::Empty<bytes::Bytes> {
    fn counted(self, _counter: Arc<AtomicU64>) -> Self {
        self
    }
}

impl RewrapBody for String {
    fn counted(self, counter: Arc<AtomicU64>) -> Self {
        counter.store(self.len() as u64, Ordering::Relaxed);
        self
    }
}

pin_project! {
    /// The response body: counts bytes, reads gRPC trailers, and records the request's
    /// duration and sizes when it ends or is dropped (an aborted stream counts what was sent).
    pub struct ResponseBody<B> {
        #[pin]
        inner: Option<B>,
        finish: Option<Finish>,
        sent: u64,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(finish) = this.finish.take() {
                finish.done(*this.sent, None);
            }
        }
    }
}

impl<B> ResponseBody<B> {
    pub(crate) fn new(inner: B, finish: Finish) -> Self {
        Self {
            inner: Some(inner),
            finish: Some(finish),
            sent: 0,
        }
    }

    /// An empty body (the answer to a panicked handler).
    pub(crate) fn empty(finish: Finish) -> Self {
        Self {
            inner: None,
            finish: Some(finish),
            sent: 0,
        }
    }
}

impl<B: Body> Body for ResponseBody<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, B::Error>>> {
        let this = self.project();
        let Some(inner) = this.inner.as_pin_mut() else {
            if let Some(finish) = this.finish.take() {
                finish.done(*this.sent, None);
            }
            return Poll::Ready(None);
        };
        let frame = ready!(inner.poll_frame(cx));
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    *this.sent += data.remaining() as u64;
                } else if let Some(trailers) = frame.trailers_ref()
                    && let Some(finish) = this.finish.as_mut()
                {
                    finish.trailers(trailers);
                }
            }
            Some(Err(_)) => {
                if let Some(finish) = this.finish.take() {
                    finish.done(*this.sent, Some("body_error"));
                }
            }
            None => {
                if let Some(finish) = this.finish.take() {
                    finish.done(*this.sent, None);
                }
            }
        }
        Poll::Ready(frame)
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
