//! [`HttpClientLayer`] for tower HTTP clients.

use super::{ClientCall, ClientConfig};
use crate::classify::ClassifyStatus;
use http::{Request, Response};
use pin_project_lite::pin_project;
use sdk_core::propagation::Propagator;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Wraps a tower HTTP client: client span, propagation headers, duration metric.
#[derive(Clone)]
pub struct HttpClientLayer {
    config: ClientConfig,
}

impl std::fmt::Debug for HttpClientLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClientLayer").finish_non_exhaustive()
    }
}

impl HttpClientLayer {
    /// Injects trace context and baggage in the formats `sdk_core::init` configured
    /// (`OTEL_PROPAGATORS`, read from the environment when the SDK was not set up).
    pub fn new() -> Self {
        Self {
            config: ClientConfig::configured(),
        }
    }

    /// Injects with `propagator` instead of the configured one.
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.config.propagator = propagator;
        self
    }

    /// Decides which statuses fail the client span (default: 4xx and 5xx).
    pub fn classify_with(mut self, classify: impl ClassifyStatus) -> Self {
        self.config = self.config.classify_with(classify);
        self
    }
}

impl<S> tower_layer::Layer<S> for HttpClientLayer {
    type Service = HttpClient<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpClient {
            inner,
            config: self.config.clone(),
        }
    }
}

/// A traced tower HTTP client.
#[derive(Clone)]
pub struct HttpClient<S> {
    inner: S,
    config: ClientConfig,
}

impl<S> std::fmt::Debug for HttpClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpClient").finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for HttpClient<S>
where
    S: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = ClientFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        let method = request.method().clone();
        let uri = request.uri().clone();
        let call = ClientCall::start(&self.config, &method, &uri, request.headers_mut());
        let future = {
            let _entered = call.span().enter();
            self.inner.call(request)
        };
        ClientFuture {
            inner: future,
            call: Some(call),
        }
    }
}

pin_project! {
    /// The future of [`HttpClient`].
    pub struct ClientFuture<F> {
        #[pin]
        inner: F,
        call: Option<ClientCall>,
    }
}

impl<F, B, E> Future for ClientFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let polled = match this.call.as_ref() {
            Some(call) => {
                let _entered = call.span().enter();
                this.inner.poll(cx)
            }
            None => this.inner.poll(cx),
        };
        if let Poll::Ready(result) = &polled
            && let Some(call) = this.call.take()
        {
            call.finish(
                result
                    .as_ref()
                    .map(Response::status)
                    .map_err(|_| "transport_error"),
            );
        }
        polled
    }
}

impl Default for HttpClientLayer {
    fn default() -> Self {
        Self::new()
    }
}
