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

/// Whether header `name` is always recorded as `[REDACTED]`.
pub(crate) fn is_redacted(name: &http::HeaderName) -> bool {
    REDACTED_HEADERS.contains(&name.as_str())
}
