//! Outbound HTTP: a client span per request, the configured propagation headers, and
//! `http.client.request.duration`. [`HttpClientLayer`] wraps any tower HTTP client (hyper's
//! included); [`ReqwestMiddleware`] (feature `reqwest`) plugs into `reqwest-middleware`.

mod layer;
#[cfg(feature = "reqwest")]
mod reqwest_middleware;

pub use layer::{ClientFuture, HttpClient, HttpClientLayer};
#[cfg(feature = "reqwest")]
pub use reqwest_middleware::ReqwestMiddleware;

use crate::classify::{ClassifyStatus, ClientErrors, status_text};
use metrics::SharedString;
use sdk_core::catalogue::HTTP_CLIENT_REQUEST_DURATION;
use sdk_core::propagation::{Baggage, Propagator};
use sdk_core::semconv::{self, error, http as keys, server, url};
use std::sync::Arc;
use std::time::Instant;
use tracing::field::Empty;

/// What both client integrations share.
#[derive(Clone)]
pub(crate) struct ClientConfig {
    pub(crate) propagator: Propagator,
    pub(crate) classify: Arc<dyn ClassifyStatus>,
}

impl ClientConfig {
    pub(crate) fn new(propagator: Propagator) -> Self {
        Self {
            propagator,
            classify: Arc::new(ClientErrors),
        }
    }

    pub(crate) fn classify_with(mut self, classify: impl ClassifyStatus) -> Self {
        self.classify = Arc::new(classify);
        self
    }
}

/// One outbound request in flight.
pub(crate) struct ClientCall {
    span: tracing::Span,
    started: Instant,
    method: &'static str,
    host: Option<String>,
    port: Option<u16>,
    scheme: &'static str,
    classify: Arc<dyn ClassifyStatus>,
}

impl ClientCall {
    /// Starts the client span and writes the propagation headers into `headers`.
    pub(crate) fn start(
        config: &ClientConfig,
        method: &http::Method,
        uri: &http::Uri,
        headers: &mut http::HeaderMap,
    ) -> Self {
        let method = semconv::normalize_method(method.as_str());
        let scheme = if uri.scheme_str() == Some("https") {
            "https"
        } else {
            "http"
        };
        let host = uri.host().map(str::to_owned);
        let port = uri.port_u16().or(match scheme {
            "https" => Some(443),
            _ => Some(80),
        });
        // url.full without the query string, which may carry secrets.
        let full = format!(
            "{scheme}://{}{}",
            uri.authority().map_or("", |a| a.as_str()),
            uri.path()
        );
        let span = tracing::info_span!(
            "http.client.request",
            otel.name = semconv::http_span_name(method, None),
            otel.kind = "client",
            otel.status_code = Empty,
            http.request.method = method,
            http.response.status_code = Empty,
            server.address = host.as_deref(),
            server.port = port,
            url.full = full.as_str(),
            error.type = Empty,
        );
        if let Some(context) = sdk_core::trace::span_context(&span) {
            config
                .propagator
                .inject(&context, &Baggage::default(), headers);
        }
        Self {
            span,
            started: Instant::now(),
            method,
            host,
            port,
            scheme,
            classify: Arc::clone(&config.classify),
        }
    }

    pub(crate) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records the outcome: a status, or a transport error.
    pub(crate) fn finish(self, status: Result<http::StatusCode, &'static str>) {
        let mut labels: Vec<(&'static str, SharedString)> = vec![
            (keys::REQUEST_METHOD, SharedString::const_str(self.method)),
            (url::SCHEME, SharedString::const_str(self.scheme)),
        ];
        if let Some(host) = self.host {
            labels.push((server::ADDRESS, host.into()));
        }
        if let Some(port) = self.port {
            labels.push((server::PORT, port.to_string().into()));
        }
        match status {
            Ok(status) => {
                self.span
                    .record(keys::RESPONSE_STATUS_CODE, status.as_u16());
                labels.push((
                    keys::RESPONSE_STATUS_CODE,
                    SharedString::const_str(status_text(status)),
                ));
                if self.classify.is_error(status) {
                    self.span.record(error::TYPE, status_text(status));
                    self.span.record("otel.status_code", "error");
                    labels.push((error::TYPE, SharedString::const_str(status_text(status))));
                }
            }
            Err(kind) => {
                self.span.record(error::TYPE, kind);
                self.span.record("otel.status_code", "error");
                labels.push((error::TYPE, SharedString::const_str(kind)));
            }
        }
        HTTP_CLIENT_REQUEST_DURATION
            .histogram(&labels)
            .record(self.started.elapsed().as_secs_f64());
    }
}
