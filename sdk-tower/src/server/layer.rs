//! [`HttpServerLayer`]: configuration and the `tower::Layer` impl.

use super::{HttpServer, ServerConfig};
use crate::classify::{ClassifyStatus, ServerErrors};
use crate::route::{DynRoute, FnRoute, MatchedPathRoute};
use sdk_core::propagation::Propagator;
use std::sync::Arc;

/// Wraps a service so that every request is traced, measured and correlated.
#[derive(Clone)]
pub struct HttpServerLayer {
    config: Arc<ServerConfig>,
}

impl std::fmt::Debug for HttpServerLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpServerLayer")
            .field("propagation", &self.config.propagator.formats())
            .field("server_address", &self.config.server_address)
            .finish_non_exhaustive()
    }
}

impl HttpServerLayer {
    /// A layer with the propagation formats `sdk_core::init` configured (`OTEL_PROPAGATORS`,
    /// read from the environment when the SDK was not set up); see
    /// [`propagator`](Self::propagator) to choose others.
    pub fn new() -> Self {
        Self {
            config: Arc::new(ServerConfig {
                propagator: sdk_core::global::propagator(),
                server_address: None,
                scheme: "http",
                headers: Vec::new(),
                record_query: false,
                classify: Arc::new(ServerErrors),
                grpc: false,
                traces: true,
                metrics: true,
                route: Arc::new(MatchedPathRoute),
                handles: crate::metrics_cache::ServerHandles::default(),
            }),
        }
    }

    fn edit(mut self, change: impl FnOnce(&mut ServerConfig)) -> Self {
        match Arc::get_mut(&mut self.config) {
            Some(config) => change(config),
            None => {
                // Cloned before configuration ended: rebuild from a fresh copy.
                let mut fresh = ServerConfig {
                    propagator: self.config.propagator.clone(),
                    server_address: self.config.server_address.clone(),
                    scheme: self.config.scheme,
                    headers: self.config.headers.clone(),
                    record_query: self.config.record_query,
                    classify: Arc::clone(&self.config.classify),
                    grpc: self.config.grpc,
                    traces: self.config.traces,
                    metrics: self.config.metrics,
                    route: Arc::clone(&self.config.route),
                    handles: crate::metrics_cache::ServerHandles::default(),
                };
                change(&mut fresh);
                self.config = Arc::new(fresh);
            }
        }
        self
    }

    /// Extracts trace context with `propagator` instead of the configured one.
    pub fn propagator(self, propagator: Propagator) -> Self {
        self.edit(|c| c.propagator = propagator)
    }

    /// The logical server name and port for `server.address`/`server.port` (never taken
    /// from the client's `Host` header).
    pub fn server_address(self, host: impl Into<String>, port: u16) -> Self {
        let host: Arc<str> = host.into().into();
        self.edit(|c| c.server_address = Some((host, port)))
    }

    /// The URL scheme to report (`https` behind a TLS terminator); default `http`.
    pub fn scheme_https(self, https: bool) -> Self {
        self.edit(|c| c.scheme = if https { "https" } else { "http" })
    }

    /// Records these request headers as `http.request.header.<name>` span attributes.
    /// `authorization`, `cookie`, `set-cookie`, `proxy-authorization` and every header whose
    /// name marks a credential (containing one of [`REDACTED_NAME_PARTS`](super::REDACTED_NAME_PARTS):
    /// `auth`, `token`, `secret`, `key`, `session`, `cookie`, `pass`, `jwt`, … — `x-api-key`,
    /// `x-auth-token`, `x-goog-iap-jwt-assertion`, …)
    /// are recorded as `[REDACTED]` whatever this list says. Invalid header names are
    /// ignored.
    pub fn record_headers<I, N>(self, names: I) -> Self
    where
        I: IntoIterator<Item = N>,
        N: AsRef<str>,
    {
        let mut headers = Vec::new();
        for name in names {
            let lower = name.as_ref().to_ascii_lowercase();
            let Ok(header) = http::HeaderName::from_bytes(lower.as_bytes()) else {
                continue;
            };
            // Attribute keys must be 'static; allow-lists are configured once at startup.
            let key: &'static str = Box::leak(
                format!("{}{lower}", sdk_core::semconv::http::REQUEST_HEADER_PREFIX)
                    .into_boxed_str(),
            );
            headers.push((header, key));
        }
        self.edit(|c| c.headers = headers)
    }

    /// Records the query string as `url.query` (off by default: it may carry secrets).
    pub fn record_query(self, enabled: bool) -> Self {
        self.edit(|c| c.record_query = enabled)
    }

    /// Decides which statuses are failures (default: 5xx).
    pub fn classify_with(self, classify: impl ClassifyStatus) -> Self {
        let classify: Arc<dyn ClassifyStatus> = Arc::new(classify);
        self.edit(|c| c.classify = classify)
    }

    /// Treats `application/grpc` responses by their `grpc-status` (header or trailer).
    pub fn grpc(self, enabled: bool) -> Self {
        self.edit(|c| c.grpc = enabled)
    }

    /// Turns the request span (and trace propagation) on or off; default on.
    pub fn traces(self, enabled: bool) -> Self {
        self.edit(|c| c.traces = enabled)
    }

    /// Turns the RED metrics on or off; default on.
    pub fn metrics(self, enabled: bool) -> Self {
        self.edit(|c| c.metrics = enabled)
    }

    /// Chooses the route template with a closure over the request's extensions and URI,
    /// for services that do not use axum's router. Return `None` for unmatched requests.
    pub fn route_with<F>(self, route: F) -> Self
    where
        F: Fn(&http::Extensions, &http::Uri) -> Option<String> + Send + Sync + 'static,
    {
        let route: Arc<dyn DynRoute> = Arc::new(FnRoute(route));
        self.edit(|c| c.route = route)
    }
}

impl Default for HttpServerLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl<S> tower_layer::Layer<S> for HttpServerLayer {
    type Service = HttpServer<S>;

    fn layer(&self, inner: S) -> Self::Service {
        HttpServer::new(inner, Arc::clone(&self.config))
    }
}
