//! The server layer: one span, RED metrics, propagation and a request id per request.
//!
//! ```
//! use axum::{Router, routing::get};
//! use sdk_tower::HttpServerLayer;
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(|| async { "ok" }))
//!     .layer(HttpServerLayer::new().server_address("api.example.com", 443));
//! ```
//!
//! The layer takes any request body type (axum's, hyper's `Incoming`, …) and passes it on
//! unchanged; `http.server.request.body.size` is the size known up front (`Content-Length`
//! or the body's exact size hint), and the response body is counted as it streams.

mod body;
mod finish;
mod future;
mod grpc;
mod layer;
mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
pub use layer::HttpServerLayer;
pub use service::{HttpServer, RequestSpan};

use crate::classify::ClassifyStatus;
use crate::route::DynRoute;
use sdk_core::propagation::Propagator;
use std::sync::Arc;

/// Everything the layer was configured with, shared by every request.
pub(crate) struct ServerConfig {
    pub(crate) propagator: Propagator,
    pub(crate) server_address: Option<(Arc<str>, u16)>,
    pub(crate) scheme: &'static str,
    /// Allow-listed request headers with their attribute keys.
    pub(crate) headers: Vec<(http::HeaderName, &'static str)>,
    pub(crate) record_query: bool,
    pub(crate) classify: Arc<dyn ClassifyStatus>,
    pub(crate) grpc: bool,
    pub(crate) traces: bool,
    pub(crate) metrics: bool,
    pub(crate) route: Arc<dyn DynRoute>,
    pub(crate) handles: crate::metrics_cache::ServerHandles,
}

/// Request headers never recorded, whatever the allow-list says.
pub const REDACTED_HEADERS: [&str; 4] = [
    "authorization",
    "cookie",
    "set-cookie",
    "proxy-authorization",
];

/// Parts of a header name that mark a credential (`x-api-key`, `x-auth-token`,
/// `x-session-id`, `x-csrf-token`, …): such headers are recorded as `[REDACTED]` too.
pub const REDACTED_NAME_PARTS: [&str; 18] = [
    "auth",
    "token",
    "secret",
    "key",
    "session",
    "cookie",
    "pass",
    "credential",
    "signature",
    "csrf",
    "xsrf",
    "jwt",
    "assertion",
    "oidc",
    "principal",
    "dpop",
    "bearer",
    "client-cert",
];

/// Whether header `name` is always recorded as `[REDACTED]`: one of
/// [`REDACTED_HEADERS`], or a name containing one of [`REDACTED_NAME_PARTS`] (header
/// names are lower case).
pub(crate) fn is_redacted(name: &http::HeaderName) -> bool {
    let name = name.as_str();
    REDACTED_HEADERS.contains(&name) || REDACTED_NAME_PARTS.iter().any(|part| name.contains(part))
}

#[cfg(test)]
mod tests {
    use super::is_redacted;
    use http::HeaderName;

    #[test]
    fn credential_headers_are_redacted_by_name() {
        for name in [
            "authorization",
            "proxy-authorization",
            "cookie",
            "set-cookie",
            "x-api-key",
            "api-key",
            "x-auth-token",
            "x-amz-security-token",
            "x-session-id",
            "x-csrf-token",
            "x-hub-signature-256",
            "x-client-secret",
            "x-goog-iap-jwt-assertion",
            "x-amzn-oidc-data",
            "x-ms-client-principal",
            "dpop",
            "x-forwarded-client-cert",
            "x-passphrase",
        ] {
            assert!(is_redacted(&HeaderName::from_static(name)), "{name}");
        }
        for name in [
            "user-agent",
            "x-request-id",
            "accept-language",
            "keep-alive",
            "content-type",
        ] {
            assert!(!is_redacted(&HeaderName::from_static(name)), "{name}");
        }
    }
}
