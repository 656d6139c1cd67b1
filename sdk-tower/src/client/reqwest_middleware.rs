//! [`ReqwestMiddleware`]: the client instrumentation for `reqwest` through
//! `reqwest-middleware`.

use super::{ClientCall, ClientConfig};
use crate::classify::ClassifyStatus;
use reqwest_middleware::{Middleware, Next};
use sdk_core::propagation::Propagator;
use tracing::Instrument;

/// Add with `reqwest_middleware::ClientBuilder::new(client).with(ReqwestMiddleware::new())`.
#[derive(Clone)]
pub struct ReqwestMiddleware {
    config: ClientConfig,
}

impl std::fmt::Debug for ReqwestMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReqwestMiddleware").finish_non_exhaustive()
    }
}

impl ReqwestMiddleware {
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

#[async_trait::async_trait]
impl Middleware for ReqwestMiddleware {
    async fn handle(
        &self,
        mut request: reqwest::Request,
        extensions: &mut http::Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        let uri: http::Uri = request.url().as_str().parse().unwrap_or_default();
        let method = request.method().clone();
        let call = ClientCall::start(&self.config, &method, &uri, request.headers_mut());
        let span = call.span().clone();
        let result = next.run(request, extensions).instrument(span).await;
        call.finish(
            result
                .as_ref()
                .map(reqwest::Response::status)
                .map_err(|_| "transport_error"),
        );
        result
    }
}

impl Default for ReqwestMiddleware {
    fn default() -> Self {
        Self::new()
    }
}
