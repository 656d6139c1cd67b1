//! [`ResponseBody`]: counts the bytes sent, reads gRPC trailers, and ends the request.

use super::finish::{Request, end};
use bytes::Buf;
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

pin_project! {
    /// The response body of [`HttpServer`](super::HttpServer): counts the bytes sent, reads
    /// gRPC trailers, and ends the request when the body ends or fails. Dropped before its
    /// end (the client went away mid-stream), the request ends as cancelled with what was
    /// sent.
    pub struct ResponseBody<B> {
        #[pin]
        inner: B,
        request: Option<Request>,
        // Whether the inner body said it had nothing more to send.
        complete: bool,
    }

    impl<B> PinnedDrop for ResponseBody<B> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            if let Some(mut request) = this.request.take() {
                // A server may drop a body that is over without polling its end, and
                // never sends one for HEAD.
                if *this.complete || request.state().is_some_and(|s| s.head) {
                    end(&mut request);
                }
                // Otherwise dropping the request ends it as cancelled.
            }
        }
    }
}

impl<B: Body> ResponseBody<B> {
    pub(crate) fn new(inner: B, request: Request) -> Self {
        Self {
            complete: inner.is_end_stream(),
            inner,
            request: Some(request),
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
        let mut this = self.project();
        let frame = ready!(this.inner.as_mut().poll_frame(cx));
        *this.complete = this.inner.is_end_stream();
        let Some(request) = this.request.as_mut() else {
            return Poll::Ready(frame);
        };
        match &frame {
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    if let Some(state) = request.state_mut() {
                        state.response_bytes += data.remaining() as u64;
                    }
                } else if let Some(trailers) = frame.trailers_ref() {
                    super::grpc::read_grpc_status(request, trailers);
                }
            }
            Some(Err(_)) => {
                if let Some(state) = request.state_mut() {
                    state.fail("body_error");
                }
                end(request);
            }
            None => end(request),
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
